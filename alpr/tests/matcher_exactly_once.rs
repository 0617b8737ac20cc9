//! Exactly-once alerts across crashes: the matcher is killed with SIGKILL at random moments
//! during a replay, restarted each time, and the committed alert topic ends up with exactly one
//! alert per (read, entry) — none missing, none doubled. Repeats of a plate at one camera within
//! the suppression window alert once, so the restarted matcher's suppression state must agree
//! with the offsets it resumes from: the expected alerts come from a plain model of suppression.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

use alpr_platform::testkit::{fresh_settings, read_topic};

use common::*;

/// Kills before the replay ends; the replay lasts about 30 seconds.
const KILLS: usize = 6;

/// Returns whether a plate is on a hotlist that hits often: every derived plate that starts with `0`, about one read in 16.
fn hits_often(plate: &str) -> bool {
    plate.starts_with('0')
}

async fn wait_until_ready(admin: std::net::SocketAddr, matcher: &mut std::process::Child) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            matcher.try_wait().unwrap().is_none(),
            "matcher exited on its own"
        );
        if let Ok(response) = client.get(format!("http://{admin}/readyz")).send().await {
            if response.status().is_success() {
                return;
            }
        }
        assert!(Instant::now() < deadline, "matcher not ready within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_sigkills_leave_one_alert_per_match() {
    let data = spd_data_path();
    let plates = derived_plates_per_row(&data);
    let (hotlist, hotlisted_rows) = hotlist_by_rule(&plates, hits_often);

    let kafka = fresh_settings("matcher_exactly_once").await;
    let folder = tempfile::tempdir().unwrap();
    import_hotlist(&kafka, &hotlist, folder.path()).await;
    let state_dir = folder.path().join("matcher");

    let replay = spawn_paced_kafka_replay(&kafka, data);

    let seed: u64 = rand::random();
    println!("kill schedule seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut kills = 0;
    while kills < KILLS {
        let admin = free_local_address();
        let mut matcher = spawn_matcher(&kafka, &state_dir, admin);
        wait_until_ready(admin, &mut matcher).await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..3_000))).await;
        matcher.kill().unwrap(); // SIGKILL on Unix
        matcher.wait().unwrap();
        kills += 1;
    }
    let summary = replay.await.unwrap();
    assert_eq!(summary.accepted as usize, plates.len(), "{summary}");
    let expected_reads = reads_that_alert(&kafka, &hotlist).await;
    let expected_alerts = expected_reads.len();
    assert!(
        expected_alerts < hotlisted_rows,
        "the replay has no repeat within the suppression window, so suppression goes untested"
    );

    let admin = free_local_address();
    let mut last = spawn_matcher(&kafka, &state_dir, admin);
    let alerts = wait_for_distinct_alerts(&kafka, expected_alerts, Duration::from_secs(240)).await;
    // Give a wrongly repeated batch time to show up before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let alerts_after = decode_alerts(&read_topic(&kafka, &kafka.topics().alerts).await);
    last.kill().unwrap();
    last.wait().unwrap();
    assert!(alerts_after.len() >= alerts.len());

    let per_match = alerts_per_match(&alerts_after);
    let doubled = per_match.values().filter(|&&count| count > 1).count();
    assert_eq!(
        doubled, 0,
        "{doubled} matches have more than one committed alert"
    );
    let alerted_reads: HashSet<String> = per_match
        .keys()
        .map(|(read_id, _)| read_id.clone())
        .collect();
    assert_eq!(
        alerted_reads, expected_reads,
        "alerts missing, suppressed wrongly or for the wrong reads"
    );
    assert_eq!(alerts_after.len(), expected_alerts);
}
