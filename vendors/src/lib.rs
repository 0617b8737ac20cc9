//! Adapters that turn camera vendors' own push formats into alpr's [`ReadSubmission`].
//!
//! Each adapter parses one vendor's body (JSON, XML or multipart, as the camera sends it) and
//! returns zero or more [`VendorEvent`]s. Ingest then validates each submission exactly as it
//! validates alpr's own JSON, so plate normalisation, range checks and the read id are defined in
//! one place. Adapters do no I/O and keep no state. A body that describes a vehicle only partly
//! (a single frame, a car still in view) yields no event. The vendor's final record of the
//! vehicle yields one, with an `event_id` taken from the vendor's own ids, so that a resend
//! produces the same read id.

pub mod axis;
mod fields;
pub mod frigate;
pub mod genetec;
pub mod hikvision;
mod multipart;
pub mod openalpr;
pub mod platerecognizer;
pub mod region;
pub mod time;
pub mod vocabulary;

use std::collections::HashMap;

use alpr_schemas::submission::ReadSubmission;
use chrono_tz::Tz;

/// Maximum body an adapter parses, in bytes. Ingest's own body limit is normally lower; this
/// bound keeps a parser called from elsewhere from building huge documents.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// One vendor push format.
pub trait VendorAdapter: Send + Sync {
    /// Name used in the URL (`/v1/ingest/{name}`), the `alpr.vendor` header and the source label.
    fn name(&self) -> &'static str;

    /// Parses one body as the camera sent it. `content_type` is the request's or record's media
    /// type, when known. An empty result means the body was understood but describes no finished
    /// read (a heartbeat, a single frame, a car still in view).
    fn parse(
        &self,
        body: &[u8],
        content_type: Option<&str>,
        context: &ParseContext,
    ) -> Result<Vec<VendorEvent>, VendorError>;
}

/// A read described by a vendor body, in alpr's own submission form.
#[derive(Debug, Clone, PartialEq)]
pub struct VendorEvent {
    /// The read, with `event_id` always set so the read id is stable across resends. Its inline
    /// `image` field is never set: the image travels as bytes in [`VendorEvent::image`].
    pub submission: ReadSubmission,
    /// The vehicle or scene image the vendor sent with the read, if any.
    pub image: Option<VendorImage>,
    /// True when the vendor marked the body as a resend of an event it sent before (Hikvision's
    /// `isDataRetransmission`). The event id is the same as the original's either way.
    pub retransmission: bool,
}

/// Image bytes as the vendor sent them, already decoded from base64 or multipart.
#[derive(Debug, Clone, PartialEq)]
pub struct VendorImage {
    /// Media type the vendor declared, such as `image/jpeg`; `None` when it declared none and
    /// the type has to be recognised from the bytes.
    pub media_type: Option<String>,
    pub bytes: bytes::Bytes,
}

/// A body that cannot be turned into reads: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct VendorError {
    /// Path of the offending field in the vendor's body, such as `best_plate_number` or
    /// `ANPR.licensePlate`; `body` for the body as a whole.
    pub field: String,
    pub message: String,
}

impl VendorError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn missing(field: &str) -> Self {
        Self::new(field, "missing")
    }
}

/// Configuration an adapter needs beyond the body.
#[derive(Debug, Clone, Default)]
pub struct ParseContext {
    /// Time zone of each camera, for vendors that send local time without an offset.
    pub zones: CameraZones,
    /// ISO 3166-1 alpha-2 country (such as `US`) of vendors' bare subdivision codes (`CA`,
    /// `WA`). Without it, a bare code gives no region.
    pub default_country: Option<String>,
}

/// Time zones of cameras, by camera id, with a zone for cameras not listed.
#[derive(Debug, Clone)]
pub struct CameraZones {
    default_zone: Tz,
    by_camera: HashMap<String, Tz>,
}

impl Default for CameraZones {
    fn default() -> Self {
        Self {
            default_zone: Tz::UTC,
            by_camera: HashMap::new(),
        }
    }
}

impl CameraZones {
    /// Builds the table from IANA zone names such as `America/Los_Angeles`, rejecting an unknown
    /// name with the camera it was configured for.
    pub fn from_names<'a>(
        default_zone: &str,
        cameras: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> Result<Self, VendorError> {
        let parse = |name: &str, field: String| {
            name.parse::<Tz>().map_err(|_| {
                VendorError::new(
                    field,
                    format!("{name:?} is not an IANA time zone name such as America/Los_Angeles"),
                )
            })
        };
        let default_zone = parse(default_zone, "default time zone".to_string())?;
        let mut by_camera = HashMap::new();
        for (camera, name) in cameras {
            by_camera.insert(camera.clone(), parse(name, format!("camera {camera}"))?);
        }
        Ok(Self {
            default_zone,
            by_camera,
        })
    }

    /// Returns the zone configured for `camera_id`, or the default zone.
    pub fn zone_of(&self, camera_id: &str) -> Tz {
        self.by_camera
            .get(camera_id)
            .copied()
            .unwrap_or(self.default_zone)
    }
}

/// Returns every adapter, in the order the documentation lists them.
pub fn adapters() -> Vec<Box<dyn VendorAdapter>> {
    vec![
        Box::new(openalpr::OpenAlpr),
        Box::new(platerecognizer::PlateRecognizer),
        Box::new(genetec::Genetec),
        Box::new(axis::Axis),
        Box::new(hikvision::Hikvision),
        Box::new(frigate::Frigate),
    ]
}

/// Returns the adapter called `name` (case-insensitive), as used in URLs and headers.
pub fn adapter_for(name: &str) -> Option<Box<dyn VendorAdapter>> {
    adapters()
        .into_iter()
        .find(|adapter| adapter.name().eq_ignore_ascii_case(name.trim()))
}

/// Names of every adapter, for error messages that list the accepted values.
pub fn adapter_names() -> Vec<&'static str> {
    adapters().iter().map(|adapter| adapter.name()).collect()
}

/// Rejects an empty body or one larger than [`MAX_BODY_BYTES`] before any parsing.
pub(crate) fn check_body_size(body: &[u8]) -> Result<(), VendorError> {
    if body.is_empty() {
        return Err(VendorError::new("body", "empty"));
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(VendorError::new(
            "body",
            format!("larger than {MAX_BODY_BYTES} bytes"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_zones_fall_back_to_default() {
        let cameras = HashMap::from([("gate-west".to_string(), "America/Los_Angeles".to_string())]);
        let zones = CameraZones::from_names("Europe/Berlin", cameras.iter()).unwrap_or_default();
        assert_eq!(zones.zone_of("gate-west"), Tz::America__Los_Angeles);
        assert_eq!(zones.zone_of("gate-east"), Tz::Europe__Berlin);
    }

    #[test]
    fn unknown_zone_names_its_camera() {
        let cameras = HashMap::from([("gate-west".to_string(), "Pacific Time".to_string())]);
        let error = CameraZones::from_names("UTC", cameras.iter()).err();
        assert_eq!(
            error.map(|error| error.field),
            Some("camera gate-west".to_string())
        );
    }

    #[test]
    fn adapters_are_found_by_name() {
        assert_eq!(
            adapter_for(" Hikvision ").map(|adapter| adapter.name()),
            Some("hikvision")
        );
        assert!(adapter_for("acme").is_none());
        assert_eq!(
            adapter_names(),
            [
                "openalpr",
                "platerecognizer",
                "genetec",
                "axis",
                "hikvision",
                "frigate"
            ]
        );
    }
}
