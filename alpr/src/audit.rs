//! `alpr audit`: checking the audit trail's hash chains and printing the transparency report.

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};

use crate::app_config::AppConfig;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain of every partition of the audit topic. Exits with an error that
    /// names the partition, offset and event id of the first edited, removed or foreign record.
    Verify {
        /// Output format: `text` prints one summary line, and `json` prints every partition's
        /// count and last hash, whose saved copy later shows events cut from the end.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Print the access summary of a period: searches by purpose and by organisation, exports,
    /// reads put under holds and reads deleted.
    Report(ReportArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Markdown,
    Json,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Start of the period, included: a date (`2026-11-01`, midnight UTC) or an RFC 3339 time.
    #[arg(long, value_parser = parse_time)]
    pub from: DateTime<Utc>,
    /// End of the period, excluded: a date (midnight UTC) or an RFC 3339 time.
    #[arg(long, value_parser = parse_time)]
    pub to: DateTime<Utc>,
    /// Output format: Markdown for publication, or JSON.
    #[arg(long, value_enum, default_value_t = ReportFormat::Markdown)]
    pub format: ReportFormat,
}

/// Parses a date as midnight UTC, or an RFC 3339 time with its offset.
fn parse_time(value: &str) -> Result<DateTime<Utc>, String> {
    alpr_audit::parse_report_time(value).map_err(|error| error.to_string())
}

/// Runs one `alpr audit` command and prints its result.
pub async fn execute_audit(config: &AppConfig, command: AuditCommand) -> anyhow::Result<()> {
    let topic = config.kafka.topics().audit;
    match command {
        AuditCommand::Verify { format } => {
            let report = alpr_audit::verify(&config.kafka)
                .await
                .with_context(|| format!("reading the audit topic {topic}"))?;
            if format == OutputFormat::Json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            }
            if let Some((partition, bad)) = report.first_bad() {
                bail!(
                    "audit chain of {} broken at partition {partition}, offset {}, event {}: {}",
                    report.topic,
                    bad.offset,
                    bad.event_id.as_deref().unwrap_or("(none)"),
                    bad.problem
                );
            }
            if format == OutputFormat::Text {
                println!(
                    "audit chain intact: {} events in {} partitions of {}",
                    report.events_checked(),
                    report.partitions.len(),
                    report.topic
                );
            }
            Ok(())
        }
        AuditCommand::Report(args) => {
            check_period(args.from, args.to)?;
            let report = alpr_audit::report(&config.kafka, args.from, args.to)
                .await
                .with_context(|| format!("reading the audit topic {topic}"))?;
            match args.format {
                ReportFormat::Markdown => print!("{}", report.to_markdown()),
                ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
            }
            Ok(())
        }
    }
}

fn check_period(from: DateTime<Utc>, to: DateTime<Utc>) -> anyhow::Result<()> {
    if from >= to {
        bail!(
            "invalid period: --from ({}) must be before --to ({}), which is excluded",
            from.to_rfc3339(),
            to.to_rfc3339()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn date_is_midnight_utc() {
        assert_eq!(
            parse_time("2026-11-01").unwrap().to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
    }

    #[test]
    fn rfc3339_time_keeps_its_offset() {
        assert_eq!(
            parse_time("2026-11-01T08:30:00-08:00")
                .unwrap()
                .to_rfc3339(),
            "2026-11-01T16:30:00+00:00"
        );
    }

    #[test]
    fn invalid_time_is_rejected() {
        for value in ["2026-13-01", "yesterday", "2026-11-01 08:00", ""] {
            assert!(parse_time(value).is_err(), "{value:?} was accepted");
        }
    }

    #[test]
    fn period_must_not_be_empty() {
        let day = parse_time("2026-11-01").unwrap();
        let message = check_period(day, day).unwrap_err().to_string();
        assert!(message.contains("--from"), "{message}");
        assert!(message.contains("--to"), "{message}");
        assert!(check_period(day, day + chrono::Duration::seconds(1)).is_ok());
    }

    #[test]
    fn bad_flag_value_names_the_flag() {
        use clap::Parser;
        let error = crate::cli::Cli::try_parse_from([
            "alpr",
            "audit",
            "report",
            "--from",
            "2026-11-31",
            "--to",
            "2026-12-01",
        ])
        .unwrap_err()
        .to_string();
        assert!(error.contains("--from"), "{error}");
        assert!(error.contains("2026-11-31"), "{error}");
    }
}
