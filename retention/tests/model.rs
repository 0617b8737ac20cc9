//! Model test: random sequences of reads of several ages and organisations, holds, releases and
//! clock moves, against the real broker. After every sweep, the reads that a consumer reading
//! `alpr.reads.v1` from the start still sees (the latest value per key, tombstones removed) must
//! be exactly the reads a plain in-memory model keeps.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::IteratorRandom;
use rand::{Rng, SeedableRng};
use rdkafka::producer::{FutureProducer, FutureRecord};

use alpr_platform::testkit::{fresh_settings, read_topic};
use alpr_platform::{partition_for_key, KafkaSettings, ShutdownToken};
use alpr_retention::holds::{place_hold, release_hold, HoldError, HoldRequest, ReadLookup};
use alpr_retention::{purge_log, RetentionSettings, RetentionWorker, SweepOutcome};
use alpr_schemas::{encode, CameraRead, PlateRead, VehicleRead};

const DAY_MICROS: i64 = 24 * 3600 * 1_000_000;
const ORGANISATIONS: [(&str, i64); 3] = [("spd", 30), ("hoa-7", 7), ("mall-14", 14)];
/// 2021-11-15T00:00:00Z.
const START_MICROS: i64 = 1_636_934_400_000_000;

/// The model's record of a read.
struct ModelRead {
    captured_at: i64,
    period_days: i64,
}

/// The plain in-memory model: reads still alive and the read ids of each hold.
#[derive(Default)]
struct Model {
    reads: BTreeMap<String, ModelRead>,
    holds: HashMap<String, BTreeSet<String>>,
    deleted: Vec<String>,
}

impl Model {
    fn is_held(&self, read_id: &str) -> bool {
        self.holds.values().any(|reads| reads.contains(read_id))
    }

    /// Deletes every read past its period and under no hold; returns how many.
    fn sweep(&mut self, now: i64) -> usize {
        let expired: Vec<String> = self
            .reads
            .iter()
            .filter(|(id, read)| {
                read.captured_at + read.period_days * DAY_MICROS <= now && !self.is_held(id)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            self.reads.remove(id);
            self.deleted.push(id.clone());
        }
        expired.len()
    }
}

fn camera_read(read_id: &str, organisation_id: &str, captured_at: i64, plate: &str) -> CameraRead {
    CameraRead {
        read_id: read_id.to_string(),
        camera_id: "model-camera".into(),
        organisation_id: organisation_id.into(),
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
        source: "model-test".into(),
    }
}

/// Publishes reads as ingest does: keyed by read id, partitioned by plate.
async fn publish_reads(kafka: &KafkaSettings, producer: &FutureProducer, reads: &[CameraRead]) {
    let topic = kafka.topics().reads;
    for read in reads {
        let payload = encode(read).unwrap();
        let partition = partition_for_key(read.plate.normalised.as_bytes(), kafka.partitions);
        let record = FutureRecord::to(&topic)
            .key(read.read_id.as_bytes())
            .payload(&payload)
            .partition(partition);
        producer
            .send(record, Duration::from_secs(30))
            .await
            .map_err(|(error, _)| error)
            .unwrap();
    }
}

/// Returns the read ids a consumer reading the reads topic from the start still sees.
async fn visible_read_ids(kafka: &KafkaSettings) -> BTreeSet<String> {
    let mut latest: HashMap<Vec<u8>, bool> = HashMap::new();
    for record in read_topic(kafka, &kafka.topics().reads).await {
        latest.insert(record.key.unwrap(), record.payload.is_some());
    }
    latest
        .into_iter()
        .filter(|(_, alive)| *alive)
        .map(|(key, _)| String::from_utf8(key).unwrap())
        .collect()
}

async fn run_model(seed: u64, steps: usize) {
    let mut rng = StdRng::seed_from_u64(seed);
    let kafka = fresh_settings(&format!("retention_model_{seed}")).await;
    let folder = tempfile::tempdir().unwrap();
    let settings = RetentionSettings {
        state_dir: folder.path().join("index"),
        purge_log: folder.path().join("purge-log.jsonl"),
        default_period_days: 30,
        organisation_period_days: ORGANISATIONS
            .iter()
            .filter(|(name, _)| *name != "spd")
            .map(|(name, days)| (name.to_string(), *days as u32))
            .collect(),
        max_tombstones_per_second: 0,
        ..RetentionSettings::default()
    };
    let now = Arc::new(AtomicI64::new(START_MICROS));
    let clock_now = now.clone();
    let clock: alpr_retention::Clock =
        Arc::new(move || alpr_schemas::from_micros(clock_now.load(Ordering::SeqCst)));
    let mut worker = tokio::task::block_in_place(|| {
        RetentionWorker::connect(&settings, &kafka, clock.clone()).unwrap()
    });
    let lookup = ReadLookup::Store(worker.store());
    let producer: FutureProducer = kafka.client_config().create().unwrap();
    let shutdown = ShutdownToken::new();
    let mut model = Model::default();
    let mut sweeps = 0;

    for step in 0..steps {
        let time = now.load(Ordering::SeqCst);
        match rng.random_range(0..10) {
            0..=2 => {
                let count = rng.random_range(1..=6);
                let mut reads = Vec::new();
                for _ in 0..count {
                    let (organisation, period_days) = ORGANISATIONS[rng.random_range(0..3)];
                    let captured_at = time - rng.random_range(0..40 * DAY_MICROS);
                    let read_id = uuid::Uuid::new_v4().to_string();
                    let plate = format!("M{:06}", rng.random_range(0..1_000_000));
                    reads.push(camera_read(&read_id, organisation, captured_at, &plate));
                    model.reads.insert(
                        read_id,
                        ModelRead {
                            captured_at,
                            period_days,
                        },
                    );
                }
                publish_reads(&kafka, &producer, &reads).await;
            }
            3..=4 if !model.reads.is_empty() => {
                tokio::task::block_in_place(|| worker.catch_up().unwrap());
                let count = rng.random_range(1..=3).min(model.reads.len());
                let read_ids: Vec<String> =
                    model.reads.keys().cloned().choose_multiple(&mut rng, count);
                let request = HoldRequest {
                    case_number: format!("case-{step}"),
                    reason: "model test".into(),
                    placed_by: "model".into(),
                    read_ids: read_ids.clone(),
                    review_at: None,
                    organisation_id: None,
                    purpose: None,
                };
                let hold = place_hold(&kafka, &lookup, request, clock()).await.unwrap();
                model
                    .holds
                    .insert(hold.hold_id, read_ids.into_iter().collect());
            }
            5 if !model.holds.is_empty() => {
                let hold_id = model.holds.keys().choose(&mut rng).unwrap().clone();
                release_hold(&kafka, &hold_id, "model", None, clock())
                    .await
                    .unwrap();
                model.holds.remove(&hold_id);
            }
            6 => {
                // A deleted read, or one that never existed, cannot be held.
                tokio::task::block_in_place(|| worker.catch_up().unwrap());
                let read_id = match model.deleted.iter().choose(&mut rng) {
                    Some(deleted) if rng.random_bool(0.5) => deleted.clone(),
                    _ => uuid::Uuid::new_v4().to_string(),
                };
                let request = HoldRequest {
                    case_number: "case-x".into(),
                    reason: "model test".into(),
                    placed_by: "model".into(),
                    read_ids: vec![read_id.clone()],
                    review_at: None,
                    organisation_id: None,
                    purpose: None,
                };
                match place_hold(&kafka, &lookup, request, clock()).await {
                    Err(HoldError::UnknownReads { read_ids }) => assert_eq!(read_ids, [read_id]),
                    other => panic!("hold on a missing read {read_id} was not refused: {other:?}"),
                }
            }
            7 => {
                now.fetch_add(rng.random_range(0..10 * DAY_MICROS), Ordering::SeqCst);
            }
            _ => {
                let report = match tokio::task::block_in_place(|| worker.sweep(&shutdown).unwrap())
                {
                    SweepOutcome::Completed(report) => report,
                    SweepOutcome::Interrupted => panic!("sweep interrupted without shutdown"),
                };
                sweeps += 1;
                let deleted = model.sweep(now.load(Ordering::SeqCst));
                assert_eq!(
                    report.tombstoned as usize, deleted,
                    "seed {seed} step {step}"
                );
                let visible = visible_read_ids(&kafka).await;
                let kept: BTreeSet<String> = model.reads.keys().cloned().collect();
                assert_eq!(
                    visible, kept,
                    "seed {seed} step {step}: topic and model differ"
                );
            }
        }
    }
    assert!(sweeps > 0, "seed {seed} never swept");
    assert!(
        !model.deleted.is_empty(),
        "seed {seed} deleted nothing; it tests little"
    );

    let lines = purge_log::read_verified(&settings.purge_log).unwrap();
    let logged: u64 = lines.iter().map(|line| line.record.tombstoned).sum();
    assert_eq!(logged as usize, model.deleted.len(), "purge log total");

    let from = alpr_schemas::from_micros(START_MICROS - DAY_MICROS);
    let to = alpr_schemas::from_micros(now.load(Ordering::SeqCst) + DAY_MICROS);
    let audit = alpr_audit::report(&kafka, from, to).await.unwrap();
    assert_eq!(
        audit.reads_deleted as usize,
        model.deleted.len(),
        "seed {seed}: reads deleted in the audit report"
    );
    let chains = alpr_audit::verify(&kafka).await.unwrap();
    assert_eq!(chains.first_bad(), None, "seed {seed}: audit chains");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_matches_model_after_every_sweep() {
    for seed in [11, 12] {
        run_model(seed, 40).await;
    }
}
