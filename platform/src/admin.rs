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

/// Registers `alpr_build_info`, a gauge fixed at 1 whose labels name the version and the git
/// commit of the binary, so dashboards can show which build each instance runs. Safe to call
/// more than once.
pub fn register_build_info() {
    static BUILD_INFO: std::sync::LazyLock<prometheus::IntGaugeVec> =
        std::sync::LazyLock::new(|| {
            prometheus::register_int_gauge_vec!(
                "alpr_build_info",
                "Always 1; the labels name the version and the git commit of the running binary",
                &["version", "commit"]
            )
            .expect("metric registers once")
        });
    BUILD_INFO
        .with_label_values(&[env!("CARGO_PKG_VERSION"), env!("ALPR_BUILD_COMMIT")])
        .set(1);
}

/// Builds the admin routes: `/metrics` renders the process-wide Prometheus registry (which the
/// `prometheus` crate's `process` feature fills with CPU, memory and file-descriptor metrics),
/// `/healthz` returns 200 while the process runs, `/readyz` 200 or 503 from `readiness`.
pub fn admin_router(readiness: Readiness) -> Router {
    register_build_info();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_info_names_version_and_commit() {
        register_build_info();
        register_build_info();
        let families = prometheus::gather();
        let info = families
            .iter()
            .find(|family| family.name() == "alpr_build_info")
            .expect("alpr_build_info is registered");
        let metrics = info.get_metric();
        assert_eq!(metrics.len(), 1, "one series per process");
        let label = |name: &str| {
            metrics[0]
                .get_label()
                .iter()
                .find(|label| label.name() == name)
                .map(|label| label.value().to_string())
        };
        assert_eq!(label("version").as_deref(), Some(env!("CARGO_PKG_VERSION")));
        let commit = label("commit").expect("commit label");
        assert!(!commit.is_empty());
        assert_eq!(metrics[0].get_gauge().value(), 1.0);
    }
}
