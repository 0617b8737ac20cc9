use alpr_schemas::MatchPolicy;

use super::*;
use crate::entry_id::entry_id;

fn options() -> ImportOptions {
    ImportOptions::new("WA-STATE")
}

/// Builds a record line from its fields, padding each to its width, and trims the trailing
/// spaces as relays do when the last fields are blank.
#[allow(clippy::too_many_arguments)]
fn record(
    record_id: &str,
    ori: &str,
    entry_date: &str,
    plate: &str,
    state: &str,
    vehicle_year: &str,
    make: &str,
    colour: &str,
) -> String {
    let line = format!(
        "{record_id:<10}{ori:<9}{entry_date:<8}{plate:<10}{state:<2}{:<4}{:<2}{vehicle_year:<4}{make:<4}{:<3}{:<2}{colour:<3}",
        "", "", "", ""
    );
    line.trim_end().to_string()
}

/// Builds a header line for list `WA-STATE` dated 2024-01-16, with a record count when given.
fn header(record_count: Option<usize>) -> String {
    let count = record_count
        .map(|count| format!("{count:06}"))
        .unwrap_or_default();
    format!("HDR{:<10}{:<8}{count}", "WA-STATE", "20240116")
}

fn line_errors(result: Result<Vec<HotlistEntry>, ImportError>) -> Vec<LineError> {
    match result {
        Err(ImportError::InvalidLines(errors)) => errors,
        other => panic!("expected line errors, got {other:?}"),
    }
}

#[test]
fn columns_follow_the_layout_table() {
    // Columns:  1-10      11-19    20-27   28-37     38 40  44 46  50  54 57 59
    let line = "V123456789WA034000020240115ABC1234   WA2024PC2019TOYTCAM4DSIL";
    let text = format!("{}\n{line}\n", header(Some(1)));
    let entries = parse_ncic(&text, &options()).expect("valid file");
    let entry = &entries[0];
    assert_eq!(entry.source_record_id.as_deref(), Some("V123456789"));
    assert_eq!(entry.agency_id, "WA0340000");
    assert_eq!(entry.valid_from, 1_705_276_800_000_000);
    assert_eq!(entry.plate, "ABC1234");
    assert_eq!(entry.region.as_deref(), Some("US-WA"));
    assert_eq!(entry.vehicle.year.as_deref(), Some("2019"));
    assert_eq!(entry.vehicle.make.as_deref(), Some("TOYT"));
    assert_eq!(entry.vehicle.model.as_deref(), Some("CAM"));
    assert_eq!(entry.vehicle.style.as_deref(), Some("4D"));
    assert_eq!(entry.vehicle.colour.as_deref(), Some("SIL"));
    assert_eq!(entry.reason, HotlistReason::StolenVehicle);
    assert_eq!(entry.list, "WA-STATE");
    assert_eq!(entry.priority, 3);
    assert_eq!(entry.match_policy, MatchPolicy::Exact);
    assert_eq!(entry.expires_at, None);
    assert_eq!(
        entry.entry_id,
        entry_id("WA-STATE", Some("V123456789"), "", None)
    );
}

#[test]
fn file_codes_give_reasons() {
    let codes = ['V', 'P', 'W', 'M', 'A', 'F', 'B', 'X'];
    let mut text = format!("{}\n", header(Some(codes.len())));
    for (index, code) in codes.iter().enumerate() {
        let record_id = format!("{code}00000000{index}");
        let plate = format!("ABC{index:04}");
        text.push_str(&record(
            &record_id,
            "WA0340000",
            "20240115",
            &plate,
            "WA",
            "",
            "",
            "",
        ));
        text.push('\n');
    }
    let reasons: Vec<HotlistReason> = parse_ncic(&text, &options())
        .expect("valid file")
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
            HotlistReason::Other,
        ]
    );
}

#[test]
fn short_lines_leave_trailing_fields_blank() {
    let text = "HDR\n\
                P000000001OR026020020231102XYZ 789   OR\n\
                \n\
                V000000002WA017000020231103DEF5678\n";
    let entries = parse_ncic(text, &options()).expect("valid file");
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].plate, "XYZ789");
    assert_eq!(entries[0].region.as_deref(), Some("US-OR"));
    assert_eq!(entries[0].vehicle, VehicleDescription::default());
    assert_eq!(entries[1].region, None);
    assert_eq!(entries[1].agency_id, "WA0170000");
}

#[test]
fn bad_entry_date_names_line_and_field() {
    let text = format!(
        "{}\n{}\n{}\n",
        header(Some(2)),
        record(
            "V000000001",
            "WA0340000",
            "20240115",
            "ABC1234",
            "WA",
            "2019",
            "TOYT",
            "SIL"
        ),
        record(
            "V000000002",
            "WA0340000",
            "20211345",
            "BCD2345",
            "WA",
            "2017",
            "HOND",
            "BLK"
        ),
    );
    let error = parse_ncic(&text, &options()).expect_err("bad date");
    assert_eq!(
        error.line_errors(),
        [LineError::new(
            3,
            "entry date",
            "invalid date 20211345; expected YYYYMMDD"
        )]
    );
    assert!(
        error
            .to_string()
            .contains("line 3: entry date: invalid date 20211345"),
        "{error}"
    );
}

#[test]
fn header_count_must_match_records() {
    let text = format!(
        "{}\n{}\n{}\n",
        header(Some(3)),
        record(
            "V000000001",
            "WA0340000",
            "20240115",
            "ABC1234",
            "WA",
            "",
            "",
            ""
        ),
        record(
            "V000000002",
            "WA0340000",
            "20240115",
            "BCD2345",
            "WA",
            "",
            "",
            ""
        ),
    );
    let errors = line_errors(parse_ncic(&text, &options()));
    assert_eq!(
        errors,
        vec![LineError::new(
            1,
            "record count",
            "header declares 3 records but the file holds 2"
        )]
    );
}

#[test]
fn missing_header_is_rejected() {
    let text = record(
        "V000000001",
        "WA0340000",
        "20240115",
        "ABC1234",
        "WA",
        "",
        "",
        "",
    );
    let errors = line_errors(parse_ncic(&text, &options()));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, 1);
    assert_eq!(errors[0].field, "header");
}

#[test]
fn invalid_header_fields_are_rejected() {
    let bad_date = header(Some(1)).replace("20240116", "20241301");
    let errors = line_errors(parse_ncic(&bad_date, &options()));
    assert_eq!(errors[0].field, "file date");
    let bad_count = format!("{}   ABC", header(None));
    let errors = line_errors(parse_ncic(&bad_count, &options()));
    assert_eq!(errors[0].field, "record count");
}

#[test]
fn every_bad_field_is_reported() {
    let text = format!(
        "HDR\n{}\n",
        record("V 01", "WA03", "", "", "ZZ", "19", "", "")
    );
    let errors = line_errors(parse_ncic(&text, &options()));
    let fields: Vec<&str> = errors.iter().map(|error| error.field).collect();
    assert_eq!(
        fields,
        vec![
            "record id",
            "ori",
            "entry date",
            "plate",
            "state",
            "vehicle year"
        ]
    );
    assert!(errors.iter().all(|error| error.line == 2));
}

#[test]
fn text_past_the_layout_is_rejected() {
    let padded = record(
        "V000000001",
        "WA0340000",
        "20240115",
        "ABC1234",
        "WA",
        "2019",
        "TOYT",
        "SIL",
    );
    let long = record(
        "V000000002",
        "WA0340000",
        "20240115",
        "BCD2345",
        "WA",
        "2017",
        "HOND",
        "BLK",
    );
    assert_eq!(padded.len(), 61);
    let text = format!("HDR\n{padded}   \n{long}EXTRA\n");
    let errors = line_errors(parse_ncic(&text, &options()));
    assert_eq!(
        errors,
        vec![LineError::new(
            3,
            "line",
            "has text past column 61, where the layout ends"
        )]
    );
}

#[test]
fn second_header_and_non_ascii_are_rejected() {
    let text = "HDR\nHDRWA-STATE\nV000000001WA034000020240115ÄBC1234\n";
    let errors = line_errors(parse_ncic(text, &options()));
    assert_eq!(errors[0].line, 2);
    assert_eq!(errors[0].field, "header");
    assert_eq!(errors[1].line, 3);
    assert_eq!(errors[1].field, "line");
}

#[test]
fn agency_option_overrides_ori() {
    let mut options = options();
    options.agency_id = Some("WA0000000".into());
    let text = format!(
        "HDR\n{}\n{}\n",
        record(
            "V000000001",
            "WA0340000",
            "20240115",
            "ABC1234",
            "WA",
            "",
            "",
            ""
        ),
        record("V000000002", "", "20240115", "BCD2345", "WA", "", "", ""),
    );
    let entries = parse_ncic(&text, &options).expect("valid file");
    assert!(entries.iter().all(|entry| entry.agency_id == "WA0000000"));

    let errors = line_errors(parse_ncic(&text, &self::options()));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, 3);
    assert_eq!(errors[0].field, "ori");
}

#[test]
fn duplicate_record_ids_are_rejected() {
    let text = format!(
        "HDR\n{}\n{}\n",
        record(
            "V000000001",
            "WA0340000",
            "20240115",
            "ABC1234",
            "WA",
            "",
            "",
            ""
        ),
        record(
            "V000000001",
            "WA0340000",
            "20240115",
            "BCD2345",
            "WA",
            "",
            "",
            ""
        ),
    );
    let errors = line_errors(parse_ncic(&text, &options()));
    assert_eq!(
        errors,
        vec![LineError::new(
            3,
            "record id",
            "duplicates the record on line 2"
        )]
    );
}
