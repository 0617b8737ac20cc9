//! Prometheus metrics of the ingest component, registered in the process-wide registry.

use std::sync::LazyLock;

use prometheus::{
    register_histogram, register_int_counter, register_int_counter_vec, register_int_gauge_vec,
    Histogram, IntCounter, IntCounterVec, IntGaugeVec,
};

pub static READS_ACCEPTED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "alpr_ingest_reads_accepted_total",
        "Reads acknowledged by the broker on the reads topic, by intake path and source \
         (http-json, raw-topic, or vendor-<adapter> for a vendor's own format)",
        &["path", "source"]
    )
    .expect("metric registers once")
});

pub static READS_REJECTED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "alpr_ingest_reads_rejected_total",
        "Reads not accepted, by intake path, source (as for accepted reads) and reason",
        &["path", "source", "reason"]
    )
    .expect("metric registers once")
});

pub static DEAD_LETTERS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "alpr_ingest_dead_letters_total",
        "Raw-topic records sent to the dead-letter topic, by reason",
        &["reason"]
    )
    .expect("metric registers once")
});

pub static RAW_CONSUMER_LAG: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register_int_gauge_vec!(
        "alpr_ingest_raw_consumer_lag_records",
        "Records on alpr.reads.raw not yet consumed, per partition, from librdkafka statistics",
        &["partition"]
    )
    .expect("metric registers once")
});

pub static PUBLISH_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "alpr_ingest_publish_seconds",
        "Time from handing a batch of reads to the producer until the broker acknowledged all of them",
        vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]
    )
    .expect("metric registers once")
});

pub static IMAGES_STORED: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "alpr_ingest_images_stored_total",
        "Images of reads written to the image store"
    )
    .expect("metric registers once")
});

pub static IMAGE_STORE_FAILURES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "alpr_ingest_image_store_failures_total",
        "Image store operations that failed, by operation: put (the read was rejected with 503) \
         or delete (an image of a read the broker did not accept stayed in the store)",
        &["operation"]
    )
    .expect("metric registers once")
});

pub static VENDOR_RESENDS_SKIPPED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "alpr_ingest_vendor_resends_skipped_total",
        "Vendor reads not produced again because this instance published the same read id \
         recently (a camera's resend or retransmission), by intake path and source",
        &["path", "source"]
    )
    .expect("metric registers once")
});

/// Intake path labels.
pub const PATH_HTTP: &str = "http";
pub const PATH_RAW_TOPIC: &str = "raw_topic";
