//! Prometheus metrics of the search index follower, registered in the process-wide registry.

use std::sync::LazyLock;

use prometheus::{
    register_histogram, register_histogram_vec, register_int_counter, register_int_counter_vec,
    Histogram, HistogramVec, IntCounter, IntCounterVec,
};

pub static READS_INDEXED: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "alpr_search_reads_indexed_total",
        "Reads added to the search index, re-delivered reads included (they replace themselves)"
    )
    .expect("metric registers once")
});

pub static TOMBSTONES_APPLIED: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "alpr_search_tombstones_applied_total",
        "Tombstones of the reads topic applied to the search index as deletes"
    )
    .expect("metric registers once")
});

pub static UNDECODABLE_RECORDS: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "alpr_search_undecodable_records_total",
        "Records of the reads topic skipped because their key or value could not be decoded"
    )
    .expect("metric registers once")
});

pub static COMMIT_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "alpr_search_index_commit_duration_seconds",
        "Time one search index commit took, offsets included",
        vec![0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0]
    )
    .expect("metric registers once")
});

pub static REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register_int_counter_vec!(
        "alpr_search_requests_total",
        "Requests to the search API by endpoint and HTTP status",
        &["endpoint", "status"]
    )
    .expect("metric registers once")
});

pub static REQUEST_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    register_histogram_vec!(
        "alpr_search_request_duration_seconds",
        "Time to answer a search API request, the audit event included",
        &["endpoint"],
        vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]
    )
    .expect("metric registers once")
});
