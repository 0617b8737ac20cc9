//! `alpr demo`, `alpr replay` and `alpr hotlist import`: the commands that feed the pipeline.
//!
//! The demo runs ingest and the matcher in this process against a fresh set of topics (a new
//! topic prefix per run, so earlier runs never show up), imports a hotlist, feeds traffic over
//! real HTTP, prints alerts as the alert topic delivers them, and ends with a summary.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;

use alpr_hotlist::{FileFormat, ImportOptions};
use alpr_ingest::{CameraToken, IngestSettings};
use alpr_platform::{KafkaSettings, Readiness, ShutdownToken};
use alpr_replay::{
    HttpSink, HttpSinkConfig, KafkaSink, KafkaSinkConfig, ReplayOptions, ReplaySource,
};
use alpr_schemas::{decode, Alert};

use crate::app_config::AppConfig;
use crate::generator::TrafficGenerator;
use crate::local_kafka::{broker_answers, start_local_broker};

const DEMO_TOKEN: &str = "demo-token";
const DEMO_ORGANISATION: &str = "demo-pd";
const DEMO_LIST: &str = "DEMO-STOLEN";
/// Alerts printed in full; later ones are only counted, so a long run does not flood the
/// terminal.
const PRINTED_ALERTS: usize = 25;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The list file: `.csv` with a header, or NCIC-style fixed width (`.txt`, `.dat`, `.ncic`).
    pub file: PathBuf,
    /// Name of the list this file replaces, such as NCIC or WA-STATE.
    #[arg(long)]
    pub list: String,
    /// Agency that owns the entries and receives their alerts; NCIC files default to each
    /// record's ORI.
    #[arg(long)]
    pub agency: Option<String>,
    /// File format, when the extension does not tell.
    #[arg(long, value_parser = ["csv", "ncic"])]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The Seattle `spd-alpr-pub.csv.gz` export, or a CSV with the header
    /// `captured_at,camera_id,plate,state,lat,lon`.
    pub file: PathBuf,
    /// Base URL of ingest.
    #[arg(long, default_value = alpr_replay::sink::DEFAULT_BASE_URL)]
    pub url: String,
    /// Bearer token for ingest.
    #[arg(long, env = "ALPR_REPLAY_TOKEN", default_value = "")]
    pub token: String,
    /// Produce straight to the reads topic, validated as ingest would, instead of over HTTP.
    #[arg(long)]
    pub direct: bool,
    /// Organisation of the reads when producing straight to Kafka.
    #[arg(long, default_value = "replay")]
    pub organisation: String,
    /// Multiple of real time, such as 60 for a minute of reads per second; default as fast as
    /// possible.
    #[arg(long)]
    pub speed: Option<f64>,
    /// Replay only the first N rows.
    #[arg(long)]
    pub limit: Option<usize>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Replay this file instead of generating traffic.
    #[arg(long)]
    pub replay: Option<PathBuf>,
    /// Generated reads per second.
    #[arg(long, default_value_t = 500)]
    pub rate: u32,
    /// Seconds of generated traffic.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Seed of the traffic generator; the same seed gives the same plates.
    #[arg(long, default_value_t = 2021)]
    pub seed: u64,
    /// Replay only the first N rows of `--replay`.
    #[arg(long)]
    pub limit: Option<usize>,
}

/// `alpr hotlist import`.
pub async fn import_hotlist(config: &AppConfig, args: ImportArgs) -> anyhow::Result<()> {
    let mut options = ImportOptions::new(args.list);
    options.agency_id = args.agency;
    options.format = match args.format.as_deref() {
        Some("csv") => Some(FileFormat::Csv),
        Some("ncic") => Some(FileFormat::Ncic),
        _ => None,
    };
    let summary = alpr_hotlist::import_file(&config.kafka, &args.file, &options).await?;
    println!("{summary}");
    Ok(())
}

/// `alpr replay`.
pub async fn replay_file(
    config: &AppConfig,
    args: ReplayArgs,
    shutdown: ShutdownToken,
) -> anyhow::Result<()> {
    let summary = run_replay(config, args, shutdown).await?;
    println!("{summary}");
    print_problem_lines(&summary);
    Ok(())
}

/// Lines listed after a replay's summary; the rest are counted.
const LISTED_PROBLEM_LINES: usize = 20;

fn print_problem_lines(summary: &alpr_replay::ReplaySummary) {
    for problem in summary.problems.iter().take(LISTED_PROBLEM_LINES) {
        println!(
            "  line {}: {:?}: {}",
            problem.line, problem.kind, problem.message
        );
    }
    let unlisted = summary.problems.len().saturating_sub(LISTED_PROBLEM_LINES) as u64
        + summary.problems_not_kept;
    if unlisted > 0 {
        println!("  … and {unlisted} more lines with problems");
    }
}

async fn run_replay(
    config: &AppConfig,
    args: ReplayArgs,
    shutdown: ShutdownToken,
) -> anyhow::Result<alpr_replay::ReplaySummary> {
    let source = ReplaySource::open(&args.file, None)?;
    let options = ReplayOptions {
        speed: args.speed,
        limit: args.limit,
        sort_by_capture_time: args.speed.is_some(),
    };
    let summary = if args.direct {
        alpr_platform::ensure_topics(&config.kafka).await?;
        let mut sink =
            KafkaSink::connect(&config.kafka, KafkaSinkConfig::new(args.organisation)).await?;
        tokio::select! {
            result = alpr_replay::replay(source, &mut sink, &options) => result?,
            _ = shutdown.cancelled() => anyhow::bail!("replay interrupted"),
        }
    } else {
        anyhow::ensure!(
            !args.token.is_empty(),
            "--token (or ALPR_REPLAY_TOKEN) is required to send through ingest"
        );
        let mut sink = HttpSink::new(HttpSinkConfig::new(args.url, args.token))?;
        tokio::select! {
            result = alpr_replay::replay(source, &mut sink, &options) => result?,
            _ = shutdown.cancelled() => anyhow::bail!("replay interrupted"),
        }
    };
    Ok(summary)
}

/// Alerts seen by the demo's alert printer.
#[derive(Default)]
struct AlertTally {
    count: usize,
    capture_to_alert_ms: Vec<f64>,
    receive_to_alert_ms: Vec<f64>,
}

/// `alpr demo`.
pub async fn run_demo(
    mut config: AppConfig,
    args: DemoArgs,
    shutdown: ShutdownToken,
) -> anyhow::Result<()> {
    if !broker_answers(&config.kafka).await {
        let local = ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .any(|host| config.kafka.bootstrap_servers.starts_with(host));
        anyhow::ensure!(
            local,
            "no Kafka broker answers at {}",
            config.kafka.bootstrap_servers
        );
        tokio::task::spawn_blocking(start_local_broker).await??;
    }
    let run_id = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    config.kafka.topic_prefix = format!("{}demo-{run_id}.", config.kafka.topic_prefix);
    let state = tempfile::tempdir().context("creating the matcher's state folder")?;
    config.matcher.state_dir = state.path().join("matcher");
    alpr_platform::ensure_topics(&config.kafka).await?;
    println!("demo topics: {}alpr.*", config.kafka.topic_prefix);

    let mut generator = TrafficGenerator::new(args.seed, 50_000);
    let hotlist_file = state.path().join("hotlist.csv");
    let hot_plates = match &args.replay {
        Some(file) => write_hotlist_from_file(file, &hotlist_file)?,
        None => write_generated_hotlist(&generator, &hotlist_file)?,
    };
    let mut options = ImportOptions::new(DEMO_LIST);
    options.agency_id = Some(DEMO_ORGANISATION.into());
    let imported = alpr_hotlist::import_file(&config.kafka, &hotlist_file, &options).await?;
    println!("{imported}");

    let components = start_demo_components(&config, shutdown.clone()).await?;
    let tally = Arc::new(Mutex::new(AlertTally::default()));
    let printer = tokio::spawn(print_alerts(
        config.kafka.clone(),
        tally.clone(),
        shutdown.clone(),
    ));
    components.wait_until_ready(&shutdown).await?;

    let started = Instant::now();
    let (accepted, expected_alerts) = match &args.replay {
        Some(file) => {
            let source = ReplaySource::open(file, None)?;
            let options = ReplayOptions {
                limit: args.limit,
                ..ReplayOptions::default()
            };
            let mut sink = HttpSink::new(HttpSinkConfig::new(components.ingest_url(), DEMO_TOKEN))?;
            let summary = alpr_replay::replay(source, &mut sink, &options).await?;
            println!("{summary}");
            print_problem_lines(&summary);
            (summary.accepted as usize, None)
        }
        None => {
            let window = Duration::from_secs(config.matcher.suppression_window_seconds);
            let feed = GeneratedFeed {
                ingest_url: components.ingest_url(),
                suppression_window: chrono::Duration::from_std(window)?,
            };
            feed_generated(&mut generator, &feed, &args, &shutdown).await?
        }
    };
    let feed_seconds = started.elapsed().as_secs_f64();

    // Give the matcher time to catch up with the last reads.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last = usize::MAX;
    while Instant::now() < deadline && !shutdown.is_cancelled() {
        let now = tally.lock().map(|tally| tally.count).unwrap_or(0);
        if expected_alerts.is_some_and(|expected| now >= expected)
            || (expected_alerts.is_none() && now == last)
        {
            break;
        }
        last = now;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    shutdown.cancel();
    components.stop().await?;
    let _ = printer.await;

    let tally = tally
        .lock()
        .map_err(|_| anyhow::anyhow!("alert tally poisoned"))?;
    print_summary(accepted, &tally, feed_seconds, expected_alerts, hot_plates);
    Ok(())
}

fn write_generated_hotlist(
    generator: &TrafficGenerator,
    path: &std::path::Path,
) -> anyhow::Result<usize> {
    let mut text = String::from("plate,state,reason,priority\n");
    let hotlist = generator.hotlist();
    for hot in &hotlist {
        let state = hot.region.trim_start_matches("US-");
        text.push_str(&format!("{},{state},stolen vehicle,1\n", hot.plate));
    }
    std::fs::write(path, text)?;
    Ok(hotlist.len())
}

/// Picks about one plate in 200 of a replay file, by a hash of the plate, as its hotlist.
fn write_hotlist_from_file(
    file: &std::path::Path,
    path: &std::path::Path,
) -> anyhow::Result<usize> {
    let mut plates = HashSet::new();
    for (_, row) in ReplaySource::open(file, None)? {
        let Ok(submission) = row else { continue };
        let text = submission
            .plate
            .and_then(|plate| plate.text)
            .unwrap_or_default();
        if !text.is_empty()
            && alpr_platform::partition::murmur2(text.as_bytes()).rem_euclid(200) == 0
        {
            plates.insert(text);
        }
    }
    let mut text = String::from("plate,state,reason,priority\n");
    for plate in &plates {
        text.push_str(&format!("{plate},,stolen vehicle,1\n"));
    }
    std::fs::write(path, text)?;
    Ok(plates.len())
}

struct DemoComponents {
    ingest_address: std::net::SocketAddr,
    readiness: Readiness,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl DemoComponents {
    fn ingest_url(&self) -> String {
        format!("http://{}", self.ingest_address)
    }

    async fn wait_until_ready(&self, shutdown: &ShutdownToken) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !self.readiness.is_ready() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the matcher did not load the hotlist within 120 s"
            );
            anyhow::ensure!(!shutdown.is_cancelled(), "interrupted while starting");
            anyhow::ensure!(
                self.tasks.iter().all(|task| !task.is_finished()),
                "a component stopped while starting"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    async fn stop(self) -> anyhow::Result<()> {
        for task in self.tasks {
            task.await??;
        }
        Ok(())
    }
}

async fn start_demo_components(
    config: &AppConfig,
    shutdown: ShutdownToken,
) -> anyhow::Result<DemoComponents> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let ingest_address = listener.local_addr()?;
    let ingest_settings = IngestSettings {
        tokens: vec![CameraToken {
            token: DEMO_TOKEN.into(),
            organisation: DEMO_ORGANISATION.into(),
            cameras: vec!["*".into()],
        }],
        consume_raw_topic: false,
        ..config.ingest.clone()
    };
    let readiness = Readiness::default();
    let admin_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!(
        "ingest on http://{ingest_address}, metrics on http://{}/metrics",
        admin_listener.local_addr()?
    );

    let mut tasks = Vec::new();
    let (kafka, stop) = (config.kafka.clone(), shutdown.clone());
    // The demo's synthetic reads carry no images, so it needs no image store.
    tasks.push(tokio::spawn(async move {
        alpr_ingest::run(
            ingest_settings,
            kafka,
            listener,
            alpr_platform::system_clock(),
            None,
            stop,
        )
        .await
        .context("ingest")
    }));
    let (settings, kafka, stop, ready) = (
        config.matcher.clone(),
        config.kafka.clone(),
        shutdown.clone(),
        readiness.clone(),
    );
    tasks.push(tokio::spawn(async move {
        alpr_matcher::run(settings, kafka, alpr_platform::system_clock(), ready, stop)
            .await
            .context("matcher")
    }));
    let (ready, stop) = (readiness.clone(), shutdown.clone());
    tasks.push(tokio::spawn(async move {
        alpr_platform::serve_admin(admin_listener, ready, stop)
            .await
            .context("admin server")
    }));
    Ok(DemoComponents {
        ingest_address,
        readiness,
        tasks,
    })
}

/// Destination of generated reads, and the matcher's suppression window.
struct GeneratedFeed {
    ingest_url: String,
    suppression_window: chrono::Duration,
}

/// Sends generated reads over HTTP at `args.rate` for `args.duration` seconds, in one batch
/// every 100 ms. Returns the accepted reads and the alerts they should raise: one per hit,
/// except a hit of a plate that already alerted at the same camera within the suppression
/// window.
async fn feed_generated(
    generator: &mut TrafficGenerator,
    feed: &GeneratedFeed,
    args: &DemoArgs,
    shutdown: &ShutdownToken,
) -> anyhow::Result<(usize, Option<usize>)> {
    let client = reqwest::Client::new();
    let url = format!("{}/v1/reads", feed.ingest_url);
    let mut last_alerted: HashMap<(String, String), chrono::DateTime<chrono::Utc>> = HashMap::new();
    let per_tick = (args.rate as usize / 10).max(1);
    let ticks = args.duration * 10;
    let mut interval = tokio::time::interval(Duration::from_millis(100));
    let (mut accepted, mut expected) = (0usize, 0usize);
    println!(
        "feeding {} reads/s for {} s from {} cameras",
        args.rate, args.duration, 24
    );
    for _ in 0..ticks {
        tokio::select! {
            _ = interval.tick() => {}
            _ = shutdown.cancelled() => break,
        }
        let now = chrono::Utc::now();
        let reads: Vec<_> = (0..per_tick).map(|_| generator.next_read(now)).collect();
        let body: String = reads
            .iter()
            .map(|read| serde_json::to_string(read).map(|line| line + "\n"))
            .collect::<Result<_, _>>()?;
        let (status, answer) = post_ndjson(&client, &url, DEMO_TOKEN, body).await?;
        anyhow::ensure!(status.is_success(), "ingest responded {status}: {answer}");
        let rejected_lines: HashSet<u64> = answer["rejected"]
            .as_array()
            .map(|lines| {
                lines
                    .iter()
                    .filter_map(|line| line["line"].as_u64())
                    .collect()
            })
            .unwrap_or_default();
        for (index, read) in reads.iter().enumerate() {
            if !rejected_lines.contains(&(index as u64 + 1)) {
                accepted += 1;
                if generator.is_hit(read) {
                    let key = (
                        read.plate
                            .as_ref()
                            .and_then(|plate| plate.text.clone())
                            .unwrap_or_default(),
                        read.camera_id.clone().unwrap_or_default(),
                    );
                    let repeat = last_alerted
                        .get(&key)
                        .is_some_and(|&last| now - last < feed.suppression_window);
                    if !repeat {
                        last_alerted.insert(key, now);
                        expected += 1;
                    }
                }
            }
        }
    }
    Ok((accepted, Some(expected)))
}

/// Prints alerts from the alert topic until shutdown, and records their latencies.
/// Posts an NDJSON batch of reads to ingest with a camera token, and returns the response's
/// status and JSON body.
pub async fn post_ndjson(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: String,
) -> anyhow::Result<(reqwest::StatusCode, serde_json::Value)> {
    let response = client
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await?;
    let status = response.status();
    let answer = response.json().await?;
    Ok((status, answer))
}

async fn print_alerts(
    kafka: KafkaSettings,
    tally: Arc<Mutex<AlertTally>>,
    shutdown: ShutdownToken,
) -> anyhow::Result<()> {
    let consumer: StreamConsumer = kafka
        .client_config()
        .set(
            "group.id",
            format!("{}demo-alert-printer", kafka.topic_prefix),
        )
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .create()?;
    consumer.subscribe(&[&kafka.topics().alerts])?;
    loop {
        let message = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            message = consumer.recv() => message?,
        };
        let Some(payload) = message.payload() else {
            continue;
        };
        let alert: Alert = match decode(payload) {
            Ok(alert) => alert,
            Err(error) => {
                eprintln!("undecodable alert: {error}");
                continue;
            }
        };
        let now = chrono::Utc::now().timestamp_micros();
        let mut tally = tally
            .lock()
            .map_err(|_| anyhow::anyhow!("alert tally poisoned"))?;
        tally.count += 1;
        tally
            .capture_to_alert_ms
            .push((now - alert.read.captured_at) as f64 / 1000.0);
        tally
            .receive_to_alert_ms
            .push((now - alert.read.received_at) as f64 / 1000.0);
        if tally.count <= PRINTED_ALERTS {
            let captured = alpr_schemas::from_micros(alert.read.captured_at);
            println!(
                "ALERT {} plate {} ({}) at camera {} {} — {} on {} priority {}",
                captured.format("%Y-%m-%d %H:%M:%S%.3fZ"),
                alert.read.plate.normalised,
                alert
                    .read
                    .plate
                    .region
                    .as_deref()
                    .unwrap_or("region unknown"),
                alert.read.camera_id,
                alert
                    .read
                    .location
                    .as_ref()
                    .map(|at| format!("({:.4}, {:.4})", at.latitude, at.longitude))
                    .unwrap_or_default(),
                alert.entry.reason,
                alert.entry.list,
                alert.entry.priority,
            );
        } else if tally.count == PRINTED_ALERTS + 1 {
            println!("… further alerts are counted, not printed");
        }
    }
}

/// Returns the `quantile` (0 to 1) of `samples` by the nearest-rank method.
fn percentile(samples: &[f64], quantile: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((quantile * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

fn print_summary(
    accepted: usize,
    tally: &AlertTally,
    feed_seconds: f64,
    expected: Option<usize>,
    hot_plates: usize,
) {
    let describe = |samples: &[f64]| match (percentile(samples, 0.5), percentile(samples, 0.99)) {
        (Some(p50), Some(p99)) => format!("p50 {p50:.1} ms, p99 {p99:.1} ms"),
        _ => "no alerts".to_string(),
    };
    println!();
    println!("summary");
    println!(
        "  reads in:      {accepted} ({:.0} reads/s over {feed_seconds:.1} s)",
        accepted as f64 / feed_seconds.max(0.001)
    );
    match expected {
        Some(expected) => println!(
            "  alerts out:    {} (expected {expected}, hotlist of {hot_plates} plates)",
            tally.count
        ),
        None => println!(
            "  alerts out:    {} (hotlist of {hot_plates} plates)",
            tally.count
        ),
    }
    // Replayed reads were captured years ago, so only generated traffic has a meaningful
    // capture-to-alert time.
    if expected.is_some() {
        println!("  capture→alert: {}", describe(&tally.capture_to_alert_ms));
    } else {
        println!("  capture→alert: not shown, the replayed reads were captured long ago");
    }
    println!("  ingest→alert:  {}", describe(&tally.receive_to_alert_ms));
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentile_uses_nearest_rank() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&samples, 0.5), Some(50.0));
        assert_eq!(percentile(&samples, 0.99), Some(99.0));
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[7.0], 0.99), Some(7.0));
    }
}
