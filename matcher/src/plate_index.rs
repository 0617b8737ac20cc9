//! Hotlist patterns in memory, arranged so that one read costs one hash lookup in the common
//! case, because almost every read matches nothing, and laid out so that ten million entries fit
//! in a few hundred megabytes.
//!
//! # Lookup
//!
//! - Entries without `?` and `*` sit under their class key. A read that matches such an entry
//!   exactly or by substitutions has the same class key, so a read without `?` needs one hash
//!   lookup, and only the entries found are checked with the rules of [`match_plate`].
//! - A partial read probes every class key its `?` positions can expand to: `r^q` lookups for
//!   `q` unreadable characters and `r` class representatives (27 with the default classes), up
//!   to 729 lookups. Beyond that it scans every entry of its length.
//! - Wildcard entries are checked one by one: those with `?` only against reads of their length,
//!   those with `*` against every read. Every read pays for them, so the index suits a few
//!   thousand wildcard entries at most (an estimate, not a measurement).
//!
//! # Memory
//!
//! Each entry is one fixed-size [`Slot`] (32 bytes with a 16-byte id) in chunks that never move,
//! so growing the index never copies it. A pattern of up to [`PACKED_MAX_LEN`] characters is
//! packed into a `u64` of 6-bit codes. Longer ones are rare on plates, so they are kept as text
//! beside the slots. The two hash tables hold only 4-byte slot numbers and hash the slot's id or class key
//! on demand: the id table finds an entry to replace or remove, and the class-key table contains
//! the first slot of a chain that runs through the slots' `next` fields.
//!
//! [`match_plate`]: crate::plate_match::match_plate

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};

use hashbrown::{DefaultHashBuilder, HashTable};

use alpr_schemas::MatchPolicy;

use crate::plate_match::{
    is_read_character, match_checked, validate_pattern, ConfusionClasses, PatternError, PlateMatch,
    PolicyError, PolicySettings,
};

/// Patterns and reads of up to this many characters are packed into one `u64`.
pub const PACKED_MAX_LEN: usize = 10;

/// Maximum hash probes of a partial read. A read with `q` unreadable characters needs
/// `r^q` probes, where `r` is the number of class representatives (27 with the default classes),
/// so 729 allows two unreadable characters. Reads with more scan every entry of their length
/// instead.
const PARTIAL_PROBE_LIMIT: usize = 729;

const UNREADABLE: u8 = b'?';
const ANY_RUN: u8 = b'*';
/// Slots per chunk of the slot store.
const CHUNK_BITS: u32 = 16;
const CHUNK_LEN: usize = 1 << CHUNK_BITS;
/// End of a class-key chain.
const NO_SLOT: u32 = u32::MAX;

/// Six-bit code of each pattern byte: 1–10 for `0`–`9`, 11–36 for `A`–`Z`, 37 for `?`, 38 for
/// `*`; 0 marks the end of a packed pattern and bytes that cannot be packed.
const fn code_table() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut digit = 0;
    while digit < 10 {
        table[b'0' as usize + digit] = 1 + digit as u8;
        digit += 1;
    }
    let mut letter = 0;
    while letter < 26 {
        table[b'A' as usize + letter] = 11 + letter as u8;
        letter += 1;
    }
    table[b'?' as usize] = 37;
    table[b'*' as usize] = 38;
    table
}

const CODE_OF: [u8; 256] = code_table();

/// Byte of each six-bit code, the inverse of [`CODE_OF`].
const fn byte_table() -> [u8; 64] {
    let mut table = [0u8; 64];
    let mut byte = 0;
    while byte < 256 {
        let code = CODE_OF[byte];
        if code != 0 {
            table[code as usize] = byte as u8;
        }
        byte += 1;
    }
    table
}

const BYTE_OF: [u8; 64] = byte_table();

/// Up to [`PACKED_MAX_LEN`] characters in six-bit codes, the first in the lowest bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Packed(u64);

impl Packed {
    /// Marks a pattern kept as text in [`PlateIndex::long_patterns`]. No packed pattern has it:
    /// its top four bits are set, and ten six-bit codes leave them clear.
    const LONG: Packed = Packed(u64::MAX);

    fn pack(bytes: &[u8]) -> Option<Packed> {
        if bytes.len() > PACKED_MAX_LEN {
            return None;
        }
        let mut packed = 0u64;
        for (position, &byte) in bytes.iter().enumerate() {
            let code = CODE_OF[usize::from(byte)];
            if code == 0 {
                return None;
            }
            packed |= u64::from(code) << (6 * position);
        }
        Some(Packed(packed))
    }

    /// Writes the characters into `buffer` and returns them.
    fn unpack(self, buffer: &mut [u8; PACKED_MAX_LEN]) -> &[u8] {
        let mut length = 0;
        let mut rest = self.0;
        while rest != 0 && length < PACKED_MAX_LEN {
            buffer[length] = BYTE_OF[(rest & 0x3F) as usize];
            rest >>= 6;
            length += 1;
        }
        &buffer[..length]
    }
}

/// One entry: its id, pattern and policy, a caller's tag, and the next slot under the same
/// class key.
#[derive(Debug, Clone)]
struct Slot<Id> {
    id: Id,
    pattern: Packed,
    next: u32,
    tag: u16,
    /// `None` for a slot on the free list.
    settings: Option<PolicySettings>,
}

/// The bucket that lists a slot, derived from its pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Bucket {
    /// Under its packed class key, in `by_class_key`.
    ClassKey(Packed),
    /// Under its class key as text, in `long_by_class_key`.
    LongClassKey(Box<[u8]>),
    /// A pattern with `?` but no `*`, by length.
    FixedLength(usize),
    /// A pattern with `*`.
    Runs,
}

/// One entry that matches a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexMatch<'a, Id> {
    pub id: &'a Id,
    pub pattern: PatternText,
    pub plate_match: PlateMatch,
}

/// The pattern of a matched entry, copied out of the index. Patterns that fit one packed word
/// are copied without allocating, because a match is on the path of every alerting read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternText {
    Short {
        bytes: [u8; PACKED_MAX_LEN],
        len: u8,
    },
    Long(Box<str>),
}

impl PatternText {
    fn new(pattern: &[u8]) -> Self {
        let mut bytes = [0u8; PACKED_MAX_LEN];
        match (bytes.get_mut(..pattern.len()), u8::try_from(pattern.len())) {
            (Some(prefix), Ok(len)) => {
                prefix.copy_from_slice(pattern);
                Self::Short { bytes, len }
            }
            _ => Self::Long(String::from_utf8_lossy(pattern).into()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            // Patterns hold only ASCII letters, digits, `?` and `*`, so the bytes are UTF-8.
            Self::Short { bytes, len } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Self::Long(text) => text,
        }
    }
}

/// The hotlist patterns of one matcher; see the module documentation.
#[derive(Debug, Clone)]
pub struct PlateIndex<Id> {
    classes: ConfusionClasses,
    /// Representative of every byte, which is the byte itself when it is in no class.
    representative: [u8; 256],
    /// Distinct representatives of A–Z and 0–9, sorted: the values an unreadable position of a
    /// class key expands to.
    key_alphabet: Vec<u8>,
    /// Settings of every OCR-tolerant entry, with the index's substitution budget.
    ocr_tolerant: PolicySettings,
    chunks: Vec<Vec<Slot<Id>>>,
    free_slots: Vec<u32>,
    hasher: DefaultHashBuilder,
    /// Slot numbers, found by the id of their slot.
    by_id: HashTable<u32>,
    /// The first slot of each chain of entries with one packed class key.
    by_class_key: HashTable<u32>,
    long_by_class_key: HashMap<Box<[u8]>, Vec<u32>>,
    /// Patterns longer than [`PACKED_MAX_LEN`], by slot number.
    long_patterns: HashMap<u32, Box<[u8]>>,
    fixed_length_wildcards: HashMap<usize, Vec<u32>>,
    /// Wildcard entries with `*`, with the shortest read each can match.
    run_wildcards: Vec<(usize, u32)>,
}

impl<Id: Clone + Eq + Hash> PlateIndex<Id> {
    /// Creates an empty index. OCR-tolerant entries allow `max_substitutions` substitutions.
    pub fn new(classes: ConfusionClasses, max_substitutions: u8) -> Result<Self, PolicyError> {
        let ocr_tolerant = PolicySettings::ocr_tolerant(max_substitutions)?;
        let mut representative = [0u8; 256];
        for (byte, slot) in (0..=u8::MAX).zip(representative.iter_mut()) {
            *slot = u8::try_from(classes.representative(char::from(byte))).unwrap_or(byte);
        }
        let mut key_alphabet: Vec<u8> = (b'0'..=b'9')
            .chain(b'A'..=b'Z')
            .map(|byte| representative[usize::from(byte)])
            .collect();
        key_alphabet.sort_unstable();
        key_alphabet.dedup();
        Ok(Self {
            classes,
            representative,
            key_alphabet,
            ocr_tolerant,
            chunks: Vec::new(),
            free_slots: Vec::new(),
            hasher: DefaultHashBuilder::default(),
            by_id: HashTable::new(),
            by_class_key: HashTable::new(),
            long_by_class_key: HashMap::new(),
            long_patterns: HashMap::new(),
            fixed_length_wildcards: HashMap::new(),
            run_wildcards: Vec::new(),
        })
    }

    pub fn classes(&self) -> &ConfusionClasses {
        &self.classes
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Makes room for `additional` more entries of a plate without wildcards, so a bulk load
    /// does not grow the tables step by step, rehashing every slot at each step.
    pub fn reserve(&mut self, additional: usize) {
        let Self {
            by_id,
            by_class_key,
            chunks,
            hasher,
            representative,
            ..
        } = self;
        by_id.reserve(additional, |&listed| {
            hasher.hash_one(&slot_in(chunks, listed).id)
        });
        by_class_key.reserve(additional, |&head| {
            hasher.hash_one(packed_key(representative, slot_in(chunks, head).pattern))
        });
        self.chunks.reserve(
            additional
                .div_ceil(CHUNK_LEN)
                .saturating_sub(self.free_slots.len()),
        );
    }

    /// Inserts an entry with a tag of the caller's choosing, replacing any entry with the same
    /// id, after checking `pattern` with [`validate_pattern`]. Returns the tag of the replaced
    /// entry. An invalid pattern leaves the index unchanged, so an existing entry with that id
    /// keeps its previous pattern: remove it if that is not wanted.
    pub fn insert(
        &mut self,
        id: Id,
        pattern: &str,
        policy: MatchPolicy,
        tag: u16,
    ) -> Result<Option<u16>, PatternError> {
        validate_pattern(pattern)?;
        let settings = match policy {
            MatchPolicy::Exact => PolicySettings::exact(),
            MatchPolicy::OcrTolerant => self.ocr_tolerant,
        };
        let replaced = self.remove(&id);

        let bytes = pattern.as_bytes();
        let packed = Packed::pack(bytes).unwrap_or(Packed::LONG);
        let slot = Slot {
            id,
            pattern: packed,
            next: NO_SLOT,
            tag,
            settings: Some(settings),
        };
        let number = self.store_slot(slot);
        if packed == Packed::LONG {
            self.long_patterns.insert(number, bytes.into());
        }
        match self.bucket_of(bytes) {
            Bucket::ClassKey(key) => self.link_class_key(key, number),
            Bucket::LongClassKey(key) => {
                self.long_by_class_key.entry(key).or_default().push(number)
            }
            Bucket::FixedLength(length) => self
                .fixed_length_wildcards
                .entry(length)
                .or_default()
                .push(number),
            Bucket::Runs => {
                let shortest_read = bytes.iter().filter(|&&byte| byte != ANY_RUN).count();
                self.run_wildcards.push((shortest_read, number));
            }
        }
        let Self {
            by_id,
            chunks,
            hasher,
            ..
        } = self;
        let hash = hasher.hash_one(&slot_in(chunks, number).id);
        by_id.insert_unique(hash, number, |&listed| {
            hasher.hash_one(&slot_in(chunks, listed).id)
        });
        Ok(replaced)
    }

    /// Removes the entry with `id`. Returns its tag, or `None` when there was none.
    pub fn remove(&mut self, id: &Id) -> Option<u16> {
        let hash = self.hasher.hash_one(id);
        let number = {
            let chunks = &self.chunks;
            let entry = self
                .by_id
                .find_entry(hash, |&listed| slot_in(chunks, listed).id == *id)
                .ok()?;
            let (number, _) = entry.remove();
            number
        };
        let mut buffer = [0u8; PACKED_MAX_LEN];
        let pattern = self.pattern_of(number, &mut buffer).to_vec();
        match self.bucket_of(&pattern) {
            Bucket::ClassKey(key) => self.unlink_class_key(key, number),
            Bucket::LongClassKey(key) => {
                if let Some(bucket) = self.long_by_class_key.get_mut(&key) {
                    bucket.retain(|&listed| listed != number);
                    if bucket.is_empty() {
                        self.long_by_class_key.remove(&key);
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
        self.long_patterns.remove(&number);
        let slot = self.slot_mut(number);
        slot.settings = None;
        slot.next = NO_SLOT;
        let tag = slot.tag;
        self.free_slots.push(number);
        Some(tag)
    }

    /// Returns every entry that `read` matches, each with its [`PlateMatch`]. A read with a
    /// character other than A–Z, 0–9 and `?` matches nothing.
    pub fn matches(&self, read: &str) -> Vec<IndexMatch<'_, Id>> {
        let mut found = Vec::new();
        let read = read.as_bytes();
        if read.is_empty() || !read.iter().all(|&byte| is_read_character(byte)) {
            return found;
        }

        let unreadable = read.iter().filter(|&&byte| byte == UNREADABLE).count();
        if unreadable == 0 {
            // The class key of a plate that fits one word is packed straight from the read,
            // without building it as text first.
            if read.len() <= PACKED_MAX_LEN {
                let mut key = [0u8; PACKED_MAX_LEN];
                for (slot, &byte) in key.iter_mut().zip(read) {
                    *slot = self.representative[usize::from(byte)];
                }
                self.check_class_key(read, &key[..read.len()], &mut found);
            } else {
                self.check_class_key(read, &self.class_key(read), &mut found);
            }
        } else if self.partial_probes(unreadable) <= PARTIAL_PROBE_LIMIT {
            self.probe_partial(read, &mut found);
        } else {
            self.scan_length(read, &mut found);
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

    fn class_key(&self, plate: &[u8]) -> Vec<u8> {
        plate
            .iter()
            .map(|&byte| self.representative[usize::from(byte)])
            .collect()
    }

    fn bucket_of(&self, pattern: &[u8]) -> Bucket {
        if pattern.contains(&ANY_RUN) {
            Bucket::Runs
        } else if pattern.contains(&UNREADABLE) {
            Bucket::FixedLength(pattern.len())
        } else {
            let key = self.class_key(pattern);
            match Packed::pack(&key) {
                Some(packed) => Bucket::ClassKey(packed),
                None => Bucket::LongClassKey(key.into_boxed_slice()),
            }
        }
    }

    fn store_slot(&mut self, slot: Slot<Id>) -> u32 {
        if let Some(number) = self.free_slots.pop() {
            *self.slot_mut(number) = slot;
            return number;
        }
        if self
            .chunks
            .last()
            .is_none_or(|chunk| chunk.len() == CHUNK_LEN)
        {
            self.chunks.push(Vec::with_capacity(CHUNK_LEN));
        }
        let chunk_index = self.chunks.len() - 1;
        let chunk = &mut self.chunks[chunk_index];
        chunk.push(slot);
        // More than four billion entries would wrap the slot number; hotlists are far smaller.
        u32::try_from((chunk_index << CHUNK_BITS) + chunk.len() - 1).unwrap_or(NO_SLOT)
    }

    fn slot(&self, number: u32) -> &Slot<Id> {
        slot_in(&self.chunks, number)
    }

    fn slot_mut(&mut self, number: u32) -> &mut Slot<Id> {
        let chunk = (number >> CHUNK_BITS) as usize;
        let offset = (number as usize) & (CHUNK_LEN - 1);
        &mut self.chunks[chunk][offset]
    }

    fn pattern_of<'b>(&'b self, number: u32, buffer: &'b mut [u8; PACKED_MAX_LEN]) -> &'b [u8] {
        let packed = self.slot(number).pattern;
        if packed == Packed::LONG {
            return self
                .long_patterns
                .get(&number)
                .map_or(&[], |long| &long[..]);
        }
        packed.unpack(buffer)
    }

    /// Puts slot `number` at the head of the chain of `key`.
    fn link_class_key(&mut self, key: Packed, number: u32) {
        let hash = self.hasher.hash_one(key);
        let Self {
            by_class_key,
            chunks,
            hasher,
            representative,
            ..
        } = self;
        let key_of = |listed: u32| packed_key(representative, slot_in(chunks, listed).pattern);
        let previous_head = match by_class_key.find_mut(hash, |&head| key_of(head) == key) {
            Some(head) => std::mem::replace(head, number),
            None => {
                by_class_key.insert_unique(hash, number, |&head| hasher.hash_one(key_of(head)));
                NO_SLOT
            }
        };
        self.slot_mut(number).next = previous_head;
    }

    /// Takes slot `number` out of the chain of `key`.
    fn unlink_class_key(&mut self, key: Packed, number: u32) {
        let hash = self.hasher.hash_one(key);
        let next = self.slot(number).next;
        let head = {
            let Self {
                by_class_key,
                chunks,
                representative,
                ..
            } = &mut *self;
            let key_of = |listed: u32| packed_key(representative, slot_in(chunks, listed).pattern);
            let Ok(entry) = by_class_key.find_entry(hash, |&head| key_of(head) == key) else {
                return;
            };
            if *entry.get() == number {
                if next == NO_SLOT {
                    entry.remove();
                } else {
                    *entry.into_mut() = next;
                }
                return;
            }
            *entry.get()
        };
        let mut current = head;
        while current != NO_SLOT {
            let following = self.slot(current).next;
            if following == number {
                self.slot_mut(current).next = next;
                return;
            }
            current = following;
        }
    }

    /// Checks the entries under the class key `key` of a read.
    fn check_class_key<'a>(&'a self, read: &[u8], key: &[u8], found: &mut Vec<IndexMatch<'a, Id>>) {
        match Packed::pack(key) {
            Some(packed) => {
                let hash = self.hasher.hash_one(packed);
                let head = self.by_class_key.find(hash, |&head| {
                    packed_key(&self.representative, self.slot(head).pattern) == packed
                });
                if let Some(&head) = head {
                    self.check_slots(
                        read,
                        ChainIter {
                            index: self,
                            next: head,
                        },
                        found,
                    );
                }
            }
            None => {
                if let Some(bucket) = self.long_by_class_key.get(key) {
                    self.check_slots(read, bucket.iter().copied(), found);
                }
            }
        }
    }

    fn partial_probes(&self, unreadable: usize) -> usize {
        u32::try_from(unreadable)
            .ok()
            .and_then(|exponent| self.key_alphabet.len().checked_pow(exponent))
            .unwrap_or(usize::MAX)
    }

    /// Looks up every class key that the `?` positions of `read` can expand to. Each expansion is
    /// a different key, so no entry is found twice.
    fn probe_partial<'a>(&'a self, read: &[u8], found: &mut Vec<IndexMatch<'a, Id>>) {
        let alphabet = &self.key_alphabet;
        let mut key = self.class_key(read);
        let unknown: Vec<usize> = (0..read.len())
            .filter(|&position| read[position] == UNREADABLE)
            .collect();
        // An odometer over the alphabet: choice[k] picks the representative at unknown[k].
        let mut choice = vec![0usize; unknown.len()];
        loop {
            for (&position, &chosen) in unknown.iter().zip(&choice) {
                key[position] = alphabet[chosen];
            }
            self.check_class_key(read, &key, found);
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

    /// Checks every entry listed under a class key of the read's length: the fallback for reads
    /// with too many `?` to probe.
    fn scan_length<'a>(&'a self, read: &[u8], found: &mut Vec<IndexMatch<'a, Id>>) {
        let mut buffer = [0u8; PACKED_MAX_LEN];
        let slots = self.chunks.iter().map(Vec::len).sum::<usize>();
        let candidates: Vec<u32> = (0..slots)
            .filter_map(|number| u32::try_from(number).ok())
            .filter(|&number| {
                if self.slot(number).settings.is_none() {
                    return false;
                }
                // Wildcard entries are checked apart from the class-key buckets, and every
                // other entry is listed under a class key of its own length.
                let pattern = self.pattern_of(number, &mut buffer);
                pattern.len() == read.len()
                    && !pattern.iter().any(|&b| b == UNREADABLE || b == ANY_RUN)
            })
            .collect();
        self.check_slots(read, candidates.into_iter(), found);
    }

    fn check_slots<'a>(
        &'a self,
        read: &[u8],
        numbers: impl Iterator<Item = u32>,
        found: &mut Vec<IndexMatch<'a, Id>>,
    ) {
        let mut buffer = [0u8; PACKED_MAX_LEN];
        for number in numbers {
            let slot = self.slot(number);
            let Some(settings) = &slot.settings else {
                continue;
            };
            let pattern = self.pattern_of(number, &mut buffer);
            if let Some(plate_match) = match_checked(read, pattern, settings, &self.classes) {
                found.push(IndexMatch {
                    id: &slot.id,
                    pattern: PatternText::new(pattern),
                    plate_match,
                });
            }
        }
    }
}

/// Views of the layout for the tests of the matching rules.
#[cfg(test)]
impl<Id: Clone + Eq + Hash> PlateIndex<Id> {
    pub(crate) fn slots_allocated(&self) -> usize {
        self.chunks.iter().map(Vec::len).sum()
    }

    pub(crate) fn has_no_buckets(&self) -> bool {
        self.by_class_key.is_empty()
            && self.long_by_class_key.is_empty()
            && self.fixed_length_wildcards.is_empty()
            && self.run_wildcards.is_empty()
    }

    pub(crate) fn scans_reads_with(&self, unreadable: usize) -> bool {
        self.partial_probes(unreadable) > PARTIAL_PROBE_LIMIT
    }
}

fn slot_in<Id>(chunks: &[Vec<Slot<Id>>], number: u32) -> &Slot<Id> {
    &chunks[(number >> CHUNK_BITS) as usize][(number as usize) & (CHUNK_LEN - 1)]
}

/// Returns the packed class key of a packed pattern, with the representatives given.
fn packed_key(representative: &[u8; 256], pattern: Packed) -> Packed {
    let mut buffer = [0u8; PACKED_MAX_LEN];
    let mut key = [0u8; PACKED_MAX_LEN];
    let plate = pattern.unpack(&mut buffer);
    for (slot, &byte) in key.iter_mut().zip(plate) {
        *slot = representative[usize::from(byte)];
    }
    Packed::pack(&key[..plate.len()]).unwrap_or(Packed::LONG)
}

/// The slots of one class-key chain.
struct ChainIter<'a, Id> {
    index: &'a PlateIndex<Id>,
    next: u32,
}

impl<Id: Clone + Eq + Hash> Iterator for ChainIter<'_, Id> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        if self.next == NO_SLOT {
            return None;
        }
        let current = self.next;
        self.next = self.index.slot(current).next;
        Some(current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips_every_pattern_character() {
        let mut buffer = [0u8; PACKED_MAX_LEN];
        for pattern in [
            "0123456789",
            "ABCDEFGHIJ",
            "KLMNOPQRST",
            "UVWXYZ?*",
            "7",
            "Z9",
        ] {
            let packed = Packed::pack(pattern.as_bytes()).expect("packable");
            assert_ne!(packed, Packed::LONG);
            assert_eq!(packed.unpack(&mut buffer), pattern.as_bytes());
        }
        assert_eq!(Packed::pack(b"ABCDEFGHIJK"), None);
        assert_eq!(Packed::pack(b"AB-1"), None);
    }

    #[test]
    fn slot_with_uuid_id_is_32_bytes() {
        assert_eq!(std::mem::size_of::<Slot<u128>>(), 32);
    }

    #[test]
    fn long_patterns_match_and_are_removed() {
        let mut index = PlateIndex::new(ConfusionClasses::default(), 1).expect("valid budget");
        index
            .insert(1_u32, "ABCDEF123456", MatchPolicy::OcrTolerant, 7)
            .expect("valid pattern");
        index
            .insert(2_u32, "ABCDEF12345*", MatchPolicy::Exact, 8)
            .expect("valid pattern");
        let ids = |index: &PlateIndex<u32>, read: &str| {
            let mut ids: Vec<u32> = index.matches(read).iter().map(|found| *found.id).collect();
            ids.sort_unstable();
            ids
        };
        assert_eq!(ids(&index, "ABCDEF123456"), vec![1, 2]);
        assert_eq!(ids(&index, "ABCDEF1234S6"), vec![1]);
        assert_eq!(index.remove(&1), Some(7));
        assert_eq!(ids(&index, "ABCDEF123456"), vec![2]);
        assert_eq!(index.remove(&1), None);
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn chains_survive_removal_from_the_middle() {
        let mut index = PlateIndex::new(ConfusionClasses::default(), 1).expect("valid budget");
        // One class key: O, 0 and D share a class, so each pattern is one substitution away.
        for (id, pattern) in [(1_u32, "7OB8123"), (2, "70B8123"), (3, "7DB8123")] {
            index
                .insert(id, pattern, MatchPolicy::OcrTolerant, 0)
                .expect("valid pattern");
        }
        assert_eq!(index.matches("7OB8123").len(), 3);
        assert_eq!(index.remove(&2), Some(0));
        let mut ids: Vec<u32> = index
            .matches("7OB8123")
            .iter()
            .map(|found| *found.id)
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, vec![1, 3]);
        index
            .insert(4, "7OB8123", MatchPolicy::Exact, 0)
            .expect("valid pattern");
        assert_eq!(index.matches("7OB8123").len(), 3);
    }
}
