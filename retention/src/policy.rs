//! Retention policy: the retention period of each organisation, and the plan of the reads a
//! sweep deletes, derived from the index at one clock time.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use crate::store::{PlannedTombstone, RetentionStore, StoreError, SweepPlan};

const MICROS_PER_DAY: i64 = 24 * 3600 * 1_000_000;

/// Retention periods: one default and optional ones per owning organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicy {
    default_micros: i64,
    per_organisation_micros: HashMap<String, i64>,
}

impl RetentionPolicy {
    /// Builds the policy from periods in days. Callers validate that every period is at least
    /// one day first.
    pub fn from_days(default_days: u32, per_organisation: &BTreeMap<String, u32>) -> Self {
        Self {
            default_micros: i64::from(default_days) * MICROS_PER_DAY,
            per_organisation_micros: per_organisation
                .iter()
                .map(|(organisation, &days)| {
                    (organisation.clone(), i64::from(days) * MICROS_PER_DAY)
                })
                .collect(),
        }
    }

    /// Returns the retention period of reads owned by `organisation_id`, in microseconds.
    pub fn period_micros(&self, organisation_id: &str) -> i64 {
        self.per_organisation_micros
            .get(organisation_id)
            .copied()
            .unwrap_or(self.default_micros)
    }

    fn shortest_period_micros(&self) -> i64 {
        self.per_organisation_micros
            .values()
            .copied()
            .chain([self.default_micros])
            .min()
            .unwrap_or(self.default_micros)
    }

    /// Returns whether a read captured at `captured_at` by `organisation_id` has reached the end
    /// of its period at `now` (both microseconds since the epoch). A read exactly one period old
    /// is expired.
    pub fn is_expired(&self, organisation_id: &str, captured_at: i64, now: i64) -> bool {
        captured_at.saturating_add(self.period_micros(organisation_id)) <= now
    }
}

/// Plans a sweep at `now`: every expired read under no hold gets a tombstone, and expired held
/// reads are counted.
pub fn plan_sweep(
    store: &RetentionStore,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
) -> Result<SweepPlan, StoreError> {
    let now_micros = now.timestamp_micros();
    // Reads younger than the shortest period cannot be expired under any organisation's period.
    let cutoff = now_micros
        .saturating_sub(policy.shortest_period_micros())
        .saturating_add(1);
    let mut plan = SweepPlan {
        sweep_id: uuid::Uuid::now_v7().to_string(),
        started_at: now_micros,
        tombstones: Vec::new(),
        kept_by_holds: 0,
    };
    for (read_id, read) in store.reads_captured_before(cutoff)? {
        if !policy.is_expired(&read.organisation_id, read.captured_at, now_micros) {
            continue;
        }
        if store.is_held(&read_id)? {
            plan.kept_by_holds += 1;
            continue;
        }
        plan.tombstones.push(PlannedTombstone {
            read_id,
            partition: read.partition,
            image_ref: read.image_ref,
        });
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organisation_period_overrides_default() {
        let per_organisation = BTreeMap::from([("hoa".to_string(), 7)]);
        let policy = RetentionPolicy::from_days(30, &per_organisation);
        let day = MICROS_PER_DAY;
        assert!(policy.is_expired("hoa", 0, 7 * day));
        assert!(!policy.is_expired("hoa", 0, 7 * day - 1));
        assert!(!policy.is_expired("spd", 0, 29 * day));
        assert!(policy.is_expired("spd", 0, 30 * day));
        assert_eq!(policy.shortest_period_micros(), 7 * day);
    }
}
