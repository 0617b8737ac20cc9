//! Checks the sample files under `tests/data/` against what their README promises, without a
//! broker: other crates' tests rely on those counts.

use std::collections::HashMap;
use std::path::PathBuf;

use alpr_hotlist::{diff_list, parse_file, ImportOptions};
use alpr_schemas::{HotlistEntry, HotlistReason};

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn keyed(entries: &[HotlistEntry]) -> HashMap<String, HotlistEntry> {
    entries
        .iter()
        .map(|entry| (entry.entry_id.clone(), entry.clone()))
        .collect()
}

fn csv_options() -> ImportOptions {
    ImportOptions {
        agency_id: Some("WA0340000".into()),
        ..ImportOptions::new("SPD-LOCAL")
    }
}

#[test]
fn ncic_update_changes_one_and_removes_two() {
    let options = ImportOptions::new("WA-STATE");
    let full = parse_file(&sample("wa_state_full.txt"), &options).expect("full file parses");
    let update = parse_file(&sample("wa_state_update.txt"), &options).expect("update parses");
    assert_eq!(full.len(), 8);
    assert_eq!(update.len(), 6);

    let difference = diff_list(&keyed(&full), update);
    let changed: Vec<&str> = difference
        .upserts
        .iter()
        .filter_map(|entry| entry.source_record_id.as_deref())
        .collect();
    assert_eq!(changed, vec!["V240011873"]);
    assert_eq!(difference.upserts[0].vehicle.colour.as_deref(), Some("BLU"));
    assert_eq!(difference.unchanged, 5);
    assert_eq!(difference.removals.len(), 2);

    let removed_records: Vec<&str> = full
        .iter()
        .filter(|entry| difference.removals.contains(&entry.entry_id))
        .filter_map(|entry| entry.source_record_id.as_deref())
        .collect();
    assert_eq!(removed_records, vec!["M240012501", "B240012859"]);
}

#[test]
fn ncic_full_file_has_every_file_code() {
    let entries = parse_file(
        &sample("wa_state_full.txt"),
        &ImportOptions::new("WA-STATE"),
    )
    .expect("full file parses");
    let reasons: Vec<HotlistReason> = entries.iter().map(|entry| entry.reason).collect();
    assert_eq!(
        reasons,
        vec![
            HotlistReason::StolenVehicle,
            HotlistReason::StolenPlate,
            HotlistReason::WantedPerson,
            HotlistReason::MissingPerson,
            HotlistReason::AmberAlert,
            HotlistReason::FelonyVehicle,
            HotlistReason::BeOnTheLookout,
            HotlistReason::StolenVehicle,
        ]
    );
    let agencies: Vec<&str> = entries
        .iter()
        .map(|entry| entry.agency_id.as_str())
        .collect();
    assert_eq!(agencies[4], "OR0260200");
    assert_eq!(entries[2].plate, "7KRT552");
    assert_eq!(entries[2].region.as_deref(), Some("US-CA"));
}

#[test]
fn csv_update_changes_one_and_removes_two() {
    let full = parse_file(&sample("agency_full.csv"), &csv_options()).expect("full file parses");
    let update = parse_file(&sample("agency_update.csv"), &csv_options()).expect("update parses");
    assert_eq!(full.len(), 8);
    assert_eq!(update.len(), 6);
    assert_eq!(full[0].plate, "BXR4417");
    assert_eq!(full[6].region, None);

    let difference = diff_list(&keyed(&full), update);
    let changed: Vec<&str> = difference
        .upserts
        .iter()
        .map(|entry| entry.plate.as_str())
        .collect();
    assert_eq!(changed, vec!["CDM9120"]);
    assert_eq!(difference.unchanged, 5);

    let removed_plates: Vec<&str> = full
        .iter()
        .filter(|entry| difference.removals.contains(&entry.entry_id))
        .map(|entry| entry.plate.as_str())
        .collect();
    assert_eq!(removed_plates, vec!["AHN6023", "BWT7280"]);
}
