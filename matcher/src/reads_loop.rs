//! Checks every read on `alpr.reads.v1` against the hotlist and publishes alerts.
//!
//! Delivery is at-least-once: reads are handled in batches, and a batch's offsets are committed
//! only after the broker acknowledged every alert of the batch. A crash between the two re-reads
//! the batch, and its alerts are sent again with the same alert ids, which lets consumers drop
//! the duplicates.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::future::join_all;
use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use alpr_platform::{KafkaSettings, ShutdownToken};
use alpr_schemas::plate::mask_plate;
use alpr_schemas::{decode, encode, CameraRead};

use crate::matching::{build_alert, matching_entries};
use crate::metrics::{
    ALERTS, CAPTURE_TO_ALERT_SECONDS, CONSUMER_LAG, READS, RECEIVE_TO_ALERT_SECONDS,
    UNDECODABLE_READS,
};
use crate::store::HotlistStore;
use crate::{Clock, MatcherSettings};

/// Client context that turns librdkafka's periodic statistics into per-partition lag gauges.
pub struct LagReportingContext {
    topic: String,
}

impl ClientContext for LagReportingContext {
    fn stats(&self, statistics: Statistics) {
        let Some(topic) = statistics.topics.get(&self.topic) else {
            return;
        };
        for (partition, stats) in &topic.partitions {
            // librdkafka reports the internal unassigned partition as -1 and lag as -1 when
            // unknown; neither is a real partition's lag.
            if *partition >= 0 && stats.consumer_lag >= 0 {
                CONSUMER_LAG
                    .with_label_values(&[&partition.to_string()])
                    .set(stats.consumer_lag);
            }
        }
    }
}

impl ConsumerContext for LagReportingContext {}

type ReadsConsumer = StreamConsumer<LagReportingContext>;

/// Errors that stop the matcher. A single bad read never does: it is counted and skipped.
#[derive(Debug, thiserror::Error)]
pub enum ReadsLoopError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
}

pub struct ReadsLoop {
    consumer: ReadsConsumer,
    producer: FutureProducer,
    store: HotlistStore,
    alerts_topic: String,
    settings: MatcherSettings,
    clock: Clock,
}

impl ReadsLoop {
    pub fn connect(
        kafka: &KafkaSettings,
        settings: MatcherSettings,
        store: HotlistStore,
        clock: Clock,
    ) -> Result<Self, ReadsLoopError> {
        let topics = kafka.topics();
        let consumer: ReadsConsumer = kafka
            .client_config()
            .set(
                "group.id",
                format!("{}{}", kafka.topic_prefix, settings.group_id),
            )
            .set("enable.auto.commit", "false")
            // Offsets are stored only for handled batches; a batch cut short by shutdown is
            // read again by the next owner of its partitions.
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed")
            .set("statistics.interval.ms", "5000")
            .create_with_context(LagReportingContext {
                topic: topics.reads.clone(),
            })?;
        consumer.subscribe(&[&topics.reads])?;
        let producer: FutureProducer = kafka
            .client_config()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "1")
            .set("partitioner", "murmur2_random")
            .create()?;
        Ok(Self {
            consumer,
            producer,
            store,
            alerts_topic: topics.alerts,
            settings,
            clock,
        })
    }

    /// Handles batches until `shutdown`. The batch in hand is finished and committed first.
    pub async fn run(&self, shutdown: ShutdownToken) -> Result<(), ReadsLoopError> {
        tracing::info!(group = %self.settings.group_id, "matching reads");
        loop {
            let batch = tokio::select! {
                _ = shutdown.cancelled() => break,
                batch = self.next_batch() => batch?,
            };
            if batch.is_empty() {
                continue;
            }
            self.handle_batch(&batch).await?;
            self.commit(&batch)?;
        }
        self.commit_final();
        tracing::info!("reads loop stopped");
        Ok(())
    }

    /// Waits for one read, then takes what else arrives within the batch wait, up to the
    /// batch size.
    async fn next_batch(&self) -> Result<Vec<BorrowedMessage<'_>>, KafkaError> {
        let mut batch = vec![self.consumer.recv().await?];
        let deadline =
            tokio::time::Instant::now() + Duration::from_millis(self.settings.batch_max_wait_ms);
        while batch.len() < self.settings.batch_max_reads {
            match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Ok(Ok(message)) => batch.push(message),
                Ok(Err(error)) => {
                    tracing::warn!(%error, "reads consume error");
                    break;
                }
                Err(_elapsed) => break,
            }
        }
        Ok(batch)
    }

    async fn handle_batch(&self, batch: &[BorrowedMessage<'_>]) -> Result<(), ReadsLoopError> {
        let mut pending = Vec::new();
        let emitted_at = (self.clock)().timestamp_micros();
        for message in batch {
            // A tombstone is a deleted read, which the retention worker wrote.
            let Some(payload) = message.payload() else {
                continue;
            };
            READS.inc();
            let read: CameraRead = match decode(payload) {
                Ok(read) => read,
                Err(error) => {
                    UNDECODABLE_READS.inc();
                    tracing::warn!(%error, partition = message.partition(), offset = message.offset(), "skipping undecodable read");
                    continue;
                }
            };
            let candidates = self.store.entries_for_plate(&read.plate.normalised);
            if candidates.is_empty() {
                continue;
            }
            for matched in matching_entries(&read, &candidates) {
                let alert = build_alert(&read, &matched, emitted_at);
                tracing::debug!(plate = %mask_plate(&read.plate.normalised), list = %alert.entry.list, "read matched hotlist entry");
                let payload = match encode(&alert) {
                    Ok(payload) => payload,
                    Err(error) => {
                        tracing::error!(%error, read_id = %read.read_id, "cannot encode alert");
                        continue;
                    }
                };
                pending.push((alert, payload));
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        self.publish_alerts(pending).await
    }

    /// Sends alerts and waits for every acknowledgement. Any failure stops the loop before the
    /// batch's offsets are committed, so its reads are handled again after a restart.
    async fn publish_alerts(
        &self,
        pending: Vec<(alpr_schemas::Alert, Vec<u8>)>,
    ) -> Result<(), ReadsLoopError> {
        let deliveries = pending.iter().map(|(alert, payload)| {
            let record = FutureRecord::to(&self.alerts_topic)
                .key(alert.read.plate.normalised.as_bytes())
                .payload(payload);
            self.producer.send(record, Duration::from_secs(30))
        });
        let results = join_all(deliveries).await;
        let acknowledged_at = (self.clock)();
        for ((alert, _), result) in pending.iter().zip(results) {
            if let Err((error, _)) = result {
                tracing::error!(%error, alert_id = %alert.alert_id, "alert not acknowledged, stopping before commit");
                return Err(ReadsLoopError::Kafka(error));
            }
            ALERTS.with_label_values(&[&alert.entry.list]).inc();
            let now = acknowledged_at.timestamp_micros();
            CAPTURE_TO_ALERT_SECONDS.observe(seconds_between(alert.read.captured_at, now));
            RECEIVE_TO_ALERT_SECONDS.observe(seconds_between(alert.read.received_at, now));
        }
        Ok(())
    }

    /// Commits the offset after each partition's last message of the batch.
    fn commit(&self, batch: &[BorrowedMessage<'_>]) -> Result<(), ReadsLoopError> {
        let mut next: HashMap<(String, i32), i64> = HashMap::new();
        for message in batch {
            next.insert(
                (message.topic().to_string(), message.partition()),
                message.offset() + 1,
            );
        }
        let mut offsets = TopicPartitionList::new();
        for ((topic, partition), offset) in next {
            offsets.add_partition_offset(&topic, partition, Offset::Offset(offset))?;
        }
        self.consumer.store_offsets(&offsets)?;
        let started = Instant::now();
        match self.consumer.commit(&offsets, CommitMode::Async) {
            Ok(()) => {}
            // After a rebalance the partition may belong to another instance, which re-reads
            // from the last commit: duplicates, never gaps.
            Err(error) => tracing::warn!(%error, "commit of reads offsets failed"),
        }
        tracing::trace!(
            elapsed_us = started.elapsed().as_micros() as u64,
            "offsets committed"
        );
        Ok(())
    }

    /// Commits the stored offsets of handled batches synchronously, for shutdown.
    fn commit_final(&self) {
        if let Err(error) = self.consumer.commit_consumer_state(CommitMode::Sync) {
            tracing::debug!(%error, "no final commit of reads offsets");
        }
    }
}

fn seconds_between(from_micros: i64, to_micros: i64) -> f64 {
    (to_micros - from_micros).max(0) as f64 / 1e6
}
