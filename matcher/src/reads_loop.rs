//! Checks every read on `alpr.reads.v1` against the hotlist and publishes alerts, exactly once.
//!
//! Reads are handled in batches that end on a fixed schedule, one commit interval apart (see
//! [`BatchSchedule`]). Each batch is one Kafka transaction: its alerts and the consumer offsets
//! after its reads are committed together, so a `read_committed` consumer of the alert topic
//! sees every alert of a batch once or, if the matcher dies before the commit, none of them and
//! the batch is handled again after restart.
//! A restarted instance with the same `transactional.id` fences the dead one and aborts the
//! transaction it left open. While a batch commits, the next batch's reads are matched, and
//! their alerts are held until its transaction can begin (see [`PendingCommit`]).
//!
//! Alert suppression decides per batch inside the same transaction, and whenever the partition
//! assignment changes, at start included, its state is rebuilt from the committed alerts, so it
//! always agrees with the committed offsets (see [`crate::suppression`]).
//!
//! With [`Delivery::AtLeastOnce`] there is no transaction: a batch's offsets are committed once
//! the broker has acknowledged its alerts, so a crash repeats alerts instead of losing them.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime};

use futures::future::{join_all, FutureExt};
use futures::StreamExt;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, MessageStream, Rebalance, StreamConsumer,
};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use alpr_platform::{KafkaSettings, ShutdownToken};
use alpr_schemas::plate::mask_plate;
use alpr_schemas::{decode, encode, normalised_plate_of, CameraRead, CodecError, HotlistEntry};

use crate::alert_history::{committed_alerts_since, AlertHistoryError};
use crate::matching::{build_alert, matching_entries};
use crate::metrics::{
    ALERTS, CAPTURE_TO_ALERT_SECONDS, COMMIT_SECONDS, CONSUMER_LAG, MATCH_SECONDS, READS,
    RECEIVE_TO_ALERT_SECONDS, SUPPRESSED_ALERTS, SUPPRESSION_KEYS, UNDECODABLE_READS,
};
use crate::plate_match::PlateMatch;
use crate::store::{HotlistStore, StoreError};
use crate::suppression::AlertSuppressor;
use crate::{Clock, Delivery, MatcherSettings};

/// Client context of the reads consumer: turns librdkafka's periodic statistics into
/// per-partition lag gauges, and notes each change of the partition assignment.
pub struct ReadsConsumerContext {
    topic: String,
    assignment_changed: Arc<AtomicBool>,
}

impl ClientContext for ReadsConsumerContext {
    fn stats(&self, statistics: Statistics) {
        alpr_platform::consumer_lag::report_partition_lag(&statistics, &self.topic, &CONSUMER_LAG);
    }
}

impl ConsumerContext for ReadsConsumerContext {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if matches!(rebalance, Rebalance::Assign(_)) {
            self.assignment_changed.store(true, Ordering::SeqCst);
        }
    }
}

type ReadsConsumer = StreamConsumer<ReadsConsumerContext>;

/// Errors that stop the matcher. A single bad read never does: it is counted and skipped.
#[derive(Debug, thiserror::Error)]
pub enum ReadsLoopError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("consumer has no group metadata, so offsets cannot join a transaction")]
    NoGroupMetadata,
    #[error("restoring suppression state: {0}")]
    AlertHistory(#[from] AlertHistoryError),
    #[error("hotlist store: {0}")]
    Store(#[from] StoreError),
    #[error("transaction commit thread failed: {0}")]
    CommitThread(#[source] tokio::task::JoinError),
    /// rdkafka's message streams are endless, so this is not expected.
    #[error("the consumer's message stream ended")]
    StreamEnded,
}

/// Outcome of looking one read up in the hotlist.
enum LookUp {
    NoMatch,
    /// The read, with the entries whose pattern its plate matches.
    Candidates(Box<CameraRead>, Vec<(HotlistEntry, PlateMatch)>),
    Undecodable(CodecError),
}

/// How long a transaction step may take before the batch is given up.
const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(30);

/// How long reading the recent alerts back may take at start or after a rebalance.
const ALERT_HISTORY_TIMEOUT: Duration = Duration::from_secs(120);

/// A batch that ends early for an alert lasts at least the commit interval divided by this.
const EARLY_BATCH_DIVISOR: u32 = 4;

/// One read in this many has its match duration timed; see `ReadsLoop::match_read`.
const MATCH_TIMING_SAMPLE: i64 = 16;

/// Maximum number of reads matched as one group: reads that had already arrived when the first
/// of them was received, looked up in the hotlist together (see `ReadsLoop::match_reads`).
const LOOKUP_GROUP_MAX: usize = 16;

/// How often suppression keys past their window are dropped.
const SUPPRESSION_CLEANUP_INTERVAL: Duration = Duration::from_secs(60);

/// Outcome of matching one batch, before its transaction commits.
#[derive(Default)]
struct BatchOutcome {
    alerts: Vec<alpr_schemas::Alert>,
    /// List of each suppressed alert.
    suppressed: Vec<String>,
}

/// The reads of one batch, each matched as it arrived, and the alerts they produced. Alerts are
/// handed to the producer as soon as they are built, so only their acknowledgements remain to
/// wait for when the batch ends.
struct MatchedBatch {
    /// Reads matched, tombstones included.
    reads: usize,
    /// Offsets a consumer resumes from after this batch.
    next_offsets: NextOffsets,
    /// Alerts in the producer's queue, with the future of their acknowledgement.
    sent: Vec<(alpr_schemas::Alert, DeliveryFuture)>,
    /// Encoded alerts not yet handed to the producer, because the last batch's commit was
    /// still pending or the producer's queue was full. They are sent once that commit
    /// completes, or at the latest when the batch ends.
    unsent: Vec<(alpr_schemas::Alert, Vec<u8>)>,
    /// Whether alerts may go to the producer now: in exactly-once mode, whether this batch's
    /// transaction has begun.
    sending: bool,
    suppressed: Vec<String>,
    emitted_at: i64,
}

/// The commit of the last batch, awaited while the next batch's reads are matched.
///
/// Committing a transaction takes a few broker round trips. In the pipeline benchmark most
/// commits took 2 to 15 ms, and some took over 100 ms on a saturated machine. A reads loop
/// that waited for each commit would stand still that long in every commit interval. Reads
/// are therefore matched meanwhile, but their alerts wait, because a transactional producer
/// cannot begin the next transaction before the last one has committed.
type PendingCommit<'a> = Pin<Box<dyn Future<Output = Result<(), ReadsLoopError>> + Send + 'a>>;

/// Waits for the pending commit, if there is one, and clears it.
async fn finish_commit(pending: &mut Option<PendingCommit<'_>>) -> Result<(), ReadsLoopError> {
    match pending.take() {
        Some(commit) => commit.await,
        None => Ok(()),
    }
}

/// Waits for the pending commit and clears it. Without a pending commit it never completes.
fn commit_finished<'p, 'c>(
    pending: &'p mut Option<PendingCommit<'c>>,
) -> impl Future<Output = Result<(), ReadsLoopError>> + use<'p, 'c> {
    std::future::poll_fn(move |context| {
        let Some(commit) = pending.as_mut() else {
            return Poll::Pending;
        };
        let committed = std::task::ready!(commit.as_mut().poll(context));
        *pending = None;
        Poll::Ready(committed)
    })
}

/// Ends of the batches' collection windows, one commit interval apart.
///
/// A read that arrives while the previous batch commits waits only for the rest of the current
/// window, not for a whole new one, so its alert is visible within one interval plus one
/// commit. A window that starts late, after idle time or a slow commit, still lasts half an
/// interval, so there are at most twice as many commits as the interval implies.
struct BatchSchedule {
    interval: Duration,
    last_end: Option<tokio::time::Instant>,
}

impl BatchSchedule {
    fn new(interval: Duration) -> Self {
        Self {
            interval,
            last_end: None,
        }
    }

    /// Returns the end of the window of a batch that starts at `now`.
    fn next_end(&mut self, now: tokio::time::Instant) -> tokio::time::Instant {
        let earliest = now + self.interval / 2;
        let latest = now + self.interval;
        let end = self.last_end.map_or(earliest, |last| {
            (last + self.interval).clamp(earliest, latest)
        });
        self.last_end = Some(end);
        end
    }
}

pub struct ReadsLoop {
    consumer: ReadsConsumer,
    producer: FutureProducer,
    store: HotlistStore,
    reads_topic: String,
    alerts_topic: String,
    /// Consumer group id as sent to Kafka, topic prefix included.
    group_id: String,
    settings: MatcherSettings,
    clock: Clock,
    kafka: KafkaSettings,
    suppressor: Mutex<AlertSuppressor>,
    /// Set by the consumer context on every new assignment, the first included.
    assignment_changed: Arc<AtomicBool>,
    last_suppression_cleanup: Mutex<Instant>,
    /// Next offset of every partition handled so far, committed once more, synchronously, at
    /// shutdown in at-least-once mode, where per-batch commits are asynchronous.
    handled_offsets: Mutex<NextOffsets>,
}

impl ReadsLoop {
    pub fn connect(
        kafka: &KafkaSettings,
        settings: MatcherSettings,
        store: HotlistStore,
        clock: Clock,
    ) -> Result<Self, ReadsLoopError> {
        let topics = kafka.topics();
        let group_id = format!("{}{}", kafka.topic_prefix, settings.group_id);
        let assignment_changed = Arc::new(AtomicBool::new(true));
        let consumer: ReadsConsumer = kafka
            .consumer_config()
            .set("group.id", &group_id)
            // Static membership: a restarted instance takes its partitions back at once
            // instead of waiting for the group to time its predecessor out.
            .set("group.instance.id", &settings.instance_id)
            .set("enable.auto.commit", "false")
            // Offsets are committed only through the transaction of their batch.
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed")
            .set("statistics.interval.ms", "5000")
            .create_with_context(ReadsConsumerContext {
                topic: topics.reads.clone(),
                assignment_changed: assignment_changed.clone(),
            })?;
        consumer.subscribe(&[&topics.reads])?;
        let producer = connect_alert_producer(kafka, &settings)?;
        let suppressor =
            AlertSuppressor::new(Duration::from_secs(settings.suppression_window_seconds));
        Ok(Self {
            consumer,
            producer,
            store,
            reads_topic: topics.reads,
            alerts_topic: topics.alerts,
            group_id,
            settings,
            clock,
            kafka: kafka.clone(),
            suppressor: Mutex::new(suppressor),
            assignment_changed,
            last_suppression_cleanup: Mutex::new(Instant::now()),
            handled_offsets: Mutex::new(NextOffsets::default()),
        })
    }

    fn suppressor(&self) -> std::sync::MutexGuard<'_, AlertSuppressor> {
        self.suppressor
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Rebuilds the suppression state from the alerts committed within its history horizon.
    /// Runs between transactions, when no alert of this instance is uncommitted.
    fn restore_suppression(&self) -> Result<(), ReadsLoopError> {
        let horizon = self.suppressor().history_horizon();
        if horizon.is_zero() {
            return Ok(());
        }
        let since = SystemTime::now()
            .checked_sub(horizon)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let alerts = tokio::task::block_in_place(|| {
            committed_alerts_since(&self.kafka, since, ALERT_HISTORY_TIMEOUT)
        })?;
        let mut suppressor = self.suppressor();
        suppressor.clear();
        for alert in &alerts {
            suppressor.remember(alert);
        }
        SUPPRESSION_KEYS.set(i64::try_from(suppressor.len()).unwrap_or(i64::MAX));
        tracing::info!(
            alerts = alerts.len(),
            keys = suppressor.len(),
            horizon_seconds = horizon.as_secs(),
            "suppression state restored from committed alerts"
        );
        Ok(())
    }

    /// Drops suppression keys past their window, at most once per cleanup interval.
    fn clean_up_suppression(&self) {
        let mut last = self
            .last_suppression_cleanup
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if last.elapsed() < SUPPRESSION_CLEANUP_INTERVAL {
            return;
        }
        *last = Instant::now();
        let mut suppressor = self.suppressor();
        suppressor.forget_expired();
        SUPPRESSION_KEYS.set(i64::try_from(suppressor.len()).unwrap_or(i64::MAX));
    }

    /// Handles batches until `shutdown`. The batch in hand is finished and committed first.
    ///
    /// A batch commits while the next one's reads are matched: see [`PendingCommit`].
    pub async fn run(&self, shutdown: ShutdownToken) -> Result<(), ReadsLoopError> {
        tracing::info!(group = %self.group_id, "matching reads");
        let outcome = self.run_batches(&shutdown).await;
        if let Err(error) = &outcome {
            // NOTE: the loop stops instead of rewinding the consumer to the last committed
            // offsets and retrying; the restarted process resumes from those offsets.
            tracing::error!(%error, "batch failed, stopping");
            if self.settings.delivery == Delivery::ExactlyOnce {
                if let Err(abort_error) = tokio::task::block_in_place(|| {
                    self.producer.abort_transaction(TRANSACTION_TIMEOUT)
                }) {
                    tracing::warn!(error = %abort_error, "cannot abort transaction");
                }
            }
            return outcome;
        }
        if self.settings.delivery == Delivery::AtLeastOnce {
            self.commit_handled_offsets()?;
        }
        tracing::info!("reads loop stopped");
        Ok(())
    }

    async fn run_batches(&self, shutdown: &ShutdownToken) -> Result<(), ReadsLoopError> {
        let mut pending = None;
        let outcome = self.handle_batches(&mut pending, shutdown).await;
        // A commit still running when a later batch fails is allowed to finish, so that `run`
        // does not abort the transaction while another thread commits it.
        if let (Err(_), Some(commit)) = (&outcome, pending.take()) {
            if let Err(error) = commit.await {
                tracing::warn!(%error, "commit of the previous batch failed");
            }
        }
        outcome
    }

    async fn handle_batches<'c>(
        &'c self,
        pending: &mut Option<PendingCommit<'c>>,
        shutdown: &ShutdownToken,
    ) -> Result<(), ReadsLoopError> {
        // A read received after the assignment changed, kept for the next batch.
        let mut carried = None;
        let mut schedule =
            BatchSchedule::new(Duration::from_millis(self.settings.commit_interval_ms));
        loop {
            let first = match carried.take() {
                Some(first) => first,
                None => tokio::select! {
                    _ = shutdown.cancelled() => break,
                    committed = commit_finished(pending) => {
                        committed?;
                        continue;
                    }
                    received = self.consumer.recv() => received?,
                },
            };
            // The assignment changes while the consumer waits for reads, so this read may be of
            // a partition whose earlier alerts another instance committed. The state is rebuilt
            // from committed alerts, so the last batch's commit has to finish first.
            if self.assignment_changed.swap(false, Ordering::SeqCst) {
                finish_commit(pending).await?;
                self.restore_suppression()?;
            }
            let window_end = schedule.next_end(tokio::time::Instant::now());
            let (batch, next) = self
                .next_batch(first, window_end, pending, shutdown)
                .await?;
            carried = next;
            *pending = Some(Box::pin(self.commit_batch(batch)));
            self.clean_up_suppression();
            if shutdown.is_cancelled() {
                break;
            }
        }
        finish_commit(pending).await
    }

    /// Commits a batch whose reads are all matched: in its transaction in exactly-once mode,
    /// else once its alerts are acknowledged.
    async fn commit_batch(&self, batch: MatchedBatch) -> Result<(), ReadsLoopError> {
        let started = Instant::now();
        let committed = match self.settings.delivery {
            Delivery::ExactlyOnce => self.handle_in_transaction(batch).await,
            Delivery::AtLeastOnce => self.handle_then_commit(batch).await,
        };
        COMMIT_SECONDS.observe(started.elapsed().as_secs_f64());
        committed
    }

    /// Commits the offsets after every read handled so far and waits for the broker's response,
    /// so that a clean stop leaves nothing to repeat.
    fn commit_handled_offsets(&self) -> Result<(), ReadsLoopError> {
        let handled = self
            .handled_offsets
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone();
        if handled.is_empty() {
            return Ok(());
        }
        let offsets = handled.to_list(&self.reads_topic)?;
        tokio::task::block_in_place(|| self.consumer.commit(&offsets, CommitMode::Sync))?;
        Ok(())
    }

    /// Handles one batch inside a transaction: alerts and offsets commit together or not at all.
    async fn handle_in_transaction(&self, batch: MatchedBatch) -> Result<(), ReadsLoopError> {
        let offsets = batch.next_offsets.to_list(&self.reads_topic)?;
        let outcome = self.publish_batch(batch).await?;
        let group = self
            .consumer
            .group_metadata()
            .ok_or(ReadsLoopError::NoGroupMetadata)?;
        // The commit blocks until the broker responds, so it runs on a thread of its own and
        // the reads loop goes on matching meanwhile.
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || {
            producer.send_offsets_to_transaction(&offsets, &group, TRANSACTION_TIMEOUT)?;
            producer.commit_transaction(TRANSACTION_TIMEOUT)
        })
        .await
        .map_err(ReadsLoopError::CommitThread)??;
        record_committed(&outcome, (self.clock)());
        Ok(())
    }

    /// Handles one batch without a transaction: the alerts are acknowledged by the broker
    /// before the offsets are committed, so a crash repeats alerts and never loses one.
    async fn handle_then_commit(&self, batch: MatchedBatch) -> Result<(), ReadsLoopError> {
        let next_offsets = batch.next_offsets.clone();
        let outcome = self.publish_batch(batch).await?;
        self.handled_offsets
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .advance_to(&next_offsets);
        let offsets = next_offsets.to_list(&self.reads_topic)?;
        // An asynchronous commit keeps the loop from waiting a round trip per batch. A commit
        // lost in a crash only widens the window of repeated alerts.
        self.consumer.commit(&offsets, CommitMode::Async)?;
        record_committed(&outcome, (self.clock)());
        Ok(())
    }

    /// Starts a batch with `first` and matches every read as it arrives, until `window_end`,
    /// the batch is full, or shutdown. Matching and sending alerts while the batch fills,
    /// instead of after, keeps a read's wait for its alert close to the batch wait. A read
    /// received after the assignment changed is returned unmatched, to start the next batch
    /// once the suppression state is restored.
    ///
    /// The last batch's commit, `pending`, continues meanwhile, and alerts are held until it
    /// completes and this batch's transaction has begun. The batch is returned only after that
    /// commit.
    ///
    /// A batch with an alert for a recent read ends early, once it has lasted a quarter of the
    /// commit interval and no further read is waiting: the alert is committed then instead of
    /// at the end of the window. While the matcher works through a backlog its reads are older
    /// than that, so the batches keep their full length and the number of commits stays low.
    async fn next_batch<'c>(
        &'c self,
        first: BorrowedMessage<'c>,
        window_end: tokio::time::Instant,
        pending: &mut Option<PendingCommit<'c>>,
        shutdown: &ShutdownToken,
    ) -> Result<(MatchedBatch, Option<BorrowedMessage<'c>>), ReadsLoopError> {
        let mut batch = MatchedBatch {
            reads: 0,
            next_offsets: NextOffsets::default(),
            sent: Vec::new(),
            unsent: Vec::new(),
            sending: false,
            suppressed: Vec::new(),
            emitted_at: (self.clock)().timestamp_micros(),
        };
        // Without a transaction, alerts need not wait for the last batch's commit.
        if pending.is_none() || self.settings.delivery == Delivery::AtLeastOnce {
            self.start_sending(&mut batch)?;
        }
        let mut recent_alert = self.match_reads(std::slice::from_ref(&first), &mut batch)?;
        // One timer, one shutdown listener and one message stream for the whole batch. Made
        // anew for each read, they would register and unregister a waker per read, under a
        // lock each time: about 3 % of the matcher's samples in a profile of a drain.
        let deadline = tokio::time::sleep_until(window_end);
        tokio::pin!(deadline);
        let cancelled = shutdown.cancelled();
        tokio::pin!(cancelled);
        let mut reads = self.consumer.stream();
        // Under heavy load an alert is matched every few milliseconds, and ending every batch
        // at the first one would multiply the transactions.
        let shortest_end = tokio::time::Instant::now()
            + Duration::from_millis(self.settings.commit_interval_ms) / EARLY_BATCH_DIVISOR;
        let shortest = tokio::time::sleep_until(shortest_end);
        tokio::pin!(shortest);
        let mut carried = None;
        let mut arrived = Vec::with_capacity(LOOKUP_GROUP_MAX);
        while batch.reads < self.settings.batch_max_reads {
            // The clock is read only once an alert is waiting, not for every read.
            let received = if recent_alert && tokio::time::Instant::now() >= shortest_end {
                if tokio::time::Instant::now() >= window_end || shutdown.is_cancelled() {
                    break;
                }
                match reads.next().now_or_never() {
                    Some(received) => received.ok_or(ReadsLoopError::StreamEnded)?,
                    // Every read that has arrived is matched.
                    None => break,
                }
            } else {
                tokio::select! {
                    biased;
                    () = &mut deadline => break,
                    () = &mut cancelled => break,
                    committed = commit_finished(pending) => {
                        committed?;
                        self.start_sending(&mut batch)?;
                        continue;
                    }
                    () = &mut shortest, if recent_alert => continue,
                    received = reads.next() => received.ok_or(ReadsLoopError::StreamEnded)?,
                }
            };
            match received {
                Ok(message) => {
                    if self.assignment_changed.load(Ordering::SeqCst) {
                        carried = Some(message);
                        break;
                    }
                    arrived.push(message);
                    let room = (self.settings.batch_max_reads - batch.reads).min(LOOKUP_GROUP_MAX);
                    let must_end =
                        self.take_arrived(&mut reads, &mut arrived, room, &mut carried)?;
                    recent_alert |= self.match_reads(&arrived, &mut batch)?;
                    arrived.clear();
                    if must_end {
                        break;
                    }
                }
                Err(error) => {
                    warn_receive_failed(&error);
                    break;
                }
            }
        }
        finish_commit(pending).await?;
        self.start_sending(&mut batch)?;
        Ok((batch, carried))
    }

    /// Opens the batch for alerts, once the last batch has committed: begins its transaction in
    /// exactly-once mode and hands the producer the alerts held so far.
    fn start_sending(&self, batch: &mut MatchedBatch) -> Result<(), ReadsLoopError> {
        if batch.sending {
            return Ok(());
        }
        if self.settings.delivery == Delivery::ExactlyOnce {
            self.producer.begin_transaction()?;
        }
        batch.sending = true;
        for (alert, payload) in std::mem::take(&mut batch.unsent) {
            self.send_alert(alert, payload, batch)?;
        }
        Ok(())
    }

    /// Moves reads that have already arrived into `arrived`, without waiting, until it contains
    /// `room` reads. Returns whether the batch has to end after them: because a read arrived
    /// after the assignment changed, which is put in `carried`, or because receiving failed.
    fn take_arrived<'c>(
        &self,
        reads: &mut MessageStream<'c, ReadsConsumerContext>,
        arrived: &mut Vec<BorrowedMessage<'c>>,
        room: usize,
        carried: &mut Option<BorrowedMessage<'c>>,
    ) -> Result<bool, ReadsLoopError> {
        while arrived.len() < room {
            let Some(received) = reads.next().now_or_never() else {
                return Ok(false);
            };
            match received.ok_or(ReadsLoopError::StreamEnded)? {
                // The rebalance callback runs while the stream is polled, so the flag can only
                // have changed with this read.
                Ok(message) if self.assignment_changed.load(Ordering::SeqCst) => {
                    *carried = Some(message);
                    return Ok(true);
                }
                Ok(message) => arrived.push(message),
                Err(error) => {
                    warn_receive_failed(&error);
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Matches `messages` in order, after looking all their plates up together, and adds their
    /// alerts to `batch`. Returns whether an alert was sent for a recent read.
    fn match_reads(
        &self,
        messages: &[BorrowedMessage<'_>],
        batch: &mut MatchedBatch,
    ) -> Result<bool, ReadsLoopError> {
        let payloads: Vec<Option<&[u8]>> = messages.iter().map(Message::payload).collect();
        // The group's lookups share one clock reading, so a timed read is given an equal share
        // of it.
        let timed = messages
            .iter()
            .any(|message| message.offset() % MATCH_TIMING_SAMPLE == 0);
        let started = timed.then(Instant::now);
        let lookups = self.look_up_all(&payloads)?;
        let lookup_share = started
            .map(|started| started.elapsed() / u32::try_from(messages.len()).unwrap_or(u32::MAX));
        let mut recent_alert = false;
        for (message, lookup) in messages.iter().zip(lookups) {
            let alerted = self.match_read(message, lookup, lookup_share, batch)?;
            recent_alert |= alerted && self.is_recent(message);
        }
        Ok(recent_alert)
    }

    /// Returns whether `message` reached Kafka less than one commit interval ago, going by
    /// its timestamp and this host's clock.
    fn is_recent(&self, message: &BorrowedMessage<'_>) -> bool {
        let Some(appended_ms) = message.timestamp().to_millis() else {
            return false;
        };
        let age_ms = (self.clock)().timestamp_millis() - appended_ms;
        age_ms < i64::try_from(self.settings.commit_interval_ms).unwrap_or(i64::MAX)
    }

    /// Matches one read, already looked up (`None` for a tombstone), and adds the alerts it
    /// produces, or suppresses, to `batch`. `lookup_share` is the read's share of its group's
    /// lookup time, when the group was timed. Returns whether an alert was sent.
    fn match_read(
        &self,
        message: &BorrowedMessage<'_>,
        lookup: Option<LookUp>,
        lookup_share: Option<Duration>,
        batch: &mut MatchedBatch,
    ) -> Result<bool, ReadsLoopError> {
        batch.reads += 1;
        batch
            .next_offsets
            .advance(message.partition(), message.offset() + 1);
        // A tombstone is a deleted read, which the retention worker wrote.
        let Some(lookup) = lookup else {
            return Ok(false);
        };
        READS.inc();
        // Reading the clock cost about as much as a lookup in a profile, so one read in
        // MATCH_TIMING_SAMPLE is timed. It is picked by offset, which is unrelated to the
        // plate, so the histogram keeps the shape of the whole.
        let started = lookup_share
            .filter(|_| message.offset() % MATCH_TIMING_SAMPLE == 0)
            .map(|share| (Instant::now(), share));
        let observe = |started: Option<(Instant, Duration)>| {
            if let Some((started, share)) = started {
                MATCH_SECONDS.observe((started.elapsed() + share).as_secs_f64());
            }
        };
        let (read, candidates) = match lookup {
            LookUp::Candidates(read, candidates) => (*read, candidates),
            LookUp::NoMatch => {
                observe(started);
                return Ok(false);
            }
            LookUp::Undecodable(error) => {
                UNDECODABLE_READS.inc();
                tracing::warn!(%error, partition = message.partition(), offset = message.offset(), "skipping undecodable read");
                return Ok(false);
            }
        };
        let admitted: Vec<_> = {
            let mut suppressor = self.suppressor();
            matching_entries(&read, &candidates)
                .into_iter()
                .filter(|matched| {
                    let admit = suppressor.admit(&read, &matched.entry.entry_id);
                    if !admit {
                        batch.suppressed.push(matched.entry.list.clone());
                        tracing::debug!(plate = %mask_plate(&read.plate.normalised), list = %matched.entry.list, camera_id = %read.camera_id, "repeated alert suppressed");
                    }
                    admit
                })
                .collect()
        };
        observe(started);
        let mut alerted = false;
        for matched in admitted {
            let list_imported_at = self.store.list_imported_at(&matched.entry.list);
            let alert = build_alert(&read, &matched, batch.emitted_at, list_imported_at);
            tracing::debug!(plate = %mask_plate(&read.plate.normalised), list = %alert.entry.list, "read matched hotlist entry");
            let payload = match encode(&alert) {
                Ok(payload) => payload,
                Err(error) => {
                    tracing::error!(%error, read_id = %read.read_id, "cannot encode alert");
                    continue;
                }
            };
            self.send_alert(alert, payload, batch)?;
            alerted = true;
        }
        Ok(alerted)
    }

    /// Hands an alert to the producer, inside the open transaction in exactly-once mode. While
    /// the batch cannot send yet, or the producer's queue is full, the alert is kept for later.
    fn send_alert(
        &self,
        alert: alpr_schemas::Alert,
        payload: Vec<u8>,
        batch: &mut MatchedBatch,
    ) -> Result<(), ReadsLoopError> {
        if !batch.sending {
            batch.unsent.push((alert, payload));
            return Ok(());
        }
        match self
            .producer
            .send_result(self.alert_record(&alert, &payload))
        {
            Ok(delivery) => batch.sent.push((alert, delivery)),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                batch.unsent.push((alert, payload));
            }
            Err((error, _)) => {
                tracing::error!(%error, alert_id = %alert.alert_id, "failed to send alert");
                return Err(ReadsLoopError::Kafka(error));
            }
        }
        Ok(())
    }

    /// Returns the record of an alert on the alert topic, keyed by plate.
    fn alert_record<'a>(
        &'a self,
        alert: &'a alpr_schemas::Alert,
        payload: &'a [u8],
    ) -> FutureRecord<'a, [u8], [u8]> {
        FutureRecord::to(&self.alerts_topic)
            .key(alert.read.plate.normalised.as_bytes())
            .payload(payload)
    }

    /// Waits until the broker has acknowledged every alert of a batch, sending those still
    /// unsent first, in the open transaction. Returns the alerts sent and those suppressed.
    async fn publish_batch(&self, batch: MatchedBatch) -> Result<BatchOutcome, ReadsLoopError> {
        let queued = batch.sent.into_iter().map(|(alert, delivery)| {
            async move {
                let acknowledged = match delivery.await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err((error, _))) => Err(error),
                    // The producer lives as long as the loop, so it cannot drop a delivery.
                    Err(_) => Err(KafkaError::Canceled),
                };
                (alert, acknowledged)
            }
            .boxed()
        });
        // `send` waits for room in the producer's queue, which its acknowledgements free.
        let unsent = batch.unsent.into_iter().map(|(alert, payload)| {
            async move {
                let acknowledged = self
                    .producer
                    .send(self.alert_record(&alert, &payload), TRANSACTION_TIMEOUT)
                    .await
                    .map(|_| ())
                    .map_err(|(error, _)| error);
                (alert, acknowledged)
            }
            .boxed()
        });
        let mut alerts = Vec::new();
        for (alert, acknowledged) in join_all(queued.chain(unsent)).await {
            if let Err(error) = acknowledged {
                tracing::error!(%error, alert_id = %alert.alert_id, "alert not acknowledged");
                return Err(ReadsLoopError::Kafka(error));
            }
            alerts.push(alert);
        }
        Ok(BatchOutcome {
            alerts,
            suppressed: batch.suppressed,
        })
    }

    /// Looks the reads of `payloads` up in the hotlist, in order, `None` standing for a
    /// tombstone. Only the plate is decoded first, and plates written with the current schema
    /// are looked up together. The whole read is decoded only for the few reads some entry can
    /// match. A read that cannot be decoded is an outcome, not an error, because it is skipped.
    /// A failed store read stops the loop.
    fn look_up_all(&self, payloads: &[Option<&[u8]>]) -> Result<Vec<Option<LookUp>>, StoreError> {
        // Each payload beside its plate, or the error that kept the plate from being read.
        let plates: Vec<_> = payloads
            .iter()
            .map(|payload| payload.map(|payload| (payload, normalised_plate_of(payload))))
            .collect();
        let current: Vec<&str> = plates
            .iter()
            .filter_map(|plate| match plate {
                Some((_, Ok(Some(plate)))) => Some(*plate),
                _ => None,
            })
            .collect();
        // One list of entries per plate of `current`, in the same order.
        let mut found = self.store.entries_for_reads(&current)?.into_iter();
        let mut lookups = Vec::with_capacity(payloads.len());
        for plate in plates {
            let lookup = match plate {
                None => None,
                Some((payload, Ok(Some(_)))) => {
                    Some(resolve(payload, None, found.next().unwrap_or_default()))
                }
                Some((payload, Ok(None))) => Some(self.look_up_older(payload)?),
                Some((_, Err(error))) => Some(LookUp::Undecodable(error)),
            };
            lookups.push(lookup);
        }
        Ok(lookups)
    }

    /// Looks up a read written with an older schema, whose plate only the full decode finds.
    fn look_up_older(&self, payload: &[u8]) -> Result<LookUp, StoreError> {
        match decode::<CameraRead>(payload) {
            Ok(read) => {
                let candidates = self.store.entries_for_read(&read.plate.normalised)?;
                Ok(resolve(payload, Some(read), candidates))
            }
            Err(error) => Ok(LookUp::Undecodable(error)),
        }
    }
}

/// Completes the lookup of the read in `payload`, whose plate found `candidates`. When some
/// entry can match, the whole read is decoded, unless `read` is already the decoded read.
fn resolve(
    payload: &[u8],
    read: Option<CameraRead>,
    candidates: Vec<(HotlistEntry, PlateMatch)>,
) -> LookUp {
    if candidates.is_empty() {
        return LookUp::NoMatch;
    }
    match read.map_or_else(|| decode(payload), Ok) {
        Ok(read) => LookUp::Candidates(Box::new(read), candidates),
        Err(error) => LookUp::Undecodable(error),
    }
}

/// The offset after the last handled read of each partition of the reads topic: the position a
/// restarted consumer resumes from. A batch spans a few partitions, so a search through a short
/// list costs less per read than a hash map, which showed in the matcher's profile.
#[derive(Debug, Default, Clone, PartialEq)]
struct NextOffsets(Vec<(i32, i64)>);

impl NextOffsets {
    /// Notes that a read's partition continues at `next`, unless it is already further.
    fn advance(&mut self, partition: i32, next: i64) {
        match self.0.iter_mut().find(|(known, _)| *known == partition) {
            Some((_, offset)) => *offset = (*offset).max(next),
            None => self.0.push((partition, next)),
        }
    }

    fn advance_to(&mut self, other: &NextOffsets) {
        for &(partition, next) in &other.0 {
            self.advance(partition, next);
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn to_list(&self, topic: &str) -> Result<TopicPartitionList, KafkaError> {
        let mut offsets = TopicPartitionList::new();
        for &(partition, next) in &self.0 {
            offsets.add_partition_offset(topic, partition, Offset::Offset(next))?;
        }
        Ok(offsets)
    }
}

/// Creates the alert producer: transactional for exactly-once delivery, else idempotent only.
fn connect_alert_producer(
    kafka: &KafkaSettings,
    settings: &MatcherSettings,
) -> Result<FutureProducer, ReadsLoopError> {
    let mut config = kafka.client_config();
    config
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "1")
        .set("partitioner", "murmur2_random");
    if settings.delivery == Delivery::AtLeastOnce {
        tracing::info!("alerts delivered at least once, without transactions");
        return Ok(config.create()?);
    }
    let transactional_id = format!(
        "{}{}-{}",
        kafka.topic_prefix, settings.group_id, settings.instance_id
    );
    let producer: FutureProducer = config.set("transactional.id", &transactional_id).create()?;
    // Blocks until the broker has fenced any earlier producer with this id.
    tokio::task::block_in_place(|| producer.init_transactions(TRANSACTION_TIMEOUT))?;
    tracing::info!(%transactional_id, "transactional producer ready");
    Ok(producer)
}

/// Counts a committed batch's alerts, suppressed alerts, and the alerts' latency from capture
/// and from ingest to commit.
fn record_committed(outcome: &BatchOutcome, committed_at: chrono::DateTime<chrono::Utc>) {
    for list in &outcome.suppressed {
        SUPPRESSED_ALERTS.with_label_values(&[list.as_str()]).inc();
    }
    let now = committed_at.timestamp_micros();
    for alert in &outcome.alerts {
        let kind = match alert.match_detail.kind {
            alpr_schemas::MatchKind::Exact => "exact",
            alpr_schemas::MatchKind::OcrVariant => "ocr_variant",
            alpr_schemas::MatchKind::Partial => "partial",
            alpr_schemas::MatchKind::Wildcard => "wildcard",
        };
        ALERTS
            .with_label_values(&[alert.entry.list.as_str(), kind])
            .inc();
        CAPTURE_TO_ALERT_SECONDS.observe(seconds_between(alert.read.captured_at, now));
        RECEIVE_TO_ALERT_SECONDS.observe(seconds_between(alert.read.received_at, now));
    }
}

/// Logs a read that could not be received. Both callers end the batch after it.
fn warn_receive_failed(error: &KafkaError) {
    tracing::warn!(%error, "receiving a read failed, ending the batch early");
}

fn seconds_between(from_micros: i64, to_micros: i64) -> f64 {
    (to_micros - from_micros).max(0) as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_millis(100);

    /// Returns a schedule whose last window ended at `last_end`.
    fn schedule_after(last_end: tokio::time::Instant) -> BatchSchedule {
        BatchSchedule {
            interval: INTERVAL,
            last_end: Some(last_end),
        }
    }

    #[test]
    fn next_offsets_keep_furthest_position() {
        let mut batch = NextOffsets::default();
        batch.advance(3, 11);
        batch.advance(0, 5);
        batch.advance(3, 12);
        assert_eq!(batch, NextOffsets(vec![(3, 12), (0, 5)]));

        let mut handled = NextOffsets(vec![(0, 9), (1, 4)]);
        handled.advance_to(&batch);
        assert_eq!(handled, NextOffsets(vec![(0, 9), (1, 4), (3, 12)]));
    }

    #[test]
    fn first_window_lasts_half_an_interval() {
        let now = tokio::time::Instant::now();
        let mut schedule = BatchSchedule::new(INTERVAL);
        assert_eq!(schedule.next_end(now), now + INTERVAL / 2);
    }

    #[test]
    fn window_after_quick_commit_keeps_the_period() {
        let last_end = tokio::time::Instant::now();
        let now = last_end + Duration::from_millis(12);
        let end = schedule_after(last_end).next_end(now);
        assert_eq!(end, last_end + INTERVAL);
    }

    #[test]
    fn window_after_slow_commit_lasts_half_an_interval() {
        let last_end = tokio::time::Instant::now();
        let now = last_end + Duration::from_millis(80);
        let end = schedule_after(last_end).next_end(now);
        assert_eq!(end, now + INTERVAL / 2);
    }

    #[test]
    fn window_after_idle_time_lasts_half_an_interval() {
        let last_end = tokio::time::Instant::now();
        let now = last_end + Duration::from_secs(30);
        let end = schedule_after(last_end).next_end(now);
        assert_eq!(end, now + INTERVAL / 2);
    }

    #[test]
    fn window_after_full_batch_lasts_one_interval() {
        // A batch that filled up ended before its window did.
        let now = tokio::time::Instant::now();
        let last_end = now + Duration::from_millis(60);
        let end = schedule_after(last_end).next_end(now);
        assert_eq!(end, now + INTERVAL);
    }

    #[test]
    fn windows_follow_the_last_scheduled_end() {
        let start = tokio::time::Instant::now();
        let mut schedule = BatchSchedule::new(INTERVAL);
        let first = schedule.next_end(start);
        let second = schedule.next_end(first + Duration::from_millis(5));
        let third = schedule.next_end(second + Duration::from_millis(5));
        assert_eq!(second, first + INTERVAL);
        assert_eq!(third, second + INTERVAL);
    }
}
