//! Prometheus metrics of the matcher, registered in the process-wide registry.

use std::sync::LazyLock;

use prometheus::{
    register_histogram, register_int_counter, register_int_counter_vec, register_int_gauge,
    register_int_gauge_vec, Histogram, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
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

pub static HOTLIST_ENTRIES: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "alpr_matcher_hotlist_entries",
        "Exact-plate hotlist entries in the matcher's index"
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
