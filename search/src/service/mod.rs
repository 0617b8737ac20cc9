//! `alpr search`: the read index follower and the investigators' HTTP API in one service.
//!
//! Start-up order matters for what a first request sees: the registry is loaded (so tokens and
//! grants are known), the index catches up with the reads topic, and only then does the service
//! report ready and accept requests.

pub mod access;
mod body;
pub mod case;
pub mod error;
pub mod export;
pub mod http;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use alpr_audit::AuditWriter;
use alpr_platform::{KafkaSettings, Readiness, ShutdownToken};
use alpr_registry::{RegistryFollower, SharedRegistry};

use crate::follower::{FollowerError, FollowerSettings, ReadsFollower};
use crate::query::SearchLimits;
use crate::service::http::{router, ServiceState};

/// How long start-up waits for the registry: without it no token is known.
const REGISTRY_LOAD_TIMEOUT: Duration = Duration::from_secs(60);

pub use alpr_platform::Clock;

/// Settings of the search service, the `[search]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchServiceSettings {
    /// Address of the investigators' API.
    pub listen: SocketAddr,
    /// The index and how it follows the reads topic.
    pub index: FollowerSettings,
    /// Purposes a search may state. The transparency report counts searches by purpose, so an
    /// agency lists the ones its policy allows.
    pub purposes: Vec<String>,
    /// Maximum time window of a search, in days: the retention period, because older reads are
    /// deleted anyway.
    pub max_window_days: u32,
    /// Largest page a search may ask for.
    pub max_page_size: usize,
    /// Most reads one export may hold; a larger result set must be narrowed first.
    pub max_export_reads: usize,
    /// Base URL of the retention worker's read lookup API, which holds are checked against.
    pub retention_url: String,
}

impl Default for SearchServiceSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8082)),
            index: FollowerSettings::default(),
            purposes: [
                "stolen vehicle",
                "wanted person",
                "missing person",
                "amber alert",
                "violent crime",
                "property crime",
            ]
            .map(String::from)
            .to_vec(),
            max_window_days: 30,
            max_page_size: 1_000,
            max_export_reads: 50_000,
            retention_url: "http://127.0.0.1:9465".into(),
        }
    }
}

impl SearchServiceSettings {
    /// Checks the settings that requests cannot be served without.
    pub fn validate(&self) -> Result<(), ServiceError> {
        if self
            .purposes
            .iter()
            .all(|purpose| purpose.trim().is_empty())
        {
            return Err(ServiceError::Settings(
                "search.purposes is empty: list the purposes searches may state".into(),
            ));
        }
        if self.max_window_days == 0 {
            return Err(ServiceError::Settings(
                "search.max_window_days must be at least 1".into(),
            ));
        }
        if self.max_page_size == 0 || self.max_export_reads == 0 {
            return Err(ServiceError::Settings(
                "search.max_page_size and search.max_export_reads must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// Returns the limits requests are checked against, with the matcher's confusion classes for
    /// OCR-tolerant searches.
    pub fn limits(&self, classes: alpr_schemas::confusion::ConfusionClasses) -> SearchLimits {
        SearchLimits {
            max_window: chrono::Duration::days(i64::from(self.max_window_days)),
            max_page_size: self.max_page_size,
            classes,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("invalid settings: {0}")]
    Settings(String),
    #[error(transparent)]
    Follower(#[from] FollowerError),
    #[error("registry: {0}")]
    Registry(#[from] alpr_registry::RegistryError),
    #[error(
        "the registry topic was not loaded within {seconds} s, so no user could be authenticated"
    )]
    RegistryNotLoaded { seconds: u64 },
    #[error("audit log: {0}")]
    Audit(#[from] alpr_audit::AuditError),
    #[error("http server: {0}")]
    Serve(std::io::Error),
    #[error("a service thread panicked")]
    ThreadPanicked,
}

/// Binds the API's listening socket.
pub async fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(address).await
}

/// Runs the search service until `shutdown`: follows the registry and the reads topic, and
/// serves the API on `listener`. Marks `readiness` once the index has caught up.
pub async fn run(
    settings: SearchServiceSettings,
    limits: SearchLimits,
    kafka: KafkaSettings,
    listener: TcpListener,
    clock: Clock,
    readiness: Readiness,
    shutdown: ShutdownToken,
) -> Result<(), ServiceError> {
    settings.validate()?;
    // A child token stops the registry follower when the service ends, failed start included,
    // without stopping anything else of the process.
    let registry_stop = shutdown.child_token();
    let registry_follower =
        RegistryFollower::start(&kafka, registry_stop.clone(), REGISTRY_LOAD_TIMEOUT).await?;
    let outcome = if registry_follower.wait_caught_up(Duration::ZERO).await {
        let parts = Parts {
            settings,
            limits,
            kafka,
            clock,
            registry: registry_follower.registry(),
        };
        serve(parts, listener, readiness, shutdown).await
    } else {
        Err(ServiceError::RegistryNotLoaded {
            seconds: REGISTRY_LOAD_TIMEOUT.as_secs(),
        })
    };
    registry_stop.cancel();
    registry_follower.join().await;
    outcome
}

/// Inputs that [`serve`] builds the service from.
struct Parts {
    settings: SearchServiceSettings,
    limits: SearchLimits,
    kafka: KafkaSettings,
    clock: Clock,
    registry: SharedRegistry,
}

/// Catches the index up, then serves the API while the follower keeps the index current.
async fn serve(
    parts: Parts,
    listener: TcpListener,
    readiness: Readiness,
    shutdown: ShutdownToken,
) -> Result<(), ServiceError> {
    let audit = AuditWriter::new(&parts.kafka, "search")?;
    let (index_settings, index_kafka) = (parts.settings.index.clone(), parts.kafka.clone());
    let follower = tokio::task::spawn_blocking(move || {
        let mut follower = ReadsFollower::connect(&index_settings, &index_kafka)?;
        let applied = follower.catch_up()?;
        tracing::info!(
            records = applied,
            "search index caught up with the reads topic"
        );
        Ok::<_, FollowerError>(follower)
    })
    .await
    .map_err(|_| ServiceError::ThreadPanicked)??;
    let handle = follower.search_handle(parts.limits);
    let follower_stop = shutdown.clone();
    let follower_task = tokio::task::spawn_blocking(move || {
        let outcome = follower.run(follower_stop.clone());
        // A follower that fails stops the whole service: stale results are worse than none.
        follower_stop.cancel();
        outcome
    });

    let address = listener.local_addr().map_err(ServiceError::Serve)?;
    let state = Arc::new(ServiceState {
        handle,
        registry: parts.registry,
        audit,
        kafka: parts.kafka,
        settings: parts.settings,
        clock: parts.clock,
    });
    readiness.set_ready(true);
    tracing::info!(%address, "search api listening");
    let stop = shutdown.clone();
    let served = axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await;
    readiness.set_ready(false);
    shutdown.cancel();
    let followed = follower_task
        .await
        .map_err(|_| ServiceError::ThreadPanicked)?;
    served.map_err(ServiceError::Serve)?;
    followed?;
    Ok(())
}
