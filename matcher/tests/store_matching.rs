//! The RocksDB hotlist store finds entries by pattern: exact plates, OCR variants of
//! OCR-tolerant entries, and wildcard entries, and keeps them across a reopen.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

use alpr_matcher::store::{HotlistRecord, HotlistStore};
use alpr_schemas::{
    encode, HotlistEntry, HotlistImport, HotlistReason, MatchKind, MatchPolicy, VehicleDescription,
};

// Entry ids are UUIDs in the schema; records with other ids do not decode.
const TOLERANT: &str = "00000000-0000-4000-8000-000000000001";
const EXACT: &str = "00000000-0000-4000-8000-000000000002";
const WILDCARD: &str = "00000000-0000-4000-8000-000000000003";

fn entry(id: &str, plate: &str, policy: MatchPolicy) -> HotlistEntry {
    HotlistEntry {
        entry_id: id.into(),
        list: "NCIC".into(),
        agency_id: "wsp".into(),
        plate: plate.into(),
        region: None,
        reason: HotlistReason::StolenVehicle,
        priority: 1,
        match_policy: policy,
        vehicle: VehicleDescription::default(),
        case_number: None,
        source_record_id: None,
        valid_from: 0,
        expires_at: None,
    }
}

fn record(offset: i64, entry: &HotlistEntry) -> HotlistRecord {
    HotlistRecord {
        partition: 0,
        offset,
        key: entry.entry_id.clone().into_bytes(),
        payload: Some(encode(entry).unwrap()),
    }
}

fn kinds(store: &HotlistStore, read: &str) -> Vec<(String, MatchKind)> {
    let mut found: Vec<_> = store
        .entries_for_read(read)
        .unwrap()
        .into_iter()
        .map(|(entry, plate_match)| (entry.entry_id, plate_match.kind))
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

#[test]
fn store_matches_by_policy_and_pattern() {
    let folder = tempfile::tempdir().unwrap();
    let store = HotlistStore::open(folder.path()).unwrap();
    let tolerant = entry(TOLERANT, "1291164", MatchPolicy::OcrTolerant);
    let exact = entry(EXACT, "1291164", MatchPolicy::Exact);
    let wildcard = entry(WILDCARD, "7AB*", MatchPolicy::Exact);
    store
        .apply(&[
            record(0, &tolerant),
            record(1, &exact),
            record(2, &wildcard),
        ])
        .unwrap();

    assert_eq!(
        kinds(&store, "1291164"),
        vec![
            (TOLERANT.into(), MatchKind::Exact),
            (EXACT.into(), MatchKind::Exact)
        ]
    );
    assert_eq!(
        kinds(&store, "1Z91164"),
        vec![(TOLERANT.into(), MatchKind::OcrVariant)]
    );
    assert_eq!(
        kinds(&store, "7ABC123"),
        vec![(WILDCARD.into(), MatchKind::Wildcard)]
    );
    assert!(kinds(&store, "9XY0000").is_empty());

    // A tombstone removes the entry from matching; the others survive a reopen.
    store
        .apply(&[HotlistRecord {
            partition: 0,
            offset: 3,
            key: EXACT.as_bytes().to_vec(),
            payload: None,
        }])
        .unwrap();
    drop(store);
    let reopened = HotlistStore::open(folder.path()).unwrap();
    assert_eq!(reopened.entry_count(), 2);
    assert_eq!(
        kinds(&reopened, "1291164"),
        vec![(TOLERANT.into(), MatchKind::Exact)]
    );
    assert_eq!(reopened.stored_offsets().unwrap().get(&0), Some(&4));
}

fn import_record(offset: i64, list: &str, imported_at: Option<i64>) -> HotlistRecord {
    HotlistRecord {
        partition: 1,
        offset,
        key: HotlistImport::key(list).into_bytes(),
        payload: imported_at.map(|imported_at| {
            encode(&HotlistImport {
                list: list.into(),
                agency_id: None,
                imported_at,
                entry_count: 2,
                source: Some("ncic.txt".into()),
            })
            .unwrap()
        }),
    }
}

#[test]
fn store_tracks_lists_and_their_imports_across_reopen() {
    let folder = tempfile::tempdir().unwrap();
    let mut other = entry(EXACT, "8XYZ999", MatchPolicy::Exact);
    other.list = "WA-STATE".into();
    {
        let store = HotlistStore::open(folder.path()).unwrap();
        let summary = store
            .apply(&[
                record(0, &entry(TOLERANT, "1291164", MatchPolicy::OcrTolerant)),
                record(1, &entry(WILDCARD, "7AB*", MatchPolicy::Exact)),
                record(2, &other),
                import_record(3, "NCIC", Some(1_000)),
                import_record(4, "NCIC", Some(2_000)),
            ])
            .unwrap();
        assert_eq!(summary.imports, 2);
        assert_eq!(summary.upserted, 3);
        assert_eq!(store.list_imported_at("NCIC"), Some(2_000));
        assert_eq!(store.list_imported_at("WA-STATE"), None);
        store.flush().unwrap();
    }

    let store = HotlistStore::open(folder.path()).unwrap();
    let lists: Vec<_> = store
        .list_summaries()
        .into_iter()
        .map(|summary| {
            (
                summary.list,
                summary.entries,
                summary.import.map(|import| import.imported_at),
            )
        })
        .collect();
    assert_eq!(
        lists,
        vec![
            ("NCIC".to_string(), 2, Some(2_000)),
            ("WA-STATE".to_string(), 1, None)
        ]
    );

    // Moving an entry to another list moves its count; removing a list removes its import.
    let mut moved = entry(WILDCARD, "7AB*", MatchPolicy::Exact);
    moved.list = "WA-STATE".into();
    store
        .apply(&[
            record(5, &moved),
            HotlistRecord {
                partition: 0,
                offset: 6,
                key: TOLERANT.as_bytes().to_vec(),
                payload: None,
            },
            import_record(7, "NCIC", None),
        ])
        .unwrap();
    assert_eq!(store.list_imported_at("NCIC"), None);
    let lists: Vec<_> = store
        .list_summaries()
        .into_iter()
        .map(|summary| (summary.list, summary.entries))
        .collect();
    assert_eq!(lists, vec![("WA-STATE".to_string(), 2)]);
}

#[test]
fn import_record_under_another_lists_key_is_skipped() {
    let folder = tempfile::tempdir().unwrap();
    let store = HotlistStore::open(folder.path()).unwrap();
    let mut mislabelled = import_record(0, "NCIC", Some(1_000));
    mislabelled.key = HotlistImport::key("WA-STATE").into_bytes();
    let summary = store.apply(&[mislabelled]).unwrap();
    assert_eq!(summary.undecodable, 1);
    assert_eq!(store.list_imported_at("WA-STATE"), None);
    assert_eq!(store.list_imported_at("NCIC"), None);
}

#[test]
fn batch_keeps_record_order_per_key() {
    let folder = tempfile::tempdir().unwrap();
    let first = entry(WILDCARD, "7AB*", MatchPolicy::Exact);
    let removed = entry(TOLERANT, "1291164", MatchPolicy::Exact);
    let updated = entry(EXACT, "9XYZ000", MatchPolicy::Exact);
    let mut earlier_update = updated.clone();
    earlier_update.plate = "9XYZ111".into();
    {
        let store = HotlistStore::open(folder.path()).unwrap();
        // The store writes a batch in key order; each key's writes must still apply in record
        // order, so the tombstone removes its entry and the later update wins.
        let tombstone = HotlistRecord {
            partition: 0,
            offset: 3,
            key: TOLERANT.as_bytes().to_vec(),
            payload: None,
        };
        store
            .apply(&[
                record(0, &first),
                record(1, &removed),
                record(2, &earlier_update),
                tombstone,
                record(4, &updated),
            ])
            .unwrap();
        store.flush().unwrap();
    }

    // Reopening rebuilds the index from RocksDB, so this checks the stored writes.
    let store = HotlistStore::open(folder.path()).unwrap();
    assert_eq!(store.entry_count(), 2);
    assert!(kinds(&store, "1291164").is_empty());
    assert!(kinds(&store, "9XYZ111").is_empty());
    assert_eq!(
        kinds(&store, "9XYZ000"),
        vec![(EXACT.into(), MatchKind::Exact)]
    );
}
