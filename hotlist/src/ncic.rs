//! NCIC-style fixed-width hotlist files: extracts of the FBI National Crime Information Center
//! vehicle and license plate files that state hotlist relays pass on to agencies.
//!
//! The layout below is alpr's own definition of such an extract, and a relay file with other
//! columns needs converting to it first. Columns are 1-based and inclusive, counted in ASCII
//! characters, and each field is space-padded.
//!
//! The first non-blank line is the header:
//!
//! | columns | field | content |
//! | --- | --- | --- |
//! | 1–3 | tag | `HDR` |
//! | 4–13 | list name | the relay's name for the list; informational only, the import options name the list |
//! | 14–21 | file date | `YYYYMMDD`, or blank |
//! | 22–27 | record count | number of record lines, or blank when the relay gives none |
//!
//! Every other non-blank line is one record:
//!
//! | columns | field | content |
//! | --- | --- | --- |
//! | 1–10 | record id | the record's id in the source file; its first character is the file code |
//! | 11–19 | ORI | 9-character originating agency identifier; the entry's agency unless the import options give one |
//! | 20–27 | entry date | `YYYYMMDD`; the entry is valid from midnight UTC that day |
//! | 28–37 | plate | plate number |
//! | 38–39 | state | issuing state, territory or Canadian province code, or blank when unknown |
//! | 40–43 | plate year | license year (when the registration expires), `YYYY` or blank |
//! | 44–45 | plate type | NCIC license plate type such as `PC` (passenger) or `TK` (truck), or blank |
//! | 46–49 | vehicle year | model year, `YYYY` or blank |
//! | 50–53 | make | NCIC make code such as `TOYT`, `HOND` or `FORD` |
//! | 54–56 | model | NCIC model code such as `CAM` or `CIV` |
//! | 57–58 | style | NCIC style code such as `4D` or `PK` |
//! | 59–61 | colour | NCIC colour code such as `BLK`, `WHI` or `SIL` |
//!
//! File codes: `V` stolen vehicle, `P` stolen plate, `W` wanted person, `M` missing person,
//! `A` AMBER alert, `F` felony vehicle, `B` be on the lookout; any other code gives `OTHER`.
//!
//! A line may end early when its trailing fields are blank, and trailing spaces past column 61
//! are ignored, but any other text past column 61 is an error. Blank lines are skipped. The plate
//! year and plate type are checked but not stored, because [`HotlistEntry`] has no field for
//! them. Records carry no expiry, priority or match policy, so those come from the import options.
//!
//! A file with any bad line, or whose header record count differs from its record lines, is
//! rejected whole and nothing is published. A partial hotlist is dangerous: importing only the
//! good lines would remove the entries of the bad ones from the topic.

use alpr_schemas::{HotlistEntry, HotlistReason, VehicleDescription};

use crate::entry_id::{entry_id, find_duplicate_ids};
use crate::error::{ImportError, LineError, LineProblems};
use crate::fields;
use crate::ImportOptions;

/// A fixed-width field: its name in errors and its 1-based inclusive columns.
struct Field {
    name: &'static str,
    first: usize,
    last: usize,
}

impl Field {
    const fn new(name: &'static str, first: usize, last: usize) -> Self {
        Self { name, first, last }
    }

    /// Returns the field's text without padding, or "" when the line ends before it. The line
    /// must be ASCII, so that byte positions are columns.
    fn read<'l>(&self, line: &'l str) -> &'l str {
        debug_assert!(line.is_ascii());
        let start = (self.first - 1).min(line.len());
        let end = self.last.min(line.len());
        line[start..end].trim()
    }
}

const HEADER_TAG: &str = "HDR";
const HEADER_FILE_DATE: Field = Field::new("file date", 14, 21);
const HEADER_RECORD_COUNT: Field = Field::new("record count", 22, 27);

const RECORD_ID: Field = Field::new("record id", 1, 10);
const ORI: Field = Field::new("ori", 11, 19);
const ENTRY_DATE: Field = Field::new("entry date", 20, 27);
const PLATE: Field = Field::new("plate", 28, 37);
const STATE: Field = Field::new("state", 38, 39);
const PLATE_YEAR: Field = Field::new("plate year", 40, 43);
const PLATE_TYPE: Field = Field::new("plate type", 44, 45);
const VEHICLE_YEAR: Field = Field::new("vehicle year", 46, 49);
const MAKE: Field = Field::new("make", 50, 53);
const MODEL: Field = Field::new("model", 54, 56);
const STYLE: Field = Field::new("style", 57, 58);
const COLOUR: Field = Field::new("colour", 59, 61);
/// Last column of a record line.
const RECORD_WIDTH: usize = 61;

/// Returns the reason that a record's file code (the first character of its record id) stands for.
pub fn reason_for_file_code(code: char) -> HotlistReason {
    match code.to_ascii_uppercase() {
        'V' => HotlistReason::StolenVehicle,
        'P' => HotlistReason::StolenPlate,
        'W' => HotlistReason::WantedPerson,
        'M' => HotlistReason::MissingPerson,
        'A' => HotlistReason::AmberAlert,
        'F' => HotlistReason::FelonyVehicle,
        'B' => HotlistReason::BeOnTheLookout,
        _ => HotlistReason::Other,
    }
}

/// A parsed record with the line it came from.
struct Record {
    line: u64,
    entry: HotlistEntry,
}

/// Parses an NCIC-style file. Any bad line rejects the whole file, as the module documentation explains.
pub(crate) fn parse_ncic(
    text: &str,
    options: &ImportOptions,
) -> Result<Vec<HotlistEntry>, ImportError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(index, line)| (index as u64 + 1, line))
        .filter(|(_, line)| !line.trim().is_empty());

    let Some((header_line, header)) = lines.next() else {
        return Ok(Vec::new());
    };
    let declared_count = parse_header(header_line, header)?;

    let mut records = Vec::new();
    let mut errors = Vec::new();
    let mut record_lines = 0_u64;
    for (line_number, line) in lines {
        record_lines += 1;
        match parse_record(line_number, line, options) {
            Ok(entry) => records.push(Record {
                line: line_number,
                entry,
            }),
            Err(line_errors) => errors.extend(line_errors),
        }
    }

    if let Some(declared) = declared_count {
        if declared != record_lines {
            errors.push(LineError::new(
                header_line,
                HEADER_RECORD_COUNT.name,
                format!("header declares {declared} records but the file holds {record_lines}"),
            ));
        }
    }
    errors.extend(find_duplicate_ids(records.iter().map(|record| {
        (record.line, record.entry.entry_id.as_str(), RECORD_ID.name)
    })));
    if !errors.is_empty() {
        errors.sort_by_key(|error| error.line);
        return Err(ImportError::InvalidLines(errors));
    }
    Ok(records.into_iter().map(|record| record.entry).collect())
}

/// Checks the header line and returns the record count it declares, if any.
fn parse_header(line_number: u64, line: &str) -> Result<Option<u64>, ImportError> {
    let reject = |field: &'static str, problem: String| {
        ImportError::InvalidLines(vec![LineError::new(line_number, field, problem)])
    };
    if !line.starts_with(HEADER_TAG) {
        return Err(reject(
            "header",
            format!("missing; the first line must start with {HEADER_TAG}"),
        ));
    }
    if !line.is_ascii() {
        return Err(reject(
            "header",
            "contains characters other than ASCII".into(),
        ));
    }
    let file_date = HEADER_FILE_DATE.read(line);
    if !file_date.is_empty() {
        fields::parse_compact_date(file_date)
            .map_err(|problem| reject(HEADER_FILE_DATE.name, problem))?;
    }
    let count = HEADER_RECORD_COUNT.read(line);
    if count.is_empty() {
        return Ok(None);
    }
    if !count.chars().all(|c| c.is_ascii_digit()) {
        return Err(reject(
            HEADER_RECORD_COUNT.name,
            format!("invalid value {count}; expected digits or blank"),
        ));
    }
    count
        .parse()
        .map(Some)
        .map_err(|_| reject(HEADER_RECORD_COUNT.name, format!("invalid value {count}")))
}

/// Parses one record line, reporting every bad field of it rather than only the first.
fn parse_record(
    line_number: u64,
    line: &str,
    options: &ImportOptions,
) -> Result<HotlistEntry, Vec<LineError>> {
    let mut problems = LineProblems::new(line_number);
    if !line.is_ascii() {
        problems.add(
            "line",
            "contains characters other than ASCII, so columns cannot be counted",
        );
        return Err(problems.into_errors());
    }
    if line.starts_with(HEADER_TAG) {
        problems.add(
            "header",
            "a second header line; only the first line may be a header",
        );
        return Err(problems.into_errors());
    }
    if line.trim_end().len() > RECORD_WIDTH {
        problems.add(
            "line",
            format!("has text past column {RECORD_WIDTH}, where the layout ends"),
        );
    }

    let record_id = problems.check(RECORD_ID.name, parse_record_id(RECORD_ID.read(line)));
    let agency_id = problems.check(
        ORI.name,
        parse_ori(ORI.read(line), options.agency_id.as_deref()),
    );
    let valid_from = problems.check(
        ENTRY_DATE.name,
        required(ENTRY_DATE.read(line)).and_then(fields::parse_compact_date),
    );
    let plate = problems.check(PLATE.name, fields::parse_plate(PLATE.read(line)));
    let region = problems.check(STATE.name, fields::parse_region(STATE.read(line)));
    problems.check(PLATE_YEAR.name, fields::parse_year(PLATE_YEAR.read(line)));
    problems.check(PLATE_TYPE.name, parse_code(PLATE_TYPE.read(line)));
    let vehicle_year = problems.check(
        VEHICLE_YEAR.name,
        fields::parse_year(VEHICLE_YEAR.read(line)),
    );

    let errors = problems.into_errors();
    let (
        Some(record_id),
        Some(agency_id),
        Some(valid_from),
        Some(plate),
        Some(region),
        Some(vehicle_year),
    ) = (
        record_id,
        agency_id,
        valid_from,
        plate,
        region,
        vehicle_year,
    )
    else {
        return Err(errors);
    };
    if !errors.is_empty() {
        return Err(errors);
    }

    let file_code = record_id.chars().next().unwrap_or(' ');
    Ok(HotlistEntry {
        entry_id: entry_id(&options.list, Some(&record_id), &plate, region.as_deref()),
        list: options.list.clone(),
        agency_id,
        plate,
        region,
        reason: reason_for_file_code(file_code),
        priority: options.default_priority,
        match_policy: options.default_match_policy,
        vehicle: VehicleDescription {
            year: vehicle_year,
            make: fields::optional_text(MAKE.read(line)),
            model: fields::optional_text(MODEL.read(line)),
            style: fields::optional_text(STYLE.read(line)),
            colour: fields::optional_text(COLOUR.read(line)),
        },
        case_number: None,
        source_record_id: Some(record_id),
        valid_from,
        expires_at: None,
    })
}

fn required(text: &str) -> Result<&str, String> {
    if text.is_empty() {
        Err("missing".into())
    } else {
        Ok(text)
    }
}

fn parse_record_id(text: &str) -> Result<String, String> {
    let record_id = required(text)?;
    if record_id.contains(char::is_whitespace) {
        return Err(format!("invalid value {record_id}; contains spaces"));
    }
    Ok(record_id.to_string())
}

/// Returns the agency of a record: `override_agency` when the import options give one, else the
/// record's ORI, which must then be present.
fn parse_ori(ori: &str, override_agency: Option<&str>) -> Result<String, String> {
    if !ori.is_empty() && (ori.len() != 9 || !ori.chars().all(|c| c.is_ascii_alphanumeric())) {
        return Err(format!("invalid value {ori}; expected 9 letters or digits"));
    }
    match (override_agency, ori.is_empty()) {
        (Some(agency), _) => Ok(agency.to_string()),
        (None, false) => Ok(ori.to_string()),
        (None, true) => Err("missing, and the import options give no agency id".into()),
    }
}

/// Checks a code field, such as the plate type, that may only hold letters and digits.
fn parse_code(text: &str) -> Result<(), String> {
    if text.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(format!("invalid value {text}; expected letters or digits"))
    }
}

#[cfg(test)]
#[path = "ncic_tests.rs"]
mod tests;
