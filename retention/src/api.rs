//! The read lookup API of the retention worker: `GET /v1/reads/{read_id}` returns whether the
//! index contains a read and which holds keep it. `alpr holds place` asks it before placing a
//! hold, because the index is exactly the set of reads that retention will delete.
//!
//! NOTE: the API has no authentication. It returns no plate, place or image, only the read's
//! organisation, capture time, partition and hold ids, and it listens on 127.0.0.1 by default;
//! expose it only inside the cluster.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use alpr_platform::ShutdownToken;

use crate::camera_activity::{SilentCameraBoard, SilentCameraReport};
use crate::store::RetentionStore;

/// Response body for a read the index contains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadStatus {
    pub read_id: String,
    pub organisation_id: String,
    /// RFC 3339, UTC.
    pub captured_at: String,
    /// Partition of the reads topic that contains the read.
    pub partition: i32,
    /// Holds that keep the read, in hold id order.
    pub hold_ids: Vec<String>,
}

/// An error body: `{"error": "..."}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

/// Builds the API routes over `store`.
/// Builds the API routes: the read lookup, and `GET /v1/cameras/silent`, the latest list of
/// silent cameras from `silent_cameras`.
pub fn router(store: RetentionStore, silent_cameras: SilentCameraBoard) -> Router {
    let cameras = Router::new()
        .route("/v1/cameras/silent", get(list_silent_cameras))
        .with_state(silent_cameras);
    Router::new()
        .route("/v1/reads/{read_id}", get(lookup_read))
        .with_state(store)
        .merge(cameras)
}

async fn list_silent_cameras(State(board): State<SilentCameraBoard>) -> Json<SilentCameraReport> {
    Json(board.report())
}

/// Serves the API on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    store: RetentionStore,
    shutdown: ShutdownToken,
) -> std::io::Result<()> {
    serve_with_cameras(listener, store, SilentCameraBoard::default(), shutdown).await
}

/// Serves the API like [`serve`], with the silent-camera list of `silent_cameras`.
pub async fn serve_with_cameras(
    listener: tokio::net::TcpListener,
    store: RetentionStore,
    silent_cameras: SilentCameraBoard,
    shutdown: ShutdownToken,
) -> std::io::Result<()> {
    let address = listener.local_addr()?;
    tracing::info!(%address, "read lookup API listening");
    axum::serve(listener, router(store, silent_cameras))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// Binds the API address, naming it in the error so a port clash is easy to find.
pub async fn bind(address: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| {
            std::io::Error::new(
                error.kind(),
                format!("cannot bind read lookup address {address}: {error}"),
            )
        })
}

fn error_response(status: StatusCode, error: String) -> Response {
    (status, Json(ErrorBody { error })).into_response()
}

async fn lookup_read(State(store): State<RetentionStore>, Path(read_id): Path<String>) -> Response {
    if uuid::Uuid::parse_str(&read_id).is_err() {
        return error_response(
            StatusCode::BAD_REQUEST,
            format!("invalid read id {read_id:?}: expected a UUID"),
        );
    }
    // Two point lookups in RocksDB take microseconds, so they run on the async worker.
    let found = store
        .read(&read_id)
        .and_then(|read| Ok((read, store.holds_on(&read_id)?)));
    match found {
        Ok((Some(read), hold_ids)) => {
            let captured_at = alpr_schemas::from_micros(read.captured_at)
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            Json(ReadStatus {
                read_id,
                organisation_id: read.organisation_id,
                captured_at,
                partition: read.partition,
                hold_ids,
            })
            .into_response()
        }
        Ok((None, _)) => error_response(
            StatusCode::NOT_FOUND,
            format!("read {read_id} not found in the retention index"),
        ),
        Err(error) => {
            tracing::error!(%error, "read lookup failed");
            error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("read lookup failed: {error}"),
            )
        }
    }
}
