//! Shutdown signalling. Every component takes a [`ShutdownToken`]; the binary cancels it on
//! SIGTERM or Ctrl-C and tests cancel it themselves.

pub use tokio_util::sync::CancellationToken as ShutdownToken;

/// Cancels `token` when the process receives SIGTERM or SIGINT.
pub fn shutdown_on_signal(token: ShutdownToken) {
    tokio::spawn(async move {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(error) => {
                    tracing::error!(%error, "cannot listen for SIGTERM, only Ctrl-C stops cleanly");
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            _ = terminate => tracing::info!(signal = "SIGTERM", "shutdown requested"),
            _ = tokio::signal::ctrl_c() => tracing::info!(signal = "SIGINT", "shutdown requested"),
            _ = token.cancelled() => return,
        }
        token.cancel();
    });
}
