//! Errors of hotlist import.

use std::fmt;
use std::path::PathBuf;

use alpr_schemas::CodecError;
use rdkafka::error::KafkaError;

/// How many line errors [`ImportError::InvalidLines`] prints before it summarises the rest.
const LINE_ERRORS_SHOWN: usize = 10;

/// One problem with one field of one line of a hotlist file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number in the file, counting the header and blank lines.
    pub line: u64,
    /// Field name: the CSV column or the name in the NCIC layout table.
    pub field: &'static str,
    pub problem: String,
}

impl LineError {
    pub fn new(line: u64, field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            line,
            field,
            problem: problem.into(),
        }
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "line {}: {}: {}",
            self.line, self.field, self.problem
        )
    }
}

/// Collects the problems of one line, so that a rejected file reports every bad field at once
/// rather than one per attempt.
pub(crate) struct LineProblems {
    line: u64,
    errors: Vec<LineError>,
}

impl LineProblems {
    pub(crate) fn new(line: u64) -> Self {
        Self {
            line,
            errors: Vec::new(),
        }
    }

    /// Returns the value of a successful field parse, or records its problem and returns `None`.
    pub(crate) fn check<T>(&mut self, field: &'static str, result: Result<T, String>) -> Option<T> {
        result
            .map_err(|problem| self.errors.push(LineError::new(self.line, field, problem)))
            .ok()
    }

    pub(crate) fn add(&mut self, field: &'static str, problem: impl Into<String>) {
        self.errors.push(LineError::new(self.line, field, problem));
    }

    pub(crate) fn into_errors(self) -> Vec<LineError> {
        self.errors
    }
}

/// Everything that can stop an import. No message repeats a plate field, because callers
/// log them and a log line is not an investigative record. Line numbers identify the records.
///
/// [`ImportError::is_retriable`] returns whether running the same import again can succeed. A
/// repeat is always safe: entry ids are deterministic and the import publishes only the
/// difference from the topic.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("failed to read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "cannot tell the format of {path} from its extension (.csv is csv; .txt, .dat and .ncic \
         are ncic); give the format explicitly"
    )]
    UnknownFormat { path: PathBuf },

    #[error("invalid import option {option}: {problem}")]
    InvalidOption {
        option: &'static str,
        problem: String,
    },

    #[error("unknown CSV columns {}; expected some of {}", .columns.join(", "), .expected)]
    UnknownColumns {
        columns: Vec<String>,
        expected: &'static str,
    },

    #[error("missing required CSV columns {}", .columns.join(", "))]
    MissingColumns { columns: Vec<&'static str> },

    #[error("CSV column {column} appears more than once (colour/color and entry_id/record_id are the same column)")]
    DuplicateColumn { column: &'static str },

    #[error("invalid CSV: {0}")]
    Csv(#[from] csv::Error),

    /// The file has bad lines. The whole file is rejected, because a partial hotlist would
    /// remove the entries of the bad lines from the topic.
    #[error("{}", DisplayLineErrors(.0))]
    InvalidLines(Vec<LineError>),

    #[error(
        "the file holds no hotlist entries; importing it would remove every entry of list \
         {list}, so nothing was imported"
    )]
    EmptyFile { list: String },

    #[error("failed to {action}: {source}")]
    Kafka {
        action: &'static str,
        #[source]
        source: KafkaError,
    },

    #[error(
        "timed out reading {topic} partition {partition} up to offset {end_offset}; check that \
         the broker is reachable"
    )]
    ReadTimedOut {
        topic: String,
        partition: i32,
        end_offset: i64,
    },

    /// A record on the hotlist topic does not decode. Its list is then unknown, so the import
    /// cannot tell whether that record needs a tombstone and stops before publishing anything.
    #[error(
        "record at {topic} partition {partition} offset {offset} does not decode, so the current \
         list is unknown and nothing was published: {source}"
    )]
    UndecodableRecord {
        topic: String,
        partition: i32,
        offset: i64,
        #[source]
        source: CodecError,
    },

    #[error("failed to encode hotlist entry {entry_id}: {source}")]
    Encode {
        entry_id: String,
        #[source]
        source: CodecError,
    },

    #[error("failed to encode the import record of list {list}: {source}")]
    EncodeImport {
        list: String,
        #[source]
        source: CodecError,
    },

    #[error("list {list} has no entries on the hotlist topic, so there is nothing to remove")]
    UnknownList { list: String },

    #[error(
        "failed to publish {failed} of {attempted} records to {topic}, first error: {first_error}; \
         the import is safe to repeat"
    )]
    Publish {
        topic: String,
        failed: usize,
        attempted: usize,
        first_error: KafkaError,
    },

    #[error("hotlist topic reader task failed: {0}")]
    ReaderTask(#[from] tokio::task::JoinError),
}

impl ImportError {
    /// Returns true when running the same import again may succeed without changing the file
    /// or the options: the broker or the network failed, not the input.
    pub fn is_retriable(&self) -> bool {
        matches!(
            self,
            Self::Kafka { .. }
                | Self::ReadTimedOut { .. }
                | Self::Publish { .. }
                | Self::ReaderTask(_)
        )
    }

    /// Returns the line errors of a rejected file, or an empty slice for other errors.
    pub fn line_errors(&self) -> &[LineError] {
        match self {
            Self::InvalidLines(errors) => errors,
            _ => &[],
        }
    }
}

struct DisplayLineErrors<'a>(&'a [LineError]);

impl fmt::Display for DisplayLineErrors<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = self.0;
        let noun = if errors.len() == 1 {
            "invalid line"
        } else {
            "invalid lines"
        };
        write!(
            formatter,
            "file rejected, nothing imported, {} {noun}: ",
            errors.len()
        )?;
        for (index, error) in errors.iter().take(LINE_ERRORS_SHOWN).enumerate() {
            if index > 0 {
                formatter.write_str("; ")?;
            }
            write!(formatter, "{error}")?;
        }
        if errors.len() > LINE_ERRORS_SHOWN {
            write!(formatter, "; and {} more", errors.len() - LINE_ERRORS_SHOWN)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_error_names_line_field_and_problem() {
        let error = LineError::new(7, "entry date", "invalid date 20211345");
        assert_eq!(
            error.to_string(),
            "line 7: entry date: invalid date 20211345"
        );
    }

    #[test]
    fn many_line_errors_are_summarised() {
        let errors: Vec<LineError> = (1..=12)
            .map(|line| LineError::new(line, "plate", "missing"))
            .collect();
        let message = ImportError::InvalidLines(errors).to_string();
        assert!(message.starts_with(
            "file rejected, nothing imported, 12 invalid lines: line 1: plate: missing; "
        ));
        assert!(
            message.ends_with("line 10: plate: missing; and 2 more"),
            "{message}"
        );
    }

    #[test]
    fn input_errors_are_not_retriable() {
        let error = ImportError::InvalidLines(vec![LineError::new(2, "state", "invalid value")]);
        assert!(!error.is_retriable());
        let error = ImportError::Kafka {
            action: "create the producer",
            source: KafkaError::Canceled,
        };
        assert!(error.is_retriable());
    }
}
