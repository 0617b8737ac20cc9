use alpr_schemas::{HotlistReason, MatchPolicy};

use super::*;
use crate::entry_id::entry_id;

fn options() -> ImportOptions {
    ImportOptions {
        agency_id: Some("WA0340000".into()),
        default_reason: HotlistReason::StolenVehicle,
        default_priority: 2,
        ..ImportOptions::new("SPD-LOCAL")
    }
}

fn line_errors(result: Result<Vec<HotlistEntry>, ImportError>) -> Vec<LineError> {
    match result {
        Err(ImportError::InvalidLines(errors)) => errors,
        other => panic!("expected line errors, got {other:?}"),
    }
}

#[test]
fn lower_case_and_dashed_plates_normalise() {
    let text = "plate,state\n7abc 123,ca\nabc-1234,WA\n";
    let entries = parse_csv(text, &options()).expect("valid CSV");
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].plate, "7ABC123");
    assert_eq!(entries[0].region.as_deref(), Some("US-CA"));
    assert_eq!(entries[1].plate, "ABC1234");
    assert_eq!(entries[1].region.as_deref(), Some("US-WA"));
}

#[test]
fn defaults_fill_missing_columns() {
    let entries = parse_csv("plate,state\nABC1234,\n", &options()).expect("valid CSV");
    let entry = &entries[0];
    assert_eq!(entry.list, "SPD-LOCAL");
    assert_eq!(entry.agency_id, "WA0340000");
    assert_eq!(entry.region, None);
    assert_eq!(entry.reason, HotlistReason::StolenVehicle);
    assert_eq!(entry.priority, 2);
    assert_eq!(entry.match_policy, MatchPolicy::Exact);
    assert_eq!(entry.valid_from, 0);
    assert_eq!(entry.expires_at, None);
    assert_eq!(entry.source_record_id, None);
    assert_eq!(entry.entry_id, entry_id("SPD-LOCAL", None, "ABC1234", None));
}

#[test]
fn every_column_is_read() {
    let text = "Plate,State,Reason,Priority,Case Number,valid_from,expires-at,match_policy,\
                make,model,year,style,color,record_id\n\
                cde 5678,US-OR,stolen plate,1,24-118302,2024-01-15,2024-06-30T17:00:00-07:00,\
                OCR_TOLERANT,HOND,CIV,2019,4D,BLK,SPD-0042\n";
    let entries = parse_csv(text, &options()).expect("valid CSV");
    let entry = &entries[0];
    assert_eq!(entry.plate, "CDE5678");
    assert_eq!(entry.region.as_deref(), Some("US-OR"));
    assert_eq!(entry.reason, HotlistReason::StolenPlate);
    assert_eq!(entry.priority, 1);
    assert_eq!(entry.case_number.as_deref(), Some("24-118302"));
    assert_eq!(entry.valid_from, 1_705_276_800_000_000);
    assert_eq!(entry.expires_at, Some(1_719_792_000_000_000));
    assert_eq!(entry.match_policy, MatchPolicy::OcrTolerant);
    assert_eq!(entry.vehicle.make.as_deref(), Some("HOND"));
    assert_eq!(entry.vehicle.model.as_deref(), Some("CIV"));
    assert_eq!(entry.vehicle.year.as_deref(), Some("2019"));
    assert_eq!(entry.vehicle.style.as_deref(), Some("4D"));
    assert_eq!(entry.vehicle.colour.as_deref(), Some("BLK"));
    assert_eq!(entry.source_record_id.as_deref(), Some("SPD-0042"));
    assert_eq!(
        entry.entry_id,
        entry_id("SPD-LOCAL", Some("SPD-0042"), "", None)
    );
}

#[test]
fn reason_words_map_to_reasons() {
    let text = "plate,state,reason\n\
                AAA1111,WA,stolen vehicle\n\
                AAA2222,WA,Stolen Plate\n\
                AAA3333,WA,WANTED\n\
                AAA4444,WA,missing\n\
                AAA5555,WA,Amber\n\
                AAA6666,WA,felony\n\
                AAA7777,WA,bolo\n\
                AAA8888,WA,missing_person\n\
                AAA9999,WA,\n";
    let reasons: Vec<HotlistReason> = parse_csv(text, &options())
        .expect("valid CSV")
        .iter()
        .map(|entry| entry.reason)
        .collect();
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
            HotlistReason::MissingPerson,
            HotlistReason::StolenVehicle,
        ]
    );
}

#[test]
fn unknown_column_is_named() {
    let error = parse_csv(
        "plate,state,expiry,notes\nABC1234,WA,2024-06-30,x\n",
        &options(),
    )
    .expect_err("unknown columns");
    match &error {
        ImportError::UnknownColumns { columns, .. } => assert_eq!(columns, &["expiry", "notes"]),
        other => panic!("expected unknown columns, got {other:?}"),
    }
    assert!(error
        .to_string()
        .starts_with("unknown CSV columns expiry, notes; expected some of plate, state"));
}

#[test]
fn blank_header_is_shown_as_blank() {
    let error = parse_csv("plate,state,\nABC1234,WA,\n", &options()).expect_err("blank header");
    match error {
        ImportError::UnknownColumns { columns, .. } => assert_eq!(columns, vec!["(blank)"]),
        other => panic!("expected unknown columns, got {other:?}"),
    }
}

#[test]
fn missing_plate_column_is_rejected() {
    let error = parse_csv("tag,state\n", &options()).expect_err("no plate column");
    assert!(
        matches!(error, ImportError::UnknownColumns { .. }),
        "{error}"
    );

    let error = parse_csv("state,reason\nWA,stolen\n", &options()).expect_err("no plate column");
    match error {
        ImportError::MissingColumns { columns } => assert_eq!(columns, vec!["plate"]),
        other => panic!("expected missing columns, got {other:?}"),
    }
}

#[test]
fn colour_and_color_together_are_rejected() {
    let error = parse_csv("plate,state,colour,color\n", &options()).expect_err("same column twice");
    assert!(
        matches!(error, ImportError::DuplicateColumn { column: "colour" }),
        "{error}"
    );
}

#[test]
fn bad_priority_names_line_and_column() {
    let text = "plate,state,priority\nABC1234,WA,2\nBCD2345,WA,7\nCDE3456,WA,urgent\n";
    let errors = line_errors(parse_csv(text, &options()));
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0].line, 3);
    assert_eq!(errors[0].field, "priority");
    assert_eq!(
        errors[0].problem,
        "invalid value 7; expected 1 (most urgent) to 5"
    );
    assert_eq!(errors[1].line, 4);
    assert_eq!(errors[1].field, "priority");
}

#[test]
fn every_bad_field_of_a_row_is_reported() {
    let text = "plate,state,reason,expires_at\n--,XX,lost,tomorrow\n";
    let errors = line_errors(parse_csv(text, &options()));
    let fields: Vec<&str> = errors.iter().map(|error| error.field).collect();
    assert_eq!(fields, vec!["plate", "state", "reason", "expires_at"]);
    assert!(errors.iter().all(|error| error.line == 2));
}

#[test]
fn expiry_before_start_is_rejected() {
    let text = "plate,state,valid_from,expires_at\nABC1234,WA,2024-06-30,2024-06-01\n";
    let errors = line_errors(parse_csv(text, &options()));
    assert_eq!(
        errors,
        vec![LineError::new(2, "expires_at", "not after valid_from")]
    );
}

#[test]
fn same_plate_and_state_twice_is_rejected() {
    let text = "plate,state\nABC1234,WA\nabc 1234,wa\nABC1234,OR\n";
    let errors = line_errors(parse_csv(text, &options()));
    assert_eq!(
        errors,
        vec![LineError::new(
            3,
            "plate",
            "duplicates the record on line 2"
        )]
    );
}

#[test]
fn blank_rows_are_skipped_and_lines_counted() {
    let text = "plate,state\n\n,\nABC1234,WA\nAB*,WA\n";
    let errors = line_errors(parse_csv(text, &options()));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, 5);
    assert_eq!(errors[0].field, "plate");
}

#[test]
fn csv_needs_an_agency() {
    let options = ImportOptions::new("SPD-LOCAL");
    let error = parse_csv("plate,state\nABC1234,WA\n", &options).expect_err("no agency");
    assert!(
        matches!(
            error,
            ImportError::InvalidOption {
                option: "agency_id",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn ragged_rows_are_a_csv_error() {
    let error = parse_csv("plate,state\nABC1234,WA,extra\n", &options()).expect_err("ragged");
    assert!(matches!(error, ImportError::Csv(_)), "{error}");
}
