//! Audit events of hold changes, chained by hash.
//!
//! Events are keyed by actor, and each goes to the partition Kafka's default partitioner picks
//! for that key. An event's `previous_hash` is the `hash` of the last event in its partition, so
//! the events of one partition form one chain and a removed event breaks it.
//!
//! NOTE: two writers appending to the same partition at the same moment can both chain onto the
//! same predecessor. The chain then forks, which a verifier reports as a break; a single audit
//! writer per partition would avoid it.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use sha2::{Digest, Sha256};

use alpr_platform::KafkaSettings;
use alpr_schemas::{decode, encode, AuditEvent, CodecError};

/// How many records before the end of a partition are searched for the last audit event.
const TAIL_WINDOW: i64 = 100;

/// Returns the hex SHA-256 over the event's Avro encoding with an empty `hash`, which covers
/// `previous_hash` and every other field.
pub fn event_hash(event: &AuditEvent) -> Result<String, CodecError> {
    let mut unhashed = event.clone();
    unhashed.hash = String::new();
    let bytes = encode(&unhashed)?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

/// Returns the hash of the last audit event in `partition` of `topic`, or an empty string when
/// the partition has none. Blocks the calling thread.
pub fn last_hash_in_partition(
    kafka: &KafkaSettings,
    topic: &str,
    partition: i32,
) -> Result<String, KafkaError> {
    let consumer: BaseConsumer = kafka
        .client_config()
        .set(
            "group.id",
            format!("{}alpr-audit-chain", kafka.topic_prefix),
        )
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()?;
    let (low, high) = consumer.fetch_watermarks(topic, partition, Duration::from_secs(10))?;
    if high <= low {
        return Ok(String::new());
    }
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(
        topic,
        partition,
        Offset::Offset((high - TAIL_WINDOW).max(low)),
    )?;
    consumer.assign(&assignment)?;

    let mut last_hash = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let position = consumer
            .position()?
            .find_partition(topic, partition)
            .map(|entry| entry.offset());
        if matches!(position, Some(Offset::Offset(offset)) if offset >= high) {
            return Ok(last_hash);
        }
        if Instant::now() > deadline {
            return Err(KafkaError::MessageConsumption(
                rdkafka::types::RDKafkaErrorCode::OperationTimedOut,
            ));
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                if let Some(Ok(event)) = message.payload().map(decode::<AuditEvent>) {
                    last_hash = event.hash;
                }
            }
            Some(Err(error)) => return Err(error),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use alpr_schemas::AuditAction;

    fn event() -> AuditEvent {
        AuditEvent {
            event_id: uuid::Uuid::new_v4().to_string(),
            actor: "detective-1".into(),
            organisation_id: "spd".into(),
            occurred_at: 1_636_934_400_000_000,
            action: AuditAction::HoldPlaced,
            case_number: Some("2021-123".into()),
            purpose: Some("burglary".into()),
            query: None,
            result_count: Some(2),
            previous_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn hash_covers_previous_hash_and_fields() {
        let first = event();
        let base = event_hash(&first).unwrap();
        let mut chained = first.clone();
        chained.previous_hash = "ab".into();
        assert_ne!(event_hash(&chained).unwrap(), base);
        let mut edited = first.clone();
        edited.result_count = Some(3);
        assert_ne!(event_hash(&edited).unwrap(), base);
        let mut with_hash = first.clone();
        with_hash.hash = base.clone();
        assert_eq!(event_hash(&with_hash).unwrap(), base, "hash ignores itself");
    }
}
