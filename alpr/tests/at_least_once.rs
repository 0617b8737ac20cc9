//! The matcher's at-least-once delivery, end to end on a real broker: without transactions,
//! every hotlisted read still alerts, and the offsets it commits after each batch keep a
//! restarted matcher from alerting on the same reads again.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use chrono::Utc;

use alpr_matcher::{Delivery, MatcherSettings};
use alpr_platform::testkit::{fresh_settings, read_topic};

use common::*;

async fn send_reads(pipeline: &Pipeline, plates: &[&str], camera: &str) {
    let captured_at = Utc::now() - chrono::Duration::seconds(5);
    let lines: Vec<String> = plates
        .iter()
        .map(|plate| {
            serde_json::json!({
                "camera_id": camera,
                "captured_at": captured_at.to_rfc3339(),
                "plate": {"text": plate, "region": "US-WA"},
            })
            .to_string()
        })
        .collect();
    let response = reqwest::Client::new()
        .post(format!("{}/v1/reads", pipeline.ingest_url()))
        .bearer_auth(TOKEN)
        .header("content-type", "application/x-ndjson")
        .body(lines.join("\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_once_without_transactions_and_resumes_after_restart() {
    let kafka = fresh_settings("at-least-once").await;
    let folder = tempfile::tempdir().unwrap();
    let hotlist = plate_set(&["7ABC123", "8XYZ999"]);
    import_hotlist(&kafka, &hotlist, folder.path()).await;
    let settings = MatcherSettings {
        state_dir: folder.path().join("matcher"),
        delivery: Delivery::AtLeastOnce,
        ..MatcherSettings::default()
    };

    let pipeline = Pipeline::start_with(&kafka, settings.clone()).await;
    send_reads(
        &pipeline,
        &["7ABC123", "1AAA111", "8XYZ999", "2BBB222", "3CCC333"],
        "cam-a",
    )
    .await;
    wait_for_distinct_alerts(&kafka, 2, Duration::from_secs(60)).await;
    pipeline.stop().await;

    // Had the first run's offsets not been committed, the restarted matcher would read its
    // reads again and repeat both alerts.
    let pipeline = Pipeline::start_with(&kafka, settings).await;
    send_reads(&pipeline, &["7ABC123", "4DDD444"], "cam-b").await;
    wait_for_distinct_alerts(&kafka, 3, Duration::from_secs(60)).await;
    // Time for a repeat to arrive, had the restart read the first reads again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    pipeline.stop().await;

    let alerts = decode_alerts(&read_topic(&kafka, &kafka.topics().alerts).await);
    let mut seen: Vec<(String, String)> = alerts
        .iter()
        .map(|alert| {
            (
                alert.read.plate.normalised.clone(),
                alert.read.camera_id.clone(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("7ABC123".to_string(), "cam-a".to_string()),
            ("7ABC123".to_string(), "cam-b".to_string()),
            ("8XYZ999".to_string(), "cam-a".to_string()),
        ]
    );
}
