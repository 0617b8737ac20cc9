//! The retention worker killed with SIGKILL during a sweep completes that sweep after a
//! restart: every read past its period is tombstoned and its image deleted, no held read is
//! tombstoned or loses its image, and the purge log counts each deleted read once.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

mod common;
mod retention_support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use rdkafka::producer::{FutureProducer, FutureRecord};

use futures::StreamExt;

use alpr_images::{image_key, ImageMediaType, ImageStore};
use alpr_platform::partition_for_key;
use alpr_platform::testkit::{fresh_settings, read_topic, wait_for_records};
use alpr_schemas::{encode, EvidenceHold};

use retention_support::*;

const READS: usize = 20_000;
const HELD: usize = 30;
/// Slow enough that the sweep of all reads takes about ten seconds, so the kill lands in it.
const TOMBSTONES_PER_SECOND: u32 = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_sweep_completes_after_restart() {
    let kafka = fresh_settings("retention_crash").await;
    let folder = tempfile::tempdir().unwrap();

    // Every read is 40 days old by the real clock, so past the default 30-day period.
    let captured_at = (chrono::Utc::now() - chrono::Duration::days(40)).timestamp_micros();
    // Every read has an image in the store that the worker is given, as ingest stores them.
    let images_folder = folder.path().join("images");
    let images = ImageStore::local(&images_folder).unwrap();
    let reads: Vec<_> = (0..READS)
        .map(|index| {
            let mut read = camera_read(captured_at + index as i64, &format!("K{index:06}"));
            read.image_ref = Some(image_key(
                &read.organisation_id,
                alpr_schemas::from_micros(read.captured_at),
                &read.read_id,
                ImageMediaType::Jpeg,
            ));
            read
        })
        .collect();
    let stored: Vec<_> = futures::stream::iter(&reads)
        .map(|read| {
            let image_ref = read.image_ref.clone().unwrap();
            let images = images.clone();
            async move {
                images
                    .put(&image_ref, alpr_replay::PLACEHOLDER_JPEG.into())
                    .await
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    assert!(stored.iter().all(Result::is_ok));
    publish_reads(&kafka, &reads).await;

    // Holds go straight to the holds topic, before the worker starts.
    let held: BTreeSet<String> = reads
        .iter()
        .step_by(READS / HELD)
        .take(HELD)
        .map(|read| read.read_id.clone())
        .collect();
    assert_eq!(held.len(), HELD);
    let hold = EvidenceHold {
        hold_id: uuid::Uuid::new_v4().to_string(),
        case_number: "crash-case".into(),
        read_ids: held.iter().cloned().collect(),
        placed_by: "tester".into(),
        placed_at: chrono::Utc::now().timestamp_micros(),
        reason: "crash test".into(),
        review_at: None,
    };
    let producer: FutureProducer = kafka.client_config().create().unwrap();
    let holds_topic = kafka.topics().holds;
    let payload = encode(&hold).unwrap();
    producer
        .send(
            FutureRecord::to(&holds_topic)
                .key(hold.hold_id.as_bytes())
                .payload(&payload)
                .partition(partition_for_key(hold.hold_id.as_bytes(), kafka.partitions)),
            Duration::from_secs(30),
        )
        .await
        .map_err(|(error, _)| error)
        .unwrap();

    let mut worker = spawn_retention(
        &kafka,
        folder.path(),
        free_local_address(),
        free_local_address(),
        TOMBSTONES_PER_SECOND,
    );

    // Kill the worker once its first sweep has written some tombstones.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let records = read_topic(&kafka, &kafka.topics().reads).await;
        if !tombstoned_keys(&records).is_empty() {
            break;
        }
        assert!(
            worker.0.try_wait().unwrap().is_none(),
            "worker exited on its own"
        );
        assert!(Instant::now() < deadline, "no tombstone within 180 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    worker.0.kill().unwrap(); // SIGKILL on Unix
    worker.0.wait().unwrap();
    let at_kill = tombstoned_keys(&read_topic(&kafka, &kafka.topics().reads).await).len();
    assert!(
        at_kill < READS - HELD,
        "the kill came after the sweep ended; it tests nothing"
    );

    let admin = free_local_address();
    let mut restarted = spawn_retention(
        &kafka,
        folder.path(),
        admin,
        free_local_address(),
        TOMBSTONES_PER_SECOND,
    );
    let records = wait_for_records(
        &kafka,
        &kafka.topics().reads,
        Duration::from_secs(300),
        |records| visible_in(records) == held,
    )
    .await;
    assert!(
        tombstoned_keys(&records).is_disjoint(&held),
        "a held read was tombstoned"
    );
    assert_eq!(tombstoned_keys(&records).len(), READS - HELD);

    // The restarted worker reports ready and its metrics on the admin port.
    let metrics = common::ready_admin_metrics(admin).await;
    for name in [
        "alpr_retention_tombstones_written_total",
        "alpr_retention_sweep_duration_seconds_bucket",
        "alpr_retention_consumer_lag_records",
        "alpr_retention_oldest_unheld_read_age_seconds",
        "alpr_retention_held_reads",
        "alpr_retention_period_seconds",
        "alpr_retention_sweep_interval_seconds",
        "alpr_retention_rocksdb_live_data_bytes{column_family=\"reads\"}",
        "alpr_retention_images_deleted_total",
        "alpr_retention_pending_image_deletions",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }

    // SIGTERM stops the restarted worker cleanly once its resumed sweep is logged.
    let purge_log = folder.path().join("purge-log.jsonl");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let lines = alpr_retention::purge_log::read_verified(&purge_log).unwrap();
        let logged: u64 = lines.iter().map(|line| line.record.tombstoned).sum();
        if logged as usize >= READS - HELD {
            assert_eq!(
                logged as usize,
                READS - HELD,
                "each deleted read logged once"
            );
            assert_eq!(lines.last().unwrap().record.kept_by_holds as usize, HELD);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "purge log has {logged} reads after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(restarted.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = restarted.0.wait().unwrap();
    assert!(status.success(), "retention exit after SIGTERM: {status}");

    // The held reads keep their images, and every other image is gone.
    let held_images: BTreeSet<std::path::PathBuf> = reads
        .iter()
        .filter(|read| held.contains(&read.read_id))
        .map(|read| images.local_path(read.image_ref.as_ref().unwrap()).unwrap())
        .collect();
    assert_eq!(held_images.len(), HELD);
    let left: BTreeSet<std::path::PathBuf> = files_under(&images_folder).into_iter().collect();
    assert_eq!(left, held_images, "only the held reads' images remain");

    let report = run_alpr(
        &kafka,
        &["retention", "report", "--log", purge_log.to_str().unwrap()],
    );
    let stdout = String::from_utf8_lossy(&report.stdout);
    assert!(report.status.success(), "{stdout}");
    assert!(stdout.contains("hash chain verified"), "{stdout}");
}
