//! Appending audit events for a long-lived service.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use tokio::sync::Mutex;

use alpr_platform::kafka::partition_count;
use alpr_platform::{partition_for_key, KafkaSettings};
use alpr_schemas::{encode, AuditEvent};

use crate::chain::{event_hash, last_hash_in_partition};
use crate::metrics::{APPEND_DURATION, APPEND_FAILURES, EVENTS_APPENDED};
use crate::AuditError;

/// Maximum wait for room in the producer queue before an append fails.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

/// Appends audit events to `alpr.audit.v1`, each chained onto the last event of its partition.
///
/// The writer reads a partition's last hash from the topic once, on its first append there, and
/// then keeps it in memory. Appends to one partition take turns behind that partition's mutex,
/// and the next one starts only after the broker acknowledged the one before, so the events of
/// one writer never fork a chain. Cloning the writer shares its producer and its chain state.
///
/// NOTE: a chain still forks when two writers append to the same partition at the same time:
/// two processes (a search service and the retention worker, or `alpr holds` commands, whose
/// actors hash to the same partition) both chain onto the same predecessor, or a writer keeps
/// chaining onto a hash that another process has already followed. `alpr audit verify` then
/// reports the second event as unlinked. Only one writer per partition avoids that.
///
/// NOTE: because appends to a partition take turns, one partition takes at most one event per
/// broker round trip (produce and acknowledgement). More partitions on the audit topic, or
/// actors spread over them, raise that limit.
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
    /// Hash of the last event of each partition, by partition number. `None` until read from
    /// the topic, and again after a failed send, whose event may or may not have been written.
    tails: Vec<Mutex<Option<String>>>,
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
                tokio::spawn(async move { state.append(event).await })
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

    /// Appends `event` like [`AuditWriter::append`], for a caller on a blocking thread that
    /// appends rarely, such as the retention worker once per sweep. Unlike `append`, it reads
    /// the partition's last hash from the topic on every call, because other processes (`alpr
    /// holds` commands) are likely to have appended there since its previous event. Blocks
    /// until the broker acknowledged the event.
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

    async fn append(&self, mut event: AuditEvent) -> Result<AuditEvent, AuditError> {
        let partition = self.partition_of(&event);
        let mut tail = self.tails[partition as usize].lock().await;
        let previous_hash = match tail.as_ref() {
            Some(hash) => hash.clone(),
            None => {
                let kafka = self.kafka.clone();
                let topic = self.topic.clone();
                tokio::task::spawn_blocking(move || {
                    last_hash_in_partition(&kafka, &topic, partition)
                })
                .await
                .map_err(|_| AuditError::ThreadPanicked)??
            }
        };
        let payload = chain_onto(&mut event, previous_hash)?;
        let record = FutureRecord::to(&self.topic)
            .key(event.actor.as_bytes())
            .payload(&payload)
            .partition(partition);
        match self.producer.send(record, QUEUE_TIMEOUT).await {
            Ok(_) => {
                *tail = Some(event.hash.clone());
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
        let previous_hash = last_hash_in_partition(&self.kafka, &self.topic, partition)?;
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
            Ok(Ok(_)) => {
                *tail = Some(event.hash.clone());
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
