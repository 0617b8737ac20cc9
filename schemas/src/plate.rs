//! Plate normalisation shared by ingest, the matcher and hotlist import, so that a plate typed
//! as `7abc-123` on a list matches a camera's `7ABC 123`.

/// Marks one character the camera could not read, in reads and in hotlist patterns.
pub const UNREADABLE: char = '?';
/// Marks any run of characters, in hotlist patterns only.
pub const ANY_RUN: char = '*';

/// A plate reduced to upper-case A–Z and 0–9, with `?` kept for unreadable characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalisedPlate {
    pub text: String,
    /// Zero-based positions of `?` in `text`.
    pub unreadable_positions: Vec<i32>,
}

/// Normalises plate text as a camera sent it: ASCII letters are upper-cased, ASCII digits and
/// `?` are kept, and everything else (spaces, dashes, dots, letters outside A–Z) is removed.
pub fn normalise_read_plate(raw: &str) -> NormalisedPlate {
    let text = keep_plate_characters(raw, false);
    let unreadable_positions = text
        .char_indices()
        .filter(|(_, c)| *c == UNREADABLE)
        .map(|(index, _)| index as i32)
        .collect();
    NormalisedPlate {
        text,
        unreadable_positions,
    }
}

/// Normalises a hotlist plate pattern like [`normalise_read_plate`], also keeping `*`.
pub fn normalise_plate_pattern(raw: &str) -> String {
    keep_plate_characters(raw, true)
}

fn keep_plate_characters(raw: &str, keep_any_run: bool) -> String {
    raw.chars()
        .filter_map(|c| match c {
            'a'..='z' => Some(c.to_ascii_uppercase()),
            'A'..='Z' | '0'..='9' | UNREADABLE => Some(c),
            ANY_RUN if keep_any_run => Some(c),
            _ => None,
        })
        .collect()
}

/// Returns true when the pattern contains `?` or `*`, so it can only match by wildcard.
pub fn is_wildcard_pattern(pattern: &str) -> bool {
    pattern.contains([UNREADABLE, ANY_RUN])
}

/// Masks a plate for logs: the first and last characters stay, the rest become `*`. A log line
/// is not an investigative record, so full plates never appear in one.
pub fn mask_plate(plate: &str) -> String {
    let count = plate.chars().count();
    plate
        .chars()
        .enumerate()
        .map(|(index, c)| {
            if index == 0 || index + 1 == count {
                c
            } else {
                '*'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_dashes_and_case_are_removed() {
        assert_eq!(normalise_read_plate("7abc 123").text, "7ABC123");
        assert_eq!(normalise_read_plate("7ABC-123").text, "7ABC123");
        assert_eq!(normalise_read_plate(" 7.a b·c 1 2 3 ").text, "7ABC123");
    }

    #[test]
    fn unreadable_positions_are_recorded() {
        let plate = normalise_read_plate("7a?c-1?3");
        assert_eq!(plate.text, "7A?C1?3");
        assert_eq!(plate.unreadable_positions, vec![2, 5]);
    }

    #[test]
    fn non_ascii_letters_are_removed() {
        assert_eq!(normalise_read_plate("ÄBC１23").text, "BC23");
    }

    #[test]
    fn patterns_keep_any_run_but_reads_do_not() {
        assert_eq!(normalise_plate_pattern("7ab*12"), "7AB*12");
        assert_eq!(normalise_read_plate("7ab*12").text, "7AB12");
        assert!(is_wildcard_pattern("7AB*12"));
        assert!(!is_wildcard_pattern("7AB12"));
    }

    #[test]
    fn mask_keeps_only_first_and_last() {
        assert_eq!(mask_plate("7ABC123"), "7*****3");
        assert_eq!(mask_plate("A"), "A");
        assert_eq!(mask_plate(""), "");
    }
}
