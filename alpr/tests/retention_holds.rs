//! `alpr holds` against a retention worker: a hold on an unknown read is rejected naming the
//! read, a read under two holds stays until both are released, and every change is audited in
//! a hash chain.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

mod retention_support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use alpr_platform::testkit::{fresh_settings, read_topic};
use alpr_platform::ShutdownToken;
use alpr_retention::{RetentionSettings, RetentionWorker, SweepOutcome};
use alpr_schemas::{decode, AuditAction, AuditEvent};

use retention_support::*;

const DAY_MICROS: i64 = 24 * 3600 * 1_000_000;

/// Runs `alpr holds ARGS` and returns its stdout, failing the test if the command failed.
fn holds_ok(kafka: &alpr_platform::KafkaSettings, args: &[&str]) -> String {
    let mut full = vec!["holds"];
    full.extend_from_slice(args);
    let output = run_alpr(kafka, &full);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "alpr holds {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn sweep(worker: &mut RetentionWorker) {
    let outcome = tokio::task::block_in_place(|| worker.sweep(&ShutdownToken::new()).unwrap());
    assert!(matches!(outcome, SweepOutcome::Completed(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_cli_unknown_and_double_hold() {
    let kafka = fresh_settings("retention_holds").await;
    let start = chrono::Utc::now().timestamp_micros();
    let doubly_held = camera_read(start - DAY_MICROS, "H000001");
    let unheld = camera_read(start - DAY_MICROS, "H000002");
    publish_reads(&kafka, &[doubly_held.clone(), unheld.clone()]).await;

    let folder = tempfile::tempdir().unwrap();
    let settings = RetentionSettings {
        state_dir: folder.path().join("index"),
        purge_log: folder.path().join("purge-log.jsonl"),
        ..RetentionSettings::default()
    };
    let now = Arc::new(AtomicI64::new(start));
    let clock_now = now.clone();
    let clock: alpr_retention::Clock =
        Arc::new(move || alpr_schemas::from_micros(clock_now.load(Ordering::SeqCst)));
    let mut worker = tokio::task::block_in_place(|| {
        let mut worker = RetentionWorker::connect(&settings, &kafka, clock).unwrap();
        worker.catch_up().unwrap();
        worker
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}", listener.local_addr().unwrap());
    let api_stop = ShutdownToken::new();
    let api = tokio::spawn(alpr_retention::api::serve(
        listener,
        worker.store(),
        api_stop.clone(),
    ));

    // An unknown read id is rejected, naming the id, and nothing is published.
    let unknown = uuid::Uuid::new_v4().to_string();
    let output = run_alpr(
        &kafka,
        &[
            "holds",
            "place",
            "--case",
            "C-1",
            "--reason",
            "robbery",
            "--by",
            "det-1",
            "--retention-url",
            &api_url,
            &doubly_held.read_id,
            &unknown,
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "hold on an unknown read was placed"
    );
    assert!(stderr.contains(&unknown), "{stderr}");
    assert!(
        stderr.contains("not found in the retention index"),
        "{stderr}"
    );
    assert!(!stderr.contains(&doubly_held.read_id), "{stderr}");
    assert!(read_topic(&kafka, &kafka.topics().holds).await.is_empty());

    // A read id that is not a UUID is rejected before any lookup.
    let output = run_alpr(
        &kafka,
        &[
            "holds",
            "place",
            "--case",
            "C-1",
            "--reason",
            "r",
            "--by",
            "det-1",
            "--retention-url",
            &api_url,
            "not-a-uuid",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("invalid read id: \"not-a-uuid\" is not a UUID"),
        "{stderr}"
    );

    // Two holds of two cases on one read.
    let mut hold_ids = Vec::new();
    for case in ["C-1", "C-2"] {
        let stdout = holds_ok(
            &kafka,
            &[
                "place",
                "--case",
                case,
                "--reason",
                "robbery",
                "--by",
                "det-1",
                "--retention-url",
                &api_url,
                &doubly_held.read_id,
            ],
        );
        let hold_id = stdout.split_whitespace().nth(1).unwrap().to_string();
        assert!(stdout.contains(&format!("for case {case}")), "{stdout}");
        hold_ids.push(hold_id);
    }
    let listed = holds_ok(&kafka, &["list", "--case", "C-2", "--by", "det-1"]);
    assert!(listed.contains(&hold_ids[1]), "{listed}");
    assert!(!listed.contains(&hold_ids[0]), "{listed}");
    assert!(listed.contains("1 holds"), "{listed}");

    // 31 days later the unheld read goes and the doubly held one stays.
    now.fetch_add(31 * DAY_MICROS, Ordering::SeqCst);
    sweep(&mut worker);
    let visible = visible_read_ids(&kafka).await;
    assert!(visible.contains(&doubly_held.read_id));
    assert!(!visible.contains(&unheld.read_id));

    // Releasing one hold keeps the read; releasing both lets the next sweep delete it.
    holds_ok(
        &kafka,
        &[
            "release",
            &hold_ids[0],
            "--by",
            "det-2",
            "--reason",
            "case closed",
        ],
    );
    sweep(&mut worker);
    assert!(visible_read_ids(&kafka)
        .await
        .contains(&doubly_held.read_id));
    holds_ok(&kafka, &["release", &hold_ids[1], "--by", "det-2"]);
    sweep(&mut worker);
    assert!(visible_read_ids(&kafka).await.is_empty());

    // Releasing again is rejected, naming the hold.
    let output = run_alpr(&kafka, &["holds", "release", &hold_ids[1], "--by", "det-2"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains(&hold_ids[1]), "{stderr}");

    // Each command left one audit event, and events of one partition form a hash chain.
    let audit = read_topic(&kafka, &kafka.topics().audit).await;
    let events: Vec<(i32, AuditEvent)> = audit
        .iter()
        .map(|record| {
            (
                record.partition,
                decode(record.payload.as_ref().unwrap()).unwrap(),
            )
        })
        .collect();
    let count = |action: AuditAction| events.iter().filter(|(_, e)| e.action == action).count();
    assert_eq!(count(AuditAction::HoldPlaced), 2);
    assert_eq!(count(AuditAction::HoldReleased), 2);
    assert_eq!(count(AuditAction::Search), 1);
    let placed = events
        .iter()
        .find(|(_, event)| event.action == AuditAction::HoldPlaced)
        .unwrap();
    assert_eq!(placed.1.actor, "det-1");
    assert_eq!(placed.1.purpose.as_deref(), Some("robbery"));
    let mut last_hash: HashMap<i32, String> = HashMap::new();
    for (partition, event) in &events {
        let previous = last_hash.get(partition).cloned().unwrap_or_default();
        assert_eq!(event.previous_hash, previous, "audit chain broken");
        assert_eq!(alpr_audit::event_hash(event).unwrap(), event.hash);
        last_hash.insert(*partition, event.hash.clone());
    }

    api_stop.cancel();
    api.await.unwrap().unwrap();
}
