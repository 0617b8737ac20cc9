//! The whole week of Seattle reads through HTTP ingest and the matcher, checked against counts
//! computed from the file independently of alpr's code.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use alpr_platform::testkit::{fresh_settings, read_topic};
use alpr_replay::{HttpSink, HttpSinkConfig, ReplayOptions, ReplaySource};
use alpr_schemas::{decode, CameraRead};

use common::*;

const SEATTLE_READS: usize = 93_490;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seattle_week_lands_once_with_expected_alerts() {
    let data = spd_data_path();
    let plates = derived_plates_per_row(&data);
    assert_eq!(plates.len(), SEATTLE_READS);
    let (hotlist, expected_alerts) = hotlist_by_rule(&plates, is_hotlisted);
    assert!(
        expected_alerts > 100,
        "the rule picks {expected_alerts} reads, too few to test"
    );

    let kafka = fresh_settings("seattle_replay").await;
    let folder = tempfile::tempdir().unwrap();
    import_hotlist(&kafka, &hotlist, folder.path()).await;
    let pipeline = Pipeline::start(&kafka, &folder.path().join("matcher")).await;

    let source = ReplaySource::open(&data, None).unwrap();
    let mut sink = HttpSink::new(HttpSinkConfig::new(pipeline.ingest_url(), TOKEN)).unwrap();
    let summary = alpr_replay::replay(source, &mut sink, &ReplayOptions::default())
        .await
        .unwrap();
    assert_eq!(summary.accepted as usize, SEATTLE_READS, "{summary}");
    assert_eq!(summary.rejected, 0, "{summary}");
    assert_eq!(summary.unparseable, 0, "{summary}");

    let alerts = wait_for_distinct_alerts(&kafka, expected_alerts, Duration::from_secs(180)).await;
    pipeline.stop().await;

    let records = read_topic(&kafka, &kafka.topics().reads).await;
    assert_eq!(
        records.len(),
        SEATTLE_READS,
        "every read once on the reads topic"
    );
    let read_ids: HashSet<String> = records
        .iter()
        .map(|record| {
            decode::<CameraRead>(record.payload.as_ref().unwrap())
                .unwrap()
                .read_id
        })
        .collect();
    assert_eq!(
        read_ids.len(),
        SEATTLE_READS,
        "no read doubled under another id"
    );

    let per_match = alerts_per_match(&alerts);
    assert_eq!(
        per_match.len(),
        expected_alerts,
        "one alert per hotlisted read"
    );
    assert!(per_match
        .keys()
        .all(|(read_id, _)| read_ids.contains(read_id)));
    assert!(alerts
        .iter()
        .all(|alert| hotlist.contains(&alert.read.plate.normalised)));
    assert!(alerts
        .iter()
        .all(|alert| !alert.match_detail.region_confirmed || alert.entry.region.is_none()));
}
