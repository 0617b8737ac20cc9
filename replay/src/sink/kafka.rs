//! Validates reads as ingest does and publishes them straight to the reads topic, for loading
//! a broker without running ingest's HTTP server.

use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use futures::StreamExt;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use alpr_images::{image_key, ImageMediaType, ImageStore};
use alpr_ingest::publisher::{PublishError, PublisherLimits, ReadPublisher};
use alpr_ingest::validate::{validate_submission, ValidationLimits};
use alpr_platform::{ensure_topics, KafkaSettings};
use alpr_schemas::CameraRead;

use super::{BatchOutcome, LineRejection, NumberedSubmission, ReadSink, RetryPolicy, SinkError};
use crate::sink::http::DEFAULT_BATCH_SIZE;

/// The `source` of every read this sink publishes, which distinguishes replayed reads from
/// camera traffic.
pub const REPLAY_SOURCE: &str = "replay";

/// Settings of the Kafka sink: the owning organisation, batching, validation and retries.
#[derive(Debug, Clone)]
pub struct KafkaSinkConfig {
    /// Owner of the replayed cameras, which ingest would take from the sender's credentials.
    pub organisation_id: String,
    /// Reads per call to the publisher.
    pub batch_size: usize,
    /// How far in the future a read may be, as in ingest's validation.
    pub max_clock_skew: chrono::Duration,
    /// Pauses while the producer queue is full.
    pub retry: RetryPolicy,
    /// A store in which to put a generated placeholder JPEG for every read, with the read's
    /// `image_ref` naming it, as ingest does for a camera image. Recorded data sets carry no
    /// images, so this is how a replay exercises image storage and deletion.
    pub placeholder_images: Option<ImageStore>,
}

/// A minimal JPEG (start-of-image marker, a JFIF header, end-of-image marker): enough for the
/// image store and its signature check, and not a picture of anything.
pub const PLACEHOLDER_JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00, 0x01,
    0x00, 0x01, 0x00, 0x00, 0xFF, 0xD9,
];

/// Placeholder images written to the store at the same time.
const MAX_CONCURRENT_IMAGE_WRITES: usize = 32;

impl KafkaSinkConfig {
    pub fn new(organisation_id: impl Into<String>) -> Self {
        Self {
            organisation_id: organisation_id.into(),
            batch_size: DEFAULT_BATCH_SIZE,
            max_clock_skew: chrono::Duration::minutes(5),
            retry: RetryPolicy {
                initial_delay: Duration::from_millis(50),
                max_delay: Duration::from_secs(2),
                max_attempts: 30,
            },
            placeholder_images: None,
        }
    }
}

/// Publishes validated reads with ingest's [`ReadPublisher`]: acknowledged by all in-sync
/// replicas, keyed by read id and partitioned by plate, exactly as ingest would.
pub struct KafkaSink {
    publisher: ReadPublisher,
    config: KafkaSinkConfig,
}

impl KafkaSink {
    /// Creates the project's topics where missing, then connects the publisher.
    pub async fn connect(
        settings: &KafkaSettings,
        config: KafkaSinkConfig,
    ) -> Result<Self, SinkError> {
        ensure_topics(settings).await?;
        let publisher = ReadPublisher::connect(settings, PublisherLimits::default()).await?;
        tracing::info!(
            bootstrap_servers = %settings.bootstrap_servers,
            topic = %settings.topics().reads,
            organisation_id = %config.organisation_id,
            "kafka sink connected"
        );
        Self::from_publisher(publisher, config)
    }

    /// Wraps a publisher the caller has already connected.
    pub fn from_publisher(
        publisher: ReadPublisher,
        config: KafkaSinkConfig,
    ) -> Result<Self, SinkError> {
        if config.batch_size == 0 {
            return Err(SinkError::Config("batch size must be at least 1".into()));
        }
        if config.organisation_id.trim().is_empty() {
            return Err(SinkError::Config(
                "organisation id must not be empty".into(),
            ));
        }
        Ok(Self { publisher, config })
    }
}

impl ReadSink for KafkaSink {
    fn batch_size(&self) -> usize {
        self.config.batch_size
    }

    async fn send_batch(
        &mut self,
        batch: Vec<NumberedSubmission>,
    ) -> Result<BatchOutcome, SinkError> {
        let mut outcome = BatchOutcome::default();
        let limits = ValidationLimits {
            max_clock_skew: self.config.max_clock_skew,
        };
        let now = Utc::now();
        let mut pending: Vec<(u64, CameraRead)> = Vec::with_capacity(batch.len());
        for (line, submission) in batch {
            let validated = validate_submission(
                submission,
                &self.config.organisation_id,
                REPLAY_SOURCE,
                now,
                limits,
            );
            match validated {
                Ok(read) => pending.push((line, read)),
                Err(rejection) => {
                    tracing::debug!(
                        line,
                        reason = rejection.reason.as_label(),
                        "read failed validation"
                    );
                    outcome.rejected.push(LineRejection {
                        line,
                        message: rejection.to_string(),
                    });
                }
            }
        }

        if let Some(images) = &self.config.placeholder_images {
            store_placeholder_images(images, &mut pending).await?;
        }

        let mut attempts_without_progress = 0;
        while !pending.is_empty() {
            let reads: Vec<CameraRead> = pending.iter().map(|(_, read)| read.clone()).collect();
            let results = self.publisher.publish_all(&reads).await;
            let settled_before = outcome.accepted + outcome.rejected.len() as u64;
            let mut queue_full = Vec::new();
            for ((line, read), result) in pending.into_iter().zip(results) {
                match result {
                    Ok(()) => {
                        outcome.accepted += 1;
                        outcome.read_ids += 1;
                    }
                    Err(PublishError::QueueFull) => queue_full.push((line, read)),
                    Err(PublishError::Kafka(error)) if !is_record_error(&error) => {
                        return Err(SinkError::Kafka(error));
                    }
                    Err(error) => {
                        tracing::debug!(line, %error, "read could not be published");
                        outcome.rejected.push(LineRejection {
                            line,
                            message: error.to_string(),
                        });
                    }
                }
            }
            pending = queue_full;
            if pending.is_empty() {
                break;
            }
            if outcome.accepted + outcome.rejected.len() as u64 > settled_before {
                attempts_without_progress = 0;
            }
            attempts_without_progress += 1;
            if attempts_without_progress >= self.config.retry.max_attempts {
                return Err(SinkError::RetriesExhausted {
                    attempts: attempts_without_progress,
                    last_error: PublishError::QueueFull.to_string(),
                });
            }
            let delay = self.config.retry.delay(attempts_without_progress);
            tracing::warn!(
                attempt = attempts_without_progress,
                delay_ms = delay.as_millis() as u64,
                reads = pending.len(),
                "producer queue is full, publishing the remaining reads after a pause"
            );
            tokio::time::sleep(delay).await;
        }
        Ok(outcome)
    }
}

/// Stores a placeholder image for every read and sets its `image_ref`, before the reads are
/// published, in the order ingest keeps.
async fn store_placeholder_images(
    images: &ImageStore,
    reads: &mut [(u64, CameraRead)],
) -> Result<(), SinkError> {
    let keys: Vec<String> = reads
        .iter()
        .map(|(_, read)| {
            image_key(
                &read.organisation_id,
                alpr_schemas::from_micros(read.captured_at),
                &read.read_id,
                ImageMediaType::Jpeg,
            )
        })
        .collect();
    // Each future owns its key and store handle, so the stream is `Send` as `send_batch` needs.
    let results: Vec<_> = futures::stream::iter(keys.clone())
        .map(|key| {
            let images = images.clone();
            async move { images.put(&key, Bytes::from_static(PLACEHOLDER_JPEG)).await }
        })
        .buffered(MAX_CONCURRENT_IMAGE_WRITES)
        .collect()
        .await;
    for (((_, read), key), result) in reads.iter_mut().zip(keys).zip(results) {
        result?;
        read.image_ref = Some(key);
    }
    Ok(())
}

/// Returns true for failures of one record that sending it again cannot fix, such as a record
/// above the broker's size limit. Other Kafka failures (an unreachable broker, a timed-out
/// delivery) stop the replay, because they would fail every later read too.
fn is_record_error(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessage
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::InvalidRecord
        )
    )
}
