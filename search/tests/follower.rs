//! The follower against the local broker: reads produced to the topic become searchable, a
//! tombstone removes its read, and a restart resumes from the offsets stored in the index
//! without indexing anything twice.
//!
//! Needs the local broker: `deploy/local/kafka.sh start`, and `ALPR_KAFKA_BOOTSTRAP` when it
//! listens elsewhere than 127.0.0.1:9092.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use rdkafka::producer::{FutureProducer, FutureRecord};

use alpr_platform::testkit::fresh_settings;
use alpr_platform::{KafkaSettings, ShutdownToken};
use alpr_schemas::{encode, from_micros, CameraRead};
use alpr_search::synthetic::{GeneratorSettings, ReadGenerator};
use alpr_search::{
    FollowerSettings, ReadsFollower, Scope, SearchHandle, SearchLimits, SearchRequest,
    SearchResponse, TimeWindow,
};

/// Sends a read, or a tombstone of `read_id` when `read` is `None`, and waits for the broker.
async fn send(kafka: &KafkaSettings, read_id: &str, read: Option<&CameraRead>) {
    let producer: FutureProducer = kafka.client_config().set("acks", "all").create().unwrap();
    let topic = kafka.topics().reads;
    let payload = read.map(|read| encode(read).unwrap());
    let mut record = FutureRecord::<[u8], Vec<u8>>::to(&topic).key(read_id.as_bytes());
    if let Some(payload) = &payload {
        record = record.payload(payload);
    }
    producer
        .send(record, Duration::from_secs(30))
        .await
        .map_err(|(error, _)| error)
        .unwrap();
}

/// Returns the read ids of every read in the generator's week, for all its organisations.
fn indexed_ids(handle: &SearchHandle) -> Vec<String> {
    let start = from_micros(GeneratorSettings::default().start_micros);
    let mut request = SearchRequest::in_window(TimeWindow {
        from: start,
        to: start + chrono::Duration::days(7),
    });
    request.page_size = 1_000;
    let scope = Scope {
        organisation_ids: ["org-0", "org-1", "org-2"].map(String::from).into(),
        camera_ids: BTreeSet::new(),
    };
    let SearchResponse::Reads(page) = handle.search(&request, &scope).unwrap() else {
        panic!("expected reads");
    };
    assert_eq!(page.next_cursor, None, "more reads than one page");
    page.reads.into_iter().map(|read| read.read_id).collect()
}

fn counter(name: &str) -> f64 {
    prometheus::gather()
        .iter()
        .find(|family| family.name() == name)
        .map(|family| family.get_metric()[0].get_counter().value())
        .unwrap_or(0.0)
}

#[test]
fn follower_indexes_deletes_and_resumes() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let kafka = runtime.block_on(fresh_settings("search_follower"));
    let folder = tempfile::tempdir().unwrap();
    let settings = FollowerSettings {
        index_dir: folder.path().join("index"),
        writer_memory_bytes: 20_000_000,
        catch_up_timeout_seconds: 60,
        ..FollowerSettings::default()
    };
    let mut generator = ReadGenerator::new(GeneratorSettings::default());
    let reads: Vec<CameraRead> = generator.by_ref().take(20).collect();
    for read in &reads {
        runtime.block_on(send(&kafka, &read.read_id, Some(read)));
    }

    let mut follower = ReadsFollower::connect(&settings, &kafka).unwrap();
    assert_eq!(follower.catch_up().unwrap(), 20);
    let handle = follower.search_handle(SearchLimits::default());
    let mut expected: BTreeSet<String> = reads.iter().map(|read| read.read_id.clone()).collect();
    let found: BTreeSet<String> = indexed_ids(&handle).into_iter().collect();
    assert_eq!(found, expected);

    let tombstones_before = counter("alpr_search_tombstones_applied_total");
    let deleted = &reads[0].read_id;
    runtime.block_on(send(&kafka, deleted, None));
    assert_eq!(follower.catch_up().unwrap(), 1);
    expected.remove(deleted);
    let found: BTreeSet<String> = indexed_ids(&handle).into_iter().collect();
    assert_eq!(found, expected);
    assert!(counter("alpr_search_tombstones_applied_total") >= tombstones_before + 1.0);

    let committed = follower.positions();
    assert_eq!(committed.next_offsets.values().sum::<i64>(), 21);
    drop(follower);

    // While the follower is down: a re-delivered read and a new one.
    let redelivered = &reads[1];
    let new_read = generator.next().unwrap();
    runtime.block_on(send(&kafka, &redelivered.read_id, Some(redelivered)));
    runtime.block_on(send(&kafka, &new_read.read_id, Some(&new_read)));

    let mut follower = ReadsFollower::connect(&settings, &kafka).unwrap();
    assert_eq!(follower.positions(), committed);
    // Only the two records after the stored offsets are consumed again.
    assert_eq!(follower.catch_up().unwrap(), 2);
    expected.insert(new_read.read_id.clone());
    let ids = indexed_ids(&follower.search_handle(SearchLimits::default()));
    assert_eq!(
        ids.len(),
        expected.len(),
        "a read was indexed twice: {ids:?}"
    );
    let found: BTreeSet<String> = ids.into_iter().collect();
    assert_eq!(found, expected);
}

/// `run` commits on its interval while records arrive, so a read becomes searchable without a
/// catch-up, and it returns cleanly on shutdown.
#[test]
fn running_follower_commits_and_stops() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let kafka = runtime.block_on(fresh_settings("search_follower_run"));
    let folder = tempfile::tempdir().unwrap();
    let settings = FollowerSettings {
        index_dir: folder.path().join("index"),
        writer_memory_bytes: 20_000_000,
        commit_interval_ms: 200,
        ..FollowerSettings::default()
    };
    let follower = ReadsFollower::connect(&settings, &kafka).unwrap();
    let handle = follower.search_handle(SearchLimits::default());
    let shutdown = ShutdownToken::new();
    let running = {
        let shutdown = shutdown.clone();
        std::thread::spawn(move || follower.run(shutdown))
    };

    let read = ReadGenerator::new(GeneratorSettings::default())
        .next()
        .unwrap();
    runtime.block_on(send(&kafka, &read.read_id, Some(&read)));
    let deadline = Instant::now() + Duration::from_secs(30);
    while indexed_ids(&handle) != [read.read_id.clone()] {
        assert!(
            Instant::now() < deadline,
            "the read was not searchable within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    shutdown.cancel();
    running.join().unwrap().unwrap();
    let reopened = ReadsFollower::connect(&settings, &kafka).unwrap();
    assert_eq!(reopened.positions().next_offsets.values().sum::<i64>(), 1);
}
