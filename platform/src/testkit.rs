//! Helpers for integration tests against the local broker started by `deploy/local/kafka.sh`.
//! Each test gets its own topic prefix, so tests never see each other's records.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

use crate::kafka::{ensure_topics, KafkaSettings};

/// One record as a test reads it back.
#[derive(Debug, Clone)]
pub struct TestRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    /// `None` for a tombstone.
    pub payload: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl TestRecord {
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_slice())
    }
}

/// Returns the broker address from `ALPR_KAFKA_BOOTSTRAP`, or the local script's default.
pub fn bootstrap_servers() -> String {
    std::env::var("ALPR_KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

/// Returns settings with a fresh topic prefix for `test_name`, its topics already created.
pub async fn fresh_settings(test_name: &str) -> KafkaSettings {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let settings = KafkaSettings {
        bootstrap_servers: bootstrap_servers(),
        topic_prefix: format!("test.{test_name}.{}.", &suffix[..8]),
        partitions: 3,
        ..KafkaSettings::default()
    };
    ensure_topics(&settings)
        .await
        .unwrap_or_else(|error| panic!("cannot create test topics (is the local broker running? start it with deploy/local/kafka.sh start): {error}"));
    settings
}

/// Reads `topic` from the beginning up to its end as of the call, with read-committed isolation.
pub async fn read_topic(settings: &KafkaSettings, topic: &str) -> Vec<TestRecord> {
    let settings = settings.clone();
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || read_topic_blocking(&settings, &topic))
        .await
        .expect("reader thread panicked")
}

fn read_topic_blocking(settings: &KafkaSettings, topic: &str) -> Vec<TestRecord> {
    let consumer: BaseConsumer = settings
        .client_config()
        .set("group.id", format!("testkit-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .expect("create test consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("fetch metadata");
    let partitions: Vec<i32> = metadata.topics()[0]
        .partitions()
        .iter()
        .map(|partition| partition.id())
        .collect();

    let mut assignment = TopicPartitionList::new();
    let mut ends = HashMap::new();
    for &partition in &partitions {
        let (_, high) = crate::kafka::watermarks(consumer.client(), topic, partition)
            .expect("fetch watermarks");
        ends.insert(partition, high);
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .expect("add partition");
    }
    consumer.assign(&assignment).expect("assign");

    let mut records = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let position = consumer.position().expect("position");
        let done = ends.iter().all(|(&partition, &end)| {
            match position
                .find_partition(topic, partition)
                .map(|p| p.offset())
            {
                Some(Offset::Offset(offset)) => offset >= end,
                _ => end == 0,
            }
        });
        if done {
            return records;
        }
        assert!(
            Instant::now() < deadline,
            "timed out reading {topic} to its end"
        );
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => records.push(TestRecord {
                partition: message.partition(),
                offset: message.offset(),
                key: message.key().map(<[u8]>::to_vec),
                payload: message.payload().map(<[u8]>::to_vec),
                headers: message
                    .headers()
                    .map(|headers| {
                        headers
                            .iter()
                            .map(|header| {
                                (
                                    header.key.to_string(),
                                    header.value.unwrap_or_default().to_vec(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }),
            Some(Err(error)) => panic!("consume {topic}: {error}"),
            None => {}
        }
    }
}

/// Polls `read_topic` until `condition` holds for the records, or panics after `timeout`.
pub async fn wait_for_records(
    settings: &KafkaSettings,
    topic: &str,
    timeout: Duration,
    condition: impl Fn(&[TestRecord]) -> bool,
) -> Vec<TestRecord> {
    let deadline = Instant::now() + timeout;
    loop {
        let records = read_topic(settings, topic).await;
        if condition(&records) {
            return records;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting on {topic}; it has {} records",
            records.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
