//! Matcher: keeps the hotlist in RocksDB, checks every read against it and publishes an alert
//! per (read, matching entry) to `alpr.alerts.v1`.

pub mod alert_history;
pub mod entry_index;
pub mod hotlist_follower;
pub mod list_health;
pub mod matching;
pub mod metrics;
pub mod plate_index;
pub mod plate_match;
pub mod reads_loop;
pub mod store;
pub mod suppression;
#[cfg(test)]
mod test_support;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use alpr_platform::{KafkaSettings, Readiness, ShutdownToken};

pub use hotlist_follower::{sync_store_once, FollowError, HotlistFollower};
pub use list_health::ListAgeLimits;
pub use reads_loop::{ReadsLoop, ReadsLoopError};
pub use store::{HotlistStore, StoreError};

/// Settings of the matcher component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatcherSettings {
    /// Folder of the RocksDB hotlist store. Losing it costs one full read of the hotlist topic.
    pub state_dir: PathBuf,
    /// Consumer group of the matcher instances; instances in one group share the partitions.
    pub group_id: String,
    /// Name of this instance, unique within the group. It is part of the Kafka
    /// `transactional.id`, so a restarted instance with the same name fences its predecessor
    /// and aborts the transaction that one left open.
    pub instance_id: String,
    /// Maximum reads handled and committed in one transaction. While catching up, a full batch
    /// ends before its window does, so this bounds commits per second. At 100,000, a matcher
    /// draining 750,000 reads/s commits about eight times a second.
    pub batch_max_reads: usize,
    /// Period of the matcher's commits, in milliseconds: batches end on a schedule this far
    /// apart, so a read waits at most this long, plus one commit, for its alert to be visible.
    /// A batch that starts late, after idle time or a slow commit, still collects reads for
    /// half the period.
    pub commit_interval_ms: u64,
    /// Characters that plate OCR confuses, as class strings such as `"0ODQ"`. Entries with the
    /// `OCR_TOLERANT` policy match reads that differ from them only within a class.
    pub confusion_classes: plate_match::ConfusionClasses,
    /// Most characters an OCR-tolerant match may substitute, 1 or 2.
    pub max_substitutions: u8,
    /// Maximum wait for the initial hotlist load before giving up, in seconds.
    pub hotlist_load_timeout_seconds: u64,
    /// Repeated alerts for the same normalised plate, entry and camera whose reads were
    /// captured less than this many seconds apart are suppressed; 0 emits every alert. Reads
    /// are never dropped, only alerts.
    pub suppression_window_seconds: u64,
    /// Maximum age of a list's last import before the list counts as stale.
    pub hotlist_max_age: ListAgeLimits,
    /// Delivery guarantee of alerts, which decides how they commit with the consumed offsets.
    pub delivery: Delivery,
}

/// Delivery guarantee of the matcher's alerts: how a batch's alerts commit with the offsets
/// of its reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Alerts and offsets commit in one Kafka transaction: one alert per (read, entry), also
    /// across crashes. The guarantee the design promises, and the default.
    #[default]
    ExactlyOnce,
    /// Offsets are committed after the broker acknowledged the batch's alerts, without a
    /// transaction. A crash between the two repeats the alerts of the batches since the last
    /// offset commit. Meant for brokers without transactions and for measuring what the
    /// transactions cost; dispatch consumers must then drop repeated alert ids.
    AtLeastOnce,
}

impl Default for MatcherSettings {
    fn default() -> Self {
        Self {
            state_dir: PathBuf::from("data/matcher"),
            group_id: "alpr-matcher".into(),
            instance_id: std::env::var("HOSTNAME").unwrap_or_else(|_| "matcher-0".into()),
            batch_max_reads: 100_000,
            commit_interval_ms: 100,
            confusion_classes: plate_match::ConfusionClasses::default(),
            max_substitutions: plate_match::DEFAULT_MAX_SUBSTITUTIONS,
            hotlist_load_timeout_seconds: 300,
            suppression_window_seconds: 300,
            hotlist_max_age: ListAgeLimits::default(),
            delivery: Delivery::default(),
        }
    }
}

pub use alpr_platform::Clock;

#[derive(Debug, thiserror::Error)]
pub enum MatcherError {
    #[error("hotlist store at {path}: {source}")]
    Store { path: String, source: StoreError },
    #[error("hotlist: {0}")]
    Follow(#[from] FollowError),
    #[error("reads: {0}")]
    Reads(#[from] ReadsLoopError),
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("hotlist follower thread panicked")]
    FollowerPanicked,
    #[error("invalid matcher setting {setting}: {problem}")]
    InvalidSetting {
        setting: &'static str,
        problem: String,
    },
}

/// Runs the matcher until `shutdown`: loads the hotlist, marks itself ready, then matches reads
/// while following hotlist changes.
pub async fn run(
    settings: MatcherSettings,
    kafka: KafkaSettings,
    clock: Clock,
    readiness: Readiness,
    shutdown: ShutdownToken,
) -> Result<(), MatcherError> {
    validate(&settings)?;
    alpr_platform::ensure_topics(&kafka).await?;
    let store = HotlistStore::open_with(
        &settings.state_dir,
        settings.confusion_classes.clone(),
        settings.max_substitutions,
    )
    .map_err(|source| MatcherError::Store {
        path: settings.state_dir.display().to_string(),
        source,
    })?;

    let load_timeout = Duration::from_secs(settings.hotlist_load_timeout_seconds);
    let follower = {
        let kafka = kafka.clone();
        let store = store.clone();
        tokio::task::spawn_blocking(move || -> Result<HotlistFollower, FollowError> {
            let mut follower = HotlistFollower::connect(&kafka, store)?;
            follower.catch_up(load_timeout)?;
            Ok(follower)
        })
        .await
        .map_err(|_| MatcherError::FollowerPanicked)??
    };
    let follower_stop = shutdown.child_token();
    let follower_task = {
        let follower_stop = follower_stop.clone();
        tokio::task::spawn_blocking(move || follower.follow(follower_stop))
    };

    let health_task = tokio::spawn(watch_list_health(
        store.clone(),
        settings.hotlist_max_age.clone(),
        clock.clone(),
        shutdown.child_token(),
    ));

    let reads = ReadsLoop::connect(&kafka, settings.clone(), store.clone(), clock)?;
    readiness.set_ready(true);
    let outcome = reads.run(shutdown.clone()).await;
    readiness.set_ready(false);
    health_task.abort();

    // Stop the follower whether the reads loop ended by shutdown or by an error.
    follower_stop.cancel();
    let followed = follower_task
        .await
        .map_err(|_| MatcherError::FollowerPanicked)?;
    if let Err(error) = store.flush() {
        tracing::warn!(%error, "cannot flush hotlist store at shutdown");
    }
    outcome?;
    followed?;
    tracing::info!("matcher stopped");
    Ok(())
}

/// How often list ages, entry counts and RocksDB figures are refreshed in the metrics.
const LIST_HEALTH_INTERVAL: Duration = Duration::from_secs(5);

/// Refreshes the list gauges, stale-list warnings and state-store metrics until `stop`.
async fn watch_list_health(
    store: HotlistStore,
    limits: ListAgeLimits,
    clock: Clock,
    stop: ShutdownToken,
) {
    let mut health = list_health::ListHealth::new(limits);
    let mut ticks = tokio::time::interval(LIST_HEALTH_INTERVAL);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {
                health.refresh(&store.list_summaries(), clock());
                store.observe_metrics();
            }
        }
    }
}

fn validate(settings: &MatcherSettings) -> Result<(), MatcherError> {
    let invalid = |setting, problem: &str| {
        Err(MatcherError::InvalidSetting {
            setting,
            problem: problem.to_string(),
        })
    };
    if settings.batch_max_reads == 0 {
        return invalid("batch_max_reads", "must be at least 1");
    }
    if settings.commit_interval_ms == 0 {
        return invalid("commit_interval_ms", "must be at least 1");
    }
    // A week is far beyond any useful window and keeps the restart's history read bounded.
    if settings.suppression_window_seconds > 7 * 24 * 3600 {
        return invalid(
            "suppression_window_seconds",
            "must be at most 604800 (7 days)",
        );
    }
    if settings.hotlist_max_age.default_seconds == 0 {
        return invalid("hotlist_max_age.default_seconds", "must be at least 1");
    }
    if let Some((list, _)) = settings
        .hotlist_max_age
        .by_list
        .iter()
        .find(|(_, &seconds)| seconds == 0)
    {
        return Err(MatcherError::InvalidSetting {
            setting: "hotlist_max_age.by_list",
            problem: format!("list {list:?} must allow at least 1 second"),
        });
    }
    Ok(())
}
