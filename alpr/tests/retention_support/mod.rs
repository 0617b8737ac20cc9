//! Shared set-up of the retention end-to-end tests: reads and holds published straight to the
//! topics, the set of reads a consumer still sees, and starting `alpr retention` as a process.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]
#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use alpr_ingest::{PublisherLimits, ReadPublisher};
use alpr_platform::testkit::{read_topic, TestRecord};
use alpr_platform::KafkaSettings;
use alpr_retention::Clock;
use alpr_schemas::{CameraRead, PlateRead, VehicleRead};

/// Returns a clock that always reads `time`.
pub fn fixed_clock(time: chrono::DateTime<chrono::Utc>) -> Clock {
    Arc::new(move || time)
}

/// Builds a read of organisation `spd` captured at `captured_at` (microseconds).
pub fn camera_read(captured_at: i64, plate: &str) -> CameraRead {
    CameraRead {
        read_id: uuid::Uuid::now_v7().to_string(),
        camera_id: "retention-camera".into(),
        organisation_id: "spd".into(),
        captured_at,
        received_at: captured_at,
        location: None,
        plate: PlateRead {
            present: true,
            text: plate.into(),
            normalised: plate.into(),
            region: None,
            confidence: None,
            unreadable_positions: Vec::new(),
        },
        vehicle: VehicleRead::default(),
        image_ref: None,
        source: "retention-test".into(),
    }
}

/// Publishes reads with ingest's publisher: keyed by read id, partitioned by plate.
pub async fn publish_reads(kafka: &KafkaSettings, reads: &[CameraRead]) {
    let publisher = ReadPublisher::connect(kafka, PublisherLimits::default())
        .await
        .unwrap();
    for chunk in reads.chunks(5_000) {
        for result in publisher.publish_all(chunk).await {
            result.unwrap();
        }
    }
}

/// Returns the latest record per key of the reads topic: `true` for a read, `false` for a
/// tombstone.
pub fn latest_per_key(records: &[TestRecord]) -> HashMap<String, bool> {
    records
        .iter()
        .map(|record| {
            (
                String::from_utf8(record.key.clone().unwrap()).unwrap(),
                record.payload.is_some(),
            )
        })
        .collect()
}

/// Returns the read ids a consumer reading the reads topic from the start still sees.
pub async fn visible_read_ids(kafka: &KafkaSettings) -> BTreeSet<String> {
    visible_in(&read_topic(kafka, &kafka.topics().reads).await)
}

pub fn visible_in(records: &[TestRecord]) -> BTreeSet<String> {
    latest_per_key(records)
        .into_iter()
        .filter(|(_, alive)| *alive)
        .map(|(key, _)| key)
        .collect()
}

/// Returns every key that has a tombstone somewhere on the reads topic.
pub fn tombstoned_keys(records: &[TestRecord]) -> BTreeSet<String> {
    records
        .iter()
        .filter(|record| record.payload.is_none())
        .map(|record| String::from_utf8(record.key.clone().unwrap()).unwrap())
        .collect()
}

/// A child process that is killed when the guard is dropped, so a failing test leaves no worker
/// running.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts `alpr retention` as a child process on the given topics and folder, with its image
/// store in the folder's `images` subfolder.
pub fn spawn_retention(
    kafka: &KafkaSettings,
    folder: &Path,
    admin: SocketAddr,
    api: SocketAddr,
    max_tombstones_per_second: u32,
) -> ChildGuard {
    let child = Command::new(env!("CARGO_BIN_EXE_alpr"))
        .arg("retention")
        .env("ALPR_KAFKA__BOOTSTRAP_SERVERS", &kafka.bootstrap_servers)
        .env("ALPR_KAFKA__TOPIC_PREFIX", &kafka.topic_prefix)
        .env("ALPR_KAFKA__PARTITIONS", kafka.partitions.to_string())
        .env("ALPR_RETENTION__STATE_DIR", folder.join("index"))
        .env("ALPR_RETENTION__PURGE_LOG", folder.join("purge-log.jsonl"))
        .env("ALPR_IMAGES__LOCATION", folder.join("images"))
        .env("ALPR_RETENTION__LISTEN", api.to_string())
        .env(
            "ALPR_RETENTION__MAX_TOMBSTONES_PER_SECOND",
            max_tombstones_per_second.to_string(),
        )
        .env("ALPR_ADMIN__LISTEN", admin.to_string())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .spawn()
        .expect("start alpr retention");
    ChildGuard(child)
}

/// Runs `alpr` with `args` against the given topics and returns its output.
pub fn run_alpr(kafka: &KafkaSettings, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_alpr"))
        .args(args)
        .env("ALPR_KAFKA__BOOTSTRAP_SERVERS", &kafka.bootstrap_servers)
        .env("ALPR_KAFKA__TOPIC_PREFIX", &kafka.topic_prefix)
        .env("ALPR_KAFKA__PARTITIONS", kafka.partitions.to_string())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run alpr")
}

/// Returns a loopback address with a port that was free a moment ago.
pub fn free_local_address() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// Returns every file below `folder`, with `folder` resolved to its canonical path as the image
/// store resolves its root.
pub fn files_under(folder: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![folder.canonicalize().unwrap()];
    while let Some(next) = folders.pop() {
        for entry in std::fs::read_dir(next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// Returns the `image_ref` of the latest copy of each read in `read_ids` on the reads topic.
pub fn image_refs_of(records: &[TestRecord], read_ids: &BTreeSet<String>) -> BTreeSet<String> {
    let mut latest: HashMap<String, Option<String>> = HashMap::new();
    for record in records {
        let key = String::from_utf8(record.key.clone().unwrap()).unwrap();
        if !read_ids.contains(&key) {
            continue;
        }
        let image_ref = record.payload.as_ref().and_then(|payload| {
            alpr_schemas::decode::<CameraRead>(payload)
                .unwrap()
                .image_ref
        });
        latest.insert(key, image_ref);
    }
    latest.into_values().flatten().collect()
}
