//! The decision whether a read matches a hotlist entry, and the alert it produces. Pure
//! functions without I/O, so every rule is unit-tested here.

use uuid::Uuid;

use alpr_schemas::{
    Alert, AlertEntry, CameraRead, HotlistEntry, MatchDetail, MatchDifference, MatchKind,
};

use crate::plate_match::PlateMatch;

/// Namespace of alert ids: UUIDv5 of read id, a newline and entry id, so the same match always
/// has the same alert id and a consumer can drop a redelivered duplicate.
pub const ALERT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x2c9e_51d4_7a0b_4f36_9e1d_83b2_c46f_0a15);

/// A read and an entry that match, with the region outcome the alert reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Match<'a> {
    pub entry: &'a HotlistEntry,
    pub kind: MatchKind,
    /// Characters an OCR-tolerant match substituted.
    pub differences: &'a [crate::plate_match::Difference],
    /// False when the entry names a region but the read has none.
    pub region_confirmed: bool,
}

/// Returns the entries among `candidates` that match `read`.
///
/// `candidates` are entries whose plate pattern matches the read's normalised plate, with how
/// it matched, as the hotlist store's index returns them. An entry matches when:
/// - it is valid at the read's capture time (`valid_from` ≤ captured-at < `expires_at`), because
///   time is event time, not the time the matcher happens to see the read;
/// - its region is unset, equals the read's region, or the read has no region (the alert then
///   reports the region as unconfirmed).
pub fn matching_entries<'a>(
    read: &CameraRead,
    candidates: &'a [(HotlistEntry, PlateMatch)],
) -> Vec<Match<'a>> {
    if !read.plate.present || read.plate.normalised.is_empty() {
        return Vec::new();
    }
    candidates
        .iter()
        .filter(|(entry, _)| is_valid_at(entry, read.captured_at))
        .filter_map(|(entry, plate_match)| {
            region_check(entry.region.as_deref(), read.plate.region.as_deref()).map(
                |region_confirmed| Match {
                    entry,
                    kind: plate_match.kind,
                    differences: &plate_match.differences,
                    region_confirmed,
                },
            )
        })
        .collect()
}

fn is_valid_at(entry: &HotlistEntry, captured_at: i64) -> bool {
    entry.valid_from <= captured_at && entry.expires_at.is_none_or(|expires| captured_at < expires)
}

/// Returns `None` when the regions rule the match out, else whether the region was confirmed.
fn region_check(entry_region: Option<&str>, read_region: Option<&str>) -> Option<bool> {
    match (entry_region, read_region) {
        (None, _) => Some(true),
        (Some(_), None) => Some(false),
        (Some(entry), Some(read)) if entry.eq_ignore_ascii_case(read) => Some(true),
        (Some(_), Some(_)) => None,
    }
}

/// Returns the alert id of a read matching an entry.
pub fn alert_id(read_id: &str, entry_id: &str) -> Uuid {
    Uuid::new_v5(
        &ALERT_ID_NAMESPACE,
        format!("{read_id}\n{entry_id}").as_bytes(),
    )
}

/// Builds the alert for a match. `emitted_at` and `list_imported_at`, the time the entry's list
/// was last imported if known, are microseconds since the epoch.
pub fn build_alert(
    read: &CameraRead,
    matched: &Match<'_>,
    emitted_at: i64,
    list_imported_at: Option<i64>,
) -> Alert {
    let entry = matched.entry;
    Alert {
        alert_id: alert_id(&read.read_id, &entry.entry_id).to_string(),
        read: read.clone(),
        entry: AlertEntry {
            entry_id: entry.entry_id.clone(),
            list: entry.list.clone(),
            agency_id: entry.agency_id.clone(),
            plate: entry.plate.clone(),
            region: entry.region.clone(),
            reason: entry.reason.as_symbol().to_string(),
            priority: entry.priority,
            case_number: entry.case_number.clone(),
        },
        match_detail: MatchDetail {
            kind: matched.kind,
            read_plate: read.plate.normalised.clone(),
            entry_plate: entry.plate.clone(),
            region_confirmed: matched.region_confirmed,
            differences: matched
                .differences
                .iter()
                .map(|difference| MatchDifference {
                    position: i32::try_from(difference.position).unwrap_or(i32::MAX),
                    read_char: difference.read_char.to_string(),
                    entry_char: difference.entry_char.to_string(),
                    class: difference.class.clone(),
                })
                .collect(),
            list_imported_at,
            // A list imported after the read matched (clocks a little apart) is zero seconds old.
            list_age_seconds: list_imported_at
                .map(|imported_at| (emitted_at - imported_at).max(0) / 1_000_000),
        },
        recipient_agency_id: entry.agency_id.clone(),
        emitted_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alpr_schemas::{HotlistReason, MatchPolicy, VehicleDescription};

    fn read(plate: &str, region: Option<&str>, captured_at: i64) -> CameraRead {
        crate::test_support::plate_read(plate, region, "cam-1", captured_at)
    }

    /// A candidate as the store returns it for an exact match.
    fn entry(id: &str, plate: &str, region: Option<&str>) -> (HotlistEntry, PlateMatch) {
        let exact = PlateMatch {
            kind: MatchKind::Exact,
            differences: Vec::new(),
        };
        (hotlist_entry(id, plate, region), exact)
    }

    fn hotlist_entry(id: &str, plate: &str, region: Option<&str>) -> HotlistEntry {
        HotlistEntry {
            entry_id: id.into(),
            list: "NCIC".into(),
            agency_id: "wsp".into(),
            plate: plate.into(),
            region: region.map(str::to_string),
            reason: HotlistReason::StolenVehicle,
            priority: 1,
            match_policy: MatchPolicy::Exact,
            vehicle: VehicleDescription::default(),
            case_number: None,
            source_record_id: None,
            valid_from: 0,
            expires_at: None,
        }
    }

    #[test]
    fn same_region_matches_confirmed() {
        let entries = [entry("e1", "7ABC123", Some("US-WA"))];
        let matches = matching_entries(&read("7ABC123", Some("US-WA"), 10), &entries);
        assert_eq!(matches.len(), 1);
        assert!(matches[0].region_confirmed);
    }

    #[test]
    fn other_region_does_not_match() {
        let entries = [entry("e1", "7ABC123", Some("US-WA"))];
        assert!(matching_entries(&read("7ABC123", Some("US-OR"), 10), &entries).is_empty());
    }

    #[test]
    fn unknown_read_region_matches_unconfirmed() {
        let entries = [entry("e1", "7ABC123", Some("US-WA"))];
        let matches = matching_entries(&read("7ABC123", None, 10), &entries);
        assert_eq!(matches.len(), 1);
        assert!(!matches[0].region_confirmed);
    }

    #[test]
    fn entry_without_region_matches_any_read() {
        let entries = [entry("e1", "7ABC123", None)];
        assert_eq!(
            matching_entries(&read("7ABC123", Some("US-OR"), 10), &entries).len(),
            1
        );
        assert_eq!(
            matching_entries(&read("7ABC123", None, 10), &entries).len(),
            1
        );
    }

    #[test]
    fn expired_entry_does_not_match() {
        let mut expired = entry("e1", "7ABC123", None);
        expired.0.expires_at = Some(10);
        assert!(
            matching_entries(&read("7ABC123", None, 10), std::slice::from_ref(&expired)).is_empty()
        );
        assert_eq!(
            matching_entries(&read("7ABC123", None, 9), &[expired]).len(),
            1
        );
    }

    #[test]
    fn entry_not_yet_valid_does_not_match() {
        let mut future = entry("e1", "7ABC123", None);
        future.0.valid_from = 100;
        assert!(matching_entries(&read("7ABC123", None, 99), &[future]).is_empty());
    }

    #[test]
    fn read_without_plate_never_matches() {
        let entries = [entry("e1", "", None)];
        let mut no_plate = read("", None, 10);
        no_plate.plate.present = false;
        assert!(matching_entries(&no_plate, &entries).is_empty());
    }

    #[test]
    fn every_matching_entry_gives_one_alert() {
        let entries = [
            entry("e1", "7ABC123", None),
            entry("e2", "7ABC123", Some("US-WA")),
        ];
        let the_read = read("7ABC123", Some("US-WA"), 10);
        let matches = matching_entries(&the_read, &entries);
        let ids: Vec<_> = matches
            .iter()
            .map(|matched| build_alert(&the_read, matched, 11, None).alert_id)
            .collect();
        assert_eq!(ids.len(), 2);
        assert_ne!(ids[0], ids[1]);
        assert_eq!(ids[0], alert_id("r-1", "e1").to_string());
    }

    #[test]
    fn ocr_variant_alert_names_substitution() {
        let candidates = [(
            hotlist_entry("e1", "1291164", None),
            PlateMatch {
                kind: MatchKind::OcrVariant,
                differences: vec![crate::plate_match::Difference {
                    position: 1,
                    read_char: 'Z',
                    entry_char: '2',
                    class: "2Z".into(),
                }],
            },
        )];
        let the_read = read("1Z91164", None, 10);
        let matches = matching_entries(&the_read, &candidates);
        let alert = build_alert(&the_read, &matches[0], 11, None);
        assert_eq!(alert.match_detail.kind, MatchKind::OcrVariant);
        assert_eq!(alert.match_detail.differences.len(), 1);
        let difference = &alert.match_detail.differences[0];
        assert_eq!(difference.position, 1);
        assert_eq!(difference.read_char, "Z");
        assert_eq!(difference.entry_char, "2");
        assert_eq!(difference.class, "2Z");
    }

    #[test]
    fn alert_reports_list_age_at_match_time() {
        let entries = [entry("e1", "7ABC123", None)];
        let the_read = read("7ABC123", None, 10);
        let matches = matching_entries(&the_read, &entries);
        let imported_at = 1_000_000_000;
        let emitted_at = imported_at + 90 * 60 * 1_000_000 + 500_000;

        let alert = build_alert(&the_read, &matches[0], emitted_at, Some(imported_at));
        assert_eq!(alert.match_detail.list_imported_at, Some(imported_at));
        assert_eq!(alert.match_detail.list_age_seconds, Some(90 * 60));

        let early = build_alert(&the_read, &matches[0], imported_at - 5, Some(imported_at));
        assert_eq!(early.match_detail.list_age_seconds, Some(0));

        let unknown = build_alert(&the_read, &matches[0], emitted_at, None);
        assert_eq!(unknown.match_detail.list_imported_at, None);
        assert_eq!(unknown.match_detail.list_age_seconds, None);
    }
}
