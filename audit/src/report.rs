//! The transparency report: what the audit trail shows about a period, in totals.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::ops::ControlFlow;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use alpr_platform::KafkaSettings;
use alpr_schemas::{decode, AuditAction, AuditEvent};

use crate::topic::AuditTopicReader;
use crate::AuditError;

/// Key under which events without a purpose are counted.
const NO_PURPOSE: &str = "(no purpose given)";
/// Key under which events without an organisation are counted.
const NO_ORGANISATION: &str = "(no organisation)";

/// A report period bound that is neither a date nor an RFC 3339 time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a date such as 2026-11-01 or an RFC 3339 time such as 2026-11-01T08:00:00Z")]
pub struct InvalidReportTime;

/// Parses a bound of a report period: a date (midnight UTC) or an RFC 3339 time.
pub fn parse_report_time(value: &str) -> Result<DateTime<Utc>, InvalidReportTime> {
    let value = value.trim();
    if let Ok(date) = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(date.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    DateTime::parse_from_rfc3339(value)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| InvalidReportTime)
}

/// Totals of the audit events that occurred in `[from, to)`, as an agency publishes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransparencyReport {
    pub from: DateTime<Utc>,
    /// End of the period, exclusive.
    pub to: DateTime<Utc>,
    pub searches: u64,
    pub searches_by_purpose: BTreeMap<String, u64>,
    /// Searches by the organisation of the user who searched.
    pub searches_by_organisation: BTreeMap<String, u64>,
    pub exports: u64,
    pub holds_placed: u64,
    /// Reads put under evidence holds: the sum of the result counts of placed holds.
    pub reads_held: u64,
    pub holds_released: u64,
    /// Reads tombstoned by retention sweeps.
    pub reads_deleted: u64,
    pub hotlist_changes: u64,
    /// Events of the period with the action `OTHER`, which also includes actions this version
    /// does not know.
    pub other_events: u64,
    /// Records of the audit topic that are not audit events, over the whole topic. They are
    /// left out of every total; `alpr audit verify` names where they are.
    pub undecodable_records: u64,
}

impl TransparencyReport {
    /// Sums `events` that occurred in `[from, to)`. A retention sweep that wrote its
    /// `READS_DELETED` event twice (resumed after a crash) carries the same event id both times
    /// and is counted once.
    pub fn from_events(
        events: impl IntoIterator<Item = AuditEvent>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Self {
        let mut report = Self::empty(from, to);
        let mut deletion_events = HashSet::new();
        let (from_micros, to_micros) = (from.timestamp_micros(), to.timestamp_micros());
        for event in events {
            if event.occurred_at < from_micros || event.occurred_at >= to_micros {
                continue;
            }
            let count = event.result_count.unwrap_or(0).max(0) as u64;
            match event.action {
                AuditAction::Search => {
                    report.searches += 1;
                    *report
                        .searches_by_purpose
                        .entry(label_or(event.purpose.as_deref(), NO_PURPOSE))
                        .or_default() += 1;
                    *report
                        .searches_by_organisation
                        .entry(label_or(Some(&event.organisation_id), NO_ORGANISATION))
                        .or_default() += 1;
                }
                AuditAction::Export => report.exports += 1,
                AuditAction::HoldPlaced => {
                    report.holds_placed += 1;
                    report.reads_held += count;
                }
                AuditAction::HoldReleased => report.holds_released += 1,
                AuditAction::ReadsDeleted => {
                    if deletion_events.insert(event.event_id) {
                        report.reads_deleted += count;
                    }
                }
                AuditAction::HotlistChange => report.hotlist_changes += 1,
                AuditAction::Other => report.other_events += 1,
            }
        }
        report
    }

    fn empty(from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        Self {
            from,
            to,
            searches: 0,
            searches_by_purpose: BTreeMap::new(),
            searches_by_organisation: BTreeMap::new(),
            exports: 0,
            holds_placed: 0,
            reads_held: 0,
            holds_released: 0,
            reads_deleted: 0,
            hotlist_changes: 0,
            other_events: 0,
            undecodable_records: 0,
        }
    }

    /// Renders the report as a Markdown document for publication.
    pub fn to_markdown(&self) -> String {
        let mut text = String::new();
        let time = |time: &DateTime<Utc>| time.to_rfc3339_opts(SecondsFormat::Secs, true);
        // Writing to a String cannot fail, so the results of `writeln!` are ignored.
        let _ = writeln!(text, "# ALPR access report\n");
        let _ = writeln!(
            text,
            "Period: {} to {} (end excluded), from the audit trail.\n",
            time(&self.from),
            time(&self.to)
        );
        let _ = writeln!(text, "| | count |\n| --- | ---: |");
        for (label, value) in [
            ("Searches", self.searches),
            ("Exports", self.exports),
            ("Evidence holds placed", self.holds_placed),
            ("Reads put under a hold", self.reads_held),
            ("Evidence holds released", self.holds_released),
            (
                "Reads deleted at the end of their retention period",
                self.reads_deleted,
            ),
            ("Hotlist changes", self.hotlist_changes),
            ("Other audited actions", self.other_events),
        ] {
            let _ = writeln!(text, "| {label} | {value} |");
        }
        write_table(
            &mut text,
            "Searches by purpose",
            "purpose",
            &self.searches_by_purpose,
        );
        write_table(
            &mut text,
            "Searches by organisation",
            "organisation",
            &self.searches_by_organisation,
        );
        if self.undecodable_records > 0 {
            let _ = writeln!(
                text,
                "\n{} records of the audit topic could not be read as audit events and are not \
                 counted above.",
                self.undecodable_records
            );
        }
        text
    }
}

fn write_table(text: &mut String, title: &str, column: &str, counts: &BTreeMap<String, u64>) {
    let _ = writeln!(text, "\n## {title}\n");
    if counts.is_empty() {
        let _ = writeln!(text, "None.");
        return;
    }
    let _ = writeln!(text, "| {column} | searches |\n| --- | ---: |");
    for (label, count) in counts {
        let _ = writeln!(text, "| {} | {count} |", escape_cell(label));
    }
}

/// Keeps free text such as a purpose from breaking the Markdown table it sits in.
fn escape_cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn label_or(value: Option<&str>, missing: &str) -> String {
    match value.map(str::trim) {
        Some(text) if !text.is_empty() => text.to_string(),
        _ => missing.to_string(),
    }
}

/// Reads the whole audit topic and sums the events that occurred in `[from, to)`.
pub async fn report(
    kafka: &KafkaSettings,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<TransparencyReport, AuditError> {
    let kafka = kafka.clone();
    tokio::task::spawn_blocking(move || report_blocking(&kafka, from, to))
        .await
        .map_err(|_| AuditError::ThreadPanicked)?
}

fn report_blocking(
    kafka: &KafkaSettings,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<TransparencyReport, AuditError> {
    let reader = AuditTopicReader::connect(kafka, "report")?;
    let (from_micros, to_micros) = (from.timestamp_micros(), to.timestamp_micros());
    let mut events = Vec::new();
    let mut undecodable = 0;
    // NOTE: every event of the topic is read, because a partition is not ordered by
    // `occurred_at` closely enough to seek by time. Only the period's events are kept.
    for partition in 0..reader.partition_count()? {
        reader.read_partition(partition, |_, payload| {
            match payload.map(decode::<AuditEvent>) {
                Some(Ok(event)) => {
                    if event.occurred_at >= from_micros && event.occurred_at < to_micros {
                        events.push(event);
                    }
                }
                _ => undecodable += 1,
            }
            ControlFlow::Continue(())
        })?;
    }
    let mut report = TransparencyReport::from_events(events, from, to);
    report.undecodable_records = undecodable;
    Ok(report)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::test_events::{event, START_MICROS};

    fn period() -> (DateTime<Utc>, DateTime<Utc>) {
        let from = DateTime::from_timestamp_micros(START_MICROS).unwrap();
        (from, from + chrono::Duration::days(30))
    }

    fn with(action: AuditAction, minute: i64, count: i64) -> AuditEvent {
        let mut next = event("detective-1", minute);
        next.action = action;
        next.result_count = Some(count);
        next
    }

    #[test]
    fn report_counts_each_action() {
        let (from, to) = period();
        let mut other_organisation = event("deputy-2", 5);
        other_organisation.organisation_id = "kcso".into();
        other_organisation.purpose = Some("stolen vehicle".into());
        let mut no_purpose = event("deputy-3", 6);
        no_purpose.purpose = None;
        no_purpose.organisation_id = String::new();
        let deletion = with(AuditAction::ReadsDeleted, 9, 1_000);
        let events = vec![
            event("detective-1", 1),
            event("detective-1", 2),
            other_organisation,
            no_purpose,
            with(AuditAction::Export, 3, 40),
            with(AuditAction::HoldPlaced, 4, 3),
            with(AuditAction::HoldPlaced, 7, 5),
            with(AuditAction::HoldReleased, 8, 3),
            deletion.clone(),
            deletion,
            with(AuditAction::ReadsDeleted, 10, 250),
            with(AuditAction::HotlistChange, 11, 1),
            with(AuditAction::Other, 12, 1),
        ];
        let report = TransparencyReport::from_events(events, from, to);
        assert_eq!(report.searches, 4);
        assert_eq!(
            report.searches_by_purpose,
            BTreeMap::from([
                (NO_PURPOSE.to_string(), 1),
                ("burglary".to_string(), 2),
                ("stolen vehicle".to_string(), 1),
            ])
        );
        assert_eq!(
            report.searches_by_organisation,
            BTreeMap::from([
                (NO_ORGANISATION.to_string(), 1),
                ("kcso".to_string(), 1),
                ("spd".to_string(), 2),
            ])
        );
        assert_eq!(report.exports, 1);
        assert_eq!(report.holds_placed, 2);
        assert_eq!(report.reads_held, 8);
        assert_eq!(report.holds_released, 1);
        assert_eq!(
            report.reads_deleted, 1_250,
            "a repeated sweep event counts once"
        );
        assert_eq!(report.hotlist_changes, 1);
        assert_eq!(report.other_events, 1);
    }

    #[test]
    fn report_period_excludes_its_end() {
        let (from, to) = period();
        let before = with(AuditAction::Export, -1, 1);
        let first = with(AuditAction::Export, 0, 1);
        let mut at_end = with(AuditAction::Export, 0, 1);
        at_end.occurred_at = to.timestamp_micros();
        let mut last = with(AuditAction::Export, 0, 1);
        last.occurred_at = to.timestamp_micros() - 1;
        let report = TransparencyReport::from_events(vec![before, first, at_end, last], from, to);
        assert_eq!(report.exports, 2);
    }

    #[test]
    fn markdown_lists_totals_and_purposes() {
        let (from, to) = period();
        let mut piped = event("detective-1", 1);
        piped.purpose = Some("robbery | armed".into());
        let report = TransparencyReport::from_events(
            vec![piped, with(AuditAction::ReadsDeleted, 2, 77)],
            from,
            to,
        );
        let text = report.to_markdown();
        assert!(
            text.contains("Period: 2026-11-01T00:00:00Z to 2026-12-01T00:00:00Z"),
            "{text}"
        );
        assert!(text.contains("| Searches | 1 |"), "{text}");
        assert!(
            text.contains("| Reads deleted at the end of their retention period | 77 |"),
            "{text}"
        );
        assert!(text.contains("| robbery \\| armed | 1 |"), "{text}");
        assert!(!text.contains("could not be read"), "{text}");
    }
}
