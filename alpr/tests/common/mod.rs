//! Shared set-up of the end-to-end tests: the Seattle data set, an in-process pipeline (ingest
//! and matcher) on fresh topics, and reading alerts back.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alpr_ingest::{CameraToken, IngestSettings};
use alpr_matcher::MatcherSettings;
use alpr_platform::testkit::{read_topic, TestRecord};
use alpr_platform::{KafkaSettings, Readiness, ShutdownToken};
use alpr_schemas::{decode, Alert};

pub const TOKEN: &str = "seattle-relay-secret";
pub const ORGANISATION: &str = "spd";

/// Returns the Seattle export: `ALPR_SPD_DATA`, or `shared/data` beside the checkout.
pub fn spd_data_path() -> PathBuf {
    let path = std::env::var_os("ALPR_SPD_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/data/spd-alpr/spd-alpr-pub.csv.gz")
        });
    assert!(
        path.exists(),
        "the Seattle data set is missing at {}; set ALPR_SPD_DATA to spd-alpr-pub.csv.gz",
        path.display()
    );
    path
}

/// Derives the plate of every row of the Seattle file without alpr's code: the first seven
/// characters of the row's SHA-1 plate hash, upper-cased.
pub fn derived_plates_per_row(path: &Path) -> Vec<String> {
    let file = std::fs::File::open(path).unwrap();
    let reader = BufReader::new(flate2::read::GzDecoder::new(file));
    let mut lines = reader.lines();
    let header = lines.next().unwrap().unwrap();
    let hash_column = header
        .split('|')
        .position(|column| column == "plate_hash")
        .expect("the header names plate_hash");
    lines
        .map(|line| {
            let line = line.unwrap();
            let hash = line.split('|').nth(hash_column).unwrap().to_string();
            hash[..7].to_ascii_uppercase()
        })
        .collect()
}

/// Returns whether a derived plate is on the end-to-end tests' hotlist: those that start with `00`.
pub fn is_hotlisted(plate: &str) -> bool {
    plate.starts_with("00")
}

/// Returns a set of plates, such as a small hotlist.
pub fn plate_set(plates: &[&str]) -> HashSet<String> {
    plates.iter().map(|plate| plate.to_string()).collect()
}

/// Writes the hotlist of `plates` as a CSV and imports it as list `SPD-TEST`.
pub async fn import_hotlist(kafka: &KafkaSettings, plates: &HashSet<String>, folder: &Path) {
    let path = folder.join("hotlist.csv");
    let mut text = String::from("plate,state,reason,priority\n");
    for plate in plates {
        text.push_str(&format!("{plate},,stolen vehicle,1\n"));
    }
    std::fs::write(&path, text).unwrap();
    let mut options = alpr_hotlist::ImportOptions::new("SPD-TEST");
    options.agency_id = Some(ORGANISATION.into());
    let summary = alpr_hotlist::import_file(kafka, &path, &options)
        .await
        .unwrap();
    assert_eq!(summary.published, plates.len());
}

/// Ingest and matcher running in this process.
pub struct Pipeline {
    pub ingest_address: SocketAddr,
    pub shutdown: ShutdownToken,
    readiness: Readiness,
    ingest: tokio::task::JoinHandle<Result<(), alpr_ingest::IngestError>>,
    matcher: tokio::task::JoinHandle<Result<(), alpr_matcher::MatcherError>>,
}

impl Pipeline {
    pub async fn start(kafka: &KafkaSettings, state_dir: &Path) -> Self {
        let matcher_settings = MatcherSettings {
            state_dir: state_dir.to_path_buf(),
            ..MatcherSettings::default()
        };
        Self::start_with(kafka, matcher_settings).await
    }

    pub async fn start_with(kafka: &KafkaSettings, matcher_settings: MatcherSettings) -> Self {
        let shutdown = ShutdownToken::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ingest_address = listener.local_addr().unwrap();
        let ingest_settings = IngestSettings {
            consume_raw_topic: false,
            tokens: vec![CameraToken {
                token: TOKEN.into(),
                organisation: ORGANISATION.into(),
                cameras: vec!["*".into()],
            }],
            ..IngestSettings::default()
        };
        let ingest = tokio::spawn(alpr_ingest::run(
            ingest_settings,
            kafka.clone(),
            listener,
            Arc::new(chrono::Utc::now),
            None,
            shutdown.clone(),
        ));
        let readiness = Readiness::default();
        let matcher = tokio::spawn(alpr_matcher::run(
            matcher_settings,
            kafka.clone(),
            Arc::new(chrono::Utc::now),
            readiness.clone(),
            shutdown.clone(),
        ));
        let pipeline = Self {
            ingest_address,
            shutdown,
            readiness,
            ingest,
            matcher,
        };
        pipeline.wait_until_ready().await;
        pipeline
    }

    async fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.readiness.is_ready() {
            assert!(
                !self.matcher.is_finished(),
                "matcher stopped while starting"
            );
            assert!(Instant::now() < deadline, "matcher not ready within 60 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn ingest_url(&self) -> String {
        format!("http://{}", self.ingest_address)
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        (&mut self.ingest).await.unwrap().unwrap();
        (&mut self.matcher).await.unwrap().unwrap();
    }
}

/// A test that fails while the pipeline runs would otherwise hang: the runtime waits for the
/// matcher's blocking Kafka calls, which only a shutdown ends.
impl Drop for Pipeline {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Decodes every alert on the alert topic.
pub fn decode_alerts(records: &[TestRecord]) -> Vec<Alert> {
    records
        .iter()
        .map(|record| {
            decode::<Alert>(
                record
                    .payload
                    .as_ref()
                    .expect("alerts are never tombstones"),
            )
            .unwrap()
        })
        .collect()
}

/// Polls the alert topic until it contains `expected` distinct (read, entry) pairs, or panics
/// after `timeout`. Returns every alert read at the end.
pub async fn wait_for_distinct_alerts(
    kafka: &KafkaSettings,
    expected: usize,
    timeout: Duration,
) -> Vec<Alert> {
    let deadline = Instant::now() + timeout;
    loop {
        let alerts = decode_alerts(&read_topic(kafka, &kafka.topics().alerts).await);
        let distinct: HashSet<_> = alerts.iter().map(|alert| &alert.alert_id).collect();
        if distinct.len() >= expected {
            return alerts;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {expected} distinct alerts after {timeout:?}",
            distinct.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Counts alerts per (read id, entry id).
pub fn alerts_per_match(alerts: &[Alert]) -> HashMap<(String, String), usize> {
    let mut counts = HashMap::new();
    for alert in alerts {
        *counts
            .entry((alert.read.read_id.clone(), alert.entry.entry_id.clone()))
            .or_insert(0) += 1;
    }
    counts
}

/// Starts `alpr matcher` as a child process on the given topics, state folder and admin address.
pub fn spawn_matcher(
    kafka: &KafkaSettings,
    state_dir: &std::path::Path,
    admin: SocketAddr,
) -> Child {
    Command::new(env!("CARGO_BIN_EXE_alpr"))
        .arg("matcher")
        .env("ALPR_KAFKA__BOOTSTRAP_SERVERS", &kafka.bootstrap_servers)
        .env("ALPR_KAFKA__TOPIC_PREFIX", &kafka.topic_prefix)
        .env("ALPR_KAFKA__PARTITIONS", kafka.partitions.to_string())
        .env("ALPR_MATCHER__STATE_DIR", state_dir)
        .env("ALPR_ADMIN__LISTEN", admin.to_string())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .spawn()
        .expect("start alpr matcher")
}

/// Checks that the component whose admin server listens on `admin` reports ready, and returns
/// its `/metrics` text.
pub async fn ready_admin_metrics(admin: SocketAddr) -> String {
    let client = reqwest::Client::new();
    let ready = client
        .get(format!("http://{admin}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 200, "{admin} is not ready");
    client
        .get(format!("http://{admin}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Returns a loopback address with a port that was free a moment ago.
pub fn free_local_address() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// Picks the hotlist of derived plates that `rule` selects. Returns it with the number of
/// rows whose plate is on it, which is the number of alerts the matcher must produce.
pub fn hotlist_by_rule(plates: &[String], rule: fn(&str) -> bool) -> (HashSet<String>, usize) {
    let hotlist: HashSet<String> = plates.iter().filter(|plate| rule(plate)).cloned().collect();
    let expected_alerts = plates
        .iter()
        .filter(|plate| hotlist.contains(*plate))
        .count();
    (hotlist, expected_alerts)
}

/// Replays the Seattle file straight to the reads topic in the background, paced so the week
/// takes about 30 seconds, long enough for a test to kill the matcher while reads still arrive.
pub fn spawn_paced_kafka_replay(
    kafka: &KafkaSettings,
    data: PathBuf,
) -> tokio::task::JoinHandle<alpr_replay::ReplaySummary> {
    let kafka = kafka.clone();
    tokio::spawn(async move {
        let source = alpr_replay::ReplaySource::open(&data, None).unwrap();
        let config = alpr_replay::KafkaSinkConfig::new(ORGANISATION);
        let mut sink = alpr_replay::KafkaSink::connect(&kafka, config)
            .await
            .unwrap();
        let options = alpr_replay::ReplayOptions {
            speed: Some(20_000.0),
            sort_by_capture_time: true,
            ..alpr_replay::ReplayOptions::default()
        };
        alpr_replay::replay(source, &mut sink, &options)
            .await
            .unwrap()
    })
}

/// The matcher's default suppression window.
pub const SUPPRESSION_WINDOW_MICROS: i64 = 300 * 1_000_000;

/// Returns the ids of the reads on the reads topic that should alert. It is a plain model of
/// suppression, written without the matcher's code. It walks the reads of hotlisted plates in
/// each partition's order. A read alerts unless the same plate at the same camera alerted for a
/// read captured less than the window before or after it. Each plate is on the hotlist once, so
/// the plate identifies the entry.
pub async fn reads_that_alert(kafka: &KafkaSettings, hotlist: &HashSet<String>) -> HashSet<String> {
    let mut records = read_topic(kafka, &kafka.topics().reads).await;
    records.sort_by_key(|record| (record.partition, record.offset));
    let mut last_alerted: HashMap<(String, String), i64> = HashMap::new();
    let mut alerting = HashSet::new();
    for record in records {
        let Some(payload) = &record.payload else {
            continue;
        };
        let read: alpr_schemas::CameraRead = decode(payload).unwrap();
        if !hotlist.contains(&read.plate.normalised) {
            continue;
        }
        let key = (read.plate.normalised.clone(), read.camera_id.clone());
        match last_alerted.get(&key) {
            Some(&last) if (read.captured_at - last).abs() < SUPPRESSION_WINDOW_MICROS => {}
            previous => {
                let latest = previous.map_or(read.captured_at, |&last| last.max(read.captured_at));
                last_alerted.insert(key, latest);
                alerting.insert(read.read_id);
            }
        }
    }
    alerting
}
