//! Intake from `alpr.reads.raw`: valid reads reach the reads topic, and every record that
//! cannot become a read goes to the dead-letter topic, unchanged, with the reason in headers.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;

use alpr_ingest::raw_topic::{ORGANISATION_HEADER, REJECT_FIELD_HEADER, REJECT_REASON_HEADER};
use alpr_ingest::IngestSettings;
use alpr_platform::testkit::{fresh_settings, read_topic, wait_for_records};
use alpr_platform::ShutdownToken;
use alpr_schemas::{decode, CameraRead};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unparseable_raw_records_go_to_dead_letters() {
    let kafka = fresh_settings("ingest_raw_topic").await;
    let producer: FutureProducer = kafka.client_config().create().unwrap();
    let topics = kafka.topics();

    let good = json!({
        "camera_id": "mall-gate-3",
        "event_id": "raw-1",
        "captured_at": chrono::Utc::now().to_rfc3339(),
        "plate": {"text": "abc-1234", "region": "US-WA"}
    })
    .to_string();
    let bad: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not json", b"plate=ABC1234".to_vec(), "malformed"),
        ("invalid utf-8", vec![0x7b, 0xff, 0x7d], "malformed"),
        ("missing camera", json!({"captured_at": "2021-10-01T00:00:00Z", "plate": {"text": "X1"}}).to_string().into_bytes(), "missing_field"),
        ("bad latitude", json!({"camera_id": "c", "captured_at": "2021-10-01T00:00:00Z", "location": {"latitude": 100.0, "longitude": 0.0}, "plate": {"text": "X1"}}).to_string().into_bytes(), "invalid_location"),
    ];

    let with_organisation = || {
        OwnedHeaders::new().insert(Header {
            key: ORGANISATION_HEADER,
            value: Some("hoa-lakeview"),
        })
    };
    producer
        .send(
            FutureRecord::to(&topics.reads_raw)
                .key("good")
                .payload(&good)
                .headers(with_organisation()),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    for (name, payload, _) in &bad {
        producer
            .send(
                FutureRecord::to(&topics.reads_raw)
                    .key(*name)
                    .payload(payload)
                    .headers(with_organisation()),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
    // Without the organisation header and with no default configured, a valid read is rejected.
    producer
        .send(
            FutureRecord::to(&topics.reads_raw)
                .key("no organisation")
                .payload(&good),
            Duration::from_secs(10),
        )
        .await
        .unwrap();

    let shutdown = ShutdownToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ingest = tokio::spawn(alpr_ingest::run(
        IngestSettings::default(),
        kafka.clone(),
        listener,
        Arc::new(chrono::Utc::now),
        None,
        shutdown.clone(),
    ));

    let dead = wait_for_records(
        &kafka,
        &topics.reads_dlq,
        Duration::from_secs(60),
        |records| records.len() > bad.len(),
    )
    .await;
    let reads = wait_for_records(&kafka, &topics.reads, Duration::from_secs(60), |records| {
        !records.is_empty()
    })
    .await;
    shutdown.cancel();
    ingest.await.unwrap().unwrap();

    assert_eq!(dead.len(), bad.len() + 1);
    for (name, payload, reason) in &bad {
        let letter = dead
            .iter()
            .find(|record| record.key.as_deref() == Some(name.as_bytes()))
            .unwrap_or_else(|| panic!("{name} is not on the dead-letter topic"));
        assert_eq!(
            letter.payload.as_deref(),
            Some(payload.as_slice()),
            "{name}: payload kept as received"
        );
        assert_eq!(
            letter.header(REJECT_REASON_HEADER),
            Some(reason.as_bytes()),
            "{name}"
        );
        assert_eq!(
            letter.header(ORGANISATION_HEADER),
            Some(&b"hoa-lakeview"[..]),
            "{name}: original headers kept"
        );
    }
    let unowned = dead
        .iter()
        .find(|record| record.key.as_deref() == Some(&b"no organisation"[..]))
        .unwrap();
    assert_eq!(
        unowned.header(REJECT_FIELD_HEADER),
        Some(ORGANISATION_HEADER.as_bytes())
    );

    assert_eq!(reads.len(), 1);
    let read: CameraRead = decode(reads[0].payload.as_ref().unwrap()).unwrap();
    assert_eq!(read.organisation_id, "hoa-lakeview");
    assert_eq!(read.plate.normalised, "ABC1234");
    assert_eq!(read.source, "raw-topic");

    // Nothing is counted twice: reading the topics again finds the same records.
    let again: HashSet<_> = read_topic(&kafka, &topics.reads_dlq)
        .await
        .into_iter()
        .map(|r| (r.partition, r.offset))
        .collect();
    assert_eq!(again.len(), dead.len());
}
