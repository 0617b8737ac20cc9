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

use alpr_schemas::{MatchKind, MatchPolicy};

// The classes live in the schemas crate, so the read search uses them without depending on the
// matcher. They are re-exported here, where matcher code and its callers always found them.
pub use alpr_schemas::confusion::{
    ConfusionClassError, ConfusionClasses, DEFAULT_CONFUSION_CLASSES,
};

pub use crate::plate_index::{IndexMatch, PlateIndex};

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

const READ_UNREADABLE: u8 = b'?';
const PATTERN_ANY_CHARACTER: u8 = b'?';
const PATTERN_ANY_RUN: u8 = b'*';

fn is_plate_character(byte: u8) -> bool {
    byte.is_ascii_uppercase() || byte.is_ascii_digit()
}

pub(crate) fn is_read_character(byte: u8) -> bool {
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
pub(crate) fn match_checked(
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

#[cfg(test)]
#[path = "plate_match_tests.rs"]
mod tests;
