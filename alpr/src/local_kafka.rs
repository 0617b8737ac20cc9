//! Finding or starting the local development broker for `alpr demo`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};

use alpr_platform::KafkaSettings;

/// Returns whether a broker responds to a metadata request at the configured bootstrap servers.
pub async fn broker_answers(kafka: &KafkaSettings) -> bool {
    let kafka = kafka.clone();
    tokio::task::spawn_blocking(move || {
        let consumer: Result<BaseConsumer, _> = kafka
            .client_config()
            .set("socket.connection.setup.timeout.ms", "3000")
            .create();
        consumer.is_ok_and(|consumer| {
            consumer
                .fetch_metadata(None, Duration::from_secs(5))
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// Returns the path of `deploy/local/kafka.sh`: from `ALPR_KAFKA_SCRIPT`, the current folder,
/// or the source tree this binary was built from.
pub fn kafka_script() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("ALPR_KAFKA_SCRIPT") {
        return Some(PathBuf::from(path));
    }
    let relative = PathBuf::from("deploy/local/kafka.sh");
    if relative.exists() {
        return Some(relative);
    }
    let from_source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/local/kafka.sh");
    from_source.exists().then_some(from_source)
}

/// Starts the local broker with the project's script, which waits until it responds.
pub fn start_local_broker() -> anyhow::Result<()> {
    let script = kafka_script().ok_or_else(|| {
        anyhow::anyhow!("no broker responds and deploy/local/kafka.sh was not found; start Kafka or set ALPR_KAFKA_SCRIPT")
    })?;
    tracing::info!(script = %script.display(), "no broker responds, starting the local one");
    let status = Command::new("bash").arg(&script).arg("start").status()?;
    anyhow::ensure!(
        status.success(),
        "{} start failed with {status}",
        script.display()
    );
    Ok(())
}
