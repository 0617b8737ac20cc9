//! Vendor formats through a running ingest against the local broker: `POST /v1/ingest/{vendor}`
//! with both token schemes, and raw-topic records whose `alpr.vendor` header names the adapter.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::Value;

use alpr_images::ImageStore;
use alpr_ingest::metrics::{READS_ACCEPTED, VENDOR_RESENDS_SKIPPED};
use alpr_ingest::raw_topic::{ORGANISATION_HEADER, REJECT_FIELD_HEADER, REJECT_REASON_HEADER};
use alpr_ingest::vendor::{CONTENT_TYPE_HEADER, VENDOR_HEADER};
use alpr_ingest::{CameraToken, IngestSettings};
use alpr_platform::testkit::{fresh_settings, read_topic, wait_for_records, TestRecord};
use alpr_platform::ShutdownToken;
use alpr_schemas::{decode, CameraRead};

const TOKEN: &str = "vendor-relay-secret";

fn sample(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../vendors/tests/samples/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|error| panic!("cannot read {path}: {error}"))
}

fn sample_text(name: &str) -> String {
    String::from_utf8(sample(name)).unwrap()
}

fn fixed_now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-06-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn settings(consume_raw_topic: bool) -> IngestSettings {
    IngestSettings {
        consume_raw_topic,
        raw_default_organisation: None,
        tokens: vec![CameraToken {
            token: TOKEN.into(),
            organisation: "spd".into(),
            cameras: vec!["*".into()],
        }],
        camera_time_zones: BTreeMap::from([(
            "gate-west".to_string(),
            "America/Los_Angeles".to_string(),
        )]),
        default_plate_country: Some("US".into()),
        ..IngestSettings::default()
    }
}

async fn post(
    address: SocketAddr,
    vendor: &str,
    authorization: Option<String>,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("http://{address}/v1/ingest/{vendor}"))
        .header("content-type", content_type)
        .body(body);
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn bearer() -> Option<String> {
    Some(format!("Bearer {TOKEN}"))
}

fn reads_of(records: &[TestRecord]) -> Vec<CameraRead> {
    records
        .iter()
        .map(|record| decode::<CameraRead>(record.payload.as_ref().unwrap()).unwrap())
        .collect()
}

fn read_id_in(answer: &Value) -> String {
    answer["read_ids"][0].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendor_endpoint_publishes_one_read_per_vehicle() {
    let kafka = fresh_settings("ingest_vendor_http").await;
    let folder = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let shutdown = ShutdownToken::new();
    let ingest = tokio::spawn(alpr_ingest::run(
        settings(false),
        kafka.clone(),
        listener,
        Arc::new(fixed_now),
        Some(ImageStore::local(folder.path()).unwrap()),
        shutdown.clone(),
    ));
    let openalpr_accepted = READS_ACCEPTED.with_label_values(&["http", "vendor-openalpr"]);
    let openalpr_before = openalpr_accepted.get();
    let hikvision_skipped = VENDOR_RESENDS_SKIPPED.with_label_values(&["http", "vendor-hikvision"]);
    let hikvision_skipped_before = hikvision_skipped.get();

    // Frames are acknowledged without a read; the group becomes one.
    let (status, answer) = post(
        address,
        "openalpr",
        bearer(),
        "application/json",
        sample("openalpr_frame.json"),
    )
    .await;
    assert_eq!(
        (status, answer["accepted"].as_u64()),
        (200, Some(0)),
        "{answer}"
    );
    let (status, answer) = post(
        address,
        "openalpr",
        bearer(),
        "application/json",
        sample("openalpr_group.json"),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    let openalpr_id = read_id_in(&answer);

    // A Hikvision retransmission gets the read id of the original.
    let (status, answer) = post(
        address,
        "hikvision",
        bearer(),
        "application/xml",
        sample("hikvision_anpr.xml"),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    let hikvision_id = read_id_in(&answer);
    let (status, answer) = post(
        address,
        "hikvision",
        bearer(),
        "application/xml",
        sample("hikvision_retransmission.xml"),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(read_id_in(&answer), hikvision_id);

    // Plate Recognizer's own scheme and a multipart body with its upload.
    let (status, answer) = post(
        address,
        "platerecognizer",
        Some(format!("Token {TOKEN}")),
        &sample_text("platerecognizer_multipart.content-type"),
        sample("platerecognizer_multipart.bin"),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    let platerecognizer_id = read_id_in(&answer);

    // Rejections: unknown vendor, missing token, unparseable body.
    let (status, answer) = post(
        address,
        "acme",
        bearer(),
        "application/json",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(status, 404, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("openalpr"),
        "{answer}"
    );
    let (status, _) = post(
        address,
        "genetec",
        None,
        "application/json",
        sample("genetec_full.json"),
    )
    .await;
    assert_eq!(status, 401);
    let (status, answer) = post(
        address,
        "genetec",
        bearer(),
        "application/json",
        br#"{"Plate":"ABC1"}"#.to_vec(),
    )
    .await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (400, Some("CameraId")),
        "{answer}"
    );

    // Every 202 came after the broker's acknowledgement, so the topic is complete now.
    let records = read_topic(&kafka, &kafka.topics().reads).await;
    shutdown.cancel();
    ingest.await.unwrap().unwrap();

    let reads = reads_of(&records);
    assert_eq!(reads.len(), 3, "the retransmission is not produced again");
    assert_eq!(hikvision_skipped.get() - hikvision_skipped_before, 1);
    let distinct: HashSet<&str> = reads.iter().map(|read| read.read_id.as_str()).collect();
    let expected: HashSet<&str> = [
        openalpr_id.as_str(),
        hikvision_id.as_str(),
        platerecognizer_id.as_str(),
    ]
    .into();
    assert_eq!(
        distinct, expected,
        "one read per vehicle, the retransmission under the same id"
    );
    assert_eq!(openalpr_accepted.get() - openalpr_before, 1);

    let openalpr = reads
        .iter()
        .find(|read| read.read_id == openalpr_id)
        .unwrap();
    assert_eq!(openalpr.source, "vendor-openalpr");
    assert_eq!(openalpr.plate.normalised, "7ABC123");
    let platerecognizer = reads
        .iter()
        .find(|read| read.read_id == platerecognizer_id)
        .unwrap();
    let image_ref = platerecognizer
        .image_ref
        .as_deref()
        .expect("the upload is stored");
    assert!(image_ref.ends_with(".png"), "{image_ref}");
    assert!(
        folder.path().join(image_ref).exists(),
        "{image_ref} is not in the store"
    );
}

async fn produce(
    producer: &FutureProducer,
    topic: &str,
    key: &str,
    payload: &[u8],
    headers: &[(&str, &str)],
) {
    let mut owned = OwnedHeaders::new().insert(Header {
        key: ORGANISATION_HEADER,
        value: Some("hoa-lakeview"),
    });
    for (name, value) in headers {
        owned = owned.insert(Header {
            key: name,
            value: Some(*value),
        });
    }
    producer
        .send(
            FutureRecord::to(topic)
                .key(key)
                .payload(payload)
                .headers(owned),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_topic_vendor_header_selects_the_adapter() {
    let kafka = fresh_settings("ingest_vendor_raw").await;
    let producer: FutureProducer = kafka.client_config().create().unwrap();
    let raw = kafka.topics().reads_raw;

    produce(
        &producer,
        &raw,
        "frigate-update",
        &sample("frigate_update.json"),
        &[(VENDOR_HEADER, "frigate")],
    )
    .await;
    // The second copy is a resend: same event, so same read id, and not produced again.
    for _ in 0..2 {
        produce(
            &producer,
            &raw,
            "frigate-end",
            &sample("frigate_end.json"),
            &[(VENDOR_HEADER, "frigate")],
        )
        .await;
    }
    let hikvision_type = sample_text("hikvision_multipart.content-type");
    produce(
        &producer,
        &raw,
        "hikvision-multipart",
        &sample("hikvision_multipart.bin"),
        &[
            (VENDOR_HEADER, "hikvision"),
            (CONTENT_TYPE_HEADER, &hikvision_type),
        ],
    )
    .await;
    produce(
        &producer,
        &raw,
        "genetec-broken",
        br#"{"Plate":"ABC1"}"#,
        &[(VENDOR_HEADER, "genetec")],
    )
    .await;
    produce(
        &producer,
        &raw,
        "unknown-vendor",
        &sample("frigate_end.json"),
        &[(VENDOR_HEADER, "acme")],
    )
    .await;

    let skipped = VENDOR_RESENDS_SKIPPED.with_label_values(&["raw_topic", "vendor-frigate"]);
    let skipped_before = skipped.get();
    let folder = tempfile::tempdir().unwrap();
    let shutdown = ShutdownToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ingest = tokio::spawn(alpr_ingest::run(
        settings(true),
        kafka.clone(),
        listener,
        Arc::new(chrono::Utc::now),
        Some(ImageStore::local(folder.path()).unwrap()),
        shutdown.clone(),
    ));
    let topics = kafka.topics();
    let dead = wait_for_records(
        &kafka,
        &topics.reads_dlq,
        Duration::from_secs(60),
        |records| records.len() >= 2,
    )
    .await;
    let records = wait_for_records(&kafka, &topics.reads, Duration::from_secs(60), |records| {
        records.len() >= 2
    })
    .await;
    // The resent frigate record is consumed after the first one, in the same partition.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while skipped.get() == skipped_before {
        assert!(
            std::time::Instant::now() < deadline,
            "the resent frigate record was not skipped"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    ingest.await.unwrap().unwrap();

    let reads = reads_of(&records);
    assert_eq!(
        reads.len(),
        2,
        "the frigate update gives no read, and its resent end no second one"
    );
    assert_eq!(skipped.get() - skipped_before, 1);
    let frigate = reads
        .iter()
        .find(|read| read.source == "vendor-frigate")
        .expect("frigate read");
    assert_eq!(frigate.camera_id, "driveway");
    assert_eq!(frigate.organisation_id, "hoa-lakeview");
    assert_eq!(frigate.plate.normalised, "ABC123");
    let hikvision = reads
        .iter()
        .find(|read| read.source == "vendor-hikvision")
        .expect("hikvision read");
    assert_eq!(hikvision.plate.normalised, "GHJ4321");
    let image_ref = hikvision
        .image_ref
        .as_deref()
        .expect("the scene picture is stored");
    assert!(
        folder.path().join(image_ref).exists(),
        "{image_ref} is not in the store"
    );
    assert_eq!(frigate.image_ref, None, "frigate events carry no picture");

    assert_eq!(dead.len(), 2);
    let broken = dead
        .iter()
        .find(|record| record.key.as_deref() == Some(&b"genetec-broken"[..]))
        .unwrap();
    assert_eq!(broken.header(REJECT_REASON_HEADER), Some(&b"malformed"[..]));
    assert_eq!(broken.header(REJECT_FIELD_HEADER), Some(&b"CameraId"[..]));
    assert_eq!(broken.payload.as_deref(), Some(&br#"{"Plate":"ABC1"}"#[..]));
    let unknown = dead
        .iter()
        .find(|record| record.key.as_deref() == Some(&b"unknown-vendor"[..]))
        .unwrap();
    assert_eq!(
        unknown.header(REJECT_REASON_HEADER),
        Some(&b"unknown_vendor"[..])
    );
    assert_eq!(
        unknown.header(REJECT_FIELD_HEADER),
        Some(VENDOR_HEADER.as_bytes())
    );

    // Nothing more arrives later: reading again finds the same records.
    assert_eq!(read_topic(&kafka, &topics.reads).await.len(), records.len());
}
