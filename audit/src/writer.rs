//! Appending audit events for a long-lived service.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use tokio::sync::Mutex;

use alpr_platform::kafka::{partition_count, watermarks};
use alpr_platform::{partition_for_key, KafkaSettings};
use alpr_schemas::{encode, AuditEvent};

use crate::chain::{event_hash, last_hash_in_partition};
use crate::metrics::{APPEND_DURATION, APPEND_FAILURES, EVENTS_APPENDED};
use crate::AuditError;

/// Maximum wait for room in the producer queue before an append fails.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

/// Appends audit events to `alpr.audit.v1`, each chained onto the last event of its partition.
///
/// The writer reads a partition's last hash from the topic on its first append there, and then
/// keeps its own last hash and offset in memory. Before each append it compares that offset with
/// the partition's high watermark, and reads the last hash from the topic again when another
/// process (an `alpr holds` command, the retention worker) has appended in between. Appends to
/// one partition take turns behind that partition's mutex, and the next one starts only after
/// the broker acknowledged the one before, so the events of one writer never fork a chain.
/// Cloning the writer shares its producer and its chain state.
///
/// NOTE: a chain still forks when two processes append to the same partition at the same
/// moment, between one's watermark check and its send. Both events then chain onto the same
/// predecessor, and `alpr audit verify` reports the later one as unlinked. Only one writing
/// process per partition rules that out.
///
/// NOTE: because appends to a partition take turns, one partition takes at most one event per
/// two broker round trips (the watermark check, then produce and acknowledgement). More
/// partitions on the audit topic, with actors spread over them, raise that limit.
#[derive(Clone)]
pub struct AuditWriter {
    inner: Arc<WriterState>,
}

struct WriterState {
    kafka: KafkaSettings,
    topic: String,
    writer_name: String,
    /// Idempotent with `acks=all`, so a retried send is written once and an acknowledged event
    /// is on every in-sync replica.
    producer: FutureProducer,
    /// This writer's last event of each partition, by partition number. `None` until the
    /// writer's first event there, and again after a failed send, whose event may or may not
    /// have been written.
    tails: Vec<Mutex<Option<ChainTail>>>,
}

/// The end of a partition's chain as this writer's last event left it.
#[derive(Clone)]
struct ChainTail {
    hash: String,
    /// Offset just after that event. While it equals the partition's high watermark, no other
    /// process has appended since, and `hash` is still the chain's end.
    next_offset: i64,
}

impl AuditWriter {
    /// Creates the writer's producer. `writer_name` names the service in the broker's client id
    /// and in logs. Blocks while it fetches the audit topic's partition count from the broker,
    /// and fails when the topic does not exist.
    pub fn new(kafka: &KafkaSettings, writer_name: &str) -> Result<Self, AuditError> {
        let topic = kafka.topics().audit;
        let producer: FutureProducer = kafka
            .client_config()
            .set(
                "client.id",
                format!("{}alpr-audit-{writer_name}", kafka.topic_prefix),
            )
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .create()?;
        let partitions = partition_count(producer.client(), &topic)?;
        crate::metrics::register_all();
        let tails = (0..partitions).map(|_| Mutex::new(None)).collect();
        tracing::info!(%topic, partitions, writer = writer_name, "audit writer ready");
        Ok(Self {
            inner: Arc::new(WriterState {
                kafka: kafka.clone(),
                topic,
                writer_name: writer_name.to_string(),
                producer,
                tails,
            }),
        })
    }

    /// Appends `event` to the partition of its actor. Fills `previous_hash` and `hash`, and
    /// returns the event as written once the broker has acknowledged it.
    ///
    /// Cancel-safe: the append runs as its own task, so a caller that stops waiting cannot cut
    /// it between sending the event and recording its hash.
    pub async fn append(&self, event: AuditEvent) -> Result<AuditEvent, AuditError> {
        let timer = APPEND_DURATION.start_timer();
        let outcome = match check_event(&event) {
            Ok(()) => {
                let state = Arc::clone(&self.inner);
                tokio::spawn(state.append(event))
                    .await
                    .map_err(|_| AuditError::ThreadPanicked)
                    .and_then(|outcome| outcome)
            }
            Err(error) => Err(error),
        };
        count_outcome(&outcome);
        timer.observe_duration();
        outcome
    }

    /// Appends `event` like [`AuditWriter::append`], for a caller on a blocking thread such as
    /// the retention worker. Blocks until the broker acknowledged the event.
    ///
    /// # Panics
    /// Panics when called from an async task, because it waits on the partition's async mutex.
    pub fn append_blocking(&self, event: AuditEvent) -> Result<AuditEvent, AuditError> {
        let timer = APPEND_DURATION.start_timer();
        let outcome = check_event(&event).and_then(|()| self.inner.append_blocking(event));
        count_outcome(&outcome);
        timer.observe_duration();
        outcome
    }
}

impl WriterState {
    fn partition_of(&self, event: &AuditEvent) -> i32 {
        // `tails` has one slot per partition, and a topic has at least one.
        partition_for_key(event.actor.as_bytes(), self.tails.len() as i32)
    }

    /// Returns the hash to chain the partition's next event onto: this writer's last hash
    /// there, unless the partition has grown since, else the last hash read from the topic.
    /// Blocks the calling thread.
    fn previous_hash(
        &self,
        partition: i32,
        tail: Option<&ChainTail>,
    ) -> Result<String, AuditError> {
        if let Some(tail) = tail {
            let (_, high) = watermarks(self.producer.client(), &self.topic, partition)?;
            if high == tail.next_offset {
                return Ok(tail.hash.clone());
            }
            tracing::debug!(
                partition,
                writer = %self.writer_name,
                "audit partition has records of another writer, rereading its last hash"
            );
        }
        Ok(last_hash_in_partition(&self.kafka, &self.topic, partition)?)
    }

    async fn append(self: Arc<Self>, mut event: AuditEvent) -> Result<AuditEvent, AuditError> {
        let partition = self.partition_of(&event);
        let mut tail = self.tails[partition as usize].lock().await;
        let known_tail = tail.clone();
        let state = Arc::clone(&self);
        let previous_hash = tokio::task::spawn_blocking(move || {
            state.previous_hash(partition, known_tail.as_ref())
        })
        .await
        .map_err(|_| AuditError::ThreadPanicked)??;
        let payload = chain_onto(&mut event, previous_hash)?;
        let record = FutureRecord::to(&self.topic)
            .key(event.actor.as_bytes())
            .payload(&payload)
            .partition(partition);
        match self.producer.send(record, QUEUE_TIMEOUT).await {
            Ok(delivery) => {
                *tail = Some(ChainTail {
                    hash: event.hash.clone(),
                    next_offset: delivery.offset + 1,
                });
                tracing::debug!(event_id = %event.event_id, partition, "audit event appended");
                Ok(event)
            }
            Err((error, _)) => {
                *tail = None;
                Err(self.not_acknowledged(&event, partition, error))
            }
        }
    }

    fn append_blocking(&self, mut event: AuditEvent) -> Result<AuditEvent, AuditError> {
        let partition = self.partition_of(&event);
        let mut tail = self.tails[partition as usize].blocking_lock();
        let previous_hash = self.previous_hash(partition, tail.as_ref())?;
        let payload = chain_onto(&mut event, previous_hash)?;
        let mut record = FutureRecord::to(&self.topic)
            .key(event.actor.as_bytes())
            .payload(&payload)
            .partition(partition);
        let delivery = loop {
            match self.producer.send_result(record) {
                Ok(delivery) => break delivery,
                // Waiting lets librdkafka's background thread drain the queue.
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    record = returned;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err((error, _)) => {
                    *tail = None;
                    return Err(self.not_acknowledged(&event, partition, error));
                }
            }
        };
        match futures::executor::block_on(delivery) {
            Ok(Ok(delivery)) => {
                *tail = Some(ChainTail {
                    hash: event.hash.clone(),
                    next_offset: delivery.offset + 1,
                });
                tracing::debug!(event_id = %event.event_id, partition, "audit event appended");
                Ok(event)
            }
            Ok(Err((error, _))) => {
                *tail = None;
                Err(self.not_acknowledged(&event, partition, error))
            }
            Err(_canceled) => {
                *tail = None;
                Err(self.not_acknowledged(&event, partition, KafkaError::Canceled))
            }
        }
    }

    fn not_acknowledged(
        &self,
        event: &AuditEvent,
        partition: i32,
        error: KafkaError,
    ) -> AuditError {
        tracing::warn!(
            event_id = %event.event_id,
            partition,
            writer = %self.writer_name,
            %error,
            "audit event not acknowledged, rereading the partition's last hash on the next append"
        );
        AuditError::NotAcknowledged {
            event_id: event.event_id.clone(),
            source: error,
        }
    }
}

fn count_outcome(outcome: &Result<AuditEvent, AuditError>) {
    match outcome {
        Ok(_) => EVENTS_APPENDED.inc(),
        Err(_) => APPEND_FAILURES.inc(),
    }
}

/// Sets the event's `previous_hash` and `hash` and returns its encoding.
fn chain_onto(event: &mut AuditEvent, previous_hash: String) -> Result<Vec<u8>, AuditError> {
    event.previous_hash = previous_hash;
    event.hash = event_hash(event)?;
    Ok(encode(event)?)
}

fn check_event(event: &AuditEvent) -> Result<(), AuditError> {
    if event.event_id.trim().is_empty() {
        return Err(AuditError::InvalidEvent {
            field: "event_id",
            problem: "must not be empty",
        });
    }
    if event.actor.trim().is_empty() {
        return Err(AuditError::InvalidEvent {
            field: "actor",
            problem: "must not be empty, because it is the record key that picks the partition",
        });
    }
    Ok(())
}
