//! A backlog of mixed records that reaches the matcher at once, as after a restart. Reads that
//! have already arrived are looked up in the hotlist as a group, and each record must still get
//! its own outcome. Every hotlisted read alerts once, and other reads and tombstones do not.
//! Undecodable records are counted and skipped.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

mod common;
mod retention_support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::Utc;
use rdkafka::producer::{FutureProducer, FutureRecord};

use alpr_matcher::metrics::{READS, UNDECODABLE_READS};
use alpr_platform::testkit::{fresh_settings, read_topic};
use alpr_schemas::encode;

use common::*;
use retention_support::camera_read;

/// Records in the backlog: enough to fill several lookup groups of the matcher.
const RECORDS: usize = 200;

/// Kind of a record in the backlog, chosen by its position so that every kind lands in every
/// group.
enum Record {
    Hit,
    Miss,
    Tombstone,
    Undecodable,
}

fn record_at(position: usize) -> Record {
    match position % 5 {
        0 => Record::Hit,
        1 | 2 => Record::Miss,
        3 => Record::Tombstone,
        _ => Record::Undecodable,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_backlog_alerts_each_hit_once() {
    let kafka = fresh_settings("mixed_backlog").await;
    let folder = tempfile::tempdir().unwrap();
    // One entry per hit, so that suppression of repeated alerts for an entry plays no part.
    let hit_plate = |position: usize| format!("7HT{position:04}");
    let hotlisted: Vec<String> = (0..RECORDS)
        .filter(|&position| matches!(record_at(position), Record::Hit))
        .map(hit_plate)
        .collect();
    let hotlisted_refs: Vec<&str> = hotlisted.iter().map(String::as_str).collect();
    import_hotlist(&kafka, &plate_set(&hotlisted_refs), folder.path()).await;

    // Captured five minutes ago, so the reads are a backlog, not live traffic.
    let captured_at = (Utc::now() - chrono::Duration::minutes(5)).timestamp_micros();
    let producer: FutureProducer = kafka.client_config().create().unwrap();
    let reads_topic = kafka.topics().reads;
    let mut hit_read_ids = BTreeSet::new();
    let mut payload_records = 0;
    let mut undecodable_records = 0_u64;
    for position in 0..RECORDS {
        let payload = match record_at(position) {
            Record::Hit => {
                let read = camera_read(captured_at, &hit_plate(position));
                hit_read_ids.insert(read.read_id.clone());
                Some(encode(&read).unwrap())
            }
            Record::Miss => {
                Some(encode(&camera_read(captured_at, &format!("1MS{position:04}"))).unwrap())
            }
            Record::Tombstone => None,
            Record::Undecodable => {
                undecodable_records += 1;
                Some(b"not an avro record".to_vec())
            }
        };
        payload_records += usize::from(payload.is_some());
        let key = format!("record-{position}");
        let mut record = FutureRecord::<str, [u8]>::to(&reads_topic).key(&key);
        if let Some(payload) = &payload {
            record = record.payload(payload);
        }
        producer
            .send(record, Duration::from_secs(10))
            .await
            .unwrap();
    }

    // The metrics are this process's, which runs only this test.
    let reads_before = READS.get();
    let undecodable_before = UNDECODABLE_READS.get();
    let pipeline = Pipeline::start(&kafka, &folder.path().join("matcher")).await;
    wait_for_distinct_alerts(&kafka, hit_read_ids.len(), Duration::from_secs(60)).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while READS.get() - reads_before < payload_records as u64 {
        assert!(
            Instant::now() < deadline,
            "the matcher counted {} of {payload_records} reads within 60 s",
            READS.get() - reads_before
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Time for a repeated alert to be committed, had a record been matched twice.
    tokio::time::sleep(Duration::from_secs(2)).await;
    pipeline.stop().await;

    assert_eq!(READS.get() - reads_before, payload_records as u64);
    assert_eq!(
        UNDECODABLE_READS.get() - undecodable_before,
        undecodable_records
    );
    let alerts = decode_alerts(&read_topic(&kafka, &kafka.topics().alerts).await);
    assert_eq!(alerts.len(), hit_read_ids.len(), "alerts: {alerts:?}");
    let alerted: BTreeSet<String> = alerts
        .iter()
        .map(|alert| alert.read.read_id.clone())
        .collect();
    assert_eq!(alerted, hit_read_ids);
    for alert in &alerts {
        assert_eq!(
            alert.read.plate.normalised, alert.entry.plate,
            "alert for read {}",
            alert.read.read_id
        );
    }
}
