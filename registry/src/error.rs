//! Errors of the registry: what a caller can fix, and what a retry can fix.

use alpr_schemas::CodecError;
use rdkafka::error::KafkaError;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A change or a command-line value is wrong; retrying the same request fails again.
    #[error("invalid {field}: {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
    /// A grant that a configured jurisdiction rule forbids; retrying fails again.
    #[error("grant refused by jurisdiction rule {rule:?}: {problem}")]
    RejectedByRule { rule: String, problem: String },
    /// A key on the registry topic that names no known kind of entry. Another writer put it
    /// there; readers skip it.
    #[error("invalid registry key {key:?}: {problem}")]
    Key { key: String, problem: String },
    /// The record under a key does not decode, or contains another kind of entry than the key
    /// names. Readers skip it.
    #[error("invalid registry record under key {key:?}: {problem}")]
    Record { key: String, problem: String },
    #[error("invalid registry record: {0}")]
    Codec(#[from] CodecError),
    /// The broker could not be reached or rejected the request; a retry may succeed.
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// The operating system's random number source failed, so no token could be made.
    #[error("cannot generate a token: the operating system's random source failed: {0}")]
    Random(String),
    #[error("kafka client thread panicked")]
    ThreadPanicked,
}

impl RegistryError {
    /// Tells whether the same request may succeed later, because the failure was the broker's
    /// and not the request's.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Kafka(_) | Self::ThreadPanicked)
    }
}
