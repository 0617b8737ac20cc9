use rdkafka::error::KafkaError;

use alpr_schemas::CodecError;

/// Errors of writing and reading the audit topic.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("{0}")]
    Codec(#[from] CodecError),
    #[error("audit event {event_id} was not acknowledged by the broker: {source}")]
    NotAcknowledged {
        event_id: String,
        #[source]
        source: KafkaError,
    },
    #[error("invalid audit event: {field} {problem}")]
    InvalidEvent {
        field: &'static str,
        problem: &'static str,
    },
    #[error("reading partition {partition} of {topic} made no progress for {seconds} s")]
    ReadTimedOut {
        topic: String,
        partition: i32,
        seconds: u64,
    },
    #[error("kafka client thread panicked")]
    ThreadPanicked,
}

impl AuditError {
    /// Tells whether the same call may succeed later: broker trouble may pass, a bad event does
    /// not.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Kafka(_) | Self::NotAcknowledged { .. } | Self::ReadTimedOut { .. } => true,
            Self::Codec(_) | Self::InvalidEvent { .. } | Self::ThreadPanicked => false,
        }
    }
}
