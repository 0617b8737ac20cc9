//! The retention worker's state in RocksDB: which reads exist, when each was captured, which
//! holds keep which reads, and how far each topic has been read.
//!
//! Column families:
//! - `reads`: packed read id → [`IndexedRead`] (captured-at, partition, organisation, image) in
//!   the binary layout of the `encoding` module. A read id that is the canonical text of a UUID
//!   takes 17 bytes there instead of 36, and any other read id keeps its exact bytes;
//! - `expiry`: captured-at (8 bytes, order-preserving) followed by the packed read id → empty, so
//!   a sweep walks reads oldest first and stops at the first one inside every retention period;
//! - `holds`: hold id → the `EvidenceHold` record exactly as on the holds topic;
//! - `held`: read id as text, a zero byte, hold id → empty, so "is this read held, and by what"
//!   is one prefix scan;
//! - `offsets`: topic tag (`r` reads, `h` holds) and partition (4 bytes, big-endian) → next offset
//!   to read (8 bytes, big-endian). The offset is exclusive: the record at that offset has not
//!   been applied;
//! - `sweep`: the plan of a sweep that has started but not finished, so a restarted worker
//!   completes it instead of counting it twice or not at all;
//! - `cameras`: camera id → [`CameraActivity`] as JSON (its last read and usual gap between
//!   reads), for the silent-camera list;
//! - `images`: read id → image reference, for tombstoned reads whose image is not yet deleted
//!   from the image store. An entry is written once the broker has acknowledged the tombstone and
//!   removed once the image is gone, so a failed delete is retried at the next sweep;
//! - `meta`: `format_version` → the layout version of the families above (4 bytes, big-endian).
//!   A folder with another version, or one written before versions existed, is rejected at
//!   open. Every entry can be rebuilt from the reads and holds topics, so deleting the folder is
//!   the upgrade path.
//!
//! Records and their offsets change in one write batch, so after a crash the index and the
//! offsets agree and each topic is read on from where the index stopped.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use rocksdb::{
    BlockBasedOptions, ColumnFamilyDescriptor, DBCompressionType, IteratorMode, Options,
    SliceTransform, WriteBatch, DB,
};
use serde::{Deserialize, Serialize};

use alpr_schemas::{decode, CameraRead, EvidenceHold};

use crate::camera_activity::CameraActivity;

mod encoding;

use encoding::{decode_indexed_read, encode_indexed_read, read_id_of_key, read_key};

const READS: &str = "reads";
const EXPIRY: &str = "expiry";
const HOLDS: &str = "holds";
const HELD: &str = "held";
const OFFSETS: &str = "offsets";
const SWEEP: &str = "sweep";
const CAMERAS: &str = "cameras";
const IMAGES: &str = "images";
const META: &str = "meta";
const FAMILIES: [&str; 9] = [
    READS, EXPIRY, HOLDS, HELD, OFFSETS, SWEEP, CAMERAS, IMAGES, META,
];

const PENDING_SWEEP_KEY: &[u8] = b"pending";
const FORMAT_VERSION_KEY: &[u8] = b"format_version";
/// Layout version this build writes and reads. Version 1, which had no `meta` family, stored
/// read ids as text and index entries as JSON.
const FORMAT_VERSION: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("rocksdb: {0}")]
    RocksDb(#[from] rocksdb::Error),
    #[error("stored value under {key} cannot be decoded: {message}")]
    Corrupt { key: String, message: String },
    /// The folder was written by another version of the store. Deleting it is safe because the
    /// worker rebuilds it from the topics.
    ///
    /// NOTE: deleting the folder also drops the plan of a sweep that the old worker left
    /// unfinished when it stopped or crashed. The next sweep plans the reads still on the topic
    /// again, but the purge log gets no line for the tombstones the interrupted sweep had sent.
    #[error(
        "state folder has store format {found}, but this version reads only format \
         {FORMAT_VERSION}; stop the retention worker, delete the folder and start the worker \
         again, and it rebuilds the folder from the reads and holds topics"
    )]
    UnsupportedFormat { found: String },
}

/// Topic of a record or an offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceTopic {
    Reads,
    Holds,
}

impl SourceTopic {
    fn tag(self) -> u8 {
        match self {
            Self::Reads => b'r',
            Self::Holds => b'h',
        }
    }
}

/// One record of the reads or holds topic, as the store applies it.
#[derive(Debug, Clone)]
pub struct TopicRecord {
    pub topic: SourceTopic,
    pub partition: i32,
    pub offset: i64,
    pub key: Vec<u8>,
    /// `None` for a tombstone: a deleted read or a released hold.
    pub payload: Option<Vec<u8>>,
}

/// The retention worker's record of a read: enough to decide when it expires and to write its
/// tombstone into the right partition, and nothing a search could use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexedRead {
    /// Microseconds since the Unix epoch, UTC.
    pub captured_at: i64,
    /// Partition of the reads topic that contains the read; its tombstone must go there too, or
    /// compaction would never pair them.
    pub partition: i32,
    pub organisation_id: String,
    pub image_ref: Option<String>,
}

/// A read past its retention period that a sweep will tombstone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedTombstone {
    pub read_id: String,
    pub partition: i32,
    pub image_ref: Option<String>,
}

/// A sweep that has been decided but not yet finished. It is stored before the first tombstone
/// goes out and removed after the purge log has its line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepPlan {
    pub sweep_id: String,
    /// Clock time of the sweep, microseconds since the Unix epoch.
    pub started_at: i64,
    pub tombstones: Vec<PlannedTombstone>,
    /// Reads past their period that a hold kept at planning time.
    pub kept_by_holds: u64,
}

/// Counts of one [`RetentionStore::apply`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ApplySummary {
    pub reads_indexed: usize,
    pub reads_removed: usize,
    pub holds_placed: usize,
    pub holds_released: usize,
    pub undecodable: usize,
}

/// The retention index. Cheap to clone: clones share the database, so the lookup API reads
/// while the worker writes.
#[derive(Clone)]
pub struct RetentionStore {
    db: Arc<DB>,
}

impl RetentionStore {
    /// Opens or creates the store in `path`.
    ///
    /// # Errors
    /// [`StoreError::UnsupportedFormat`] when the folder was written in another layout, including
    /// the layout before format versions. Such a folder is left untouched.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        // Checked before opening, because opening adds the missing `meta` family and an older
        // worker would then fail to open the folder it wrote.
        if let Ok(existing) = DB::list_cf(&Options::default(), path) {
            if !existing.iter().any(|name| name == META) {
                return Err(StoreError::UnsupportedFormat {
                    found: "1 (from before format versions)".into(),
                });
            }
        }
        let families = FAMILIES
            .into_iter()
            .map(|name| ColumnFamilyDescriptor::new(name, family_options(name)));
        let db = DB::open_cf_descriptors(&options, path, families)?;
        let store = Self { db: Arc::new(db) };
        store.check_format_version()?;
        Ok(store)
    }

    /// Checks the stored format version, and stamps the current one on a store without data.
    fn check_format_version(&self) -> Result<(), StoreError> {
        let meta = self.family(META);
        match self.db.get_cf(meta, FORMAT_VERSION_KEY)? {
            Some(bytes) => match <[u8; 4]>::try_from(&bytes[..]).map(u32::from_be_bytes) {
                Ok(FORMAT_VERSION) => Ok(()),
                Ok(found) => Err(StoreError::UnsupportedFormat {
                    found: found.to_string(),
                }),
                Err(_) => Err(StoreError::Corrupt {
                    key: String::from_utf8_lossy(FORMAT_VERSION_KEY).into_owned(),
                    message: format!("format version has {} bytes, expected 4", bytes.len()),
                }),
            },
            // A new folder, or one whose creation stopped before the version was written.
            None if self.holds_no_data()? => {
                let mut write_options = rocksdb::WriteOptions::default();
                write_options.set_sync(true);
                self.db.put_cf_opt(
                    meta,
                    FORMAT_VERSION_KEY,
                    FORMAT_VERSION.to_be_bytes(),
                    &write_options,
                )?;
                Ok(())
            }
            None => Err(StoreError::UnsupportedFormat {
                found: "unknown (data without a format version)".into(),
            }),
        }
    }

    fn holds_no_data(&self) -> Result<bool, StoreError> {
        for family in FAMILIES {
            if let Some(item) = self
                .db
                .iterator_cf(self.family(family), IteratorMode::Start)
                .next()
            {
                item?;
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn family(&self, name: &str) -> &rocksdb::ColumnFamily {
        // Every family is created in `open`, so a missing one is a broken invariant.
        self.db
            .cf_handle(name)
            .unwrap_or_else(|| panic!("column family {name} exists after open"))
    }

    /// Returns the next offset to read per partition of `topic`, for partitions seen before.
    pub fn stored_offsets(&self, topic: SourceTopic) -> Result<HashMap<i32, i64>, StoreError> {
        let mut offsets = HashMap::new();
        let prefix = [topic.tag()];
        for item in self.db.prefix_iterator_cf(self.family(OFFSETS), prefix) {
            let (key, value) = item?;
            if key.first() != Some(&topic.tag()) {
                break;
            }
            if let (Ok(partition), Ok(offset)) = (
                <[u8; 4]>::try_from(&key[1..]),
                <[u8; 8]>::try_from(&value[..]),
            ) {
                offsets.insert(i32::from_be_bytes(partition), i64::from_be_bytes(offset));
            }
        }
        Ok(offsets)
    }

    /// Applies records of both topics and their offsets in one atomic write. A record whose value
    /// cannot be decoded is skipped with a warning and its offset still advances, so one bad
    /// record does not stop retention.
    pub fn apply(&self, records: &[TopicRecord]) -> Result<ApplySummary, StoreError> {
        let mut batch = WriteBatch::default();
        let mut summary = ApplySummary::default();
        // Values written earlier in this batch, which `get` on the database cannot see yet.
        let mut pending_reads: HashMap<Vec<u8>, Option<IndexedRead>> = HashMap::new();
        let mut pending_holds: HashMap<Vec<u8>, Option<Vec<String>>> = HashMap::new();
        let mut next_offsets: HashMap<(SourceTopic, i32), i64> = HashMap::new();
        let mut cameras: HashMap<String, CameraActivity> = HashMap::new();

        for record in records {
            next_offsets.insert((record.topic, record.partition), record.offset + 1);
            match record.topic {
                SourceTopic::Reads => {
                    if let Some(read) =
                        self.apply_read(&mut batch, &mut pending_reads, record, &mut summary)?
                    {
                        self.note_camera_read(&mut cameras, &read)?;
                    }
                }
                SourceTopic::Holds => {
                    self.apply_hold(&mut batch, &mut pending_holds, record, &mut summary)?
                }
            }
        }
        for (camera_id, activity) in &cameras {
            batch.put_cf(
                self.family(CAMERAS),
                camera_id.as_bytes(),
                to_json(activity),
            );
        }
        for ((topic, partition), offset) in next_offsets {
            let mut key = vec![topic.tag()];
            key.extend_from_slice(&partition.to_be_bytes());
            batch.put_cf(self.family(OFFSETS), key, offset.to_be_bytes());
        }
        self.db.write(batch)?;
        Ok(summary)
    }

    /// Stages one record of the reads topic. Returns the read when it was indexed.
    fn apply_read(
        &self,
        batch: &mut WriteBatch,
        pending: &mut HashMap<Vec<u8>, Option<IndexedRead>>,
        record: &TopicRecord,
        summary: &mut ApplySummary,
    ) -> Result<Option<CameraRead>, StoreError> {
        let stored_key = read_key(&record.key);
        let previous = match pending.get(&record.key) {
            Some(value) => value.clone(),
            None => self.indexed_read_by_key(&stored_key)?,
        };
        // A re-sent read replaces the earlier copy, whose captured-at may differ.
        if let Some(previous) = &previous {
            batch.delete_cf(
                self.family(EXPIRY),
                expiry_key(previous.captured_at, &stored_key),
            );
        }
        let Some(payload) = &record.payload else {
            if previous.is_some() {
                batch.delete_cf(self.family(READS), &stored_key);
                summary.reads_removed += 1;
            }
            pending.insert(record.key.clone(), None);
            return Ok(None);
        };
        let read = match decode::<CameraRead>(payload) {
            Ok(read) => read,
            Err(error) => {
                tracing::warn!(%error, partition = record.partition, offset = record.offset, "skipping undecodable read");
                summary.undecodable += 1;
                // The earlier copy stays indexed, so it still expires on time.
                if let Some(previous) = previous {
                    batch.put_cf(
                        self.family(EXPIRY),
                        expiry_key(previous.captured_at, &stored_key),
                        [],
                    );
                }
                return Ok(None);
            }
        };
        let indexed = IndexedRead {
            captured_at: read.captured_at,
            partition: record.partition,
            organisation_id: read.organisation_id.clone(),
            image_ref: read.image_ref.clone(),
        };
        batch.put_cf(
            self.family(READS),
            &stored_key,
            encode_indexed_read(&indexed),
        );
        batch.put_cf(
            self.family(EXPIRY),
            expiry_key(indexed.captured_at, &stored_key),
            [],
        );
        pending.insert(record.key.clone(), Some(indexed));
        summary.reads_indexed += 1;
        Ok(Some(read))
    }

    /// Takes a read into its camera's activity, staged in `cameras` until the batch is written.
    fn note_camera_read(
        &self,
        cameras: &mut HashMap<String, CameraActivity>,
        read: &CameraRead,
    ) -> Result<(), StoreError> {
        if let Some(activity) = cameras.get_mut(&read.camera_id) {
            activity.record_read(read.received_at);
            return Ok(());
        }
        let activity = match self
            .db
            .get_cf(self.family(CAMERAS), read.camera_id.as_bytes())?
        {
            Some(bytes) => {
                let mut activity: CameraActivity = from_json(read.camera_id.as_bytes(), &bytes)?;
                activity.record_read(read.received_at);
                activity
            }
            None => CameraActivity::first_read(&read.organisation_id, read.received_at),
        };
        cameras.insert(read.camera_id.clone(), activity);
        Ok(())
    }

    /// Returns the activity of every camera that has sent a read, by camera id.
    pub fn camera_activities(&self) -> Result<Vec<(String, CameraActivity)>, StoreError> {
        let mut cameras = Vec::new();
        for item in self
            .db
            .iterator_cf(self.family(CAMERAS), IteratorMode::Start)
        {
            let (key, value) = item?;
            cameras.push((
                String::from_utf8_lossy(&key).into_owned(),
                from_json(&key, &value)?,
            ));
        }
        Ok(cameras)
    }

    fn apply_hold(
        &self,
        batch: &mut WriteBatch,
        pending: &mut HashMap<Vec<u8>, Option<Vec<String>>>,
        record: &TopicRecord,
        summary: &mut ApplySummary,
    ) -> Result<(), StoreError> {
        let previous_read_ids = match pending.get(&record.key) {
            Some(value) => value.clone(),
            None => self.hold_by_key(&record.key)?.map(|hold| hold.read_ids),
        };
        let decoded = match &record.payload {
            None => None,
            Some(payload) => match decode::<EvidenceHold>(payload) {
                Ok(hold) => Some((hold, payload)),
                Err(error) => {
                    // Keeping the earlier version of the hold is the safe side: it can only
                    // keep reads longer, never delete one that a case needs.
                    tracing::warn!(%error, partition = record.partition, offset = record.offset, "skipping undecodable evidence hold");
                    summary.undecodable += 1;
                    return Ok(());
                }
            },
        };
        for read_id in previous_read_ids.iter().flatten() {
            batch.delete_cf(self.family(HELD), held_key(read_id, &record.key));
        }
        match decoded {
            None => {
                batch.delete_cf(self.family(HOLDS), &record.key);
                pending.insert(record.key.clone(), None);
                summary.holds_released += 1;
            }
            Some((hold, payload)) => {
                batch.put_cf(self.family(HOLDS), &record.key, payload);
                for read_id in &hold.read_ids {
                    batch.put_cf(self.family(HELD), held_key(read_id, &record.key), []);
                }
                pending.insert(record.key.clone(), Some(hold.read_ids));
                summary.holds_placed += 1;
            }
        }
        Ok(())
    }

    /// Returns the indexed read under `stored_key`, a read id as [`read_key`] packs it.
    fn indexed_read_by_key(&self, stored_key: &[u8]) -> Result<Option<IndexedRead>, StoreError> {
        match self.db.get_cf(self.family(READS), stored_key)? {
            None => Ok(None),
            Some(bytes) => decode_indexed_read(&bytes)
                .map(Some)
                .map_err(|message| corrupt_read_entry(stored_key, message)),
        }
    }

    fn hold_by_key(&self, key: &[u8]) -> Result<Option<EvidenceHold>, StoreError> {
        match self.db.get_cf(self.family(HOLDS), key)? {
            None => Ok(None),
            Some(bytes) => decode(&bytes)
                .map(Some)
                .map_err(|error| StoreError::Corrupt {
                    key: String::from_utf8_lossy(key).into_owned(),
                    message: error.to_string(),
                }),
        }
    }

    /// Returns the indexed read with this id, or `None` when the read was never seen or has
    /// been tombstoned.
    pub fn read(&self, read_id: &str) -> Result<Option<IndexedRead>, StoreError> {
        self.indexed_read_by_key(&read_key(read_id.as_bytes()))
    }

    /// Returns the hold with this id, or `None` when it was never placed or has been released.
    pub fn hold(&self, hold_id: &str) -> Result<Option<EvidenceHold>, StoreError> {
        self.hold_by_key(hold_id.as_bytes())
    }

    /// Returns the ids of the holds that keep `read_id`, in hold id order.
    pub fn holds_on(&self, read_id: &str) -> Result<Vec<String>, StoreError> {
        let mut prefix = read_id.as_bytes().to_vec();
        prefix.push(0);
        let mut hold_ids = Vec::new();
        for item in self.db.prefix_iterator_cf(self.family(HELD), &prefix) {
            let (key, _) = item?;
            let Some(hold_id) = key.strip_prefix(prefix.as_slice()) else {
                break;
            };
            hold_ids.push(String::from_utf8_lossy(hold_id).into_owned());
        }
        Ok(hold_ids)
    }

    /// Returns whether at least one hold keeps `read_id`.
    pub fn is_held(&self, read_id: &str) -> Result<bool, StoreError> {
        Ok(!self.holds_on(read_id)?.is_empty())
    }

    /// Returns the reads captured before `cutoff` (microseconds since the epoch), oldest first.
    pub fn reads_captured_before(
        &self,
        cutoff: i64,
    ) -> Result<Vec<(String, IndexedRead)>, StoreError> {
        let mut found = Vec::new();
        for item in self
            .db
            .iterator_cf(self.family(EXPIRY), IteratorMode::Start)
        {
            let (key, _) = item?;
            let (captured_at, stored_key) = split_expiry_key(&key)?;
            if captured_at >= cutoff {
                break;
            }
            if let Some(read) = self.indexed_read_by_key(stored_key)? {
                found.push((read_id_text(stored_key)?, read));
            }
        }
        Ok(found)
    }

    /// Returns the captured-at of the oldest read under no hold, or `None` when every indexed
    /// read is held. Walks held reads at the front of the index, which stay few.
    pub fn oldest_unheld_captured_at(&self) -> Result<Option<i64>, StoreError> {
        for item in self
            .db
            .iterator_cf(self.family(EXPIRY), IteratorMode::Start)
        {
            let (key, _) = item?;
            let (captured_at, stored_key) = split_expiry_key(&key)?;
            if !self.is_held(&read_id_text(stored_key)?)? {
                return Ok(Some(captured_at));
            }
        }
        Ok(None)
    }

    /// Returns the unfinished sweep, if the worker stopped during one.
    pub fn pending_sweep(&self) -> Result<Option<SweepPlan>, StoreError> {
        match self.db.get_cf(self.family(SWEEP), PENDING_SWEEP_KEY)? {
            None => Ok(None),
            Some(bytes) => from_json(PENDING_SWEEP_KEY, &bytes).map(Some),
        }
    }

    /// Stores `plan` as the unfinished sweep, durably, before its first tombstone goes out.
    pub fn save_pending_sweep(&self, plan: &SweepPlan) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.family(SWEEP), PENDING_SWEEP_KEY, to_json(plan));
        let mut write_options = rocksdb::WriteOptions::default();
        write_options.set_sync(true);
        self.db.write_opt(batch, &write_options)?;
        Ok(())
    }

    /// Forgets the unfinished sweep once it is complete.
    pub fn clear_pending_sweep(&self) -> Result<(), StoreError> {
        self.db.delete_cf(self.family(SWEEP), PENDING_SWEEP_KEY)?;
        Ok(())
    }

    /// Records images to delete: pairs of read id and image reference of reads whose tombstones
    /// the broker has acknowledged.
    pub fn add_pending_image_deletions(
        &self,
        images: &[(String, String)],
    ) -> Result<(), StoreError> {
        if images.is_empty() {
            return Ok(());
        }
        let mut batch = WriteBatch::default();
        for (read_id, image_ref) in images {
            batch.put_cf(self.family(IMAGES), read_id, image_ref);
        }
        self.db.write(batch)?;
        Ok(())
    }

    /// Returns up to `limit` images still to delete, as pairs of read id and image reference.
    pub fn pending_image_deletions(
        &self,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut found = Vec::new();
        for item in self
            .db
            .iterator_cf(self.family(IMAGES), IteratorMode::Start)
            .take(limit)
        {
            let (key, value) = item?;
            found.push((
                String::from_utf8_lossy(&key).into_owned(),
                String::from_utf8_lossy(&value).into_owned(),
            ));
        }
        Ok(found)
    }

    /// Forgets the pending image deletions of these reads, once their images are gone.
    pub fn remove_pending_image_deletions(&self, read_ids: &[String]) -> Result<(), StoreError> {
        if read_ids.is_empty() {
            return Ok(());
        }
        let mut batch = WriteBatch::default();
        for read_id in read_ids {
            batch.delete_cf(self.family(IMAGES), read_id);
        }
        self.db.write(batch)?;
        Ok(())
    }

    /// Returns how many images are still to delete. Walks the whole family, which stays small
    /// unless the image store is failing.
    pub fn count_pending_image_deletions(&self) -> Result<usize, StoreError> {
        let mut count = 0;
        for item in self
            .db
            .iterator_cf(self.family(IMAGES), IteratorMode::Start)
        {
            item?;
            count += 1;
        }
        Ok(count)
    }

    /// Reads the RocksDB size, compaction and stall figures of every column family into the
    /// state-store metrics.
    pub fn observe_metrics(&self) {
        crate::metrics::STATE_STORE.observe(&self.db, &FAMILIES);
    }

    /// Flushes memtables to disk, for a clean shutdown.
    pub fn flush(&self) -> Result<(), StoreError> {
        for family in FAMILIES {
            self.db.flush_cf(self.family(family))?;
        }
        Ok(())
    }

    /// Compacts every column family into its bottom level, so the files on disk contain only
    /// live data. Measurements of the state size call it; the worker leaves compaction to RocksDB.
    pub fn compact(&self) -> Result<(), StoreError> {
        self.flush()?;
        for family in FAMILIES {
            self.db
                .compact_range_cf(self.family(family), None::<&[u8]>, None::<&[u8]>);
        }
        Ok(())
    }
}

/// Returns the options of one column family, chosen for how the store reads it.
fn family_options(family: &str) -> Options {
    let mut options = Options::default();
    // LZ4 is the only codec the workspace enables in the `rocksdb` crate. It shrinks the
    // repeated organisation ids and time stamps at little CPU cost.
    options.set_compression_type(DBCompressionType::Lz4);
    options.set_bottommost_compression_type(DBCompressionType::Lz4);
    match family {
        // Every applied read looks up its id here first. A new read is a miss, which the bloom
        // filter detects without reading a block, at 10 bits (1.25 bytes) per read.
        READS => {
            let mut table = BlockBasedOptions::default();
            table.set_bloom_filter(10.0, false);
            options.set_block_based_table_factory(&table);
        }
        // Only prefix scans by read id, so the filter is built over that prefix.
        HELD => {
            options.set_prefix_extractor(SliceTransform::create(
                "alpr.retention.held_read_id",
                held_key_read_id,
                Some(held_key_has_read_id),
            ));
            let mut table = BlockBasedOptions::default();
            table.set_bloom_filter(10.0, false);
            table.set_whole_key_filtering(false);
            options.set_block_based_table_factory(&table);
        }
        // `expiry` is only walked in order, so a filter would cost space without use. The other
        // families stay small.
        _ => {}
    }
    options
}

/// Returns the read id part of a `held` key: everything up to and including the first zero byte.
fn held_key_read_id(key: &[u8]) -> &[u8] {
    match key.iter().position(|&byte| byte == 0) {
        Some(end) => &key[..=end],
        None => key,
    }
}

fn held_key_has_read_id(key: &[u8]) -> bool {
    key.contains(&0)
}

/// Returns the read id text of a packed read id, as the lookup API and the tombstones use it.
fn read_id_text(stored_key: &[u8]) -> Result<String, StoreError> {
    let read_id =
        read_id_of_key(stored_key).map_err(|message| corrupt_read_entry(stored_key, message))?;
    Ok(String::from_utf8_lossy(&read_id).into_owned())
}

fn corrupt_read_entry(stored_key: &[u8], message: String) -> StoreError {
    StoreError::Corrupt {
        key: format!("read key {stored_key:02x?}"),
        message,
    }
}

/// Builds an expiry key whose byte order is captured-at order: flipping the sign bit turns a
/// signed big-endian number into one that sorts like an unsigned one.
fn expiry_key(captured_at: i64, read_id: &[u8]) -> Vec<u8> {
    let mut key = ((captured_at as u64) ^ (1 << 63)).to_be_bytes().to_vec();
    key.extend_from_slice(read_id);
    key
}

fn split_expiry_key(key: &[u8]) -> Result<(i64, &[u8]), StoreError> {
    let corrupt = || StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        message: "expiry key shorter than 8 bytes".into(),
    };
    let (time, read_id) = key.split_at_checked(8).ok_or_else(corrupt)?;
    let time = <[u8; 8]>::try_from(time).map_err(|_| corrupt())?;
    Ok(((u64::from_be_bytes(time) ^ (1 << 63)) as i64, read_id))
}

fn held_key(read_id: &str, hold_key: &[u8]) -> Vec<u8> {
    let mut key = read_id.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(hold_key);
    key
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain structs cannot fail: they hold only strings and numbers.
    serde_json::to_vec(value)
        .unwrap_or_else(|error| panic!("cannot serialise store value: {error}"))
}

fn from_json<T: serde::de::DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|error| StoreError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        message: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn expiry_keys_sort_by_captured_at() {
        let times = [-5_000_000_i64, -1, 0, 1, 1_633_000_000_000_000];
        let keys: Vec<Vec<u8>> = times.iter().map(|&t| expiry_key(t, b"id")).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        for (&time, key) in times.iter().zip(&keys) {
            assert_eq!(split_expiry_key(key).unwrap(), (time, &b"id"[..]));
        }
    }
}
