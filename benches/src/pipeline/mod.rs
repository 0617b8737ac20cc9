//! The end-to-end pipeline benchmark: one run against a real broker that measures each stage
//! beside its physical reference, so the figures can be compared as ratios on a noisy machine.
//!
//! Every run uses topics under a prefix of its own, so runs never see each other's records. A
//! complete run deletes them unless `keep_topics` is set, and a failed run keeps them for
//! inspection.
//! The components run as release `alpr` processes started from the binary given in the
//! options; the harness only generates load, counts and times.

pub mod cpu;
pub mod phases;
pub mod process;
pub mod report;
pub mod workload;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;

use alpr_platform::KafkaSettings;

pub use report::{Figures, Report};

/// Sizes and settings of one benchmark run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The `alpr` binary to measure; a release build.
    pub alpr: PathBuf,
    /// Broker bootstrap servers.
    pub bootstrap_servers: String,
    /// Reads put on the reads topic and drained by each consumer.
    pub reads: usize,
    /// Entries of the generated hotlist.
    pub hotlist_entries: usize,
    /// Reads sent to ingest over HTTP, and straight to Kafka beside it.
    pub http_reads: usize,
    /// Reads in one HTTP request.
    pub http_batch: usize,
    /// Requests in flight at once.
    pub http_concurrency: usize,
    /// How long the latency phase sends reads.
    pub latency_seconds: u64,
    /// The matcher's commit interval, which bounds capture-to-alert latency.
    pub commit_interval_ms: u64,
    /// Reads per second of the latency phase, or `None` for half the pipeline's measured
    /// maximum (see [`run`]). A fixed rate lets runs of two builds be compared at one load.
    pub latency_rate: Option<f64>,
    /// Folder for configuration, state and logs of this run.
    pub work_dir: PathBuf,
    pub seed: u64,
    /// Whether a complete run leaves its topics on the broker instead of deleting them.
    pub keep_topics: bool,
}

impl BenchOptions {
    /// Kafka settings of this run: the broker, and a topic prefix no other run uses.
    pub fn kafka(&self, run_id: &str) -> KafkaSettings {
        KafkaSettings {
            bootstrap_servers: self.bootstrap_servers.clone(),
            topic_prefix: format!("bench-{run_id}."),
            ..KafkaSettings::default()
        }
    }
}

/// Runs every phase in order and returns the report. Components are stopped between phases, so
/// only the component under measurement shares the machine with the broker and the harness.
pub async fn run(options: &BenchOptions) -> anyhow::Result<Report> {
    use alpr_matcher::Delivery;

    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let kafka = options.kafka(&run_id);
    std::fs::create_dir_all(&options.work_dir)?;
    alpr_platform::ensure_topics(&kafka).await?;
    tracing::info!(prefix = %kafka.topic_prefix, work_dir = %options.work_dir.display(), "benchmark run started");

    // About four reads per distinct plate over the run, with a long tail of rare plates.
    let mut traffic = workload::Traffic::new(options.seed, (options.reads / 4).max(1_000));
    let state_dir = options.work_dir.join("matcher");
    let hotlist = phases::load_hotlist(options, &kafka, &traffic, &state_dir).await?;
    tracing::info!(seconds = hotlist.load_seconds, "hotlist loaded");

    let (reads, expected_alerts) = traffic.reads(options.reads)?;
    let fill = phases::publish_direct(&kafka, &reads).await?;
    tracing::info!(per_second = fill.per_second, "reads topic filled");
    let bare_consumer = phases::drain_bare(&kafka, options.reads).await?;
    tracing::info!(
        per_second = bare_consumer.throughput.per_second,
        "bare consumer done"
    );

    let at_least_once = phases::run_matcher(
        options,
        &kafka,
        &state_dir,
        Delivery::AtLeastOnce,
        options.reads,
        expected_alerts,
    )
    .await?;
    tracing::info!(
        per_second = at_least_once.throughput.per_second,
        "at-least-once matcher done"
    );
    let exactly_once = phases::run_matcher(
        options,
        &kafka,
        &state_dir,
        Delivery::ExactlyOnce,
        options.reads,
        expected_alerts,
    )
    .await?;
    tracing::info!(
        per_second = exactly_once.throughput.per_second,
        "exactly-once matcher done"
    );

    // The matcher can only be as busy as reads can be put on its topic, and the exactly-once
    // matcher drains reads faster than this machine can produce them, so half load is half the
    // slower of the two.
    let pipeline_max = exactly_once.throughput.per_second.min(fill.per_second);
    let latency_rate = options.latency_rate.unwrap_or(pipeline_max / 2.0);
    let latency =
        phases::measure_latency(options, &kafka, &state_dir, &reads, latency_rate).await?;
    tracing::info!(p99_ms = latency.p99_ms, "latency measured");

    let ingest = phases::measure_ingest(options, &kafka, &mut traffic).await?;
    tracing::info!(per_second = ingest.http.per_second, "ingest measured");

    let retention =
        phases::measure_retention(options, &kafka, options.reads + latency.sent).await?;
    tracing::info!(
        bytes_per_read = retention.bytes_per_read,
        "retention measured"
    );

    let figures = Figures {
        reads: options.reads,
        expected_alerts,
        commit_interval_ms: options.commit_interval_ms,
        hotlist,
        fill,
        bare_consumer,
        matcher_at_least_once: at_least_once,
        matcher_exactly_once: exactly_once,
        latency,
        ingest,
        retention,
    };
    let targets = report::check_targets(&figures);
    if options.keep_topics {
        tracing::info!(prefix = %kafka.topic_prefix, "topics of the run kept");
    } else {
        let deleted = delete_run_topics(&kafka).await?;
        tracing::info!(prefix = %kafka.topic_prefix, deleted, "topics of the run deleted");
    }
    Ok(Report {
        started_at,
        machine: report::Machine::this(),
        figures,
        targets,
    })
}

/// Deletes every topic whose name starts with the run's prefix, the ingest phase's included, and
/// returns how many there were.
async fn delete_run_topics(kafka: &KafkaSettings) -> anyhow::Result<usize> {
    let admin: AdminClient<DefaultClientContext> = kafka.client_config().create()?;
    let prefix = kafka.topic_prefix.clone();
    // An empty prefix would name every topic of the broker.
    anyhow::ensure!(
        !prefix.is_empty(),
        "the run has no topic prefix, so no topic is deleted"
    );
    let names: Vec<String> = tokio::task::block_in_place(|| {
        admin
            .inner()
            .fetch_metadata(None, Duration::from_secs(10))
            .map(|metadata| {
                metadata
                    .topics()
                    .iter()
                    .map(|topic| topic.name().to_owned())
                    .filter(|name| name.starts_with(&prefix))
                    .collect()
            })
    })
    .context("listing the run's topics failed")?;

    if names.is_empty() {
        return Ok(0);
    }
    let topics: Vec<&str> = names.iter().map(String::as_str).collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    for result in admin
        .delete_topics(&topics, &options)
        .await
        .context("deleting the run's topics failed")?
    {
        if let Err((topic, code)) = result {
            anyhow::bail!("deleting topic {topic} failed: {code}");
        }
    }
    Ok(names.len())
}
