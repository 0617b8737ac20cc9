//! `alpr search`: the read index and the investigators' API, with the admin server.

use anyhow::Context;

use alpr_platform::ShutdownToken;

use crate::app_config::AppConfig;
use crate::components::run_with_admin;

/// Runs the search service with the admin server until `shutdown`.
pub async fn run_search(config: AppConfig, shutdown: ShutdownToken) -> anyhow::Result<()> {
    config.search.validate()?;
    alpr_platform::ensure_topics(&config.kafka).await?;
    let api_listener = alpr_search::service::bind(config.search.listen)
        .await
        .with_context(|| format!("binding the search api to {}", config.search.listen))?;
    // OCR-tolerant searches use the matcher's confusion classes, so an investigator finds what
    // the matcher would have alerted on.
    let limits = config
        .search
        .limits(config.matcher.confusion_classes.clone());
    run_with_admin(config.admin.listen, |readiness| async move {
        alpr_search::service::run(
            config.search,
            limits,
            config.kafka,
            api_listener,
            alpr_platform::system_clock(),
            readiness,
            shutdown,
        )
        .await
        .context("search")
    })
    .await
}
