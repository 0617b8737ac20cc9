//! Reading and writing `alpr.registry.v1`: a one-off load to the end of the topic, a follower
//! that keeps a shared registry current, and publishing one change.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;

use alpr_platform::kafka::watermarks;
use alpr_platform::{KafkaSettings, ShutdownToken};

use crate::{Registry, RegistryError};

/// The registry topic has one partition (see `alpr_platform::kafka::topic_specs`), so one order
/// of changes.
const REGISTRY_PARTITION: i32 = 0;
/// How long one poll waits; bounds how late the follower sees a change and a shutdown.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How long a follower waits before it tries again after a Kafka error.
const RETRY_DELAY: Duration = Duration::from_secs(1);
/// How long [`load_registry`] may take to reach the end of the topic.
const LOAD_TIMEOUT: Duration = Duration::from_secs(60);
/// How long [`publish_change`] waits for the broker's acknowledgement.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// A registry that a [`RegistryFollower`] keeps current, shared with request handlers.
pub type SharedRegistry = Arc<RwLock<Registry>>;

/// Reads the registry topic from its beginning to its end as of the call. Records that do not
/// apply (a bad key or value) are logged and skipped.
pub async fn load_registry(kafka: &KafkaSettings) -> Result<Registry, RegistryError> {
    let kafka = kafka.clone();
    tokio::task::spawn_blocking(move || {
        let consumer = assigned_consumer(&kafka)?;
        let mut registry = Registry::default();
        read_to_end(
            &consumer,
            &kafka.topics().registry,
            None,
            &mut |key, payload| apply_logged(&mut registry, key, payload),
        )?;
        Ok(registry)
    })
    .await
    .map_err(|_| RegistryError::ThreadPanicked)?
}

/// Publishes one registry change and waits until the broker acknowledged it: `payload` adds or
/// replaces the entry under `key`, `None` writes a tombstone that removes it.
///
/// The producer is idempotent with `acks=all`, so a retried send is never written twice and an
/// acknowledged change survives the loss of a broker. Callers validate the change first; see
/// [`crate::admin`].
pub async fn publish_change(
    kafka: &KafkaSettings,
    key: &str,
    payload: Option<Vec<u8>>,
) -> Result<(), RegistryError> {
    let producer: FutureProducer = kafka
        .client_config()
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()?;
    let topic = kafka.topics().registry;
    let mut record = FutureRecord::<str, [u8]>::to(&topic)
        .key(key)
        .partition(REGISTRY_PARTITION);
    if let Some(payload) = &payload {
        record = record.payload(payload.as_slice());
    }
    producer
        .send(record, DELIVERY_TIMEOUT)
        .await
        .map_err(|(error, _)| error)?;
    tracing::info!(%topic, key, tombstone = payload.is_none(), "registry change published");
    Ok(())
}

/// Keeps a [`SharedRegistry`] current: a background thread reads the registry topic from the
/// beginning, then applies each new record as it arrives, until the shutdown token is
/// cancelled. A change made elsewhere is visible here within about a second.
///
/// Kafka errors, including a registry topic that does not exist yet, are logged and retried
/// every second from the beginning of the topic; meanwhile the registry keeps its last state.
pub struct RegistryFollower {
    registry: SharedRegistry,
    caught_up: watch::Receiver<bool>,
    thread: std::thread::JoinHandle<()>,
}

impl RegistryFollower {
    /// Starts following without waiting for the first load; the registry is empty until then.
    pub fn spawn(kafka: &KafkaSettings, shutdown: ShutdownToken) -> Result<Self, RegistryError> {
        let registry = SharedRegistry::default();
        let (caught_up_sender, caught_up) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("registry-follower".into())
            .spawn({
                let kafka = kafka.clone();
                let registry = registry.clone();
                move || follow(&kafka, &registry, &caught_up_sender, &shutdown)
            })
            .map_err(|error| RegistryError::Kafka(KafkaError::ClientCreation(error.to_string())))?;
        Ok(Self {
            registry,
            caught_up,
            thread,
        })
    }

    /// Starts following and waits until the registry contains the whole topic as of the start, or
    /// until `timeout`. After a timeout the follower keeps trying in the background, and
    /// [`Self::wait_caught_up`] tells when it succeeded.
    pub async fn start(
        kafka: &KafkaSettings,
        shutdown: ShutdownToken,
        timeout: Duration,
    ) -> Result<Self, RegistryError> {
        let follower = Self::spawn(kafka, shutdown)?;
        follower.wait_caught_up(timeout).await;
        Ok(follower)
    }

    /// Waits until the first load reached the end of the topic, or `timeout`. Returns whether
    /// it did.
    pub async fn wait_caught_up(&self, timeout: Duration) -> bool {
        let mut caught_up = self.caught_up.clone();
        let waited = tokio::time::timeout(timeout, caught_up.wait_for(|done| *done)).await;
        matches!(waited, Ok(Ok(_)))
    }

    /// Returns the registry this follower keeps current.
    pub fn registry(&self) -> SharedRegistry {
        self.registry.clone()
    }

    /// Waits for the background thread to stop, after the shutdown token was cancelled.
    pub async fn join(self) {
        let thread = self.thread;
        if tokio::task::spawn_blocking(move || thread.join())
            .await
            .map_or(true, |joined| joined.is_err())
        {
            tracing::error!("registry follower thread panicked");
        }
    }
}

/// Runs the follower thread: reloads from the beginning after every error, then tails the topic.
fn follow(
    kafka: &KafkaSettings,
    shared: &SharedRegistry,
    caught_up: &watch::Sender<bool>,
    shutdown: &ShutdownToken,
) {
    let topic = kafka.topics().registry;
    while !shutdown.is_cancelled() {
        match follow_once(kafka, &topic, shared, caught_up, shutdown) {
            Ok(()) => break,
            Err(error) => {
                tracing::warn!(%topic, %error, "registry follower failed, retrying in 1 s");
                sleep_unless_cancelled(shutdown, RETRY_DELAY);
            }
        }
    }
    tracing::info!(%topic, "registry follower stopped");
}

/// Loads the topic into a fresh registry, swaps it in, then applies new records until shutdown.
fn follow_once(
    kafka: &KafkaSettings,
    topic: &str,
    shared: &SharedRegistry,
    caught_up: &watch::Sender<bool>,
    shutdown: &ShutdownToken,
) -> Result<(), RegistryError> {
    let consumer = assigned_consumer(kafka)?;
    // A reload builds a fresh registry, so an entry removed while the follower was failing
    // does not linger; readers keep the old state until the swap.
    let mut loaded = Registry::default();
    read_to_end(&consumer, topic, Some(shutdown), &mut |key, payload| {
        apply_logged(&mut loaded, key, payload)
    })?;
    if shutdown.is_cancelled() {
        // The load stopped early, so `loaded` may lack entries; the shared registry keeps its
        // last complete state.
        return Ok(());
    }
    *write_lock(shared) = loaded;
    caught_up.send_replace(true);
    tracing::info!(%topic, "registry loaded, following changes");

    while !shutdown.is_cancelled() {
        match consumer.poll(POLL_INTERVAL) {
            Some(Ok(message)) => {
                let key = String::from_utf8_lossy(message.key().unwrap_or_default());
                apply_logged(&mut write_lock(shared), &key, message.payload());
            }
            Some(Err(error)) => return Err(error.into()),
            None => {}
        }
    }
    Ok(())
}

/// Takes the write lock. A panic while the lock was held cannot leave the registry half
/// changed, because `Registry::apply` only inserts or removes whole entries, so a poisoned lock
/// is used as it is.
fn write_lock(shared: &SharedRegistry) -> std::sync::RwLockWriteGuard<'_, Registry> {
    shared
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn apply_logged(registry: &mut Registry, key: &str, payload: Option<&[u8]>) {
    if let Err(error) = registry.apply(key, payload) {
        tracing::warn!(key, %error, "skipping registry record");
    }
}

fn sleep_unless_cancelled(shutdown: &ShutdownToken, delay: Duration) {
    let deadline = Instant::now() + delay;
    while !shutdown.is_cancelled() && Instant::now() < deadline {
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Creates a consumer assigned to the registry partition from its beginning. No consumer group
/// offsets are used: every reader always reads the whole topic, which is small.
fn assigned_consumer(kafka: &KafkaSettings) -> Result<BaseConsumer, RegistryError> {
    let consumer: BaseConsumer = kafka
        .client_config()
        .set(
            "group.id",
            format!("{}alpr-registry-reader", kafka.topic_prefix),
        )
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("fetch.wait.max.ms", "100")
        .create()?;
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(
        &kafka.topics().registry,
        REGISTRY_PARTITION,
        Offset::Beginning,
    )?;
    consumer.assign(&assignment)?;
    Ok(consumer)
}

/// Reads the assigned registry partition up to its end as of the call, handing every record to
/// `apply` in order. Stops early, returning `Ok`, once `shutdown` is cancelled.
fn read_to_end(
    consumer: &BaseConsumer,
    topic: &str,
    shutdown: Option<&ShutdownToken>,
    apply: &mut dyn FnMut(&str, Option<&[u8]>),
) -> Result<(), RegistryError> {
    // The high watermark is the offset the next record will get, so the end is reached when the
    // consumer's position (the next offset it will read) is at least that.
    let deadline = Instant::now() + LOAD_TIMEOUT;
    let (start, end) = watermarks(consumer.client(), topic, REGISTRY_PARTITION)?;
    loop {
        let position = consumer
            .position()?
            .find_partition(topic, REGISTRY_PARTITION)
            .map(|entry| entry.offset());
        let done = match position {
            Some(Offset::Offset(offset)) => offset >= end,
            // No record read yet: done only if the partition is empty.
            _ => start >= end,
        };
        if done || shutdown.is_some_and(ShutdownToken::is_cancelled) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(KafkaError::MessageConsumption(RDKafkaErrorCode::OperationTimedOut).into());
        }
        match consumer.poll(POLL_INTERVAL) {
            Some(Ok(message)) => {
                let key = String::from_utf8_lossy(message.key().unwrap_or_default());
                apply(&key, message.payload());
            }
            Some(Err(error)) => return Err(error.into()),
            None => {}
        }
    }
}
