//! The matcher's copy of the hotlist: RocksDB as the durable store, with an in-memory index by
//! plate in front of it for the per-read lookup.
//!
//! Column families:
//! - `entries`: entry id → Avro `HotlistEntry`, exactly as on the hotlist topic;
//! - `offsets`: hotlist partition (4 bytes, big-endian) → next offset to read (8 bytes,
//!   big-endian). The offset is exclusive: the record at that offset has not been applied.
//!
//! Entries and offsets change in one write batch, so after a crash the store and the offsets
//! agree, and the topic is read on from where the store stopped instead of from the start.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use rocksdb::{ColumnFamilyDescriptor, IteratorMode, Options, WriteBatch, DB};

use alpr_schemas::plate::is_wildcard_pattern;
use alpr_schemas::{decode, HotlistEntry};

const ENTRIES: &str = "entries";
const OFFSETS: &str = "offsets";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("rocksdb: {0}")]
    RocksDb(#[from] rocksdb::Error),
    #[error("stored entry {entry_id} cannot be decoded: {source}")]
    CorruptEntry {
        entry_id: String,
        source: alpr_schemas::CodecError,
    },
}

/// One record of the hotlist topic, as the store applies it.
#[derive(Debug, Clone)]
pub struct HotlistRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Vec<u8>,
    /// `None` for a tombstone, which removes the entry.
    pub payload: Option<Vec<u8>>,
}

/// Entries by exact plate, rebuilt from RocksDB at start and kept in step with every write.
#[derive(Default)]
struct PlateIndex {
    entries_by_plate: HashMap<String, Vec<HotlistEntry>>,
    /// Plate of each indexed entry, so a removal finds its entry without a scan.
    plate_by_entry_id: HashMap<String, String>,
}

/// The hotlist state of one matcher instance. Cheap to clone: clones share the database.
#[derive(Clone)]
pub struct HotlistStore {
    db: Arc<DB>,
    by_plate: Arc<RwLock<PlateIndex>>,
}

impl HotlistStore {
    /// Opens or creates the store in `path` and loads the plate index.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        let families = [ENTRIES, OFFSETS]
            .into_iter()
            .map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        let db = DB::open_cf_descriptors(&options, path, families)?;
        let store = Self {
            db: Arc::new(db),
            by_plate: Arc::default(),
        };
        store.rebuild_index()?;
        Ok(store)
    }

    fn family(&self, name: &str) -> &rocksdb::ColumnFamily {
        // Both families are created in `open`, so a missing one is a broken invariant.
        self.db
            .cf_handle(name)
            .unwrap_or_else(|| panic!("column family {name} exists after open"))
    }

    fn rebuild_index(&self) -> Result<(), StoreError> {
        let mut index = PlateIndex::default();
        for item in self
            .db
            .iterator_cf(self.family(ENTRIES), IteratorMode::Start)
        {
            let (key, value) = item?;
            let entry: HotlistEntry =
                decode(&value).map_err(|source| StoreError::CorruptEntry {
                    entry_id: String::from_utf8_lossy(&key).into_owned(),
                    source,
                })?;
            index_insert(&mut index, entry);
        }
        *self
            .by_plate
            .write()
            .unwrap_or_else(|poison| poison.into_inner()) = index;
        Ok(())
    }

    /// Returns the next offset to read per hotlist partition, for partitions seen before.
    pub fn stored_offsets(&self) -> Result<HashMap<i32, i64>, StoreError> {
        let mut offsets = HashMap::new();
        for item in self
            .db
            .iterator_cf(self.family(OFFSETS), IteratorMode::Start)
        {
            let (key, value) = item?;
            if let (Ok(partition), Ok(offset)) = (
                <[u8; 4]>::try_from(&key[..]),
                <[u8; 8]>::try_from(&value[..]),
            ) {
                offsets.insert(i32::from_be_bytes(partition), i64::from_be_bytes(offset));
            }
        }
        Ok(offsets)
    }

    /// Applies hotlist records and their offsets in one atomic write. Records whose value
    /// cannot be decoded are skipped with a warning and their offsets still advance, so one bad
    /// record does not stop the hotlist from updating.
    pub fn apply(&self, records: &[HotlistRecord]) -> Result<ApplySummary, StoreError> {
        let mut batch = WriteBatch::default();
        let mut summary = ApplySummary::default();
        let mut upserts: Vec<HotlistEntry> = Vec::new();
        let mut removals: Vec<String> = Vec::new();
        let mut next_offsets: HashMap<i32, i64> = HashMap::new();

        for record in records {
            next_offsets.insert(record.partition, record.offset + 1);
            let entry_id = String::from_utf8_lossy(&record.key).into_owned();
            match &record.payload {
                None => {
                    batch.delete_cf(self.family(ENTRIES), &record.key);
                    removals.push(entry_id);
                    summary.removed += 1;
                }
                Some(payload) => match decode::<HotlistEntry>(payload) {
                    Ok(entry) => {
                        batch.put_cf(self.family(ENTRIES), &record.key, payload);
                        removals.push(entry_id);
                        upserts.push(entry);
                        summary.upserted += 1;
                    }
                    Err(error) => {
                        tracing::warn!(%error, partition = record.partition, offset = record.offset, "skipping undecodable hotlist record");
                        summary.undecodable += 1;
                    }
                },
            }
        }
        for (partition, offset) in next_offsets {
            batch.put_cf(
                self.family(OFFSETS),
                partition.to_be_bytes(),
                offset.to_be_bytes(),
            );
        }
        self.db.write(batch)?;

        // The index changes only after the write is durable, so it never shows an entry the
        // store would forget in a crash.
        let mut index = self
            .by_plate
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        for entry_id in &removals {
            index_remove(&mut index, entry_id);
        }
        for entry in upserts {
            index_insert(&mut index, entry);
        }
        Ok(summary)
    }

    /// Returns the entries whose plate equals `plate` exactly.
    pub fn entries_for_plate(&self, plate: &str) -> Vec<HotlistEntry> {
        let index = self
            .by_plate
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        index
            .entries_by_plate
            .get(plate)
            .cloned()
            .unwrap_or_default()
    }

    /// Returns every stored entry, in entry id order.
    pub fn all_entries(&self) -> Result<Vec<HotlistEntry>, StoreError> {
        let mut entries = Vec::new();
        for item in self
            .db
            .iterator_cf(self.family(ENTRIES), IteratorMode::Start)
        {
            let (key, value) = item?;
            entries.push(decode(&value).map_err(|source| StoreError::CorruptEntry {
                entry_id: String::from_utf8_lossy(&key).into_owned(),
                source,
            })?);
        }
        Ok(entries)
    }

    /// Number of entries in the plate index.
    pub fn entry_count(&self) -> usize {
        let index = self
            .by_plate
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        index.plate_by_entry_id.len()
    }

    /// Flushes memtables to disk, for a clean shutdown.
    pub fn flush(&self) -> Result<(), StoreError> {
        for family in [ENTRIES, OFFSETS] {
            self.db.flush_cf(self.family(family))?;
        }
        Ok(())
    }
}

/// Counts of one [`HotlistStore::apply`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ApplySummary {
    pub upserted: usize,
    pub removed: usize,
    pub undecodable: usize,
}

/// Adds an entry under its plate.
///
/// NOTE: entries whose plate contains `?` or `*` are kept in RocksDB but not indexed, because only
/// exact matching exists so far; such wildcard entries never alert yet.
fn index_insert(index: &mut PlateIndex, entry: HotlistEntry) {
    if is_wildcard_pattern(&entry.plate) {
        return;
    }
    index
        .plate_by_entry_id
        .insert(entry.entry_id.clone(), entry.plate.clone());
    index
        .entries_by_plate
        .entry(entry.plate.clone())
        .or_default()
        .push(entry);
}

fn index_remove(index: &mut PlateIndex, entry_id: &str) {
    let Some(plate) = index.plate_by_entry_id.remove(entry_id) else {
        return;
    };
    if let Some(entries) = index.entries_by_plate.get_mut(&plate) {
        entries.retain(|entry| entry.entry_id != entry_id);
        if entries.is_empty() {
            index.entries_by_plate.remove(&plate);
        }
    }
}
