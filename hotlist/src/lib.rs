//! Hotlist import: turns a stolen or wanted vehicle list (an agency's CSV or an NCIC-style
//! fixed-width file from a state relay) into entries on the compacted `alpr.hotlist.v1` topic.
//!
//! An import replaces one named list as a whole. It parses the file, reads the list's current
//! entries from the topic, and publishes only the difference: new or changed entries as
//! records, unchanged ones not at all, and entries missing from the file as tombstones. Entry
//! ids are UUIDv5 names of the list and the record (see [`entry_id`]), so the same record keeps
//! its key across imports and compaction keeps one value per entry.
//!
//! A file with any bad line is rejected whole and nothing is published: importing the good
//! lines only would tombstone the entries of the bad ones, and a stolen car would stop alerting
//! without anyone having decided so. For the same reason a file with no entries is rejected.
//!
//! Run one import of a list at a time. Two concurrent imports of the same list each compute
//! their difference from the topic as it was before either published, so the tombstones of one
//! can remove entries the other just wrote.

mod csv_format;
mod current_list;
pub mod diff;
pub mod entry_id;
mod error;
mod fields;
pub mod ncic;
mod publish;

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use alpr_platform::KafkaSettings;
use alpr_schemas::{HotlistEntry, HotlistImport, HotlistReason, MatchPolicy};

pub use current_list::read_current_list;
pub use diff::{diff_list, ListDiff};
pub use entry_id::HOTLIST_ENTRY_NAMESPACE;
pub use error::{ImportError, LineError};

/// Layout of a hotlist file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// CSV with a header row; the columns are listed in the `csv_format` module.
    Csv,
    /// NCIC-style fixed-width records; the layout is in [`ncic`].
    Ncic,
}

impl FileFormat {
    /// Returns the format its extension implies: `.csv` is CSV, and `.txt`, `.dat` and `.ncic`
    /// are NCIC, in any case.
    pub fn from_path(path: &Path) -> Option<Self> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "csv" => Some(Self::Csv),
            "txt" | "dat" | "ncic" => Some(Self::Ncic),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Ncic => "ncic",
        }
    }
}

impl FromStr for FileFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "csv" => Ok(Self::Csv),
            "ncic" => Ok(Self::Ncic),
            _ => Err(format!("invalid format {text}; expected csv or ncic")),
        }
    }
}

impl fmt::Display for FileFormat {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Settings of one import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// Name of the list the file replaces, such as `NCIC` or `WA-STATE`. It is part of every
    /// entry id, so renaming a list re-keys all of its entries.
    pub list: String,
    /// Agency that owns the entries and receives their alerts. Required for CSV files. For NCIC
    /// files it overrides each record's ORI, which is used when this is `None`.
    pub agency_id: Option<String>,
    /// `None` picks the format from the file extension.
    pub format: Option<FileFormat>,
    /// Reason of CSV rows without one. NCIC records take theirs from the file code.
    pub default_reason: HotlistReason,
    /// Priority, 1 (most urgent) to 5, of rows without one; NCIC records never carry one.
    pub default_priority: i32,
    /// Match policy of rows without one; NCIC records never carry one.
    pub default_match_policy: MatchPolicy,
}

impl ImportOptions {
    /// Returns options for `list` with the schema's defaults: reason `OTHER`, priority 3 and
    /// exact matching, the format taken from the file extension and no agency override.
    pub fn new(list: impl Into<String>) -> Self {
        Self {
            list: list.into(),
            agency_id: None,
            format: None,
            default_reason: HotlistReason::Other,
            default_priority: 3,
            default_match_policy: MatchPolicy::Exact,
        }
    }

    fn validate(&self) -> Result<(), ImportError> {
        let invalid = |option, problem: &str| {
            Err(ImportError::InvalidOption {
                option,
                problem: problem.to_string(),
            })
        };
        if self.list.trim().is_empty() {
            return invalid("list", "empty");
        }
        if self.list.trim() != self.list || self.list.chars().any(char::is_control) {
            return invalid(
                "list",
                "has leading or trailing spaces or control characters",
            );
        }
        if let Some(agency_id) = &self.agency_id {
            if agency_id.trim().is_empty() {
                return invalid("agency_id", "empty");
            }
        }
        fields::check_priority(self.default_priority)
            .map_err(|problem| ImportError::InvalidOption {
                option: "default_priority",
                problem,
            })
            .map(drop)
    }
}

/// Counts of one import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub list: String,
    /// Entries in the file.
    pub parsed: usize,
    /// New or changed entries written to the topic.
    pub published: usize,
    /// Entries already on the topic with the same content, so not written again.
    pub unchanged: usize,
    /// Entries on the topic but not in the file, removed by a tombstone.
    pub removed: usize,
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "list {}: {} entries parsed, {} published, {} unchanged, {} removed",
            self.list, self.parsed, self.published, self.unchanged, self.removed
        )
    }
}

/// Reads and parses a hotlist file without touching Kafka. The format comes from the options
/// or else from the file extension.
pub fn parse_file(path: &Path, options: &ImportOptions) -> Result<Vec<HotlistEntry>, ImportError> {
    let format = match options.format.or_else(|| FileFormat::from_path(path)) {
        Some(format) => format,
        None => {
            return Err(ImportError::UnknownFormat {
                path: path.to_path_buf(),
            })
        }
    };
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_text(&text, format, options)
}

/// Parses the text of a hotlist file. A file with any bad line is rejected with
/// [`ImportError::InvalidLines`], which lists every bad field of every line, and a file without
/// entries with [`ImportError::EmptyFile`].
pub fn parse_text(
    text: &str,
    format: FileFormat,
    options: &ImportOptions,
) -> Result<Vec<HotlistEntry>, ImportError> {
    options.validate()?;
    let entries = match format {
        FileFormat::Csv => csv_format::parse_csv(text, options)?,
        FileFormat::Ncic => ncic::parse_ncic(text, options)?,
    };
    if entries.is_empty() {
        return Err(ImportError::EmptyFile {
            list: options.list.clone(),
        });
    }
    Ok(entries)
}

/// Imports a hotlist file as the new content of `options.list`: parses it, reads the list's
/// current entries from the hotlist topic, and publishes the difference. Creates the project's
/// topics first when they are missing.
///
/// Nothing is published when the file or the topic cannot be read. When publishing fails part
/// way, the records already delivered stay, and running the import again completes it.
pub async fn import_file(
    settings: &KafkaSettings,
    path: &Path,
    options: &ImportOptions,
) -> Result<ImportSummary, ImportError> {
    let entries = parse_file(path, options)?;
    let parsed = entries.len();
    tracing::info!(list = %options.list, entries = parsed, "hotlist file parsed");

    ensure_topics(settings).await?;
    let current = read_current_list(settings, &options.list).await?;
    let difference = diff_list(&current, entries);
    tracing::info!(
        list = %options.list,
        current = current.len(),
        upserts = difference.upserts.len(),
        unchanged = difference.unchanged,
        removals = difference.removals.len(),
        "hotlist difference computed"
    );

    publish::publish_difference(settings, &difference).await?;
    let import = HotlistImport {
        list: options.list.clone(),
        agency_id: options.agency_id.clone(),
        imported_at: chrono::Utc::now().timestamp_micros(),
        entry_count: i64::try_from(parsed).unwrap_or(i64::MAX),
        source: path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned()),
    };
    publish::publish_import_record(settings, &options.list, Some(&import)).await?;
    let summary = ImportSummary {
        list: options.list.clone(),
        parsed,
        published: difference.upserts.len(),
        unchanged: difference.unchanged,
        removed: difference.removals.len(),
    };
    tracing::info!(
        list = %summary.list,
        parsed = summary.parsed,
        published = summary.published,
        unchanged = summary.unchanged,
        removed = summary.removed,
        "hotlist imported"
    );
    Ok(summary)
}

/// Removes a whole list: a tombstone for each of its entries, then for its import record, so
/// matchers stop alerting on it and stop reporting its age.
///
/// Fails with [`ImportError::UnknownList`] when the topic contains no entry of `list`, which is
/// most often a misspelt name.
pub async fn remove_list(settings: &KafkaSettings, list: &str) -> Result<usize, ImportError> {
    ensure_topics(settings).await?;
    let current = read_current_list(settings, list).await?;
    if current.is_empty() {
        return Err(ImportError::UnknownList {
            list: list.to_string(),
        });
    }
    let difference = diff_list(&current, Vec::new());
    publish::publish_difference(settings, &difference).await?;
    publish::publish_import_record(settings, list, None).await?;
    tracing::info!(list, removed = difference.removals.len(), "hotlist removed");
    Ok(difference.removals.len())
}

/// Creates the project's topics when they are missing.
async fn ensure_topics(settings: &KafkaSettings) -> Result<(), ImportError> {
    alpr_platform::ensure_topics(settings)
        .await
        .map_err(|source| ImportError::Kafka {
            action: "create topics",
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_follows_extension() {
        assert_eq!(
            FileFormat::from_path(Path::new("list.CSV")),
            Some(FileFormat::Csv)
        );
        assert_eq!(
            FileFormat::from_path(Path::new("wa.txt")),
            Some(FileFormat::Ncic)
        );
        assert_eq!(
            FileFormat::from_path(Path::new("wa.dat")),
            Some(FileFormat::Ncic)
        );
        assert_eq!(
            FileFormat::from_path(Path::new("wa.ncic")),
            Some(FileFormat::Ncic)
        );
        assert_eq!(FileFormat::from_path(Path::new("wa.xlsx")), None);
        assert_eq!(FileFormat::from_path(Path::new("wa")), None);
    }

    #[test]
    fn format_parses_from_flag_text() {
        assert_eq!("NCIC".parse::<FileFormat>(), Ok(FileFormat::Ncic));
        assert_eq!("csv".parse::<FileFormat>(), Ok(FileFormat::Csv));
        assert!("xml".parse::<FileFormat>().is_err());
    }

    #[test]
    fn unknown_extension_without_format_is_rejected() {
        let error = parse_file(Path::new("list.xlsx"), &ImportOptions::new("NCIC"))
            .expect_err("format cannot be told");
        assert!(
            matches!(error, ImportError::UnknownFormat { .. }),
            "{error}"
        );
    }

    #[test]
    fn options_are_checked_before_parsing() {
        let mut options = ImportOptions::new(" NCIC");
        let error = parse_text("", FileFormat::Ncic, &options).expect_err("list has a space");
        assert!(
            matches!(error, ImportError::InvalidOption { option: "list", .. }),
            "{error}"
        );

        options.list = "NCIC".into();
        options.default_priority = 9;
        let error = parse_text("", FileFormat::Ncic, &options).expect_err("priority 9");
        assert!(
            matches!(
                error,
                ImportError::InvalidOption {
                    option: "default_priority",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn empty_file_is_rejected() {
        let mut options = ImportOptions::new("AGENCY");
        options.agency_id = Some("WA0340000".into());
        let error = parse_text("plate,state\n", FileFormat::Csv, &options).expect_err("no rows");
        assert!(matches!(error, ImportError::EmptyFile { .. }), "{error}");
    }

    #[test]
    fn summary_reads_as_one_line() {
        let summary = ImportSummary {
            list: "WA-STATE".into(),
            parsed: 6,
            published: 1,
            unchanged: 5,
            removed: 2,
        };
        assert_eq!(
            summary.to_string(),
            "list WA-STATE: 6 entries parsed, 1 published, 5 unchanged, 2 removed"
        );
    }
}
