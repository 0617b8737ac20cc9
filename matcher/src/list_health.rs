//! Watches how old each hotlist is. A list that is not refreshed keeps vehicles that were
//! recovered long ago, and an officer who stops such a car acts on stale information. So a list
//! past its maximum age is counted in a metric and logged as a warning.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::metrics::{
    HOTLIST_AGE_SECONDS, HOTLIST_ENTRIES, HOTLIST_MAX_AGE_SECONDS, STALE_HOTLISTS,
};
use crate::store::ListSummary;

/// Maximum age each list may reach before it counts as stale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListAgeLimits {
    /// Maximum age of a list's last import, in seconds, for lists not named below.
    pub default_seconds: u64,
    /// Maximum age per list name, for lists refreshed more or less often than the default.
    pub by_list: BTreeMap<String, u64>,
}

impl Default for ListAgeLimits {
    fn default() -> Self {
        Self {
            // State and NCIC extracts are refreshed at least daily.
            default_seconds: 24 * 3600,
            by_list: BTreeMap::new(),
        }
    }
}

impl ListAgeLimits {
    pub fn max_age_seconds(&self, list: &str) -> u64 {
        self.by_list
            .get(list)
            .copied()
            .unwrap_or(self.default_seconds)
    }
}

/// The age of each list at one moment, and which lists are stale.
#[derive(Debug, Clone, PartialEq)]
pub struct ListAges {
    /// Age in seconds of every list that has an import record.
    pub ages: BTreeMap<String, f64>,
    pub stale: BTreeSet<String>,
}

/// Computes list ages at `now`. A list without an import record has no known age and is not
/// counted as stale. Its alerts carry no age.
pub fn list_ages(lists: &[ListSummary], limits: &ListAgeLimits, now: DateTime<Utc>) -> ListAges {
    let now = now.timestamp_micros();
    let mut ages = BTreeMap::new();
    let mut stale = BTreeSet::new();
    for summary in lists {
        let Some(import) = &summary.import else {
            continue;
        };
        let age = (now - import.imported_at).max(0) as f64 / 1e6;
        if age > limits.max_age_seconds(&summary.list) as f64 {
            stale.insert(summary.list.clone());
        }
        ages.insert(summary.list.clone(), age);
    }
    ListAges { ages, stale }
}

/// Keeps the list gauges current and logs each change between fresh and stale once.
#[derive(Debug, Default)]
pub struct ListHealth {
    limits: ListAgeLimits,
    reported_lists: BTreeSet<String>,
    stale: BTreeSet<String>,
}

impl ListHealth {
    pub fn new(limits: ListAgeLimits) -> Self {
        Self {
            limits,
            reported_lists: BTreeSet::new(),
            stale: BTreeSet::new(),
        }
    }

    /// Updates the gauges from the store's lists at `now`, and returns the stale lists.
    pub fn refresh(&mut self, lists: &[ListSummary], now: DateTime<Utc>) -> BTreeSet<String> {
        let ages = list_ages(lists, &self.limits, now);
        for summary in lists {
            let list = summary.list.as_str();
            HOTLIST_ENTRIES
                .with_label_values(&[list])
                .set(i64::try_from(summary.entries).unwrap_or(i64::MAX));
            HOTLIST_MAX_AGE_SECONDS
                .with_label_values(&[list])
                .set(self.limits.max_age_seconds(list) as f64);
            if let Some(age) = ages.ages.get(list) {
                HOTLIST_AGE_SECONDS.with_label_values(&[list]).set(*age);
            }
        }
        // A removed list would otherwise keep reporting its last values.
        let current: BTreeSet<String> = lists.iter().map(|summary| summary.list.clone()).collect();
        for removed_list in self.reported_lists.difference(&current) {
            let _ = HOTLIST_ENTRIES.remove_label_values(&[removed_list]);
            let _ = HOTLIST_AGE_SECONDS.remove_label_values(&[removed_list]);
            let _ = HOTLIST_MAX_AGE_SECONDS.remove_label_values(&[removed_list]);
        }
        self.reported_lists = current;

        for list in ages.stale.difference(&self.stale) {
            tracing::warn!(
                list = %list,
                age_seconds = ages.ages.get(list).copied().unwrap_or_default().round(),
                max_age_seconds = self.limits.max_age_seconds(list),
                "hotlist is stale: its last import is older than allowed, so alerts may act on outdated entries"
            );
        }
        for list in self.stale.difference(&ages.stale) {
            tracing::info!(list = %list, "hotlist is fresh again");
        }
        STALE_HOTLISTS.set(i64::try_from(ages.stale.len()).unwrap_or(i64::MAX));
        self.stale = ages.stale;
        self.stale.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alpr_schemas::HotlistImport;

    fn summary(list: &str, imported_at: Option<DateTime<Utc>>) -> ListSummary {
        ListSummary {
            list: list.into(),
            entries: 3,
            import: imported_at.map(|at| HotlistImport {
                list: list.into(),
                agency_id: None,
                imported_at: at.timestamp_micros(),
                entry_count: 3,
                source: None,
            }),
        }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap_or_default()
    }

    #[test]
    fn list_past_its_limit_is_stale() {
        let mut limits = ListAgeLimits::default();
        limits.by_list.insert("NCIC".into(), 3_600);
        let lists = [
            summary("NCIC", Some(at(0))),
            summary("WA-STATE", Some(at(0))),
            summary("AGENCY", None),
        ];

        let fresh = list_ages(&lists, &limits, at(3_600));
        assert!(fresh.stale.is_empty());
        assert_eq!(fresh.ages.get("NCIC"), Some(&3_600.0));
        assert_eq!(fresh.ages.get("AGENCY"), None);

        let later = list_ages(&lists, &limits, at(3_601));
        assert_eq!(later.stale, BTreeSet::from(["NCIC".to_string()]));

        let next_day = list_ages(&lists, &limits, at(24 * 3_600 + 1));
        assert_eq!(
            next_day.stale,
            BTreeSet::from(["NCIC".to_string(), "WA-STATE".to_string()])
        );
    }

    #[test]
    fn reimport_makes_a_list_fresh_and_gauges_follow() {
        let mut limits = ListAgeLimits::default();
        limits.by_list.insert("HEALTH-TEST".into(), 60);
        let mut health = ListHealth::new(limits);

        let stale = health.refresh(&[summary("HEALTH-TEST", Some(at(0)))], at(120));
        assert!(stale.contains("HEALTH-TEST"));
        assert_eq!(
            HOTLIST_AGE_SECONDS
                .with_label_values(&["HEALTH-TEST"])
                .get(),
            120.0
        );

        let stale = health.refresh(&[summary("HEALTH-TEST", Some(at(100)))], at(120));
        assert!(stale.is_empty());
        assert_eq!(HOTLIST_ENTRIES.with_label_values(&["HEALTH-TEST"]).get(), 3);

        health.refresh(&[], at(130));
        let families = prometheus::gather();
        let still_reported = families
            .iter()
            .filter(|family| family.name() == "alpr_matcher_hotlist_entries")
            .flat_map(|family| family.get_metric())
            .any(|metric| {
                metric
                    .get_label()
                    .iter()
                    .any(|label| label.value() == "HEALTH-TEST")
            });
        assert!(!still_reported, "a removed list keeps its gauge");
    }
}
