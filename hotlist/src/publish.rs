//! Publishes a list difference, and then the list's import record, to the hotlist topic.
//!
//! Delivery is at least once per record: the producer is idempotent with `acks=all`, so a
//! retried send is not duplicated within one producer session, and every delivery report is
//! awaited before the import reports success. The records of one import are not atomic, though:
//! a matcher may see some of them before the rest arrive, and a failure part way leaves the
//! delivered records on the topic. A repeat of the import then publishes only what is missing.

use std::time::Duration;

use alpr_platform::KafkaSettings;
use futures::StreamExt;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};

use alpr_schemas::HotlistImport;

use crate::diff::ListDiff;
use crate::error::ImportError;

/// Sends awaiting their delivery report at once. It bounds the futures held in memory for a
/// list of millions of entries; librdkafka batches the records of concurrent sends.
const MAX_IN_FLIGHT: usize = 10_000;

/// How long a send may wait for room in librdkafka's queue before it fails.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(60);

/// One record to publish: an encoded entry, or a tombstone when `payload` is `None`.
struct OutgoingRecord {
    key: String,
    payload: Option<Vec<u8>>,
}

/// Publishes the upserts and the tombstones of `difference`, awaiting every delivery report.
/// Every entry is encoded before the first send, so a record that cannot be encoded stops the
/// import with nothing published.
pub(crate) async fn publish_difference(
    settings: &KafkaSettings,
    difference: &ListDiff,
) -> Result<(), ImportError> {
    send_records(settings, encode_records(difference)?).await
}

/// Publishes the import record of `list`, or its tombstone when `import` is `None` because the
/// list was removed. Sent only after the entries were delivered, so the import time a matcher
/// reports never precedes the entries it covers.
pub(crate) async fn publish_import_record(
    settings: &KafkaSettings,
    list: &str,
    import: Option<&HotlistImport>,
) -> Result<(), ImportError> {
    let payload = import
        .map(|import| {
            alpr_schemas::encode(import).map_err(|source| ImportError::EncodeImport {
                list: list.to_string(),
                source,
            })
        })
        .transpose()?;
    let record = OutgoingRecord {
        key: HotlistImport::key(list),
        payload,
    };
    send_records(settings, vec![record]).await
}

/// Sends records to the hotlist topic and awaits every delivery report.
async fn send_records(
    settings: &KafkaSettings,
    records: Vec<OutgoingRecord>,
) -> Result<(), ImportError> {
    if records.is_empty() {
        return Ok(());
    }
    let topic = settings.topics().hotlist;
    let producer: FutureProducer = settings
        .client_config()
        .set("enable.idempotence", "true")
        .set("acks", "all")
        // The Java client's default partitioner: a key lands on the partition that Kafka's own
        // tools compute for it. Every matcher reads all partitions, so the choice only has to
        // be the same for every writer of the topic.
        .set("partitioner", "murmur2_random")
        .create()
        .map_err(|source| ImportError::Kafka {
            action: "create the hotlist producer",
            source,
        })?;

    let attempted = records.len();
    let mut failed = 0;
    let mut first_error: Option<KafkaError> = None;
    let mut deliveries = futures::stream::iter(&records)
        .map(|record| {
            let mut message = FutureRecord::<str, [u8]>::to(&topic).key(record.key.as_str());
            if let Some(payload) = &record.payload {
                message = message.payload(payload.as_slice());
            }
            producer.send(message, QUEUE_TIMEOUT)
        })
        .buffer_unordered(MAX_IN_FLIGHT);
    while let Some(result) = deliveries.next().await {
        if let Err((error, _message)) = result {
            failed += 1;
            tracing::debug!(%topic, error = %error, "hotlist record not delivered");
            first_error.get_or_insert(error);
        }
    }
    // The stream borrows the topic name; release it before the name moves into an error.
    drop(deliveries);

    match first_error {
        None => {
            tracing::info!(%topic, records = attempted, "hotlist records delivered");
            Ok(())
        }
        Some(first_error) => {
            tracing::error!(%topic, failed, attempted, error = %first_error, "hotlist publish failed");
            Err(ImportError::Publish {
                topic,
                failed,
                attempted,
                first_error,
            })
        }
    }
}

fn encode_records(difference: &ListDiff) -> Result<Vec<OutgoingRecord>, ImportError> {
    let mut records = Vec::with_capacity(difference.upserts.len() + difference.removals.len());
    for entry in &difference.upserts {
        let payload = alpr_schemas::encode(entry).map_err(|source| ImportError::Encode {
            entry_id: entry.entry_id.clone(),
            source,
        })?;
        tracing::debug!(
            entry_id = %entry.entry_id,
            plate = %alpr_schemas::plate::mask_plate(&entry.plate),
            "publishing hotlist entry"
        );
        records.push(OutgoingRecord {
            key: entry.entry_id.clone(),
            payload: Some(payload),
        });
    }
    for key in &difference.removals {
        tracing::debug!(entry_id = %key, "publishing hotlist tombstone");
        records.push(OutgoingRecord {
            key: key.clone(),
            payload: None,
        });
    }
    Ok(records)
}
