//! Validation and normalisation of submitted reads into [`CameraRead`] records.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use alpr_schemas::plate::normalise_read_plate;
use alpr_schemas::{CameraRead, Location, PlateRead, VehicleAttribute, VehicleRead};

use crate::submission::{ReadSubmission, SubmittedAttribute};

/// Namespace of name-based read ids: UUIDv5 of `camera_id`, a newline and the camera's event id.
pub const READ_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6a1f_0c52_9d3e_4b7a_8e21_5c40_d9b3_a7f1);

/// Maximum length of a normalised plate. The longest plates issued anywhere have about 10
/// characters; the margin leaves room for unusual formats without accepting garbage.
pub const MAX_PLATE_LEN: usize = 16;
const MAX_ID_LEN: usize = 128;
const MAX_TEXT_LEN: usize = 256;

/// Reason a read was rejected. The variant is the `reason` label of the rejection counter, so
/// it stays a small fixed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    Malformed,
    MissingField,
    InvalidPlate,
    InvalidLocation,
    InvalidTime,
    InvalidValue,
    Unauthenticated,
    Forbidden,
    InvalidImage,
    TooLarge,
    UnsupportedMediaType,
    QueueFull,
    PublishFailed,
    ImageStoreFailed,
    UnknownVendor,
}

impl RejectReason {
    pub fn as_label(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::MissingField => "missing_field",
            Self::InvalidPlate => "invalid_plate",
            Self::InvalidLocation => "invalid_location",
            Self::InvalidTime => "invalid_time",
            Self::InvalidValue => "invalid_value",
            Self::InvalidImage => "invalid_image",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::TooLarge => "too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::QueueFull => "queue_full",
            Self::PublishFailed => "publish_failed",
            Self::ImageStoreFailed => "image_store_failed",
            Self::UnknownVendor => "unknown_vendor",
        }
    }

    /// HTTP status a camera receives for this reason.
    pub fn http_status(self) -> u16 {
        match self {
            Self::Malformed => 400,
            Self::MissingField
            | Self::InvalidPlate
            | Self::InvalidLocation
            | Self::InvalidTime
            | Self::InvalidValue
            | Self::InvalidImage => 422,
            Self::Unauthenticated => 401,
            Self::Forbidden => 403,
            Self::TooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::QueueFull | Self::PublishFailed | Self::ImageStoreFailed => 503,
            Self::UnknownVendor => 404,
        }
    }
}

/// A rejected read: which field is wrong and how, in words a camera integrator can act on.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Rejection {
    pub reason: RejectReason,
    pub field: String,
    pub message: String,
}

impl Rejection {
    pub fn new(reason: RejectReason, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            reason,
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn malformed(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(RejectReason::Malformed, field, message)
    }

    fn missing(field: &str) -> Self {
        Self::new(RejectReason::MissingField, field, "missing")
    }
}

/// Limits that depend on deployment rather than on the record format.
#[derive(Debug, Clone, Copy)]
pub struct ValidationLimits {
    /// How far in the future `captured_at` may be, to allow for camera clocks running ahead.
    pub max_clock_skew: Duration,
}

/// Validates a submission and builds the record that goes on the reads topic.
///
/// `organisation_id` is the owner of the camera, known from the credentials that sent the read.
/// `now` is the ingest clock, a parameter so tests can move it.
pub fn validate_submission(
    submission: ReadSubmission,
    organisation_id: &str,
    source: &str,
    now: DateTime<Utc>,
    limits: ValidationLimits,
) -> Result<CameraRead, Rejection> {
    let camera_id = required_text(submission.camera_id, "camera_id", MAX_ID_LEN)?;
    let event_id = optional_text(submission.event_id, "event_id", MAX_TEXT_LEN)?;
    let captured_at = parse_captured_at(submission.captured_at, now, limits)?;
    let location = submission.location.map(validate_location).transpose()?;
    let plate = validate_plate(submission.plate)?;
    let vehicle = submission.vehicle.unwrap_or_default();
    let vehicle = VehicleRead {
        make: validate_attribute(vehicle.make, "vehicle.make")?,
        model: validate_attribute(vehicle.model, "vehicle.model")?,
        vehicle_type: validate_attribute(vehicle.vehicle_type, "vehicle.type")?,
        colour: validate_attribute(vehicle.colour, "vehicle.colour")?,
    };
    if submission.image.is_some() {
        // The HTTP path takes the image out and stores it before calling this function, so an
        // image still here came through a path that cannot store it.
        return Err(Rejection::new(
            RejectReason::InvalidImage,
            "image",
            "images are accepted only by POST /v1/reads; send the read there, or store the image yourself and send image_ref",
        ));
    }
    let image_ref = optional_text(submission.image_ref, "image_ref", 1024)?;

    let read_id = match &event_id {
        Some(event_id) => read_id_for_event(&camera_id, event_id),
        None => Uuid::now_v7(),
    };
    Ok(CameraRead {
        read_id: read_id.to_string(),
        camera_id,
        organisation_id: organisation_id.to_string(),
        captured_at: captured_at.timestamp_micros(),
        received_at: now.timestamp_micros(),
        location,
        plate,
        vehicle,
        image_ref,
        source: source.to_string(),
    })
}

/// Returns the name-based read id of a camera's event, stable across re-sends.
pub fn read_id_for_event(camera_id: &str, event_id: &str) -> Uuid {
    let name = format!("{camera_id}\n{event_id}");
    Uuid::new_v5(&READ_ID_NAMESPACE, name.as_bytes())
}

fn required_text(value: Option<String>, field: &str, max_len: usize) -> Result<String, Rejection> {
    match optional_text(value, field, max_len)? {
        Some(text) => Ok(text),
        None => Err(Rejection::missing(field)),
    }
}

fn optional_text(
    value: Option<String>,
    field: &str,
    max_len: usize,
) -> Result<Option<String>, Rejection> {
    let Some(text) = value else {
        return Ok(None);
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(Rejection::new(RejectReason::MissingField, field, "empty"));
    }
    if trimmed.chars().count() > max_len {
        return Err(Rejection::new(
            RejectReason::InvalidValue,
            field,
            format!("longer than {max_len} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Rejection::new(
            RejectReason::InvalidValue,
            field,
            "contains control characters",
        ));
    }
    Ok(Some(trimmed.to_string()))
}

fn parse_captured_at(
    value: Option<String>,
    now: DateTime<Utc>,
    limits: ValidationLimits,
) -> Result<DateTime<Utc>, Rejection> {
    const FIELD: &str = "captured_at";
    let text = value.ok_or_else(|| Rejection::missing(FIELD))?;
    let captured_at = match DateTime::parse_from_rfc3339(text.trim()) {
        Ok(time) => time.with_timezone(&Utc),
        Err(_) if looks_like_local_time(&text) => {
            return Err(Rejection::new(
                RejectReason::InvalidTime,
                FIELD,
                format!(
                    "{text:?} has no UTC offset; send RFC 3339 with an offset, such as 2021-10-01T19:04:05Z"
                ),
            ))
        }
        Err(error) => {
            return Err(Rejection::new(
                RejectReason::InvalidTime,
                FIELD,
                format!("{text:?} is not an RFC 3339 time: {error}"),
            ))
        }
    };
    if captured_at > now + limits.max_clock_skew {
        return Err(Rejection::new(
            RejectReason::InvalidTime,
            FIELD,
            format!(
                "{text} is more than {} seconds in the future; check the camera's clock",
                limits.max_clock_skew.num_seconds()
            ),
        ));
    }
    Ok(captured_at)
}

fn looks_like_local_time(text: &str) -> bool {
    let text = text.trim();
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .any(|format| chrono::NaiveDateTime::parse_from_str(text, format).is_ok())
}

fn validate_location(
    location: crate::submission::SubmittedLocation,
) -> Result<Location, Rejection> {
    let check = |value: f64, field: &str, low: f64, high: f64| {
        if value.is_finite() && (low..=high).contains(&value) {
            Ok(value)
        } else {
            Err(Rejection::new(
                RejectReason::InvalidLocation,
                field,
                format!("{value} is out of range ({low} to {high})"),
            ))
        }
    };
    Ok(Location {
        latitude: check(location.latitude, "location.latitude", -90.0, 90.0)?,
        longitude: check(location.longitude, "location.longitude", -180.0, 180.0)?,
        heading: location
            .heading
            .map(|heading| check(heading, "location.heading", 0.0, 360.0))
            .transpose()?,
    })
}

fn validate_plate(
    plate: Option<crate::submission::SubmittedPlate>,
) -> Result<PlateRead, Rejection> {
    let plate = plate.ok_or_else(|| Rejection::missing("plate"))?;
    let present = plate.present.unwrap_or(true);
    let text = plate.text.unwrap_or_default();
    if text.chars().count() > 64 {
        return Err(Rejection::new(
            RejectReason::InvalidPlate,
            "plate.text",
            "longer than 64 characters",
        ));
    }
    let normalised = normalise_read_plate(&text);
    if present {
        if text.trim().is_empty() {
            return Err(Rejection::new(
                RejectReason::InvalidPlate,
                "plate.text",
                "empty while plate.present is true; send plate.present false for a vehicle without a readable plate",
            ));
        }
        if normalised.text.is_empty() {
            return Err(Rejection::new(
                RejectReason::InvalidPlate,
                "plate.text",
                format!("{text:?} has no plate characters (A-Z, 0-9, ? for unreadable)"),
            ));
        }
        if normalised.text.chars().all(|c| c == '?') {
            return Err(Rejection::new(
                RejectReason::InvalidPlate,
                "plate.text",
                "every character is unreadable",
            ));
        }
        if normalised.text.len() > MAX_PLATE_LEN {
            return Err(Rejection::new(
                RejectReason::InvalidPlate,
                "plate.text",
                format!("longer than {MAX_PLATE_LEN} characters after normalisation"),
            ));
        }
    } else if !normalised.text.is_empty() {
        return Err(Rejection::new(
            RejectReason::InvalidPlate,
            "plate.text",
            "must be empty when plate.present is false",
        ));
    }
    let region = plate
        .region
        .map(|region| normalise_region(&region))
        .transpose()?;
    let confidence = plate
        .confidence
        .map(|value| check_confidence(value, "plate.confidence"))
        .transpose()?;
    Ok(PlateRead {
        present,
        text,
        normalised: normalised.text,
        region,
        confidence,
        unreadable_positions: normalised.unreadable_positions,
    })
}

/// Accepts an ISO 3166-2 subdivision code in any case, such as `us-ca`, and returns it upper-cased.
fn normalise_region(region: &str) -> Result<String, Rejection> {
    let upper = region.trim().to_ascii_uppercase();
    let valid = match upper.split_once('-') {
        Some((country, subdivision)) => {
            country.len() == 2
                && country.bytes().all(|b| b.is_ascii_uppercase())
                && (1..=3).contains(&subdivision.len())
                && subdivision.bytes().all(|b| b.is_ascii_alphanumeric())
        }
        None => false,
    };
    if valid {
        Ok(upper)
    } else {
        Err(Rejection::new(
            RejectReason::InvalidPlate,
            "plate.region",
            format!("{region:?} is not an ISO 3166-2 code such as US-CA"),
        ))
    }
}

fn check_confidence(value: f32, field: &str) -> Result<f32, Rejection> {
    if value.is_finite() && (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(Rejection::new(
            RejectReason::InvalidValue,
            field,
            format!("{value} is out of range (0 to 1)"),
        ))
    }
}

fn validate_attribute(
    attribute: Option<SubmittedAttribute>,
    field: &str,
) -> Result<Option<VehicleAttribute>, Rejection> {
    let Some(attribute) = attribute else {
        return Ok(None);
    };
    let value = required_text(Some(attribute.value), &format!("{field}.value"), 64)?;
    let confidence = attribute
        .confidence
        .map(|value| check_confidence(value, &format!("{field}.confidence")))
        .transpose()?;
    Ok(Some(VehicleAttribute { value, confidence }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::submission::{SubmittedLocation, SubmittedPlate};

    fn limits() -> ValidationLimits {
        ValidationLimits {
            max_clock_skew: Duration::seconds(300),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2021-10-01T20:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn submission() -> ReadSubmission {
        ReadSubmission {
            camera_id: Some("cam-1".into()),
            event_id: Some("evt-9".into()),
            captured_at: Some("2021-10-01T12:59:59-07:00".into()),
            location: Some(SubmittedLocation {
                latitude: 47.6,
                longitude: -122.3,
                heading: None,
            }),
            plate: Some(SubmittedPlate {
                text: Some("7abc-123".into()),
                region: Some("us-wa".into()),
                confidence: Some(0.9),
                present: None,
            }),
            vehicle: None,
            image_ref: None,
            image: None,
        }
    }

    fn validate(submission: ReadSubmission) -> Result<CameraRead, Rejection> {
        validate_submission(submission, "spd", "test", now(), limits())
    }

    #[test]
    fn inline_image_outside_http_is_rejected() {
        let with_image = ReadSubmission {
            image: Some(crate::submission::SubmittedImage {
                media_type: "image/jpeg".into(),
                base64: "/9j/4A==".into(),
            }),
            ..submission()
        };
        let rejection = validate(with_image).err();
        assert_eq!(
            rejection.map(|rejection| (rejection.reason, rejection.field)),
            Some((RejectReason::InvalidImage, "image".to_string()))
        );
    }

    #[test]
    fn valid_read_is_normalised() {
        let read = validate(submission()).unwrap();
        assert_eq!(read.plate.normalised, "7ABC123");
        assert_eq!(read.plate.region.as_deref(), Some("US-WA"));
        assert_eq!(read.captured_at, 1_633_118_399_000_000);
        assert_eq!(read.organisation_id, "spd");
    }

    #[test]
    fn event_id_gives_stable_read_id() {
        let first = validate(submission()).unwrap();
        let second = validate(submission()).unwrap();
        assert_eq!(first.read_id, second.read_id);
        assert_eq!(
            first.read_id,
            read_id_for_event("cam-1", "evt-9").to_string()
        );
    }

    #[test]
    fn missing_event_id_gives_time_ordered_id() {
        let mut without_event = submission();
        without_event.event_id = None;
        let read = validate(without_event).unwrap();
        let id = Uuid::parse_str(&read.read_id).unwrap();
        assert_eq!(id.get_version_num(), 7);
    }

    #[test]
    fn future_time_beyond_skew_is_rejected() {
        let mut late = submission();
        late.captured_at = Some("2021-10-01T20:05:01Z".into());
        let rejection = validate(late).unwrap_err();
        assert_eq!(rejection.field, "captured_at");
        assert_eq!(rejection.reason, RejectReason::InvalidTime);

        let mut within = submission();
        within.captured_at = Some("2021-10-01T20:04:59Z".into());
        assert!(validate(within).is_ok());
    }

    #[test]
    fn time_without_offset_is_named() {
        let mut local = submission();
        local.captured_at = Some("2021-10-01T12:00:00".into());
        let rejection = validate(local).unwrap_err();
        assert!(rejection.message.contains("no UTC offset"), "{rejection}");
    }

    #[test]
    fn plate_absent_needs_empty_text() {
        let mut no_plate = submission();
        no_plate.plate = Some(SubmittedPlate {
            present: Some(false),
            ..Default::default()
        });
        let read = validate(no_plate).unwrap();
        assert!(!read.plate.present);
        assert_eq!(read.plate.normalised, "");
    }
}
