//! The matcher's copy of the hotlist: RocksDB as the durable store, with an in-memory index by
//! plate in front of it for the per-read lookup.
//!
//! Column families:
//! - `entries`: entry id → Avro `HotlistEntry`, exactly as on the hotlist topic;
//! - `lists`: list name → Avro `HotlistImport`, the list's latest import, which the topic carries
//!   under the key `list:<name>` beside the entries;
//! - `offsets`: hotlist partition (4 bytes, big-endian) → next offset to read (8 bytes,
//!   big-endian). The offset is exclusive: the record at that offset has not been applied.
//!
//! The in-memory index ([`EntryIndex`]) keeps only each entry's pattern, key and list, so one
//! lookup finds exact matches, OCR variants, partial reads and wildcard entries alike, and the
//! entries found are then read from RocksDB.
//!
//! Entries and offsets change in one write batch, so after a crash the store and the offsets
//! agree, and the topic is read on from where the store stopped instead of from the start.
//!
//! Writes skip RocksDB's write-ahead log, and every column family is flushed together (atomic
//! flush). A crash then loses the writes since the last flush, entries and offsets alike, so
//! the store falls back to an earlier state that is still consistent, and the follower reads
//! those records again from the topic. A profile of a 10 M-entry load spent a fifth of its time
//! copying the log to disk, and the topic already keeps every record the log would.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, RwLock};

use rocksdb::{
    ColumnFamilyDescriptor, FlushOptions, IteratorMode, Options, WriteBatch, WriteOptions, DB,
};

use alpr_schemas::{decode, decode_view, HotlistEntry, HotlistEntryView, HotlistImport};

use crate::entry_index::{EntryIndex, IndexedEntry};
use crate::plate_match::{self, ConfusionClasses, PlateMatch, PolicyError};

const ENTRIES: &str = "entries";
const OFFSETS: &str = "offsets";
const LISTS: &str = "lists";
const FAMILIES: [&str; 3] = [ENTRIES, OFFSETS, LISTS];
/// Block cache of the entries family, in MiB.
const ENTRIES_BLOCK_CACHE_MB: u64 = 32;
const ENTRIES_WRITE_BUFFER_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("rocksdb: {0}")]
    RocksDb(#[from] rocksdb::Error),
    #[error("invalid matching settings: {0}")]
    Policy(#[from] PolicyError),
    #[error("stored entry {entry_id} cannot be decoded: {source}")]
    CorruptEntry {
        entry_id: String,
        source: alpr_schemas::CodecError,
    },
    #[error("stored import record of list {list} cannot be decoded: {source}")]
    CorruptListImport {
        list: String,
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

/// Summary of one list in the store: how many of its entries can match, and its latest import
/// when one was published.
#[derive(Debug, Clone, PartialEq)]
pub struct ListSummary {
    pub list: String,
    pub entries: usize,
    pub import: Option<HotlistImport>,
}

/// A change to the index, applied in record order once the write is durable.
enum IndexChange<'a> {
    /// An entry of the current schema, its fields borrowed from the record.
    UpsertEntry(IndexedEntry<'a>),
    /// An entry written with an older schema, decoded in full, under its key.
    UpsertDecodedEntry(&'a str, Box<HotlistEntry>),
    RemoveEntry(&'a str),
    SetImport(HotlistImport),
    RemoveImport(String),
}

/// The hotlist state of one matcher instance. Cheap to clone: clones share the database.
#[derive(Clone)]
pub struct HotlistStore {
    db: Arc<DB>,
    index: Arc<RwLock<EntryIndex>>,
    classes: ConfusionClasses,
    max_substitutions: u8,
}

impl HotlistStore {
    /// Opens or creates the store in `path` with the default confusion classes and at most one
    /// substitution for OCR-tolerant entries.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(
            path,
            ConfusionClasses::default(),
            plate_match::DEFAULT_MAX_SUBSTITUTIONS,
        )
    }

    /// Opens or creates the store in `path` and loads the plate index.
    pub fn open_with(
        path: &Path,
        classes: ConfusionClasses,
        max_substitutions: u8,
    ) -> Result<Self, StoreError> {
        let index = EntryIndex::new(&classes, max_substitutions)?;
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_atomic_flush(true);
        let families = FAMILIES.into_iter().map(|name| {
            let mut family = Options::default();
            if name == ENTRIES {
                // Entries are read one at a time, only for reads that some pattern matches, so
                // a small block cache with bloom filters serves them. The whole family is
                // written at the first load, which large memtables turn into fewer flushes.
                family.optimize_for_point_lookup(ENTRIES_BLOCK_CACHE_MB);
                family.set_write_buffer_size(ENTRIES_WRITE_BUFFER_BYTES);
            }
            ColumnFamilyDescriptor::new(name, family)
        });
        let db = DB::open_cf_descriptors(&options, path, families)?;
        let store = Self {
            db: Arc::new(db),
            index: Arc::new(RwLock::new(index)),
            classes,
            max_substitutions,
        };
        store.rebuild_index()?;
        Ok(store)
    }

    fn family(&self, name: &str) -> &rocksdb::ColumnFamily {
        // Every family is created in `open`, so a missing one is a broken invariant.
        self.db
            .cf_handle(name)
            .unwrap_or_else(|| panic!("column family {name} exists after open"))
    }

    fn rebuild_index(&self) -> Result<(), StoreError> {
        let mut index = EntryIndex::new(&self.classes, self.max_substitutions)?;
        let estimate = self
            .db
            .property_int_value_cf(self.family(ENTRIES), "rocksdb.estimate-num-keys")?
            .unwrap_or(0);
        index.reserve(usize::try_from(estimate).unwrap_or(0));
        for item in self
            .db
            .iterator_cf(self.family(ENTRIES), IteratorMode::Start)
        {
            let (key, value) = item?;
            let corrupt = |source| StoreError::CorruptEntry {
                entry_id: String::from_utf8_lossy(&key).into_owned(),
                source,
            };
            let entry_id = String::from_utf8_lossy(&key);
            match decode_view::<HotlistEntry, HotlistEntryView>(&value).map_err(corrupt)? {
                Some(view) => index.insert(indexed(&entry_id, &view)),
                None => {
                    let entry: HotlistEntry = decode(&value).map_err(corrupt)?;
                    index.insert(indexed_owned(&entry_id, &entry));
                }
            }
        }
        for item in self.db.iterator_cf(self.family(LISTS), IteratorMode::Start) {
            let (key, value) = item?;
            let import: HotlistImport =
                decode(&value).map_err(|source| StoreError::CorruptListImport {
                    list: String::from_utf8_lossy(&key).into_owned(),
                    source,
                })?;
            index.imports.insert(import.list.clone(), import);
        }
        *self
            .index
            .write()
            .unwrap_or_else(|poison| poison.into_inner()) = index;
        Ok(())
    }

    /// Makes room in the index for `additional` more entries, before applying that many records.
    pub fn reserve_entries(&self, additional: usize) {
        self.index
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
            .reserve(additional);
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
        // Index changes in record order, so a later tombstone of an entry wins over an earlier
        // update in the same batch.
        let mut changes: Vec<IndexChange<'_>> = Vec::new();
        let mut next_offsets: HashMap<i32, i64> = HashMap::new();
        // Entry writes, put into the batch in key order below. `None` deletes the entry.
        let mut entry_writes: Vec<(&[u8], Option<&[u8]>)> = Vec::with_capacity(records.len());

        for record in records {
            next_offsets.insert(record.partition, record.offset + 1);
            let Ok(key) = std::str::from_utf8(&record.key) else {
                tracing::warn!(
                    partition = record.partition,
                    offset = record.offset,
                    "skipping hotlist record whose key is not UTF-8"
                );
                summary.undecodable += 1;
                continue;
            };
            if let Some(list) = HotlistImport::list_of_key(key) {
                self.stage_import_record(&mut batch, &mut changes, &mut summary, list, record);
                continue;
            }
            match &record.payload {
                None => {
                    entry_writes.push((&record.key, None));
                    changes.push(IndexChange::RemoveEntry(key));
                    summary.removed += 1;
                }
                Some(payload) => match decode_view::<HotlistEntry, HotlistEntryView>(payload) {
                    Ok(view) => {
                        let change = match view {
                            Some(view) => IndexChange::UpsertEntry(indexed(key, &view)),
                            None => match decode::<HotlistEntry>(payload) {
                                Ok(entry) => IndexChange::UpsertDecodedEntry(key, Box::new(entry)),
                                Err(error) => {
                                    tracing::warn!(%error, partition = record.partition, offset = record.offset, "skipping undecodable hotlist record");
                                    summary.undecodable += 1;
                                    continue;
                                }
                            },
                        };
                        entry_writes.push((&record.key, Some(payload)));
                        changes.push(change);
                        summary.upserted += 1;
                    }
                    Err(error) => {
                        tracing::warn!(%error, partition = record.partition, offset = record.offset, "skipping undecodable hotlist record");
                        summary.undecodable += 1;
                    }
                },
            }
        }
        // RocksDB's memtable is a skip list that starts each insert from where the previous one
        // ended. Keys in ascending order therefore cost a few steps each, where random entry ids
        // cost a full search, which took a quarter of a 10 M-entry load's CPU time. The sort is
        // stable, so two writes of one key keep their record order.
        entry_writes.sort_by_key(|(key, _)| *key);
        let entries = self.family(ENTRIES);
        for (key, payload) in entry_writes {
            match payload {
                Some(payload) => batch.put_cf(entries, key, payload),
                None => batch.delete_cf(entries, key),
            }
        }
        for (partition, offset) in next_offsets {
            batch.put_cf(
                self.family(OFFSETS),
                partition.to_be_bytes(),
                offset.to_be_bytes(),
            );
        }
        let mut write_options = WriteOptions::default();
        write_options.disable_wal(true);
        self.db.write_opt(batch, &write_options)?;

        // The index changes only after the write is durable, so it never shows an entry the
        // store would forget in a crash.
        let mut index = self
            .index
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        for change in changes {
            match change {
                IndexChange::UpsertEntry(entry) => index.insert(entry),
                IndexChange::UpsertDecodedEntry(key, entry) => {
                    index.insert(indexed_owned(key, &entry));
                }
                IndexChange::RemoveEntry(key) => index.remove(key),
                IndexChange::SetImport(import) => {
                    index.imports.insert(import.list.clone(), import);
                }
                IndexChange::RemoveImport(list) => {
                    index.imports.remove(&list);
                }
            }
        }
        Ok(summary)
    }

    /// Stages the import record of `list`: its latest import, or a tombstone when the list was
    /// removed. The record's key names the list, so a record whose value names another list is
    /// skipped as malformed.
    fn stage_import_record(
        &self,
        batch: &mut WriteBatch,
        changes: &mut Vec<IndexChange<'_>>,
        summary: &mut ApplySummary,
        list: &str,
        record: &HotlistRecord,
    ) {
        let Some(payload) = &record.payload else {
            batch.delete_cf(self.family(LISTS), list.as_bytes());
            changes.push(IndexChange::RemoveImport(list.to_string()));
            summary.imports += 1;
            return;
        };
        match decode::<HotlistImport>(payload) {
            Ok(import) if import.list == list => {
                batch.put_cf(self.family(LISTS), list.as_bytes(), payload);
                changes.push(IndexChange::SetImport(import));
                summary.imports += 1;
            }
            Ok(import) => {
                tracing::warn!(key_list = list, record_list = %import.list, partition = record.partition, offset = record.offset, "skipping hotlist import record whose key names another list");
                summary.undecodable += 1;
            }
            Err(error) => {
                tracing::warn!(%error, partition = record.partition, offset = record.offset, "skipping undecodable hotlist import record");
                summary.undecodable += 1;
            }
        }
    }

    /// Returns the time `list` was last imported, in microseconds since the epoch, or `None`
    /// when the topic contains no import record for it.
    pub fn list_imported_at(&self, list: &str) -> Option<i64> {
        let index = self
            .index
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        index.imports.get(list).map(|import| import.imported_at)
    }

    /// Returns every list that has entries or an import record, by name.
    pub fn list_summaries(&self) -> Vec<ListSummary> {
        let index = self
            .index
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        let mut lists: BTreeMap<&str, ListSummary> = BTreeMap::new();
        for (list, entries) in index.entries_per_list() {
            lists.insert(
                list,
                ListSummary {
                    list: list.to_string(),
                    entries,
                    import: None,
                },
            );
        }
        for (list, import) in &index.imports {
            lists
                .entry(list)
                .or_insert_with(|| ListSummary {
                    list: list.clone(),
                    entries: 0,
                    import: None,
                })
                .import = Some(import.clone());
        }
        lists.into_values().collect()
    }

    /// Returns the entries whose pattern matches the normalised plate of a read, with how each
    /// matched. Costs one hash lookup for a read without `?` plus a check of each wildcard
    /// entry, and one RocksDB read per entry found.
    pub fn entries_for_read(
        &self,
        plate: &str,
    ) -> Result<Vec<(HotlistEntry, PlateMatch)>, StoreError> {
        let found = self
            .index
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .matches(plate);
        self.load_entries(found)
    }

    /// Returns, for each of `plates` in turn, what [`Self::entries_for_read`] returns. The index
    /// is locked once and the plates are looked up back to back, so that the processor can wait
    /// for their cache misses in the index at the same time instead of one after another.
    pub fn entries_for_reads(
        &self,
        plates: &[&str],
    ) -> Result<Vec<Vec<(HotlistEntry, PlateMatch)>>, StoreError> {
        let found: Vec<_> = {
            let index = self
                .index
                .read()
                .unwrap_or_else(|poison| poison.into_inner());
            plates.iter().map(|plate| index.matches(plate)).collect()
        };
        found
            .into_iter()
            .map(|found| self.load_entries(found))
            .collect()
    }

    /// Reads the entries of an index lookup from the entry column family.
    fn load_entries(
        &self,
        found: Vec<(String, PlateMatch)>,
    ) -> Result<Vec<(HotlistEntry, PlateMatch)>, StoreError> {
        let mut entries = Vec::with_capacity(found.len());
        for (entry_id, plate_match) in found {
            // An entry removed since the lookup is simply gone.
            let Some(bytes) = self.db.get_cf(self.family(ENTRIES), entry_id.as_bytes())? else {
                continue;
            };
            let entry = decode(&bytes).map_err(|source| StoreError::CorruptEntry {
                entry_id: entry_id.clone(),
                source,
            })?;
            entries.push((entry, plate_match));
        }
        Ok(entries)
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
            .index
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        index.len()
    }

    /// Reads the RocksDB size, compaction and stall figures of every column family into the
    /// state-store metrics.
    pub fn observe_metrics(&self) {
        crate::metrics::STATE_STORE.observe(&self.db, &FAMILIES);
    }

    /// Flushes the memtables of every column family to disk in one atomic flush, for a clean
    /// shutdown. Without it the writes since the last flush are read again at the next start.
    pub fn flush(&self) -> Result<(), StoreError> {
        let families: Vec<&rocksdb::ColumnFamily> =
            FAMILIES.iter().map(|name| self.family(name)).collect();
        self.db.flush_cfs_opt(&families, &FlushOptions::default())?;
        Ok(())
    }
}

/// Counts of one [`HotlistStore::apply`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ApplySummary {
    pub upserted: usize,
    pub removed: usize,
    /// List import records applied, removals of lists included.
    pub imports: usize,
    pub undecodable: usize,
}

fn indexed<'a>(entry_id: &'a str, view: &HotlistEntryView<'a>) -> IndexedEntry<'a> {
    IndexedEntry {
        entry_id,
        list: view.list,
        plate: view.plate,
        match_policy: view.match_policy,
    }
}

fn indexed_owned<'a>(entry_id: &'a str, entry: &'a HotlistEntry) -> IndexedEntry<'a> {
    IndexedEntry {
        entry_id,
        list: &entry.list,
        plate: &entry.plate,
        match_policy: entry.match_policy,
    }
}
