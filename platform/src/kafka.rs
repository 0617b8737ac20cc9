//! Kafka client settings, topic names and topic creation.
//!
//! alpr never relies on broker auto-creation: each component calls [`ensure_topics`] at start,
//! which creates missing topics with their cleanup policy and leaves existing ones alone.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use serde::{Deserialize, Serialize};

/// Kafka connection settings and the settings of topics this project creates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSettings {
    /// Comma-separated `host:port` list.
    pub bootstrap_servers: String,
    /// Prefix put before every topic name, so several deployments or tests can share a cluster.
    pub topic_prefix: String,
    /// Partitions of topics this project creates. Reads are spread by plate, so this bounds how
    /// many matcher instances can share the work.
    pub partitions: i32,
    /// Replication factor of topics this project creates; 3 on a production cluster.
    pub replication_factor: i32,
    /// How long `alpr.alerts.v1` keeps alerts, in milliseconds.
    pub alerts_retention_ms: i64,
    /// How long `alpr.reads.raw` keeps vendor payloads, in milliseconds.
    pub raw_retention_ms: i64,
    /// Extra librdkafka settings passed to every client, such as `security.protocol`,
    /// `sasl.mechanism` or `ssl.ca.location`.
    pub client: BTreeMap<String, String>,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        Self {
            bootstrap_servers: "127.0.0.1:9092".into(),
            topic_prefix: String::new(),
            partitions: 6,
            replication_factor: 1,
            alerts_retention_ms: 7 * 24 * 3600 * 1000,
            raw_retention_ms: 24 * 3600 * 1000,
            client: BTreeMap::new(),
        }
    }
}

impl KafkaSettings {
    /// Returns a client configuration with the bootstrap servers and the extra settings.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap_servers);
        for (key, value) in &self.client {
            config.set(key, value);
        }
        config
    }

    /// Returns [`Self::client_config`] with the settings every consumer that drains a topic in
    /// bulk needs.
    ///
    /// librdkafka stops fetching for a partition whose local queue is full and then waits
    /// `fetch.queue.backoff.ms`, one second by default in librdkafka 2.x, before fetching again.
    /// alpr's consumers empty that queue in far less than a second, so with the default they sat
    /// idle: a 10 M-entry hotlist load was idle two thirds of the time and took 77 s instead of
    /// 26 s, and a matcher catching up on 300,000 reads stalled a second at random.
    pub fn consumer_config(&self) -> ClientConfig {
        let mut config = self.client_config();
        config.set("fetch.queue.backoff.ms", "10");
        config
    }

    pub fn topics(&self) -> TopicNames {
        TopicNames::with_prefix(&self.topic_prefix)
    }
}

/// Full names of alpr's topics, prefix included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicNames {
    /// Vendor payloads and third-party producers' reads, before validation.
    pub reads_raw: String,
    /// Validated reads keyed by read id; compacted, so tombstones delete reads.
    pub reads: String,
    /// Rejected input with the reason in a header.
    pub reads_dlq: String,
    /// Hotlist entries keyed by entry id; compacted.
    pub hotlist: String,
    /// Alerts for dispatch, keyed by normalised plate.
    pub alerts: String,
    /// Evidence holds, keyed by hold id and compacted.
    pub holds: String,
    /// Audit events, kept long.
    pub audit: String,
    /// Organisations, cameras, users and sharing grants, keyed by kind and id; compacted, one
    /// partition.
    pub registry: String,
}

impl TopicNames {
    pub fn with_prefix(prefix: &str) -> Self {
        let name = |base: &str| format!("{prefix}{base}");
        Self {
            reads_raw: name("alpr.reads.raw"),
            reads: name("alpr.reads.v1"),
            reads_dlq: name("alpr.reads.dlq"),
            hotlist: name("alpr.hotlist.v1"),
            alerts: name("alpr.alerts.v1"),
            holds: name("alpr.holds.v1"),
            audit: name("alpr.audit.v1"),
            registry: name("alpr.registry.v1"),
        }
    }
}

/// A topic as this project creates it.
#[derive(Debug, Clone)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub configs: Vec<(&'static str, String)>,
}

/// Returns every topic of the project with its configuration.
pub fn topic_specs(settings: &KafkaSettings) -> Vec<TopicSpec> {
    let topics = settings.topics();
    let spec = |name: &str, configs: Vec<(&'static str, String)>| TopicSpec {
        name: name.to_string(),
        partitions: settings.partitions,
        configs,
    };
    let compact = || vec![("cleanup.policy", "compact".to_string())];
    // The registry is small, and one partition gives every reader the same order of changes,
    // so a revoked grant is never applied before the grant it revokes.
    let single_partition = |mut spec: TopicSpec| {
        spec.partitions = 1;
        spec
    };
    let delete_after = |ms: i64| {
        vec![
            ("cleanup.policy", "delete".to_string()),
            ("retention.ms", ms.to_string()),
        ]
    };
    vec![
        spec(&topics.reads_raw, delete_after(settings.raw_retention_ms)),
        spec(&topics.reads, reads_compaction()),
        spec(&topics.reads_dlq, delete_after(14 * 24 * 3600 * 1000)),
        spec(&topics.hotlist, compact()),
        spec(&topics.alerts, delete_after(settings.alerts_retention_ms)),
        spec(&topics.holds, compact()),
        // Audit events are the record of who looked at what; they are never deleted by age.
        spec(&topics.audit, delete_after(-1)),
        single_partition(spec(&topics.registry, compact())),
    ]
}

/// Compaction of the reads topic, chosen so a read whose tombstone the retention worker wrote is
/// physically gone from the broker's disks within about two hours.
///
/// The active segment is never compacted. On a compacted topic Kafka rolls it on the first
/// append after `min(segment.ms, max.compaction.lag.ms)`, one hour here. Once rolled, the
/// tombstone and the read it deletes are cleaned no later than `max.compaction.lag.ms` (one
/// hour) after they became eligible, whatever the dirty ratio. Add the cleaner's backoff (15 s by
/// default) and `file.delete.delay.ms` (one minute by default) before the old segment file is
/// unlinked. The bound holds while the cleaner keeps up and the partition receives appends; a
/// partition without any append keeps its active segment open.
///
/// `delete.retention.ms` keeps the tombstone itself one day, so a downstream copy (search index,
/// an agency's replica) that is down for less than a day still sees the delete when it catches
/// up. A copy down for longer must rebuild from the topic.
pub fn reads_compaction() -> Vec<(&'static str, String)> {
    // Literal values, so deploy/tools/check-topics.py can compare them with the manifests.
    vec![
        ("cleanup.policy", "compact".to_string()),
        // One hour each.
        ("segment.ms", "3600000".to_string()),
        ("max.compaction.lag.ms", "3600000".to_string()),
        ("min.cleanable.dirty.ratio", "0.1".to_string()),
        // One day.
        ("delete.retention.ms", "86400000".to_string()),
    ]
}

/// Creates every missing topic of the project; existing topics keep their configuration.
pub async fn ensure_topics(settings: &KafkaSettings) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> = settings.client_config().create()?;
    let specs = topic_specs(settings);
    let new_topics: Vec<NewTopic<'_>> = specs
        .iter()
        .map(|spec| {
            let mut topic = NewTopic::new(
                &spec.name,
                spec.partitions,
                TopicReplication::Fixed(settings.replication_factor),
            );
            for (key, value) in &spec.configs {
                topic = topic.set(key, value);
            }
            topic
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let mut created = Vec::new();
    for result in admin.create_topics(&new_topics, &options).await? {
        match result {
            Ok(topic) => {
                tracing::info!(%topic, "topic created");
                created.push(topic);
            }
            Err((topic, RDKafkaErrorCode::TopicAlreadyExists)) => {
                tracing::debug!(%topic, "topic exists")
            }
            Err((topic, code)) => {
                tracing::error!(%topic, error = %code, "cannot create topic");
                return Err(KafkaError::AdminOp(code));
            }
        }
    }
    if !created.is_empty() {
        let client_config = settings.client_config();
        tokio::task::spawn_blocking(move || wait_for_leaders(&client_config, &created))
            .await
            .map_err(|_| KafkaError::Canceled)??;
    }
    Ok(())
}

/// Waits until every partition of `topics` has a leader. A topic is created asynchronously, so
/// for a moment after creation clients still get "unknown topic" or "not leader" errors.
fn wait_for_leaders(client_config: &ClientConfig, topics: &[String]) -> Result<(), KafkaError> {
    use rdkafka::consumer::Consumer;
    let consumer: rdkafka::consumer::BaseConsumer = client_config.create()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    for topic in topics {
        loop {
            let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(5))?;
            let ready = metadata.topics().iter().any(|entry| {
                entry.name() == topic
                    && entry.error().is_none()
                    && !entry.partitions().is_empty()
                    && entry
                        .partitions()
                        .iter()
                        .all(|p| p.leader() >= 0 && p.error().is_none())
            });
            if ready {
                break;
            }
            if std::time::Instant::now() > deadline {
                return Err(KafkaError::MetadataFetch(
                    RDKafkaErrorCode::LeaderNotAvailable,
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(())
}

/// How long [`watermarks`] keeps retrying while a partition has no leader.
const LEADER_WAIT: Duration = Duration::from_secs(15);

/// Returns the low and high watermarks of one partition. Blocks the calling thread.
///
/// For a moment after a topic is created, or while its leader moves, the broker returns
/// "not leader" even though the metadata already names a leader. Such errors are retried for
/// up to 15 seconds instead of failing the caller.
pub fn watermarks(
    client: &rdkafka::client::Client<impl rdkafka::client::ClientContext>,
    topic: &str,
    partition: i32,
) -> Result<(i64, i64), KafkaError> {
    let deadline = std::time::Instant::now() + LEADER_WAIT;
    loop {
        match client.fetch_watermarks(topic, partition, Duration::from_secs(10)) {
            Err(error) if is_leader_moving(&error) && std::time::Instant::now() < deadline => {
                tracing::debug!(topic, partition, %error, "partition has no leader yet, retrying");
                std::thread::sleep(Duration::from_millis(100));
            }
            result => return result,
        }
    }
}

/// Returns whether `error` means the partition's leader is still changing, so the request may
/// succeed when repeated.
pub fn is_leader_moving(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(RDKafkaErrorCode::NotLeaderForPartition | RDKafkaErrorCode::LeaderNotAvailable)
    )
}

/// Returns the number of partitions of `topic`, asking the broker. Blocks the calling thread,
/// so async callers run it in `spawn_blocking`.
pub fn partition_count(
    client: &rdkafka::client::Client<impl rdkafka::client::ClientContext>,
    topic: &str,
) -> Result<i32, KafkaError> {
    let metadata = client.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let count = metadata
        .topics()
        .iter()
        .find(|entry| entry.name() == topic)
        .map(|entry| entry.partitions().len() as i32)
        .unwrap_or(0);
    if count == 0 {
        return Err(KafkaError::MetadataFetch(
            RDKafkaErrorCode::UnknownTopicOrPartition,
        ));
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_topic_forgets_within_two_hours() {
        let specs = topic_specs(&KafkaSettings::default());
        let reads = specs
            .iter()
            .find(|spec| spec.name == "alpr.reads.v1")
            .map(|spec| spec.configs.clone())
            .unwrap_or_default();
        let value = |key: &str| {
            reads
                .iter()
                .find(|(name, _)| *name == key)
                .map(|(_, value)| value.clone())
                .unwrap_or_else(|| panic!("alpr.reads.v1 lacks {key}"))
        };
        assert_eq!(value("cleanup.policy"), "compact");
        let segment_ms: i64 = value("segment.ms").parse().unwrap_or(i64::MAX);
        let lag_ms: i64 = value("max.compaction.lag.ms").parse().unwrap_or(i64::MAX);
        assert!(segment_ms.min(lag_ms) + lag_ms <= 2 * 3600 * 1000);
        assert!(value("min.cleanable.dirty.ratio").parse::<f64>().is_ok());
        assert_eq!(value("delete.retention.ms"), "86400000");
    }

    #[test]
    fn registry_topic_is_compacted_with_one_partition() {
        let settings = KafkaSettings {
            topic_prefix: "test.".into(),
            ..KafkaSettings::default()
        };
        let specs = topic_specs(&settings);
        let registry = specs
            .iter()
            .find(|spec| spec.name == "test.alpr.registry.v1")
            .expect("topic_specs lists the registry topic with its prefix");
        assert_eq!(registry.partitions, 1);
        assert_eq!(
            registry.configs,
            vec![("cleanup.policy", "compact".to_string())]
        );
    }
}
