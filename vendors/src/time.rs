//! Vendors' times in their many forms, turned into UTC: epoch seconds, milliseconds, microseconds
//! or nanoseconds, RFC 3339 with `Z` or an offset, and local time without a zone, which is read
//! in the camera's configured zone.

use chrono::{DateTime, LocalResult, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;

use crate::VendorError;

/// Unit of an epoch timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochUnit {
    Seconds,
    Milliseconds,
    Microseconds,
    Nanoseconds,
}

impl EpochUnit {
    /// Guesses the unit of a timestamp of a read taken between 1973 and 5138, for fields whose
    /// unit vendors do not agree on. Each unit is a thousand times the previous one, so the
    /// ranges of these dates do not overlap.
    pub fn guess(value: f64) -> Self {
        let magnitude = value.abs();
        if magnitude < 1e11 {
            Self::Seconds
        } else if magnitude < 1e14 {
            Self::Milliseconds
        } else if magnitude < 1e17 {
            Self::Microseconds
        } else {
            Self::Nanoseconds
        }
    }

    fn per_second(self) -> f64 {
        match self {
            Self::Seconds => 1.0,
            Self::Milliseconds => 1e3,
            Self::Microseconds => 1e6,
            Self::Nanoseconds => 1e9,
        }
    }
}

/// Converts an epoch timestamp in `unit` to UTC, to the microsecond.
pub fn from_epoch(value: f64, unit: EpochUnit, field: &str) -> Result<DateTime<Utc>, VendorError> {
    let micros = value / unit.per_second() * 1e6;
    // The bound keeps the conversion to i64 exact and inside chrono's range.
    if !micros.is_finite() || micros.abs() > 1e17 {
        return Err(VendorError::new(
            field,
            format!("{value} is not a usable epoch time"),
        ));
    }
    DateTime::from_timestamp_micros(micros.round() as i64)
        .ok_or_else(|| VendorError::new(field, format!("{value} is out of range")))
}

/// Local formats without a zone that vendors send, tried in order.
const LOCAL_FORMATS: [&str; 4] = [
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y%m%d %H%M%S",
    "%Y%m%dT%H%M%S",
];

/// Parses a time given as text: RFC 3339 with `Z` or an offset, local time without a zone (read
/// in `zone`), or an epoch number of any unit [`EpochUnit::guess`] recognises.
pub fn parse_text(text: &str, zone: Tz, field: &str) -> Result<DateTime<Utc>, VendorError> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    // RFC 3339 allows a space in place of the `T`, which chrono's parser above does not.
    if let Ok(time) = DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z") {
        return Ok(time.with_timezone(&Utc));
    }
    if !text.is_empty()
        && text
            .bytes()
            .all(|byte| byte.is_ascii_digit() || byte == b'.')
    {
        if let Ok(value) = text.parse::<f64>() {
            return from_epoch(value, EpochUnit::guess(value), field);
        }
    }
    for format in LOCAL_FORMATS {
        if let Ok(local) = NaiveDateTime::parse_from_str(text, format) {
            return local_to_utc(local, zone, field);
        }
    }
    Err(VendorError::new(
        field,
        format!(
            "{text:?} is not a time this adapter reads (RFC 3339, local date and time, or epoch)"
        ),
    ))
}

/// Reads a local time in `zone`. In the hour a daylight-saving change repeats, the earlier of
/// the two instants is taken, because nothing in the body distinguishes them. A time that the
/// change skips does not exist in the zone and is rejected.
pub fn local_to_utc(
    local: NaiveDateTime,
    zone: Tz,
    field: &str,
) -> Result<DateTime<Utc>, VendorError> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(time) => Ok(time.with_timezone(&Utc)),
        LocalResult::Ambiguous(earlier, _) => Ok(earlier.with_timezone(&Utc)),
        LocalResult::None => Err(VendorError::new(
            field,
            format!("{local} does not exist in time zone {zone}; check the camera's zone"),
        )),
    }
}

/// Formats a time as the RFC 3339 UTC text that [`ReadSubmission::captured_at`] takes.
///
/// [`ReadSubmission::captured_at`]: alpr_schemas::submission::ReadSubmission::captured_at
pub fn to_submission_text(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|time| time.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn epoch_units_are_guessed() {
        let expected = utc("2024-03-01T12:00:00Z");
        for value in [
            1_709_294_400.0,
            1_709_294_400_000.0,
            1_709_294_400_000_000.0,
            1.709_294_4e18,
        ] {
            assert_eq!(
                from_epoch(value, EpochUnit::guess(value), "t"),
                Ok(expected),
                "{value}"
            );
        }
    }

    #[test]
    fn local_time_uses_the_zone() {
        let zone: Tz = "America/Los_Angeles".parse().unwrap_or(Tz::UTC);
        assert_eq!(
            parse_text("2024-03-01 04:00:00", zone, "t"),
            Ok(utc("2024-03-01T12:00:00Z"))
        );
        assert_eq!(
            parse_text("20240301 040000", zone, "t"),
            Ok(utc("2024-03-01T12:00:00Z"))
        );
    }

    #[test]
    fn offsets_are_honoured() {
        assert_eq!(
            parse_text("2024-03-01T20:00:00+08:00", Tz::UTC, "t"),
            Ok(utc("2024-03-01T12:00:00Z"))
        );
        assert_eq!(
            parse_text("2024-03-01 12:00:00Z", Tz::UTC, "t"),
            Ok(utc("2024-03-01T12:00:00Z"))
        );
    }

    #[test]
    fn skipped_local_time_is_rejected() {
        let zone: Tz = "America/Los_Angeles".parse().unwrap_or(Tz::UTC);
        let error = parse_text("2024-03-10 02:30:00", zone, "t").err();
        assert!(error.is_some_and(|error| error.message.contains("does not exist")));
    }
}
