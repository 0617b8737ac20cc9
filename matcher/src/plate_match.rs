//! Plate matching without I/O: confusion classes, the rules that decide whether a read matches a
//! hotlist pattern, and an in-memory index that finds every matching entry of a read in one or a
//! few hash lookups.
//!
//! A read is a normalised plate (A–Z, 0–9) in which `?` marks an unreadable character. A pattern
//! is a hotlist entry plate in which `?` is exactly one unknown character and `*` is any run of
//! characters, the empty run included. Read and pattern match when they can be aligned so that:
//! - a read `?` or a pattern `?` sits against any one character;
//! - a pattern `*` absorbs a run of read characters, so only `*` lets the lengths differ;
//! - every other pair of characters is equal or, for an OCR-tolerant entry, in the same
//!   confusion class. Each such unequal pair is a substitution, and a match allows at most
//!   [`PolicySettings::max_substitutions`] of them.
//!
//! OCR tolerance also applies to the known characters of partial reads and wildcard patterns,
//! because a read that lost one character to dirt can still misread another one.

use std::collections::HashMap;
use std::hash::Hash;

use alpr_schemas::{MatchKind, MatchPolicy};

// The classes live in the schemas crate so the read search uses them too without depending on
// the matcher; they are re-exported here, where matcher code and its callers always found them.
pub use alpr_schemas::confusion::{
    ConfusionClassError, ConfusionClasses, DEFAULT_CONFUSION_CLASSES,
};

/// Marks an unreadable character in a read.
pub const UNREADABLE: char = '?';
/// Stands for exactly one unknown character in a pattern.
pub const ANY_CHARACTER: char = '?';
/// Stands for any run of characters, possibly empty, in a pattern.
pub const ANY_RUN: char = '*';
/// Maximum `*` in one pattern. More runs let a short pattern match a large share of all plates.
pub const MAX_RUNS: usize = 2;
/// Minimum A–Z or 0–9 characters in a pattern, for the same reason as [`MAX_RUNS`].
pub const MIN_KNOWN_CHARACTERS: usize = 3;
/// Default maximum substitutions of an OCR-tolerant match.
pub const DEFAULT_MAX_SUBSTITUTIONS: u8 = 1;
/// Upper limit of the configurable maximum substitutions. Each extra substitution multiplies the
/// plates an entry matches, so the limit stays low to keep false alerts rare.
pub const MAX_SUBSTITUTIONS_LIMIT: u8 = 2;

/// Maximum hash probes of a partial read. A read with `q` unreadable characters needs
/// `r^q` probes, where `r` is the number of class representatives (27 with the default classes),
/// so 729 allows two unreadable characters. Reads with more scan every class key of their
/// length instead.
const PARTIAL_PROBE_LIMIT: usize = 729;

const READ_UNREADABLE: u8 = b'?';
const PATTERN_ANY_CHARACTER: u8 = b'?';
const PATTERN_ANY_RUN: u8 = b'*';

fn is_plate_character(byte: u8) -> bool {
    byte.is_ascii_uppercase() || byte.is_ascii_digit()
}

fn is_read_character(byte: u8) -> bool {
    is_plate_character(byte) || byte == READ_UNREADABLE
}

fn is_pattern_character(byte: u8) -> bool {
    is_plate_character(byte) || byte == PATTERN_ANY_CHARACTER || byte == PATTERN_ANY_RUN
}

fn is_wildcard_pattern(pattern: &[u8]) -> bool {
    pattern
        .iter()
        .any(|&byte| byte == PATTERN_ANY_CHARACTER || byte == PATTERN_ANY_RUN)
}

/// The match policy of one entry with the substitution budget it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicySettings {
    policy: MatchPolicy,
    /// Always 0 for [`MatchPolicy::Exact`].
    max_substitutions: u8,
}

/// A maximum number of substitutions above [`MAX_SUBSTITUTIONS_LIMIT`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("maximum substitutions is {requested}; at most {MAX_SUBSTITUTIONS_LIMIT} are allowed")]
pub struct PolicyError {
    pub requested: u8,
}

impl PolicySettings {
    /// Settings of an exact entry, which allows no substitution.
    pub fn exact() -> Self {
        Self {
            policy: MatchPolicy::Exact,
            max_substitutions: 0,
        }
    }

    /// Settings of an OCR-tolerant entry allowing up to `max_substitutions` substitutions.
    pub fn ocr_tolerant(max_substitutions: u8) -> Result<Self, PolicyError> {
        if max_substitutions > MAX_SUBSTITUTIONS_LIMIT {
            return Err(PolicyError {
                requested: max_substitutions,
            });
        }
        Ok(Self {
            policy: MatchPolicy::OcrTolerant,
            max_substitutions,
        })
    }

    /// Settings of an entry with `policy`. The `max_substitutions` limit is checked and used for
    /// OCR-tolerant entries only.
    pub fn new(policy: MatchPolicy, max_substitutions: u8) -> Result<Self, PolicyError> {
        match policy {
            MatchPolicy::Exact => Ok(Self::exact()),
            MatchPolicy::OcrTolerant => Self::ocr_tolerant(max_substitutions),
        }
    }

    pub fn policy(&self) -> MatchPolicy {
        self.policy
    }

    /// Maximum substitutions a match may contain; 0 for exact entries.
    pub fn max_substitutions(&self) -> u8 {
        self.max_substitutions
    }
}

/// Outcome of a successful match: its kind and the substitutions it needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlateMatch {
    /// The loosest rule the match relied on, by the precedence of [`match_plate`].
    pub kind: MatchKind,
    /// Substitutions the match needed, in read order. Empty for a match without substitution,
    /// whatever its kind.
    pub differences: Vec<Difference>,
}

/// One position where the read and the entry differ within a confusion class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// Zero-based character position in the read. It can differ from the position in the
    /// pattern when a `*` comes before it.
    pub position: usize,
    pub read_char: char,
    pub entry_char: char,
    /// The class that allowed the substitution, as configured (for example `0ODQ`).
    pub class: String,
}

/// Decides whether `read` matches `pattern` under `settings`, and explains how.
///
/// Returns `None` on no match, and also when the read has a character other than A–Z, 0–9 and
/// `?`, or the pattern one other than A–Z, 0–9, `?` and `*`. This function does not apply the
/// import rules of [`validate_pattern`], so it also evaluates patterns with more runs.
///
/// When several rules apply, the kind is the loosest one: `Wildcard` (the pattern has `?` or
/// `*`) before `Partial` (the read has `?`) before `OcrVariant` (at least one substitution)
/// before `Exact`. That is the order in which a person checking the alert must distrust it: a
/// wildcard was entered loose on purpose, a partial read is missing characters, and an OCR
/// variant differs in confusable characters. The substitutions are listed in
/// [`PlateMatch::differences`] whatever the kind.
///
/// When `*` allows several alignments, the match uses one with the fewest substitutions.
///
/// NOTE: a read made mostly of `?` matches many entries (`???????` matches every 7-character
/// plate of an exact entry). Rejecting reads with too few known characters is left to the
/// caller, which has the OCR engine's confidence values.
pub fn match_plate(
    read: &str,
    pattern: &str,
    settings: &PolicySettings,
    classes: &ConfusionClasses,
) -> Option<PlateMatch> {
    let read = read.as_bytes();
    let pattern = pattern.as_bytes();
    if read.is_empty() || !read.iter().all(|&byte| is_read_character(byte)) {
        return None;
    }
    if pattern.is_empty() || !pattern.iter().all(|&byte| is_pattern_character(byte)) {
        return None;
    }
    match_checked(read, pattern, settings, classes)
}

/// [`match_plate`] for a read and a pattern whose characters are already checked.
fn match_checked(
    read: &[u8],
    pattern: &[u8],
    settings: &PolicySettings,
    classes: &ConfusionClasses,
) -> Option<PlateMatch> {
    let budget = usize::from(settings.max_substitutions);
    let substitutions = if pattern.contains(&PATTERN_ANY_RUN) {
        align_with_runs(read, pattern, budget, classes)?
    } else {
        align_fixed(read, pattern, budget, classes)?
    };

    let differences = substitutions
        .into_iter()
        .map(|(read_position, pattern_position)| Difference {
            position: read_position,
            read_char: char::from(read[read_position]),
            entry_char: char::from(pattern[pattern_position]),
            class: classes
                .class_of_byte(read[read_position])
                .unwrap_or_default()
                .to_string(),
        })
        .collect::<Vec<_>>();
    let kind = if is_wildcard_pattern(pattern) {
        MatchKind::Wildcard
    } else if read.contains(&READ_UNREADABLE) {
        MatchKind::Partial
    } else if !differences.is_empty() {
        MatchKind::OcrVariant
    } else {
        MatchKind::Exact
    };
    Some(PlateMatch { kind, differences })
}

/// Outcome of comparing one read character with one pattern character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pair {
    Matches,
    Substitution,
    Mismatch,
}

fn compare(read: u8, pattern: u8, classes: &ConfusionClasses) -> Pair {
    if read == READ_UNREADABLE || pattern == PATTERN_ANY_CHARACTER || read == pattern {
        Pair::Matches
    } else if classes.same_class(read, pattern) {
        Pair::Substitution
    } else {
        Pair::Mismatch
    }
}

/// Aligns a pattern without `*` position by position. Returns the (read, pattern) positions of
/// the substitutions, or `None` when more than `budget` are needed.
fn align_fixed(
    read: &[u8],
    pattern: &[u8],
    budget: usize,
    classes: &ConfusionClasses,
) -> Option<Vec<(usize, usize)>> {
    if read.len() != pattern.len() {
        return None;
    }
    let mut substitutions = Vec::new();
    for (position, (&read_byte, &pattern_byte)) in read.iter().zip(pattern).enumerate() {
        match compare(read_byte, pattern_byte, classes) {
            Pair::Matches => {}
            Pair::Substitution if substitutions.len() < budget => {
                substitutions.push((position, position));
            }
            Pair::Substitution | Pair::Mismatch => return None,
        }
    }
    Some(substitutions)
}

/// Aligns a pattern with `*` by dynamic programming over (read position, pattern position), so
/// the cost is `O(read length × pattern length)` whatever the number of runs. Returns the
/// substitutions of one cheapest alignment, or `None` when it needs more than `budget`.
fn align_with_runs(
    read: &[u8],
    pattern: &[u8],
    budget: usize,
    classes: &ConfusionClasses,
) -> Option<Vec<(usize, usize)>> {
    const UNREACHABLE: usize = usize::MAX;
    let columns = pattern.len() + 1;
    let cell =
        |read_position: usize, pattern_position: usize| read_position * columns + pattern_position;
    // fewest[cell(i, j)]: fewest substitutions to match read[i..] against pattern[j..].
    let mut fewest = vec![UNREACHABLE; (read.len() + 1) * columns];
    fewest[cell(read.len(), pattern.len())] = 0;
    for i in (0..=read.len()).rev() {
        for j in (0..pattern.len()).rev() {
            let cost = if pattern[j] == PATTERN_ANY_RUN {
                let empty_run = fewest[cell(i, j + 1)];
                let longer_run = if i < read.len() {
                    fewest[cell(i + 1, j)]
                } else {
                    UNREACHABLE
                };
                empty_run.min(longer_run)
            } else if i < read.len() {
                let rest = fewest[cell(i + 1, j + 1)];
                match compare(read[i], pattern[j], classes) {
                    Pair::Matches => rest,
                    Pair::Substitution => rest.saturating_add(1),
                    Pair::Mismatch => UNREACHABLE,
                }
            } else {
                UNREACHABLE
            };
            fewest[cell(i, j)] = cost;
        }
    }
    if fewest[cell(0, 0)] > budget {
        return None;
    }

    // Walk one cheapest path from the start to list its substitutions.
    let mut substitutions = Vec::new();
    let (mut i, mut j) = (0, 0);
    while j < pattern.len() {
        if pattern[j] == PATTERN_ANY_RUN {
            if fewest[cell(i, j + 1)] == fewest[cell(i, j)] {
                j += 1;
            } else {
                i += 1;
            }
            continue;
        }
        if compare(read[i], pattern[j], classes) == Pair::Substitution {
            substitutions.push((i, j));
        }
        i += 1;
        j += 1;
    }
    Some(substitutions)
}

/// A pattern that import must reject. Messages leave out the pattern itself so that they can be
/// logged without plate text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("pattern is empty")]
    Empty,
    #[error(
        "pattern contains `{character}` at position {position}; \
         only A–Z, 0–9, `?` and `*` are allowed"
    )]
    InvalidCharacter { character: char, position: usize },
    #[error("pattern has {count} `*`; at most {MAX_RUNS} are allowed")]
    TooManyRuns { count: usize },
    #[error(
        "pattern has {count} known characters; at least {MIN_KNOWN_CHARACTERS} are required \
         so that it cannot match most plates"
    )]
    TooFewKnownCharacters { count: usize },
}

/// Checks a hotlist pattern at import: not empty, only A–Z, 0–9, `?` and `*`, at most
/// [`MAX_RUNS`] `*` and at least [`MIN_KNOWN_CHARACTERS`] characters of A–Z and 0–9.
pub fn validate_pattern(pattern: &str) -> Result<(), PatternError> {
    if pattern.is_empty() {
        return Err(PatternError::Empty);
    }
    let mut runs = 0;
    let mut known = 0;
    for (position, character) in pattern.chars().enumerate() {
        match u8::try_from(character) {
            Ok(byte) if is_plate_character(byte) => known += 1,
            Ok(PATTERN_ANY_RUN) => runs += 1,
            Ok(PATTERN_ANY_CHARACTER) => {}
            _ => {
                return Err(PatternError::InvalidCharacter {
                    character,
                    position,
                })
            }
        }
    }
    if runs > MAX_RUNS {
        return Err(PatternError::TooManyRuns { count: runs });
    }
    if known < MIN_KNOWN_CHARACTERS {
        return Err(PatternError::TooFewKnownCharacters { count: known });
    }
    Ok(())
}

/// Hotlist patterns in memory, arranged so that one read costs one hash lookup in the common
/// case, because almost every read matches nothing.
///
/// - Entries without `?` and `*` sit under their class key. A read that matches such an entry
///   exactly or by substitutions has the same class key, so a read without `?` needs one hash
///   lookup, and only the entries found are checked with [`match_plate`].
/// - A partial read probes every class key its `?` positions can expand to: `r^q` lookups for
///   `q` unreadable characters and `r` class representatives (27 with the default classes), up
///   to 729 lookups. Beyond that it scans all class keys of its length, which costs time in
///   proportion to the number of distinct keys.
/// - Wildcard entries are checked one by one with [`match_plate`]: those with `?` only against
///   reads of their length, those with `*` against every read. Every read pays for them, so the
///   index suits a few thousand wildcard entries at most (an estimate, not a measurement).
#[derive(Debug, Clone)]
pub struct PlateIndex<Id> {
    classes: ConfusionClasses,
    /// Substitution budget given to every OCR-tolerant entry.
    max_substitutions: u8,
    /// Entries by slot number. Buckets hold slot numbers, so an id is stored twice, not once per
    /// bucket; removed slots are `None` until `free_slots` hands them out again.
    slots: Vec<Option<Slot<Id>>>,
    free_slots: Vec<usize>,
    slot_of: HashMap<Id, usize>,
    by_class_key: HashMap<Box<[u8]>, Vec<usize>>,
    /// Wildcard entries with `?` but no `*`, by pattern length.
    fixed_length_wildcards: HashMap<usize, Vec<usize>>,
    /// Wildcard entries with `*`, with the shortest read each can match.
    run_wildcards: Vec<(usize, usize)>,
}

#[derive(Debug, Clone)]
struct Slot<Id> {
    id: Id,
    pattern: Box<str>,
    settings: PolicySettings,
    bucket: Bucket,
}

/// Bucket that lists a slot, stored in the slot so that removal touches one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Bucket {
    ClassKey(Box<[u8]>),
    FixedLength(usize),
    Runs,
}

/// One entry that matches a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexMatch<'a, Id> {
    pub id: &'a Id,
    pub pattern: &'a str,
    pub plate_match: PlateMatch,
}

impl<Id: Clone + Eq + Hash> PlateIndex<Id> {
    /// Creates an empty index. OCR-tolerant entries allow `max_substitutions` substitutions.
    pub fn new(classes: ConfusionClasses, max_substitutions: u8) -> Result<Self, PolicyError> {
        PolicySettings::ocr_tolerant(max_substitutions)?;
        Ok(Self {
            classes,
            max_substitutions,
            slots: Vec::new(),
            free_slots: Vec::new(),
            slot_of: HashMap::new(),
            by_class_key: HashMap::new(),
            fixed_length_wildcards: HashMap::new(),
            run_wildcards: Vec::new(),
        })
    }

    pub fn classes(&self) -> &ConfusionClasses {
        &self.classes
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.slot_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slot_of.is_empty()
    }

    /// Inserts an entry, replacing any entry with the same id, after checking `pattern` with
    /// [`validate_pattern`]. An invalid pattern leaves the index unchanged, so an existing entry
    /// with that id keeps its previous pattern: remove it if that is not wanted.
    pub fn insert(
        &mut self,
        id: Id,
        pattern: &str,
        policy: MatchPolicy,
    ) -> Result<(), PatternError> {
        validate_pattern(pattern)?;
        let settings = match policy {
            MatchPolicy::Exact => PolicySettings::exact(),
            MatchPolicy::OcrTolerant => PolicySettings {
                policy,
                max_substitutions: self.max_substitutions,
            },
        };
        self.remove(&id);

        let bytes = pattern.as_bytes();
        let bucket = if bytes.contains(&PATTERN_ANY_RUN) {
            Bucket::Runs
        } else if bytes.contains(&PATTERN_ANY_CHARACTER) {
            Bucket::FixedLength(bytes.len())
        } else {
            Bucket::ClassKey(self.classes.class_key_bytes(bytes).into_boxed_slice())
        };
        let slot = Slot {
            id: id.clone(),
            pattern: pattern.into(),
            settings,
            bucket: bucket.clone(),
        };
        let number = match self.free_slots.pop() {
            Some(number) => {
                self.slots[number] = Some(slot);
                number
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        match bucket {
            Bucket::ClassKey(key) => self.by_class_key.entry(key).or_default().push(number),
            Bucket::FixedLength(length) => self
                .fixed_length_wildcards
                .entry(length)
                .or_default()
                .push(number),
            Bucket::Runs => {
                let shortest_read = bytes.iter().filter(|&&b| b != PATTERN_ANY_RUN).count();
                self.run_wildcards.push((shortest_read, number));
            }
        }
        self.slot_of.insert(id, number);
        Ok(())
    }

    /// Removes the entry with `id`. Returns whether there was one.
    pub fn remove(&mut self, id: &Id) -> bool {
        let Some(number) = self.slot_of.remove(id) else {
            return false;
        };
        let Some(slot) = self.slots.get_mut(number).and_then(Option::take) else {
            // `insert` and `remove` change `slot_of` and `slots` together, and debug builds check it.
            debug_assert!(false, "slot {number} of an indexed id is empty");
            return true;
        };
        match slot.bucket {
            Bucket::ClassKey(key) => {
                if let Some(bucket) = self.by_class_key.get_mut(&key) {
                    bucket.retain(|&listed| listed != number);
                    if bucket.is_empty() {
                        self.by_class_key.remove(&key);
                    }
                }
            }
            Bucket::FixedLength(length) => {
                if let Some(bucket) = self.fixed_length_wildcards.get_mut(&length) {
                    bucket.retain(|&listed| listed != number);
                    if bucket.is_empty() {
                        self.fixed_length_wildcards.remove(&length);
                    }
                }
            }
            Bucket::Runs => self.run_wildcards.retain(|&(_, listed)| listed != number),
        }
        self.free_slots.push(number);
        true
    }

    /// Returns every entry that `read` matches, each with its [`PlateMatch`]. A read with a
    /// character other than A–Z, 0–9 and `?` matches nothing.
    pub fn matches(&self, read: &str) -> Vec<IndexMatch<'_, Id>> {
        let mut found = Vec::new();
        let read = read.as_bytes();
        if read.is_empty() || !read.iter().all(|&byte| is_read_character(byte)) {
            return found;
        }

        let unreadable = read.iter().filter(|&&b| b == READ_UNREADABLE).count();
        if unreadable == 0 {
            let key = self.classes.class_key_bytes(read);
            if let Some(bucket) = self.by_class_key.get(key.as_slice()) {
                self.check_slots(read, bucket.iter().copied(), &mut found);
            }
        } else if self.partial_probes(unreadable) <= PARTIAL_PROBE_LIMIT {
            self.probe_partial(read, &mut found);
        } else {
            self.scan_class_keys(read, &mut found);
        }

        if let Some(bucket) = self.fixed_length_wildcards.get(&read.len()) {
            self.check_slots(read, bucket.iter().copied(), &mut found);
        }
        let run_slots = self
            .run_wildcards
            .iter()
            .filter(|(shortest_read, _)| *shortest_read <= read.len())
            .map(|&(_, number)| number);
        self.check_slots(read, run_slots, &mut found);
        found
    }

    fn partial_probes(&self, unreadable: usize) -> usize {
        u32::try_from(unreadable)
            .ok()
            .and_then(|exponent| self.classes.key_alphabet().len().checked_pow(exponent))
            .unwrap_or(usize::MAX)
    }

    /// Looks up every class key that the `?` positions of `read` can expand to. Each expansion is
    /// a different key, so no entry is found twice.
    fn probe_partial<'a>(&'a self, read: &[u8], found: &mut Vec<IndexMatch<'a, Id>>) {
        let alphabet = self.classes.key_alphabet();
        let mut key = self.classes.class_key_bytes(read);
        let unknown: Vec<usize> = (0..read.len())
            .filter(|&position| read[position] == READ_UNREADABLE)
            .collect();
        // An odometer over the alphabet: choice[k] picks the representative at unknown[k].
        let mut choice = vec![0usize; unknown.len()];
        loop {
            for (&position, &chosen) in unknown.iter().zip(&choice) {
                key[position] = alphabet[chosen];
            }
            if let Some(bucket) = self.by_class_key.get(key.as_slice()) {
                self.check_slots(read, bucket.iter().copied(), found);
            }
            let mut digit = 0;
            loop {
                let Some(value) = choice.get_mut(digit) else {
                    return;
                };
                *value += 1;
                if *value < alphabet.len() {
                    break;
                }
                *value = 0;
                digit += 1;
            }
        }
    }

    fn scan_class_keys<'a>(&'a self, read: &[u8], found: &mut Vec<IndexMatch<'a, Id>>) {
        for (key, bucket) in &self.by_class_key {
            if key.len() == read.len() {
                self.check_slots(read, bucket.iter().copied(), found);
            }
        }
    }

    fn check_slots<'a>(
        &'a self,
        read: &[u8],
        numbers: impl Iterator<Item = usize>,
        found: &mut Vec<IndexMatch<'a, Id>>,
    ) {
        for number in numbers {
            let Some(Some(slot)) = self.slots.get(number) else {
                continue;
            };
            let pattern = slot.pattern.as_bytes();
            if let Some(plate_match) = match_checked(read, pattern, &slot.settings, &self.classes) {
                found.push(IndexMatch {
                    id: &slot.id,
                    pattern: &slot.pattern,
                    plate_match,
                });
            }
        }
    }
}

#[cfg(test)]
#[path = "plate_match_tests.rs"]
mod tests;
