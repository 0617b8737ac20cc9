//! The Seattle week on the reads topic, each read with an image in a local image store, and the
//! retention clock at 2021-11-15. After one sweep a consumer reading the topic from the start
//! finds only the reads that evidence holds keep. Their images are still there, and every other
//! image is gone.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

mod common;
mod retention_support;

use std::collections::BTreeSet;

use alpr_images::ImageStore;
use alpr_platform::testkit::{fresh_settings, read_topic};
use alpr_platform::ShutdownToken;
use alpr_retention::holds::{place_hold, HoldRequest, ReadLookup};
use alpr_retention::{RetentionSettings, RetentionWorker, SweepOutcome};

use common::{spd_data_path, ORGANISATION};
use retention_support::*;

const SEATTLE_READS: usize = 93_490;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seattle_week_leaves_only_held_reads() {
    let kafka = fresh_settings("retention_seattle").await;
    let folder = tempfile::tempdir().unwrap();
    let images_folder = folder.path().join("images");
    let images = ImageStore::local(&images_folder).unwrap();
    let source = alpr_replay::ReplaySource::open(&spd_data_path(), None).unwrap();
    let sink_config = alpr_replay::KafkaSinkConfig {
        placeholder_images: Some(images.clone()),
        ..alpr_replay::KafkaSinkConfig::new(ORGANISATION)
    };
    let mut sink = alpr_replay::KafkaSink::connect(&kafka, sink_config)
        .await
        .unwrap();
    let summary = alpr_replay::replay(source, &mut sink, &alpr_replay::ReplayOptions::default())
        .await
        .unwrap();
    assert_eq!(summary.accepted as usize, SEATTLE_READS, "{summary}");
    assert_eq!(files_under(&images_folder).len(), SEATTLE_READS);

    let settings = RetentionSettings {
        state_dir: folder.path().join("index"),
        purge_log: folder.path().join("purge-log.jsonl"),
        max_tombstones_per_second: 0,
        ..RetentionSettings::default()
    };
    let clock = fixed_clock("2021-11-15T00:00:00Z".parse().unwrap());
    let mut worker = tokio::task::block_in_place(|| {
        let mut worker = RetentionWorker::connect(&settings, &kafka, clock)
            .unwrap()
            .with_image_store(images.clone());
        worker.catch_up().unwrap();
        worker
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}", listener.local_addr().unwrap());
    let api_stop = ShutdownToken::new();
    let api = tokio::spawn(alpr_retention::api::serve(
        listener,
        worker.store(),
        api_stop.clone(),
    ));

    // Hold 36 reads spread over the week, in three holds of one case each, through the lookup
    // API as `alpr holds place` does.
    let all_ids: Vec<String> = visible_read_ids(&kafka).await.into_iter().collect();
    assert_eq!(all_ids.len(), SEATTLE_READS);
    let held: BTreeSet<String> = all_ids.iter().step_by(2_597).cloned().collect();
    assert_eq!(held.len(), 36);
    let lookup = ReadLookup::Http { base_url: api_url };
    let held_list: Vec<String> = held.iter().cloned().collect();
    for (index, read_ids) in held_list.chunks(12).enumerate() {
        let request = HoldRequest {
            case_number: format!("SPD-2021-{index}"),
            reason: "replay test".into(),
            placed_by: "detective".into(),
            read_ids: read_ids.to_vec(),
            review_at: None,
            organisation_id: None,
            purpose: None,
        };
        place_hold(&kafka, &lookup, request, chrono::Utc::now())
            .await
            .unwrap();
    }

    let report = match tokio::task::block_in_place(|| worker.sweep(&ShutdownToken::new()).unwrap())
    {
        SweepOutcome::Completed(report) => report,
        SweepOutcome::Interrupted => panic!("sweep interrupted without shutdown"),
    };
    assert_eq!(report.tombstoned as usize, SEATTLE_READS - held.len());
    assert_eq!(report.kept_by_holds as usize, held.len());
    assert_eq!(report.images_deleted as usize, SEATTLE_READS - held.len());
    assert_eq!(report.image_delete_failures, 0);

    let records = read_topic(&kafka, &kafka.topics().reads).await;
    assert_eq!(visible_in(&records), held, "only held reads remain");
    assert!(tombstoned_keys(&records).is_disjoint(&held));

    // The held reads' images are still there, and they are the only files left.
    let held_images: BTreeSet<std::path::PathBuf> = image_refs_of(&records, &held)
        .iter()
        .map(|image_ref| images.local_path(image_ref).unwrap())
        .collect();
    assert_eq!(
        held_images.len(),
        held.len(),
        "every held read has an image"
    );
    for path in &held_images {
        assert!(
            path.is_file(),
            "image of a held read is gone: {}",
            path.display()
        );
    }
    let left: BTreeSet<std::path::PathBuf> = files_under(&images_folder).into_iter().collect();
    assert_eq!(left, held_images, "only the held reads' images remain");

    api_stop.cancel();
    api.await.unwrap().unwrap();
    let lines = alpr_retention::purge_log::read_verified(&settings.purge_log).unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].record.day, "2021-11-15");
    assert_eq!(
        lines[0].record.tombstoned as usize,
        SEATTLE_READS - held.len()
    );
}
