//! Alert suppression end to end, through HTTP ingest and the matcher on a real broker. Repeats
//! of one plate at one camera alert once, and every other plate, entry or camera still alerts.
//! All reads are stored, and a restarted matcher remembers what it already alerted.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use alpr_matcher::metrics::{READS, SUPPRESSED_ALERTS};
use alpr_platform::testkit::{fresh_settings, read_topic};
use alpr_platform::KafkaSettings;
use alpr_schemas::{decode, CameraRead};

use common::*;

const LIST: &str = "SPD-TEST";

fn read_line(camera: &str, plate: &str, captured_at: DateTime<Utc>) -> String {
    serde_json::json!({
        "camera_id": camera,
        "captured_at": captured_at.to_rfc3339(),
        "plate": {"text": plate, "region": "US-WA", "confidence": 0.9},
    })
    .to_string()
}

async fn send_reads(pipeline: &Pipeline, lines: &[String]) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/reads", pipeline.ingest_url()))
        .bearer_auth(TOKEN)
        .header("content-type", "application/x-ndjson")
        .body(lines.join("\n"))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["accepted"], lines.len(), "{body}");
}

/// Waits until the matcher has checked `reads` reads in this process and committed the batch
/// holding the last of them, which the suppressed count shows once it reaches `suppressed`.
async fn wait_for_matcher(reads: u64, suppressed: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let suppressed_now = SUPPRESSED_ALERTS.with_label_values(&[LIST]).get();
        if READS.get() >= reads && suppressed_now >= suppressed {
            assert_eq!(READS.get(), reads, "more reads checked than sent");
            assert_eq!(
                suppressed_now, suppressed,
                "more alerts suppressed than expected"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "matcher checked {} of {reads} reads and suppressed {suppressed_now} of {suppressed} alerts within 60 s",
            READS.get()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Counts committed alerts per (plate, camera).
async fn alerts_by_plate_and_camera(kafka: &KafkaSettings) -> BTreeMap<(String, String), usize> {
    let mut counts = BTreeMap::new();
    for alert in decode_alerts(&read_topic(kafka, &kafka.topics().alerts).await) {
        *counts
            .entry((alert.read.plate.normalised, alert.read.camera_id))
            .or_insert(0) += 1;
    }
    counts
}

fn counts(pairs: &[(&str, &str, usize)]) -> BTreeMap<(String, String), usize> {
    pairs
        .iter()
        .map(|&(plate, camera, count)| ((plate.to_string(), camera.to_string()), count))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeats_alert_once_and_reads_are_kept() {
    let kafka = fresh_settings("suppression").await;
    let folder = tempfile::tempdir().unwrap();
    let hotlist = plate_set(&["7ABC123", "8XYZ999", "5KLM777"]);
    import_hotlist(&kafka, &hotlist, folder.path()).await;
    let state_dir = folder.path().join("matcher");
    let start = Utc::now() - chrono::Duration::minutes(20);
    let at = |seconds: f64| start + chrono::Duration::milliseconds((seconds * 1000.0) as i64);

    let pipeline = Pipeline::start(&kafka, &state_dir).await;
    let mut lines = vec![
        // Two different hotlisted plates at one camera, 30 seconds apart.
        read_line("cam-a", "7ABC123", at(0.0)),
        read_line("cam-a", "8XYZ999", at(30.0)),
        // The first plate again, at another camera within the window.
        read_line("cam-b", "7ABC123", at(40.0)),
    ];
    // One plate read 20 times in 10 seconds at one camera.
    lines.extend((0..20).map(|i| read_line("cam-c", "5KLM777", at(60.0 + f64::from(i) * 0.5))));
    send_reads(&pipeline, &lines).await;
    wait_for_matcher(23, 19).await;
    wait_for_distinct_alerts(&kafka, 4, Duration::from_secs(60)).await;

    assert_eq!(
        alerts_by_plate_and_camera(&kafka).await,
        counts(&[
            ("5KLM777", "cam-c", 1),
            ("7ABC123", "cam-a", 1),
            ("7ABC123", "cam-b", 1),
            ("8XYZ999", "cam-a", 1),
        ])
    );
    let stored: Vec<CameraRead> = read_topic(&kafka, &kafka.topics().reads)
        .await
        .iter()
        .map(|record| decode(record.payload.as_ref().unwrap()).unwrap())
        .collect();
    assert_eq!(stored.len(), 23);
    assert_eq!(
        stored
            .iter()
            .filter(|read| read.plate.normalised == "5KLM777")
            .count(),
        20
    );

    // Every alert carries the age of its list, imported moments before the reads matched.
    for alert in decode_alerts(&read_topic(&kafka, &kafka.topics().alerts).await) {
        assert!(alert.match_detail.list_imported_at.is_some());
        let age = alert.match_detail.list_age_seconds.unwrap();
        assert!((0..600).contains(&age), "list age {age} s");
    }

    // A restarted matcher rebuilds its suppression state from the committed alerts: a repeat
    // inside the window stays suppressed, one after the window alerts.
    pipeline.stop().await;
    let pipeline = Pipeline::start(&kafka, &state_dir).await;
    send_reads(
        &pipeline,
        &[
            read_line("cam-c", "5KLM777", at(90.0)),
            read_line("cam-c", "5KLM777", at(60.0 + 300.0)),
        ],
    )
    .await;
    wait_for_matcher(25, 20).await;
    wait_for_distinct_alerts(&kafka, 5, Duration::from_secs(60)).await;
    pipeline.stop().await;

    assert_eq!(
        alerts_by_plate_and_camera(&kafka).await,
        counts(&[
            ("5KLM777", "cam-c", 2),
            ("7ABC123", "cam-a", 1),
            ("7ABC123", "cam-b", 1),
            ("8XYZ999", "cam-a", 1),
        ])
    );
}
