//! Reads one list's current entries from the compacted hotlist topic.
//!
//! The topic is read from the beginning of every partition up to the end offsets it had when the
//! read started. The consumer group is a throw-away one and commits no offsets, because the
//! import needs the whole current state every time, not a position to resume from. Records produced while the
//! read runs are ignored, which is why the end offsets are fixed first.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use alpr_platform::kafka::{is_leader_moving, partition_count, watermarks};
use alpr_platform::KafkaSettings;
use alpr_schemas::{HotlistEntry, HotlistImport};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use crate::error::ImportError;

/// How long one `poll` waits for a record.
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// How long the reader waits without any record or end-of-partition event before giving up.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long metadata and offset requests are repeated while the topic is still settling.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between two such requests.
const SETTLE_RETRY_INTERVAL: Duration = Duration::from_millis(250);

/// The latest record of one key, kept undecoded until the whole topic is read, so that only the
/// value that counts is decoded and an old undecodable value that was since overwritten does not
/// stop the import.
struct LatestRecord {
    partition: i32,
    offset: i64,
    /// `None` for a tombstone.
    payload: Option<Vec<u8>>,
}

/// Returns the entries of `list` on the hotlist topic, keyed by record key, as of the time of the
/// call: the latest value of each key, without keys whose latest value is a tombstone.
///
/// Fails with [`ImportError::UndecodableRecord`] when the latest value of any key, of any list,
/// does not decode, because that record might belong to `list` and need a tombstone.
pub async fn read_current_list(
    settings: &KafkaSettings,
    list: &str,
) -> Result<HashMap<String, HotlistEntry>, ImportError> {
    let settings = settings.clone();
    let list = list.to_string();
    // librdkafka's poll blocks its thread, so the read runs off the async workers.
    tokio::task::spawn_blocking(move || read_current_list_blocking(&settings, &list)).await?
}

fn read_current_list_blocking(
    settings: &KafkaSettings,
    list: &str,
) -> Result<HashMap<String, HotlistEntry>, ImportError> {
    let topic = settings.topics().hotlist;
    let consumer: BaseConsumer = settings
        .client_config()
        .set(
            "group.id",
            format!("alpr-hotlist-import-{}", uuid::Uuid::new_v4()),
        )
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .create()
        .map_err(kafka_error("create the hotlist consumer"))?;
    let partitions = retry_while_settling("fetch hotlist topic metadata", || {
        partition_count(consumer.client(), &topic)
    })?;

    // Exclusive end offset of each partition that still has records to read.
    let mut end_offsets: HashMap<i32, i64> = HashMap::new();
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        let (low, high) = watermarks(consumer.client(), &topic, partition)
            .map_err(kafka_error("fetch hotlist topic offsets"))?;
        if high > low {
            end_offsets.insert(partition, high);
            assignment
                .add_partition_offset(&topic, partition, Offset::Beginning)
                .map_err(kafka_error("assign hotlist partitions"))?;
        }
    }
    if assignment.count() > 0 {
        consumer
            .assign(&assignment)
            .map_err(kafka_error("assign hotlist partitions"))?;
    }

    let latest = read_until_end(&consumer, &topic, end_offsets)?;
    let records_read = latest.len();
    let entries = decode_list(&topic, list, latest)?;
    tracing::info!(%topic, list, partitions, keys = records_read, entries = entries.len(), "current hotlist read");
    Ok(entries)
}

/// Polls until every partition reached its end offset, keeping the latest record per key.
fn read_until_end(
    consumer: &BaseConsumer,
    topic: &str,
    mut end_offsets: HashMap<i32, i64>,
) -> Result<HashMap<String, LatestRecord>, ImportError> {
    let mut latest = HashMap::new();
    let mut skipped_keys = 0_u64;
    let mut last_progress = Instant::now();
    while !end_offsets.is_empty() {
        let message = match consumer.poll(POLL_INTERVAL) {
            None => {
                if last_progress.elapsed() >= IDLE_TIMEOUT {
                    let (&partition, &end_offset) = end_offsets.iter().min().unwrap_or((&-1, &-1));
                    return Err(ImportError::ReadTimedOut {
                        topic: topic.to_string(),
                        partition,
                        end_offset,
                    });
                }
                continue;
            }
            // Compaction leaves gaps, and transaction markers are never delivered, so the last
            // record of a partition may sit below its end offset. The end-of-partition event
            // covers both.
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                end_offsets.remove(&partition);
                last_progress = Instant::now();
                continue;
            }
            Some(Err(error)) => return Err(kafka_error("read the hotlist topic")(error)),
            Some(Ok(message)) => message,
        };
        last_progress = Instant::now();
        let partition = message.partition();
        let Some(&end_offset) = end_offsets.get(&partition) else {
            continue;
        };
        if message.offset() >= end_offset {
            end_offsets.remove(&partition);
            continue;
        }
        if message.offset() + 1 >= end_offset {
            end_offsets.remove(&partition);
        }
        // No alpr writer produces a record without a UTF-8 key, so such a record is not an
        // entry that this import would have to tombstone by its entry id.
        let Some(key) = message.key().and_then(|key| std::str::from_utf8(key).ok()) else {
            skipped_keys += 1;
            continue;
        };
        // NOTE: each key lives on one partition as long as every producer uses the same
        // partitioner and the partition count never changes. If a key did appear on two
        // partitions, the partition read last would win, which may not be the newer value.
        latest.insert(
            key.to_string(),
            LatestRecord {
                partition,
                offset: message.offset(),
                payload: message.payload().map(<[u8]>::to_vec),
            },
        );
    }
    if skipped_keys > 0 {
        tracing::warn!(
            topic,
            records = skipped_keys,
            "skipped hotlist records without a UTF-8 key"
        );
    }
    Ok(latest)
}

/// Decodes the latest values and keeps those of `list`.
fn decode_list(
    topic: &str,
    list: &str,
    latest: HashMap<String, LatestRecord>,
) -> Result<HashMap<String, HotlistEntry>, ImportError> {
    let mut entries = HashMap::new();
    for (key, record) in latest {
        let Some(payload) = record.payload else {
            continue;
        };
        // Import records share the topic; they are written after the entries, never diffed.
        if HotlistImport::list_of_key(&key).is_some() {
            continue;
        }
        let entry: HotlistEntry =
            alpr_schemas::decode(&payload).map_err(|source| ImportError::UndecodableRecord {
                topic: topic.to_string(),
                partition: record.partition,
                offset: record.offset,
                source,
            })?;
        if entry.list == list {
            entries.insert(key, entry);
        }
    }
    Ok(entries)
}

/// Repeats `request` while the broker reports a topic or partition leader it does not know yet.
/// Right after `ensure_topics` created the topic, the broker returns such errors for a moment,
/// until the new partitions have leaders.
fn retry_while_settling<T>(
    action: &'static str,
    mut request: impl FnMut() -> Result<T, KafkaError>,
) -> Result<T, ImportError> {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let error = match request() {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let settling = is_leader_moving(&error)
            || matches!(
                error.rdkafka_error_code(),
                Some(
                    RDKafkaErrorCode::UnknownTopicOrPartition
                        | RDKafkaErrorCode::UnknownTopic
                        | RDKafkaErrorCode::UnknownPartition
                )
            );
        if !settling || Instant::now() >= deadline {
            return Err(kafka_error(action)(error));
        }
        tracing::debug!(action, error = %error, "hotlist topic not ready, retrying");
        std::thread::sleep(SETTLE_RETRY_INTERVAL);
    }
}

fn kafka_error(action: &'static str) -> impl FnOnce(KafkaError) -> ImportError {
    move |source| ImportError::Kafka { action, source }
}
