//! Silent cameras on real traffic: the Seattle week goes into a retention index as if ingest had
//! received each read when it was captured, with all traffic of the busiest camera cut off
//! halfway through. The silent-camera list names that camera once its allowed silence has
//! passed, and not a second before.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use alpr_ingest::validate::{validate_submission, ValidationLimits};
use alpr_retention::camera_activity::{silent_cameras, SilenceSettings};
use alpr_retention::store::{RetentionStore, SourceTopic, TopicRecord};
use alpr_schemas::{encode, CameraRead};

use common::*;

/// Returns every Seattle read, received the moment it was captured, in capture order.
fn seattle_reads() -> Vec<CameraRead> {
    let now = chrono::Utc::now();
    let limits = ValidationLimits {
        max_clock_skew: chrono::Duration::seconds(300),
    };
    let mut reads: Vec<CameraRead> = alpr_replay::ReplaySource::open(&spd_data_path(), None)
        .unwrap()
        .filter_map(|(_, row)| row.ok())
        .filter_map(|submission| {
            validate_submission(submission, ORGANISATION, "test", now, limits).ok()
        })
        .map(|mut read| {
            read.received_at = read.captured_at;
            read
        })
        .collect();
    reads.sort_by_key(|read| read.captured_at);
    reads
}

fn index(store: &RetentionStore, reads: &[CameraRead]) {
    for (chunk_number, chunk) in reads.chunks(5_000).enumerate() {
        let records: Vec<TopicRecord> = chunk
            .iter()
            .enumerate()
            .map(|(position, read)| TopicRecord {
                topic: SourceTopic::Reads,
                partition: 0,
                offset: (chunk_number * 5_000 + position) as i64,
                key: read.read_id.clone().into_bytes(),
                payload: Some(encode(read).unwrap()),
            })
            .collect();
        store.apply(&records).unwrap();
    }
}

#[test]
fn cut_off_camera_listed_in_window() {
    let reads = seattle_reads();
    assert!(reads.len() > 90_000, "only {} reads validated", reads.len());
    let mut per_camera: HashMap<&str, usize> = HashMap::new();
    for read in &reads {
        *per_camera.entry(read.camera_id.as_str()).or_default() += 1;
    }
    let (victim, _) = per_camera
        .iter()
        .max_by_key(|(camera, count)| (**count, *camera))
        .map(|(camera, count)| (camera.to_string(), *count))
        .unwrap();
    let victim_times: Vec<i64> = reads
        .iter()
        .filter(|read| read.camera_id == victim)
        .map(|read| read.captured_at)
        .collect();
    let cut_off = victim_times[victim_times.len() / 2];
    let traffic: Vec<CameraRead> = reads
        .into_iter()
        .filter(|read| read.camera_id != victim || read.captured_at <= cut_off)
        .collect();

    let folder = tempfile::tempdir().unwrap();
    let store = RetentionStore::open(folder.path()).unwrap();
    index(&store, &traffic);

    let settings = SilenceSettings::default();
    let cameras = store.camera_activities().unwrap();
    let activity = cameras
        .iter()
        .find(|(camera, _)| *camera == victim)
        .map(|(_, activity)| activity.clone())
        .unwrap();
    assert_eq!(activity.last_received_at, cut_off);
    assert!(
        activity.usual_gap_micros.is_some(),
        "the busiest camera learned its usual gap"
    );
    let allowed = settings.allowed_silence_micros(&activity);
    assert!(allowed >= 15 * 60 * 1_000_000, "the floor applies");

    let listed_at = |now: i64| {
        silent_cameras(store.camera_activities().unwrap(), &settings, now)
            .iter()
            .any(|camera| camera.camera_id == victim)
    };
    assert!(
        !listed_at(cut_off + 60 * 1_000_000),
        "listed a minute after its last read"
    );
    assert!(
        !listed_at(cut_off + allowed),
        "listed before its allowed silence passed"
    );
    assert!(
        listed_at(cut_off + allowed + 1_000_000),
        "not listed once its allowed silence passed"
    );
}
