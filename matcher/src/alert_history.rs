//! Reads the recently committed alerts back from the alert topic, so a starting matcher can
//! restore its suppression state from the same transactions that committed its offsets.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::ClientContext;
use rdkafka::{Offset, TopicPartitionList};

use alpr_platform::kafka::watermarks;
use alpr_platform::KafkaSettings;
use alpr_schemas::{decode, Alert};

/// Bound on each metadata, offset and watermark request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Client context that logs client errors like the default one, except the end-of-partition
/// events this reader asks for, which are not errors here.
struct EndOfPartitionIsExpected;

impl ClientContext for EndOfPartitionIsExpected {
    fn error(&self, error: KafkaError, reason: &str) {
        if matches!(error, KafkaError::PartitionEOF(_)) {
            tracing::debug!(%reason, "alert history reached the end of a partition");
        } else {
            tracing::error!(%error, %reason, "alert history kafka client error");
        }
    }
}

impl ConsumerContext for EndOfPartitionIsExpected {}

#[derive(Debug, thiserror::Error)]
pub enum AlertHistoryError {
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("alert topic {topic} did not reach its end within {seconds} s")]
    TimedOut { topic: String, seconds: u64 },
}

/// Returns every committed alert stamped at or after `since`, from all partitions of the alert
/// topic, in partition order. Alerts that do not decode are skipped with a warning: suppression
/// then errs towards one alert too many, never one too few. Blocks the calling thread.
pub fn committed_alerts_since(
    kafka: &KafkaSettings,
    since: SystemTime,
    timeout: Duration,
) -> Result<Vec<Alert>, AlertHistoryError> {
    let topic = kafka.topics().alerts;
    let consumer: BaseConsumer<EndOfPartitionIsExpected> = kafka
        .client_config()
        .set(
            "group.id",
            format!("{}alpr-matcher-alert-history", kafka.topic_prefix),
        )
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .create_with_context(EndOfPartitionIsExpected)?;
    let partitions = alpr_platform::kafka::partition_count(consumer.client(), &topic)?;
    let since_ms = since
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        });
    let mut query = TopicPartitionList::new();
    for partition in 0..partitions {
        query.add_partition_offset(&topic, partition, Offset::Offset(since_ms))?;
    }
    let starts = consumer.offsets_for_times(query, REQUEST_TIMEOUT)?;

    // For a partition with no alert since then, Kafka returns the end offset, so it is left out.
    let mut assignment = TopicPartitionList::new();
    let mut ends = HashMap::new();
    for element in starts.elements() {
        let Offset::Offset(start) = element.offset() else {
            continue;
        };
        let (_, high) = watermarks(consumer.client(), &topic, element.partition())?;
        if start < high {
            assignment.add_partition_offset(&topic, element.partition(), Offset::Offset(start))?;
            ends.insert(element.partition(), high);
        }
    }
    if ends.is_empty() {
        return Ok(Vec::new());
    }
    consumer.assign(&assignment)?;

    let deadline = Instant::now() + timeout;
    let mut alerts = Vec::new();
    let mut undecodable = 0_u64;
    while !ends.is_empty() {
        if Instant::now() > deadline {
            return Err(AlertHistoryError::TimedOut {
                topic,
                seconds: timeout.as_secs(),
            });
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => match message.payload().map(decode::<Alert>) {
                Some(Ok(alert)) => alerts.push(alert),
                Some(Err(_)) | None => undecodable += 1,
            },
            // The end-of-partition event comes at the last committed offset, which the
            // position alone may not show when a transaction marker is the last record.
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                ends.remove(&partition);
            }
            Some(Err(error)) => tracing::warn!(%error, %topic, "alert history consume error"),
            None => {}
        }
        forget_reached(&consumer, &topic, &mut ends)?;
    }
    if undecodable > 0 {
        tracing::warn!(%topic, records = undecodable, "skipped undecodable records in alert history");
    }
    Ok(alerts)
}

/// Removes the partitions whose consumer position passed their end offset.
fn forget_reached(
    consumer: &BaseConsumer<EndOfPartitionIsExpected>,
    topic: &str,
    ends: &mut HashMap<i32, i64>,
) -> Result<(), KafkaError> {
    let position = consumer.position()?;
    ends.retain(|&partition, &mut end| {
        !matches!(
            position.find_partition(topic, partition).map(|entry| entry.offset()),
            Some(Offset::Offset(offset)) if offset >= end
        )
    });
    Ok(())
}
