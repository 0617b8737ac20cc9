//! Unit tests of the HTTP sink that need no server.

use super::*;
use alpr_ingest::submission::ReadSubmission;

fn pending(lines: &[u64]) -> Vec<NumberedSubmission> {
    lines
        .iter()
        .map(|line| (*line, ReadSubmission::default()))
        .collect()
}

fn response(json: &str) -> BatchResponse {
    serde_json::from_str(json).unwrap()
}

#[test]
fn response_splits_accepted_rejected_and_retried() {
    let mut outcome = BatchOutcome::default();
    let response = response(
        r#"{"accepted": 2, "read_ids": ["a", "b"], "rejected": [
            {"line": 2, "status": 422, "field": "plate.text", "error": "empty"},
            {"line": 4, "status": 503, "field": "body", "error": "queue full"}]}"#,
    );
    let retry = apply_response(response, pending(&[10, 11, 12, 13]), &mut outcome).unwrap();
    assert_eq!(outcome.accepted, 2);
    assert_eq!(outcome.read_ids, 2);
    assert_eq!(outcome.rejected.len(), 1);
    assert_eq!(outcome.rejected[0].line, 11);
    assert!(outcome.rejected[0].message.starts_with("plate.text: empty"));
    let retry_lines: Vec<u64> = retry.iter().map(|(line, _)| *line).collect();
    assert_eq!(retry_lines, vec![13]);
}

#[test]
fn line_outside_batch_is_protocol_error() {
    let mut outcome = BatchOutcome::default();
    let response =
        response(r#"{"accepted": 1, "rejected": [{"line": 3, "status": 422, "error": "x"}]}"#);
    let error = apply_response(response, pending(&[1, 2]), &mut outcome).unwrap_err();
    assert!(matches!(error, SinkError::Protocol(_)), "{error}");
}

#[test]
fn inconsistent_count_is_protocol_error() {
    let mut outcome = BatchOutcome::default();
    let response = response(r#"{"accepted": 1, "read_ids": ["a"]}"#);
    let error = apply_response(response, pending(&[1, 2]), &mut outcome).unwrap_err();
    assert!(matches!(error, SinkError::Protocol(_)), "{error}");
}

#[test]
fn https_url_is_rejected() {
    let error = HttpSink::new(HttpSinkConfig::new("https://127.0.0.1:8443", "t")).unwrap_err();
    assert!(error.to_string().contains("no TLS support"), "{error}");
}

#[test]
fn debug_output_hides_token() {
    let config = HttpSinkConfig::new(DEFAULT_BASE_URL, "secret-token");
    assert!(!format!("{config:?}").contains("secret-token"));
}

#[test]
fn unknown_token_is_unauthorized() {
    let body =
        r#"{"error": "authorization: missing or unknown bearer token", "field": "authorization"}"#;
    let error = classify_response(StatusCode::UNAUTHORIZED, None, body)
        .err()
        .unwrap();
    assert!(
        matches!(error, SinkError::Unauthorized { status: 401, .. }),
        "{error}"
    );
}

#[test]
fn whole_request_503_is_retried() {
    let body = r#"{"error": "ingest is at capacity", "field": "body"}"#;
    let attempt = classify_response(
        StatusCode::SERVICE_UNAVAILABLE,
        Some(Duration::from_secs(1)),
        body,
    );
    let Ok(Attempt::Retry { retry_after, .. }) = attempt else {
        panic!("expected a retry");
    };
    assert_eq!(retry_after, Some(Duration::from_secs(1)));
}

#[test]
fn batch_body_is_applied_whatever_status() {
    let body = r#"{"accepted": 0, "read_ids": [], "rejected": [{"line": 1, "status": 422, "field": "plate.text", "error": "empty"}]}"#;
    let attempt = classify_response(StatusCode::UNPROCESSABLE_ENTITY, None, body);
    assert!(matches!(attempt, Ok(Attempt::Responded { .. })));
}

#[test]
fn other_client_error_stops_replay() {
    let attempt = classify_response(StatusCode::UNSUPPORTED_MEDIA_TYPE, None, "{}");
    assert!(matches!(
        attempt,
        Err(SinkError::Request { status: 415, .. })
    ));
    let attempt = classify_response(StatusCode::PAYLOAD_TOO_LARGE, None, "too large");
    let Err(error) = attempt else {
        panic!("expected an error");
    };
    assert!(
        error.to_string().contains("lower the batch size"),
        "{error}"
    );
}
