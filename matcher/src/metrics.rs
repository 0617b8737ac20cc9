//! Prometheus metrics of the matcher, registered in the process-wide registry.

use std::sync::LazyLock;

use prometheus::{
    register_gauge_vec, register_histogram, register_int_counter, register_int_counter_vec,
    register_int_gauge, register_int_gauge_vec, GaugeVec, Histogram, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec,
};

fn latency_buckets() -> Vec<f64> {
    vec![
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0,
    ]
}

pub static READS: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "alpr_matcher_reads_total",
        "Reads checked against the hotlist"
    )
    .expect("metric registers once")
});

pub static UNDECODABLE_READS: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "alpr_matcher_reads_undecodable_total",
        "Records on the reads topic that are not a decodable CameraRead and were skipped"
    )
    .expect("metric registers once")
});

pub static ALERTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "alpr_matcher_alerts_total",
        "Alerts committed to the alert topic, by hotlist name and match kind",
        &["list", "kind"]
    )
    .expect("metric registers once")
});

pub static CAPTURE_TO_ALERT_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "alpr_matcher_capture_to_alert_seconds",
        "Time from a read's capture at the camera until its alert was acknowledged",
        latency_buckets()
    )
    .expect("metric registers once")
});

pub static RECEIVE_TO_ALERT_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "alpr_matcher_receive_to_alert_seconds",
        "Time from ingest accepting a read until its alert was acknowledged",
        latency_buckets()
    )
    .expect("metric registers once")
});

pub static SUPPRESSED_ALERTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "alpr_matcher_alerts_suppressed_total",
        "Alerts not emitted because the same plate, entry and camera alerted within the suppression window, by hotlist name",
        &["list"]
    )
    .expect("metric registers once")
});

pub static SUPPRESSION_KEYS: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "alpr_matcher_suppression_keys",
        "Plate, entry and camera combinations whose last alert is still remembered for suppression"
    )
    .expect("metric registers once")
});

pub static COMMIT_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "alpr_matcher_commit_seconds",
        "Time from the end of a batch's window until its alerts were acknowledged and its offsets committed (at least once: sent for commit); reads arriving meanwhile are matched, and their alerts wait for it",
        commit_buckets()
    )
    .expect("metric registers once")
});

/// Buckets for one batch's commit, from a millisecond to a few seconds.
fn commit_buckets() -> Vec<f64> {
    vec![
        0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0,
        2.5,
    ]
}

/// Buckets for the in-memory lookup of one read, from a microsecond up.
fn lookup_buckets() -> Vec<f64> {
    vec![
        1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2,
    ]
}

pub static MATCH_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "alpr_matcher_match_duration_seconds",
        "Time to decode one read's plate, check it against the hotlist index and decide on its alerts, timed for one read in 16; reads looked up as a group share the group's lookup time equally",
        lookup_buckets()
    )
    .expect("metric registers once")
});

pub static HOTLIST_ENTRIES: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "alpr_matcher_hotlist_entries",
        "Hotlist entries in the matcher's index, by list",
        &["list"]
    )
    .expect("metric registers once")
});

pub static HOTLIST_AGE_SECONDS: LazyLock<GaugeVec> = LazyLock::new(|| {
    register_gauge_vec!(
        "alpr_matcher_hotlist_age_seconds",
        "Time since the list was last imported, for lists published with an import record",
        &["list"]
    )
    .expect("metric registers once")
});

pub static HOTLIST_MAX_AGE_SECONDS: LazyLock<GaugeVec> = LazyLock::new(|| {
    register_gauge_vec!(
        "alpr_matcher_hotlist_max_age_seconds",
        "Configured age after which the list counts as stale, so a rule can compare it with the age",
        &["list"]
    )
    .expect("metric registers once")
});

pub static STATE_STORE: LazyLock<alpr_platform::StateStoreMetrics> = LazyLock::new(|| {
    alpr_platform::StateStoreMetrics::register("matcher").expect("metric registers once")
});

pub static STALE_HOTLISTS: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "alpr_matcher_hotlists_stale",
        "Lists whose last import is older than their configured maximum age"
    )
    .expect("metric registers once")
});

pub static CONSUMER_LAG: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "alpr_matcher_consumer_lag_records",
        "Reads not yet consumed per reads-topic partition, from librdkafka statistics",
        &["partition"]
    )
    .expect("metric registers once")
});
