//! Placing, releasing and listing evidence holds: the work behind `alpr holds`.
//!
//! A hold is an `EvidenceHold` on `alpr.holds.v1` keyed by hold id; a tombstone under that key
//! releases it. Every change is published in one Kafka transaction together with its
//! `AuditEvent` on `alpr.audit.v1`, so a hold never takes effect without its audit record, nor
//! the other way round.
//!
//! Before placing a hold, each read id is looked up in the retention worker's index through its
//! read lookup API (see [`crate::api`]). The index contains exactly the reads that retention
//! will delete, so a read it does not contain either never arrived or is already deleted, and a
//! hold on it would protect nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use alpr_audit::{event_hash, last_hash_in_partition};
use alpr_platform::kafka::{partition_count, watermarks};
use alpr_platform::{partition_for_key, KafkaSettings};
use alpr_schemas::{decode, encode, AuditAction, AuditEvent, CodecError, EvidenceHold};

use crate::api::ReadStatus;
use crate::store::RetentionStore;

const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    #[error("invalid {field}: {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
    #[error("cannot place the hold: {} not found in the retention index (never received, or already deleted): {}", if read_ids.len() == 1 { "read id" } else { "read ids" }, read_ids.join(", "))]
    UnknownReads { read_ids: Vec<String> },
    #[error(
        "hold {hold_id} not found on the holds topic: it was never placed or is already released"
    )]
    UnknownHold { hold_id: String },
    #[error("cannot reach the retention worker at {url} to check that the reads exist: {message}; start `alpr retention` or pass --retention-url")]
    LookupUnavailable { url: String, message: String },
    #[error("read lookup for {read_id} failed: {message}")]
    Lookup { read_id: String, message: String },
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    #[error("{0}")]
    Codec(#[from] CodecError),
    #[error("kafka client thread panicked")]
    ThreadPanicked,
}

/// Source that [`place_hold`] checks read existence against.
#[derive(Clone)]
pub enum ReadLookup {
    /// Ask a running retention worker's read lookup API at this base URL.
    Http { base_url: String },
    /// Read an index this process has open, for tests and single-process set-ups.
    Store(RetentionStore),
}

impl ReadLookup {
    /// Returns the read's status, or `None` when the index does not contain it.
    pub async fn find(&self, read_id: &str) -> Result<Option<ReadStatus>, HoldError> {
        match self {
            Self::Store(store) => {
                let lookup_error = |error: crate::StoreError| HoldError::Lookup {
                    read_id: read_id.to_string(),
                    message: error.to_string(),
                };
                let Some(read) = store.read(read_id).map_err(lookup_error)? else {
                    return Ok(None);
                };
                Ok(Some(ReadStatus {
                    read_id: read_id.to_string(),
                    organisation_id: read.organisation_id,
                    captured_at: alpr_schemas::from_micros(read.captured_at).to_rfc3339(),
                    partition: read.partition,
                    hold_ids: store.holds_on(read_id).map_err(lookup_error)?,
                }))
            }
            Self::Http { base_url } => {
                let url = format!("{}/v1/reads/{read_id}", base_url.trim_end_matches('/'));
                let response = reqwest::Client::new()
                    .get(&url)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await
                    .map_err(|error| HoldError::LookupUnavailable {
                        url: base_url.clone(),
                        message: error.to_string(),
                    })?;
                let status = response.status();
                if status == reqwest::StatusCode::NOT_FOUND {
                    return Ok(None);
                }
                if !status.is_success() {
                    let body = response.text().await.unwrap_or_default();
                    return Err(HoldError::Lookup {
                        read_id: read_id.to_string(),
                        message: format!("status {status}: {}", body.trim()),
                    });
                }
                response
                    .json()
                    .await
                    .map(Some)
                    .map_err(|error| HoldError::Lookup {
                        read_id: read_id.to_string(),
                        message: error.to_string(),
                    })
            }
        }
    }
}

/// A request to keep reads for a case.
#[derive(Debug, Clone)]
pub struct HoldRequest {
    pub case_number: String,
    pub reason: String,
    /// User id of the person placing the hold.
    pub placed_by: String,
    pub read_ids: Vec<String>,
    pub review_at: Option<DateTime<Utc>>,
    /// Organisation of the user, for the audit event. Without it (the command line has no
    /// logged-in user), the event names the organisations that own the reads.
    pub organisation_id: Option<String>,
    /// Purpose of the search the hold came from, for the audit event; without it, the reason.
    pub purpose: Option<String>,
}

fn require_text(field: &'static str, value: &str) -> Result<(), HoldError> {
    if value.trim().is_empty() {
        return Err(HoldError::Invalid {
            field,
            problem: "must not be empty".into(),
        });
    }
    Ok(())
}

fn require_uuid(field: &'static str, value: &str) -> Result<(), HoldError> {
    uuid::Uuid::parse_str(value)
        .map(|_| ())
        .map_err(|_| HoldError::Invalid {
            field,
            problem: format!("{value:?} is not a UUID"),
        })
}

/// Places a hold on the requested reads, after checking each exists in the retention index.
/// Returns the published hold.
pub async fn place_hold(
    kafka: &KafkaSettings,
    lookup: &ReadLookup,
    request: HoldRequest,
    now: DateTime<Utc>,
) -> Result<EvidenceHold, HoldError> {
    require_text("case number", &request.case_number)?;
    require_text("reason", &request.reason)?;
    require_text("user (--by)", &request.placed_by)?;
    if request.read_ids.is_empty() {
        return Err(HoldError::Invalid {
            field: "read ids",
            problem: "name at least one read id".into(),
        });
    }
    let read_ids: Vec<String> = request
        .read_ids
        .iter()
        .map(|id| id.trim().to_ascii_lowercase())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    for read_id in &read_ids {
        require_uuid("read id", read_id)?;
    }

    let mut missing = Vec::new();
    let mut organisations = BTreeSet::new();
    for read_id in &read_ids {
        match lookup.find(read_id).await? {
            Some(status) => {
                organisations.insert(status.organisation_id);
            }
            None => missing.push(read_id.clone()),
        }
    }
    if !missing.is_empty() {
        return Err(HoldError::UnknownReads { read_ids: missing });
    }

    let hold = EvidenceHold {
        hold_id: uuid::Uuid::new_v4().to_string(),
        case_number: request.case_number.trim().to_string(),
        read_ids,
        placed_by: request.placed_by.trim().to_string(),
        placed_at: now.timestamp_micros(),
        reason: request.reason.trim().to_string(),
        review_at: request.review_at.map(|time| time.timestamp_micros()),
    };
    let audit = AuditEvent {
        event_id: uuid::Uuid::new_v4().to_string(),
        actor: hold.placed_by.clone(),
        organisation_id: request
            .organisation_id
            .clone()
            .unwrap_or_else(|| organisations.into_iter().collect::<Vec<_>>().join(",")),
        occurred_at: hold.placed_at,
        action: AuditAction::HoldPlaced,
        case_number: Some(hold.case_number.clone()),
        purpose: Some(
            request
                .purpose
                .clone()
                .unwrap_or_else(|| hold.reason.clone()),
        ),
        query: Some(
            serde_json::json!({"hold_id": hold.hold_id, "read_ids": hold.read_ids}).to_string(),
        ),
        result_count: Some(hold.read_ids.len() as i64),
        previous_hash: String::new(),
        hash: String::new(),
    };
    let payload = encode(&hold)?;
    publish_blocking(kafka, Some((hold.hold_id.clone(), Some(payload))), audit).await?;
    tracing::info!(hold_id = %hold.hold_id, case_number = %hold.case_number, reads = hold.read_ids.len(), "evidence hold placed");
    Ok(hold)
}

/// Releases a hold: publishes its tombstone and the audit event. Returns the released hold.
pub async fn release_hold(
    kafka: &KafkaSettings,
    hold_id: &str,
    released_by: &str,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> Result<EvidenceHold, HoldError> {
    require_uuid("hold id", hold_id)?;
    require_text("user (--by)", released_by)?;
    let hold_id = hold_id.trim().to_ascii_lowercase();
    let holds = current_holds(kafka).await?;
    let Some(hold) = holds.get(&hold_id).cloned() else {
        return Err(HoldError::UnknownHold { hold_id });
    };
    let audit = AuditEvent {
        event_id: uuid::Uuid::new_v4().to_string(),
        actor: released_by.trim().to_string(),
        organisation_id: String::new(),
        occurred_at: now.timestamp_micros(),
        action: AuditAction::HoldReleased,
        case_number: Some(hold.case_number.clone()),
        purpose: reason,
        query: Some(
            serde_json::json!({"hold_id": hold.hold_id, "read_ids": hold.read_ids}).to_string(),
        ),
        result_count: Some(hold.read_ids.len() as i64),
        previous_hash: String::new(),
        hash: String::new(),
    };
    publish_blocking(kafka, Some((hold_id.clone(), None)), audit).await?;
    tracing::info!(%hold_id, case_number = %hold.case_number, "evidence hold released");
    Ok(hold)
}

/// Returns the holds in force, of one case or of all, in hold id order, and records the lookup
/// as an audit event of `actor`.
pub async fn list_holds(
    kafka: &KafkaSettings,
    case_number: Option<&str>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Vec<EvidenceHold>, HoldError> {
    require_text("user (--by)", actor)?;
    let holds: Vec<EvidenceHold> = current_holds(kafka)
        .await?
        .into_values()
        .filter(|hold| case_number.is_none_or(|case| hold.case_number == case))
        .collect();
    let audit = AuditEvent {
        event_id: uuid::Uuid::new_v4().to_string(),
        actor: actor.trim().to_string(),
        organisation_id: String::new(),
        occurred_at: now.timestamp_micros(),
        action: AuditAction::Search,
        case_number: case_number.map(str::to_string),
        purpose: Some("list evidence holds".into()),
        query: Some(serde_json::json!({"holds_of_case": case_number}).to_string()),
        result_count: Some(holds.len() as i64),
        previous_hash: String::new(),
        hash: String::new(),
    };
    publish_blocking(kafka, None, audit).await?;
    Ok(holds)
}

/// Returns the holds in force by hold id: the latest value of every key on the holds topic,
/// without released ones.
pub async fn current_holds(
    kafka: &KafkaSettings,
) -> Result<BTreeMap<String, EvidenceHold>, HoldError> {
    let kafka = kafka.clone();
    tokio::task::spawn_blocking(move || read_holds_topic(&kafka))
        .await
        .map_err(|_| HoldError::ThreadPanicked)?
}

fn read_holds_topic(kafka: &KafkaSettings) -> Result<BTreeMap<String, EvidenceHold>, HoldError> {
    let topic = kafka.topics().holds;
    let consumer: BaseConsumer = kafka
        .client_config()
        .set("group.id", format!("{}alpr-holds-cli", kafka.topic_prefix))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()?;
    let count = partition_count(consumer.client(), &topic)?;
    let mut assignment = TopicPartitionList::new();
    let mut ends = HashMap::new();
    for partition in 0..count {
        let (_, high) = watermarks(consumer.client(), &topic, partition)?;
        ends.insert(partition, high);
        assignment.add_partition_offset(&topic, partition, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;

    let mut latest: HashMap<Vec<u8>, Option<Vec<u8>>> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let position = consumer.position()?;
        let done = ends.iter().all(|(&partition, &end)| {
            match position
                .find_partition(&topic, partition)
                .map(|entry| entry.offset())
            {
                Some(Offset::Offset(offset)) => offset >= end,
                _ => end == 0,
            }
        });
        if done {
            break;
        }
        if Instant::now() > deadline {
            return Err(HoldError::Kafka(KafkaError::MessageConsumption(
                rdkafka::types::RDKafkaErrorCode::OperationTimedOut,
            )));
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => {
                let key = message.key().map(<[u8]>::to_vec).unwrap_or_default();
                latest.insert(key, message.payload().map(<[u8]>::to_vec));
            }
            Some(Err(error)) => return Err(error.into()),
            None => {}
        }
    }

    let mut holds = BTreeMap::new();
    for payload in latest.into_values().flatten() {
        match decode::<EvidenceHold>(&payload) {
            Ok(hold) => {
                holds.insert(hold.hold_id.clone(), hold);
            }
            Err(error) => tracing::warn!(%error, "skipping undecodable evidence hold"),
        }
    }
    Ok(holds)
}

/// Publishes an optional holds-topic record (key, and value or `None` for a tombstone) with its
/// audit event in one transaction.
async fn publish_blocking(
    kafka: &KafkaSettings,
    hold_record: Option<(String, Option<Vec<u8>>)>,
    audit: AuditEvent,
) -> Result<(), HoldError> {
    let kafka = kafka.clone();
    tokio::task::spawn_blocking(move || publish_with_audit(&kafka, hold_record, audit))
        .await
        .map_err(|_| HoldError::ThreadPanicked)?
}

fn publish_with_audit(
    kafka: &KafkaSettings,
    hold_record: Option<(String, Option<Vec<u8>>)>,
    mut audit: AuditEvent,
) -> Result<(), HoldError> {
    let topics = kafka.topics();
    // A fresh transactional id per command: the command is short-lived, and a crashed one's
    // open transaction is aborted by the broker after the transaction timeout.
    let producer: BaseProducer = kafka
        .client_config()
        .set(
            "transactional.id",
            format!("{}alpr-holds-{}", kafka.topic_prefix, uuid::Uuid::new_v4()),
        )
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("transaction.timeout.ms", "10000")
        .create()?;
    producer.init_transactions(TRANSACTION_TIMEOUT)?;

    // The hold and its event commit together, so this path keeps its own transaction instead
    // of an `AuditWriter`. Each `alpr holds` command is a process of its own, so its event forks
    // the chain when another writer appends to the same partition at the same moment.
    let audit_partition = partition_for_key(
        audit.actor.as_bytes(),
        partition_count(producer.client(), &topics.audit)?,
    );
    audit.previous_hash = last_hash_in_partition(kafka, &topics.audit, audit_partition)?;
    audit.hash = event_hash(&audit)?;
    let audit_payload = encode(&audit)?;

    producer.begin_transaction()?;
    if let Some((hold_id, payload)) = &hold_record {
        let partition = partition_for_key(
            hold_id.as_bytes(),
            partition_count(producer.client(), &topics.holds)?,
        );
        let mut record = BaseRecord::<[u8], [u8]>::to(&topics.holds)
            .key(hold_id.as_bytes())
            .partition(partition);
        if let Some(payload) = payload {
            record = record.payload(payload.as_slice());
        }
        producer.send(record).map_err(|(error, _)| error)?;
    }
    let record = BaseRecord::<[u8], [u8]>::to(&topics.audit)
        .key(audit.actor.as_bytes())
        .payload(audit_payload.as_slice())
        .partition(audit_partition);
    producer.send(record).map_err(|(error, _)| error)?;
    // Committing flushes both records; if either fails, neither becomes visible.
    if let Err(error) = producer.commit_transaction(TRANSACTION_TIMEOUT) {
        if let Err(abort_error) = producer.abort_transaction(TRANSACTION_TIMEOUT) {
            tracing::warn!(error = %abort_error, "cannot abort hold transaction");
        }
        return Err(error.into());
    }
    Ok(())
}
