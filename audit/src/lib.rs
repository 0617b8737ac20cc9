//! The audit trail: who looked at or changed what, on `alpr.audit.v1`, chained by hash.
//!
//! Every `AuditEvent` is keyed by its actor and goes to the partition Kafka's default
//! partitioner picks for that key. Within a partition the events form one chain: an event's
//! `previous_hash` is the `hash` of the event before it (empty for the first), and its `hash` is
//! the SHA-256 of its own encoding with `hash` left empty (see [`event_hash`]). Editing an event
//! changes its hash, and removing or inserting one breaks the link of the event after it.
//!
//! - [`AuditWriter`] appends events for a long-lived service and keeps each partition's chain.
//! - [`verify`] reads the whole topic and names the first bad position of each partition;
//!   [`verify_chain`] is its core, free of I/O.
//! - [`report`] sums a period's events into the [`TransparencyReport`] an agency publishes.
//!
//! NOTE: removing the last events of a partition leaves a valid, shorter chain. The
//! verification report gives each partition's last hash, so that a copy kept elsewhere can show
//! a cut tail.

mod chain;
mod error;
pub mod metrics;
mod report;
mod topic;
mod verify;
mod writer;

pub use chain::{event_hash, event_hash_as_written, last_hash_in_partition};
pub use error::AuditError;
pub use report::{parse_report_time, report, InvalidReportTime, TransparencyReport};
pub use verify::{
    verify, verify_chain, BadEvent, ChainCheck, ChainProblem, PartitionCheck, VerifyReport,
};
pub use writer::AuditWriter;

/// Events for the unit tests of this crate.
#[cfg(test)]
mod test_events {
    #![allow(clippy::unwrap_used)]

    use alpr_schemas::{AuditAction, AuditEvent};

    /// 2026-11-01T00:00:00Z.
    pub const START_MICROS: i64 = 1_793_491_200_000_000;

    /// Returns an unchained search event of `actor`, `minute` minutes after [`START_MICROS`].
    pub fn event(actor: &str, minute: i64) -> AuditEvent {
        AuditEvent {
            event_id: uuid::Uuid::new_v4().to_string(),
            actor: actor.into(),
            organisation_id: "spd".into(),
            occurred_at: START_MICROS + minute * 60_000_000,
            action: AuditAction::Search,
            case_number: Some("2026-123".into()),
            purpose: Some("burglary".into()),
            query: Some(r#"{"plate":"7AB*"}"#.into()),
            result_count: Some(2),
            previous_hash: String::new(),
            hash: String::new(),
        }
    }

    /// Returns `length` events of one actor, each chained onto the one before.
    pub fn chain_of(length: usize) -> Vec<AuditEvent> {
        let mut previous_hash = String::new();
        (0..length)
            .map(|index| {
                let mut next = event("detective-1", index as i64);
                next.previous_hash = previous_hash.clone();
                next.hash = crate::event_hash(&next).unwrap();
                previous_hash = next.hash.clone();
                next
            })
            .collect()
    }

    /// Encodes `event` as a producer on the first AuditEvent schema, before `READS_DELETED`, did.
    pub fn encode_with_v1_schema(event: &AuditEvent) -> Vec<u8> {
        let schema = apache_avro::Schema::parse_str(include_str!(
            "../../schemas/history/audit_event.v1.avsc"
        ))
        .unwrap();
        let value = apache_avro::to_value(event)
            .unwrap()
            .resolve(&schema)
            .unwrap();
        let mut framed = vec![0xC3, 0x01];
        framed.extend_from_slice(&alpr_schemas::codec::fingerprint_of(&schema));
        framed.extend_from_slice(&apache_avro::to_avro_datum(&schema, value).unwrap());
        framed
    }
}
