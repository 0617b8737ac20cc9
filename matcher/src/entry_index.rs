//! The in-memory part of the hotlist store: each entry's pattern in a [`PlateIndex`] under a
//! 16-byte key, its list as a number, and nothing else. The entries themselves stay in RocksDB
//! and are read only for the few reads whose plate some pattern matches, so the index of ten
//! million entries takes a few hundred megabytes instead of gigabytes.

use std::collections::HashMap;

use uuid::Uuid;

use alpr_schemas::{HotlistImport, MatchPolicy};

use crate::plate_match::{ConfusionClasses, PlateIndex, PlateMatch, PolicyError};

/// An entry id as the index keeps it: the 128 bits of a UUID. Hotlist import writes every entry
/// id as a UUID in its canonical text. Any other id gets a name-based UUID of its text, and the
/// text is kept in [`EntryIndex::other_ids`].
pub type EntryKey = u128;

/// Namespace of the name-based keys of entry ids that are not canonical UUIDs.
const OTHER_ID_NAMESPACE: Uuid = Uuid::from_u128(0x5a1e_0b5e_2f4d_4c1a_9a7e_3d2c_1b0a_f9e8);

/// The facts of one entry that the index needs, borrowed from its record.
#[derive(Debug, Clone, Copy)]
pub struct IndexedEntry<'a> {
    /// The entry's key on the hotlist topic and in RocksDB.
    pub entry_id: &'a str,
    pub list: &'a str,
    pub plate: &'a str,
    pub match_policy: MatchPolicy,
}

/// Entries indexed by plate pattern, with per-list facts, rebuilt from RocksDB at start and kept
/// in step with every write.
pub struct EntryIndex {
    patterns: PlateIndex<EntryKey>,
    /// Text of the entry ids that are not canonical UUIDs, by key.
    other_ids: HashMap<EntryKey, String>,
    lists: ListCounts,
    pub imports: HashMap<String, HotlistImport>,
}

impl EntryIndex {
    pub fn new(classes: &ConfusionClasses, max_substitutions: u8) -> Result<Self, PolicyError> {
        Ok(Self {
            patterns: PlateIndex::new(classes.clone(), max_substitutions)?,
            other_ids: HashMap::new(),
            lists: ListCounts::default(),
            imports: HashMap::new(),
        })
    }

    /// Adds or replaces an entry. An entry whose pattern the index rejects (such as three `*`)
    /// stays in RocksDB but cannot match. Hotlist import rejects such patterns first, so only a
    /// record written by another producer gets here.
    pub fn insert(&mut self, entry: IndexedEntry<'_>) {
        let Some(list) = self.lists.number_of(entry.list) else {
            tracing::error!(entry_id = %entry.entry_id, list = %entry.list, "too many hotlists; the entry cannot match");
            self.remove(entry.entry_id);
            return;
        };
        let (key, canonical) = key_of(entry.entry_id);
        match self
            .patterns
            .insert(key, entry.plate, entry.match_policy, list)
        {
            Ok(replaced) => {
                self.lists.add(list);
                if let Some(replaced) = replaced {
                    self.lists.subtract(replaced);
                }
                if !canonical {
                    self.other_ids.insert(key, entry.entry_id.to_string());
                }
            }
            Err(error) => {
                tracing::warn!(entry_id = %entry.entry_id, %error, "hotlist entry has an invalid pattern and cannot match");
                self.remove(entry.entry_id);
            }
        }
    }

    pub fn remove(&mut self, entry_id: &str) {
        let (key, _) = key_of(entry_id);
        if let Some(list) = self.patterns.remove(&key) {
            self.lists.subtract(list);
        }
        self.other_ids.remove(&key);
    }

    /// Returns the id and the match of every entry whose pattern matches `plate`.
    pub fn matches(&self, plate: &str) -> Vec<(String, PlateMatch)> {
        self.patterns
            .matches(plate)
            .into_iter()
            .map(|found| (self.text_of(*found.id), found.plate_match))
            .collect()
    }

    /// Makes room for `additional` more entries before a bulk load.
    pub fn reserve(&mut self, additional: usize) {
        self.patterns.reserve(additional);
    }

    /// Number of entries that can match.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Returns each list with entries and how many of them can match.
    pub fn entries_per_list(&self) -> impl Iterator<Item = (&str, usize)> {
        self.lists.counts()
    }

    fn text_of(&self, key: EntryKey) -> String {
        match self.other_ids.get(&key) {
            Some(text) => text.clone(),
            None => Uuid::from_u128(key).hyphenated().to_string(),
        }
    }
}

/// Returns the key of an entry id, and whether the id is a UUID in canonical text, which the
/// key alone gives back.
fn key_of(entry_id: &str) -> (EntryKey, bool) {
    if let Ok(uuid) = Uuid::try_parse(entry_id) {
        let mut buffer = Uuid::encode_buffer();
        if uuid.hyphenated().encode_lower(&mut buffer) == entry_id {
            return (uuid.as_u128(), true);
        }
    }
    (
        Uuid::new_v5(&OTHER_ID_NAMESPACE, entry_id.as_bytes()).as_u128(),
        false,
    )
}

/// List names numbered in order of first appearance, with the number of indexed entries of
/// each. The index tags every entry with its list's number, which takes two bytes per entry
/// where the name would take a string.
#[derive(Debug, Default)]
struct ListCounts {
    names: Vec<String>,
    numbers: HashMap<String, u16>,
    entries: Vec<usize>,
}

impl ListCounts {
    /// Returns the number of `list`, giving it the next one when it is new, or `None` when all
    /// 65,536 numbers are taken.
    fn number_of(&mut self, list: &str) -> Option<u16> {
        if let Some(&number) = self.numbers.get(list) {
            return Some(number);
        }
        let number = u16::try_from(self.names.len()).ok()?;
        self.names.push(list.to_string());
        self.numbers.insert(list.to_string(), number);
        self.entries.push(0);
        Some(number)
    }

    fn add(&mut self, number: u16) {
        if let Some(count) = self.entries.get_mut(usize::from(number)) {
            *count += 1;
        }
    }

    fn subtract(&mut self, number: u16) {
        if let Some(count) = self.entries.get_mut(usize::from(number)) {
            *count = count.saturating_sub(1);
        }
    }

    fn counts(&self) -> impl Iterator<Item = (&str, usize)> {
        self.names
            .iter()
            .zip(&self.entries)
            .filter(|(_, &count)| count > 0)
            .map(|(name, &count)| (name.as_str(), count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(entry_id: &'a str, list: &'a str, plate: &'a str) -> IndexedEntry<'a> {
        IndexedEntry {
            entry_id,
            list,
            plate,
            match_policy: MatchPolicy::Exact,
        }
    }

    #[test]
    fn ids_come_back_as_written() {
        let mut index = EntryIndex::new(&ConfusionClasses::default(), 1).expect("valid budget");
        let uuid = "0190f3a2-7b1c-7d4e-9f00-123456789abc";
        let upper = "0190F3A2-7B1C-7D4E-9F00-123456789ABC";
        index.insert(entry(uuid, "NCIC", "7ABC123"));
        index.insert(entry(upper, "NCIC", "8ABC123"));
        index.insert(entry("record-17", "WA", "9ABC123"));
        let id_of = |plate: &str| index.matches(plate).pop().map(|(id, _)| id);
        assert_eq!(id_of("7ABC123").as_deref(), Some(uuid));
        assert_eq!(id_of("8ABC123").as_deref(), Some(upper));
        assert_eq!(id_of("9ABC123").as_deref(), Some("record-17"));
    }

    #[test]
    fn list_counts_follow_moves_and_removals() {
        let mut index = EntryIndex::new(&ConfusionClasses::default(), 1).expect("valid budget");
        index.insert(entry("a", "NCIC", "7ABC123"));
        index.insert(entry("b", "NCIC", "8ABC123"));
        index.insert(entry("b", "WA", "8ABC123"));
        index.remove("a");
        let counts: Vec<(&str, usize)> = index.entries_per_list().collect();
        assert_eq!(counts, vec![("WA", 1)]);
        assert_eq!(index.len(), 1);
    }
}
