//! The difference between a list's entries on the topic and the entries of a new file.

use std::collections::{HashMap, HashSet};

use alpr_schemas::HotlistEntry;

/// Records an import must publish so that the topic contains exactly the new file's entries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListDiff {
    /// Entries that are new or whose content changed, in file order.
    pub upserts: Vec<HotlistEntry>,
    /// Entries already on the topic with identical content.
    pub unchanged: usize,
    /// Keys of entries on the topic that the file no longer has, sorted; each gets a tombstone.
    pub removals: Vec<String>,
}

/// Compares `current`, the list's latest entries on the topic keyed by their record key, with
/// `incoming`, the entries of the new file. Every field counts, so a changed colour, priority
/// or expiry republishes the entry.
pub fn diff_list(current: &HashMap<String, HotlistEntry>, incoming: Vec<HotlistEntry>) -> ListDiff {
    let incoming_ids: HashSet<&str> = incoming
        .iter()
        .map(|entry| entry.entry_id.as_str())
        .collect();
    let mut removals: Vec<String> = current
        .keys()
        .filter(|key| !incoming_ids.contains(key.as_str()))
        .cloned()
        .collect();
    removals.sort();

    let mut upserts = Vec::new();
    let mut unchanged = 0;
    for entry in incoming {
        if current.get(&entry.entry_id) == Some(&entry) {
            unchanged += 1;
        } else {
            upserts.push(entry);
        }
    }
    ListDiff {
        upserts,
        unchanged,
        removals,
    }
}

#[cfg(test)]
mod tests {
    use alpr_schemas::{HotlistReason, MatchPolicy, VehicleDescription};

    use super::*;

    fn entry(id: &str, colour: &str) -> HotlistEntry {
        HotlistEntry {
            entry_id: id.to_string(),
            list: "WA-STATE".into(),
            agency_id: "WA0340000".into(),
            plate: "ABC1234".into(),
            region: Some("US-WA".into()),
            reason: HotlistReason::StolenVehicle,
            priority: 2,
            match_policy: MatchPolicy::Exact,
            vehicle: VehicleDescription {
                colour: Some(colour.to_string()),
                ..VehicleDescription::default()
            },
            case_number: None,
            source_record_id: None,
            valid_from: 0,
            expires_at: None,
        }
    }

    fn current_of(entries: &[HotlistEntry]) -> HashMap<String, HotlistEntry> {
        entries
            .iter()
            .map(|entry| (entry.entry_id.clone(), entry.clone()))
            .collect()
    }

    #[test]
    fn new_changed_unchanged_and_removed_are_told_apart() {
        let current = current_of(&[
            entry("kept", "BLK"),
            entry("changed", "SIL"),
            entry("gone", "WHI"),
        ]);
        let incoming = vec![
            entry("kept", "BLK"),
            entry("changed", "BLK"),
            entry("new", "RED"),
        ];

        let difference = diff_list(&current, incoming);

        let upsert_ids: Vec<&str> = difference
            .upserts
            .iter()
            .map(|e| e.entry_id.as_str())
            .collect();
        assert_eq!(upsert_ids, vec!["changed", "new"]);
        assert_eq!(difference.upserts[0].vehicle.colour.as_deref(), Some("BLK"));
        assert_eq!(difference.unchanged, 1);
        assert_eq!(difference.removals, vec!["gone".to_string()]);
    }

    #[test]
    fn empty_topic_publishes_everything() {
        let incoming = vec![entry("a", "BLK"), entry("b", "WHI")];
        let difference = diff_list(&HashMap::new(), incoming.clone());
        assert_eq!(difference.upserts, incoming);
        assert_eq!(difference.unchanged, 0);
        assert!(difference.removals.is_empty());
    }

    #[test]
    fn same_file_again_publishes_nothing() {
        let entries = vec![entry("a", "BLK"), entry("b", "WHI")];
        let difference = diff_list(&current_of(&entries), entries);
        assert!(difference.upserts.is_empty());
        assert_eq!(difference.unchanged, 2);
        assert!(difference.removals.is_empty());
    }

    #[test]
    fn any_field_change_republishes() {
        let before = entry("a", "BLK");
        let mut after = before.clone();
        after.expires_at = Some(1_719_792_000_000_000);
        let difference = diff_list(&current_of(&[before]), vec![after.clone()]);
        assert_eq!(difference.upserts, vec![after]);
        assert_eq!(difference.unchanged, 0);
    }

    #[test]
    fn removals_are_sorted() {
        let current = current_of(&[entry("c", "BLK"), entry("a", "BLK"), entry("b", "BLK")]);
        let difference = diff_list(&current, Vec::new());
        assert_eq!(difference.removals, vec!["a", "b", "c"]);
    }
}
