//! Consumer lag per partition from librdkafka's statistics, for consumers that belong to a
//! group and so have no fixed list of partitions to query themselves.

use prometheus::IntGaugeVec;
use rdkafka::consumer::ConsumerContext;
use rdkafka::statistics::Statistics;
use rdkafka::ClientContext;

/// Sets `gauge{partition}` to the lag librdkafka reports for each partition of `topic`.
/// Partitions that librdkafka reports no lag for yet are left alone.
pub fn report_partition_lag(statistics: &Statistics, topic: &str, gauge: &IntGaugeVec) {
    let Some(topic) = statistics.topics.get(topic) else {
        return;
    };
    for (partition, stats) in &topic.partitions {
        // librdkafka reports its internal unassigned partition as -1 and an unknown lag as -1;
        // neither is a real partition's lag.
        if *partition >= 0 && stats.consumer_lag >= 0 {
            gauge
                .with_label_values(&[&partition.to_string()])
                .set(stats.consumer_lag);
        }
    }
}

/// Client context that turns librdkafka's periodic statistics into per-partition lag. Set
/// `statistics.interval.ms` on the client, or no statistics arrive.
pub struct PartitionLagContext {
    topic: String,
    gauge: IntGaugeVec,
}

impl PartitionLagContext {
    /// Reports the lag of `topic` in `gauge`, which must have exactly the label `partition`.
    pub fn new(topic: impl Into<String>, gauge: IntGaugeVec) -> Self {
        Self {
            topic: topic.into(),
            gauge,
        }
    }
}

impl ClientContext for PartitionLagContext {
    fn stats(&self, statistics: Statistics) {
        report_partition_lag(&statistics, &self.topic, &self.gauge);
    }
}

impl ConsumerContext for PartitionLagContext {}
