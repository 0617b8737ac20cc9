//! Deterministic entry ids, so that importing the same list again updates entries in place
//! instead of adding copies, and a record missing from the new file can be removed by its key.

use std::collections::HashMap;

use uuid::Uuid;

use crate::error::LineError;

/// Namespace of every hotlist entry id (UUIDv5). It was drawn at random once and must never
/// change: a new value would give every entry a new id, so the next import would publish every
/// entry again under its new id and tombstone every old one.
pub const HOTLIST_ENTRY_NAMESPACE: Uuid =
    Uuid::from_u128(0xfa7f_dc2b_b325_47b1_9396_a2e8_e83d_a03a);

/// Returns the entry id of a record of `list`: UUIDv5 of `list` and the file's record id, or of
/// `list`, the normalised plate and the region (empty when unknown) when the file has no record
/// id. The parts are joined with `\n`, which none of them can contain.
pub fn entry_id(list: &str, record_id: Option<&str>, plate: &str, region: Option<&str>) -> String {
    let name = match record_id {
        Some(record_id) => format!("{list}\n{record_id}"),
        None => format!("{list}\n{plate}\n{}", region.unwrap_or("")),
    };
    Uuid::new_v5(&HOTLIST_ENTRY_NAMESPACE, name.as_bytes()).to_string()
}

/// Returns an error for every line whose entry id an earlier line already has. Two such lines
/// would overwrite each other on the compacted topic, so only one of them would ever match.
/// Each item is a line number, the entry id of its record and the field to blame.
pub fn find_duplicate_ids<'a>(
    lines: impl IntoIterator<Item = (u64, &'a str, &'static str)>,
) -> Vec<LineError> {
    let mut first_line_of: HashMap<&str, u64> = HashMap::new();
    let mut errors = Vec::new();
    for (line, id, field) in lines {
        match first_line_of.get(id) {
            Some(first_line) => errors.push(LineError::new(
                line,
                field,
                format!("duplicates the record on line {first_line}"),
            )),
            None => {
                first_line_of.insert(id, line);
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_record_gives_same_id() {
        let first = entry_id("WA-STATE", Some("V123456789"), "ABC1234", Some("US-WA"));
        let again = entry_id("WA-STATE", Some("V123456789"), "XYZ9876", None);
        assert_eq!(
            first, again,
            "with a record id, plate and region do not count"
        );
    }

    #[test]
    fn id_is_fixed_across_releases() {
        // A changed namespace or name layout would re-key every entry already on a topic.
        let id = entry_id("WA-STATE", Some("V123456789"), "ABC1234", Some("US-WA"));
        let expected = Uuid::new_v5(&HOTLIST_ENTRY_NAMESPACE, b"WA-STATE\nV123456789").to_string();
        assert_eq!(id, expected);
        assert_eq!(
            HOTLIST_ENTRY_NAMESPACE.to_string(),
            "fa7fdc2b-b325-47b1-9396-a2e8e83da03a"
        );
    }

    #[test]
    fn list_plate_and_region_distinguish_ids() {
        let base = entry_id("AGENCY", None, "7ABC123", Some("US-CA"));
        assert_eq!(base, entry_id("AGENCY", None, "7ABC123", Some("US-CA")));
        assert_ne!(base, entry_id("OTHER", None, "7ABC123", Some("US-CA")));
        assert_ne!(base, entry_id("AGENCY", None, "7ABC124", Some("US-CA")));
        assert_ne!(base, entry_id("AGENCY", None, "7ABC123", Some("US-NV")));
        assert_ne!(base, entry_id("AGENCY", None, "7ABC123", None));
    }

    #[test]
    fn ids_are_version_5_uuids() {
        let id = entry_id("NCIC", Some("P000000001"), "", None);
        let parsed = Uuid::parse_str(&id).expect("entry id is a UUID");
        assert_eq!(parsed.get_version_num(), 5);
    }

    #[test]
    fn duplicate_ids_name_both_lines() {
        let errors = find_duplicate_ids([(2, "a", "plate"), (3, "b", "plate"), (5, "a", "plate")]);
        assert_eq!(
            errors,
            vec![LineError::new(
                5,
                "plate",
                "duplicates the record on line 2"
            )]
        );
    }
}
