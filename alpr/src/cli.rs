//! Command-line interface of the `alpr` binary.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use figment::providers::Serialized;

use alpr_platform::telemetry::init_tracing;
use alpr_platform::{load_config, shutdown_on_signal, ShutdownToken};

use crate::app_config::AppConfig;
use crate::components::{run_components, ComponentSet};

#[derive(Debug, Parser)]
#[command(
    name = "alpr",
    version,
    about = "Back-end for automated license plate recognition networks"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalOptions {
    /// TOML configuration file; `ALPR_SECTION__KEY` variables and flags override it.
    #[arg(long, short = 'c', global = true, env = "ALPR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Kafka bootstrap servers, overriding `kafka.bootstrap_servers`.
    #[arg(long, global = true)]
    pub kafka: Option<String>,
    /// Prefix of every topic name, overriding `kafka.topic_prefix`.
    #[arg(long, global = true)]
    pub topic_prefix: Option<String>,
    /// Log format: `json` for log collectors, `text` for a terminal.
    #[arg(long, global = true, value_parser = ["json", "text"])]
    pub log_format: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve `POST /v1/reads` and consume the raw topic, landing reads on the reads topic.
    Ingest,
    /// Check every read against the hotlist and publish alerts.
    Matcher,
    /// Delete reads past their retention period, except held ones; `report` prints the purge log.
    Retention(crate::retention::RetentionArgs),
    /// Index the reads and serve the investigators' search API: case-bound, scoped by the
    /// registry's sharing grants, and recorded in the audit log.
    Search,
    /// Place, release and list evidence holds, which keep reads past their retention period.
    #[command(subcommand)]
    Holds(crate::retention::HoldsCommand),
    /// Manage the registry of organisations, cameras, users and sharing grants.
    #[command(subcommand)]
    Admin(crate::admin::AdminCommand),
    /// Check the audit trail's hash chains, or print the access report of a period.
    #[command(subcommand)]
    Audit(crate::audit::AuditCommand),
    /// Run ingest and the matcher in one process, for a single machine.
    Run,
    /// Manage hotlists.
    #[command(subcommand)]
    Hotlist(HotlistCommand),
    /// Send a file of recorded reads through ingest or straight to Kafka.
    Replay(crate::demo::ReplayArgs),
    /// Start everything locally, feed reads, print alerts and a summary.
    Demo(crate::demo::DemoArgs),
    /// Create the project's topics with their configuration and exit.
    CreateTopics,
}

#[derive(Debug, Subcommand)]
pub enum HotlistCommand {
    /// Import a CSV or NCIC-style fixed-width list; entries missing from the new file are removed.
    Import(crate::demo::ImportArgs),
    /// Remove a whole list: every entry of it stops alerting.
    Remove {
        /// Name of the list, as given at import.
        #[arg(long)]
        list: String,
    },
}

impl GlobalOptions {
    /// Loads the configuration: defaults, the file, the environment, then these flags.
    pub fn load(&self) -> anyhow::Result<AppConfig> {
        let mut flags = Serialized::defaults(serde_json::json!({}));
        let mut overrides = serde_json::Map::new();
        let mut kafka = serde_json::Map::new();
        if let Some(bootstrap) = &self.kafka {
            kafka.insert("bootstrap_servers".into(), bootstrap.clone().into());
        }
        if let Some(prefix) = &self.topic_prefix {
            kafka.insert("topic_prefix".into(), prefix.clone().into());
        }
        if !kafka.is_empty() {
            overrides.insert("kafka".into(), kafka.into());
        }
        if let Some(format) = &self.log_format {
            overrides.insert("log".into(), serde_json::json!({ "format": format }));
        }
        if !overrides.is_empty() {
            flags = Serialized::defaults(serde_json::Value::Object(overrides));
        }
        load_config(self.config.as_deref(), flags).context("loading configuration")
    }
}

/// Runs a parsed command line to completion.
pub async fn execute(cli: Cli) -> anyhow::Result<()> {
    let config = cli.global.load()?;
    // The demo prints its own progress; its component logs would only bury the alerts.
    let default_level = if matches!(cli.command, Command::Demo(_)) {
        "warn"
    } else {
        "info"
    };
    init_tracing(config.log.format.into(), default_level);
    let shutdown = ShutdownToken::new();
    shutdown_on_signal(shutdown.clone());

    match cli.command {
        Command::Ingest => {
            let set = ComponentSet {
                ingest: true,
                matcher: false,
            };
            run_components(config, set, shutdown).await
        }
        Command::Matcher => {
            let set = ComponentSet {
                ingest: false,
                matcher: true,
            };
            run_components(config, set, shutdown).await
        }
        Command::Run => {
            let set = ComponentSet {
                ingest: true,
                matcher: true,
            };
            run_components(config, set, shutdown).await
        }
        Command::Retention(args) => {
            crate::retention::execute_retention(config, args, shutdown).await
        }
        Command::Holds(command) => crate::retention::execute_holds(&config, command).await,
        Command::Admin(command) => crate::admin::execute_admin(&config, command).await,
        Command::Search => crate::search::run_search(config, shutdown).await,
        Command::Audit(command) => crate::audit::execute_audit(&config, command).await,
        Command::CreateTopics => {
            alpr_platform::ensure_topics(&config.kafka).await?;
            println!("topics ready with prefix {:?}", config.kafka.topic_prefix);
            Ok(())
        }
        Command::Hotlist(HotlistCommand::Remove { list }) => {
            let removed = alpr_hotlist::remove_list(&config.kafka, &list).await?;
            println!("list {list}: {removed} entries removed");
            Ok(())
        }
        Command::Hotlist(HotlistCommand::Import(args)) => {
            crate::demo::import_hotlist(&config, args).await
        }
        Command::Replay(args) => crate::demo::replay_file(&config, args, shutdown).await,
        Command::Demo(args) => crate::demo::run_demo(config, args, shutdown).await,
    }
}
