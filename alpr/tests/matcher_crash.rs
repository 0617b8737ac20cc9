//! The matcher killed with SIGKILL in the middle of a replay loses no alert: after a restart
//! every expected alert is on the alert topic (duplicates are allowed, gaps are not).

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use alpr_platform::testkit::{fresh_settings, read_topic};
use alpr_schemas::{decode, CameraRead, HotlistEntry};

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_matcher_loses_no_alert() {
    let data = spd_data_path();
    let plates = derived_plates_per_row(&data);
    let (hotlist, expected_alerts) = hotlist_by_rule(&plates, is_hotlisted);

    let kafka = fresh_settings("matcher_crash").await;
    let folder = tempfile::tempdir().unwrap();
    import_hotlist(&kafka, &hotlist, folder.path()).await;
    let state_dir = folder.path().join("matcher");

    let mut matcher = spawn_matcher(&kafka, &state_dir, "127.0.0.1:0".parse().unwrap());
    let replay = spawn_paced_kafka_replay(&kafka, data);

    // Kill the matcher once about half of the alerts are out.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let alerts = read_topic(&kafka, &kafka.topics().alerts).await;
        if alerts.len() >= expected_alerts / 2 {
            break;
        }
        assert!(
            matcher.try_wait().unwrap().is_none(),
            "matcher exited on its own"
        );
        assert!(
            Instant::now() < deadline,
            "matcher produced {} alerts in 180 s",
            alerts.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    matcher.kill().unwrap(); // SIGKILL on Unix
    matcher.wait().unwrap();
    let at_kill = read_topic(&kafka, &kafka.topics().alerts).await.len();
    assert!(
        at_kill < expected_alerts,
        "the kill came after the last alert; it tests nothing"
    );

    let summary = replay.await.unwrap();
    assert_eq!(summary.accepted as usize, plates.len(), "{summary}");

    let admin = free_local_address();
    let mut restarted = spawn_matcher(&kafka, &state_dir, admin);
    let alerts = wait_for_distinct_alerts(&kafka, expected_alerts, Duration::from_secs(180)).await;

    // The restarted matcher reports ready and counts its work on the admin port.
    let metrics = ready_admin_metrics(admin).await;
    let alerts_line = metrics
        .lines()
        .find(|line| {
            line.starts_with("alpr_matcher_alerts_total{")
                && line.contains("list=\"SPD-TEST\"")
                && line.contains("kind=\"exact\"")
        })
        .unwrap_or_else(|| panic!("no alert counter in\n{metrics}"));
    let counted: f64 = alerts_line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(counted >= 1.0, "{alerts_line}");
    for name in [
        "alpr_matcher_reads_total",
        "alpr_matcher_capture_to_alert_seconds_bucket",
        "alpr_matcher_hotlist_entries",
        "process_resident_memory_bytes",
        "alpr_matcher_hotlist_age_seconds{list=\"SPD-TEST\"}",
        "alpr_matcher_match_duration_seconds_bucket",
        "alpr_matcher_commit_seconds_bucket",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    let entries_line = format!(
        "alpr_matcher_hotlist_entries{{list=\"SPD-TEST\"}} {}",
        hotlist.len()
    );
    assert!(
        metrics.lines().any(|line| line == entries_line),
        "no line {entries_line} in\n{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|line| line == "alpr_matcher_hotlists_stale 0"),
        "a list imported a minute ago counts as stale"
    );

    // SIGTERM stops the restarted matcher cleanly.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(restarted.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = restarted.wait().unwrap();
    assert!(status.success(), "matcher exit after SIGTERM: {status}");

    // Every hotlisted read has its alert for the one entry of its plate.
    let entries: Vec<HotlistEntry> = read_topic(&kafka, &kafka.topics().hotlist)
        .await
        .iter()
        .filter(|record| {
            alpr_schemas::is_encoded_as::<HotlistEntry>(record.payload.as_ref().unwrap())
        })
        .map(|record| decode(record.payload.as_ref().unwrap()).unwrap())
        .collect();
    assert_eq!(entries.len(), hotlist.len());
    let reads: Vec<CameraRead> = read_topic(&kafka, &kafka.topics().reads)
        .await
        .iter()
        .map(|record| decode(record.payload.as_ref().unwrap()).unwrap())
        .collect();
    let mut expected = HashSet::new();
    for read in &reads {
        for entry in entries
            .iter()
            .filter(|entry| entry.plate == read.plate.normalised)
        {
            expected.insert((read.read_id.clone(), entry.entry_id.clone()));
        }
    }
    assert_eq!(expected.len(), expected_alerts);
    let found: HashSet<(String, String)> = alerts_per_match(&alerts).into_keys().collect();
    let missing: Vec<_> = expected.difference(&found).collect();
    assert!(
        missing.is_empty(),
        "{} alerts missing after the restart",
        missing.len()
    );
    assert_eq!(
        found.len(),
        expected.len(),
        "no alert for a read that should not alert"
    );
}
