//! The purge log: the retention worker's record of what it deleted, for auditors and the public.
//!
//! One JSON line per sweep that tombstoned reads or found a different number of reads kept by
//! holds than the line before. Each line carries the SHA-256 of the line before it and its own
//! hash over that previous hash and its other fields, so editing a line changes its hash and
//! removing a line breaks the link of the line after it. [`verify`] checks both.
//!
//! NOTE: removing the last lines leaves a valid, shorter chain. The report prints the last hash
//! so that it can be published or written elsewhere; comparing against that copy is what shows
//! a cut tail.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum PurgeLogError {
    #[error("purge log {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("purge log line {line} is not a valid entry: {message}")]
    Malformed { line: usize, message: String },
    #[error("purge log line {line} was edited: its hash does not match its content")]
    Edited { line: usize },
    #[error(
        "purge log line {line} does not follow the line before it: a line was removed or reordered"
    )]
    Broken { line: usize },
}

/// The fields of a line that its hash covers, in the order they are hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeRecord {
    /// UTC day of the sweep, `YYYY-MM-DD`.
    pub day: String,
    /// Id of the sweep, so a sweep resumed after a crash is logged once.
    pub sweep_id: String,
    /// Clock time of the sweep, RFC 3339.
    pub swept_at: String,
    /// Reads this sweep tombstoned.
    pub tombstoned: u64,
    /// Reads past their retention period that holds kept at this sweep.
    pub kept_by_holds: u64,
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeLine {
    #[serde(flatten)]
    pub record: PurgeRecord,
    /// Hex SHA-256 of the line before, empty on the first line.
    pub previous_hash: String,
    /// Hex SHA-256 over `previous_hash` and `record`.
    pub hash: String,
}

/// Returns the hex SHA-256 of `previous_hash`, a newline and the record as JSON.
pub fn line_hash(previous_hash: &str, record: &PurgeRecord) -> String {
    let mut hasher = Sha256::new();
    hasher.update(previous_hash.as_bytes());
    hasher.update(b"\n");
    // Field order is fixed by the struct, so the JSON is the same for the same record.
    hasher.update(serde_json::to_vec(record).unwrap_or_default());
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Checks the chain of `lines` (the file's text lines) and returns the parsed lines.
pub fn verify<S: AsRef<str>>(lines: &[S]) -> Result<Vec<PurgeLine>, PurgeLogError> {
    let mut parsed = Vec::with_capacity(lines.len());
    let mut previous_hash = String::new();
    for (index, text) in lines.iter().enumerate() {
        let number = index + 1;
        let line: PurgeLine =
            serde_json::from_str(text.as_ref()).map_err(|error| PurgeLogError::Malformed {
                line: number,
                message: error.to_string(),
            })?;
        if line_hash(&line.previous_hash, &line.record) != line.hash {
            return Err(PurgeLogError::Edited { line: number });
        }
        if line.previous_hash != previous_hash {
            return Err(PurgeLogError::Broken { line: number });
        }
        previous_hash = line.hash.clone();
        parsed.push(line);
    }
    Ok(parsed)
}

/// Reads and verifies the log at `path`; a missing file is an empty log.
pub fn read_verified(path: &Path) -> Result<Vec<PurgeLine>, PurgeLogError> {
    let io_error = |source| PurgeLogError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(io_error(error)),
    };
    let lines: Vec<String> = BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(io_error)?;
    verify(&lines)
}

/// The log file opened for appending, with the state of its last line.
pub struct PurgeLog {
    path: PathBuf,
    last_hash: String,
    last_kept_by_holds: u64,
    last_sweep_id: Option<String>,
}

impl PurgeLog {
    /// Opens the log at `path`, verifying the chain first: the worker does not extend a log
    /// that was tampered with, because the new lines would vouch for the altered ones.
    pub fn open(path: &Path) -> Result<Self, PurgeLogError> {
        let lines = read_verified(path)?;
        let last = lines.last();
        Ok(Self {
            path: path.to_path_buf(),
            last_hash: last.map(|line| line.hash.clone()).unwrap_or_default(),
            last_kept_by_holds: last.map_or(0, |line| line.record.kept_by_holds),
            last_sweep_id: last.map(|line| line.record.sweep_id.clone()),
        })
    }

    /// Returns whether the last line is the one of `sweep_id`.
    pub fn ends_with_sweep(&self, sweep_id: &str) -> bool {
        self.last_sweep_id.as_deref() == Some(sweep_id)
    }

    /// Returns whether a sweep with these counts changes anything worth a line.
    pub fn is_news(&self, tombstoned: u64, kept_by_holds: u64) -> bool {
        tombstoned > 0 || kept_by_holds != self.last_kept_by_holds
    }

    /// Appends `record` and syncs the file, so a line that was written survives a crash.
    pub fn append(&mut self, record: PurgeRecord) -> Result<(), PurgeLogError> {
        let io_error = |source| PurgeLogError::Io {
            path: self.path.display().to_string(),
            source,
        };
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent).map_err(io_error)?;
        }
        let hash = line_hash(&self.last_hash, &record);
        let line = PurgeLine {
            record,
            previous_hash: self.last_hash.clone(),
            hash,
        };
        let mut text = serde_json::to_string(&line).map_err(|error| PurgeLogError::Malformed {
            line: 0,
            message: error.to_string(),
        })?;
        text.push('\n');
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io_error)?;
        file.write_all(text.as_bytes()).map_err(io_error)?;
        file.sync_data().map_err(io_error)?;
        self.last_hash = line.hash;
        self.last_kept_by_holds = line.record.kept_by_holds;
        self.last_sweep_id = Some(line.record.sweep_id);
        Ok(())
    }
}

/// Totals of one day in the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayTotals {
    pub tombstoned: u64,
    /// Reads kept by holds at the day's last logged sweep.
    pub kept_by_holds: u64,
    pub sweeps: usize,
}

/// Adds up verified lines per day.
pub fn totals_per_day(lines: &[PurgeLine]) -> BTreeMap<String, DayTotals> {
    let mut days: BTreeMap<String, DayTotals> = BTreeMap::new();
    for line in lines {
        let totals = days.entry(line.record.day.clone()).or_default();
        totals.tombstoned += line.record.tombstoned;
        totals.kept_by_holds = line.record.kept_by_holds;
        totals.sweeps += 1;
    }
    days
}

/// Renders the report that `alpr retention report` prints: one row per day, then the chain
/// status and the last hash.
pub fn render_report(lines: &[PurgeLine]) -> String {
    let mut report = String::from("day         tombstoned  kept_by_holds  sweeps\n");
    for (day, totals) in totals_per_day(lines) {
        report.push_str(&format!(
            "{day}  {:>10}  {:>13}  {:>6}\n",
            totals.tombstoned, totals.kept_by_holds, totals.sweeps
        ));
    }
    let last_hash = lines.last().map_or("none", |line| line.hash.as_str());
    report.push_str(&format!(
        "hash chain verified: {} lines, last hash {last_hash}\n",
        lines.len()
    ));
    report
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn record(day: &str, tombstoned: u64, kept_by_holds: u64) -> PurgeRecord {
        PurgeRecord {
            day: day.into(),
            sweep_id: uuid::Uuid::new_v4().to_string(),
            swept_at: format!("{day}T00:00:00Z"),
            tombstoned,
            kept_by_holds,
        }
    }

    /// Writes three lines through `PurgeLog` and returns the file's lines.
    fn three_line_log() -> (tempfile::TempDir, Vec<String>) {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("purge.jsonl");
        let mut log = PurgeLog::open(&path).unwrap();
        log.append(record("2021-11-14", 10, 2)).unwrap();
        log.append(record("2021-11-15", 5, 2)).unwrap();
        log.append(record("2021-11-15", 7, 3)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        (folder, text.lines().map(str::to_string).collect())
    }

    #[test]
    fn intact_log_verifies_and_totals_per_day() {
        let (_folder, lines) = three_line_log();
        let parsed = verify(&lines).unwrap();
        let days = totals_per_day(&parsed);
        assert_eq!(days["2021-11-14"].tombstoned, 10);
        assert_eq!(days["2021-11-15"].tombstoned, 12);
        assert_eq!(days["2021-11-15"].kept_by_holds, 3);
        assert_eq!(days["2021-11-15"].sweeps, 2);
    }

    #[test]
    fn deleted_line_is_detected() {
        let (_folder, mut lines) = three_line_log();
        lines.remove(1);
        assert!(matches!(
            verify(&lines),
            Err(PurgeLogError::Broken { line: 2 })
        ));
    }

    #[test]
    fn deleted_first_line_is_detected() {
        let (_folder, mut lines) = three_line_log();
        lines.remove(0);
        assert!(matches!(
            verify(&lines),
            Err(PurgeLogError::Broken { line: 1 })
        ));
    }

    #[test]
    fn edited_count_is_detected() {
        let (_folder, mut lines) = three_line_log();
        lines[1] = lines[1].replace("\"tombstoned\":5", "\"tombstoned\":4");
        assert!(lines[1].contains("\"tombstoned\":4"), "the edit took place");
        assert!(matches!(
            verify(&lines),
            Err(PurgeLogError::Edited { line: 2 })
        ));
    }

    #[test]
    fn edited_line_with_recomputed_hash_is_detected() {
        let (_folder, mut lines) = three_line_log();
        let mut line: PurgeLine = serde_json::from_str(&lines[1]).unwrap();
        line.record.tombstoned = 0;
        line.hash = line_hash(&line.previous_hash, &line.record);
        lines[1] = serde_json::to_string(&line).unwrap();
        assert!(matches!(
            verify(&lines),
            Err(PurgeLogError::Broken { line: 3 })
        ));
    }

    #[test]
    fn open_rejects_a_tampered_file() {
        let (folder, lines) = three_line_log();
        let path = folder.path().join("purge.jsonl");
        std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[2])).unwrap();
        let error = PurgeLog::open(&path).err().unwrap();
        assert!(error.to_string().contains("line 2"), "{error}");
    }

    #[test]
    fn unchanged_sweep_is_not_news() {
        let (folder, _lines) = three_line_log();
        let log = PurgeLog::open(&folder.path().join("purge.jsonl")).unwrap();
        assert!(!log.is_news(0, 3));
        assert!(log.is_news(0, 4));
        assert!(log.is_news(1, 3));
    }
}
