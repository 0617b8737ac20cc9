//! The investigators' HTTP API.
//!
//! - `POST /v1/search`: reads or distinct plates matching a [`SearchRequest`].
//! - `POST /v1/search/multi-place`: plates seen at several (place, time window) pairs.
//! - `POST /v1/search/export?format=csv|json`: every read of a search, as a file.
//! - `POST /v1/holds`: an evidence hold on reads found by a search.
//! - `GET /v1/audit/report?from=…&to=…` and `GET /v1/audit/verify`: for auditors.
//!
//! The response to each search, export and hold is sent only after its audit event is on the audit topic: a
//! search whose event cannot be written gets 503 and no results.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use alpr_audit::{AuditError, AuditWriter};
use alpr_platform::KafkaSettings;
use alpr_registry::SharedRegistry;
use alpr_retention::holds::{place_hold, HoldError, HoldRequest, ReadLookup};
use alpr_schemas::{AuditAction, AuditEvent};

use crate::metrics::{REQUESTS, REQUEST_SECONDS};
use crate::query::{MultiPlaceRequest, SearchMode, SearchRequest};
use crate::search::{SearchHandle, SearchResponse};
use crate::service::access::{authorise, check_place_in_scope, Permission, Principal};
use crate::service::body::CaseBoundBody;
use crate::service::case::CaseContext;
use crate::service::error::ApiError;
use crate::service::export::{render, ExportFormat};
use crate::service::SearchServiceSettings;

/// Most read ids one hold request may name.
const MAX_HOLD_READS: usize = 10_000;

/// Everything the handlers share.
pub struct ServiceState {
    pub handle: SearchHandle,
    pub registry: SharedRegistry,
    pub audit: AuditWriter,
    pub kafka: KafkaSettings,
    pub settings: SearchServiceSettings,
    pub clock: crate::service::Clock,
}

pub fn router(state: Arc<ServiceState>) -> Router {
    Router::new()
        .route("/v1/search", post(post_search))
        .route("/v1/search/multi-place", post(post_multi_place))
        .route("/v1/search/export", post(post_export))
        .route("/v1/holds", post(post_hold))
        .route("/v1/audit/report", get(get_audit_report))
        .route("/v1/audit/verify", get(get_audit_verify))
        .with_state(state)
}

/// Counts a request's outcome and time under its endpoint's name.
fn observe(
    endpoint: &'static str,
    started: Instant,
    result: Result<Response, ApiError>,
) -> Response {
    let response = result.unwrap_or_else(IntoResponse::into_response);
    REQUESTS
        .with_label_values(&[endpoint, response.status().as_str()])
        .inc();
    REQUEST_SECONDS
        .with_label_values(&[endpoint])
        .observe(started.elapsed().as_secs_f64());
    response
}

async fn post_search(
    State(state): State<Arc<ServiceState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    observe("search", started, search(&state, &headers, &body).await)
}

async fn search(
    state: &ServiceState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let principal = authorise(&state.registry, headers, Permission::SearchReads)?;
    let mut body = CaseBoundBody::parse(body, &["query"], &state.settings.purposes)?;
    let request: SearchRequest = body.take("query")?;
    check_place_in_scope(
        &state.registry,
        &principal,
        "query.place",
        request.place.as_ref(),
    )?;

    let response = run_blocking(state.handle.clone(), {
        let (request, scope) = (request.clone(), principal.scope.clone());
        move |handle| handle.search(&request, &scope)
    })
    .await?
    .map_err(|error| ApiError::from_search("query", error))?;
    let count = match &response {
        SearchResponse::Reads(page) => page.total_matches,
        SearchResponse::DistinctPlates(page) => page.total_plates,
    };
    record(
        state,
        &principal,
        &body.case,
        AuditAction::Search,
        &request,
        count,
    )
    .await?;
    Ok(Json(response).into_response())
}

async fn post_multi_place(
    State(state): State<Arc<ServiceState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    observe(
        "multi_place",
        started,
        multi_place(&state, &headers, &body).await,
    )
}

#[derive(Serialize)]
struct MultiPlaceAnswer {
    plates: Vec<crate::search::MultiPlaceHit>,
}

async fn multi_place(
    state: &ServiceState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let principal = authorise(&state.registry, headers, Permission::SearchReads)?;
    let mut body = CaseBoundBody::parse(body, &["query"], &state.settings.purposes)?;
    let request: MultiPlaceRequest = body.take("query")?;
    for (position, sighting) in request.sightings.iter().enumerate() {
        check_place_in_scope(
            &state.registry,
            &principal,
            &format!("query.sightings[{position}].place"),
            Some(&sighting.place),
        )?;
    }
    let plates = run_blocking(state.handle.clone(), {
        let (request, scope) = (request.clone(), principal.scope.clone());
        move |handle| handle.multi_place(&request, &scope)
    })
    .await?
    .map_err(|error| ApiError::from_search("query", error))?;
    record(
        state,
        &principal,
        &body.case,
        AuditAction::Search,
        &request,
        plates.len() as u64,
    )
    .await?;
    Ok(Json(MultiPlaceAnswer { plates }).into_response())
}

#[derive(Debug, Deserialize)]
struct ExportParameters {
    #[serde(default)]
    format: ExportFormat,
}

async fn post_export(
    State(state): State<Arc<ServiceState>>,
    Query(parameters): Query<ExportParameters>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    observe(
        "export",
        started,
        export(&state, &headers, &body, parameters.format).await,
    )
}

async fn export(
    state: &ServiceState,
    headers: &HeaderMap,
    body: &[u8],
    format: ExportFormat,
) -> Result<Response, ApiError> {
    let principal = authorise(&state.registry, headers, Permission::SearchReads)?;
    let mut body = CaseBoundBody::parse(body, &["query"], &state.settings.purposes)?;
    let mut request: SearchRequest = body.take("query")?;
    if request.mode != SearchMode::Reads {
        return Err(ApiError::bad_request(
            "query.mode",
            "an export contains reads; leave mode out or set it to \"reads\"",
        ));
    }
    check_place_in_scope(
        &state.registry,
        &principal,
        "query.place",
        request.place.as_ref(),
    )?;
    // The export contains the whole result set, so it starts at the first read and pages through.
    request.cursor = None;
    request.page_size = state.handle.limits().max_page_size;
    let max_reads = state.settings.max_export_reads;
    let reads = run_blocking(state.handle.clone(), {
        let (request, scope) = (request.clone(), principal.scope.clone());
        move |handle| handle.all_reads(&request, &scope, max_reads)
    })
    .await?
    .map_err(|error| ApiError::from_search("query", error))?
    .ok_or_else(|| {
        ApiError::bad_request(
            "query",
            format!("the search matches more than {max_reads} reads, the export limit; narrow it"),
        )
    })?;
    let bytes = render(&reads, format).map_err(|error| ApiError::internal(error.to_string()))?;
    record(
        state,
        &principal,
        &body.case,
        AuditAction::Export,
        &serde_json::json!({ "format": format, "query": request }),
        reads.len() as u64,
    )
    .await?;
    let disposition = format!(
        "attachment; filename=\"alpr-export.{}\"",
        format.file_extension()
    );
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

async fn post_hold(
    State(state): State<Arc<ServiceState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    observe("hold", started, hold(&state, &headers, &body).await)
}

#[derive(Serialize)]
struct HoldAnswer {
    hold_id: String,
    case_number: String,
    read_ids: Vec<String>,
}

async fn hold(
    state: &ServiceState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let principal = authorise(&state.registry, headers, Permission::SearchReads)?;
    let mut body = CaseBoundBody::parse(
        body,
        &["read_ids", "reason", "review_at"],
        &state.settings.purposes,
    )?;
    let read_ids: Vec<String> = body.take("read_ids")?;
    let reason: Option<String> = body.take_optional("reason")?;
    let review_at: Option<DateTime<Utc>> = body.take_optional("review_at")?;
    if read_ids.is_empty() || read_ids.len() > MAX_HOLD_READS {
        return Err(ApiError::bad_request(
            "read_ids",
            format!("name between 1 and {MAX_HOLD_READS} read ids"),
        ));
    }

    // Only reads the caller can find may be held: the same scope as their searches.
    let visible = run_blocking(state.handle.clone(), {
        let (read_ids, scope) = (read_ids.clone(), principal.scope.clone());
        move |handle| handle.visible_reads(&read_ids, &scope)
    })
    .await?
    .map_err(|error| ApiError::from_search("read_ids", error))?;
    let visible: std::collections::HashSet<String> =
        visible.into_iter().map(|read| read.read_id).collect();
    let hidden: Vec<&str> = read_ids
        .iter()
        .map(String::as_str)
        .filter(|read_id| !visible.contains(*read_id))
        .collect();
    if !hidden.is_empty() {
        return Err(ApiError::forbidden_field(
            "read_ids",
            format!(
                "not among the reads your organisation may see (unknown, deleted or not shared with it): {}",
                shorten_list(&hidden)
            ),
        ));
    }

    let request = HoldRequest {
        case_number: body.case.case_number.clone(),
        reason: reason.unwrap_or_else(|| body.case.purpose.clone()),
        placed_by: principal.user_id.clone(),
        read_ids,
        review_at,
        organisation_id: Some(principal.organisation_id.clone()),
        purpose: Some(body.case.purpose.clone()),
    };
    let lookup = ReadLookup::Http {
        base_url: state.settings.retention_url.clone(),
    };
    let placed = place_hold(&state.kafka, &lookup, request, (state.clock)())
        .await
        .map_err(hold_error)?;
    tracing::info!(
        user = %principal.user_id,
        case_number = %placed.case_number,
        hold_id = %placed.hold_id,
        reads = placed.read_ids.len(),
        "evidence hold placed from search results"
    );
    Ok((
        StatusCode::CREATED,
        Json(HoldAnswer {
            hold_id: placed.hold_id,
            case_number: placed.case_number,
            read_ids: placed.read_ids,
        }),
    )
        .into_response())
}

fn hold_error(error: HoldError) -> ApiError {
    match error {
        HoldError::Invalid { field, problem } => ApiError::bad_request(field, problem),
        HoldError::UnknownReads { .. } => ApiError::new(StatusCode::CONFLICT, error.to_string()),
        HoldError::LookupUnavailable { .. } => ApiError::unavailable(error.to_string()),
        other => {
            tracing::error!(error = %other, "placing an evidence hold failed");
            ApiError::unavailable(format!("the hold was not placed: {other}"))
        }
    }
}

/// Returns up to ten items joined, and how many more there are.
fn shorten_list(items: &[&str]) -> String {
    const SHOWN: usize = 10;
    let mut text = items
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        text.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    text
}

#[derive(Debug, Deserialize)]
struct ReportParameters {
    from: String,
    to: String,
}

async fn get_audit_report(
    State(state): State<Arc<ServiceState>>,
    headers: HeaderMap,
    Query(parameters): Query<ReportParameters>,
) -> Response {
    let started = Instant::now();
    observe(
        "audit_report",
        started,
        audit_report(&state, &headers, parameters).await,
    )
}

async fn audit_report(
    state: &ServiceState,
    headers: &HeaderMap,
    parameters: ReportParameters,
) -> Result<Response, ApiError> {
    authorise(&state.registry, headers, Permission::ReadAudit)?;
    let from = alpr_audit::parse_report_time(&parameters.from)
        .map_err(|error| ApiError::bad_request("from", error.to_string()))?;
    let to = alpr_audit::parse_report_time(&parameters.to)
        .map_err(|error| ApiError::bad_request("to", error.to_string()))?;
    if from >= to {
        return Err(ApiError::bad_request("to", "must be after `from`"));
    }
    let report = alpr_audit::report(&state.kafka, from, to)
        .await
        .map_err(audit_unavailable)?;
    Ok(Json(report).into_response())
}

async fn get_audit_verify(State(state): State<Arc<ServiceState>>, headers: HeaderMap) -> Response {
    let started = Instant::now();
    observe(
        "audit_verify",
        started,
        audit_verify(&state, &headers).await,
    )
}

async fn audit_verify(state: &ServiceState, headers: &HeaderMap) -> Result<Response, ApiError> {
    authorise(&state.registry, headers, Permission::ReadAudit)?;
    let verification = alpr_audit::verify(&state.kafka)
        .await
        .map_err(audit_unavailable)?;
    Ok(Json(verification).into_response())
}

fn audit_unavailable(error: AuditError) -> ApiError {
    tracing::warn!(%error, "audit log unavailable");
    ApiError::unavailable(format!("the audit log cannot be read: {error}"))
}

/// Writes the audit event of a search, export or hold, and returns a 503 error when it cannot.
async fn record(
    state: &ServiceState,
    principal: &Principal,
    case: &CaseContext,
    action: AuditAction,
    query: &impl Serialize,
    result_count: u64,
) -> Result<(), ApiError> {
    let event = AuditEvent {
        event_id: uuid::Uuid::new_v4().to_string(),
        actor: principal.user_id.clone(),
        organisation_id: principal.organisation_id.clone(),
        occurred_at: (state.clock)().timestamp_micros(),
        action,
        case_number: Some(case.case_number.clone()),
        purpose: Some(case.purpose.clone()),
        query: serde_json::to_string(query).ok(),
        result_count: Some(i64::try_from(result_count).unwrap_or(i64::MAX)),
        previous_hash: String::new(),
        hash: String::new(),
    };
    match state.audit.append(event).await {
        Ok(_) => {
            tracing::info!(
                user = %principal.user_id,
                organisation = %principal.organisation_id,
                case_number = %case.case_number,
                action = ?action,
                result_count,
                "investigator request recorded"
            );
            Ok(())
        }
        Err(error) => {
            tracing::error!(%error, user = %principal.user_id, case_number = %case.case_number, action = ?action, "failed to write the audit event; request rejected with 503");
            Err(ApiError::unavailable(
                "the audit event cannot be written, so the results are withheld; try again",
            ))
        }
    }
}

/// Runs index work on the blocking pool: Tantivy searches are CPU-bound and would stall the
/// async workers.
async fn run_blocking<T: Send + 'static>(
    handle: SearchHandle,
    work: impl FnOnce(&SearchHandle) -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(move || work(&handle))
        .await
        .map_err(|_| ApiError::internal("the search task panicked"))
}
