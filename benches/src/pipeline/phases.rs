//! The phases of one benchmark run, in the order they run. Each returns its figures; the
//! caller puts them in the report.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use alpr::app_config::AppConfig;
use alpr::demo::post_ndjson;
use alpr_ingest::{CameraToken, IngestSettings, PublisherLimits, ReadPublisher};
use alpr_matcher::{Delivery, MatcherSettings};
use alpr_platform::kafka::watermarks;
use alpr_platform::{KafkaSettings, ShutdownToken};
use alpr_schemas::{decode, Alert, CameraRead};

use super::cpu::{CpuSample, CpuUse};
use super::process::{folder_bytes, free_local_address, ComponentProcess};
use super::workload::{ndjson_bodies, Traffic, LIST, ORGANISATION};
use super::BenchOptions;

/// Reads published at once by the direct producer; several such chunks are in flight.
const PUBLISH_CHUNK: usize = 1_000;
const PUBLISH_CHUNKS_IN_FLIGHT: usize = 16;
/// How long a component may take to start, the hotlist load included.
const START_TIMEOUT: Duration = Duration::from_secs(600);
/// How long draining the reads may take before the run is given up.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(900);

/// Throughput of one pass over a number of records.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Throughput {
    pub records: usize,
    pub seconds: f64,
    pub per_second: f64,
}

impl Throughput {
    pub fn new(records: usize, elapsed: Duration) -> Self {
        Self::from_seconds(records, elapsed.as_secs_f64())
    }

    fn from_seconds(records: usize, seconds: f64) -> Self {
        Self {
            records,
            seconds,
            per_second: records as f64 / seconds.max(1e-9),
        }
    }

    /// Returns the throughput of this run and `other` together, as if one followed the other.
    pub fn plus(&self, other: &Throughput) -> Self {
        Self::from_seconds(self.records + other.records, self.seconds + other.seconds)
    }
}

/// Configuration shared by every component process of a run.
pub fn base_config(kafka: &KafkaSettings) -> anyhow::Result<AppConfig> {
    let mut config = AppConfig {
        kafka: kafka.clone(),
        ..AppConfig::default()
    };
    config.admin.listen = free_local_address()?;
    config.log.format = alpr::app_config::LogFormat::Json;
    Ok(config)
}

/// Matcher settings of the runs: alerts are not suppressed, so every matching read alerts and
/// the alert count checks the matcher's work.
pub fn matcher_config(
    kafka: &KafkaSettings,
    options: &BenchOptions,
    state_dir: &Path,
    delivery: Delivery,
) -> anyhow::Result<AppConfig> {
    let mut config = base_config(kafka)?;
    let group = match delivery {
        Delivery::ExactlyOnce => "bench-matcher-eos",
        Delivery::AtLeastOnce => "bench-matcher-alo",
    };
    config.matcher = MatcherSettings {
        state_dir: state_dir.to_path_buf(),
        group_id: group.into(),
        instance_id: format!("{group}-0"),
        commit_interval_ms: options.commit_interval_ms,
        suppression_window_seconds: 0,
        hotlist_load_timeout_seconds: START_TIMEOUT.as_secs(),
        delivery,
        ..MatcherSettings::default()
    };
    Ok(config)
}

/// Figures of the hotlist phase.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HotlistFigures {
    pub entries: usize,
    pub import_seconds: f64,
    /// From the matcher's start on an empty state folder until it is ready.
    pub load_seconds: f64,
    /// Peak resident set size of the matcher after the load.
    pub load_peak_rss_bytes: u64,
}

/// Writes the hotlist file, imports it with `alpr hotlist import`, and starts a matcher on an
/// empty state folder to time how long it takes to load the list.
pub async fn load_hotlist(
    options: &BenchOptions,
    kafka: &KafkaSettings,
    traffic: &Traffic,
    state_dir: &Path,
) -> anyhow::Result<HotlistFigures> {
    let list_path = options.work_dir.join("hotlist.csv");
    let entries = traffic.write_hotlist(&list_path, options.hotlist_entries)?;
    let started = Instant::now();
    let status = std::process::Command::new(&options.alpr)
        .args(["--kafka", &kafka.bootstrap_servers])
        .args(["--topic-prefix", &kafka.topic_prefix])
        .args([
            "hotlist",
            "import",
            "--list",
            LIST,
            "--agency",
            ORGANISATION,
        ])
        .arg(&list_path)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(options.work_dir.join("import.log"))?)
        .status()?;
    if !status.success() {
        bail!("hotlist import failed with {status}; see import.log");
    }
    let import_seconds = started.elapsed().as_secs_f64();

    let config = matcher_config(kafka, options, state_dir, Delivery::ExactlyOnce)?;
    let mut matcher = ComponentProcess::start(
        &options.alpr,
        &options.work_dir,
        "matcher-load",
        &config,
        &["matcher"],
    )?;
    let load = matcher.wait_ready(START_TIMEOUT).await?;
    let load_peak_rss_bytes = matcher.stop()?;
    Ok(HotlistFigures {
        entries,
        import_seconds,
        load_seconds: load.as_secs_f64(),
        load_peak_rss_bytes,
    })
}

/// Publishes reads straight to the reads topic with ingest's producer settings, several chunks
/// in flight, and returns the rate from the first send to the last acknowledgement.
pub async fn publish_direct(
    kafka: &KafkaSettings,
    reads: &[CameraRead],
) -> anyhow::Result<Throughput> {
    let publisher = ReadPublisher::connect(kafka, PublisherLimits::default()).await?;
    let count = reads.len();
    let chunks: Vec<Vec<CameraRead>> = reads
        .chunks(PUBLISH_CHUNK)
        .map(<[CameraRead]>::to_vec)
        .collect();
    let started = Instant::now();
    let mut results = futures::stream::iter(chunks)
        .map(|chunk| {
            let publisher = publisher.clone();
            async move { publisher.publish_all(&chunk).await }
        })
        .buffer_unordered(PUBLISH_CHUNKS_IN_FLIGHT);
    while let Some(chunk) = results.next().await {
        if let Some(Err(error)) = chunk.into_iter().find(Result::is_err) {
            bail!("publishing reads: {error}");
        }
    }
    Ok(Throughput::new(count, started.elapsed()))
}

/// Figures of the bare consumer's drain.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct BareFigures {
    pub throughput: Throughput,
    /// CPU time from the first record to the last. The process sampled is the harness, which
    /// runs the loop.
    pub cpu: CpuUse,
}

/// Drains the reads topic with a consumer loop that only counts, configured as the matcher's
/// consumer is, and returns its rate and CPU time from the first record to the last.
pub async fn drain_bare(kafka: &KafkaSettings, expected: usize) -> anyhow::Result<BareFigures> {
    let consumer: StreamConsumer = kafka
        .consumer_config()
        .set("group.id", format!("{}bench-bare", kafka.topic_prefix))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .create()?;
    consumer.subscribe(&[&kafka.topics().reads])?;
    let mut counted = 0;
    let mut bytes = 0_usize;
    let mut first = None;
    let harness = Some(std::process::id());
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while counted < expected {
        let message = tokio::time::timeout_at(deadline.into(), consumer.recv())
            .await
            .context("bare consumer timed out")??;
        if first.is_none() {
            first = Some((Instant::now(), CpuSample::now(harness)?));
        }
        bytes += message.payload().map_or(0, <[u8]>::len);
        counted += 1;
    }
    let end = CpuSample::now(harness)?;
    let (first, cpu_at_first) = match first {
        Some(first) => first,
        None => (Instant::now(), end),
    };
    tracing::debug!(bytes, "bare consumer drained the reads");
    Ok(BareFigures {
        throughput: Throughput::new(counted.saturating_sub(1), first.elapsed()),
        cpu: CpuUse::between(&cpu_at_first, &end)?,
    })
}

/// Figures of one matcher pass over the reads.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MatcherFigures {
    pub throughput: Throughput,
    /// CPU time from the first read to the last. The process sampled is the matcher.
    pub cpu: CpuUse,
    pub alerts: usize,
    pub expected_alerts: usize,
    /// From start until ready, with the hotlist already in the state folder.
    pub restart_seconds: f64,
    pub peak_rss_bytes: u64,
}

/// Runs a matcher with `delivery` over the `reads` reads on the topic and returns its rate from
/// its first read to its last, and the alerts it committed.
pub async fn run_matcher(
    options: &BenchOptions,
    kafka: &KafkaSettings,
    state_dir: &Path,
    delivery: Delivery,
    reads: usize,
    expected_alerts: usize,
) -> anyhow::Result<MatcherFigures> {
    let alerts_before = count_alerts(kafka).await?;
    let config = matcher_config(kafka, options, state_dir, delivery)?;
    let name = match delivery {
        Delivery::ExactlyOnce => "matcher-eos",
        Delivery::AtLeastOnce => "matcher-alo",
    };
    let mut matcher = ComponentProcess::start(
        &options.alpr,
        &options.work_dir,
        name,
        &config,
        &["matcher"],
    )?;
    let restart = matcher.wait_ready(START_TIMEOUT).await?;
    let first = matcher
        .wait_for_metric("alpr_matcher_reads_total", 1.0, DRAIN_TIMEOUT)
        .await?;
    let cpu_at_first = CpuSample::now(Some(matcher.pid()))?;
    let last = matcher
        .wait_for_metric("alpr_matcher_reads_total", reads as f64, DRAIN_TIMEOUT)
        .await?;
    let cpu = CpuUse::between(&cpu_at_first, &CpuSample::now(Some(matcher.pid()))?)?;
    let throughput = Throughput::new(reads.saturating_sub(1), last - first);
    // The last batch's alerts commit a moment after its reads are counted.
    let alerts =
        wait_for_alert_count(kafka, alerts_before + expected_alerts).await? - alerts_before;
    let peak_rss_bytes = matcher.stop()?;
    Ok(MatcherFigures {
        throughput,
        cpu,
        alerts,
        expected_alerts,
        restart_seconds: restart.as_secs_f64(),
        peak_rss_bytes,
    })
}

/// Returns the number of committed alerts, waiting up to 30 s for it to reach `at_least`.
async fn wait_for_alert_count(kafka: &KafkaSettings, at_least: usize) -> anyhow::Result<usize> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let count = count_alerts(kafka).await?;
        if count >= at_least || Instant::now() > deadline {
            return Ok(count);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Counts the committed records of the alert topic from its watermarks. Transaction markers
/// take offsets too, so this reads the records rather than subtracting offsets.
async fn count_alerts(kafka: &KafkaSettings) -> anyhow::Result<usize> {
    let kafka = kafka.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        let consumer: BaseConsumer = kafka
            .client_config()
            .set(
                "group.id",
                format!("{}bench-alert-count", kafka.topic_prefix),
            )
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed")
            .create()?;
        let topic = kafka.topics().alerts;
        let metadata = consumer.fetch_metadata(Some(&topic), Duration::from_secs(10))?;
        let mut assignment = TopicPartitionList::new();
        let mut ends = Vec::new();
        for partition in metadata
            .topics()
            .iter()
            .flat_map(|topic| topic.partitions())
        {
            let (_, high) = watermarks(consumer.client(), &topic, partition.id())?;
            ends.push((partition.id(), high));
            assignment.add_partition_offset(&topic, partition.id(), Offset::Beginning)?;
        }
        consumer.assign(&assignment)?;
        let mut count = 0;
        let mut done: std::collections::HashSet<i32> = ends
            .iter()
            .filter(|(_, high)| *high == 0)
            .map(|(partition, _)| *partition)
            .collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        while done.len() < ends.len() {
            if Instant::now() > deadline {
                bail!("counting alerts took over 60 s");
            }
            let Some(message) = consumer.poll(Duration::from_millis(200)) else {
                // Only transaction markers may remain before the end of a partition.
                for (partition, high) in &ends {
                    if let Ok(position) = consumer.position() {
                        if let Some(element) = position.find_partition(&topic, *partition) {
                            if matches!(element.offset(), Offset::Offset(at) if at >= *high) {
                                done.insert(*partition);
                            }
                        }
                    }
                }
                continue;
            };
            let message = message?;
            count += 1;
            let high = ends
                .iter()
                .find(|(partition, _)| *partition == message.partition())
                .map_or(0, |(_, high)| *high);
            if message.offset() + 1 >= high {
                done.insert(message.partition());
            }
        }
        Ok(count)
    })
    .await?
}

/// How long the latency phase sends reads before it starts measuring. A matcher reports ready
/// once its hotlist is loaded, but its reads consumer joins the group only then, and reads sent
/// while it joins waited about half a second for it in benchmark runs.
const LATENCY_WARM_UP: Duration = Duration::from_secs(3);

/// Reads the latency phase's producer may hold unacknowledged: several seconds of sending.
const LATENCY_QUEUE_MAX_MESSAGES: u32 = 2_000_000;

/// Figures of the latency phase.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LatencyFigures {
    pub target_reads_per_second: f64,
    /// Reads sent, those of the warm-up included.
    pub sent: usize,
    /// Alerts measured: those of reads captured after the warm-up.
    pub alerts: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// CPU time while latency was measured, after the warm-up. The process sampled is the
    /// matcher.
    pub cpu: CpuUse,
}

/// Reads of the latency phase: the reads of the fill phase in turn, each with a new id and
/// captured "now". Generating and validating every read as ingest does took the harness about
/// a fifth of the machine at 288,000 reads/s, and the matcher and the broker lacked that CPU
/// time. Copying a read costs a fraction of it. The plates, and so the share of reads that
/// match, are those of the fill phase.
struct ReplayedReads<'a> {
    reads: &'a [CameraRead],
    next: usize,
    /// Source of the new read ids. A UUID made with the uuid crate's own generator called
    /// into the kernel for randomness on every read, which showed in the harness's profile.
    /// Ids in sequence would not do either, because the retention worker's state compresses
    /// them far better than the random-looking ids that ingest derives, so the run would
    /// report fewer bytes per read than a deployment stores.
    ids: StdRng,
}

impl<'a> ReplayedReads<'a> {
    fn new(reads: &'a [CameraRead], seed: u64) -> anyhow::Result<Self> {
        if reads.is_empty() {
            bail!("the latency phase needs reads to replay");
        }
        Ok(Self {
            reads,
            next: 0,
            ids: StdRng::seed_from_u64(seed),
        })
    }

    fn next_read(&mut self, captured_at: i64) -> CameraRead {
        let mut read = self.reads[self.next % self.reads.len()].clone();
        self.next += 1;
        read.read_id = uuid::Builder::from_random_bytes(self.ids.random())
            .into_uuid()
            .to_string();
        read.captured_at = captured_at;
        read.received_at = captured_at;
        read
    }
}

/// Sends reads captured "now" at `rate` per second to an exactly-once matcher for the warm-up
/// and then the phase's duration, and measures from each alerting read's capture time to the
/// moment its alert is readable by a `read_committed` consumer. Alerts of reads captured
/// during the warm-up are not measured. The reads sent are copies of `fill_reads`.
pub async fn measure_latency(
    options: &BenchOptions,
    kafka: &KafkaSettings,
    state_dir: &Path,
    fill_reads: &[CameraRead],
    rate: f64,
) -> anyhow::Result<LatencyFigures> {
    let mut replayed = ReplayedReads::new(fill_reads, options.seed)?;
    let config = matcher_config(kafka, options, state_dir, Delivery::ExactlyOnce)?;
    let mut matcher = ComponentProcess::start(
        &options.alpr,
        &options.work_dir,
        "matcher-latency",
        &config,
        &["matcher"],
    )?;
    matcher.wait_ready(START_TIMEOUT).await?;

    let alerts = alerts_from_now(kafka)?;
    let stop_collecting = ShutdownToken::new();
    let measured_from = chrono::Utc::now() + LATENCY_WARM_UP;
    let collector = tokio::spawn(collect_latencies(
        alerts,
        measured_from.timestamp_micros(),
        stop_collecting.clone(),
    ));
    // Near the machine's limit the broker falls behind for moments, and ingest's queue of
    // 100,000 records filled in such a moment and failed the run.
    let limits = PublisherLimits {
        queue_max_messages: LATENCY_QUEUE_MAX_MESSAGES,
        ..PublisherLimits::default()
    };
    let publisher = ReadPublisher::connect(kafka, limits).await?;
    let tick = Duration::from_millis(5);
    let per_tick = rate * tick.as_secs_f64();
    let mut ticks = tokio::time::interval(tick);
    let measuring_from = Instant::now() + LATENCY_WARM_UP;
    let phase_end = measuring_from + Duration::from_secs(options.latency_seconds);
    let mut due = 0.0;
    let mut sent = 0;
    let mut in_flight = Vec::new();
    let mut cpu_from = None;
    while Instant::now() < phase_end {
        ticks.tick().await;
        if cpu_from.is_none() && Instant::now() >= measuring_from {
            cpu_from = Some(CpuSample::now(Some(matcher.pid()))?);
        }
        due += per_tick;
        let mut batch = Vec::new();
        let now = chrono::Utc::now().timestamp_micros();
        while due >= 1.0 {
            batch.push(replayed.next_read(now));
            due -= 1.0;
        }
        sent += batch.len();
        let publisher = publisher.clone();
        in_flight.push(tokio::spawn(
            async move { publisher.publish_all(&batch).await },
        ));
    }
    let cpu_to = CpuSample::now(Some(matcher.pid()))?;
    let cpu = CpuUse::between(&cpu_from.unwrap_or(cpu_to), &cpu_to)?;
    for published in in_flight {
        if let Some(Err(error)) = published.await?.into_iter().find(Result::is_err) {
            bail!("publishing reads: {error}");
        }
    }
    // Alerts of the last reads commit within one interval; wait well past it.
    tokio::time::sleep(Duration::from_millis(
        options.commit_interval_ms * 10 + 2_000,
    ))
    .await;
    stop_collecting.cancel();
    let mut latencies = collector.await??;
    matcher.stop()?;
    if latencies.is_empty() {
        bail!("no alert arrived during the latency phase");
    }
    latencies.sort_unstable();
    let quantile = |q: f64| {
        let index = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[index] as f64 / 1000.0
    };
    Ok(LatencyFigures {
        target_reads_per_second: rate,
        sent,
        alerts: latencies.len(),
        p50_ms: quantile(0.50),
        p99_ms: quantile(0.99),
        p999_ms: quantile(0.999),
        max_ms: quantile(1.0),
        cpu,
    })
}

/// Creates a `read_committed` consumer of the alert topic, positioned at its current end.
fn alerts_from_now(kafka: &KafkaSettings) -> anyhow::Result<StreamConsumer> {
    let consumer: StreamConsumer = kafka
        .client_config()
        .set("group.id", format!("{}bench-latency", kafka.topic_prefix))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("fetch.wait.max.ms", "5")
        .create()?;
    let topic = kafka.topics().alerts;
    let metadata = consumer.fetch_metadata(Some(&topic), Duration::from_secs(10))?;
    let mut assignment = TopicPartitionList::new();
    for partition in metadata
        .topics()
        .iter()
        .flat_map(|topic| topic.partitions())
    {
        assignment.add_partition_offset(&topic, partition.id(), Offset::End)?;
    }
    consumer.assign(&assignment)?;
    Ok(consumer)
}

/// Returns the time from capture to arrival, in microseconds, of each alert that arrives
/// until `stop` and whose read was captured at or after `captured_from` (microseconds since
/// the epoch).
async fn collect_latencies(
    consumer: StreamConsumer,
    captured_from: i64,
    stop: ShutdownToken,
) -> anyhow::Result<Vec<i64>> {
    let mut latencies = Vec::new();
    loop {
        let message = tokio::select! {
            _ = stop.cancelled() => return Ok(latencies),
            message = consumer.recv() => message?,
        };
        let received = chrono::Utc::now().timestamp_micros();
        let Some(payload) = message.payload() else {
            continue;
        };
        let alert: Alert = decode(payload)?;
        if alert.read.captured_at >= captured_from {
            latencies.push(received - alert.read.captured_at);
        }
    }
}

/// Figures of the ingest phase.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IngestFigures {
    pub direct: Throughput,
    pub http: Throughput,
    pub batch: usize,
    pub concurrency: usize,
    pub peak_rss_bytes: u64,
}

/// Rounds of the ingest phase. Direct produce and HTTP take turns, so a slow moment of the
/// shared machine is less likely to fall on one of them alone.
const INGEST_ROUNDS: usize = 2;

/// Publishes reads straight to Kafka and sends as many to an `alpr ingest` process over HTTP in
/// NDJSON batches, in alternating rounds, on topics of their own so the matcher figures are not
/// disturbed.
pub async fn measure_ingest(
    options: &BenchOptions,
    kafka: &KafkaSettings,
    traffic: &mut Traffic,
) -> anyhow::Result<IngestFigures> {
    let kafka = KafkaSettings {
        topic_prefix: format!("{}ingest.", kafka.topic_prefix),
        ..kafka.clone()
    };
    alpr_platform::ensure_topics(&kafka).await?;

    let token = "bench-camera-token";
    let mut config = base_config(&kafka)?;
    config.ingest = IngestSettings {
        listen: free_local_address()?,
        consume_raw_topic: false,
        tokens: vec![CameraToken {
            token: token.into(),
            organisation: ORGANISATION.into(),
            cameras: vec!["*".into()],
        }],
        ..IngestSettings::default()
    };
    config.images.location = options.work_dir.join("images").display().to_string();
    let url = format!("http://{}/v1/reads", config.ingest.listen);
    let mut ingest = ComponentProcess::start(
        &options.alpr,
        &options.work_dir,
        "ingest",
        &config,
        &["ingest"],
    )?;
    ingest.wait_ready(START_TIMEOUT).await?;

    let client = reqwest::Client::new();
    let mut direct = Throughput::new(0, Duration::ZERO);
    let mut http = Throughput::new(0, Duration::ZERO);
    for round in 0..INGEST_ROUNDS {
        // The last round takes what the division leaves.
        let reads = if round + 1 == INGEST_ROUNDS {
            options.http_reads - options.http_reads / INGEST_ROUNDS * round
        } else {
            options.http_reads / INGEST_ROUNDS
        };
        let (direct_reads, _) = traffic.reads(reads)?;
        direct = direct.plus(&publish_direct(&kafka, &direct_reads).await?);
        let bodies = ndjson_bodies(traffic, reads, options.http_batch)?;
        let sent = send_over_http(&client, &url, token, bodies, options.http_concurrency).await?;
        if sent.records != reads {
            bail!("ingest accepted {} of {reads} reads", sent.records);
        }
        http = http.plus(&sent);
    }
    let peak_rss_bytes = ingest.stop()?;
    Ok(IngestFigures {
        direct,
        http,
        batch: options.http_batch,
        concurrency: options.http_concurrency,
        peak_rss_bytes,
    })
}

/// Posts NDJSON bodies to ingest, `concurrency` requests at a time, and returns the reads it
/// accepted and how long that took. A response other than 202 fails the run.
async fn send_over_http(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    bodies: Vec<String>,
    concurrency: usize,
) -> anyhow::Result<Throughput> {
    let started = Instant::now();
    let mut responses = futures::stream::iter(bodies)
        .map(|body| post_ndjson(client, url, token, body))
        .buffer_unordered(concurrency);
    let mut accepted = 0;
    while let Some(response) = responses.next().await {
        let (status, answer) = response?;
        if status != reqwest::StatusCode::ACCEPTED {
            bail!("ingest responded {status}: {answer}");
        }
        accepted += answer["accepted"].as_u64().unwrap_or(0) as usize;
    }
    Ok(Throughput::new(accepted, started.elapsed()))
}

/// Figures of the retention phase.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RetentionFigures {
    pub tracked_reads: usize,
    /// From start until the worker has indexed every read on the topic.
    pub catch_up_seconds: f64,
    pub state_bytes: u64,
    pub bytes_per_read: f64,
    pub peak_rss_bytes: u64,
}

/// Starts a retention worker over the run's reads, waits until it is ready (it indexes every
/// read first), stops it and measures its state folder.
pub async fn measure_retention(
    options: &BenchOptions,
    kafka: &KafkaSettings,
    tracked_reads: usize,
) -> anyhow::Result<RetentionFigures> {
    let state_dir = options.work_dir.join("retention");
    let mut config = base_config(kafka)?;
    config.retention.state_dir = state_dir.clone();
    config.retention.purge_log = options.work_dir.join("purge-log.jsonl");
    config.retention.listen = free_local_address()?;
    config.retention.catch_up_timeout_seconds = DRAIN_TIMEOUT.as_secs();
    config.images.location = options.work_dir.join("images").display().to_string();
    let mut worker = ComponentProcess::start(
        &options.alpr,
        &options.work_dir,
        "retention",
        &config,
        &["retention"],
    )?;
    let catch_up = worker.wait_ready(DRAIN_TIMEOUT).await?;
    let peak_rss_bytes = worker.stop()?;
    let state_bytes = folder_bytes(&state_dir)?;
    Ok(RetentionFigures {
        tracked_reads,
        catch_up_seconds: catch_up.as_secs_f64(),
        state_bytes,
        bytes_per_read: state_bytes as f64 / tracked_reads.max(1) as f64,
        peak_rss_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replayed_reads_cycle_with_new_ids() -> anyhow::Result<()> {
        let (reads, _) = Traffic::new(7, 1_000).reads(3)?;
        let mut replayed = ReplayedReads::new(&reads, 7)?;
        let copies: Vec<CameraRead> = (0..7).map(|_| replayed.next_read(42)).collect();

        let ids: std::collections::HashSet<&str> =
            copies.iter().map(|read| read.read_id.as_str()).collect();
        assert_eq!(ids.len(), copies.len());
        for (index, copy) in copies.iter().enumerate() {
            let original = &reads[index % reads.len()];
            assert_eq!(copy.plate, original.plate);
            assert_eq!(copy.camera_id, original.camera_id);
            assert_eq!(copy.captured_at, 42);
            assert_eq!(copy.received_at, 42);
            assert!(!reads.iter().any(|read| read.read_id == copy.read_id));
        }
        Ok(())
    }

    #[test]
    fn replay_without_reads_is_an_error() {
        assert!(ReplayedReads::new(&[], 7).is_err());
    }
}
