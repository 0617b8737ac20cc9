//! Agency hotlists as CSV with a header row.
//!
//! | column | required | meaning |
//! | --- | --- | --- |
//! | `plate` | yes | plate or pattern (`?` one unknown character, `*` any run); normalised, so `7abc-123` is `7ABC123` |
//! | `state` | yes (values may be blank) | US state or territory code (`WA`), Canadian province code (`BC`), or ISO 3166-2 (`US-WA`); blank means any region |
//! | `reason` | no | `STOLEN_VEHICLE` … `OTHER` in any case, or a word such as `stolen plate`, `wanted`, `missing`, `amber`, `felony`, `bolo` |
//! | `priority` | no | 1 (most urgent) to 5 |
//! | `case_number` | no | the agency's case number |
//! | `valid_from` | no | RFC 3339 time or `YYYY-MM-DD` (start of that day, UTC); blank means the Unix epoch, so the entry is in force at once and a re-import does not change it |
//! | `expires_at` | no | RFC 3339 time or `YYYY-MM-DD` (the entry still matches during that whole day, UTC); blank means no expiry |
//! | `match_policy` | no | `exact` or `ocr_tolerant` |
//! | `make`, `model`, `year`, `style`, `colour` (or `color`) | no | vehicle description, often NCIC codes such as `TOYT`, `4D`, `SIL` |
//! | `entry_id` (or `record_id`) | no | the list's own record id; when given, it rather than plate and state identifies the entry across imports |
//!
//! Column names are matched without regard to case, and spaces or dashes in them count as
//! underscores. A column outside this table is an error, so that a misspelt `expires_at` cannot
//! silently leave stolen-vehicle entries in force forever. Blank fields take the import options'
//! defaults, and rows whose fields are all blank are skipped.

use std::collections::HashMap;

use alpr_schemas::{HotlistEntry, VehicleDescription};
use csv::StringRecord;

use crate::entry_id::{entry_id, find_duplicate_ids};
use crate::error::{ImportError, LineError, LineProblems};
use crate::fields::{self, DayBoundary};
use crate::ImportOptions;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Column {
    Plate,
    State,
    Reason,
    Priority,
    CaseNumber,
    ValidFrom,
    ExpiresAt,
    MatchPolicy,
    Make,
    Model,
    Year,
    Style,
    Colour,
    RecordId,
}

const REQUIRED_COLUMNS: [Column; 2] = [Column::Plate, Column::State];

const EXPECTED_COLUMNS: &str = "plate, state, reason, priority, case_number, valid_from, \
    expires_at, match_policy, make, model, year, style, colour (or color), entry_id (or record_id)";

impl Column {
    /// Returns the column a header names, after lower-casing it and turning spaces and dashes
    /// into underscores.
    fn from_header(header: &str) -> Option<Self> {
        let name = header.trim().to_lowercase().replace([' ', '-'], "_");
        let column = match name.as_str() {
            "plate" => Self::Plate,
            "state" => Self::State,
            "reason" => Self::Reason,
            "priority" => Self::Priority,
            "case_number" => Self::CaseNumber,
            "valid_from" => Self::ValidFrom,
            "expires_at" => Self::ExpiresAt,
            "match_policy" => Self::MatchPolicy,
            "make" => Self::Make,
            "model" => Self::Model,
            "year" => Self::Year,
            "style" => Self::Style,
            "colour" | "color" => Self::Colour,
            "entry_id" | "record_id" => Self::RecordId,
            _ => return None,
        };
        Some(column)
    }

    fn name(self) -> &'static str {
        match self {
            Self::Plate => "plate",
            Self::State => "state",
            Self::Reason => "reason",
            Self::Priority => "priority",
            Self::CaseNumber => "case_number",
            Self::ValidFrom => "valid_from",
            Self::ExpiresAt => "expires_at",
            Self::MatchPolicy => "match_policy",
            Self::Make => "make",
            Self::Model => "model",
            Self::Year => "year",
            Self::Style => "style",
            Self::Colour => "colour",
            Self::RecordId => "entry_id",
        }
    }
}

/// Position of each known column in the file's rows.
struct ColumnIndex(HashMap<Column, usize>);

impl ColumnIndex {
    fn from_headers(headers: &StringRecord) -> Result<Self, ImportError> {
        let mut positions = HashMap::new();
        let mut unknown = Vec::new();
        for (position, header) in headers.iter().enumerate() {
            let Some(column) = Column::from_header(header) else {
                let shown = if header.trim().is_empty() {
                    "(blank)"
                } else {
                    header
                };
                unknown.push(shown.to_string());
                continue;
            };
            if positions.insert(column, position).is_some() {
                return Err(ImportError::DuplicateColumn {
                    column: column.name(),
                });
            }
        }
        if !unknown.is_empty() {
            return Err(ImportError::UnknownColumns {
                columns: unknown,
                expected: EXPECTED_COLUMNS,
            });
        }
        let missing: Vec<&'static str> = REQUIRED_COLUMNS
            .iter()
            .filter(|column| !positions.contains_key(column))
            .map(|column| column.name())
            .collect();
        if !missing.is_empty() {
            return Err(ImportError::MissingColumns { columns: missing });
        }
        Ok(Self(positions))
    }

    /// Returns the trimmed field of `column`, or "" when the file has no such column.
    fn field<'r>(&self, record: &'r StringRecord, column: Column) -> &'r str {
        self.0
            .get(&column)
            .and_then(|&position| record.get(position))
            .map_or("", str::trim)
    }
}

/// A parsed row with the line it came from.
struct Row {
    line: u64,
    entry: HotlistEntry,
}

/// Parses a CSV hotlist. Any bad row rejects the whole file; see [`crate::parse_text`].
pub(crate) fn parse_csv(
    text: &str,
    options: &ImportOptions,
) -> Result<Vec<HotlistEntry>, ImportError> {
    let Some(agency_id) = options.agency_id.as_deref() else {
        return Err(ImportError::InvalidOption {
            option: "agency_id",
            problem: "required for CSV lists, which name no originating agency".into(),
        });
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let columns = ColumnIndex::from_headers(reader.headers()?)?;

    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for record in reader.records() {
        let record = record?;
        if record.iter().all(|field| field.trim().is_empty()) {
            continue;
        }
        let line = record.position().map_or(0, |position| position.line());
        match parse_row(&record, &columns, line, agency_id, options) {
            Ok(entry) => rows.push(Row { line, entry }),
            Err(row_errors) => errors.extend(row_errors),
        }
    }

    errors.extend(find_duplicate_ids(rows.iter().map(|row| {
        let field = if row.entry.source_record_id.is_some() {
            "entry_id"
        } else {
            "plate"
        };
        (row.line, row.entry.entry_id.as_str(), field)
    })));
    if !errors.is_empty() {
        errors.sort_by_key(|error| error.line);
        return Err(ImportError::InvalidLines(errors));
    }
    Ok(rows.into_iter().map(|row| row.entry).collect())
}

/// Parses one row, reporting every bad field of it rather than only the first.
fn parse_row(
    record: &StringRecord,
    columns: &ColumnIndex,
    line: u64,
    agency_id: &str,
    options: &ImportOptions,
) -> Result<HotlistEntry, Vec<LineError>> {
    let field = |column: Column| columns.field(record, column);
    // A blank optional field takes the default of the import options.
    let non_blank = |column: Column| Some(field(column)).filter(|text| !text.is_empty());
    let mut problems = LineProblems::new(line);

    let plate = problems.check("plate", fields::parse_plate(field(Column::Plate)));
    let region = problems.check("state", fields::parse_region(field(Column::State)));
    let reason = problems.check(
        "reason",
        non_blank(Column::Reason).map_or(Ok(options.default_reason), fields::parse_reason),
    );
    let priority = problems.check(
        "priority",
        non_blank(Column::Priority).map_or(Ok(options.default_priority), fields::parse_priority),
    );
    let match_policy = problems.check(
        "match_policy",
        non_blank(Column::MatchPolicy)
            .map_or(Ok(options.default_match_policy), fields::parse_match_policy),
    );
    let valid_from = problems.check(
        "valid_from",
        non_blank(Column::ValidFrom)
            .map_or(Ok(0), |text| fields::parse_time(text, DayBoundary::Start)),
    );
    let expires_at = problems.check(
        "expires_at",
        non_blank(Column::ExpiresAt)
            .map(|text| fields::parse_time(text, DayBoundary::End))
            .transpose(),
    );
    let year = problems.check("year", fields::parse_year(field(Column::Year)));
    if let (Some(valid_from), Some(Some(expires_at))) = (valid_from, expires_at) {
        if expires_at <= valid_from {
            problems.add("expires_at", "not after valid_from");
        }
    }

    let errors = problems.into_errors();
    let (
        Some(plate),
        Some(region),
        Some(reason),
        Some(priority),
        Some(match_policy),
        Some(valid_from),
        Some(expires_at),
        Some(year),
    ) = (
        plate,
        region,
        reason,
        priority,
        match_policy,
        valid_from,
        expires_at,
        year,
    )
    else {
        return Err(errors);
    };
    if !errors.is_empty() {
        return Err(errors);
    }

    let record_id = fields::optional_text(field(Column::RecordId));
    Ok(HotlistEntry {
        entry_id: entry_id(
            &options.list,
            record_id.as_deref(),
            &plate,
            region.as_deref(),
        ),
        list: options.list.clone(),
        agency_id: agency_id.to_string(),
        plate,
        region,
        reason,
        priority,
        match_policy,
        vehicle: VehicleDescription {
            year,
            make: fields::optional_text(field(Column::Make)),
            model: fields::optional_text(field(Column::Model)),
            style: fields::optional_text(field(Column::Style)),
            colour: fields::optional_text(field(Column::Colour)),
        },
        case_number: fields::optional_text(field(Column::CaseNumber)),
        source_record_id: record_id,
        valid_from,
        expires_at,
    })
}

#[cfg(test)]
#[path = "csv_format_tests.rs"]
mod tests;
