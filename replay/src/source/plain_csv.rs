//! Reads in a plain comma-separated layout, for replaying reads from other systems.
//!
//! The header names the columns, in any order: `captured_at`, `camera_id` and `plate` are
//! required, while `state`, `lat`, `lon` and `event_id` may be left out. An empty `plate` is a
//! vehicle without a readable plate.

use std::io::Read;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};

use alpr_ingest::submission::{ReadSubmission, SubmittedLocation, SubmittedPlate};

use super::{
    open_maybe_gzip, parse_degrees, NumberedRecords, RowError, SourceError, SourceFormat, SourceRow,
};

const KNOWN_COLUMNS: &str = "captured_at, camera_id, plate, state, lat, lon and event_id";
const REQUIRED_COLUMNS: &str = "captured_at, camera_id and plate";

/// US state, district and territory codes of ISO 3166-2:US, which a 2-letter `state` may contain.
const US_SUBDIVISIONS: [&str; 57] = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY",
    "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV",
    "WI", "WY", "DC", "AS", "GU", "MP", "PR", "UM", "VI",
];

/// Reads of a plain CSV file, in file order.
///
/// Without an `event_id` column every read gets a new time-ordered read id, so replaying the
/// same file twice stores every read twice.
pub struct CsvSource {
    records: NumberedRecords,
    columns: CsvColumns,
}

/// Positions of the columns. Optional columns are `None` when the header lacks them.
struct CsvColumns {
    captured_at: usize,
    camera_id: usize,
    plate: usize,
    state: Option<usize>,
    lat: Option<usize>,
    lon: Option<usize>,
    event_id: Option<usize>,
}

/// The fields of one row, with an empty string for a column the file does not have.
pub(crate) struct CsvFields<'a> {
    pub captured_at: &'a str,
    pub camera_id: &'a str,
    pub plate: &'a str,
    pub state: &'a str,
    pub lat: &'a str,
    pub lon: &'a str,
    pub event_id: &'a str,
}

impl CsvSource {
    /// Opens the file, gzip-compressed or not, and checks its header.
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        Self::from_reader(open_maybe_gzip(path)?, path)
    }

    pub(crate) fn from_reader(
        reader: Box<dyn Read + Send>,
        path: &Path,
    ) -> Result<Self, SourceError> {
        let mut csv_reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(reader);
        let header = csv_reader
            .headers()
            .map_err(|error| SourceError::Header {
                path: path.to_path_buf(),
                message: error.to_string(),
            })?
            .clone();
        let columns = CsvColumns::from_header(&header, path)?;
        Ok(Self {
            records: NumberedRecords::new(csv_reader, header.len()),
            columns,
        })
    }
}

impl CsvColumns {
    fn from_header(header: &csv::StringRecord, path: &Path) -> Result<Self, SourceError> {
        let known = [
            "captured_at",
            "camera_id",
            "plate",
            "state",
            "lat",
            "lon",
            "event_id",
        ];
        if let Some(unknown) = header.iter().find(|name| !known.contains(name)) {
            return Err(SourceError::UnknownColumn {
                path: path.to_path_buf(),
                column: unknown.to_string(),
                expected: KNOWN_COLUMNS,
            });
        }
        let optional = |column: &str| header.iter().position(|name| name == column);
        let required = |column: &'static str| {
            optional(column).ok_or_else(|| SourceError::MissingColumn {
                path: path.to_path_buf(),
                column,
                format: SourceFormat::Csv,
                expected: REQUIRED_COLUMNS,
            })
        };
        let columns = Self {
            captured_at: required("captured_at")?,
            camera_id: required("camera_id")?,
            plate: required("plate")?,
            state: optional("state"),
            lat: optional("lat"),
            lon: optional("lon"),
            event_id: optional("event_id"),
        };
        // One coordinate column without the other would reject every row that uses it.
        match (columns.lat, columns.lon) {
            (Some(_), None) => Err(SourceError::MissingColumn {
                path: path.to_path_buf(),
                column: "lon",
                format: SourceFormat::Csv,
                expected: "lat and lon together",
            }),
            (None, Some(_)) => Err(SourceError::MissingColumn {
                path: path.to_path_buf(),
                column: "lat",
                format: SourceFormat::Csv,
                expected: "lat and lon together",
            }),
            _ => Ok(columns),
        }
    }
}

impl Iterator for CsvSource {
    type Item = SourceRow;

    fn next(&mut self) -> Option<SourceRow> {
        let (line, record) = self.records.next()?;
        let record = match record {
            Ok(record) => record,
            Err(error) => return Some((line, Err(error))),
        };
        let field = |index: Option<usize>| index.map_or("", |index| &record[index]);
        let columns = &self.columns;
        let fields = CsvFields {
            captured_at: &record[columns.captured_at],
            camera_id: &record[columns.camera_id],
            plate: &record[columns.plate],
            state: field(columns.state),
            lat: field(columns.lat),
            lon: field(columns.lon),
            event_id: field(columns.event_id),
        };
        Some((line, parse_csv_row(&fields)))
    }
}

/// Builds the submission of one row. The time is passed on in UTC.
pub(crate) fn parse_csv_row(fields: &CsvFields<'_>) -> Result<ReadSubmission, RowError> {
    let captured_at = DateTime::parse_from_rfc3339(fields.captured_at).map_err(|_| {
        RowError::invalid(
            "captured_at",
            format!(
                "{:?} is not an RFC 3339 time with an offset, such as 2021-10-01T12:00:00-07:00",
                fields.captured_at
            ),
        )
    })?;
    if fields.camera_id.is_empty() {
        return Err(RowError::invalid("camera_id", "empty"));
    }
    let region = region_from_state(fields.state)?;
    let location = match (fields.lat.is_empty(), fields.lon.is_empty()) {
        (true, true) => None,
        (false, false) => Some(SubmittedLocation {
            latitude: parse_degrees(fields.lat, "lat")?,
            longitude: parse_degrees(fields.lon, "lon")?,
            heading: None,
        }),
        (true, false) => return Err(RowError::invalid("lat", "empty while lon is set")),
        (false, true) => return Err(RowError::invalid("lon", "empty while lat is set")),
    };
    let plate = if fields.plate.is_empty() {
        SubmittedPlate {
            text: None,
            region,
            confidence: None,
            present: Some(false),
        }
    } else {
        SubmittedPlate {
            text: Some(fields.plate.to_string()),
            region,
            confidence: None,
            present: Some(true),
        }
    };
    let captured_at = captured_at.with_timezone(&Utc);
    Ok(ReadSubmission {
        camera_id: Some(fields.camera_id.to_string()),
        event_id: (!fields.event_id.is_empty()).then(|| fields.event_id.to_string()),
        captured_at: Some(captured_at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        location,
        plate: Some(plate),
        vehicle: None,
        image_ref: None,
        image: None,
    })
}

/// Turns a `state` value into an ISO 3166-2 region: a US code such as `WA` becomes `US-WA`,
/// and a full code such as `CA-BC` is passed on as given. Empty means unknown.
fn region_from_state(state: &str) -> Result<Option<String>, RowError> {
    if state.is_empty() {
        return Ok(None);
    }
    let upper = state.to_ascii_uppercase();
    if US_SUBDIVISIONS.contains(&upper.as_str()) {
        return Ok(Some(format!("US-{upper}")));
    }
    let is_iso_3166_2 = match state.split_once('-') {
        Some((country, subdivision)) => {
            country.len() == 2
                && country.bytes().all(|b| b.is_ascii_alphabetic())
                && (1..=3).contains(&subdivision.len())
                && subdivision.bytes().all(|b| b.is_ascii_alphanumeric())
        }
        None => false,
    };
    if is_iso_3166_2 {
        return Ok(Some(state.to_string()));
    }
    Err(RowError::invalid(
        "state",
        format!(
            "{state:?} is neither a US state code such as WA nor an ISO 3166-2 code such as US-WA"
        ),
    ))
}

#[cfg(test)]
// A failed unwrap in a test is a failed test, with the value in its message.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fields() -> CsvFields<'static> {
        CsvFields {
            captured_at: "2021-10-01T12:00:00.250-07:00",
            camera_id: "cam-1",
            plate: "7ABC123",
            state: "wa",
            lat: "47.6",
            lon: "-122.3",
            event_id: "",
        }
    }

    fn source(text: &str) -> Result<CsvSource, SourceError> {
        let reader: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(text.as_bytes().to_vec()));
        CsvSource::from_reader(reader, Path::new("memory"))
    }

    #[test]
    fn row_becomes_submission() {
        let submission = parse_csv_row(&fields()).unwrap();
        assert_eq!(
            submission.captured_at.as_deref(),
            Some("2021-10-01T19:00:00.250Z")
        );
        assert_eq!(submission.camera_id.as_deref(), Some("cam-1"));
        assert_eq!(submission.event_id, None);
        let plate = submission.plate.unwrap();
        assert_eq!(plate.text.as_deref(), Some("7ABC123"));
        assert_eq!(plate.region.as_deref(), Some("US-WA"));
        assert_eq!(plate.present, Some(true));
        let location = submission.location.unwrap();
        assert_eq!(location.latitude, 47.6);
        assert_eq!(location.longitude, -122.3);
    }

    #[test]
    fn empty_plate_means_no_plate() {
        let row = CsvFields {
            plate: "",
            ..fields()
        };
        let plate = parse_csv_row(&row).unwrap().plate.unwrap();
        assert_eq!(plate.present, Some(false));
        assert_eq!(plate.text, None);
    }

    #[test]
    fn state_becomes_region() {
        assert_eq!(region_from_state("").unwrap(), None);
        assert_eq!(region_from_state("or").unwrap().as_deref(), Some("US-OR"));
        assert_eq!(
            region_from_state("CA-BC").unwrap().as_deref(),
            Some("CA-BC")
        );
        assert!(region_from_state("XX").is_err());
        assert!(region_from_state("Washington").is_err());
    }

    #[test]
    fn time_without_offset_is_an_error() {
        let row = CsvFields {
            captured_at: "2021-10-01T12:00:00",
            ..fields()
        };
        let error = parse_csv_row(&row).unwrap_err();
        assert!(
            error.to_string().starts_with("invalid captured_at"),
            "{error}"
        );
    }

    #[test]
    fn half_position_is_an_error() {
        let row = CsvFields {
            lon: "",
            ..fields()
        };
        assert!(parse_csv_row(&row).is_err());
        let row = CsvFields {
            lat: "",
            lon: "",
            ..fields()
        };
        assert!(parse_csv_row(&row).unwrap().location.is_none());
    }

    #[test]
    fn bad_rows_are_reported_with_lines() {
        let rows: Vec<SourceRow> = source(
            "captured_at,camera_id,plate,state,lat,lon,event_id\n\
             2021-10-01T19:00:00Z,cam-1,7ABC123,WA,47.6,-122.3,e-1\n\
             yesterday,cam-1,7ABC123,WA,47.6,-122.3,e-2\n\
             2021-10-01T19:00:01Z,cam-1,7ABC123\n\
             2021-10-01T19:00:02Z,,7ABC123,WA,,,e-4\n\
             2021-10-01T19:00:03Z,cam-2,,,,,\n",
        )
        .unwrap()
        .collect();
        let lines: Vec<u64> = rows.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6]);
        assert_eq!(rows[0].1.as_ref().unwrap().event_id.as_deref(), Some("e-1"));
        assert!(matches!(
            rows[1].1,
            Err(RowError::InvalidField {
                column: "captured_at",
                ..
            })
        ));
        assert!(matches!(rows[2].1, Err(RowError::Malformed { .. })));
        assert!(matches!(
            rows[3].1,
            Err(RowError::InvalidField {
                column: "camera_id",
                ..
            })
        ));
        assert!(rows[4].1.is_ok());
    }

    #[test]
    fn optional_columns_may_be_absent() {
        let rows: Vec<SourceRow> =
            source("plate,captured_at,camera_id\n7ABC123,2021-10-01T19:00:00Z,cam-1\n")
                .unwrap()
                .collect();
        let submission = rows[0].1.as_ref().unwrap();
        assert!(submission.location.is_none());
        assert_eq!(submission.plate.as_ref().unwrap().region, None);
    }

    #[test]
    fn unknown_column_is_rejected() {
        let error = source("captured_at,camera_id,plate,colour\n")
            .err()
            .unwrap();
        assert!(error.to_string().contains("\"colour\""), "{error}");
        let error = source("captured_at,camera_id,plate,lat\n").err().unwrap();
        assert!(error.to_string().contains("\"lon\""), "{error}");
    }
}
