//! The retention worker's loop: follow the reads and holds topics into the index, and sweep.
//!
//! Everything here blocks the calling thread (librdkafka's base consumer, RocksDB, waiting for
//! delivery reports), so async callers run it in `spawn_blocking`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::SecondsFormat;
use futures::future::join_all;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

use alpr_audit::{AuditError, AuditWriter};
use alpr_images::ImageStore;
use alpr_platform::kafka::watermarks;
use alpr_platform::{KafkaSettings, ShutdownToken};
use alpr_schemas::{AuditAction, AuditEvent};

use crate::image_deletion::{self, ImageDeletions};
use crate::metrics::{
    CONSUMER_LAG, EXPIRED_READS_HELD, OLDEST_UNHELD_READ_AGE, SWEEP_DURATION, TOMBSTONES_WRITTEN,
    UNDECODABLE_RECORDS,
};
use crate::policy::{plan_sweep, RetentionPolicy};
use crate::purge_log::{PurgeLog, PurgeLogError, PurgeRecord};
use crate::store::{
    PlannedTombstone, RetentionStore, SourceTopic, StoreError, SweepPlan, TopicRecord,
};
use crate::{Clock, RetentionSettings};

/// Most records applied in one RocksDB write batch.
const MAX_BATCH: usize = 5_000;
/// Maximum number of tombstones in flight at once. Each chunk is acknowledged before the next
/// is sent.
const MAX_CHUNK: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("retention index at {path}: {source}")]
    Open { path: String, source: StoreError },
    #[error("retention index: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    PurgeLog(#[from] PurgeLogError),
    #[error("audit event of the sweep: {0}")]
    Audit(#[from] AuditError),
    #[error("topic {topic} did not reach its end within {seconds} s")]
    CatchUpTimedOut { topic: String, seconds: u64 },
    #[error("tombstone for read {read_id} not acknowledged: {source}")]
    TombstoneNotAcknowledged { read_id: String, source: KafkaError },
}

/// Outcome of a call to [`RetentionWorker::sweep`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SweepOutcome {
    Completed(SweepReport),
    /// Shutdown came during the sweep. Its plan stays stored and the next start completes it.
    Interrupted,
}

/// Counts of one completed sweep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Reads tombstoned, those of a resumed unfinished sweep included.
    pub tombstoned: u64,
    /// Reads past their period that holds kept.
    pub kept_by_holds: u64,
    /// Whether an unfinished sweep of an earlier run was completed first.
    pub resumed_unfinished: bool,
    /// Images of tombstoned reads deleted, those left pending by earlier sweeps included.
    pub images_deleted: u64,
    /// Image deletions that failed and stay pending for the next sweep.
    pub image_delete_failures: u64,
}

impl SweepReport {
    fn add_images(&mut self, images: ImageDeletions) {
        self.images_deleted += images.deleted;
        self.image_delete_failures += images.failed;
    }
}

pub struct RetentionWorker {
    consumer: BaseConsumer,
    producer: FutureProducer,
    store: RetentionStore,
    purge_log: PurgeLog,
    /// Records each sweep that tombstoned reads as a `READS_DELETED` event on the audit topic.
    audit: AuditWriter,
    policy: RetentionPolicy,
    clock: Clock,
    reads_topic: String,
    holds_topic: String,
    /// Next offset to apply per topic and partition (exclusive of what is applied).
    positions: HashMap<(SourceTopic, i32), i64>,
    sweep_interval: Duration,
    max_tombstones_per_second: u32,
    catch_up_timeout: Duration,
    /// Image store of the reads' images; `None` leaves their deletions pending in the index.
    images: Option<ImageStore>,
}

impl RetentionWorker {
    /// Opens the index and the purge log and assigns every partition of the reads and holds
    /// topics, from the offsets stored in the index or from the beginning.
    pub fn connect(
        settings: &RetentionSettings,
        kafka: &KafkaSettings,
        clock: Clock,
    ) -> Result<Self, WorkerError> {
        let store =
            RetentionStore::open(&settings.state_dir).map_err(|source| WorkerError::Open {
                path: settings.state_dir.display().to_string(),
                source,
            })?;
        let purge_log = PurgeLog::open(&settings.purge_log)?;
        let topics = kafka.topics();
        let consumer: BaseConsumer = kafka
            .consumer_config()
            .set("group.id", format!("{}alpr-retention", kafka.topic_prefix))
            .set("enable.auto.commit", "false")
            // Holds are written in transactions together with their audit event.
            .set("isolation.level", "read_committed")
            .create()?;
        let mut assignment = TopicPartitionList::new();
        let mut positions = HashMap::new();
        for (kind, topic) in [
            (SourceTopic::Reads, &topics.reads),
            (SourceTopic::Holds, &topics.holds),
        ] {
            let stored = store.stored_offsets(kind)?;
            let count = alpr_platform::kafka::partition_count(consumer.client(), topic)?;
            for partition in 0..count {
                let offset = match stored.get(&partition) {
                    Some(&next) => Offset::Offset(next),
                    None => Offset::Beginning,
                };
                positions.insert(
                    (kind, partition),
                    stored.get(&partition).copied().unwrap_or(0),
                );
                assignment.add_partition_offset(topic, partition, offset)?;
            }
        }
        consumer.assign(&assignment)?;
        let producer: FutureProducer = kafka
            .client_config()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .create()?;
        let audit = AuditWriter::new(kafka, "retention")?;
        tracing::info!(reads_topic = %topics.reads, holds_topic = %topics.holds, "retention worker assigned");
        Ok(Self {
            consumer,
            producer,
            store,
            purge_log,
            audit,
            policy: settings.policy(),
            clock,
            reads_topic: topics.reads,
            holds_topic: topics.holds,
            positions,
            sweep_interval: Duration::from_secs(settings.sweep_interval_seconds),
            max_tombstones_per_second: settings.max_tombstones_per_second,
            catch_up_timeout: Duration::from_secs(settings.catch_up_timeout_seconds),
            images: None,
        })
    }

    /// Deletes the images of tombstoned reads from `images`. Without an image store, their
    /// deletions stay pending in the index until a worker with one runs.
    pub fn with_image_store(mut self, images: ImageStore) -> Self {
        self.images = Some(images);
        self
    }

    /// Returns a handle on the index, which the lookup API and tests read.
    pub fn store(&self) -> RetentionStore {
        self.store.clone()
    }

    /// Applies records until every partition of both topics reaches the high watermark it had
    /// when called, and reports the lag found at the start.
    pub fn catch_up(&mut self) -> Result<usize, WorkerError> {
        let mut ends = HashMap::new();
        for (&(kind, partition), &applied) in &self.positions {
            let (_, high) = watermarks(self.consumer.client(), self.topic_name(kind), partition)?;
            ends.insert((kind, partition), high);
            CONSUMER_LAG
                .with_label_values(&[kind_label(kind), &partition.to_string()])
                .set((high - applied).max(0));
        }
        let deadline = Instant::now() + self.catch_up_timeout;
        let mut applied = 0;
        while let Some(kind) = self.first_behind(&ends)? {
            if Instant::now() > deadline {
                return Err(WorkerError::CatchUpTimedOut {
                    topic: self.topic_name(kind).to_string(),
                    seconds: self.catch_up_timeout.as_secs(),
                });
            }
            applied += self.apply_next_batch(Duration::from_millis(200))?;
        }
        self.store.observe_metrics();
        Ok(applied)
    }

    fn topic_name(&self, kind: SourceTopic) -> &str {
        match kind {
            SourceTopic::Reads => &self.reads_topic,
            SourceTopic::Holds => &self.holds_topic,
        }
    }

    /// Returns a topic with a partition whose position has not reached `ends`. The consumer
    /// position is compared too, not only the last applied record, because transaction markers
    /// and compacted-away records leave gaps in the offsets.
    fn first_behind(
        &self,
        ends: &HashMap<(SourceTopic, i32), i64>,
    ) -> Result<Option<SourceTopic>, WorkerError> {
        let position = self.consumer.position()?;
        for (&(kind, partition), &end) in ends {
            let applied = self.positions.get(&(kind, partition)).copied().unwrap_or(0);
            let consumed = match position
                .find_partition(self.topic_name(kind), partition)
                .map(|entry| entry.offset())
            {
                Some(Offset::Offset(offset)) => offset,
                _ => applied,
            };
            if applied.max(consumed) < end {
                return Ok(Some(kind));
            }
        }
        Ok(None)
    }

    /// Polls up to one batch of records of both topics and applies it in one write. Returns how
    /// many records were applied.
    fn apply_next_batch(&mut self, wait: Duration) -> Result<usize, WorkerError> {
        let mut records = Vec::new();
        let mut poll_wait = wait;
        while records.len() < MAX_BATCH {
            match self.consumer.poll(poll_wait) {
                Some(Ok(message)) => {
                    let topic = if message.topic() == self.reads_topic {
                        SourceTopic::Reads
                    } else {
                        SourceTopic::Holds
                    };
                    records.push(TopicRecord {
                        topic,
                        partition: message.partition(),
                        offset: message.offset(),
                        key: message.key().map(<[u8]>::to_vec).unwrap_or_default(),
                        payload: message.payload().map(<[u8]>::to_vec),
                    });
                }
                Some(Err(error)) => {
                    tracing::warn!(%error, "retention consume error");
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
        UNDECODABLE_RECORDS.inc_by(summary.undecodable as u64);
        for record in &records {
            self.positions
                .insert((record.topic, record.partition), record.offset + 1);
        }
        tracing::debug!(
            reads_indexed = summary.reads_indexed,
            reads_removed = summary.reads_removed,
            holds_placed = summary.holds_placed,
            holds_released = summary.holds_released,
            "retention batch applied"
        );
        Ok(records.len())
    }

    /// Follows both topics and sweeps every interval until `shutdown`, the first sweep right
    /// away. A sweep in progress when shutdown comes stops after its current chunk.
    pub fn run(mut self, shutdown: ShutdownToken) -> Result<(), WorkerError> {
        tracing::info!(
            interval_seconds = self.sweep_interval.as_secs(),
            "retention worker sweeping"
        );
        let mut next_sweep = Instant::now();
        while !shutdown.is_cancelled() {
            if Instant::now() >= next_sweep {
                match self.sweep(&shutdown)? {
                    SweepOutcome::Interrupted => break,
                    SweepOutcome::Completed(report) => tracing::info!(
                        tombstoned = report.tombstoned,
                        kept_by_holds = report.kept_by_holds,
                        resumed_unfinished = report.resumed_unfinished,
                        images_deleted = report.images_deleted,
                        image_delete_failures = report.image_delete_failures,
                        "sweep completed"
                    ),
                }
                next_sweep = Instant::now() + self.sweep_interval;
            }
            self.apply_next_batch(Duration::from_millis(250))?;
        }
        if let Err(error) = self.store.flush() {
            tracing::warn!(%error, "cannot flush retention index at shutdown");
        }
        Ok(())
    }

    /// Sweeps once at the clock's current time. It catches up with both topics, deletes images
    /// left pending by earlier sweeps and completes an unfinished sweep of an earlier run. Then it
    /// tombstones every read past its period and under no hold, and deletes that read's image.
    pub fn sweep(&mut self, shutdown: &ShutdownToken) -> Result<SweepOutcome, WorkerError> {
        let timer = SWEEP_DURATION.start_timer();
        self.catch_up()?;
        let mut report = SweepReport::default();
        report.add_images(image_deletion::retry_pending(
            &self.store,
            self.images.as_ref(),
        )?);
        if let Some(unfinished) = self.store.pending_sweep()? {
            tracing::info!(sweep_id = %unfinished.sweep_id, planned = unfinished.tombstones.len(), "completing unfinished sweep");
            let Some(completed) = self.execute(unfinished, shutdown)? else {
                return Ok(SweepOutcome::Interrupted);
            };
            report.tombstoned += completed.tombstoned;
            report.images_deleted += completed.images_deleted;
            report.image_delete_failures += completed.image_delete_failures;
            report.resumed_unfinished = true;
            // The tombstones just written must leave the index before the next plan.
            self.catch_up()?;
        }

        let now = (self.clock)();
        let plan = plan_sweep(&self.store, &self.policy, now)?;
        if !plan.tombstones.is_empty() {
            self.store.save_pending_sweep(&plan)?;
        }
        let Some(completed) = self.execute(plan, shutdown)? else {
            return Ok(SweepOutcome::Interrupted);
        };
        report.tombstoned += completed.tombstoned;
        report.kept_by_holds = completed.kept_by_holds;
        report.images_deleted += completed.images_deleted;
        report.image_delete_failures += completed.image_delete_failures;
        crate::metrics::PENDING_IMAGE_DELETIONS
            .set(self.store.count_pending_image_deletions()? as i64);

        EXPIRED_READS_HELD.set(report.kept_by_holds as i64);
        let oldest_age = match self.store.oldest_unheld_captured_at()? {
            Some(captured_at) => (now.timestamp_micros() - captured_at).max(0) / 1_000_000,
            None => 0,
        };
        OLDEST_UNHELD_READ_AGE.set(oldest_age);
        timer.observe_duration();
        Ok(SweepOutcome::Completed(report))
    }

    /// Writes the tombstones of `plan`, deletes the images of each acknowledged chunk, records
    /// the sweep in the audit topic and the purge log, and removes the stored plan. Returns `None` when shutdown came first; the plan then stays
    /// stored.
    fn execute(
        &mut self,
        mut plan: SweepPlan,
        shutdown: &ShutdownToken,
    ) -> Result<Option<SweepReport>, WorkerError> {
        // A hold placed after planning wins: this matters for a plan resumed after a crash.
        // NOTE: a read whose tombstone went out before the crash and that is held afterwards
        // is skipped here too, so its image is kept although the read is gone.
        let mut to_send = Vec::with_capacity(plan.tombstones.len());
        for tombstone in std::mem::take(&mut plan.tombstones) {
            if self.store.is_held(&tombstone.read_id)? {
                plan.kept_by_holds += 1;
            } else {
                to_send.push(tombstone);
            }
        }

        let started = Instant::now();
        let chunk_size = match self.max_tombstones_per_second {
            0 => MAX_CHUNK,
            rate => (rate as usize / 10).clamp(1, MAX_CHUNK),
        };
        let mut sent = 0usize;
        let mut images = ImageDeletions::default();
        for chunk in to_send.chunks(chunk_size) {
            if shutdown.is_cancelled() {
                tracing::info!(sweep_id = %plan.sweep_id, sent, planned = to_send.len(), "sweep interrupted by shutdown, resuming at next start");
                return Ok(None);
            }
            self.send_tombstones(chunk)?;
            sent += chunk.len();
            TOMBSTONES_WRITTEN.inc_by(chunk.len() as u64);
            images += image_deletion::delete_images_of(&self.store, self.images.as_ref(), chunk)?;
            self.pace(started, sent, shutdown);
        }

        let tombstoned = to_send.len() as u64;
        if tombstoned > 0 {
            self.audit
                .append_blocking(deletion_event(&plan, tombstoned))?;
        }
        if !self.purge_log.ends_with_sweep(&plan.sweep_id)
            && self.purge_log.is_news(tombstoned, plan.kept_by_holds)
        {
            let swept_at =
                chrono::DateTime::from_timestamp_micros(plan.started_at).unwrap_or_default();
            self.purge_log.append(PurgeRecord {
                day: swept_at.format("%Y-%m-%d").to_string(),
                sweep_id: plan.sweep_id.clone(),
                swept_at: swept_at.to_rfc3339_opts(SecondsFormat::Secs, true),
                tombstoned,
                kept_by_holds: plan.kept_by_holds,
            })?;
        }
        self.store.clear_pending_sweep()?;
        Ok(Some(SweepReport {
            tombstoned,
            kept_by_holds: plan.kept_by_holds,
            resumed_unfinished: false,
            images_deleted: images.deleted,
            image_delete_failures: images.failed,
        }))
    }

    /// Sends one chunk of tombstones, each into its read's partition, and waits until the broker
    /// has acknowledged all of them.
    fn send_tombstones(&self, chunk: &[PlannedTombstone]) -> Result<(), WorkerError> {
        let mut deliveries: Vec<(&PlannedTombstone, DeliveryFuture)> =
            Vec::with_capacity(chunk.len());
        for tombstone in chunk {
            let delivery = self.send_one_tombstone(tombstone)?;
            deliveries.push((tombstone, delivery));
        }
        let (tombstones, futures): (Vec<_>, Vec<_>) = deliveries.into_iter().unzip();
        let results = futures::executor::block_on(join_all(futures));
        for (tombstone, result) in tombstones.into_iter().zip(results) {
            let error = match result {
                Ok(Ok(_)) => continue,
                Ok(Err((error, _))) => error,
                Err(_canceled) => KafkaError::Canceled,
            };
            return Err(WorkerError::TombstoneNotAcknowledged {
                read_id: tombstone.read_id.clone(),
                source: error,
            });
        }
        Ok(())
    }

    fn send_one_tombstone(
        &self,
        tombstone: &PlannedTombstone,
    ) -> Result<DeliveryFuture, WorkerError> {
        loop {
            let record = FutureRecord::<[u8], [u8]>::to(&self.reads_topic)
                .key(tombstone.read_id.as_bytes())
                .partition(tombstone.partition);
            match self.producer.send_result(record) {
                Ok(delivery) => return Ok(delivery),
                // The chunk bound keeps the queue far below librdkafka's limit, so this happens
                // only when other records fill it. Waiting lets the background thread drain it.
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err((error, _)) => {
                    return Err(WorkerError::TombstoneNotAcknowledged {
                        read_id: tombstone.read_id.clone(),
                        source: error,
                    })
                }
            }
        }
    }

    /// Sleeps until `sent` tombstones fit the configured rate, waking early on shutdown.
    fn pace(&self, started: Instant, sent: usize, shutdown: &ShutdownToken) {
        if self.max_tombstones_per_second == 0 {
            return;
        }
        let due = Duration::from_secs_f64(sent as f64 / f64::from(self.max_tombstones_per_second));
        while started.elapsed() < due && !shutdown.is_cancelled() {
            std::thread::sleep(
                due.saturating_sub(started.elapsed())
                    .min(Duration::from_millis(50)),
            );
        }
    }
}

/// Returns the audit event of a sweep that tombstoned `tombstoned` reads.
///
/// NOTE: a worker that stops after appending this event and before clearing the stored plan
/// appends it again when it resumes the plan. Both copies carry the sweep id as event id, and
/// the transparency report counts an event id once.
fn deletion_event(plan: &SweepPlan, tombstoned: u64) -> AuditEvent {
    AuditEvent {
        event_id: plan.sweep_id.clone(),
        actor: "retention".into(),
        // The plan does not record the reads' organisations, so the event names none.
        organisation_id: String::new(),
        occurred_at: plan.started_at,
        action: AuditAction::ReadsDeleted,
        case_number: None,
        purpose: Some("retention period ended".into()),
        query: Some(
            serde_json::json!({"sweep_id": plan.sweep_id, "kept_by_holds": plan.kept_by_holds})
                .to_string(),
        ),
        result_count: Some(i64::try_from(tombstoned).unwrap_or(i64::MAX)),
        previous_hash: String::new(),
        hash: String::new(),
    }
}

fn kind_label(kind: SourceTopic) -> &'static str {
    match kind {
        SourceTopic::Reads => "reads",
        SourceTopic::Holds => "holds",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletion_event_carries_sweep_and_count() {
        let plan = SweepPlan {
            sweep_id: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
            started_at: 1_793_491_200_000_000,
            tombstones: Vec::new(),
            kept_by_holds: 4,
        };
        let event = deletion_event(&plan, 120);
        assert_eq!(event.event_id, plan.sweep_id);
        assert_eq!(event.actor, "retention");
        assert_eq!(event.action, AuditAction::ReadsDeleted);
        assert_eq!(event.occurred_at, plan.started_at);
        assert_eq!(event.result_count, Some(120));
        let query: serde_json::Value =
            serde_json::from_str(event.query.as_deref().unwrap_or_default()).unwrap_or_default();
        assert_eq!(query["kept_by_holds"], 4);
        assert_eq!(query["sweep_id"], plan.sweep_id.as_str());
    }
}
