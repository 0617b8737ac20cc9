//! Ingest over HTTP against the local broker: bad input of every kind gets a status
//! and a message naming the field, and none of it reaches the reads topic; good reads do, and
//! a full producer queue answers 503.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use alpr_ingest::{CameraToken, IngestSettings};
use alpr_platform::testkit::{fresh_settings, read_topic};
use alpr_platform::{KafkaSettings, ShutdownToken};
use alpr_schemas::{decode, CameraRead};

const TOKEN: &str = "north-precinct-secret";

fn fixed_now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2021-10-01T20:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

struct RunningIngest {
    address: SocketAddr,
    shutdown: ShutdownToken,
    task: tokio::task::JoinHandle<Result<(), alpr_ingest::IngestError>>,
}

impl RunningIngest {
    async fn start(kafka: &KafkaSettings, queue_max_messages: u32) -> Self {
        let settings = IngestSettings {
            consume_raw_topic: false,
            producer_queue_max_messages: queue_max_messages,
            tokens: vec![CameraToken {
                token: TOKEN.into(),
                organisation: "spd".into(),
                cameras: vec!["cam-1".into()],
            }],
            ..IngestSettings::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let shutdown = ShutdownToken::new();
        let task = tokio::spawn(alpr_ingest::run(
            settings,
            kafka.clone(),
            listener,
            Arc::new(fixed_now),
            None,
            shutdown.clone(),
        ));
        Self {
            address,
            shutdown,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/v1/reads", self.address)
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

fn good_read(event_id: &str) -> Value {
    json!({
        "camera_id": "cam-1",
        "event_id": event_id,
        "captured_at": "2021-10-01T12:59:00-07:00",
        "location": {"latitude": 47.61, "longitude": -122.33},
        "plate": {"text": "7abc 123", "region": "US-WA", "confidence": 0.93}
    })
}

fn with(mut read: Value, pointer: &str, value: Value) -> Value {
    *read.pointer_mut(pointer).unwrap() = value;
    read
}

fn without(mut read: Value, field: &str) -> Value {
    read.as_object_mut().unwrap().remove(field);
    read
}

struct Case {
    name: &'static str,
    content_type: Option<&'static str>,
    token: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    /// Text the answer's `field` or `error` must contain.
    mentions: &'static str,
}

fn case(name: &'static str, body: Value, status: u16, mentions: &'static str) -> Case {
    Case {
        name,
        content_type: Some("application/json"),
        token: Some(TOKEN),
        body: body.to_string().into_bytes(),
        status,
        mentions,
    }
}

fn bad_input_cases() -> Vec<Case> {
    let good = good_read("never-stored");
    let mut cases = vec![
        Case {
            token: None,
            ..case("no token", good.clone(), 401, "bearer token")
        },
        Case {
            token: Some("guessed"),
            ..case("unknown token", good.clone(), 401, "bearer token")
        },
        case(
            "camera not owned",
            with(good.clone(), "/camera_id", json!("cam-2")),
            403,
            "cam-2",
        ),
        case(
            "missing camera",
            without(good.clone(), "camera_id"),
            422,
            "camera_id",
        ),
        case(
            "plate of bad characters only",
            with(good.clone(), "/plate/text", json!("-- ·· --")),
            422,
            "plate.text",
        ),
        case(
            "latitude above 90",
            with(good.clone(), "/location/latitude", json!(91.5)),
            422,
            "location.latitude",
        ),
        case(
            "longitude below -180",
            with(good.clone(), "/location/longitude", json!(-180.5)),
            422,
            "location.longitude",
        ),
        case(
            "captured in the future",
            with(good.clone(), "/captured_at", json!("2021-10-01T20:10:00Z")),
            422,
            "captured_at",
        ),
        case(
            "time without offset",
            with(good.clone(), "/captured_at", json!("2021-10-01T12:59:00")),
            422,
            "no UTC offset",
        ),
        case(
            "missing captured_at",
            without(good.clone(), "captured_at"),
            422,
            "captured_at",
        ),
        case(
            "empty plate while present",
            with(good.clone(), "/plate", json!({"text": "", "present": true})),
            422,
            "plate.text",
        ),
        case(
            "confidence above 1",
            with(good.clone(), "/plate/confidence", json!(1.5)),
            422,
            "plate.confidence",
        ),
        case(
            "region not ISO 3166-2",
            with(good.clone(), "/plate/region", json!("California")),
            422,
            "plate.region",
        ),
        case(
            "array where object belongs",
            json!([good.clone()]),
            400,
            "array",
        ),
        case(
            "plate as array",
            with(good.clone(), "/plate", json!(["7ABC123"])),
            400,
            "plate",
        ),
        case(
            "latitude as text",
            with(good.clone(), "/location/latitude", json!("north")),
            400,
            "location.latitude",
        ),
        case(
            "unknown field",
            with(good.clone(), "/plate/text", json!("7ABC123"))
                .as_object()
                .cloned()
                .map(|mut o| {
                    o.insert("driver_face".into(), json!("..."));
                    Value::Object(o)
                })
                .unwrap(),
            400,
            "driver_face",
        ),
    ];
    cases.push(Case {
        body: b"{\"camera_id\": \"cam-1\", \"plate\": ".to_vec(),
        ..case("truncated json", json!(null), 400, "body")
    });
    let mut invalid_utf8 = good.to_string().into_bytes();
    invalid_utf8.splice(5..5, [0xff, 0xfe]);
    cases.push(Case {
        body: invalid_utf8,
        ..case("invalid utf-8", json!(null), 400, "UTF-8")
    });
    cases.push(Case {
        body: vec![b' '; 10 * 1024 * 1024],
        ..case("10 MB body", json!(null), 413, "limit")
    });
    cases.push(Case {
        content_type: Some("text/plain"),
        ..case("wrong content type", good.clone(), 415, "content-type")
    });
    cases.push(Case {
        content_type: None,
        ..case("missing content type", good.clone(), 415, "content-type")
    });
    cases.push(Case {
        content_type: Some("application/x-ndjson"),
        body: b"\n\n".to_vec(),
        ..case("empty batch", json!(null), 400, "empty batch")
    });
    cases.push(Case {
        content_type: Some("application/x-ndjson"),
        body: format!(
            "{}\n{}\n",
            without(good.clone(), "camera_id"),
            with(good.clone(), "/location/latitude", json!(-95))
        )
        .into_bytes(),
        ..case("batch of bad lines only", json!(null), 422, "camera_id")
    });
    cases
}

async fn send(client: &reqwest::Client, url: &str, case: &Case) -> (u16, Value) {
    let mut request = client.post(url).body(case.body.clone());
    if let Some(content_type) = case.content_type {
        request = request.header("content-type", content_type);
    }
    if let Some(token) = case.token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|error| panic!("{}: {error}", case.name));
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

fn read_ids_on_topic(records: &[alpr_platform::testkit::TestRecord]) -> Vec<String> {
    records
        .iter()
        .map(|record| {
            decode::<CameraRead>(record.payload.as_ref().unwrap())
                .unwrap()
                .read_id
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_answered_and_never_stored() {
    let kafka = fresh_settings("ingest_bad_input").await;
    let ingest = RunningIngest::start(&kafka, 100_000).await;
    let client = reqwest::Client::new();

    let forbidden =
        alpr_ingest::metrics::READS_REJECTED.with_label_values(&["http", "http-json", "forbidden"]);
    let forbidden_before = forbidden.get();
    let cases = bad_input_cases();
    assert!(cases.len() >= 15);
    for case in &cases {
        let (status, body) = send(&client, &ingest.url(), case).await;
        assert_eq!(status, case.status, "{}: answer {body}", case.name);
        let text = body.to_string();
        assert!(
            text.contains(case.mentions),
            "{}: answer {text} does not mention {:?}",
            case.name,
            case.mentions
        );
    }

    assert_eq!(
        forbidden.get() - forbidden_before,
        1,
        "the 403 is counted under its reason"
    );

    // A batch with one good and one bad line: the good one is accepted, the bad one named.
    let mixed = format!(
        "{}\n{}\n",
        good_read("mixed-good"),
        with(good_read("mixed-bad"), "/location/latitude", json!(123))
    );
    let (status, body) = send(
        &client,
        &ingest.url(),
        &Case {
            content_type: Some("application/x-ndjson"),
            body: mixed.into_bytes(),
            ..case("mixed batch", json!(null), 202, "")
        },
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["accepted"], 1);
    assert_eq!(body["rejected"][0]["line"], 2);
    assert_eq!(body["rejected"][0]["field"], "location.latitude");

    let (status, body) = send(
        &client,
        &ingest.url(),
        &case("sentinel", good_read("sentinel"), 202, ""),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let sentinel_id = body["read_id"].as_str().unwrap().to_string();
    ingest.stop().await;

    let records = read_topic(&kafka, &kafka.topics().reads).await;
    let mut ids = read_ids_on_topic(&records);
    ids.sort();
    let mut expected = vec![
        alpr_ingest::validate::read_id_for_event("cam-1", "mixed-good").to_string(),
        sentinel_id,
    ];
    expected.sort();
    assert_eq!(
        ids, expected,
        "only the two good reads may reach the reads topic"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_read_is_normalised_and_partitioned_by_plate() {
    let kafka = fresh_settings("ingest_good_read").await;
    let ingest = RunningIngest::start(&kafka, 100_000).await;
    let client = reqwest::Client::new();

    let (status, body) = send(
        &client,
        &ingest.url(),
        &case("good", good_read("evt-1"), 202, ""),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    // Re-sending the same event gives the same read id.
    let (_, again) = send(
        &client,
        &ingest.url(),
        &case("again", good_read("evt-1"), 202, ""),
    )
    .await;
    assert_eq!(body["read_id"], again["read_id"]);
    ingest.stop().await;

    let records = read_topic(&kafka, &kafka.topics().reads).await;
    assert_eq!(records.len(), 2);
    let read: CameraRead = decode(records[0].payload.as_ref().unwrap()).unwrap();
    assert_eq!(read.plate.normalised, "7ABC123");
    assert_eq!(read.plate.text, "7abc 123");
    assert_eq!(read.organisation_id, "spd");
    assert_eq!(read.received_at, fixed_now().timestamp_micros());
    assert_eq!(records[0].key.as_deref(), Some(read.read_id.as_bytes()));
    let expected_partition = alpr_platform::partition_for_key(b"7ABC123", kafka.partitions);
    assert_eq!(records[0].partition, expected_partition);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_producer_queue_answers_503() {
    let kafka = fresh_settings("ingest_queue_full").await;
    let ingest = RunningIngest::start(&kafka, 1).await;
    let client = reqwest::Client::new();

    let batch: String = (0..200)
        .map(|index| format!("{}\n", good_read(&format!("burst-{index}"))))
        .collect();
    let (status, body) = send(
        &client,
        &ingest.url(),
        &Case {
            content_type: Some("application/x-ndjson"),
            body: batch.into_bytes(),
            ..case("burst", json!(null), 202, "")
        },
    )
    .await;
    let accepted = body["accepted"].as_u64().unwrap();
    let rejected = body["rejected"].as_array().unwrap();
    assert!(accepted >= 1, "{body}");
    assert!(
        !rejected.is_empty(),
        "a queue of one must overflow on a burst of 200: {body}"
    );
    assert!(rejected.iter().all(|line| line["status"] == 503), "{body}");
    assert_eq!(accepted as usize + rejected.len(), 200);
    assert!(status == 202 || status == 503);
    ingest.stop().await;

    // Exactly the accepted reads are on the topic.
    let records = read_topic(&kafka, &kafka.topics().reads).await;
    assert_eq!(records.len() as u64, accepted);
}
