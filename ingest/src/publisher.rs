//! Durable publication of validated reads to `alpr.reads.v1`.
//!
//! A read counts as accepted only once the broker has acknowledged it with `acks=all`, and the
//! producer is idempotent, so librdkafka's internal retries never duplicate or reorder a read
//! within a partition. The read id is the key, so the compacted topic keeps one copy of a read
//! that a camera re-sends. The partition comes from the normalised plate, so every read of a
//! plate reaches the same matcher instance.

use std::time::Duration;

use futures::future::join_all;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

use alpr_platform::kafka::partition_count;
use alpr_platform::{partition_for_key, KafkaSettings};
use alpr_schemas::{encode, CameraRead};

/// Failure to publish a read.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// librdkafka's queue of unacknowledged records is full. Retrying later helps: the camera
    /// receives 503 and sends again.
    #[error("producer queue is full")]
    QueueFull,
    /// The broker did not acknowledge in time or rejected the record.
    #[error("broker did not acknowledge the read: {0}")]
    Kafka(#[from] KafkaError),
    #[error("cannot encode the read: {0}")]
    Encode(#[from] alpr_schemas::CodecError),
}

/// Default of [`PublisherLimits::linger`], in milliseconds.
pub const DEFAULT_LINGER_MS: u64 = 5;

/// Producer settings that decide how much an ingest instance buffers.
#[derive(Debug, Clone, Copy)]
pub struct PublisherLimits {
    /// Records waiting for acknowledgement before `QueueFull`; bounds ingest's memory.
    pub queue_max_messages: u32,
    /// How long librdkafka retries a record before giving up on it.
    pub delivery_timeout: Duration,
    /// How long librdkafka waits for more records before sending a batch to the broker. A
    /// request's reply waits this long at least, so it bounds what a few concurrent camera
    /// connections can send, and it adds to every read's capture-to-alert time.
    pub linger: Duration,
}

impl Default for PublisherLimits {
    fn default() -> Self {
        Self {
            queue_max_messages: 100_000,
            delivery_timeout: Duration::from_secs(30),
            linger: Duration::from_millis(DEFAULT_LINGER_MS),
        }
    }
}

/// Publishes reads to the reads topic. Cheap to clone: clones share one producer.
#[derive(Clone)]
pub struct ReadPublisher {
    producer: FutureProducer,
    topic: String,
    partitions: i32,
}

impl ReadPublisher {
    /// Creates the producer and looks up the partition count of the reads topic.
    ///
    /// NOTE: the partition count is read once. Partitions added to the topic later are only
    /// used after a restart, and until then their share of plates keeps going to the old ones.
    pub async fn connect(
        settings: &KafkaSettings,
        limits: PublisherLimits,
    ) -> Result<Self, KafkaError> {
        let producer: FutureProducer = settings
            .client_config()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", limits.linger.as_millis().to_string())
            .set("compression.type", "lz4")
            .set(
                "queue.buffering.max.messages",
                limits.queue_max_messages.to_string(),
            )
            .set(
                "message.timeout.ms",
                limits.delivery_timeout.as_millis().to_string(),
            )
            .create()?;
        let topic = settings.topics().reads;
        let partitions = {
            let producer = producer.clone();
            let topic = topic.clone();
            tokio::task::spawn_blocking(move || partition_count(producer.client(), &topic))
                .await
                .map_err(|_| KafkaError::Canceled)??
        };
        Ok(Self {
            producer,
            topic,
            partitions,
        })
    }

    /// Returns the partition of a read: by normalised plate, or by read id for reads without one.
    pub fn partition_of(&self, read: &CameraRead) -> i32 {
        let key = if read.plate.normalised.is_empty() {
            read.read_id.as_bytes()
        } else {
            read.plate.normalised.as_bytes()
        };
        partition_for_key(key, self.partitions)
    }

    /// Publishes reads and waits for every acknowledgement. Returns one result per read, in
    /// order, so a batch can report each line on its own.
    pub async fn publish_all<'r>(
        &self,
        reads: impl IntoIterator<Item = &'r CameraRead>,
    ) -> Vec<Result<(), PublishError>> {
        let pending: Vec<_> = reads.into_iter().map(|read| self.enqueue(read)).collect();
        join_all(pending.into_iter().map(|enqueued| async move {
            let delivery = enqueued?;
            match delivery.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((error, _))) => Err(PublishError::Kafka(error)),
                Err(_canceled) => Err(PublishError::Kafka(KafkaError::Canceled)),
            }
        }))
        .await
    }

    /// Publishes one read and waits for its acknowledgement.
    pub async fn publish(&self, read: &CameraRead) -> Result<(), PublishError> {
        let mut results = self.publish_all(std::slice::from_ref(read)).await;
        results
            .pop()
            .unwrap_or(Err(PublishError::Kafka(KafkaError::Canceled)))
    }

    fn enqueue(
        &self,
        read: &CameraRead,
    ) -> Result<rdkafka::producer::DeliveryFuture, PublishError> {
        let payload = encode(read)?;
        let record = FutureRecord::to(&self.topic)
            .key(read.read_id.as_bytes())
            .payload(&payload)
            .partition(self.partition_of(read));
        self.producer
            .send_result(record)
            .map_err(|(error, _)| match error {
                KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull) => {
                    PublishError::QueueFull
                }
                other => PublishError::Kafka(other),
            })
    }

    /// Waits until every record in flight is acknowledged or `timeout` passes.
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.producer.flush(timeout)
    }

    pub fn producer(&self) -> &FutureProducer {
        &self.producer
    }
}
