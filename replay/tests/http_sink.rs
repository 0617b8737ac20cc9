//! Runs the HTTP sink against a scripted stand-in for ingest on 127.0.0.1, to check what it
//! sends again after a 503, what it counts as rejected and when it gives up.

// A failed unwrap in a test is a failed test, with the value in its message.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use alpr_ingest::submission::ReadSubmission;
use alpr_replay::{
    replay, HttpSink, HttpSinkConfig, ProblemKind, ReplayError, ReplayOptions, RetryPolicy,
    RowError, SinkError, SourceRow,
};

/// A request as the stand-in received it.
#[derive(Debug, Clone)]
struct Received {
    authorization: Option<String>,
    content_type: Option<String>,
    body_lines: Vec<String>,
}

/// A response the stand-in sends: status, extra headers and body.
type Response = (u16, Vec<(&'static str, &'static str)>, String);

/// Serves one scripted response per connection, in order, and records each request. Every
/// response closes its connection, so each request arrives on a new one.
async fn scripted_ingest(responses: Vec<Response>) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    tokio::spawn(async move {
        for (status, headers, body) in responses {
            let (stream, _) = listener.accept().await.unwrap();
            let mut stream = BufReader::new(stream);
            let mut request = Received {
                authorization: None,
                content_type: None,
                body_lines: Vec::new(),
            };
            let mut content_length = 0;
            loop {
                let mut line = String::new();
                stream.read_line(&mut line).await.unwrap();
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                let (name, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.trim().to_string();
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => content_length = value.parse().unwrap(),
                    "authorization" => request.authorization = Some(value),
                    "content-type" => request.content_type = Some(value),
                    _ => {}
                }
            }
            let mut request_body = vec![0; content_length];
            stream.read_exact(&mut request_body).await.unwrap();
            request.body_lines = String::from_utf8(request_body)
                .unwrap()
                .lines()
                .map(String::from)
                .collect();
            log.lock().unwrap().push(request);

            let mut response = format!(
                "HTTP/1.1 {status} Scripted\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (name, value) in headers {
                response.push_str(&format!("{name}: {value}\r\n"));
            }
            response.push_str("\r\n");
            response.push_str(&body);
            stream
                .get_mut()
                .write_all(response.as_bytes())
                .await
                .unwrap();
            stream.get_mut().shutdown().await.unwrap();
        }
    });
    (base_url, received)
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        initial_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(20),
        max_attempts: 3,
    }
}

fn sink(base_url: &str, batch_size: usize) -> HttpSink {
    let mut config = HttpSinkConfig::new(base_url, "test-token");
    config.batch_size = batch_size;
    config.retry = quick_retries();
    HttpSink::new(config).unwrap()
}

fn reads(count: u64) -> std::vec::IntoIter<SourceRow> {
    let rows: Vec<SourceRow> = (0..count)
        .map(|index| {
            let submission = ReadSubmission {
                camera_id: Some("cam-1".into()),
                event_id: Some(format!("e-{index}")),
                captured_at: Some("2021-10-01T19:00:00Z".into()),
                ..Default::default()
            };
            (index + 2, Ok::<_, RowError>(submission))
        })
        .collect();
    rows.into_iter()
}

fn event_ids(request: &Received) -> Vec<String> {
    request
        .body_lines
        .iter()
        .map(|line| {
            let submission: ReadSubmission = serde_json::from_str(line).unwrap();
            submission.event_id.unwrap()
        })
        .collect()
}

#[tokio::test]
async fn only_unaccepted_lines_are_sent_again() {
    let (base_url, received) = scripted_ingest(vec![
        (503, vec![("Retry-After", "0")], r#"{"error": "ingest is at capacity"}"#.into()),
        (
            202,
            vec![("Retry-After", "0")],
            r#"{"accepted": 2, "read_ids": ["r0", "r3"], "rejected": [
                {"line": 2, "status": 422, "reason": "invalid_plate", "field": "plate.text", "error": "empty"},
                {"line": 3, "status": 503, "reason": "queue_full", "field": "body", "error": "at capacity"}]}"#
                .into(),
        ),
        (202, vec![], r#"{"accepted": 1, "read_ids": ["r2"], "rejected": []}"#.into()),
    ])
    .await;
    let mut sink = sink(&base_url, 10);
    let summary = replay(reads(4), &mut sink, &ReplayOptions::default())
        .await
        .unwrap();

    assert_eq!(summary.rows, 4);
    assert_eq!(summary.accepted, 3);
    assert_eq!(summary.read_ids, 3);
    assert_eq!(summary.rejected, 1);
    assert_eq!(summary.problems[0].line, 3);
    assert_eq!(summary.problems[0].kind, ProblemKind::Rejected);
    assert!(
        summary.problems[0].message.contains("plate.text: empty"),
        "{:?}",
        summary.problems
    );

    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 3);
    assert_eq!(event_ids(&received[0]), vec!["e-0", "e-1", "e-2", "e-3"]);
    assert_eq!(event_ids(&received[1]), vec!["e-0", "e-1", "e-2", "e-3"]);
    assert_eq!(event_ids(&received[2]), vec!["e-2"]);
    assert_eq!(
        received[0].authorization.as_deref(),
        Some("Bearer test-token")
    );
    assert_eq!(
        received[0].content_type.as_deref(),
        Some("application/x-ndjson")
    );
}

#[tokio::test]
async fn batch_with_no_accepted_line_is_applied() {
    // Ingest responds with 422 and the batch body when every line of a batch is invalid.
    let (base_url, received) = scripted_ingest(vec![(
        422,
        vec![],
        r#"{"accepted": 0, "read_ids": [], "rejected": [
            {"line": 1, "status": 422, "field": "captured_at", "error": "in the future"},
            {"line": 2, "status": 422, "field": "captured_at", "error": "in the future"}]}"#
            .into(),
    )])
    .await;
    let mut sink = sink(&base_url, 10);
    let summary = replay(reads(2), &mut sink, &ReplayOptions::default())
        .await
        .unwrap();
    assert_eq!(summary.accepted, 0);
    assert_eq!(summary.rejected, 2);
    assert_eq!(received.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn unknown_token_stops_replay() {
    let (base_url, _received) = scripted_ingest(vec![(
        401,
        vec![("WWW-Authenticate", "Bearer")],
        r#"{"error": "authorization: unknown token"}"#.into(),
    )])
    .await;
    let mut sink = sink(&base_url, 10);
    let error = replay(reads(3), &mut sink, &ReplayOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ReplayError::Sink {
                source: SinkError::Unauthorized { status: 401, .. },
                ..
            }
        ),
        "{error}"
    );
}

#[tokio::test]
async fn unreachable_ingest_exhausts_retries() {
    // Connections to a port that was just free and has no listener now are refused.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let mut sink = sink(&base_url, 10);
    let error = replay(reads(2), &mut sink, &ReplayOptions::default())
        .await
        .unwrap_err();
    let ReplayError::Sink { source, summary } = error else {
        panic!("expected a sink error, found {error}");
    };
    assert!(
        matches!(source, SinkError::RetriesExhausted { attempts: 3, .. }),
        "{source}"
    );
    assert_eq!(summary.accepted, 0);
    assert_eq!(summary.rows, 0);
}
