//! `POST /v1/reads`: one JSON read (`application/json`) or a batch of newline-delimited JSON
//! reads (`application/x-ndjson`). The response is 202 only after the broker acknowledged every
//! accepted read. In a batch, good lines are accepted and each bad line is reported by number.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use futures::StreamExt;
use serde::Serialize;
use serde_json::json;

use alpr_schemas::CameraRead;

use crate::auth::{bearer_token, Access};
use crate::image::{decode_image, discard_image, store_image, AdmittedImage};
use crate::metrics::{PATH_HTTP, PUBLISH_SECONDS, READS_ACCEPTED, READS_REJECTED};
use crate::publisher::PublishError;
use crate::submission::parse_submission;
use crate::validate::{validate_submission, RejectReason, Rejection};
use crate::IngestState;

/// Source recorded on reads that arrive over HTTP in alpr's own JSON form.
pub const HTTP_SOURCE: &str = "http-json";

/// Images of one batch written to the image store at the same time.
const MAX_CONCURRENT_IMAGE_WRITES: usize = 16;

pub fn router(state: Arc<IngestState>) -> Router {
    Router::new()
        .route("/v1/reads", post(post_reads))
        .route(
            "/v1/ingest/{vendor}",
            post(crate::http_vendor::post_vendor_body),
        )
        // The handler enforces its own limit so that the 413 response names it.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

enum BodyKind {
    Single,
    Batch,
}

fn body_kind(headers: &HeaderMap) -> Result<BodyKind, Rejection> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        "application/json" => Ok(BodyKind::Single),
        "application/x-ndjson" | "application/jsonl" | "application/json-seq" => Ok(BodyKind::Batch),
        _ => Err(Rejection::new(
            RejectReason::UnsupportedMediaType,
            "content-type",
            format!(
                "{content_type:?} is not supported; send application/json for one read or application/x-ndjson for a batch"
            ),
        )),
    }
}

async fn post_reads(
    State(state): State<Arc<IngestState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let kind = match body_kind(&headers) {
        Ok(kind) => kind,
        Err(rejection) => return reject(rejection),
    };
    let token = bearer_token(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    );
    if !state.tokens.is_known(token) {
        return reject(Rejection::new(
            RejectReason::Unauthenticated,
            "authorization",
            "missing or unknown bearer token",
        ));
    }
    let bytes = match read_body(&headers, body, state.settings.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(rejection) => return reject(rejection),
    };
    match kind {
        BodyKind::Single => accept_single(&state, token, &bytes).await,
        BodyKind::Batch => accept_batch(&state, token, &bytes).await,
    }
}

pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<bytes::Bytes, Rejection> {
    let too_large = || {
        Rejection::new(
            RejectReason::TooLarge,
            "body",
            format!("larger than the limit of {limit} bytes; split the batch"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        discard_body(body).await;
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())
}

/// Reads and drops a rejected body, up to a bound, before responding. A server that responds
/// while the client is still sending closes the connection with unread data, and the client's
/// TCP stack then often loses the response to the reset. Draining lets the client read its 413.
async fn discard_body(body: Body) {
    const MAX_DISCARDED_BYTES: usize = 64 * 1024 * 1024;
    const MAX_DISCARD_TIME: std::time::Duration = std::time::Duration::from_secs(10);
    let drained = tokio::time::timeout(MAX_DISCARD_TIME, async {
        use http_body_util::BodyExt;
        let mut body = body;
        let mut discarded = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            discarded += frame.data_ref().map_or(0, |data| data.len());
            if discarded > MAX_DISCARDED_BYTES {
                break;
            }
        }
    });
    let _ = drained.await;
}

/// A validated read and the image that came with it, not yet stored.
struct AdmittedRead {
    read: CameraRead,
    image: Option<AdmittedImage>,
    /// Whether the camera sent an event id. Its read id, and so its image key, is then the same
    /// for every copy of the read the camera sends.
    has_event_id: bool,
}

/// Returns the organisation that owns `camera_id` if `token` may send reads for it.
pub(crate) fn organisation_for(
    state: &IngestState,
    token: Option<&str>,
    camera_id: &str,
) -> Result<String, Rejection> {
    match state.tokens.check(token, camera_id) {
        Access::Granted { organisation } => Ok(organisation.to_string()),
        Access::Unauthenticated => Err(Rejection::new(
            RejectReason::Unauthenticated,
            "authorization",
            "missing or unknown bearer token",
        )),
        Access::Forbidden if camera_id.is_empty() => Err(Rejection::new(
            RejectReason::MissingField,
            "camera_id",
            "missing",
        )),
        Access::Forbidden => Err(Rejection::new(
            RejectReason::Forbidden,
            "camera_id",
            format!("the token does not own camera {camera_id:?}"),
        )),
    }
}

/// Checks the camera against the token and validates the read and its image.
fn admit(
    state: &IngestState,
    token: Option<&str>,
    bytes: &[u8],
) -> Result<AdmittedRead, Rejection> {
    let mut submission = parse_submission(bytes)?;
    let camera_id = submission.camera_id.clone().unwrap_or_default();
    let organisation = organisation_for(state, token, camera_id.trim())?;
    let image = submission
        .image
        .take()
        .map(|image| admit_image(state, image, submission.image_ref.is_some()))
        .transpose()?;
    let has_event_id = submission.event_id.is_some();
    let read = validate_submission(
        submission,
        &organisation,
        HTTP_SOURCE,
        (state.clock)(),
        state.validation_limits(),
    )?;
    Ok(AdmittedRead {
        read,
        image,
        has_event_id,
    })
}

fn admit_image(
    state: &IngestState,
    image: crate::submission::SubmittedImage,
    has_image_ref: bool,
) -> Result<AdmittedImage, Rejection> {
    if has_image_ref {
        return Err(Rejection::new(
            RejectReason::InvalidImage,
            "image",
            "a read carries either image or image_ref, not both",
        ));
    }
    if state.images.is_none() {
        return Err(Rejection::new(
            RejectReason::InvalidImage,
            "image",
            "this ingest has no image store configured, so it does not accept images; send the read without image",
        ));
    }
    decode_image(image, state.settings.max_image_bytes)
}

/// A read ready to publish, and whether its image may be deleted if the read is not published.
struct StoredRead {
    read: CameraRead,
    /// True when ingest stored the image under a key that no other copy of the read can name,
    /// because the read id is a fresh UUIDv7. An image under an event-based key may belong to an
    /// earlier copy of the same read that the broker did accept.
    image_discardable: bool,
}

/// Stores the image of an admitted read, if it has one, and returns the read ready to publish.
async fn store_admitted(
    state: &IngestState,
    admitted: AdmittedRead,
) -> Result<StoredRead, Rejection> {
    let AdmittedRead {
        mut read,
        image,
        has_event_id,
    } = admitted;
    let mut image_discardable = false;
    if let (Some(image), Some(store)) = (image, &state.images) {
        store_image(store, &mut read, image).await?;
        image_discardable = !has_event_id;
    }
    Ok(StoredRead {
        read,
        image_discardable,
    })
}

/// Deletes the image that ingest stored for a read that never reached the producer. Only a full
/// queue proves that: after other errors the broker may still have written the read.
///
/// NOTE: an image kept after such an error stays in the store without a read if the broker did
/// not in fact write it. Nothing deletes such an image later.
async fn discard_unpublished(state: &IngestState, stored: &StoredRead, error: &PublishError) {
    if !matches!(error, PublishError::QueueFull) || !stored.image_discardable {
        return;
    }
    if let Some(store) = &state.images {
        discard_image(store, &stored.read).await;
    }
}

async fn accept_single(state: &IngestState, token: Option<&str>, bytes: &[u8]) -> Response {
    let admitted = match admit(state, token, bytes) {
        Ok(admitted) => admitted,
        Err(rejection) => return reject(rejection),
    };
    // The image is stored before the read is produced, so an accepted read never names a
    // missing image.
    let stored = match store_admitted(state, admitted).await {
        Ok(stored) => stored,
        Err(rejection) => return reject(rejection),
    };
    let started = Instant::now();
    let result = state.publisher.publish(&stored.read).await;
    PUBLISH_SECONDS.observe(started.elapsed().as_secs_f64());
    if let Err(error) = &result {
        discard_unpublished(state, &stored, error).await;
    }
    let read = stored.read;
    match result {
        Ok(()) => {
            READS_ACCEPTED
                .with_label_values(&[PATH_HTTP, HTTP_SOURCE])
                .inc();
            (
                StatusCode::ACCEPTED,
                Json(json!({ "read_id": read.read_id })),
            )
                .into_response()
        }
        Err(error) => reject(publish_rejection(&error)),
    }
}

/// One rejected line of a batch, numbered from 1.
#[derive(Debug, Serialize)]
struct LineRejection {
    line: usize,
    status: u16,
    reason: RejectReason,
    field: String,
    error: String,
}

impl LineRejection {
    fn new(line: usize, rejection: Rejection) -> Self {
        Self {
            line,
            status: rejection.reason.http_status(),
            reason: rejection.reason,
            field: rejection.field,
            error: rejection.message,
        }
    }
}

async fn accept_batch(state: &IngestState, token: Option<&str>, bytes: &[u8]) -> Response {
    let mut admitted: Vec<(usize, AdmittedRead)> = Vec::new();
    let mut rejected: Vec<LineRejection> = Vec::new();
    let mut line_count = 0;
    for (index, line) in bytes.split(|&byte| byte == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        line_count += 1;
        if line_count > state.settings.max_batch_lines {
            return reject(Rejection::new(
                RejectReason::TooLarge,
                "body",
                format!(
                    "more than {} reads in one batch; split the batch",
                    state.settings.max_batch_lines
                ),
            ));
        }
        match admit(state, token, line) {
            Ok(read) => admitted.push((index + 1, read)),
            Err(rejection) => rejected.push(LineRejection::new(index + 1, rejection)),
        }
    }
    if line_count == 0 {
        return reject(Rejection::malformed(
            "body",
            "empty batch; send one JSON read per line",
        ));
    }

    // Images are stored first, a bounded number at a time, and only reads whose image is
    // stored go on to the broker.
    let stored: Vec<(usize, Result<StoredRead, Rejection>)> = futures::stream::iter(admitted)
        .map(|(line, admitted)| async move { (line, store_admitted(state, admitted).await) })
        .buffered(MAX_CONCURRENT_IMAGE_WRITES)
        .collect()
        .await;
    let mut to_publish: Vec<(usize, StoredRead)> = Vec::with_capacity(stored.len());
    for (line, result) in stored {
        match result {
            Ok(stored) => to_publish.push((line, stored)),
            Err(rejection) => rejected.push(LineRejection::new(line, rejection)),
        }
    }

    let started = Instant::now();
    let results = state
        .publisher
        .publish_all(to_publish.iter().map(|(_, stored)| &stored.read))
        .await;
    PUBLISH_SECONDS.observe(started.elapsed().as_secs_f64());

    let mut read_ids = Vec::with_capacity(to_publish.len());
    for ((line, stored), result) in to_publish.into_iter().zip(results) {
        match result {
            Ok(()) => read_ids.push(stored.read.read_id),
            Err(error) => {
                discard_unpublished(state, &stored, &error).await;
                rejected.push(LineRejection::new(line, publish_rejection(&error)));
            }
        }
    }
    rejected.sort_by_key(|rejection| rejection.line);
    READS_ACCEPTED
        .with_label_values(&[PATH_HTTP, HTTP_SOURCE])
        .inc_by(read_ids.len() as u64);
    for rejection in &rejected {
        READS_REJECTED
            .with_label_values(&[PATH_HTTP, HTTP_SOURCE, rejection.reason.as_label()])
            .inc();
    }

    let status = if !read_ids.is_empty() {
        StatusCode::ACCEPTED
    } else if rejected.iter().any(|r| r.status == 503) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::from_u16(rejected[0].status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY)
    };
    let body = json!({ "accepted": read_ids.len(), "read_ids": read_ids, "rejected": rejected });
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE || rejected.iter().any(|r| r.status == 503) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

pub(crate) fn publish_rejection(error: &PublishError) -> Rejection {
    match error {
        PublishError::QueueFull => Rejection::new(
            RejectReason::QueueFull,
            "body",
            "ingest is at capacity; retry after a second",
        ),
        other => {
            tracing::warn!(error = %other, "read not acknowledged by the broker");
            Rejection::new(
                RejectReason::PublishFailed,
                "body",
                "the broker did not acknowledge the read; retry later",
            )
        }
    }
}

/// Builds the response rejecting a whole request in alpr's own JSON, and counts the rejection.
fn reject(rejection: Rejection) -> Response {
    rejection_response(HTTP_SOURCE, rejection)
}

/// Builds the response rejecting a whole request, and counts the rejection under `source`.
pub(crate) fn rejection_response(source: &str, rejection: Rejection) -> Response {
    READS_REJECTED
        .with_label_values(&[PATH_HTTP, source, rejection.reason.as_label()])
        .inc();
    let status =
        StatusCode::from_u16(rejection.reason.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let body = json!({
        "error": rejection.to_string(),
        "field": rejection.field,
        "reason": rejection.reason,
    });
    let mut response = (status, Json(body)).into_response();
    match rejection.reason {
        RejectReason::Unauthenticated => {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        RejectReason::QueueFull | RejectReason::PublishFailed | RejectReason::ImageStoreFailed => {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        _ => {}
    }
    response
}
