//! Camera tokens from the registry against the local broker: a camera added with the admin
//! function posts a read with its own token, the read carries the camera's organisation, and
//! the same token is forbidden for another camera. A camera added while ingest runs is accepted
//! once the follower has seen it.
//!
//! Needs the local broker: `deploy/local/kafka.sh start`, and `ALPR_KAFKA_BOOTSTRAP` when it
//! listens elsewhere than 127.0.0.1:9092.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use alpr_ingest::IngestSettings;
use alpr_platform::testkit::{fresh_settings, wait_for_records};
use alpr_platform::{KafkaSettings, ShutdownToken};
use alpr_registry::admin::{self, NewCamera};
use alpr_schemas::{decode, CameraRead, OrganisationLevel};

fn fixed_now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2021-10-01T20:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn read_from(camera_id: &str, event_id: &str) -> Value {
    json!({
        "camera_id": camera_id,
        "event_id": event_id,
        "captured_at": "2021-10-01T12:59:00-07:00",
        "location": {"latitude": 47.61, "longitude": -122.33},
        "plate": {"text": "7abc 123", "region": "US-WA", "confidence": 0.93}
    })
}

async fn add_camera(kafka: &KafkaSettings, camera_id: &str) -> String {
    let camera = NewCamera {
        camera_id: camera_id.into(),
        organisation_id: "spd".into(),
        name: format!("{camera_id} crossing"),
        latitude: 47.61,
        longitude: -122.33,
    };
    admin::add_camera(kafka, camera).await.unwrap().token
}

async fn post(client: &reqwest::Client, url: &str, token: &str, read: &Value) -> u16 {
    client
        .post(url)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(read.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_camera_token_owns_only_its_camera() {
    let kafka = fresh_settings("ingest_registry_tokens").await;
    admin::add_organisation(
        &kafka,
        "spd",
        "Seattle Police",
        OrganisationLevel::Local,
        Some("US-WA"),
    )
    .await
    .unwrap();
    let first_token = add_camera(&kafka, "cam-1").await;
    add_camera(&kafka, "cam-2").await;

    // No configured tokens, so every read that ingest accepts came with a registered token.
    let settings = IngestSettings {
        consume_raw_topic: false,
        ..IngestSettings::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/reads", listener.local_addr().unwrap());
    let shutdown = ShutdownToken::new();
    let task = tokio::spawn(alpr_ingest::run(
        settings,
        kafka.clone(),
        listener,
        Arc::new(fixed_now),
        None,
        shutdown.clone(),
    ));
    let client = reqwest::Client::new();

    let own = post(&client, &url, &first_token, &read_from("cam-1", "e-1")).await;
    assert_eq!(own, 202, "cam-1 with its own token");
    let other = post(&client, &url, &first_token, &read_from("cam-2", "e-2")).await;
    assert_eq!(other, 403, "cam-2 with the token of cam-1");
    let guessed = post(
        &client,
        &url,
        "alpr_camera_guess",
        &read_from("cam-1", "e-3"),
    )
    .await;
    assert_eq!(guessed, 401, "a token that is not registered");

    // A camera added while ingest runs is accepted once the follower applied it.
    let late_token = add_camera(&kafka, "cam-3").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status = post(&client, &url, &late_token, &read_from("cam-3", "e-4")).await;
        if status == 202 {
            break;
        }
        assert_eq!(status, 401, "cam-3 before the follower saw it");
        assert!(Instant::now() < deadline, "cam-3 still unknown after 5 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let records = wait_for_records(
        &kafka,
        &kafka.topics().reads,
        Duration::from_secs(30),
        |records| records.len() >= 2,
    )
    .await;
    let mut cameras: Vec<(String, String)> = records
        .iter()
        .map(|record| {
            let read = decode::<CameraRead>(record.payload.as_deref().unwrap()).unwrap();
            (read.camera_id, read.organisation_id)
        })
        .collect();
    cameras.sort();
    assert_eq!(
        cameras,
        vec![
            ("cam-1".to_string(), "spd".to_string()),
            ("cam-3".to_string(), "spd".to_string())
        ]
    );

    shutdown.cancel();
    task.await.unwrap().unwrap();
}
