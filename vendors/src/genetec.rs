//! Genetec AutoVu webhook JSON.
//!
//! Every value is a string, including numbers. Date and time are split into `DateUtc`
//! (`MM/DD/YYYY`) and `TimeUtc` (`HH:MM:SS`), both in UTC. Vehicle details sit in `Attributes`
//! under keys with spaces (`Vehicle Make`), with `-` for unknown. One body is one read.

use chrono::{NaiveDate, NaiveTime};
use serde_json::{Map, Value};

use alpr_schemas::submission::{ReadSubmission, SubmittedPlate};

use crate::fields::{self, attribute, base64_image};
use crate::time::to_submission_text;
use crate::{
    region, vocabulary, ParseContext, VendorAdapter, VendorError, VendorEvent, VendorImage,
};

/// Adapter for Genetec AutoVu webhooks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Genetec;

impl VendorAdapter for Genetec {
    fn name(&self) -> &'static str {
        "genetec"
    }

    fn parse(
        &self,
        body: &[u8],
        _content_type: Option<&str>,
        context: &ParseContext,
    ) -> Result<Vec<VendorEvent>, VendorError> {
        let body = fields::parse_object(body)?;
        let camera_id = match fields::text(body.get("CameraId"), "CameraId")? {
            Some(id) => id,
            None => fields::text(body.get("CameraName"), "CameraName")?
                .ok_or_else(|| VendorError::new("CameraId", "missing, and so is CameraName"))?,
        };
        let plate_text = fields::text(body.get("Plate"), "Plate")?
            .ok_or_else(|| VendorError::missing("Plate"))?;
        let date = fields::text(body.get("DateUtc"), "DateUtc")?
            .ok_or_else(|| VendorError::missing("DateUtc"))?;
        let time = fields::text(body.get("TimeUtc"), "TimeUtc")?
            .ok_or_else(|| VendorError::missing("TimeUtc"))?;
        let captured_at = NaiveDate::parse_from_str(&date, "%m/%d/%Y")
            .map_err(|_| VendorError::new("DateUtc", format!("{date:?} is not a MM/DD/YYYY date")))?
            .and_time(
                NaiveTime::parse_from_str(&time, "%H:%M:%S%.f").map_err(|_| {
                    VendorError::new("TimeUtc", format!("{time:?} is not an HH:MM:SS time"))
                })?,
            )
            .and_utc();
        let event_id = match fields::text(body.get("ReadId"), "ReadId")? {
            Some(id) => id,
            // Without the unit's read id, the time and plate of the read name it in every resend.
            None => format!("{date} {time} {plate_text}"),
        };

        let confidence = fields::number(body.get("ConfidenceScore"), "ConfidenceScore")?
            .map(|value| fields::confidence(value, 100.0, "ConfidenceScore"))
            .transpose()?;
        let region = region::from_parts(
            fields::text(body.get("Country"), "Country")?.as_deref(),
            fields::text(body.get("State"), "State")?.as_deref(),
            context.default_country.as_deref(),
            "State",
        )?;
        let location = fields::location(
            fields::number(body.get("Latitude"), "Latitude")?,
            fields::number(body.get("Longitude"), "Longitude")?,
        );

        Ok(vec![VendorEvent {
            submission: ReadSubmission {
                camera_id: Some(camera_id),
                event_id: Some(event_id),
                captured_at: Some(to_submission_text(captured_at)),
                location,
                plate: Some(SubmittedPlate {
                    text: Some(plate_text),
                    region,
                    confidence,
                    present: None,
                }),
                vehicle: parse_attributes(fields::object(body.get("Attributes"), "Attributes")?)?,
                image_ref: None,
                image: None,
            },
            image: parse_image(&body)?,
            retransmission: false,
        }])
    }
}

fn parse_attributes(
    attributes: Option<&Map<String, Value>>,
) -> Result<Option<alpr_schemas::submission::SubmittedVehicle>, VendorError> {
    let Some(attributes) = attributes else {
        return Ok(None);
    };
    let get = |key: &str| fields::text(attributes.get(key), &format!("Attributes.{key}"));
    let make = get("Vehicle Make")?.and_then(|name| vocabulary::make(&name));
    let model = get("Vehicle Model")?.and_then(|name| vocabulary::model(&name, make.as_deref()));
    let vehicle_type = get("Vehicle Type")?.and_then(|name| vocabulary::body_type(&name));
    let colour = get("Vehicle Color")?.and_then(|name| vocabulary::colour(&name));
    // Genetec gives no confidence for attributes.
    Ok(fields::vehicle(
        attribute(make, None),
        attribute(model, None),
        attribute(vehicle_type.map(str::to_string), None),
        attribute(colour.map(str::to_string), None),
    ))
}

/// Takes the context image, which shows the vehicle, when present, else the plate image.
fn parse_image(body: &Map<String, Value>) -> Result<Option<VendorImage>, VendorError> {
    for field in ["ContextImage", "PlateImage"] {
        if let Some(encoded) = fields::text(body.get(field), field)? {
            return Ok(Some(VendorImage {
                media_type: None,
                bytes: base64_image(&encoded, field)?,
            }));
        }
    }
    Ok(None)
}
