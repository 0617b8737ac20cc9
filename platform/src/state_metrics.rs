//! Prometheus metrics of a component's RocksDB state store, per column family: how much data it
//! holds, how much compaction work is waiting, and how often RocksDB slowed or stopped writes.
//! A store whose compaction falls behind stalls writes, and then the component's consumer lag
//! grows for no visible reason; these metrics show the cause.

use std::collections::HashMap;
use std::sync::Mutex;

use prometheus::{IntCounterVec, IntGaugeVec, Opts};
use rocksdb::{properties, DB};

/// The state-store metrics of one component, named `alpr_<component>_rocksdb_…`.
pub struct StateStoreMetrics {
    live_data_bytes: IntGaugeVec,
    sst_files_bytes: IntGaugeVec,
    pending_compaction_bytes: IntGaugeVec,
    write_stalls: IntCounterVec,
    /// Stall count RocksDB reported last, per column family, because RocksDB reports a running
    /// total and a Prometheus counter can only be increased by the difference.
    reported_stalls: Mutex<HashMap<String, u64>>,
}

impl StateStoreMetrics {
    /// Registers the metrics of `component` in the process-wide registry.
    ///
    /// # Errors
    /// Fails when metrics of that component were registered before in this process.
    pub fn register(component: &str) -> Result<Self, prometheus::Error> {
        let name = |what: &str| format!("alpr_{component}_rocksdb_{what}");
        let labels = &["column_family"];
        let metrics = Self {
            live_data_bytes: IntGaugeVec::new(
                Opts::new(
                    name("live_data_bytes"),
                    "Estimated size of the live data in a column family of the state store",
                ),
                labels,
            )?,
            sst_files_bytes: IntGaugeVec::new(
                Opts::new(
                    name("sst_files_bytes"),
                    "Size of all SST files of a column family on disk, obsolete ones included",
                ),
                labels,
            )?,
            pending_compaction_bytes: IntGaugeVec::new(
                Opts::new(
                    name("pending_compaction_bytes"),
                    "Estimated bytes compaction must rewrite to bring a column family within its level targets",
                ),
                labels,
            )?,
            write_stalls: IntCounterVec::new(
                Opts::new(
                    name("write_stalls_total"),
                    "Writes to a column family that RocksDB delayed or stopped because flushes or compaction fell behind",
                ),
                labels,
            )?,
            reported_stalls: Mutex::new(HashMap::new()),
        };
        let registry = prometheus::default_registry();
        registry.register(Box::new(metrics.live_data_bytes.clone()))?;
        registry.register(Box::new(metrics.sst_files_bytes.clone()))?;
        registry.register(Box::new(metrics.pending_compaction_bytes.clone()))?;
        registry.register(Box::new(metrics.write_stalls.clone()))?;
        Ok(metrics)
    }

    /// Reads the properties of each named column family of `db` into the metrics. A family
    /// that does not exist, or a property RocksDB does not report, leaves its metric as it was.
    pub fn observe(&self, db: &DB, families: &[&str]) {
        for &family in families {
            let Some(handle) = db.cf_handle(family) else {
                continue;
            };
            let gauges = [
                (&self.live_data_bytes, properties::ESTIMATE_LIVE_DATA_SIZE),
                (&self.sst_files_bytes, properties::TOTAL_SST_FILES_SIZE),
                (
                    &self.pending_compaction_bytes,
                    properties::ESTIMATE_PENDING_COMPACTION_BYTES,
                ),
            ];
            for (gauge, property) in gauges {
                if let Ok(Some(value)) = db.property_int_value_cf(handle, property) {
                    gauge
                        .with_label_values(&[family])
                        .set(i64::try_from(value).unwrap_or(i64::MAX));
                }
            }
            if let Ok(Some(text)) = db.property_value_cf(handle, CF_WRITE_STALL_STATS) {
                if let Some(total) = total_write_stalls(&text) {
                    self.add_stalls(family, total);
                }
            }
        }
    }

    fn add_stalls(&self, family: &str, total: u64) {
        let mut reported = self
            .reported_stalls
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let previous = reported.insert(family.to_string(), total).unwrap_or(0);
        // A smaller total means the database was reopened and RocksDB counts from zero again.
        let added = if total >= previous {
            total - previous
        } else {
            total
        };
        self.write_stalls.with_label_values(&[family]).inc_by(added);
    }
}

/// RocksDB's per-column-family write stall counts. Its text form lists each cause and the
/// totals as `name: count` pairs.
const CF_WRITE_STALL_STATS: &str = "rocksdb.cf-write-stall-stats";

/// Returns the delays plus the stops in the text of `rocksdb.cf-write-stall-stats`, or `None`
/// when the text lacks either total.
fn total_write_stalls(text: &str) -> Option<u64> {
    let count_of = |name: &str| {
        text.split([',', '\n'])
            .filter_map(|pair| pair.split_once(':'))
            .find(|(key, _)| key.trim() == name)
            .and_then(|(_, value)| value.trim().parse::<u64>().ok())
    };
    Some(count_of("total-delays")? + count_of("total-stops")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stall_totals_parse_from_property_text() {
        let text = "Write Stall (count): cf-l0-file-count-limit-delays-with-ongoing-compaction: 0, \
                    cf-l0-file-count-limit-stops-with-ongoing-compaction: 0, l0-file-count-limit-delays: 2, \
                    total-delays: 3, total-stops: 4, \n";
        assert_eq!(total_write_stalls(text), Some(7));
        assert_eq!(total_write_stalls("total-delays: 3"), None);
    }

    #[test]
    fn metrics_follow_a_real_store() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let mut options = rocksdb::Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        let db = DB::open_cf(&options, folder.path(), ["things"]).expect("open rocksdb");
        let handle = db.cf_handle("things").expect("family exists");
        for index in 0..1_000_u32 {
            db.put_cf(handle, index.to_be_bytes(), [7_u8; 100])
                .expect("write");
        }
        db.flush_cf(handle).expect("flush");

        let metrics = StateStoreMetrics::register("statetest").expect("register once");
        metrics.observe(&db, &["things", "missing"]);
        let sst = metrics.sst_files_bytes.with_label_values(&["things"]).get();
        assert!(sst > 0, "sst size {sst}");
        assert!(
            metrics.live_data_bytes.with_label_values(&["things"]).get() > 0,
            "live data size"
        );
        assert_eq!(
            metrics.write_stalls.with_label_values(&["things"]).get(),
            0,
            "a fresh store has not stalled"
        );
        // RocksDB must report the stall text in the form parsed above, else stalls go uncounted.
        let text = db
            .property_value_cf(handle, CF_WRITE_STALL_STATS)
            .expect("property read")
            .expect("property known");
        assert_eq!(total_write_stalls(&text), Some(0), "{text}");

        metrics.add_stalls("things", 5);
        metrics.add_stalls("things", 8);
        metrics.add_stalls("things", 2);
        assert_eq!(
            metrics.write_stalls.with_label_values(&["things"]).get(),
            10
        );
    }
}
