//! `alpr retention` and `alpr holds`: the retention worker with its admin server, the purge log
//! report, and the evidence hold commands.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use alpr_platform::ShutdownToken;
use alpr_retention::holds::{self, HoldRequest, ReadLookup};

use crate::app_config::AppConfig;
use crate::components::run_with_admin;

#[derive(Debug, Args)]
pub struct RetentionArgs {
    #[command(subcommand)]
    pub command: Option<RetentionCommand>,
}

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Print the purge log per day and verify its hash chain; exits with an error if a line was
    /// edited or removed.
    Report {
        /// Purge log file, overriding `retention.purge_log`.
        #[arg(long)]
        log: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum HoldsCommand {
    /// Keep reads past their retention period for a case. Each read id must be in the running
    /// retention worker's index.
    Place {
        /// Case number the reads are kept for.
        #[arg(long = "case")]
        case_number: String,
        /// Reason the reads are kept, recorded in the hold and the audit log.
        #[arg(long)]
        reason: String,
        /// User id of the person placing the hold.
        #[arg(long = "by", env = "USER")]
        placed_by: String,
        /// Base URL of the retention worker's read lookup API; by default
        /// `http://` and `retention.listen`.
        #[arg(long)]
        retention_url: Option<String>,
        /// Read ids (UUIDs) to keep.
        #[arg(required = true, value_name = "READ_ID")]
        read_ids: Vec<String>,
    },
    /// Release a hold; its reads are deleted at the next sweep if past their period and under
    /// no other hold.
    Release {
        /// Hold id (UUID) that `holds place` printed.
        hold_id: String,
        /// User id of the person releasing the hold.
        #[arg(long = "by", env = "USER")]
        released_by: String,
        /// Reason for the release, recorded in the audit log.
        #[arg(long)]
        reason: Option<String>,
    },
    /// List the holds in force.
    List {
        /// Only holds of this case number.
        #[arg(long = "case")]
        case_number: Option<String>,
        /// User id of the person listing, recorded in the audit log.
        #[arg(long = "by", env = "USER")]
        listed_by: String,
    },
}

/// Runs `alpr retention` or one of its subcommands.
pub async fn execute_retention(
    config: AppConfig,
    args: RetentionArgs,
    shutdown: ShutdownToken,
) -> anyhow::Result<()> {
    match args.command {
        None => run_worker(config, shutdown).await,
        Some(RetentionCommand::Report { log }) => {
            let path = log.unwrap_or(config.retention.purge_log);
            let lines = alpr_retention::purge_log::read_verified(&path)?;
            print!("{}", alpr_retention::purge_log::render_report(&lines));
            Ok(())
        }
    }
}

/// Runs the retention worker with the admin server until `shutdown`.
async fn run_worker(config: AppConfig, shutdown: ShutdownToken) -> anyhow::Result<()> {
    config.retention.validate()?;
    let images = alpr_images::ImageStore::open(&config.images)?;
    let api_listener = alpr_retention::api::bind(config.retention.listen).await?;
    run_with_admin(config.admin.listen, |readiness| async move {
        alpr_retention::run(
            config.retention,
            config.kafka,
            api_listener,
            alpr_platform::system_clock(),
            images,
            readiness,
            shutdown,
        )
        .await
        .context("retention")
    })
    .await
}

/// Runs one `alpr holds` command and prints its result.
pub async fn execute_holds(config: &AppConfig, command: HoldsCommand) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    match command {
        HoldsCommand::Place {
            case_number,
            reason,
            placed_by,
            retention_url,
            read_ids,
        } => {
            let base_url =
                retention_url.unwrap_or_else(|| format!("http://{}", config.retention.listen));
            let request = HoldRequest {
                case_number,
                reason,
                placed_by,
                read_ids,
                review_at: None,
                organisation_id: None,
                purpose: None,
            };
            let hold =
                holds::place_hold(&config.kafka, &ReadLookup::Http { base_url }, request, now)
                    .await?;
            println!(
                "hold {} placed on {} reads for case {}",
                hold.hold_id,
                hold.read_ids.len(),
                hold.case_number
            );
        }
        HoldsCommand::Release {
            hold_id,
            released_by,
            reason,
        } => {
            let hold =
                holds::release_hold(&config.kafka, &hold_id, &released_by, reason, now).await?;
            println!(
                "hold {} released ({} reads, case {})",
                hold.hold_id,
                hold.read_ids.len(),
                hold.case_number
            );
        }
        HoldsCommand::List {
            case_number,
            listed_by,
        } => {
            let holds =
                holds::list_holds(&config.kafka, case_number.as_deref(), &listed_by, now).await?;
            println!("hold_id                               case            reads  placed_by       placed_at             reason");
            for hold in &holds {
                let placed_at = alpr_schemas::from_micros(hold.placed_at)
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                println!(
                    "{}  {:<14}  {:>5}  {:<14}  {}  {}",
                    hold.hold_id,
                    hold.case_number,
                    hold.read_ids.len(),
                    hold.placed_by,
                    placed_at,
                    hold.reason
                );
            }
            println!("{} holds", holds.len());
        }
    }
    Ok(())
}
