//! Reading the audit topic from its beginning to its end, one partition at a time.

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use alpr_platform::kafka::{partition_count, watermarks};
use alpr_platform::KafkaSettings;

use crate::AuditError;

/// Maximum wait for the next record of a partition that has not reached its end.
const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A consumer of the audit topic that assigns itself partitions without joining a group, so it
/// never moves another reader's offsets.
pub(crate) struct AuditTopicReader {
    consumer: BaseConsumer,
    topic: String,
}

impl AuditTopicReader {
    pub(crate) fn connect(kafka: &KafkaSettings, purpose: &str) -> Result<Self, AuditError> {
        let consumer: BaseConsumer = kafka
            .client_config()
            .set(
                "group.id",
                format!("{}alpr-audit-{purpose}", kafka.topic_prefix),
            )
            .set("enable.auto.commit", "false")
            // Events of an aborted hold transaction never took effect, so they are not read.
            .set("isolation.level", "read_committed")
            .create()?;
        Ok(Self {
            consumer,
            topic: kafka.topics().audit,
        })
    }

    pub(crate) fn topic(&self) -> &str {
        &self.topic
    }

    pub(crate) fn partition_count(&self) -> Result<i32, AuditError> {
        Ok(partition_count(self.consumer.client(), &self.topic)?)
    }

    /// Calls `visit` with the offset and payload (`None` for a tombstone) of every record of
    /// `partition`, from the beginning up to the end the partition had when called, until
    /// `visit` returns `Break`.
    pub(crate) fn read_partition(
        &self,
        partition: i32,
        mut visit: impl FnMut(i64, Option<&[u8]>) -> ControlFlow<()>,
    ) -> Result<(), AuditError> {
        let (low, high) = watermarks(self.consumer.client(), &self.topic, partition)?;
        if high <= low {
            return Ok(());
        }
        let mut assignment = TopicPartitionList::new();
        assignment.add_partition_offset(&self.topic, partition, Offset::Beginning)?;
        self.consumer.assign(&assignment)?;

        let mut last_progress = Instant::now();
        loop {
            // The position decides the end, because transaction markers take offsets that no
            // record is returned for.
            let position = self
                .consumer
                .position()?
                .find_partition(&self.topic, partition)
                .map(|entry| entry.offset());
            if matches!(position, Some(Offset::Offset(offset)) if offset >= high) {
                return Ok(());
            }
            if last_progress.elapsed() > STALL_TIMEOUT {
                return Err(AuditError::ReadTimedOut {
                    topic: self.topic.clone(),
                    partition,
                    seconds: STALL_TIMEOUT.as_secs(),
                });
            }
            match self.consumer.poll(Duration::from_millis(200)) {
                Some(Ok(message)) => {
                    last_progress = Instant::now();
                    if message.offset() >= high {
                        return Ok(());
                    }
                    if visit(message.offset(), message.payload()).is_break() {
                        return Ok(());
                    }
                }
                Some(Err(error)) => return Err(error.into()),
                None => {}
            }
        }
    }
}
