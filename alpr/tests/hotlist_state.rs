//! Importing a list and then a shorter version of it leaves exactly the shorter version's
//! entries in the matcher's RocksDB state, for both file formats.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use alpr_hotlist::ImportOptions;
use alpr_matcher::{sync_store_once, HotlistStore};
use alpr_platform::testkit::fresh_settings;
use alpr_schemas::HotlistEntry;

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../hotlist/tests/data")
        .join(name)
}

/// Returns what identifies each entry's content in the matcher: id, plate, region and vehicle
/// colour, which is the field the NCIC update changes.
fn content(entries: &[HotlistEntry]) -> BTreeSet<(String, String, Option<String>, Option<String>)> {
    entries
        .iter()
        .map(|entry| {
            (
                entry.entry_id.clone(),
                entry.plate.clone(),
                entry.region.clone(),
                entry.vehicle.colour.clone(),
            )
        })
        .collect()
}

async fn check_shorter_version_wins(
    test: &str,
    list: &str,
    agency: Option<&str>,
    full: &str,
    update: &str,
) {
    let kafka = fresh_settings(test).await;
    let mut options = ImportOptions::new(list);
    options.agency_id = agency.map(str::to_string);

    let first = alpr_hotlist::import_file(&kafka, &sample(full), &options)
        .await
        .unwrap();
    let second = alpr_hotlist::import_file(&kafka, &sample(update), &options)
        .await
        .unwrap();
    assert!(
        second.removed > 0,
        "the update must remove entries: {second}"
    );
    assert!(
        second.published > 0,
        "the update must change or add entries: {second}"
    );
    assert!(second.parsed < first.parsed || second.removed > 0);

    let state = tempfile::tempdir().unwrap();
    let store = HotlistStore::open(state.path()).unwrap();
    sync_store_once(&kafka, store.clone(), Duration::from_secs(60)).unwrap();

    let expected = alpr_hotlist::parse_file(&sample(update), &options).unwrap();
    let stored = store.all_entries().unwrap();
    assert_eq!(content(&stored), content(&expected));
    assert_eq!(stored, {
        let mut sorted = expected.clone();
        sorted.sort_by(|a, b| a.entry_id.cmp(&b.entry_id));
        sorted
    });

    // A second store opened on the same folder resumes from its offsets with the same state.
    drop(store);
    let reopened = HotlistStore::open(state.path()).unwrap();
    assert_eq!(reopened.entry_count(), expected.len());
    assert_eq!(
        content(&reopened.all_entries().unwrap()),
        content(&expected)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ncic_update_leaves_only_new_entries() {
    check_shorter_version_wins(
        "hotlist_ncic",
        "WA-STATE",
        None,
        "wa_state_full.txt",
        "wa_state_update.txt",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_update_leaves_only_new_entries() {
    check_shorter_version_wins(
        "hotlist_csv",
        "AGENCY",
        Some("spd"),
        "agency_full.csv",
        "agency_update.csv",
    )
    .await;
}
