//! Layered configuration: compiled defaults, then a TOML file, then `ALPR_…` environment
//! variables, then command-line flags, each layer overriding the one before.
//!
//! Environment variables name nested keys with a double underscore, so
//! `ALPR_KAFKA__BOOTSTRAP_SERVERS` sets `kafka.bootstrap_servers`. Variables without a double
//! underscore (such as `ALPR_KAFKA_PORT`, which the local broker script reads) are not settings
//! and are ignored here. Unknown keys in any layer are an error, so a misspelt setting never
//! silently keeps its default.

use std::path::Path;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::{Figment, Provider};
use serde::de::DeserializeOwned;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {path} not found")]
    FileNotFound { path: String },
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
}

/// Loads settings of type `T` from its defaults, an optional TOML file, the environment and
/// `flags`. `flags` is a provider built from command-line arguments, or an empty `Serialized`.
pub fn load_config<T>(file: Option<&Path>, flags: impl Provider) -> Result<T, ConfigError>
where
    T: Serialize + DeserializeOwned + Default,
{
    let mut figment = Figment::from(Serialized::defaults(T::default()));
    if let Some(path) = file {
        if !path.exists() {
            return Err(ConfigError::FileNotFound {
                path: path.display().to_string(),
            });
        }
        figment = figment.merge(Toml::file(path));
    }
    figment = figment
        .merge(
            Env::prefixed("ALPR_")
                .filter(|key| key.as_str().contains("__"))
                .split("__"),
        )
        .merge(flags);
    figment
        .extract()
        .map_err(|error| ConfigError::Invalid(Box::new(error)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Sample {
        section: Section,
    }

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Section {
        name: String,
        count: u32,
    }

    impl Default for Section {
        fn default() -> Self {
            Self {
                name: "default".into(),
                count: 1,
            }
        }
    }

    #[test]
    fn file_overrides_defaults_and_flags_override_file() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("sample.toml");
        std::fs::write(&path, "[section]\nname = \"from-file\"\ncount = 5\n").unwrap();

        let flags = Serialized::default("section.count", 9);
        let loaded: Sample = load_config(Some(&path), flags).unwrap();
        assert_eq!(loaded.section.name, "from-file");
        assert_eq!(loaded.section.count, 9);
    }

    #[test]
    fn unknown_key_is_an_error() {
        let flags = Serialized::default("section.colour", "blue");
        let error = load_config::<Sample>(None, flags).unwrap_err();
        assert!(error.to_string().contains("colour"), "{error}");
    }

    #[test]
    fn missing_file_is_named() {
        let error = load_config::<Sample>(
            Some(Path::new("/nonexistent/alpr.toml")),
            Serialized::defaults(()),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/alpr.toml"),
            "{error}"
        );
    }
}
