//! The Seattle Police Department ALPR export (one week of reads from October 2021).
//!
//! The file is `|`-delimited with a header line. Times are local Seattle wall-clock times
//! without an offset, and plates are published only as SHA-1 digests. A read's plate is
//! derived from its digest, so repeat sightings of a vehicle stay repeat sightings.

use std::io::Read;
use std::path::Path;

use chrono::{DateTime, LocalResult, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;

use alpr_ingest::submission::{ReadSubmission, SubmittedLocation, SubmittedPlate};

use super::{
    open_maybe_gzip, parse_degrees, NumberedRecords, RowError, SourceError, SourceFormat, SourceRow,
};

/// Time zone of the `dt` column.
const SEATTLE: Tz = chrono_tz::America::Los_Angeles;
/// Layout of the `dt` column, such as `10/07/2021 - 16:30:51`.
const LOCAL_TIME_FORMAT: &str = "%m/%d/%Y - %H:%M:%S";
/// Hexadecimal digits of a SHA-1 digest.
const SHA1_HEX_LEN: usize = 40;
/// Characters of the digest that make up a derived plate. Seven is as long as a typical US plate,
/// and the week's 68,188 digests still give 68,172 distinct plates.
const DERIVED_PLATE_LEN: usize = 7;
/// The value the export puts in a coordinate column for a read without a position.
const MISSING: &str = "NA";
const REQUIRED_COLUMNS: &str = "dt, device, plate_hash, lon and lat";

/// Reads of the SPD export, in file order.
///
/// Each read gets the event id `spd-<row>`, where `<row>` is the 1-based data row (the first
/// row after the header is 1). Replaying the file twice therefore yields the same read ids, so
/// the compacted reads topic keeps one copy, while two identical rows remain two reads.
pub struct SeattleSource {
    records: NumberedRecords,
    columns: SpdColumns,
    /// Data rows yielded so far, including rows that failed to parse.
    data_rows: u64,
}

/// Positions of the columns a read is built from.
struct SpdColumns {
    dt: usize,
    device: usize,
    plate_hash: usize,
    lon: usize,
    lat: usize,
}

/// The fields of one export row that a read is built from.
pub(crate) struct SpdFields<'a> {
    pub dt: &'a str,
    pub device: &'a str,
    pub plate_hash: &'a str,
    pub lon: &'a str,
    pub lat: &'a str,
}

impl SeattleSource {
    /// Opens the export, gzip-compressed or not, and checks that its header has the columns a
    /// read needs.
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        Self::from_reader(open_maybe_gzip(path)?, path)
    }

    pub(crate) fn from_reader(
        reader: Box<dyn Read + Send>,
        path: &Path,
    ) -> Result<Self, SourceError> {
        // The export never quotes fields, so a stray `"` in an address is kept as text.
        let mut csv_reader = csv::ReaderBuilder::new()
            .delimiter(b'|')
            .quoting(false)
            .flexible(true)
            .from_reader(reader);
        let header = csv_reader.headers().map_err(|error| SourceError::Header {
            path: path.to_path_buf(),
            message: error.to_string(),
        })?;
        let find = |column: &'static str| {
            header
                .iter()
                .position(|name| name.trim() == column)
                .ok_or_else(|| SourceError::MissingColumn {
                    path: path.to_path_buf(),
                    column,
                    format: SourceFormat::Spd,
                    expected: REQUIRED_COLUMNS,
                })
        };
        let columns = SpdColumns {
            dt: find("dt")?,
            device: find("device")?,
            plate_hash: find("plate_hash")?,
            lon: find("lon")?,
            lat: find("lat")?,
        };
        let column_count = header.len();
        Ok(Self {
            records: NumberedRecords::new(csv_reader, column_count),
            columns,
            data_rows: 0,
        })
    }
}

impl Iterator for SeattleSource {
    type Item = SourceRow;

    fn next(&mut self) -> Option<SourceRow> {
        let (line, record) = self.records.next()?;
        self.data_rows += 1;
        let record = match record {
            Ok(record) => record,
            Err(error) => return Some((line, Err(error))),
        };
        let fields = SpdFields {
            dt: &record[self.columns.dt],
            device: &record[self.columns.device],
            plate_hash: &record[self.columns.plate_hash],
            lon: &record[self.columns.lon],
            lat: &record[self.columns.lat],
        };
        Some((line, parse_spd_row(&fields, self.data_rows)))
    }
}

/// Builds the submission of one export row. `data_row` is the 1-based row after the header.
pub(crate) fn parse_spd_row(
    fields: &SpdFields<'_>,
    data_row: u64,
) -> Result<ReadSubmission, RowError> {
    let captured_at = seattle_local_to_utc(fields.dt)?;
    if fields.device.trim().is_empty() {
        return Err(RowError::invalid("device", "empty"));
    }
    let plate = derive_plate(fields.plate_hash)?;
    let location = parse_position(fields.lon, fields.lat)?;
    Ok(ReadSubmission {
        // Kept exactly as exported, `_Deleted_<date>` suffixes included, because a renamed reader
        // is a different device in the source data too.
        camera_id: Some(fields.device.to_string()),
        event_id: Some(format!("spd-{data_row}")),
        captured_at: Some(captured_at.to_rfc3339_opts(SecondsFormat::Secs, true)),
        location,
        plate: Some(SubmittedPlate {
            text: Some(plate),
            region: None,
            confidence: None,
            present: Some(true),
        }),
        vehicle: None,
        image_ref: None,
        image: None,
    })
}

/// Converts a `dt` value, Seattle wall-clock time, to UTC with the daylight-saving rules of
/// America/Los_Angeles.
///
/// When clocks fall back, an hour of local times happens twice and the export has no offset to
/// tell the two apart, so the earlier instant is taken. A local time skipped when clocks spring
/// forward does not exist and is an error.
pub fn seattle_local_to_utc(text: &str) -> Result<DateTime<Utc>, RowError> {
    let naive = NaiveDateTime::parse_from_str(text.trim(), LOCAL_TIME_FORMAT).map_err(|_| {
        RowError::invalid(
            "dt",
            format!("{text:?} is not a local time of the form MM/DD/YYYY - HH:MM:SS"),
        )
    })?;
    match SEATTLE.from_local_datetime(&naive) {
        LocalResult::Single(local) => Ok(local.with_timezone(&Utc)),
        LocalResult::Ambiguous(earlier, _later) => Ok(earlier.with_timezone(&Utc)),
        LocalResult::None => Err(RowError::invalid(
            "dt",
            format!(
                "{text:?} does not exist in America/Los_Angeles because clocks skip that hour \
                 when daylight saving time starts"
            ),
        )),
    }
}

/// Derives a plate from a SHA-1 digest: its first characters, upper-cased. The same digest
/// always gives the same plate, but two digests with the same prefix merge into one plate.
fn derive_plate(plate_hash: &str) -> Result<String, RowError> {
    let digest = plate_hash.trim();
    let is_sha1 = digest.len() == SHA1_HEX_LEN && digest.bytes().all(|b| b.is_ascii_hexdigit());
    if !is_sha1 {
        // The digest identifies a plate, so the message gives its length, not its value.
        return Err(RowError::invalid(
            "plate_hash",
            format!(
                "expected a SHA-1 digest of {SHA1_HEX_LEN} hexadecimal digits, found {} characters",
                digest.chars().count()
            ),
        ));
    }
    Ok(digest[..DERIVED_PLATE_LEN].to_ascii_uppercase())
}

/// Parses a position. `NA` in both columns means the reader recorded none.
fn parse_position(lon: &str, lat: &str) -> Result<Option<SubmittedLocation>, RowError> {
    let is_missing = |value: &str| value.trim().is_empty() || value.trim() == MISSING;
    match (is_missing(lon), is_missing(lat)) {
        (true, true) => Ok(None),
        (false, false) => Ok(Some(SubmittedLocation {
            latitude: parse_degrees(lat, "lat")?,
            longitude: parse_degrees(lon, "lon")?,
            heading: None,
        })),
        (true, false) => Err(RowError::invalid("lon", "missing while lat is present")),
        (false, true) => Err(RowError::invalid("lat", "missing while lon is present")),
    }
}

#[cfg(test)]
// A failed unwrap in a test is a failed test, with the value in its message.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const HASH: &str = "1ea44336207b9a32fbd46ced905e9bdc3dc7045e";

    fn fields<'a>(dt: &'a str, lon: &'a str, lat: &'a str) -> SpdFields<'a> {
        SpdFields {
            dt,
            device: "M207541_Deleted_2021-10-21_22 50:42",
            plate_hash: HASH,
            lon,
            lat,
        }
    }

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().expect("test time is valid RFC 3339")
    }

    #[test]
    fn daylight_time_converts_to_utc() {
        let time = seattle_local_to_utc("10/01/2021 - 12:00:00").unwrap();
        assert_eq!(time, utc("2021-10-01T19:00:00Z"));
    }

    #[test]
    fn standard_time_converts_to_utc() {
        let time = seattle_local_to_utc("12/01/2021 - 12:00:00").unwrap();
        assert_eq!(time, utc("2021-12-01T20:00:00Z"));
    }

    #[test]
    fn ambiguous_time_takes_earlier_instant() {
        let time = seattle_local_to_utc("11/07/2021 - 01:30:00").unwrap();
        assert_eq!(time, utc("2021-11-07T08:30:00Z"));
    }

    #[test]
    fn skipped_time_is_an_error() {
        let error = seattle_local_to_utc("03/14/2021 - 02:30:00").unwrap_err();
        assert!(error.to_string().contains("does not exist"), "{error}");
        assert!(!error.is_fatal());
    }

    #[test]
    fn malformed_time_is_an_error() {
        assert!(seattle_local_to_utc("2021-10-01 12:00:00").is_err());
        assert!(seattle_local_to_utc("13/01/2021 - 12:00:00").is_err());
    }

    #[test]
    fn row_becomes_submission() {
        let submission =
            parse_spd_row(&fields("10/01/2021 - 12:00:00", "-122.29", "47.81"), 7).unwrap();
        assert_eq!(
            submission.captured_at.as_deref(),
            Some("2021-10-01T19:00:00Z")
        );
        assert_eq!(submission.event_id.as_deref(), Some("spd-7"));
        assert_eq!(
            submission.camera_id.as_deref(),
            Some("M207541_Deleted_2021-10-21_22 50:42")
        );
        let plate = submission.plate.unwrap();
        assert_eq!(plate.text.as_deref(), Some("1EA4433"));
        assert_eq!(plate.present, Some(true));
        assert_eq!(plate.region, None);
        let location = submission.location.unwrap();
        assert_eq!(location.latitude, 47.81);
        assert_eq!(location.longitude, -122.29);
        assert!(submission.vehicle.is_none());
    }

    #[test]
    fn na_position_gives_no_location() {
        let submission = parse_spd_row(&fields("10/01/2021 - 12:00:00", "NA", "NA"), 1).unwrap();
        assert!(submission.location.is_none());
    }

    #[test]
    fn half_position_is_an_error() {
        let error = parse_spd_row(&fields("10/01/2021 - 12:00:00", "NA", "47.81"), 1).unwrap_err();
        assert!(error.to_string().starts_with("invalid lon"), "{error}");
        let error =
            parse_spd_row(&fields("10/01/2021 - 12:00:00", "-122.29", "north"), 1).unwrap_err();
        assert!(error.to_string().starts_with("invalid lat"), "{error}");
    }

    #[test]
    fn plate_derivation_is_deterministic() {
        assert_eq!(derive_plate(HASH).unwrap(), "1EA4433");
        assert_eq!(derive_plate(&HASH.to_uppercase()).unwrap(), "1EA4433");
    }

    #[test]
    fn short_or_non_hex_digest_is_an_error() {
        assert!(derive_plate("1ea4433").is_err());
        let not_hex = format!("z{}", &HASH[1..]);
        let error = derive_plate(&not_hex).unwrap_err();
        assert!(!error.to_string().contains(&not_hex), "{error}");
    }

    #[test]
    fn source_numbers_rows_and_keeps_going() {
        let text = format!(
            "zipcode|dt|device|plate_hash|lon|lat\n\
             98036|10/07/2021 - 16:30:51|SPD2020621MDC|{HASH}|-122.29|47.81\n\
             98036|10/07/2021 - 16:30:48|SPD2020621MDC|{HASH}|NA\n\
             98036|03/14/2021 - 02:30:00|SPD2020621MDC|{HASH}|NA|NA\n\
             NA|10/07/2021 - 16:30:47|SPD2020621MDC|{HASH}|NA|NA\n"
        );
        let reader: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(text.into_bytes()));
        let rows: Vec<SourceRow> = SeattleSource::from_reader(reader, Path::new("memory"))
            .unwrap()
            .collect();
        let lines: Vec<u64> = rows.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5]);
        assert!(matches!(rows[1].1, Err(RowError::Malformed { .. })));
        assert!(matches!(
            rows[2].1,
            Err(RowError::InvalidField { column: "dt", .. })
        ));
        let last = rows[3].1.as_ref().unwrap();
        assert_eq!(last.event_id.as_deref(), Some("spd-4"));
    }

    #[test]
    fn missing_column_is_named() {
        let reader: Box<dyn Read + Send> =
            Box::new(std::io::Cursor::new(b"dt|device|lon|lat\n".to_vec()));
        let error = SeattleSource::from_reader(reader, Path::new("memory"))
            .err()
            .unwrap();
        assert!(error.to_string().contains("\"plate_hash\""), "{error}");
    }
}
