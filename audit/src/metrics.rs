//! Prometheus metrics of the audit writer, registered in the process-wide registry.

use std::sync::LazyLock;

use prometheus::{register_histogram, register_int_counter, Histogram, IntCounter};

pub static EVENTS_APPENDED: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "alpr_audit_events_appended_total",
        "Audit events this process appended and the broker acknowledged"
    )
    .expect("metric registers once")
});

pub static APPEND_FAILURES: LazyLock<IntCounter> = LazyLock::new(|| {
    register_int_counter!(
        "alpr_audit_append_failures_total",
        "Audit events this process failed to append; the action they record is not audited"
    )
    .expect("metric registers once")
});

pub static APPEND_DURATION: LazyLock<Histogram> = LazyLock::new(|| {
    register_histogram!(
        "alpr_audit_append_duration_seconds",
        "Time from the start of an append to the broker's acknowledgement, waiting for the \
         partition's earlier appends included",
        vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0]
    )
    .expect("metric registers once")
});

/// Registers every metric of this crate, so that each is exported from the start.
pub fn register_all() {
    LazyLock::force(&EVENTS_APPENDED);
    LazyLock::force(&APPEND_FAILURES);
    LazyLock::force(&APPEND_DURATION);
}
