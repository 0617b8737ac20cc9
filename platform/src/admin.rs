//! The admin HTTP server every component runs: Prometheus metrics, liveness and readiness.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus::{Encoder, TextEncoder};
use tokio::net::TcpListener;

use crate::ShutdownToken;

/// Whether a component can do its work now. The matcher, for example, is not ready until it has
/// loaded the whole hotlist; Kubernetes keeps traffic and rollouts away until then.
#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn set_ready(&self, ready: bool) {
        self.0.store(ready, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Builds the admin routes: `/metrics` renders the process-wide Prometheus registry (which the
/// `prometheus` crate's `process` feature fills with CPU, memory and file-descriptor metrics),
/// `/healthz` returns 200 while the process runs, `/readyz` 200 or 503 from `readiness`.
pub fn admin_router(readiness: Readiness) -> Router {
    Router::new()
        .route("/metrics", get(render_metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(report_readiness))
        .with_state(readiness)
}

/// Serves the admin routes on `listener` until `shutdown` is cancelled.
pub async fn serve_admin(
    listener: TcpListener,
    readiness: Readiness,
    shutdown: ShutdownToken,
) -> std::io::Result<()> {
    let address = listener.local_addr()?;
    tracing::info!(%address, "admin server listening");
    axum::serve(listener, admin_router(readiness))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// Binds the admin address, naming it in the error so a port clash is easy to find.
pub async fn bind_admin(address: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .map_err(|error| anyhow::anyhow!("cannot bind admin address {address}: {error}"))
}

async fn render_metrics() -> impl IntoResponse {
    let mut body = Vec::new();
    let families = prometheus::gather();
    match TextEncoder::new().encode(&families, &mut body) {
        Ok(()) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
            body,
        ),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            format!("cannot encode metrics: {error}\n").into_bytes(),
        ),
    }
}

async fn report_readiness(State(readiness): State<Readiness>) -> impl IntoResponse {
    if readiness.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}
