//! The settings of every component in one file. Each section belongs to one crate; this file
//! only puts them together so a single TOML file, `ALPR_…` variables and flags can set them.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use alpr_images::ImageSettings;
use alpr_ingest::IngestSettings;
use alpr_matcher::MatcherSettings;
use alpr_platform::KafkaSettings;
use alpr_registry::RegistrySettings;
use alpr_retention::RetentionSettings;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppConfig {
    pub kafka: KafkaSettings,
    pub admin: AdminSettings,
    pub ingest: IngestSettings,
    pub matcher: MatcherSettings,
    pub retention: RetentionSettings,
    /// Jurisdiction rules that `alpr admin grant add` checks.
    pub registry: RegistrySettings,
    /// The image store, shared by ingest (which stores images) and retention (which deletes them).
    pub images: ImageSettings,
    pub log: LogSettings,
}

/// The admin HTTP server with `/metrics`, `/healthz` and `/readyz`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSettings {
    pub listen: SocketAddr,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON lines, for production log collectors.
    Json,
    /// Readable lines, for a terminal.
    #[default]
    Text,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
}

impl From<LogFormat> for alpr_platform::telemetry::LogFormat {
    fn from(format: LogFormat) -> Self {
        match format {
            LogFormat::Json => Self::Json,
            LogFormat::Text => Self::Text,
        }
    }
}
