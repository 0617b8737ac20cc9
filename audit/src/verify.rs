//! Checking the hash chains of the audit topic.

use std::fmt;
use std::ops::ControlFlow;

use serde::Serialize;

use alpr_platform::KafkaSettings;
use alpr_schemas::{decode, AuditEvent};

use crate::chain::event_hash_as_written;
use crate::topic::AuditTopicReader;
use crate::AuditError;

/// Problem of the first bad record of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChainProblem {
    /// The event's `hash` is not the hash of its contents: a field was changed after writing.
    Edited,
    /// The event's `previous_hash` is not the `hash` of the event before it in the partition:
    /// an event was removed or inserted there.
    Unlinked,
    /// The record does not decode as an `AuditEvent`, or is a tombstone.
    NotAnAuditEvent { reason: String },
}

impl fmt::Display for ChainProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Edited => formatter.write_str("hash does not match the event's contents (edited)"),
            Self::Unlinked => formatter.write_str(
                "previous_hash does not match the event before it (an event was removed or inserted)",
            ),
            Self::NotAnAuditEvent { reason } => write!(formatter, "not an audit event: {reason}"),
        }
    }
}

/// The first record of a chain that fails the check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadEvent {
    pub offset: i64,
    /// The event id, when the record decodes as an event.
    pub event_id: Option<String>,
    pub problem: ChainProblem,
}

/// Result of checking one chain (one partition).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChainCheck {
    /// Records checked. The check stops at the first bad record, which is counted.
    pub events_checked: u64,
    /// Hash of the last good event, empty when there is none. Publishing it lets a later check
    /// notice events removed from the end, which the chain itself cannot show.
    pub last_hash: String,
    pub first_bad: Option<BadEvent>,
}

impl ChainCheck {
    /// Checks the next record of the chain. Returns `Break` at the first bad record, after which
    /// further records are not looked at.
    fn check_next(&mut self, offset: i64, payload: Option<&[u8]>) -> ControlFlow<()> {
        if self.first_bad.is_some() {
            return ControlFlow::Break(());
        }
        self.events_checked += 1;
        match check_record(offset, payload, &self.last_hash) {
            Ok(hash) => {
                self.last_hash = hash;
                ControlFlow::Continue(())
            }
            Err(bad) => {
                self.first_bad = Some(bad);
                ControlFlow::Break(())
            }
        }
    }
}

/// Checks one record against the hash of the event before it and returns its own hash.
fn check_record(
    offset: i64,
    payload: Option<&[u8]>,
    previous_hash: &str,
) -> Result<String, BadEvent> {
    let not_an_event = |reason: String| BadEvent {
        offset,
        event_id: None,
        problem: ChainProblem::NotAnAuditEvent { reason },
    };
    let Some(bytes) = payload else {
        return Err(not_an_event("the record is a tombstone".into()));
    };
    let event = decode::<AuditEvent>(bytes).map_err(|error| not_an_event(error.to_string()))?;
    let bad = |problem| BadEvent {
        offset,
        event_id: Some(event.event_id.clone()),
        problem,
    };
    let recomputed = event_hash_as_written(&event, bytes).map_err(|error| {
        bad(ChainProblem::NotAnAuditEvent {
            reason: error.to_string(),
        })
    })?;
    if recomputed != event.hash {
        return Err(bad(ChainProblem::Edited));
    }
    if event.previous_hash != previous_hash {
        return Err(bad(ChainProblem::Unlinked));
    }
    Ok(event.hash)
}

/// Checks one partition's records, `(offset, payload)` in offset order, as a chain that starts
/// with an empty `previous_hash`. Stops at the first bad record.
pub fn verify_chain<I, B>(records: I) -> ChainCheck
where
    I: IntoIterator<Item = (i64, B)>,
    B: AsRef<[u8]>,
{
    let mut check = ChainCheck::default();
    for (offset, payload) in records {
        if check.check_next(offset, Some(payload.as_ref())).is_break() {
            break;
        }
    }
    check
}

/// The check of one partition of the audit topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionCheck {
    pub partition: i32,
    #[serde(flatten)]
    pub chain: ChainCheck,
}

/// Result of [`verify`]: every partition of the audit topic, in partition order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub topic: String,
    pub partitions: Vec<PartitionCheck>,
}

impl VerifyReport {
    /// Total records checked over all partitions.
    pub fn events_checked(&self) -> u64 {
        self.partitions
            .iter()
            .map(|partition| partition.chain.events_checked)
            .sum()
    }

    /// Returns the bad record of the lowest-numbered partition that has one, with its partition.
    pub fn first_bad(&self) -> Option<(i32, &BadEvent)> {
        self.partitions.iter().find_map(|partition| {
            partition
                .chain
                .first_bad
                .as_ref()
                .map(|bad| (partition.partition, bad))
        })
    }

    pub fn is_intact(&self) -> bool {
        self.first_bad().is_none()
    }
}

/// Reads every partition of the audit topic from its beginning to its end as of the call and
/// checks each partition's chain.
pub async fn verify(kafka: &KafkaSettings) -> Result<VerifyReport, AuditError> {
    let kafka = kafka.clone();
    tokio::task::spawn_blocking(move || verify_blocking(&kafka))
        .await
        .map_err(|_| AuditError::ThreadPanicked)?
}

fn verify_blocking(kafka: &KafkaSettings) -> Result<VerifyReport, AuditError> {
    let reader = AuditTopicReader::connect(kafka, "verify")?;
    let mut partitions = Vec::new();
    for partition in 0..reader.partition_count()? {
        let mut chain = ChainCheck::default();
        reader.read_partition(partition, |offset, payload| {
            chain.check_next(offset, payload)
        })?;
        if let Some(bad) = &chain.first_bad {
            tracing::warn!(topic = reader.topic(), partition, offset = bad.offset, problem = %bad.problem, "audit chain broken");
        }
        partitions.push(PartitionCheck { partition, chain });
    }
    Ok(VerifyReport {
        topic: reader.topic().to_string(),
        partitions,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::test_events::{chain_of, encode_with_v1_schema, event};
    use alpr_schemas::encode;

    fn encoded(events: &[AuditEvent]) -> Vec<(i64, Vec<u8>)> {
        events
            .iter()
            .enumerate()
            .map(|(offset, event)| (offset as i64, encode(event).unwrap()))
            .collect()
    }

    #[test]
    fn intact_chain_passes() {
        let events = chain_of(5);
        let check = verify_chain(encoded(&events));
        assert_eq!(check.first_bad, None);
        assert_eq!(check.events_checked, 5);
        assert_eq!(check.last_hash, events[4].hash);
    }

    #[test]
    fn empty_chain_passes() {
        let check = verify_chain(Vec::<(i64, Vec<u8>)>::new());
        assert_eq!(check, ChainCheck::default());
    }

    #[test]
    fn edited_event_named_at_its_offset() {
        let mut events = chain_of(5);
        events[2].result_count = Some(999);
        let check = verify_chain(encoded(&events));
        let bad = check.first_bad.unwrap();
        assert_eq!(bad.offset, 2);
        assert_eq!(bad.event_id.as_deref(), Some(events[2].event_id.as_str()));
        assert_eq!(bad.problem, ChainProblem::Edited);
        assert_eq!(check.events_checked, 3);
        assert_eq!(check.last_hash, events[1].hash);
    }

    #[test]
    fn edited_and_rehashed_event_breaks_next_link() {
        let mut events = chain_of(5);
        events[2].purpose = Some("curiosity".into());
        events[2].hash = crate::event_hash(&events[2]).unwrap();
        let bad = verify_chain(encoded(&events)).first_bad.unwrap();
        assert_eq!(bad.offset, 3);
        assert_eq!(bad.problem, ChainProblem::Unlinked);
    }

    #[test]
    fn removed_event_names_following_offset() {
        let events = chain_of(5);
        let mut records = encoded(&events);
        records.remove(2);
        let bad = verify_chain(records).first_bad.unwrap();
        // Offsets are the ones the records keep, so the gap is at 2 and the next record is 3.
        assert_eq!(bad.offset, 3);
        assert_eq!(bad.event_id.as_deref(), Some(events[3].event_id.as_str()));
        assert_eq!(bad.problem, ChainProblem::Unlinked);
    }

    #[test]
    fn removed_first_event_is_unlinked() {
        let events = chain_of(3);
        let mut records = encoded(&events);
        records.remove(0);
        let bad = verify_chain(records).first_bad.unwrap();
        assert_eq!(bad.offset, 1);
        assert_eq!(bad.problem, ChainProblem::Unlinked);
    }

    #[test]
    fn foreign_record_is_not_an_event() {
        let events = chain_of(3);
        let mut records = encoded(&events);
        records.insert(1, (1, b"{\"plate\":\"ABC123\"}".to_vec()));
        let bad = verify_chain(records).first_bad.unwrap();
        assert_eq!(bad.offset, 1);
        assert_eq!(bad.event_id, None);
        assert!(
            matches!(bad.problem, ChainProblem::NotAnAuditEvent { .. }),
            "{:?}",
            bad.problem
        );
        assert!(bad.problem.to_string().starts_with("not an audit event: "));
    }

    #[test]
    fn tombstone_is_not_an_event() {
        let mut check = ChainCheck::default();
        assert!(check.check_next(0, None).is_break());
        let bad = check.first_bad.unwrap();
        assert_eq!(
            bad.problem,
            ChainProblem::NotAnAuditEvent {
                reason: "the record is a tombstone".into()
            }
        );
    }

    #[test]
    fn events_of_v1_schema_verify() {
        let mut first = event("detective-1", 0);
        let mut v1_bytes = encode_with_v1_schema(&first);
        first.hash = super::super::chain::event_hash_as_written(&first, &v1_bytes).unwrap();
        v1_bytes = encode_with_v1_schema(&first);
        let mut second = event("detective-1", 1);
        second.previous_hash = first.hash.clone();
        second.hash = crate::event_hash(&second).unwrap();
        let records = vec![(0, v1_bytes), (1, encode(&second).unwrap())];
        let check = verify_chain(records);
        assert_eq!(check.first_bad, None);
        assert_eq!(check.events_checked, 2);
    }

    #[test]
    fn first_bad_takes_lowest_partition() {
        let bad = |offset| BadEvent {
            offset,
            event_id: None,
            problem: ChainProblem::Edited,
        };
        let report = VerifyReport {
            topic: "alpr.audit.v1".into(),
            partitions: vec![
                PartitionCheck {
                    partition: 0,
                    chain: ChainCheck {
                        events_checked: 4,
                        ..ChainCheck::default()
                    },
                },
                PartitionCheck {
                    partition: 1,
                    chain: ChainCheck {
                        events_checked: 2,
                        last_hash: String::new(),
                        first_bad: Some(bad(7)),
                    },
                },
                PartitionCheck {
                    partition: 2,
                    chain: ChainCheck {
                        events_checked: 1,
                        last_hash: String::new(),
                        first_bad: Some(bad(0)),
                    },
                },
            ],
        };
        assert_eq!(
            report.first_bad().map(|(p, bad)| (p, bad.offset)),
            Some((1, 7))
        );
        assert_eq!(report.events_checked(), 7);
        assert!(!report.is_intact());
    }
}
