//! The JSON form in which cameras and relays submit reads, to `POST /v1/reads` and on
//! `alpr.reads.raw`. Unknown fields are rejected so that a misspelt field is reported instead of
//! dropped, and so that nothing the schema has no place for (such as occupant data) slips in.
//!
//! The types live here rather than in ingest so that the vendor adapters, which translate each
//! vendor's push format into this form, can build them without depending on ingest.

use serde::{Deserialize, Serialize};

/// One read as a camera submits it, before validation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadSubmission {
    pub camera_id: Option<String>,
    /// The camera's own id for this read. When present, re-sending the read yields the same
    /// read id, so the compacted reads topic keeps one copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// RFC 3339 time with a UTC offset, such as `2021-10-01T19:04:05.123Z`.
    pub captured_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<SubmittedLocation>,
    pub plate: Option<SubmittedPlate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle: Option<SubmittedVehicle>,
    /// Reference to an image the sender stored itself. A read carries either this or `image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_ref: Option<String>,
    /// A rear-of-vehicle image for ingest to store in the image store; the read on the topic
    /// then carries the stored object's key as `image_ref`. Accepted over HTTP only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<SubmittedImage>,
}

/// An image sent inline with a read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmittedImage {
    /// `image/jpeg` or `image/png`.
    pub media_type: String,
    /// The image bytes in standard base64 (RFC 4648, with padding).
    pub base64: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmittedLocation {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmittedPlate {
    /// Plate text as recognised; `?` marks a character the camera could not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// ISO 3166-2 code such as `US-CA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// False when the camera saw a vehicle without a readable plate. Defaults to true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmittedVehicle {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub make: Option<SubmittedAttribute>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<SubmittedAttribute>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub vehicle_type: Option<SubmittedAttribute>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<SubmittedAttribute>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmittedAttribute {
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
}
