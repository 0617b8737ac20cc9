//! Images sent with reads over HTTP, against the local broker. An accepted read's `image_ref`
//! names a stored object with the bytes that were sent. A bad image gets a 422 naming its
//! field, and neither the read nor an image is stored.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use alpr_images::ImageStore;
use alpr_ingest::{CameraToken, IngestSettings};
use alpr_platform::testkit::{fresh_settings, read_topic};
use alpr_platform::ShutdownToken;
use alpr_schemas::{decode, CameraRead};

const TOKEN: &str = "image-camera-secret";
const MAX_IMAGE_BYTES: usize = 1_000;
/// The start of a JPEG file (SOI and an APP0 marker), then filler bytes.
const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0, 1,
];

fn fixed_now() -> DateTime<Utc> {
    "2021-10-01T20:00:00Z".parse().unwrap()
}

fn encoded(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn read_with_image(event_id: &str, image: Value) -> Value {
    json!({
        "camera_id": "cam-1",
        "event_id": event_id,
        "captured_at": "2021-10-01T12:59:00-07:00",
        "plate": {"text": "7abc 123", "region": "US-WA"},
        "image": image
    })
}

async fn start_ingest(
    kafka: &alpr_platform::KafkaSettings,
    images: Option<ImageStore>,
) -> (
    SocketAddr,
    ShutdownToken,
    tokio::task::JoinHandle<Result<(), alpr_ingest::IngestError>>,
) {
    let settings = IngestSettings {
        consume_raw_topic: false,
        max_image_bytes: MAX_IMAGE_BYTES,
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
        images,
        shutdown.clone(),
    ));
    (address, shutdown, task)
}

async fn post(address: SocketAddr, content_type: &str, body: String) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("http://{address}/v1/reads"))
        .header("content-type", content_type)
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn files_under(folder: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![folder.to_path_buf()];
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_is_stored_before_its_read() {
    let kafka = fresh_settings("ingest_images").await;
    let folder = tempfile::tempdir().unwrap();
    let store = ImageStore::local(folder.path()).unwrap();
    let stored_before = alpr_ingest::metrics::IMAGES_STORED.get();
    let (address, shutdown, task) = start_ingest(&kafka, Some(store.clone())).await;

    let image = json!({"media_type": "image/jpeg", "base64": encoded(JPEG)});
    let (status, body) = post(
        address,
        "application/json",
        read_with_image("with-image", image.clone()).to_string(),
    )
    .await;
    assert_eq!(status, 202, "{body}");

    // In a batch, each line's image is stored under its own read.
    let batch = format!(
        "{}\n{}\n",
        read_with_image("batch-1", image.clone()),
        read_with_image("batch-2", image.clone())
    );
    let (status, body) = post(address, "application/x-ndjson", batch).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["accepted"], 2, "{body}");

    let records = read_topic(&kafka, &kafka.topics().reads).await;
    assert_eq!(records.len(), 3);
    for record in &records {
        let read: CameraRead = decode(record.payload.as_ref().unwrap()).unwrap();
        let image_ref = read.image_ref.clone().unwrap();
        assert_eq!(
            image_ref,
            format!("spd/2021-10-01/{}.jpg", read.read_id),
            "key of organisation, capture day and read id"
        );
        let bytes = store.get(&image_ref).await.unwrap().unwrap();
        assert_eq!(bytes.as_ref(), JPEG, "stored bytes of {image_ref}");
    }
    assert_eq!(files_under(folder.path()).len(), 3);
    assert_eq!(alpr_ingest::metrics::IMAGES_STORED.get() - stored_before, 3);

    shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_images_are_rejected_and_never_stored() {
    let kafka = fresh_settings("ingest_bad_images").await;
    let folder = tempfile::tempdir().unwrap();
    let store = ImageStore::local(folder.path()).unwrap();
    let (address, shutdown, task) = start_ingest(&kafka, Some(store)).await;

    let oversized = [JPEG, &[0u8; MAX_IMAGE_BYTES]].concat();
    let mut with_both = read_with_image(
        "both",
        json!({"media_type": "image/jpeg", "base64": encoded(JPEG)}),
    );
    with_both["image_ref"] = json!("spd/2021-10-01/elsewhere.jpg");
    let cases = [
        (
            "bad base64",
            read_with_image(
                "bad-base64",
                json!({"media_type": "image/jpeg", "base64": "not base64!"}),
            ),
            "image.base64",
            "invalid base64",
        ),
        (
            "unknown media type",
            read_with_image(
                "gif",
                json!({"media_type": "image/gif", "base64": encoded(JPEG)}),
            ),
            "image.media_type",
            "image/gif",
        ),
        (
            "oversize",
            read_with_image(
                "oversize",
                json!({"media_type": "image/jpeg", "base64": encoded(&oversized)}),
            ),
            "image.base64",
            "larger than the limit of 1000 bytes",
        ),
        (
            "bytes of another format",
            read_with_image(
                "png-bytes",
                json!({"media_type": "image/png", "base64": encoded(JPEG)}),
            ),
            "image.base64",
            "file signature",
        ),
        ("image and image_ref", with_both, "image", "not both"),
    ];
    for (name, read, field, mentions) in cases {
        let (status, body) = post(address, "application/json", read.to_string()).await;
        assert_eq!(status, 422, "{name}: {body}");
        assert_eq!(body["field"], field, "{name}: {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains(mentions), "{name}: {error}");
    }

    // A good read afterwards shows the topic was read to its end.
    let (status, body) = post(
        address,
        "application/json",
        json!({"camera_id": "cam-1", "captured_at": "2021-10-01T12:59:00-07:00",
               "plate": {"text": "GOOD1"}})
        .to_string(),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let records = read_topic(&kafka, &kafka.topics().reads).await;
    assert_eq!(records.len(), 1, "only the good read reached the topic");
    assert!(
        files_under(folder.path()).is_empty(),
        "no image of a rejected read is stored"
    );

    shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_without_store_is_rejected() {
    let kafka = fresh_settings("ingest_no_image_store").await;
    let (address, shutdown, task) = start_ingest(&kafka, None).await;
    let read = read_with_image(
        "no-store",
        json!({"media_type": "image/jpeg", "base64": encoded(JPEG)}),
    );
    let (status, body) = post(address, "application/json", read.to_string()).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "image");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("no image store configured"),
        "{body}"
    );
    assert!(read_topic(&kafka, &kafka.topics().reads).await.is_empty());
    shutdown.cancel();
    task.await.unwrap().unwrap();
}
