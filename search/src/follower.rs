//! Keeps the read index in step with `alpr.reads.v1`.
//!
//! The follower assigns itself every partition of the reads topic (no consumer group
//! rebalancing: each search instance indexes the whole topic) from the offsets stored in the
//! index's last commit, or from the beginning for a new index. A read is added after deleting any
//! indexed read with its id, so a re-delivered read appears once. A tombstone deletes by its key,
//! which is the read id. Every commit of the index carries the next offset of each partition in its
//! payload, so the index and its offsets always agree: after a crash, the reads of the lost
//! uncommitted changes are consumed again from the stored offsets.
//!
//! Kafka's own committed offsets are not used, because they could run ahead of the index.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use alpr_platform::kafka::watermarks;
use alpr_platform::{KafkaSettings, ShutdownToken};
use alpr_schemas::{decode, CameraRead};

use crate::index::{IndexError, ReadIndex, StoredOffsets, DEFAULT_WRITER_MEMORY_BYTES};
use crate::metrics::{COMMIT_SECONDS, READS_INDEXED, TOMBSTONES_APPLIED, UNDECODABLE_RECORDS};
use crate::query::SearchLimits;
use crate::search::SearchHandle;

/// Most records taken from the consumer for one batch.
const MAX_BATCH: usize = 1_000;

/// Settings of the follower.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FollowerSettings {
    /// Folder of the Tantivy index; created when missing.
    pub index_dir: PathBuf,
    /// Commit after this many records since the last commit.
    pub commit_every_records: usize,
    /// Commit at least this often while records arrive, in milliseconds. Searches see new reads
    /// and deletions only after a commit, so this bounds how stale results are.
    pub commit_interval_ms: u64,
    /// Memory budget of the index writer in bytes, for all its threads.
    pub writer_memory_bytes: usize,
    /// Maximum wait of [`ReadsFollower::catch_up`], in seconds.
    pub catch_up_timeout_seconds: u64,
}

impl Default for FollowerSettings {
    fn default() -> Self {
        Self {
            index_dir: PathBuf::from("data/search-index"),
            commit_every_records: 50_000,
            commit_interval_ms: 1_000,
            writer_memory_bytes: DEFAULT_WRITER_MEMORY_BYTES,
            catch_up_timeout_seconds: 600,
        }
    }
}

/// Errors that stop the follower. A single undecodable record never does: it is counted and
/// skipped.
#[derive(Debug, thiserror::Error)]
pub enum FollowerError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("search index did not catch up with {topic} within {seconds} s")]
    CatchUpTimedOut { topic: String, seconds: u64 },
}

/// Consumes the reads topic into a [`ReadIndex`].
pub struct ReadsFollower {
    consumer: BaseConsumer,
    index: ReadIndex,
    topic: String,
    /// Next offset per partition after the records applied to the index, committed or not.
    positions: BTreeMap<i32, i64>,
    /// Records applied since the last commit.
    uncommitted: usize,
    last_commit: Instant,
    settings: FollowerSettings,
}

impl ReadsFollower {
    /// Opens the index and assigns every partition of the reads topic from the stored offsets.
    ///
    /// NOTE: partitions added to the topic later are followed only after a restart.
    pub fn connect(
        settings: &FollowerSettings,
        kafka: &KafkaSettings,
    ) -> Result<Self, FollowerError> {
        let index = ReadIndex::open(&settings.index_dir, settings.writer_memory_bytes)?;
        let topic = kafka.topics().reads;
        let stored = index.stored_offsets(&topic)?;
        let consumer: BaseConsumer = kafka
            .consumer_config()
            .set("group.id", format!("{}alpr-search", kafka.topic_prefix))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .create()?;
        let count = alpr_platform::kafka::partition_count(consumer.client(), &topic)?;
        let mut assignment = TopicPartitionList::new();
        let mut positions = BTreeMap::new();
        for partition in 0..count {
            let next = stored.next_offsets.get(&partition).copied();
            let offset = next.map_or(Offset::Beginning, Offset::Offset);
            assignment.add_partition_offset(&topic, partition, offset)?;
            positions.insert(partition, next.unwrap_or(0));
        }
        consumer.assign(&assignment)?;
        tracing::info!(
            topic = %topic,
            partitions = count,
            indexed_reads = index.read_count(),
            "search index follower assigned"
        );
        Ok(Self {
            consumer,
            index,
            topic,
            positions,
            uncommitted: 0,
            last_commit: Instant::now(),
            settings: settings.clone(),
        })
    }

    /// Returns a search handle on the follower's index.
    pub fn search_handle(&self, limits: SearchLimits) -> SearchHandle {
        self.index.search_handle(limits)
    }

    /// Returns the offsets of the records applied so far, as the next commit stores them.
    pub fn positions(&self) -> StoredOffsets {
        StoredOffsets {
            topic: self.topic.clone(),
            next_offsets: self.positions.clone(),
        }
    }

    /// Applies records until every partition reaches the high watermark it had when called,
    /// then commits. Returns how many records were applied.
    pub fn catch_up(&mut self) -> Result<usize, FollowerError> {
        let mut ends = HashMap::new();
        for &partition in self.positions.keys() {
            let (_, high) = watermarks(self.consumer.client(), &self.topic, partition)?;
            ends.insert(partition, high);
        }
        let timeout = Duration::from_secs(self.settings.catch_up_timeout_seconds);
        let deadline = Instant::now() + timeout;
        let mut applied = 0;
        while self.is_behind(&ends)? {
            if Instant::now() > deadline {
                return Err(FollowerError::CatchUpTimedOut {
                    topic: self.topic.clone(),
                    seconds: timeout.as_secs(),
                });
            }
            applied += self.apply_next_batch(Duration::from_millis(200))?;
        }
        self.commit()?;
        Ok(applied)
    }

    /// Returns true while a partition's position is before its end in `ends`. The consumer
    /// position counts too, because compacted-away records leave gaps in the offsets.
    fn is_behind(&self, ends: &HashMap<i32, i64>) -> Result<bool, FollowerError> {
        let position = self.consumer.position()?;
        for (&partition, &end) in ends {
            let applied = self.positions.get(&partition).copied().unwrap_or(0);
            let consumed = match position
                .find_partition(&self.topic, partition)
                .map(|entry| entry.offset())
            {
                Some(Offset::Offset(offset)) => offset,
                _ => applied,
            };
            if applied.max(consumed) < end {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Follows the topic until `shutdown`, committing every
    /// [`FollowerSettings::commit_every_records`] records or
    /// [`FollowerSettings::commit_interval_ms`], and once more before returning.
    pub fn run(mut self, shutdown: ShutdownToken) -> Result<(), FollowerError> {
        tracing::info!(
            commit_every_records = self.settings.commit_every_records,
            commit_interval_ms = self.settings.commit_interval_ms,
            "search index follower running"
        );
        let interval = Duration::from_millis(self.settings.commit_interval_ms);
        while !shutdown.is_cancelled() {
            self.apply_next_batch(Duration::from_millis(200))?;
            let due = self.uncommitted >= self.settings.commit_every_records
                || self.last_commit.elapsed() >= interval;
            if due && self.uncommitted > 0 {
                self.commit()?;
            }
        }
        self.commit()?;
        tracing::info!(topic = %self.topic, "search index follower stopped");
        Ok(())
    }

    /// Commits the index with the current positions, even when nothing changed, so a new index
    /// records that it follows this topic.
    pub fn commit(&mut self) -> Result<(), FollowerError> {
        let started = Instant::now();
        self.index.commit(&self.positions())?;
        COMMIT_SECONDS.observe(started.elapsed().as_secs_f64());
        tracing::debug!(records = self.uncommitted, "search index committed");
        self.uncommitted = 0;
        self.last_commit = Instant::now();
        Ok(())
    }

    /// Polls up to one batch and applies it to the index without committing. Returns how many
    /// records were applied.
    fn apply_next_batch(&mut self, wait: Duration) -> Result<usize, FollowerError> {
        let mut applied = 0;
        let mut poll_wait = wait;
        while applied < MAX_BATCH {
            match self.consumer.poll(poll_wait) {
                Some(Ok(message)) => {
                    apply_record(&mut self.index, &self.topic, &message)?;
                    self.positions
                        .insert(message.partition(), message.offset() + 1);
                    applied += 1;
                }
                Some(Err(error)) => {
                    tracing::warn!(topic = %self.topic, %error, "search index consume error");
                    break;
                }
                None => break,
            }
            // After the first record, take only what is already fetched.
            poll_wait = Duration::ZERO;
        }
        self.uncommitted += applied;
        Ok(applied)
    }
}

/// Applies one record of the reads topic to the index without committing.
fn apply_record(
    index: &mut ReadIndex,
    topic: &str,
    message: &BorrowedMessage<'_>,
) -> Result<(), FollowerError> {
    let Some(payload) = message.payload() else {
        match message.key().map(std::str::from_utf8) {
            Some(Ok(read_id)) => {
                index.delete(read_id);
                TOMBSTONES_APPLIED.inc();
            }
            _ => skip_undecodable(topic, message, "tombstone key is not a UTF-8 read id"),
        }
        return Ok(());
    };
    match decode::<CameraRead>(payload) {
        Ok(read) => {
            index.upsert(&read)?;
            READS_INDEXED.inc();
        }
        Err(error) => skip_undecodable(topic, message, &error.to_string()),
    }
    Ok(())
}

fn skip_undecodable(topic: &str, message: &BorrowedMessage<'_>, reason: &str) {
    UNDECODABLE_RECORDS.inc();
    tracing::debug!(
        topic,
        partition = message.partition(),
        offset = message.offset(),
        reason,
        "skipped undecodable record"
    );
}
