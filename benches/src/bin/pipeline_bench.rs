//! `pipeline-bench`: measures the whole pipeline against a local broker in one run and prints
//! the figures beside their targets. See BENCHMARKS.md for the method.

use std::path::PathBuf;

use clap::Parser;

use alpr_benches::pipeline::{run, BenchOptions};

// The `alpr` binary's allocator, so that the bare consumer loop in this process, the matcher's
// reference, drains under the same conditions. It drained 1.64 M reads/s with glibc's malloc
// and 2.89 M with jemalloc, side by side (BENCHMARKS.md).
#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Debug, Parser)]
#[command(about = "Measure ingest, the matcher and retention against a running broker")]
struct Args {
    /// The `alpr` binary to measure; build it with `cargo build --release -p alpr`.
    #[arg(long)]
    alpr: PathBuf,
    /// Kafka bootstrap servers.
    #[arg(long, default_value = "127.0.0.1:9092")]
    kafka: String,
    /// Reads on the reads topic, drained by the bare consumer and by each matcher.
    #[arg(long, default_value_t = 2_000_000)]
    reads: usize,
    /// Entries of the generated hotlist.
    #[arg(long, default_value_t = 10_000_000)]
    hotlist_entries: usize,
    /// Reads sent to ingest over HTTP, and straight to Kafka for comparison.
    #[arg(long, default_value_t = 500_000)]
    http_reads: usize,
    /// Reads per HTTP request.
    #[arg(long, default_value_t = 100)]
    http_batch: usize,
    /// HTTP requests in flight at once. The default keeps 6,400 reads in flight, fewer than the
    /// 16,000 of the direct-produce reference, and kept both cores of the benchmark machine busy.
    #[arg(long, default_value_t = 64)]
    http_concurrency: usize,
    /// Seconds of the latency phase.
    #[arg(long, default_value_t = 30)]
    latency_seconds: u64,
    /// The matcher's commit interval in milliseconds.
    #[arg(long, default_value_t = 100)]
    commit_interval_ms: u64,
    /// Reads per second of the latency phase. Without it, the phase runs at half the slower of
    /// the exactly-once matcher and the direct produce. Set it to compare two builds at one load.
    #[arg(long)]
    latency_rate: Option<f64>,
    /// Folder for this run's configuration, state and component logs; a new temporary folder
    /// when not given.
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// File the report is written to, as JSON.
    #[arg(long, default_value = "pipeline-bench.json")]
    json: PathBuf,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Leave the run's topics (prefix `bench-<run id>.`) on the broker. Without this flag a
    /// complete run deletes them, and a failed run always leaves them for inspection.
    #[arg(long)]
    keep_topics: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    alpr_platform::telemetry::init_tracing(alpr_platform::telemetry::LogFormat::Text, "info");
    let args = Args::parse();
    let temporary = tempfile::tempdir()?;
    let options = BenchOptions {
        alpr: args.alpr,
        bootstrap_servers: args.kafka,
        reads: args.reads,
        hotlist_entries: args.hotlist_entries,
        http_reads: args.http_reads,
        http_batch: args.http_batch,
        http_concurrency: args.http_concurrency,
        latency_seconds: args.latency_seconds,
        commit_interval_ms: args.commit_interval_ms,
        latency_rate: args.latency_rate,
        work_dir: args
            .work_dir
            .unwrap_or_else(|| temporary.path().to_path_buf()),
        seed: args.seed,
        keep_topics: args.keep_topics,
    };
    let report = run(&options).await?;
    println!("{}", report.to_markdown());
    std::fs::write(&args.json, serde_json::to_string_pretty(&report)?)?;
    println!("report written to {}", args.json.display());
    Ok(())
}
