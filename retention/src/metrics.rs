//! Prometheus metrics of the retention worker, registered in the process-wide registry.

use std::sync::LazyLock;

use prometheus::{
    register_histogram, register_int_counter, register_int_gauge, register_int_gauge_vec,
    Histogram, IntCounter, IntGauge, IntGaugeVec,
};

pub static TOMBSTONES_WRITTEN: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "alpr_retention_tombstones_written_total",
        "Tombstones the retention worker wrote to the reads topic and the broker acknowledged"
    )
    .expect("metric registers once")
});

pub static EXPIRED_READS_HELD: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "alpr_retention_held_reads",
        "Reads past their retention period that evidence holds kept, as of the last sweep"
    )
    .expect("metric registers once")
});

pub static OLDEST_UNHELD_READ_AGE: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "alpr_retention_oldest_unheld_read_age_seconds",
        "Age of the oldest read that is neither held nor tombstoned, as of the last sweep; \
         alert when it passes the retention period plus one sweep interval"
    )
    .expect("metric registers once")
});

pub static SWEEP_DURATION: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "alpr_retention_sweep_duration_seconds",
        "Time one sweep took, from catching up with the topics to the purge log line",
        vec![0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0]
    )
    .expect("metric registers once")
});

pub static CONSUMER_LAG: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "alpr_retention_consumer_lag_records",
        "Records not yet applied to the retention index, per topic (reads or holds) and partition, \
         measured at each catch-up, so at least once per sweep",
        &["topic", "partition"]
    )
    .expect("metric registers once")
});

pub static UNDECODABLE_RECORDS: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "alpr_retention_undecodable_records_total",
        "Records on the reads or holds topic that could not be decoded and were skipped"
    )
    .expect("metric registers once")
});

pub static IMAGES_DELETED: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "alpr_retention_images_deleted_total",
        "Images of tombstoned reads deleted from the image store (an image already missing counts as deleted)"
    )
    .expect("metric registers once")
});

pub static IMAGE_DELETE_FAILURES: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "alpr_retention_image_delete_failures_total",
        "Attempts to delete an image of a tombstoned read that failed; each is retried at the next sweep"
    )
    .expect("metric registers once")
});

pub static PENDING_IMAGE_DELETIONS: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "alpr_retention_pending_image_deletions",
        "Images of tombstoned reads not yet deleted from the image store, as of the last sweep"
    )
    .expect("metric registers once")
});

pub static FOREIGN_IMAGE_REFS: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "alpr_retention_foreign_image_refs_total",
        "Tombstoned reads whose image_ref is not a key ingest built for that read, so the worker \
         left the object alone"
    )
    .expect("metric registers once")
});

pub static PERIOD_SECONDS: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "alpr_retention_period_seconds",
        "Longest configured retention period of any organisation, so an alert rule can compare the oldest unheld read with it"
    )
    .expect("metric registers once")
});

pub static SWEEP_INTERVAL_SECONDS: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "alpr_retention_sweep_interval_seconds",
        "Configured time between two sweeps"
    )
    .expect("metric registers once")
});

pub static SILENT_CAMERAS: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "alpr_retention_cameras_silent",
        "Cameras whose last read is older than their usual gap between reads allows; GET /v1/cameras/silent on the read lookup API lists them"
    )
    .expect("metric registers once")
});

pub static STATE_STORE: LazyLock<alpr_platform::StateStoreMetrics> = LazyLock::new(|| {
    alpr_platform::StateStoreMetrics::register("retention").expect("metric registers once")
});

/// Registers every metric of this module, so `/metrics` lists them from the start, before the
/// first sweep sets them.
pub fn register_all() {
    LazyLock::force(&TOMBSTONES_WRITTEN);
    LazyLock::force(&EXPIRED_READS_HELD);
    LazyLock::force(&OLDEST_UNHELD_READ_AGE);
    LazyLock::force(&SWEEP_DURATION);
    LazyLock::force(&CONSUMER_LAG);
    LazyLock::force(&UNDECODABLE_RECORDS);
    LazyLock::force(&IMAGES_DELETED);
    LazyLock::force(&IMAGE_DELETE_FAILURES);
    LazyLock::force(&PENDING_IMAGE_DELETIONS);
    LazyLock::force(&FOREIGN_IMAGE_REFS);
    LazyLock::force(&PERIOD_SECONDS);
    LazyLock::force(&SWEEP_INTERVAL_SECONDS);
    LazyLock::force(&STATE_STORE);
    LazyLock::force(&SILENT_CAMERAS);
}
