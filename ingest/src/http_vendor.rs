//! `POST /v1/ingest/{vendor}`: a body in a camera vendor's own push format, such as an OpenALPR
//! group or a Hikvision ANPR notification. It takes the same camera tokens as `/v1/reads`, sent
//! as `Authorization: Bearer …` or `Authorization: Token …`.
//!
//! The response is 202 with the read ids once the broker acknowledged every read of the body. A
//! body that describes no finished read (a heartbeat, a single frame, a car still in view) gets
//! 200 with no read ids. A body the adapter cannot parse gets 400 naming the field, and other
//! failures get the statuses of `/v1/reads`. A body is accepted or rejected as a whole. A read
//! this instance published recently is listed in `read_ids` but not produced again.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use alpr_schemas::CameraRead;

use crate::auth::camera_token;
use crate::http::{organisation_for, publish_rejection, read_body, rejection_response};
use crate::image::store_image;
use crate::metrics::{PATH_HTTP, PUBLISH_SECONDS, READS_ACCEPTED, VENDOR_RESENDS_SKIPPED};
use crate::validate::{RejectReason, Rejection};
use crate::vendor::{admit_vendor_body, vendor_source, VendorImages};
use crate::IngestState;

/// Source label of requests that name no known adapter. A fixed value keeps the URL, which the
/// sender chooses, out of metric labels.
const UNKNOWN_VENDOR_SOURCE: &str = "vendor-unknown";

pub(crate) async fn post_vendor_body(
    State(state): State<Arc<IngestState>>,
    Path(vendor): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(adapter) = alpr_vendors::adapter_for(&vendor) else {
        return rejection_response(
            UNKNOWN_VENDOR_SOURCE,
            Rejection::new(
                RejectReason::UnknownVendor,
                "vendor",
                format!(
                    "{vendor:?} is not a supported vendor format; use one of {}",
                    alpr_vendors::adapter_names().join(", ")
                ),
            ),
        );
    };
    let source = vendor_source(adapter.as_ref());
    let token = camera_token(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok()),
    );
    if !state.tokens.is_known(token) {
        return rejection_response(
            &source,
            Rejection::new(
                RejectReason::Unauthenticated,
                "authorization",
                "missing or unknown token; send Authorization: Bearer <token> or Token <token>",
            ),
        );
    }
    let bytes = match read_body(&headers, body, state.settings.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(rejection) => return rejection_response(&source, rejection),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    // Without an image store, vendors' pictures are dropped rather than the reads rejected,
    // because most vendor cameras send a picture with every read and have no setting to stop.
    let images = match state.images {
        Some(_) => VendorImages::Admit {
            max_bytes: state.settings.max_image_bytes,
        },
        None => VendorImages::Drop,
    };
    let admitted = admit_vendor_body(
        adapter.as_ref(),
        &bytes,
        content_type,
        &state.vendor_context,
        &|camera_id| organisation_for(&state, token, camera_id),
        (state.clock)(),
        state.validation_limits(),
        images,
    );
    let admitted = match admitted {
        Ok(admitted) => admitted,
        Err(rejection) => return rejection_response(&source, rejection),
    };
    if admitted.is_empty() {
        return (
            StatusCode::OK,
            Json(json!({ "accepted": 0, "read_ids": [] })),
        )
            .into_response();
    }

    // Images are stored before their reads are produced, so an accepted read never names a
    // missing image. Vendor reads always have an event id, so an image stored here under a read
    // whose publication then fails is overwritten, not orphaned, when the camera resends.
    let mut read_ids: Vec<String> = Vec::with_capacity(admitted.len());
    let mut reads: Vec<CameraRead> = Vec::with_capacity(admitted.len());
    for vendor_read in admitted {
        let mut read = vendor_read.read;
        read_ids.push(read.read_id.clone());
        if state.recent_vendor_reads.contains(&read.read_id) {
            VENDOR_RESENDS_SKIPPED
                .with_label_values(&[PATH_HTTP, &source])
                .inc();
            continue;
        }
        if let (Some(image), Some(store)) = (vendor_read.image, &state.images) {
            if let Err(rejection) = store_image(store, &mut read, image).await {
                return rejection_response(&source, rejection);
            }
        }
        tracing::debug!(
            vendor = adapter.name(),
            read_id = %read.read_id,
            plate = %alpr_schemas::plate::mask_plate(&read.plate.normalised),
            retransmission = vendor_read.retransmission,
            "vendor read admitted"
        );
        reads.push(read);
    }

    let started = Instant::now();
    let results = state.publisher.publish_all(&reads).await;
    PUBLISH_SECONDS.observe(started.elapsed().as_secs_f64());
    if let Some(Err(error)) = results.iter().find(|result| result.is_err()) {
        return rejection_response(&source, publish_rejection(error));
    }
    for read in &reads {
        state.recent_vendor_reads.insert(&read.read_id);
    }
    READS_ACCEPTED
        .with_label_values(&[PATH_HTTP, &source])
        .inc_by(reads.len() as u64);
    (
        StatusCode::ACCEPTED,
        Json(json!({ "accepted": read_ids.len(), "read_ids": read_ids })),
    )
        .into_response()
}
