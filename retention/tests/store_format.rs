//! The store's on-disk format: folders of other format versions are rejected at open, and read
//! ids in any spelling come back byte for byte from the packed keys.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

use rocksdb::{Options, DB};

use alpr_retention::store::{SourceTopic, TopicRecord};
use alpr_retention::{RetentionStore, StoreError};
use alpr_schemas::{encode, CameraRead, EvidenceHold, PlateRead, VehicleRead};

/// Column families of the store before it had a format version.
const VERSION_1_FAMILIES: [&str; 8] = [
    "reads", "expiry", "holds", "held", "offsets", "sweep", "cameras", "images",
];

fn camera_read(read_id: &str, captured_at: i64) -> CameraRead {
    CameraRead {
        read_id: read_id.to_string(),
        camera_id: "format-camera".into(),
        organisation_id: "spd".into(),
        captured_at,
        received_at: captured_at,
        location: None,
        plate: PlateRead {
            present: true,
            text: "ABC123".into(),
            normalised: "ABC123".into(),
            region: None,
            confidence: None,
            unreadable_positions: Vec::new(),
        },
        vehicle: VehicleRead::default(),
        image_ref: Some(format!("spd/2026-12-05/{read_id}.jpg")),
        source: "format-test".into(),
    }
}

fn read_record(offset: i64, key: &str, payload: Option<&CameraRead>) -> TopicRecord {
    TopicRecord {
        topic: SourceTopic::Reads,
        partition: 3,
        offset,
        key: key.as_bytes().to_vec(),
        payload: payload.map(|read| encode(read).unwrap()),
    }
}

fn expect_unsupported_format(result: Result<RetentionStore, StoreError>) -> String {
    match result {
        Err(error @ StoreError::UnsupportedFormat { .. }) => error.to_string(),
        Err(other) => panic!("expected an unsupported format error, got {other}"),
        Ok(_) => panic!("expected an unsupported format error, the store opened"),
    }
}

#[test]
fn new_folder_reopens() {
    let folder = tempfile::tempdir().unwrap();
    let read = camera_read("0193a5f2-7c41-7d2e-9b0a-3f5e8c1d2a47", 1_000);
    let store = RetentionStore::open(folder.path()).unwrap();
    store
        .apply(&[read_record(0, &read.read_id, Some(&read))])
        .unwrap();
    drop(store);

    let reopened = RetentionStore::open(folder.path()).unwrap();
    let indexed = reopened.read(&read.read_id).unwrap().unwrap();
    assert_eq!(indexed.captured_at, 1_000);
    assert_eq!(indexed.image_ref, read.image_ref);
}

#[test]
fn version_1_folder_is_rejected_untouched() {
    let folder = tempfile::tempdir().unwrap();
    let mut options = Options::default();
    options.create_if_missing(true);
    options.create_missing_column_families(true);
    let old = DB::open_cf(&options, folder.path(), VERSION_1_FAMILIES).unwrap();
    let reads = old.cf_handle("reads").unwrap();
    old.put_cf(reads, "0193a5f2-7c41-7d2e-9b0a-3f5e8c1d2a47", "{}")
        .unwrap();
    drop(old);

    let message = expect_unsupported_format(RetentionStore::open(folder.path()));
    assert!(message.contains("format 1"), "{message}");
    assert!(message.contains("delete the folder"), "{message}");
    assert!(message.contains("rebuilds"), "{message}");

    // An older worker must still be able to open the folder it wrote.
    let mut families = DB::list_cf(&Options::default(), folder.path()).unwrap();
    families.sort();
    let mut expected = VERSION_1_FAMILIES.map(String::from).to_vec();
    expected.push("default".into());
    expected.sort();
    assert_eq!(families, expected);
}

#[test]
fn later_format_version_is_rejected() {
    let folder = tempfile::tempdir().unwrap();
    drop(RetentionStore::open(folder.path()).unwrap());
    let families = DB::list_cf(&Options::default(), folder.path()).unwrap();
    let db = DB::open_cf(&Options::default(), folder.path(), &families).unwrap();
    db.put_cf(
        db.cf_handle("meta").unwrap(),
        "format_version",
        99_u32.to_be_bytes(),
    )
    .unwrap();
    drop(db);

    let message = expect_unsupported_format(RetentionStore::open(folder.path()));
    assert!(message.contains("format 99"), "{message}");
}

#[test]
fn read_ids_keep_their_spelling() {
    let folder = tempfile::tempdir().unwrap();
    let store = RetentionStore::open(folder.path()).unwrap();
    let read_ids = [
        "0193a5f2-7c41-7d2e-9b0a-3f5e8c1d2a47",
        "0193A5F2-7C41-7D2E-9B0A-3F5E8C1D2A47",
        "0193a5f27c417d2e9b0a3f5e8c1d2a47",
        "vendor-read-42",
    ];
    let reads: Vec<CameraRead> = read_ids
        .iter()
        .zip(1_i64..)
        .map(|(read_id, captured_at)| camera_read(read_id, captured_at))
        .collect();
    let records: Vec<TopicRecord> = reads
        .iter()
        .zip(0_i64..)
        .map(|(read, offset)| read_record(offset, &read.read_id, Some(read)))
        .collect();
    store.apply(&records).unwrap();

    // The canonical and the upper-case spelling of one UUID are two keys on the topic, so they
    // are two reads here too, each tombstoned under its own spelling.
    let listed: Vec<String> = store
        .reads_captured_before(i64::MAX)
        .unwrap()
        .into_iter()
        .map(|(read_id, _)| read_id)
        .collect();
    assert_eq!(listed, read_ids);
    for read in &reads {
        let indexed = store.read(&read.read_id).unwrap().unwrap();
        assert_eq!(indexed.captured_at, read.captured_at, "{}", read.read_id);
    }

    store.apply(&[read_record(4, read_ids[1], None)]).unwrap();
    assert!(store.read(read_ids[1]).unwrap().is_none());
    assert!(store.read(read_ids[0]).unwrap().is_some());
    let remaining = store.reads_captured_before(i64::MAX).unwrap();
    assert_eq!(remaining.len(), 3);
}

fn hold_record(offset: i64, hold_id: &str, read_ids: &[&str]) -> TopicRecord {
    let hold = EvidenceHold {
        hold_id: hold_id.into(),
        case_number: "2026-000123".into(),
        read_ids: read_ids.iter().map(|read_id| read_id.to_string()).collect(),
        placed_by: "format-test".into(),
        placed_at: 0,
        reason: "evidence".into(),
        review_at: None,
    };
    TopicRecord {
        topic: SourceTopic::Holds,
        partition: 0,
        offset,
        key: hold_id.as_bytes().to_vec(),
        payload: Some(encode(&hold).unwrap()),
    }
}

#[test]
fn holds_on_lists_only_that_read() {
    let folder = tempfile::tempdir().unwrap();
    let first = "0193a5f2-7c41-7d2e-9b0a-3f5e8c1d2a47";
    let second = "0193a5f2-7c41-7d2e-9b0a-3f5e8c1d2a48";
    // One read id is the start of the other, so a scan that ran past its prefix would show.
    let short = "read-4";
    let long = "read-42";
    let store = RetentionStore::open(folder.path()).unwrap();
    store
        .apply(&[
            hold_record(0, "hold-a", &[first, second, long]),
            hold_record(1, "hold-b", &[first, short]),
        ])
        .unwrap();
    // Reopened after a flush, so the lookups go through the SST files and their filters.
    store.flush().unwrap();
    drop(store);
    let store = RetentionStore::open(folder.path()).unwrap();

    assert_eq!(store.holds_on(first).unwrap(), ["hold-a", "hold-b"]);
    assert_eq!(store.holds_on(second).unwrap(), ["hold-a"]);
    assert_eq!(store.holds_on(short).unwrap(), ["hold-b"]);
    assert_eq!(store.holds_on(long).unwrap(), ["hold-a"]);
    assert!(store
        .holds_on("0193a5f2-7c41-7d2e-9b0a-3f5e8c1d2a49")
        .unwrap()
        .is_empty());
    assert!(!store.is_held("read").unwrap());
}
