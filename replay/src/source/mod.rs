//! Files that replay reads: the Seattle Police ALPR export and a plain CSV layout.
//!
//! Every source is an iterator of `(line, Result<ReadSubmission, RowError>)`. `line` is the
//! 1-based line of the row in the decompressed file, counting the header as line 1, so that
//! `zcat FILE | sed -n 'LINEp'` shows the row a message is about. A row that cannot become a
//! read is yielded as an error with its line and is never skipped silently.

mod plain_csv;
mod seattle;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use alpr_ingest::submission::ReadSubmission;

pub use plain_csv::CsvSource;
pub use seattle::{seattle_local_to_utc, SeattleSource};

/// One row of a source: its line in the file and its read, or the reason it has none.
pub type SourceRow = (u64, Result<ReadSubmission, RowError>);

/// Reason a row did not become a read.
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    /// A field contains a value that cannot become part of a read.
    #[error("invalid {column}: {message}")]
    InvalidField {
        column: &'static str,
        message: String,
    },
    /// The row has a different number of fields than the header, or is not valid UTF-8.
    #[error("malformed row: {message}")]
    Malformed { message: String },
    /// Reading or decompressing the file failed, so no later row can be read either.
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
}

impl RowError {
    pub(crate) fn invalid(column: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidField {
            column,
            message: message.into(),
        }
    }

    /// Returns true when the error ends the source: the replay stops instead of counting the
    /// row as unparseable, because a truncated or corrupt file must not look like a complete
    /// replay.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Self::Io(_))
    }
}

/// Failure to open a source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the header of {path}: {message}")]
    Header { path: PathBuf, message: String },
    #[error("{path} has no column {column:?}; the {format} format needs columns {expected}")]
    MissingColumn {
        path: PathBuf,
        column: &'static str,
        format: SourceFormat,
        expected: &'static str,
    },
    #[error("{path} has an unknown column {column:?}; the csv format accepts columns {expected}")]
    UnknownColumn {
        path: PathBuf,
        column: String,
        expected: &'static str,
    },
    #[error(
        "cannot tell the format of {path}: its header has neither plate_hash (spd) nor \
         captured_at (csv); choose one with --format spd or --format csv"
    )]
    UnknownFormat { path: PathBuf },
}

/// The layouts a replay file can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    /// The Seattle Police Department export: `|`-delimited, local times, hashed plates.
    Spd,
    /// `captured_at,camera_id,plate,state,lat,lon` with an optional `event_id` column.
    Csv,
}

impl SourceFormat {
    /// Tells the format from the header line: a `plate_hash` column means the SPD export, a
    /// `captured_at` column the plain CSV layout. Gzip files are decompressed first, whatever
    /// their extension.
    pub fn detect(path: &Path) -> Result<Self, SourceError> {
        let mut reader = BufReader::new(open_maybe_gzip(path)?);
        let mut header = String::new();
        reader
            .read_line(&mut header)
            .map_err(|error| SourceError::Header {
                path: path.to_path_buf(),
                message: error.to_string(),
            })?;
        let columns: Vec<&str> = header
            .trim_end()
            .split(['|', ','])
            .map(|column| column.trim().trim_matches('"'))
            .collect();
        if columns.contains(&"plate_hash") {
            Ok(Self::Spd)
        } else if columns.contains(&"captured_at") {
            Ok(Self::Csv)
        } else {
            Err(SourceError::UnknownFormat {
                path: path.to_path_buf(),
            })
        }
    }
}

impl std::fmt::Display for SourceFormat {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Self::Spd => "spd",
            Self::Csv => "csv",
        })
    }
}

impl FromStr for SourceFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "spd" => Ok(Self::Spd),
            "csv" => Ok(Self::Csv),
            other => Err(format!("unknown format {other:?}; expected spd or csv")),
        }
    }
}

/// An opened replay file of either format.
pub enum ReplaySource {
    Seattle(SeattleSource),
    Csv(CsvSource),
}

impl ReplaySource {
    /// Opens `path` in the given format, or in the format [`SourceFormat::detect`] finds.
    pub fn open(path: &Path, format: Option<SourceFormat>) -> Result<Self, SourceError> {
        let format = match format {
            Some(format) => format,
            None => SourceFormat::detect(path)?,
        };
        match format {
            SourceFormat::Spd => SeattleSource::open(path).map(Self::Seattle),
            SourceFormat::Csv => CsvSource::open(path).map(Self::Csv),
        }
    }

    pub fn format(&self) -> SourceFormat {
        match self {
            Self::Seattle(_) => SourceFormat::Spd,
            Self::Csv(_) => SourceFormat::Csv,
        }
    }
}

impl Iterator for ReplaySource {
    type Item = SourceRow;

    fn next(&mut self) -> Option<SourceRow> {
        match self {
            Self::Seattle(source) => source.next(),
            Self::Csv(source) => source.next(),
        }
    }
}

/// Opens a file and decompresses it when it starts with the gzip magic bytes.
pub(crate) fn open_maybe_gzip(path: &Path) -> Result<Box<dyn Read + Send>, SourceError> {
    let open_error = |source| SourceError::Open {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(open_error)?;
    let mut reader = BufReader::new(file);
    let is_gzip = reader
        .fill_buf()
        .map_err(open_error)?
        .starts_with(&[0x1f, 0x8b]);
    if is_gzip {
        // A multi-member decoder, because concatenated gzip files (`cat a.gz b.gz`) are valid
        // gzip and a single-member decoder would stop after the first part without an error.
        Ok(Box::new(flate2::read::MultiGzDecoder::new(reader)))
    } else {
        Ok(Box::new(reader))
    }
}

/// Records of a csv reader with their file lines, checked against the header's field count.
pub(crate) struct NumberedRecords {
    records: csv::StringRecordsIntoIter<Box<dyn Read + Send>>,
    column_count: usize,
    last_line: u64,
    /// Set after an I/O error, after which the reader cannot resume.
    finished: bool,
}

impl NumberedRecords {
    pub(crate) fn new(reader: csv::Reader<Box<dyn Read + Send>>, column_count: usize) -> Self {
        Self {
            records: reader.into_records(),
            column_count,
            last_line: 1,
            finished: false,
        }
    }
}

impl Iterator for NumberedRecords {
    type Item = (u64, Result<csv::StringRecord, RowError>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let record = match self.records.next()? {
            Ok(record) => record,
            Err(error) => {
                let line = error
                    .position()
                    .map_or(self.last_line + 1, csv::Position::line);
                self.last_line = line;
                let row_error = row_error_from_csv(error);
                self.finished = row_error.is_fatal();
                return Some((line, Err(row_error)));
            }
        };
        let line = record
            .position()
            .map_or(self.last_line + 1, csv::Position::line);
        self.last_line = line;
        if record.len() != self.column_count {
            let message = format!(
                "expected {} fields like the header, found {}",
                self.column_count,
                record.len()
            );
            return Some((line, Err(RowError::Malformed { message })));
        }
        Some((line, Ok(record)))
    }
}

/// Turns a csv crate error into a row error, keeping I/O failures fatal.
fn row_error_from_csv(error: csv::Error) -> RowError {
    let message = error.to_string();
    match error.into_kind() {
        csv::ErrorKind::Io(io_error) => RowError::Io(io_error),
        _ => RowError::Malformed { message },
    }
}

/// Parses decimal degrees. Range checks are left to ingest validation, which rejects the read
/// with the offending field named.
pub(crate) fn parse_degrees(text: &str, column: &'static str) -> Result<f64, RowError> {
    match text.trim().parse::<f64>() {
        Ok(degrees) if degrees.is_finite() => Ok(degrees),
        // The value is not echoed, because a coordinate is location data and messages end up in
        // logs.
        _ => Err(RowError::invalid(column, "not a decimal number of degrees")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_parses_case_insensitively() {
        assert_eq!("SPD".parse::<SourceFormat>(), Ok(SourceFormat::Spd));
        assert_eq!("csv".parse::<SourceFormat>(), Ok(SourceFormat::Csv));
        assert!("tsv".parse::<SourceFormat>().is_err());
    }

    #[test]
    fn only_io_errors_are_fatal() {
        let io = RowError::Io(std::io::Error::other("truncated"));
        assert!(io.is_fatal());
        assert!(!RowError::invalid("dt", "bad").is_fatal());
        assert!(!RowError::Malformed {
            message: "short".into()
        }
        .is_fatal());
    }
}
