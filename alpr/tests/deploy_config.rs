//! The configuration files that the Kubernetes manifests mount must load with this build's
//! settings types, which reject unknown keys: a file that does not load stops every pod at start.

use std::path::{Path, PathBuf};

use alpr::app_config::AppConfig;
use figment::providers::Serialized;

fn repository_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

#[test]
fn kubernetes_configs_load() {
    for relative in [
        "deploy/k8s/base/config/alpr.toml",
        "deploy/k8s/overlays/production/app/alpr.toml",
    ] {
        let path = repository_file(relative);
        let loaded: Result<AppConfig, _> =
            alpr_platform::load_config(Some(&path), Serialized::defaults(serde_json::json!({})));
        let config = loaded.unwrap_or_else(|error| panic!("{relative} does not load: {error}"));
        // Every path a pod writes must be absolute: the containers' root filesystem is read-only.
        assert!(
            config.matcher.state_dir.is_absolute(),
            "{relative}: matcher.state_dir"
        );
        assert!(
            config.retention.state_dir.is_absolute(),
            "{relative}: retention.state_dir"
        );
        assert!(
            config.retention.purge_log.is_absolute(),
            "{relative}: retention.purge_log"
        );
        assert!(
            config.search.index.index_dir.is_absolute(),
            "{relative}: search.index.index_dir"
        );
        assert!(
            config.images.location.starts_with('/') || config.images.location.starts_with("s3://"),
            "{relative}: images.location {}",
            config.images.location
        );
    }
}
