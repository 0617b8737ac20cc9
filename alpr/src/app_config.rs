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
use alpr_search::service::SearchServiceSettings;

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
    pub search: SearchServiceSettings,
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

#[cfg(test)]
mod tests {
    use figment::providers::{Format, Serialized, Toml};
    use figment::Figment;

    use alpr_schemas::OrganisationLevel;

    use super::*;

    #[test]
    fn registry_rules_load_from_toml() {
        let text = r#"
            [[registry.jurisdiction_rules]]
            name = "california-sb34"
            owner_state = "US-CA"
            grantee_same_state = true
            forbidden_grantee_levels = ["federal"]
        "#;
        let config: AppConfig = Figment::from(Serialized::defaults(AppConfig::default()))
            .merge(Toml::string(text))
            .extract()
            .expect("the example rule loads");
        let rules = &config.registry.jurisdiction_rules;
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].name, "california-sb34");
        assert!(rules[0].grantee_same_state);
        assert_eq!(
            rules[0].forbidden_grantee_levels,
            vec![OrganisationLevel::Federal]
        );
    }

    #[test]
    fn registry_rule_with_unknown_key_is_rejected() {
        let text = r#"
            [[registry.jurisdiction_rules]]
            name = "x"
            owner_state = "US-CA"
            grantee_country = "US"
        "#;
        let loaded: Result<AppConfig, _> =
            Figment::from(Serialized::defaults(AppConfig::default()))
                .merge(Toml::string(text))
                .extract();
        let error = loaded.expect_err("grantee_country is no rule key");
        assert!(error.to_string().contains("grantee_country"), "{error}");
    }
}
