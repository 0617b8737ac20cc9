//! Follows the hotlist topic into the [`HotlistStore`].
//!
//! The follower reads every partition of the compacted hotlist topic without a consumer group,
//! from the offsets stored in RocksDB, because every matcher instance needs the whole hotlist.
//! [`HotlistFollower::catch_up`] reads to the end as of start; the matcher checks no read before
//! that, since a partial hotlist would miss alerts. [`HotlistFollower::follow`] then keeps
//! applying changes until shutdown.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use alpr_platform::kafka::watermarks;
use alpr_platform::{KafkaSettings, ShutdownToken};

use crate::store::{HotlistRecord, HotlistStore, StoreError};

/// Most records applied in one RocksDB write batch. The store writes a batch's entries in key
/// order, and the more entries a batch holds, the closer together they land in RocksDB's
/// memtable, which makes a first load of millions of entries cheaper.
const MAX_BATCH: usize = 20_000;

#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("hotlist store: {0}")]
    Store(#[from] StoreError),
    #[error("hotlist topic {topic} did not reach its end within {seconds} s")]
    CatchUpTimedOut { topic: String, seconds: u64 },
}

pub struct HotlistFollower {
    consumer: BaseConsumer,
    store: HotlistStore,
    topic: String,
    /// Next offset to apply per partition (exclusive of what is applied).
    positions: HashMap<i32, i64>,
}

impl HotlistFollower {
    /// Assigns every hotlist partition from the store's offsets, or from the beginning for a
    /// partition the store has not seen.
    pub fn connect(kafka: &KafkaSettings, store: HotlistStore) -> Result<Self, FollowError> {
        let topic = kafka.topics().hotlist;
        let consumer: BaseConsumer = kafka
            .consumer_config()
            .set(
                "group.id",
                format!("{}alpr-matcher-hotlist", kafka.topic_prefix),
            )
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed")
            .create()?;
        let partition_count = alpr_platform::kafka::partition_count(consumer.client(), &topic)?;
        let stored = store.stored_offsets()?;
        let mut assignment = TopicPartitionList::new();
        let mut positions = HashMap::new();
        for partition in 0..partition_count {
            let offset = match stored.get(&partition) {
                Some(&next) => Offset::Offset(next),
                None => Offset::Beginning,
            };
            positions.insert(partition, stored.get(&partition).copied().unwrap_or(0));
            assignment.add_partition_offset(&topic, partition, offset)?;
        }
        consumer.assign(&assignment)?;
        tracing::info!(%topic, partitions = partition_count, resumed = !stored.is_empty(), "hotlist follower assigned");
        Ok(Self {
            consumer,
            store,
            topic,
            positions,
        })
    }

    /// Applies records until every partition reaches the high watermark it had when called.
    /// Blocks the calling thread.
    pub fn catch_up(&mut self, timeout: Duration) -> Result<usize, FollowError> {
        let mut ends = HashMap::new();
        let mut behind = 0;
        for (&partition, &position) in &self.positions {
            let (low, high) = watermarks(self.consumer.client(), &self.topic, partition)?;
            ends.insert(partition, high);
            behind += (high - position.max(low)).max(0);
        }
        // The records still to read are an upper bound of the entries the index gains, and on a
        // compacted topic a close one.
        self.store
            .reserve_entries(usize::try_from(behind).unwrap_or(0));
        let deadline = Instant::now() + timeout;
        let mut applied = 0;
        while !self.reached(&ends)? {
            if Instant::now() > deadline {
                return Err(FollowError::CatchUpTimedOut {
                    topic: self.topic.clone(),
                    seconds: timeout.as_secs(),
                });
            }
            applied += self.apply_next_batch(Duration::from_millis(200))?;
        }
        tracing::info!(
            applied,
            entries = self.store.entry_count(),
            "hotlist caught up"
        );
        Ok(applied)
    }

    /// Returns whether every partition's consumer position has passed `ends`. The position, not the
    /// last record seen, is compared because transaction markers and compacted-away records
    /// leave gaps in the offsets.
    fn reached(&self, ends: &HashMap<i32, i64>) -> Result<bool, FollowError> {
        let position = self.consumer.position()?;
        Ok(ends.iter().all(|(&partition, &end)| {
            let applied = self.positions.get(&partition).copied().unwrap_or(0);
            let consumed = match position
                .find_partition(&self.topic, partition)
                .map(|entry| entry.offset())
            {
                Some(Offset::Offset(offset)) => offset,
                _ => applied,
            };
            applied.max(consumed) >= end
        }))
    }

    /// Keeps applying hotlist changes until `shutdown`. Blocks the calling thread.
    pub fn follow(mut self, shutdown: ShutdownToken) -> Result<(), FollowError> {
        while !shutdown.is_cancelled() {
            if self.apply_next_batch(Duration::from_millis(250))? > 0 {}
        }
        Ok(())
    }

    /// Polls up to one batch of records and applies it in one write. Returns how many records
    /// were applied.
    fn apply_next_batch(&mut self, wait: Duration) -> Result<usize, FollowError> {
        let mut records = Vec::new();
        let mut poll_wait = wait;
        while records.len() < MAX_BATCH {
            match self.consumer.poll(poll_wait) {
                Some(Ok(message)) => records.push(HotlistRecord {
                    partition: message.partition(),
                    offset: message.offset(),
                    key: message.key().map(<[u8]>::to_vec).unwrap_or_default(),
                    payload: message.payload().map(<[u8]>::to_vec),
                }),
                Some(Err(error)) => {
                    tracing::warn!(%error, topic = %self.topic, "hotlist consume error");
                    break;
                }
                None => break,
            }
            // After the first record, take only what is already fetched.
            poll_wait = Duration::ZERO;
        }
        if records.is_empty() {
            return Ok(0);
        }
        let summary = self.store.apply(&records)?;
        for record in &records {
            self.positions.insert(record.partition, record.offset + 1);
        }
        tracing::debug!(
            upserted = summary.upserted,
            removed = summary.removed,
            "hotlist batch applied"
        );
        Ok(records.len())
    }
}

/// Catches `store` up with the hotlist topic once and returns the number of records applied.
/// Used by commands and tests that need the matcher's view of a list without running it.
pub fn sync_store_once(
    kafka: &KafkaSettings,
    store: HotlistStore,
    timeout: Duration,
) -> Result<usize, FollowError> {
    let mut follower = HotlistFollower::connect(kafka, store)?;
    follower.catch_up(timeout)
}
