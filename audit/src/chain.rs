//! The hash of one event and the last hash of a partition.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use sha2::{Digest, Sha256};

use alpr_platform::KafkaSettings;
use alpr_schemas::{decode, encode, encode_as_written, AuditEvent, CodecError};

/// How many records before the end of a partition are searched for the last audit event.
const TAIL_WINDOW: i64 = 100;

/// Returns the hex SHA-256 over the event's Avro encoding (current schema, single-object
/// framing) with an empty `hash`, which covers `previous_hash` and every other field.
pub fn event_hash(event: &AuditEvent) -> Result<String, CodecError> {
    let mut unhashed = event.clone();
    unhashed.hash = String::new();
    Ok(hex_sha256(&encode(&unhashed)?))
}

/// Returns the hash of `event` as its writer computed it: over its encoding with the schema
/// that wrote `written`, the record's bytes on the topic. Equals [`event_hash`] for events
/// written with the current schema; events of an older schema version carry that version's
/// fingerprint in the hashed bytes.
pub fn event_hash_as_written(event: &AuditEvent, written: &[u8]) -> Result<String, CodecError> {
    let mut unhashed = event.clone();
    unhashed.hash = String::new();
    Ok(hex_sha256(&encode_as_written(&unhashed, written)?))
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Returns the hash of the last audit event in `partition` of `topic`, or an empty string when
/// the partition has none. Only the last 100 records are searched, so a partition whose tail is
/// all foreign records starts a new chain. Blocks the calling thread.
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
    let (low, high) = alpr_platform::kafka::watermarks(consumer.client(), topic, partition)?;
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
        // The position, not the last record's offset, decides the end: transaction markers
        // take offsets that no record is returned for.
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
    use crate::test_events::event;

    #[test]
    fn hash_covers_previous_hash_and_fields() {
        let first = event("detective-1", 0);
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

    #[test]
    fn hash_as_written_equals_hash_for_current_schema() {
        let mut first = event("detective-1", 0);
        first.hash = event_hash(&first).unwrap();
        let bytes = encode(&first).unwrap();
        assert_eq!(event_hash_as_written(&first, &bytes).unwrap(), first.hash);
    }
}
