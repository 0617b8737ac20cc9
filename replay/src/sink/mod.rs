//! Destinations of replayed reads: ingest's HTTP endpoint, or the reads topic directly.

mod http;
mod kafka;

use std::future::Future;
use std::time::Duration;

use alpr_ingest::submission::ReadSubmission;

pub use http::{HttpSink, HttpSinkConfig, DEFAULT_BASE_URL, DEFAULT_BATCH_SIZE};
pub use kafka::{KafkaSink, KafkaSinkConfig, PLACEHOLDER_JPEG, REPLAY_SOURCE};

/// A read on its way to a sink, with the file line it came from.
pub type NumberedSubmission = (u64, ReadSubmission);

/// Somewhere reads can be sent in batches.
pub trait ReadSink: Send {
    /// Reads the replay collects before calling [`ReadSink::send_batch`].
    fn batch_size(&self) -> usize;

    /// Sends a batch and returns once every read in it is accepted or rejected for good.
    ///
    /// Transient failures (a full queue, a lost connection) are retried inside. An error means
    /// the replay cannot go on, and some reads of the batch may have been accepted before it.
    fn send_batch(
        &mut self,
        batch: Vec<NumberedSubmission>,
    ) -> impl Future<Output = Result<BatchOutcome, SinkError>> + Send;
}

/// What became of one batch.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BatchOutcome {
    pub accepted: u64,
    /// Read ids the sink returned for accepted reads. Equal to `accepted` unless ingest
    /// returns no ids.
    pub read_ids: u64,
    /// Reads rejected for good, such as reads that fail validation. They are not sent again.
    pub rejected: Vec<LineRejection>,
}

/// A read that the sink rejected, by its file line.
#[derive(Debug, Clone, PartialEq)]
pub struct LineRejection {
    pub line: u64,
    pub message: String,
}

/// Failure of a sink that stops the replay.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("ingest rejected the token with status {status}: {message}; check the token")]
    Unauthorized { status: u16, message: String },
    #[error("ingest rejected the request with status {status}: {message}")]
    Request { status: u16, message: String },
    #[error(
        "gave up after {attempts} attempts in a row without progress; last error: {last_error}"
    )]
    RetriesExhausted { attempts: u32, last_error: String },
    #[error("unexpected answer from ingest: {0}")]
    Protocol(String),
    #[error("invalid sink setting: {0}")]
    Config(String),
    #[error("cannot create the http client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("cannot encode a read as JSON: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("kafka failed: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("image store failed: {0}")]
    Images(#[from] alpr_images::ImageStoreError),
}

/// Capped exponential backoff for transient failures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Pause before the first retry. Each later retry doubles it.
    pub initial_delay: Duration,
    /// Maximum pause between two attempts, also when ingest requests more with `Retry-After`.
    pub max_delay: Duration,
    /// Attempts in a row that make no progress before the replay gives up. Any accepted or
    /// rejected read resets the count, so a slow but working ingest never exhausts it.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    /// Gives up after about two and a half minutes without progress.
    fn default() -> Self {
        Self {
            initial_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
            max_attempts: 12,
        }
    }
}

impl RetryPolicy {
    /// Returns the pause after failed attempt number `attempt` (1 for the first failure).
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.initial_delay
            .saturating_mul(1_u32 << doublings)
            .min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_caps() {
        let policy = RetryPolicy {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_attempts: 5,
        };
        assert_eq!(policy.delay(1), Duration::from_millis(100));
        assert_eq!(policy.delay(2), Duration::from_millis(200));
        assert_eq!(policy.delay(4), Duration::from_millis(800));
        assert_eq!(policy.delay(5), Duration::from_secs(1));
        assert_eq!(policy.delay(200), Duration::from_secs(1));
    }
}
