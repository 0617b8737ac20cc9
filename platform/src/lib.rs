//! Plumbing that every alpr component shares: Kafka client settings, topic names and creation,
//! the partitioner, layered configuration, the admin HTTP server (`/metrics`, `/healthz`,
//! `/readyz`), shutdown signalling and tracing set-up.

pub mod admin;
pub mod clock;
pub mod config;
pub mod consumer_lag;
pub mod kafka;
pub mod partition;
pub mod shutdown;
pub mod state_metrics;
pub mod telemetry;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use admin::{serve_admin, Readiness};
pub use clock::{system_clock, Clock};
pub use config::{load_config, ConfigError};
pub use kafka::{ensure_topics, KafkaSettings, TopicNames};
pub use partition::partition_for_key;
pub use shutdown::{shutdown_on_signal, ShutdownToken};
pub use state_metrics::StateStoreMetrics;
