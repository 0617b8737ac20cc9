//! Intake from `alpr.reads.raw`, where third-party producers write reads in alpr's JSON form,
//! or in a camera vendor's own format named by the `alpr.vendor` header.
//!
//! Every record ends in exactly one place: valid reads on the reads topic, everything else on
//! the dead-letter topic with the reason in headers. A record's offset is stored only after that
//! write is acknowledged, so a crash re-reads records instead of losing them (at-least-once; the
//! read id makes a re-published read collapse under compaction when the producer set an event
//! id).

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};

use alpr_platform::consumer_lag::PartitionLagContext;
use rdkafka::message::{BorrowedMessage, Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

use alpr_images::ImageStore;
use alpr_platform::{KafkaSettings, ShutdownToken};
use alpr_vendors::ParseContext;

use crate::image::{store_image, AdmittedImage};

use crate::metrics::{
    DEAD_LETTERS, PATH_RAW_TOPIC, RAW_CONSUMER_LAG, READS_ACCEPTED, READS_REJECTED,
    VENDOR_RESENDS_SKIPPED,
};
use crate::publisher::{PublishError, ReadPublisher};
use crate::submission::parse_submission;
use crate::validate::{validate_submission, RejectReason, Rejection, ValidationLimits};
use crate::vendor::{
    admit_vendor_body, vendor_source, RecentReadIds, VendorImages, CONTENT_TYPE_HEADER,
    VENDOR_HEADER,
};

/// Header a raw producer sets to name the organisation that owns the camera.
pub const ORGANISATION_HEADER: &str = "alpr.organisation";
/// Headers on dead-letter records.
pub const REJECT_REASON_HEADER: &str = "alpr.reject.reason";
pub const REJECT_FIELD_HEADER: &str = "alpr.reject.field";
pub const REJECT_MESSAGE_HEADER: &str = "alpr.reject.message";
/// Source recorded on reads that arrive through the raw topic.
pub const RAW_SOURCE: &str = "raw-topic";

/// Settings and stores the raw intake needs, besides Kafka, to turn records into reads.
#[derive(Debug, Clone)]
pub struct RawIntake {
    /// Organisation of records that carry no `alpr.organisation` header.
    pub default_organisation: Option<String>,
    pub limits: ValidationLimits,
    /// Camera time zones and default plate country for vendor records.
    pub vendor_context: ParseContext,
    /// Store for the pictures in vendor records; without one they are dropped.
    pub images: Option<ImageStore>,
    /// Largest picture stored, in bytes.
    pub max_image_bytes: usize,
    /// Vendor reads published recently, shared with the HTTP endpoint.
    pub recent_vendor_reads: Arc<RecentReadIds>,
}

/// A read admitted from one record, with the picture to store before it is produced.
struct RawRead {
    read: alpr_schemas::CameraRead,
    image: Option<AdmittedImage>,
    /// Whether the read came from a vendor body, whose recent resends are not produced again.
    from_vendor: bool,
}

/// Consumes the raw topic until `shutdown`, then commits the stored offsets.
pub async fn consume_raw_topic(
    settings: KafkaSettings,
    publisher: ReadPublisher,
    intake: RawIntake,
    shutdown: ShutdownToken,
) -> Result<(), rdkafka::error::KafkaError> {
    let topics = settings.topics();
    let lag = PartitionLagContext::new(topics.reads_raw.clone(), RAW_CONSUMER_LAG.clone());
    let consumer: StreamConsumer<PartitionLagContext> = settings
        .client_config()
        .set(
            "group.id",
            format!("{}alpr-ingest-raw", settings.topic_prefix),
        )
        .set("enable.auto.commit", "true")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("statistics.interval.ms", "5000")
        .create_with_context(lag)?;
    consumer.subscribe(&[&topics.reads_raw])?;
    let dead_letters: FutureProducer = settings
        .client_config()
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()?;
    tracing::info!(topic = %topics.reads_raw, "raw topic intake started");

    loop {
        let message = tokio::select! {
            _ = shutdown.cancelled() => break,
            message = consumer.recv() => message,
        };
        let message = match message {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(%error, "raw topic consume error");
                continue;
            }
        };
        let source = record_source(&message);
        let outcome = admit_raw(&message, &intake);
        let delivered = match outcome {
            Ok(reads) => deliver_with_retry(&publisher, &intake, &source, reads, &shutdown)
                .await
                .map(|count| {
                    READS_ACCEPTED
                        .with_label_values(&[PATH_RAW_TOPIC, &source])
                        .inc_by(count);
                }),
            Err(rejection) => {
                READS_REJECTED
                    .with_label_values(&[PATH_RAW_TOPIC, &source, rejection.reason.as_label()])
                    .inc();
                send_dead_letter(&dead_letters, &topics.reads_dlq, &message, &rejection).await
            }
        };
        match delivered {
            Ok(()) => consumer.store_offset_from_message(&message)?,
            // Only shutdown interrupts a retry loop. The offset stays unstored, so the record
            // is read again by the next instance.
            Err(()) => break,
        }
    }

    match consumer.commit_consumer_state(CommitMode::Sync) {
        Ok(()) => {}
        // Nothing was consumed since the last automatic commit.
        Err(rdkafka::error::KafkaError::ConsumerCommit(
            rdkafka::types::RDKafkaErrorCode::NoOffset,
        )) => {}
        Err(error) => tracing::warn!(%error, "cannot commit raw topic offsets at shutdown"),
    }
    tracing::info!("raw topic intake stopped");
    Ok(())
}

/// Returns the `source` label of a record: `raw-topic` for alpr's own JSON, `vendor-<name>` for
/// a known adapter, and `vendor-unknown` for a header that names none.
fn record_source(message: &BorrowedMessage<'_>) -> String {
    match header_text(message, VENDOR_HEADER) {
        None => RAW_SOURCE.to_string(),
        Some(name) => match alpr_vendors::adapter_for(&name) {
            Some(adapter) => vendor_source(adapter.as_ref()),
            None => "vendor-unknown".to_string(),
        },
    }
}

/// Turns one raw record into the reads it carries: one for alpr's own JSON, zero or more for a
/// vendor body named by the `alpr.vendor` header. A record is admitted or rejected as a whole.
fn admit_raw(message: &BorrowedMessage<'_>, intake: &RawIntake) -> Result<Vec<RawRead>, Rejection> {
    let limits = intake.limits;
    let organisation = header_text(message, ORGANISATION_HEADER)
        .or(intake.default_organisation.clone())
        .ok_or_else(|| {
            Rejection::new(
                RejectReason::MissingField,
                ORGANISATION_HEADER,
                "missing header and no default organisation is configured",
            )
        })?;
    let payload = message
        .payload()
        .ok_or_else(|| Rejection::malformed("body", "empty record"))?;
    let Some(vendor) = header_text(message, VENDOR_HEADER) else {
        let submission = parse_submission(payload)?;
        let read = validate_submission(
            submission,
            &organisation,
            RAW_SOURCE,
            chrono::Utc::now(),
            limits,
        )?;
        return Ok(vec![RawRead {
            read,
            image: None,
            from_vendor: false,
        }]);
    };
    let adapter = alpr_vendors::adapter_for(&vendor).ok_or_else(|| {
        Rejection::new(
            RejectReason::UnknownVendor,
            VENDOR_HEADER,
            format!(
                "{vendor:?} is not a supported vendor format; use one of {}",
                alpr_vendors::adapter_names().join(", ")
            ),
        )
    })?;
    let content_type = header_text(message, CONTENT_TYPE_HEADER);
    let images = match intake.images {
        Some(_) => VendorImages::Admit {
            max_bytes: intake.max_image_bytes,
        },
        None => VendorImages::Drop,
    };
    let reads = admit_vendor_body(
        adapter.as_ref(),
        payload,
        content_type.as_deref(),
        &intake.vendor_context,
        &|_camera_id| Ok(organisation.clone()),
        chrono::Utc::now(),
        limits,
        images,
    )?;
    Ok(reads
        .into_iter()
        .map(|vendor_read| RawRead {
            read: vendor_read.read,
            image: vendor_read.image,
            from_vendor: true,
        })
        .collect())
}

fn header_text(message: &BorrowedMessage<'_>, name: &str) -> Option<String> {
    let headers = message.headers()?;
    headers
        .iter()
        .find(|header| header.key == name)
        .and_then(|header| header.value)
        .and_then(|value| std::str::from_utf8(value).ok())
        .map(str::to_string)
}

/// Stores each read's picture and publishes the read, retrying both until they succeed, and
/// returns the number of reads published. Returns `Err(())` only when shutdown interrupts the
/// retries.
async fn deliver_with_retry(
    publisher: &ReadPublisher,
    intake: &RawIntake,
    source: &str,
    reads: Vec<RawRead>,
    shutdown: &ShutdownToken,
) -> Result<u64, ()> {
    let mut published = 0;
    for raw_read in reads {
        let RawRead {
            mut read,
            image,
            from_vendor,
        } = raw_read;
        if from_vendor && intake.recent_vendor_reads.contains(&read.read_id) {
            VENDOR_RESENDS_SKIPPED
                .with_label_values(&[PATH_RAW_TOPIC, source])
                .inc();
            continue;
        }
        if let (Some(image), Some(store)) = (image, intake.images.as_ref()) {
            store_image_with_retry(store, &mut read, image, shutdown).await?;
        }
        publish_with_retry(publisher, &read, shutdown).await?;
        if from_vendor {
            intake.recent_vendor_reads.insert(&read.read_id);
        }
        published += 1;
    }
    Ok(published)
}

/// Stores a picture until the store accepts it, backing off in between. A failing store is an
/// outage to wait out, not a reason to send the record to the dead-letter topic. `store_image`
/// logs and counts each failure.
async fn store_image_with_retry(
    store: &ImageStore,
    read: &mut alpr_schemas::CameraRead,
    image: AdmittedImage,
    shutdown: &ShutdownToken,
) -> Result<(), ()> {
    let mut backoff = Duration::from_millis(100);
    while store_image(store, read, image.clone()).await.is_err() {
        tokio::select! {
            _ = shutdown.cancelled() => return Err(()),
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
    Ok(())
}

/// Publishes until acknowledged, backing off while the broker or the queue is unavailable.
/// Returns `Err(())` only when shutdown interrupts the retries.
async fn publish_with_retry(
    publisher: &ReadPublisher,
    read: &alpr_schemas::CameraRead,
    shutdown: &ShutdownToken,
) -> Result<(), ()> {
    let mut backoff = Duration::from_millis(100);
    loop {
        match publisher.publish(read).await {
            Ok(()) => return Ok(()),
            Err(PublishError::Encode(error)) => {
                // Validation produced a record the schema cannot hold: a bug, not bad input.
                tracing::error!(%error, read_id = %read.read_id, "validated read cannot be encoded");
                return Ok(());
            }
            Err(error) => {
                tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "publish from raw topic failed, retrying");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Err(()),
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

async fn send_dead_letter(
    producer: &FutureProducer,
    topic: &str,
    message: &BorrowedMessage<'_>,
    rejection: &Rejection,
) -> Result<(), ()> {
    let mut headers = OwnedHeaders::new();
    if let Some(original) = message.headers() {
        for header in original.iter() {
            headers = headers.insert(Header {
                key: header.key,
                value: header.value,
            });
        }
    }
    let headers = headers
        .insert(Header {
            key: REJECT_REASON_HEADER,
            value: Some(rejection.reason.as_label()),
        })
        .insert(Header {
            key: REJECT_FIELD_HEADER,
            value: Some(rejection.field.as_str()),
        })
        .insert(Header {
            key: REJECT_MESSAGE_HEADER,
            value: Some(rejection.message.as_str()),
        });
    let mut record = FutureRecord::<[u8], [u8]>::to(topic).headers(headers);
    if let Some(key) = message.key() {
        record = record.key(key);
    }
    if let Some(payload) = message.payload() {
        record = record.payload(payload);
    }
    match producer.send(record, Duration::from_secs(30)).await {
        Ok(_) => {
            DEAD_LETTERS
                .with_label_values(&[rejection.reason.as_label()])
                .inc();
            tracing::debug!(reason = rejection.reason.as_label(), field = %rejection.field, "raw record sent to dead-letter topic");
            Ok(())
        }
        Err((error, _)) => {
            // Without an acknowledged dead letter the offset must not move, so stop here and
            // let the next instance retry the record.
            tracing::error!(%error, "cannot write dead letter, stopping raw intake");
            Err(())
        }
    }
}
