//! Field parsers that the CSV and NCIC formats share. Each returns the problem as a message
//! that the caller wraps in a [`crate::LineError`] with the line number and field name, and no
//! message repeats a plate, because error messages end up in logs.

use alpr_schemas::plate::{is_wildcard_pattern, normalise_plate_pattern};
use alpr_schemas::{HotlistReason, MatchPolicy};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

/// Widest plate accepted, in characters after normalisation: the width of the NCIC plate field.
pub const MAX_PLATE_LEN: usize = 10;

/// Minimum number of letters or digits in a wildcard pattern. A pattern such as `*` or `A*` would
/// match a large share of all reads and flood dispatch with alerts.
pub const MIN_KNOWN_IN_PATTERN: usize = 3;

/// US states, the District of Columbia and the territories with an ISO 3166-2:US code.
const US_POSTAL_CODES: [&str; 57] = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY",
    "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV",
    "WI", "WY", "DC", "AS", "GU", "MP", "PR", "UM", "VI",
];

/// Canadian provinces and territories (ISO 3166-2:CA). None of them collides with a US code, so
/// a two-letter state field can carry either, as lists from border states do.
const CANADIAN_CODES: [&str; 13] = [
    "AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT",
];

/// Returns the value with surrounding whitespace removed, or `None` when nothing remains.
pub fn optional_text(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// Most `*` in one pattern; the matcher's index rejects more, because each run widens the set
/// of plates an entry matches.
const MAX_RUNS_IN_PATTERN: usize = 2;

/// Normalises a plate or plate pattern and checks that it can be matched safely.
pub fn parse_plate(raw: &str) -> Result<String, String> {
    if raw.trim().is_empty() {
        return Err("missing".into());
    }
    let plate = normalise_plate_pattern(raw);
    let known = plate.chars().filter(char::is_ascii_alphanumeric).count();
    if known == 0 {
        return Err("no letters or digits".into());
    }
    if plate.len() > MAX_PLATE_LEN {
        return Err(format!(
            "{} characters after normalisation; at most {MAX_PLATE_LEN} are allowed",
            plate.len()
        ));
    }
    let runs = plate.matches('*').count();
    if runs > MAX_RUNS_IN_PATTERN {
        return Err(format!(
            "wildcard pattern has {runs} `*`; at most {MAX_RUNS_IN_PATTERN} are allowed"
        ));
    }
    if is_wildcard_pattern(&plate) && known < MIN_KNOWN_IN_PATTERN {
        return Err(format!(
            "wildcard pattern keeps {known} letters or digits; at least {MIN_KNOWN_IN_PATTERN} are needed"
        ));
    }
    Ok(plate)
}

/// Converts a state field to an ISO 3166-2 region. A US or Canadian postal code such as `wa`
/// becomes `US-WA` or `CA-BC`, and an ISO code such as `US-CA` or `MX-BCN` is kept. A blank field
/// means the region is unknown.
pub fn parse_region(raw: &str) -> Result<Option<String>, String> {
    let code = raw.trim().to_ascii_uppercase();
    if code.is_empty() {
        return Ok(None);
    }
    if let Some(region) = region_of_postal_code(&code) {
        return Ok(Some(region));
    }
    if let Some((country, subdivision)) = code.split_once('-') {
        let well_formed = country.len() == 2
            && country.chars().all(|c| c.is_ascii_uppercase())
            && (1..=3).contains(&subdivision.len())
            && subdivision.chars().all(|c| c.is_ascii_alphanumeric());
        let known_if_checked = match country {
            "US" => US_POSTAL_CODES.contains(&subdivision),
            "CA" => CANADIAN_CODES.contains(&subdivision),
            _ => true,
        };
        if well_formed && known_if_checked {
            return Ok(Some(code));
        }
    }
    Err(format!(
        "invalid value {}; expected a US state or Canadian province code such as WA, or an ISO \
         3166-2 code such as US-WA",
        raw.trim()
    ))
}

fn region_of_postal_code(code: &str) -> Option<String> {
    if US_POSTAL_CODES.contains(&code) {
        Some(format!("US-{code}"))
    } else if CANADIAN_CODES.contains(&code) {
        Some(format!("CA-{code}"))
    } else {
        None
    }
}

/// Parses a reason: an Avro symbol such as `STOLEN_VEHICLE` in any case, or a common word such
/// as `stolen plate`, `wanted`, `amber` or `bolo`. Underscores, dashes and spaces are the same.
pub fn parse_reason(raw: &str) -> Result<HotlistReason, String> {
    let words = normalise_words(raw);
    let reason = match words.as_str() {
        "stolen vehicle" | "stolen car" | "stolen" => HotlistReason::StolenVehicle,
        "stolen plate" | "stolen plates" | "stolen license plate" => HotlistReason::StolenPlate,
        "wanted person" | "wanted" | "warrant" => HotlistReason::WantedPerson,
        "missing person" | "missing" => HotlistReason::MissingPerson,
        "amber alert" | "amber" => HotlistReason::AmberAlert,
        "felony vehicle" | "felony" => HotlistReason::FelonyVehicle,
        "be on the lookout" | "bolo" => HotlistReason::BeOnTheLookout,
        "other" => HotlistReason::Other,
        _ => {
            return Err(format!(
                "invalid value {}; expected a reason such as STOLEN_VEHICLE, stolen plate, \
                 wanted, missing, amber, felony or bolo",
                raw.trim()
            ))
        }
    };
    Ok(reason)
}

/// Parses `exact` or `ocr_tolerant`, in any case, with a dash or space in place of `_`.
pub fn parse_match_policy(raw: &str) -> Result<MatchPolicy, String> {
    match normalise_words(raw).as_str() {
        "exact" => Ok(MatchPolicy::Exact),
        "ocr tolerant" => Ok(MatchPolicy::OcrTolerant),
        _ => Err(format!(
            "invalid value {}; expected exact or ocr_tolerant",
            raw.trim()
        )),
    }
}

/// Parses a priority from 1, the most urgent, to 5.
pub fn parse_priority(raw: &str) -> Result<i32, String> {
    let priority: i32 = raw.trim().parse().map_err(|_| {
        format!(
            "invalid value {}; expected a whole number from 1 to 5",
            raw.trim()
        )
    })?;
    check_priority(priority)
}

pub fn check_priority(priority: i32) -> Result<i32, String> {
    if (1..=5).contains(&priority) {
        Ok(priority)
    } else {
        Err(format!(
            "invalid value {priority}; expected 1 (most urgent) to 5"
        ))
    }
}

/// Checks a four-digit year field, such as a vehicle's model year.
pub fn parse_year(raw: &str) -> Result<Option<String>, String> {
    let year = raw.trim();
    if year.is_empty() {
        return Ok(None);
    }
    if year.len() == 4 && year.chars().all(|c| c.is_ascii_digit()) {
        Ok(Some(year.to_string()))
    } else {
        Err(format!("invalid value {year}; expected four digits"))
    }
}

/// Instant meant by a date without a time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayBoundary {
    /// Midnight UTC at the start of the day, for start dates.
    Start,
    /// Midnight UTC at the end of the day, so an entry that expires on a date still matches
    /// during that whole day.
    End,
}

/// Parses an RFC 3339 time such as `2024-05-01T08:00:00-07:00`, or a date `YYYY-MM-DD`, into
/// microseconds since the Unix epoch.
pub fn parse_time(raw: &str, boundary: DayBoundary) -> Result<i64, String> {
    let text = raw.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(alpr_schemas::to_micros(time.with_timezone(&Utc)));
    }
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(date) => Ok(day_boundary_micros(date, boundary)),
        Err(_) => Err(format!(
            "invalid date or time {text}; expected YYYY-MM-DD or RFC 3339 such as \
             2024-05-01T08:00:00Z"
        )),
    }
}

/// Parses an NCIC date `YYYYMMDD` into microseconds at the start of that day, UTC.
pub fn parse_compact_date(raw: &str) -> Result<i64, String> {
    let text = raw.trim();
    let invalid = || format!("invalid date {text}; expected YYYYMMDD");
    if text.len() != 8 || !text.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid());
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().map_err(|_| invalid());
    let year = number(0..4)? as i32;
    let date = NaiveDate::from_ymd_opt(year, number(4..6)?, number(6..8)?).ok_or_else(invalid)?;
    Ok(day_boundary_micros(date, DayBoundary::Start))
}

fn day_boundary_micros(date: NaiveDate, boundary: DayBoundary) -> i64 {
    let start = date.and_time(chrono::NaiveTime::MIN).and_utc();
    let time = match boundary {
        DayBoundary::Start => start,
        DayBoundary::End => start + TimeDelta::days(1),
    };
    alpr_schemas::to_micros(time)
}

/// Lower-cases, turns `_` and `-` into spaces and collapses runs of spaces.
fn normalise_words(raw: &str) -> String {
    raw.to_lowercase()
        .replace(['_', '-'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_any_runs_are_rejected() {
        let error = parse_plate("7*A*B*C").unwrap_err();
        assert!(error.contains("3 `*`; at most 2"), "{error}");
        assert_eq!(parse_plate("7a*b*c").unwrap(), "7A*B*C");
    }

    #[test]
    fn postal_codes_become_iso_regions() {
        assert_eq!(parse_region("wa"), Ok(Some("US-WA".to_string())));
        assert_eq!(parse_region(" PR "), Ok(Some("US-PR".to_string())));
        assert_eq!(parse_region("BC"), Ok(Some("CA-BC".to_string())));
        assert_eq!(parse_region(""), Ok(None));
    }

    #[test]
    fn iso_regions_are_kept() {
        assert_eq!(parse_region("US-CA"), Ok(Some("US-CA".to_string())));
        assert_eq!(parse_region("ca-on"), Ok(Some("CA-ON".to_string())));
        assert_eq!(parse_region("MX-BCN"), Ok(Some("MX-BCN".to_string())));
    }

    #[test]
    fn unknown_regions_are_rejected() {
        assert!(parse_region("XX").is_err());
        assert!(parse_region("US-XX").is_err());
        assert!(parse_region("CA-WA").is_err());
        assert!(parse_region("Washington").is_err());
    }

    #[test]
    fn reason_symbols_and_words_parse() {
        assert_eq!(
            parse_reason("STOLEN_VEHICLE"),
            Ok(HotlistReason::StolenVehicle)
        );
        assert_eq!(parse_reason("stolen_plate"), Ok(HotlistReason::StolenPlate));
        assert_eq!(
            parse_reason("Stolen Vehicle"),
            Ok(HotlistReason::StolenVehicle)
        );
        assert_eq!(parse_reason("stolen-plate"), Ok(HotlistReason::StolenPlate));
        assert_eq!(parse_reason("wanted"), Ok(HotlistReason::WantedPerson));
        assert_eq!(parse_reason("Missing"), Ok(HotlistReason::MissingPerson));
        assert_eq!(parse_reason("AMBER"), Ok(HotlistReason::AmberAlert));
        assert_eq!(parse_reason("felony"), Ok(HotlistReason::FelonyVehicle));
        assert_eq!(parse_reason("BOLO"), Ok(HotlistReason::BeOnTheLookout));
        assert_eq!(
            parse_reason("be_on_the_lookout"),
            Ok(HotlistReason::BeOnTheLookout)
        );
        assert!(parse_reason("suspicious").is_err());
    }

    #[test]
    fn plates_normalise_and_reject_unsafe_patterns() {
        assert_eq!(parse_plate("7abc 123"), Ok("7ABC123".to_string()));
        assert_eq!(parse_plate("abc-1234"), Ok("ABC1234".to_string()));
        assert_eq!(parse_plate("7ab*"), Ok("7AB*".to_string()));
        assert_eq!(parse_plate(" "), Err("missing".to_string()));
        assert!(parse_plate("--").is_err());
        assert!(parse_plate("A*").is_err());
        assert!(parse_plate("ABCDEFGHIJK").is_err());
    }

    #[test]
    fn priority_outside_one_to_five_is_rejected() {
        assert_eq!(parse_priority(" 1 "), Ok(1));
        assert_eq!(parse_priority("5"), Ok(5));
        assert!(parse_priority("0").is_err());
        assert!(parse_priority("6").is_err());
        assert!(parse_priority("high").is_err());
    }

    #[test]
    fn bare_expiry_date_lasts_the_whole_day() {
        let start = parse_time("2024-06-30", DayBoundary::Start);
        let end = parse_time("2024-06-30", DayBoundary::End);
        assert_eq!(start, Ok(1_719_705_600_000_000));
        assert_eq!(end, Ok(1_719_792_000_000_000));
    }

    #[test]
    fn rfc3339_times_convert_to_utc() {
        let time = parse_time("2024-06-30T17:00:00-07:00", DayBoundary::End);
        assert_eq!(time, Ok(1_719_792_000_000_000));
        assert!(parse_time("06/30/2024", DayBoundary::Start).is_err());
    }

    #[test]
    fn compact_dates_are_checked() {
        assert_eq!(parse_compact_date("20240630"), Ok(1_719_705_600_000_000));
        assert_eq!(
            parse_compact_date("20211345"),
            Err("invalid date 20211345; expected YYYYMMDD".to_string())
        );
        assert!(parse_compact_date("2024063").is_err());
        assert!(parse_compact_date("2024-6-3").is_err());
    }

    #[test]
    fn years_need_four_digits() {
        assert_eq!(parse_year("2019"), Ok(Some("2019".to_string())));
        assert_eq!(parse_year(" "), Ok(None));
        assert!(parse_year("19").is_err());
    }
}
