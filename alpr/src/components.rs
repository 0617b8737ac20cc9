//! Running ingest and the matcher, alone or together in one process, with the admin server.

use anyhow::Context;
use tokio::task::JoinSet;

use alpr_platform::admin::bind_admin;
use alpr_platform::{serve_admin, Readiness, ShutdownToken};

use crate::app_config::AppConfig;

/// The set of components one process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComponentSet {
    pub ingest: bool,
    pub matcher: bool,
}

/// Runs the chosen components and the admin server until `shutdown` or until one of them fails;
/// a failure stops the others and is returned.
pub async fn run_components(
    config: AppConfig,
    set: ComponentSet,
    shutdown: ShutdownToken,
) -> anyhow::Result<()> {
    let readiness = Readiness::default();
    let admin_listener = bind_admin(config.admin.listen).await?;
    let mut tasks: JoinSet<anyhow::Result<&'static str>> = JoinSet::new();

    if set.ingest {
        let listener = alpr_ingest::bind(config.ingest.listen).await?;
        let images = alpr_images::ImageStore::open(&config.images)?;
        let (settings, kafka, stop) = (
            config.ingest.clone(),
            config.kafka.clone(),
            shutdown.clone(),
        );
        tasks.spawn(async move {
            alpr_ingest::run(
                settings,
                kafka,
                listener,
                alpr_platform::system_clock(),
                Some(images),
                stop,
            )
            .await
            .context("ingest")?;
            Ok("ingest")
        });
    }
    if set.matcher {
        let (settings, kafka, stop, ready) = (
            config.matcher.clone(),
            config.kafka.clone(),
            shutdown.clone(),
            readiness.clone(),
        );
        tasks.spawn(async move {
            alpr_matcher::run(settings, kafka, alpr_platform::system_clock(), ready, stop)
                .await
                .context("matcher")?;
            Ok("matcher")
        });
    } else {
        // Ingest alone has no start-up phase to wait for: it is ready once it listens.
        readiness.set_ready(true);
    }

    let admin_stop = ShutdownToken::new();
    let admin = tokio::spawn(serve_admin(admin_listener, readiness, admin_stop.clone()));

    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(component)) => tracing::debug!(component, "component stopped"),
            Ok(Err(error)) => {
                tracing::error!(error = %format!("{error:#}"), "component failed, stopping the others");
                shutdown.cancel();
                first_error.get_or_insert(error);
            }
            Err(join_error) => {
                shutdown.cancel();
                first_error.get_or_insert(anyhow::anyhow!("component task panicked: {join_error}"));
            }
        }
    }
    // The admin server stops last, so probes and scrapes see the shutdown happen.
    admin_stop.cancel();
    if let Ok(Err(error)) = admin.await {
        tracing::warn!(%error, "admin server ended with an error");
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// Runs one component beside the admin server until the component ends. `start` receives the
/// readiness flag the admin server reports; the admin server stops only after the component, so
/// probes and scrapes see the shutdown happen.
pub async fn run_with_admin<F, Fut>(
    admin_listen: std::net::SocketAddr,
    start: F,
) -> anyhow::Result<()>
where
    F: FnOnce(Readiness) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let readiness = Readiness::default();
    let admin_listener = bind_admin(admin_listen).await?;
    let admin_stop = ShutdownToken::new();
    let admin = tokio::spawn(serve_admin(
        admin_listener,
        readiness.clone(),
        admin_stop.clone(),
    ));
    let outcome = start(readiness).await;
    admin_stop.cancel();
    if let Ok(Err(error)) = admin.await {
        tracing::warn!(%error, "admin server ended with an error");
    }
    outcome
}
