//! Retention worker: deletes reads past their retention period by writing tombstones to
//! `alpr.reads.v1`, except reads under an evidence hold, and keeps a hash-chained purge log of
//! what it deleted.
//!
//! The worker reads every partition of the reads and holds topics into a RocksDB index (see
//! [`store`]), with the topic offsets in the same write batch. Every sweep interval it catches up
//! with both topics, plans which reads have passed their period and are under no hold, stores
//! that plan, writes one tombstone per read into the read's own partition, appends a
//! `READS_DELETED` event to the audit topic and a line to the purge log, and forgets the plan. A
//! worker killed during a sweep finds the plan at restart and completes it, so every planned
//! read is tombstoned and logged once; its audit event can appear twice (see
//! `worker::deletion_event`). The image of each
//! tombstoned read is deleted from the image store once the broker has acknowledged the
//! tombstone (see [`image_deletion`]); a held read keeps its image.
//!
//! NOTE: one worker serves a whole deployment. It assigns itself every partition instead of
//! joining a consumer group, because every sweep needs every hold; two workers on the same
//! topics would only write each tombstone twice.

pub mod api;
pub mod camera_activity;
pub mod holds;
pub mod image_deletion;
pub mod metrics;
pub mod policy;
pub mod purge_log;
pub mod store;
pub mod worker;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use alpr_images::ImageStore;
use alpr_platform::{KafkaSettings, Readiness, ShutdownToken};

pub use policy::RetentionPolicy;
pub use store::{RetentionStore, StoreError};
pub use worker::{RetentionWorker, SweepOutcome, SweepReport, WorkerError};

pub use alpr_platform::Clock;

/// Settings of the retention worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// Folder of the RocksDB index. Losing it costs one full read of the reads and holds
    /// topics; the purge log lives elsewhere and is not rebuilt from them.
    pub state_dir: PathBuf,
    /// The hash-chained purge log, one JSON line per sweep that changed something.
    pub purge_log: PathBuf,
    /// Retention period of reads whose organisation has no period of its own, in days.
    pub default_period_days: u32,
    /// Retention periods per owning organisation (`organisation_id` of the read), in days.
    pub organisation_period_days: BTreeMap<String, u32>,
    /// Time from the end of one sweep to the start of the next, in seconds. A read is
    /// tombstoned at most this long after its period ends.
    pub sweep_interval_seconds: u64,
    /// Most tombstones written per second, so that the first sweep over a large backlog does not
    /// flood the broker; 0 for no limit.
    pub max_tombstones_per_second: u32,
    /// Address of the read lookup API (`GET /v1/reads/{read_id}`) that `alpr holds place` queries
    /// to check that a read exists.
    pub listen: SocketAddr,
    /// Maximum wait for the index to catch up with the topics, in seconds.
    pub catch_up_timeout_seconds: u64,
    /// When a camera counts as silent, for `alpr_retention_cameras_silent` and
    /// `GET /v1/cameras/silent`.
    pub camera_silence: camera_activity::SilenceSettings,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            state_dir: PathBuf::from("data/retention"),
            purge_log: PathBuf::from("data/retention-purge-log.jsonl"),
            default_period_days: 30,
            organisation_period_days: BTreeMap::new(),
            sweep_interval_seconds: 300,
            max_tombstones_per_second: 5_000,
            listen: SocketAddr::from(([127, 0, 0, 1], 9465)),
            catch_up_timeout_seconds: 600,
            camera_silence: camera_activity::SilenceSettings::default(),
        }
    }
}

impl RetentionSettings {
    /// Checks the settings, naming the first invalid field.
    pub fn validate(&self) -> Result<(), RetentionError> {
        let invalid = |field: String, problem: &str| {
            Err(RetentionError::InvalidSettings {
                field,
                problem: problem.to_string(),
            })
        };
        if self.default_period_days == 0 {
            return invalid(
                "retention.default_period_days".into(),
                "must be at least 1 day",
            );
        }
        for (organisation, &days) in &self.organisation_period_days {
            if organisation.trim().is_empty() {
                return invalid(
                    "retention.organisation_period_days".into(),
                    "contains an empty organisation id",
                );
            }
            if days == 0 {
                return invalid(
                    format!("retention.organisation_period_days.{organisation}"),
                    "must be at least 1 day",
                );
            }
        }
        if self.sweep_interval_seconds == 0 {
            return invalid(
                "retention.sweep_interval_seconds".into(),
                "must be at least 1 second",
            );
        }
        if let Some(problem) = self.camera_silence.problem() {
            return Err(RetentionError::InvalidSettings {
                field: "retention.camera_silence".into(),
                problem,
            });
        }
        if self.catch_up_timeout_seconds == 0 {
            return invalid(
                "retention.catch_up_timeout_seconds".into(),
                "must be at least 1 second",
            );
        }
        Ok(())
    }

    /// Returns the retention periods these settings define.
    pub fn policy(&self) -> RetentionPolicy {
        RetentionPolicy::from_days(self.default_period_days, &self.organisation_period_days)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("invalid setting {field}: {problem}")]
    InvalidSettings { field: String, problem: String },
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error(transparent)]
    Worker(#[from] WorkerError),
    #[error("read lookup API: {0}")]
    Api(#[from] std::io::Error),
    #[error("retention worker thread panicked")]
    WorkerPanicked,
}

/// Runs the retention worker until `shutdown`: catches up with the reads and holds topics,
/// serves the read lookup API on `api_listener`, marks itself ready, then sweeps every interval,
/// deleting the images of tombstoned reads from `images`.
pub async fn run(
    settings: RetentionSettings,
    kafka: KafkaSettings,
    api_listener: tokio::net::TcpListener,
    clock: Clock,
    images: ImageStore,
    readiness: Readiness,
    shutdown: ShutdownToken,
) -> Result<(), RetentionError> {
    settings.validate()?;
    metrics::register_all();
    let longest_period_days = settings
        .organisation_period_days
        .values()
        .copied()
        .chain([settings.default_period_days])
        .max()
        .unwrap_or(settings.default_period_days);
    metrics::PERIOD_SECONDS.set(i64::from(longest_period_days) * 24 * 3600);
    metrics::SWEEP_INTERVAL_SECONDS
        .set(i64::try_from(settings.sweep_interval_seconds).unwrap_or(i64::MAX));
    alpr_platform::ensure_topics(&kafka).await?;

    let silence = settings.camera_silence.clone();
    let worker_clock = clock.clone();
    let worker = tokio::task::spawn_blocking(move || -> Result<RetentionWorker, WorkerError> {
        let mut worker =
            RetentionWorker::connect(&settings, &kafka, worker_clock)?.with_image_store(images);
        worker.catch_up()?;
        Ok(worker)
    })
    .await
    .map_err(|_| RetentionError::WorkerPanicked)??;

    let api_stop = ShutdownToken::new();
    let board = camera_activity::SilentCameraBoard::default();
    let camera_watch = tokio::spawn(watch_cameras(
        worker.store(),
        silence,
        clock,
        board.clone(),
        api_stop.clone(),
    ));
    let api = tokio::spawn(api::serve_with_cameras(
        api_listener,
        worker.store(),
        board,
        api_stop.clone(),
    ));
    readiness.set_ready(true);

    let worker_stop = shutdown.clone();
    let outcome = tokio::task::spawn_blocking(move || worker.run(worker_stop))
        .await
        .map_err(|_| RetentionError::WorkerPanicked);
    readiness.set_ready(false);

    // The lookup API stops after the worker, so `alpr holds place` gets responses until the end.
    api_stop.cancel();
    camera_watch.abort();
    match api.await {
        Ok(Err(error)) => tracing::warn!(%error, "read lookup API ended with an error"),
        Err(error) => tracing::warn!(%error, "read lookup API task panicked"),
        Ok(Ok(())) => {}
    }
    outcome??;
    tracing::info!("retention worker stopped");
    Ok(())
}

/// How often the silent-camera list and gauge are refreshed. Silence is judged in minutes, so a
/// check every half minute lists a camera well within its window.
const CAMERA_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

/// Refreshes the silent-camera list from the index until `stop`.
async fn watch_cameras(
    store: store::RetentionStore,
    silence: camera_activity::SilenceSettings,
    clock: Clock,
    board: camera_activity::SilentCameraBoard,
    stop: ShutdownToken,
) {
    let mut ticks = tokio::time::interval(CAMERA_CHECK_INTERVAL);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let now = clock().timestamp_micros();
        match store.camera_activities() {
            Ok(cameras) => {
                board.publish(camera_activity::silent_cameras(cameras, &silence, now), now);
            }
            Err(error) => {
                tracing::warn!(%error, "cannot read camera activity for the silent-camera check")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_organisation_period_is_named() {
        let mut settings = RetentionSettings::default();
        settings.organisation_period_days.insert("hoa-12".into(), 0);
        let error = settings.validate().err().map(|error| error.to_string());
        assert_eq!(
            error.as_deref(),
            Some(
                "invalid setting retention.organisation_period_days.hoa-12: must be at least 1 day"
            )
        );
    }

    #[test]
    fn default_settings_are_valid() {
        assert!(RetentionSettings::default().validate().is_ok());
    }
}
