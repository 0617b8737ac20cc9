//! The audit writer and the chain check against the local broker (`ALPR_KAFKA_BOOTSTRAP`), each
//! test on topics of its own prefix.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

use futures::future::join_all;
use rdkafka::producer::{FutureProducer, FutureRecord};

use alpr_audit::{verify, AuditWriter, ChainProblem};
use alpr_platform::testkit::{fresh_settings, read_topic, TestRecord};
use alpr_platform::{partition_for_key, KafkaSettings};
use alpr_schemas::{decode, encode, AuditAction, AuditEvent};

/// 2026-11-01T00:00:00Z.
const START_MICROS: i64 = 1_793_491_200_000_000;
const EVENTS_PER_ACTOR: usize = 8;

fn search_by(actor: &str, index: usize) -> AuditEvent {
    AuditEvent {
        event_id: uuid::Uuid::new_v4().to_string(),
        actor: actor.into(),
        organisation_id: "spd".into(),
        occurred_at: START_MICROS + index as i64 * 1_000_000,
        action: AuditAction::Search,
        case_number: Some("2026-77".into()),
        purpose: Some("stolen vehicle".into()),
        query: Some(format!(r#"{{"plate":"7AB{index}*"}}"#)),
        result_count: Some(index as i64),
        previous_hash: String::new(),
        hash: String::new(),
    }
}

/// Returns two actors whose events go to the same partition, so that their appends contend for
/// one chain, and a third whose events go to another partition.
fn pick_actors(partitions: i32) -> (String, String, String) {
    let first = "detective-0".to_string();
    let target = partition_for_key(first.as_bytes(), partitions);
    let find = |same: bool| {
        (1..)
            .map(|index| format!("detective-{index}"))
            .find(|actor| (partition_for_key(actor.as_bytes(), partitions) == target) == same)
            .unwrap()
    };
    (first, find(true), find(false))
}

fn new_writer(kafka: &KafkaSettings) -> AuditWriter {
    tokio::task::block_in_place(|| AuditWriter::new(kafka, "broker-test").unwrap())
}

/// Appends `EVENTS_PER_ACTOR` events of each actor, all at once.
async fn append_concurrently(writer: &AuditWriter, actors: &[&str], first_index: usize) {
    let appends = actors.iter().flat_map(|actor| {
        (first_index..first_index + EVENTS_PER_ACTOR)
            .map(move |index| writer.append(search_by(actor, index)))
    });
    for written in join_all(appends).await {
        let written = written.unwrap();
        assert_eq!(written.hash.len(), 64, "hash is hex SHA-256");
    }
}

/// Copies the records of the source into the same partitions of `target`'s audit topic, in
/// order, after passing each through `change`, which drops a record by returning `None`.
async fn copy_audit_topic(
    records: &[TestRecord],
    target: &KafkaSettings,
    mut change: impl FnMut(&TestRecord) -> Option<Vec<u8>>,
) {
    let producer: FutureProducer = target
        .client_config()
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()
        .unwrap();
    let topic = target.topics().audit;
    for record in records {
        let Some(payload) = change(record) else {
            continue;
        };
        let key = record.key.clone().unwrap_or_default();
        producer
            .send(
                FutureRecord::to(&topic)
                    .key(&key)
                    .payload(&payload)
                    .partition(record.partition),
                std::time::Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_verify_and_tampering_is_named() {
    let kafka = fresh_settings("audit_chain").await;
    let (shared_a, shared_b, elsewhere) = pick_actors(kafka.partitions);
    let writer = new_writer(&kafka);
    let appended_before = alpr_audit::metrics::EVENTS_APPENDED.get();
    append_concurrently(&writer, &[&shared_a, &shared_b, &elsewhere], 0).await;

    // A second writer, as after a restart, reads each partition's last hash from the topic.
    let restarted = new_writer(&kafka);
    append_concurrently(&restarted, &[&shared_a], EVENTS_PER_ACTOR).await;

    // Other tests of this binary append at the same time, so the counter may have moved more.
    let appended = alpr_audit::metrics::EVENTS_APPENDED.get() - appended_before;
    assert!(
        appended >= 4 * EVENTS_PER_ACTOR as u64,
        "counted {appended}"
    );

    let report = verify(&kafka).await.unwrap();
    assert_eq!(report.first_bad(), None, "{report:?}");
    assert_eq!(report.events_checked(), 4 * EVENTS_PER_ACTOR as u64);
    assert_eq!(report.partitions.len(), kafka.partitions as usize);

    let audit_topic = kafka.topics().audit;
    let mut records = read_topic(&kafka, &audit_topic).await;
    records.sort_by_key(|record| (record.partition, record.offset));
    let shared_partition = partition_for_key(shared_a.as_bytes(), kafka.partitions);
    let shared: Vec<&TestRecord> = records
        .iter()
        .filter(|record| record.partition == shared_partition)
        .collect();
    assert_eq!(shared.len(), 3 * EVENTS_PER_ACTOR);
    let event_at =
        |index: usize| decode::<AuditEvent>(shared[index].payload.as_ref().unwrap()).unwrap();

    // One event of the shared partition left out: the event after it is unlinked, and it now
    // sits at the left-out event's offset.
    let removed_index = 5;
    let removed = fresh_settings("audit_removed").await;
    let removed_offset = shared[removed_index].offset;
    copy_audit_topic(&records, &removed, |record| {
        let skip = record.partition == shared_partition && record.offset == removed_offset;
        (!skip).then(|| record.payload.clone().unwrap())
    })
    .await;
    let report = verify(&removed).await.unwrap();
    let (partition, bad) = report.first_bad().unwrap();
    assert_eq!(partition, shared_partition);
    assert_eq!(bad.offset, removed_index as i64);
    assert_eq!(bad.event_id, Some(event_at(removed_index + 1).event_id));
    assert_eq!(bad.problem, ChainProblem::Unlinked);

    // One event edited in place: that event is named.
    let edited_index = 3;
    let edited = fresh_settings("audit_edited").await;
    let edited_offset = shared[edited_index].offset;
    copy_audit_topic(&records, &edited, |record| {
        let payload = record.payload.clone().unwrap();
        if record.partition != shared_partition || record.offset != edited_offset {
            return Some(payload);
        }
        let mut event = decode::<AuditEvent>(&payload).unwrap();
        event.result_count = Some(0);
        Some(encode(&event).unwrap())
    })
    .await;
    let report = verify(&edited).await.unwrap();
    let (partition, bad) = report.first_bad().unwrap();
    assert_eq!(partition, shared_partition);
    assert_eq!(bad.offset, edited_index as i64);
    assert_eq!(bad.event_id, Some(event_at(edited_index).event_id));
    assert_eq!(bad.problem, ChainProblem::Edited);
    let other_partitions_intact = report
        .partitions
        .iter()
        .filter(|check| check.partition != shared_partition)
        .all(|check| check.chain.first_bad.is_none());
    assert!(other_partitions_intact, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_counts_appended_events() {
    let kafka = fresh_settings("audit_report").await;
    let writer = new_writer(&kafka);
    let mut hold = search_by("detective-1", 1);
    hold.action = AuditAction::HoldPlaced;
    hold.result_count = Some(4);
    let mut late = search_by("detective-1", 2);
    late.occurred_at = START_MICROS + 30 * 24 * 3600 * 1_000_000;
    for event in [search_by("detective-1", 0), hold, late] {
        writer.append(event).await.unwrap();
    }
    let from = chrono::DateTime::from_timestamp_micros(START_MICROS).unwrap();
    let to = from + chrono::Duration::days(30);
    let report = alpr_audit::report(&kafka, from, to).await.unwrap();
    assert_eq!(
        report.searches, 1,
        "the event at the period's end is excluded"
    );
    assert_eq!(report.holds_placed, 1);
    assert_eq!(report.reads_held, 4);
    assert_eq!(report.undecodable_records, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_rejects_empty_actor() {
    let kafka = fresh_settings("audit_invalid").await;
    let writer = new_writer(&kafka);
    let mut event = search_by("detective-1", 0);
    event.actor = " ".into();
    let failures_before = alpr_audit::metrics::APPEND_FAILURES.get();
    let error = writer.append(event).await.unwrap_err();
    assert!(error.to_string().contains("actor"), "{error}");
    assert!(!error.is_retriable());
    let failures = alpr_audit::metrics::APPEND_FAILURES.get() - failures_before;
    assert!(failures >= 1, "counted {failures} failures");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_taking_turns_keep_chain() {
    let kafka = fresh_settings("audit_turns").await;
    let first = new_writer(&kafka);
    let second = new_writer(&kafka);
    // Each writer's cached hash goes stale whenever the other appends, as a service's does when
    // an `alpr holds` command appends to its partition.
    for index in 0..6 {
        let writer = if index % 2 == 0 { &first } else { &second };
        writer
            .append(search_by("detective-1", index))
            .await
            .unwrap();
    }
    let blocking_event = search_by("detective-1", 6);
    tokio::task::block_in_place(|| first.append_blocking(blocking_event)).unwrap();

    let report = verify(&kafka).await.unwrap();
    assert_eq!(report.first_bad(), None, "{report:?}");
    assert_eq!(report.events_checked(), 7);
}
