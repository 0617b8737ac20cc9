//! Size of the retention index on disk per tracked read. The worker indexes every read of the
//! reads topic, so its state grows with the topic. The target is at most 100 bytes per read once
//! the store is flushed and compacted, counting every file in the state folder.
//!
//! The reads are generated the way ingest produces them: UUID v7 read ids taken from the receive
//! time, three organisations, a few hundred cameras, one read in 20 with an image reference, and
//! the partition chosen from the plate.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use alpr_platform::partition_for_key;
use alpr_retention::store::{SourceTopic, TopicRecord};
use alpr_retention::RetentionStore;
use alpr_schemas::{encode, CameraRead, PlateRead, VehicleRead};

const READ_COUNT: usize = 200_000;
const MAX_BYTES_PER_READ: f64 = 100.0;
const PARTITIONS: i32 = 6;
/// Records per `apply`, close to what one poll of the worker hands over.
const BATCH_SIZE: usize = 1_000;
/// 2026-11-05T00:00:00Z.
const START_MICROS: i64 = 1_793_836_800_000_000;
const SPAN_MICROS: i64 = 30 * 24 * 3600 * 1_000_000;
/// Organisation ids and the share of reads (in percent) each one owns.
const ORGANISATIONS: [(&str, u32); 3] = [("spd", 70), ("hoa-7", 20), ("mall-14", 10)];
const CAMERAS_PER_ORGANISATION: u32 = 100;

/// Builds the `index`-th of `READ_COUNT` reads, captured in order over 30 days.
fn generated_read(rng: &mut StdRng, index: usize) -> CameraRead {
    let captured_at = START_MICROS + SPAN_MICROS / READ_COUNT as i64 * index as i64;
    // Cameras send a read between a fraction of a second and two minutes after capture.
    let received_at = captured_at + rng.random_range(100_000..120_000_000);
    let received_millis = u64::try_from(received_at / 1_000).unwrap();
    let read_id = uuid::Builder::from_unix_timestamp_millis(received_millis, &rng.random())
        .into_uuid()
        .to_string();

    let share = rng.random_range(0..100);
    let mut threshold = 0;
    let organisation_id = ORGANISATIONS
        .iter()
        .find(|(_, percent)| {
            threshold += percent;
            share < threshold
        })
        .map_or(ORGANISATIONS[0].0, |(id, _)| id);
    let camera = rng.random_range(0..CAMERAS_PER_ORGANISATION);
    let plate: String = (0..7)
        .map(|_| char::from(b"ABCDEFGHJKLMNPRSTUVWXYZ0123456789"[rng.random_range(0..33)]))
        .collect();
    let image_ref = rng.random_ratio(1, 20).then(|| {
        let date = DateTime::<Utc>::from_timestamp_micros(captured_at)
            .unwrap()
            .format("%Y-%m-%d");
        format!("{organisation_id}/{date}/{read_id}.jpg")
    });

    CameraRead {
        read_id,
        camera_id: format!("{organisation_id}-camera-{camera:03}"),
        organisation_id: organisation_id.to_string(),
        captured_at,
        received_at,
        location: None,
        plate: PlateRead {
            present: true,
            text: plate.clone(),
            normalised: plate,
            region: Some("US-WA".into()),
            confidence: Some(0.9),
            unreadable_positions: Vec::new(),
        },
        vehicle: VehicleRead::default(),
        image_ref,
        source: "state-size-test".into(),
    }
}

/// Returns the total size of the files under `folder`, in bytes.
fn folder_bytes(folder: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(folder).unwrap() {
        let entry = entry.unwrap();
        let metadata = entry.metadata().unwrap();
        total += if metadata.is_dir() {
            folder_bytes(&entry.path())
        } else {
            metadata.len()
        };
    }
    total
}

/// Prints the SST bytes per column family, so a failure shows where the bytes went.
fn print_sst_bytes_by_family(store: &RetentionStore) {
    store.observe_metrics();
    for family in prometheus::gather() {
        if family.name() != "alpr_retention_rocksdb_sst_files_bytes" {
            continue;
        }
        for metric in family.get_metric() {
            let label = metric.get_label().first().map_or("", |label| label.value());
            println!("sst files of {label}: {} bytes", metric.get_gauge().value());
        }
    }
}

#[test]
fn state_stays_within_100_bytes_per_read() {
    let folder = tempfile::tempdir().unwrap();
    let state_dir = folder.path().join("state");
    let store = RetentionStore::open(&state_dir).unwrap();

    let mut rng = StdRng::seed_from_u64(8);
    let mut next_offsets = [0_i64; PARTITIONS as usize];
    let mut samples = Vec::new();
    let mut batch = Vec::with_capacity(BATCH_SIZE);
    for index in 0..READ_COUNT {
        let read = generated_read(&mut rng, index);
        let partition = partition_for_key(read.plate.normalised.as_bytes(), PARTITIONS);
        let offset = &mut next_offsets[partition as usize];
        batch.push(TopicRecord {
            topic: SourceTopic::Reads,
            partition,
            offset: *offset,
            key: read.read_id.clone().into_bytes(),
            payload: Some(encode(&read).unwrap()),
        });
        *offset += 1;
        if index % 9_973 == 0 || read.image_ref.is_some() && samples.len() < 40 {
            samples.push((read, partition));
        }
        if batch.len() == BATCH_SIZE {
            store.apply(&batch).unwrap();
            batch.clear();
        }
    }
    store.apply(&batch).unwrap();

    // The store must still answer for what it indexed, or a smaller state would prove nothing.
    for (read, partition) in &samples {
        let indexed = store.read(&read.read_id).unwrap().unwrap();
        assert_eq!(indexed.captured_at, read.captured_at);
        assert_eq!(indexed.partition, *partition);
        assert_eq!(indexed.organisation_id, read.organisation_id);
        assert_eq!(indexed.image_ref, read.image_ref);
    }
    let all_captured = store.reads_captured_before(i64::MAX).unwrap();
    assert_eq!(all_captured.len(), READ_COUNT);

    store.compact().unwrap();
    print_sst_bytes_by_family(&store);
    drop(store);
    let total = folder_bytes(&state_dir);
    let per_read = total as f64 / READ_COUNT as f64;
    println!("state folder: {total} bytes for {READ_COUNT} reads, {per_read:.1} bytes per read");
    assert!(
        per_read <= MAX_BYTES_PER_READ,
        "state takes {per_read:.1} bytes per read ({total} bytes for {READ_COUNT} reads), above {MAX_BYTES_PER_READ}"
    );
}
