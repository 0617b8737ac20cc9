//! Ingest: takes reads from cameras over HTTP and from the raw topic, validates and normalises
//! them, and lands them durably on `alpr.reads.v1`.

pub mod auth;
pub mod http;
mod http_vendor;
pub mod image;
pub mod metrics;
pub mod publisher;
pub mod raw_topic;
pub mod submission;
pub mod validate;
pub mod vendor;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use alpr_images::ImageStore;
use alpr_platform::{KafkaSettings, ShutdownToken};
use alpr_registry::RegistryFollower;
use alpr_vendors::{CameraZones, ParseContext};

pub use auth::{CameraToken, TokenTable};
pub use publisher::{PublishError, PublisherLimits, ReadPublisher};
pub use submission::ReadSubmission;
pub use validate::{validate_submission, RejectReason, Rejection, ValidationLimits};

/// Settings of the ingest component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestSettings {
    /// Address of the camera-facing HTTP server.
    pub listen: SocketAddr,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest image accepted with a read, in bytes after base64 decoding. The base64 text is
    /// a third larger and must fit in `max_body_bytes` with the rest of the request.
    pub max_image_bytes: usize,
    /// Maximum number of reads in one NDJSON batch.
    pub max_batch_lines: usize,
    /// How far `captured_at` may lie in the future, in seconds, for camera clocks that run ahead.
    pub max_clock_skew_seconds: i64,
    /// Reads waiting for broker acknowledgement before requests get 503.
    pub producer_queue_max_messages: u32,
    /// How long the producer collects reads before sending them to the broker, in
    /// milliseconds. Every request waits at least this long for its acknowledgement.
    pub producer_linger_ms: u64,
    /// Whether to consume `alpr.reads.raw` as well as serving HTTP.
    pub consume_raw_topic: bool,
    /// Organisation of raw-topic records that carry no `alpr.organisation` header.
    pub raw_default_organisation: Option<String>,
    /// Camera credentials.
    pub tokens: Vec<CameraToken>,
    /// IANA time zone (such as `America/Los_Angeles`) of each camera, by camera id, for vendor
    /// formats that send local time without an offset.
    pub camera_time_zones: BTreeMap<String, String>,
    /// IANA time zone of cameras missing from `camera_time_zones`.
    pub default_time_zone: String,
    /// ISO 3166-1 country (such as `US`) of the bare state codes some vendors send (`CA`).
    /// Unset, such reads carry no region.
    pub default_plate_country: Option<String>,
}

impl Default for IngestSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 5 * 1024 * 1024,
            max_image_bytes: 2 * 1024 * 1024,
            max_batch_lines: 10_000,
            max_clock_skew_seconds: 300,
            producer_queue_max_messages: 100_000,
            producer_linger_ms: publisher::DEFAULT_LINGER_MS,
            consume_raw_topic: true,
            raw_default_organisation: None,
            tokens: Vec::new(),
            camera_time_zones: BTreeMap::new(),
            default_time_zone: "UTC".to_string(),
            default_plate_country: None,
        }
    }
}

/// How long ingest waits at start for the registry to load before it serves anyway.
const REGISTRY_LOAD_WAIT: Duration = Duration::from_secs(10);

pub use alpr_platform::Clock;

/// State shared by the HTTP handlers.
pub struct IngestState {
    pub settings: IngestSettings,
    pub tokens: TokenTable,
    pub publisher: ReadPublisher,
    pub clock: Clock,
    /// Image store for images sent with reads; `None` rejects reads that carry an image.
    pub images: Option<ImageStore>,
    /// Camera time zones and the default plate country for the vendor adapters.
    pub vendor_context: ParseContext,
    /// Vendor reads published recently, shared with the raw intake.
    pub recent_vendor_reads: Arc<vendor::RecentReadIds>,
}

impl IngestSettings {
    /// Builds what the vendor adapters need from these settings, rejecting an unknown time zone
    /// or country.
    pub fn vendor_context(&self) -> Result<ParseContext, IngestError> {
        let zones = CameraZones::from_names(&self.default_time_zone, &self.camera_time_zones)
            .map_err(|error| IngestError::Config(format!("ingest time zones: {error}")))?;
        if let Some(country) = &self.default_plate_country {
            match alpr_vendors::region::country_alpha2(country, "default_plate_country") {
                Ok(Some(_)) => {}
                _ => {
                    return Err(IngestError::Config(format!(
                        "ingest.default_plate_country: {country:?} is not a known ISO 3166-1 country code such as US"
                    )))
                }
            }
        }
        Ok(ParseContext {
            zones,
            default_country: self.default_plate_country.clone(),
        })
    }
}

impl IngestState {
    pub fn validation_limits(&self) -> ValidationLimits {
        ValidationLimits {
            max_clock_skew: chrono::Duration::seconds(self.settings.max_clock_skew_seconds),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot bind ingest address {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("http server failed: {0}")]
    Serve(std::io::Error),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("registry: {0}")]
    Registry(#[from] alpr_registry::RegistryError),
}

/// Runs ingest until `shutdown`: the HTTP server on `listener` and, when enabled, the raw topic
/// intake. Images sent with reads go to `images`; without a store such reads are rejected.
/// In-flight requests finish before it returns, and the producer is flushed.
pub async fn run(
    settings: IngestSettings,
    kafka: KafkaSettings,
    listener: TcpListener,
    clock: Clock,
    images: Option<ImageStore>,
    shutdown: ShutdownToken,
) -> Result<(), IngestError> {
    std::sync::LazyLock::force(&metrics::IMAGES_STORED);
    std::sync::LazyLock::force(&metrics::IMAGE_STORE_FAILURES);
    let vendor_context = settings.vendor_context()?;
    alpr_platform::ensure_topics(&kafka).await?;
    // A child token, cancelled when `run` returns for any reason, so an early error does not
    // leave the follower thread running.
    let registry_shutdown = shutdown.child_token();
    let _stop_registry_follower = registry_shutdown.clone().drop_guard();
    let registry_follower = start_registry_follower(&kafka, registry_shutdown).await?;
    let publisher = ReadPublisher::connect(
        &kafka,
        PublisherLimits {
            queue_max_messages: settings.producer_queue_max_messages,
            linger: Duration::from_millis(settings.producer_linger_ms),
            ..PublisherLimits::default()
        },
    )
    .await?;
    let state = Arc::new(IngestState {
        tokens: TokenTable::new(&settings.tokens).with_registry(registry_follower.registry()),
        publisher: publisher.clone(),
        clock,
        settings: settings.clone(),
        images,
        vendor_context: vendor_context.clone(),
        recent_vendor_reads: Arc::new(vendor::RecentReadIds::new(
            vendor::RecentReadIds::DEFAULT_CAPACITY,
        )),
    });

    let raw_intake = settings.consume_raw_topic.then(|| {
        tokio::spawn(raw_topic::consume_raw_topic(
            kafka.clone(),
            publisher.clone(),
            raw_topic::RawIntake {
                default_organisation: settings.raw_default_organisation.clone(),
                limits: state.validation_limits(),
                vendor_context,
                images: state.images.clone(),
                max_image_bytes: settings.max_image_bytes,
                recent_vendor_reads: state.recent_vendor_reads.clone(),
            },
            shutdown.clone(),
        ))
    });

    let address = listener.local_addr().map_err(IngestError::Serve)?;
    let image_store = state.images.as_ref().map(ImageStore::location);
    let registered_cameras = registry_follower
        .registry()
        .read()
        .map_or(0, |registry| registry.cameras().count());
    tracing::info!(%address, tokens = settings.tokens.len(), registered_cameras, image_store, "ingest listening");
    if settings.tokens.is_empty() && registered_cameras == 0 {
        tracing::warn!("no camera tokens are configured or registered, so every HTTP read is rejected with 401 until a camera is added with `alpr admin camera add`");
    }
    axum::serve(listener, http::router(state))
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await
        .map_err(IngestError::Serve)?;

    if let Some(task) = raw_intake {
        match task.await {
            Ok(result) => result?,
            Err(error) => tracing::error!(%error, "raw topic intake task failed"),
        }
    }
    let flushed =
        tokio::task::spawn_blocking(move || publisher.flush(std::time::Duration::from_secs(10)))
            .await;
    if !matches!(flushed, Ok(Ok(()))) {
        tracing::warn!("producer not fully flushed at shutdown");
    }
    registry_follower.join().await;
    tracing::info!("ingest stopped");
    Ok(())
}

/// Starts following the registry for camera tokens. Ingest starts even when the registry cannot
/// be read yet: the follower keeps retrying, and registered cameras get 401 until it has loaded.
async fn start_registry_follower(
    kafka: &KafkaSettings,
    shutdown: ShutdownToken,
) -> Result<RegistryFollower, IngestError> {
    let follower = RegistryFollower::start(kafka, shutdown, REGISTRY_LOAD_WAIT).await?;
    if !follower.wait_caught_up(Duration::ZERO).await {
        tracing::warn!(
            wait_seconds = REGISTRY_LOAD_WAIT.as_secs(),
            "registry not loaded yet, starting without registered camera tokens"
        );
    }
    Ok(follower)
}

/// Binds the camera-facing address, naming it in the error.
pub async fn bind(address: SocketAddr) -> Result<TcpListener, IngestError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| IngestError::Bind { address, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_context_rejects_unknown_zone_and_country() {
        let bad_zone = IngestSettings {
            camera_time_zones: BTreeMap::from([("cam-1".to_string(), "Mars/Olympus".to_string())]),
            ..IngestSettings::default()
        };
        let error = bad_zone
            .vendor_context()
            .err()
            .map(|error| error.to_string());
        assert!(
            error
                .as_deref()
                .is_some_and(|error| error.contains("camera cam-1")),
            "{error:?}"
        );

        let bad_country = IngestSettings {
            default_plate_country: Some("Narnia".into()),
            ..IngestSettings::default()
        };
        assert!(bad_country.vendor_context().is_err());

        let good = IngestSettings {
            default_plate_country: Some("USA".into()),
            ..IngestSettings::default()
        };
        assert!(good.vendor_context().is_ok());
    }
}
