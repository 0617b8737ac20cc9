//! Axis License Plate Verifier push events (the FF Group LPR push format).
//!
//! Numbers arrive as strings. One car produces several events as it moves through the scene:
//! `carState` `new` when it appears, `update` while the text may still change, and `lost` when
//! it leaves, carrying the final text. Only `lost` becomes a read, so each car gives one read
//! with its final text and ingest keeps no state. A body without `carState` comes from a camera
//! set to send one event per car and is read as final.

use serde_json::{Map, Value};

use alpr_schemas::submission::{ReadSubmission, SubmittedPlate};

use crate::fields::{self, attribute, base64_image};
use crate::time::{from_epoch, parse_text, to_submission_text, EpochUnit};
use crate::{
    region, vocabulary, ParseContext, VendorAdapter, VendorError, VendorEvent, VendorImage,
};

/// Adapter for Axis License Plate Verifier push events.
#[derive(Debug, Clone, Copy, Default)]
pub struct Axis;

impl VendorAdapter for Axis {
    fn name(&self) -> &'static str {
        "axis"
    }

    fn parse(
        &self,
        body: &[u8],
        _content_type: Option<&str>,
        context: &ParseContext,
    ) -> Result<Vec<VendorEvent>, VendorError> {
        let body = fields::parse_object(body)?;
        match fields::text(body.get("carState"), "carState")?.as_deref() {
            Some("lost") | None => {}
            Some("new" | "update") => return Ok(Vec::new()),
            Some(other) => {
                return Err(VendorError::new(
                    "carState",
                    format!("{other:?} is not new, update or lost"),
                ))
            }
        }
        parse_final_event(&body, context).map(|event| vec![event])
    }
}

fn parse_final_event(
    body: &Map<String, Value>,
    context: &ParseContext,
) -> Result<VendorEvent, VendorError> {
    let camera_info = fields::object(body.get("camera_info"), "camera_info")?;
    let serial = camera_info
        .map(|info| fields::text(info.get("SerialNumber"), "camera_info.SerialNumber"))
        .transpose()?
        .flatten();
    let camera_id = match serial {
        Some(serial) => serial,
        None => {
            fields::text(body.get("sensorProviderID"), "sensorProviderID")?.ok_or_else(|| {
                VendorError::new(
                    "camera_info.SerialNumber",
                    "missing, and so is sensorProviderID",
                )
            })?
        }
    };
    let car_id =
        fields::text(body.get("carID"), "carID")?.ok_or_else(|| VendorError::missing("carID"))?;

    let (time_key, captured_at) =
        match fields::number(body.get("capture_timestamp"), "capture_timestamp")? {
            Some(millis) => (
                millis.to_string(),
                from_epoch(millis, EpochUnit::Milliseconds, "capture_timestamp")?,
            ),
            None => {
                // `datetime` is the camera's local time without a zone, such as `20240301 040000`.
                let local = fields::text(body.get("datetime"), "datetime")?
                    .ok_or_else(|| VendorError::missing("capture_timestamp"))?;
                let time = parse_text(&local, context.zones.zone_of(&camera_id), "datetime")?;
                (local, time)
            }
        };

    let mut text = None;
    for key in ["plateText", "plateUTF8", "plateUnicode"] {
        text = fields::text(body.get(key), key)?;
        if text.is_some() {
            break;
        }
    }
    let text = text.ok_or_else(|| VendorError::missing("plateText"))?;
    let confidence = fields::number(body.get("plateConfidence"), "plateConfidence")?
        .map(|value| fields::confidence(value, 1.0, "plateConfidence"))
        .transpose()?;
    // Some firmware sends plateRegion as a code and some as a region name. A name cannot be
    // mapped to a code, so only code-shaped values are used.
    let subdivision = fields::text(body.get("plateRegion"), "plateRegion")?.filter(|region| {
        region.len() <= 3 && region.bytes().all(|byte| byte.is_ascii_alphanumeric())
    });
    let region = region::from_parts(
        fields::text(body.get("plateCountry"), "plateCountry")?.as_deref(),
        subdivision.as_deref(),
        context.default_country.as_deref(),
        "plateCountry",
    )?;

    let location = match fields::object(body.get("geotag"), "geotag")? {
        Some(geotag) => fields::location(
            fields::number(geotag.get("lat"), "geotag.lat")?,
            fields::number(geotag.get("lon"), "geotag.lon")?,
        ),
        None => None,
    };

    Ok(VendorEvent {
        submission: ReadSubmission {
            camera_id: Some(camera_id),
            // Axis numbers cars from 1 again after a restart, so the car id alone can repeat.
            // With the final event's capture time it names one car, and a resend of the same
            // event carries the same pair.
            event_id: Some(format!("{car_id}@{time_key}")),
            captured_at: Some(to_submission_text(captured_at)),
            location,
            plate: Some(SubmittedPlate {
                text: Some(text),
                region,
                confidence,
                present: None,
            }),
            vehicle: parse_vehicle(fields::object(body.get("vehicle_info"), "vehicle_info")?)?,
            image_ref: None,
            image: None,
        },
        image: fields::text(body.get("image"), "image")?
            .map(|encoded| base64_image(&encoded, "image"))
            .transpose()?
            .map(|bytes| VendorImage {
                media_type: None,
                bytes,
            }),
        retransmission: false,
    })
}

fn parse_vehicle(
    info: Option<&Map<String, Value>>,
) -> Result<Option<alpr_schemas::submission::SubmittedVehicle>, VendorError> {
    let Some(info) = info else {
        return Ok(None);
    };
    let get = |key: &str| fields::text(info.get(key), &format!("vehicle_info.{key}"));
    let make = get("manufacturer")?.and_then(|name| vocabulary::make(&name));
    let model = get("model")?.and_then(|name| vocabulary::model(&name, make.as_deref()));
    let vehicle_type = get("type")?.and_then(|name| vocabulary::body_type(&name));
    let colour = get("color")?.and_then(|name| vocabulary::colour(&name));
    Ok(fields::vehicle(
        attribute(make, None),
        attribute(model, None),
        attribute(vehicle_type.map(str::to_string), None),
        attribute(colour.map(str::to_string), None),
    ))
}
