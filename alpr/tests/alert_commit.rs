//! When the matcher commits a batch that raised an alert. For a read that reached Kafka moments
//! ago, the batch commits once it has lasted a quarter of the commit interval and every read that
//! has arrived is matched, so dispatch does not wait out the interval. For a read from a backlog, it commits at the end of its window, so a
//! matcher catching up keeps its long batches and few commits.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

mod common;
mod retention_support;

use std::time::{Duration, Instant};

use chrono::Utc;
use rdkafka::producer::{FutureProducer, FutureRecord};

use alpr_matcher::MatcherSettings;
use alpr_platform::testkit::{fresh_settings, read_topic};
use alpr_platform::KafkaSettings;
use alpr_schemas::{encode, CameraRead};

use common::*;
use retention_support::camera_read;

/// Long enough to tell a batch that ends with its window from one that ends early: the first
/// window after start lasts half of it, 10 s, and each later one at least as long. A batch that
/// ends early lasts a quarter of it, 5 s.
const COMMIT_INTERVAL_MS: u64 = 20_000;

/// Produces `read` with the given Kafka timestamp, as a read that reached Kafka then.
async fn produce_read(kafka: &KafkaSettings, read: &CameraRead, appended_at_ms: i64) {
    let producer: FutureProducer = kafka.client_config().create().unwrap();
    let payload = encode(read).unwrap();
    producer
        .send(
            FutureRecord::to(&kafka.topics().reads)
                .key(read.read_id.as_bytes())
                .payload(&payload)
                .timestamp(appended_at_ms),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
}

async fn committed_alerts(kafka: &KafkaSettings) -> usize {
    decode_alerts(&read_topic(kafka, &kafka.topics().alerts).await).len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recent_alert_commits_before_window_end() {
    let kafka = fresh_settings("alert_commit").await;
    let folder = tempfile::tempdir().unwrap();
    let hotlist = plate_set(&["7ABC123", "8XYZ999"]);
    import_hotlist(&kafka, &hotlist, folder.path()).await;
    let settings = MatcherSettings {
        state_dir: folder.path().join("matcher"),
        commit_interval_ms: COMMIT_INTERVAL_MS,
        ..MatcherSettings::default()
    };
    let pipeline = Pipeline::start_with(&kafka, settings).await;

    let an_hour_ago = Utc::now() - chrono::Duration::hours(1);
    let backlog_read = camera_read(an_hour_ago.timestamp_micros(), "7ABC123");
    produce_read(&kafka, &backlog_read, an_hour_ago.timestamp_millis()).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        committed_alerts(&kafka).await,
        0,
        "the alert of a read from an hour ago was committed before its 10 s window ended"
    );
    wait_for_distinct_alerts(&kafka, 1, Duration::from_secs(60)).await;

    let recent_read = camera_read(Utc::now().timestamp_micros(), "8XYZ999");
    let sent = Instant::now();
    produce_read(&kafka, &recent_read, Utc::now().timestamp_millis()).await;
    wait_for_distinct_alerts(&kafka, 2, Duration::from_secs(60)).await;
    let waited = sent.elapsed();
    assert!(
        waited >= Duration::from_secs(5),
        "the alert of a recent read took {waited:?}, less than the shortest batch of 5 s"
    );
    assert!(
        waited < Duration::from_secs(9),
        "the alert of a recent read took {waited:?}; its window lasts at least 10 s"
    );
    pipeline.stop().await;
}
