//! OpenALPR / Rekor Scout agent webhooks.
//!
//! The agent posts one `alpr_results` body per video frame and, seconds later, one `alpr_group`
//! body per vehicle that sums up those frames. Only the group becomes a read: it is the vendor's
//! own per-vehicle record, so frames are acknowledged and dropped, and a vehicle seen in twenty
//! frames gives one read without ingest keeping state. Heartbeats are acknowledged too.

use serde_json::{Map, Value};

use alpr_schemas::submission::{ReadSubmission, SubmittedPlate};

use crate::fields::{self, attribute, base64_image};
use crate::time::{from_epoch, to_submission_text, EpochUnit};
use crate::{
    region, vocabulary, ParseContext, VendorAdapter, VendorError, VendorEvent, VendorImage,
};

/// Adapter for the OpenALPR / Rekor Scout agent's JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenAlpr;

impl VendorAdapter for OpenAlpr {
    fn name(&self) -> &'static str {
        "openalpr"
    }

    fn parse(
        &self,
        body: &[u8],
        _content_type: Option<&str>,
        _context: &ParseContext,
    ) -> Result<Vec<VendorEvent>, VendorError> {
        let body = fields::parse_object(body)?;
        let data_type = fields::text(body.get("data_type"), "data_type")?
            .ok_or_else(|| VendorError::missing("data_type"))?;
        match data_type.as_str() {
            "alpr_group" => {}
            // Frames of a vehicle whose group follows, and agent health reports.
            "alpr_results" | "heartbeat" => return Ok(Vec::new()),
            other => {
                return Err(VendorError::new(
                    "data_type",
                    format!("{other:?} is not alpr_group, alpr_results or heartbeat"),
                ))
            }
        }
        // A preview group is sent early while the vehicle is still in view, and the final group
        // for the same vehicle follows, so only the final one becomes a read.
        if fields::boolean(body.get("is_preview"), "is_preview")? == Some(true) {
            return Ok(Vec::new());
        }
        parse_group(&body).map(|event| vec![event])
    }
}

fn parse_group(body: &Map<String, Value>) -> Result<VendorEvent, VendorError> {
    let camera_id = fields::text(body.get("camera_id"), "camera_id")?
        .ok_or_else(|| VendorError::missing("camera_id"))?;
    let event_id = match fields::text(body.get("best_uuid"), "best_uuid")? {
        Some(uuid) => uuid,
        None => {
            // Agents that omit best_uuid still give the agent id and the group's start time,
            // which together name one vehicle.
            let agent = fields::text(body.get("agent_uid"), "agent_uid")?
                .ok_or_else(|| VendorError::new("best_uuid", "missing, and so is agent_uid"))?;
            let start = fields::text(body.get("epoch_start"), "epoch_start")?
                .or(fields::text(body.get("epoch_time"), "epoch_time")?)
                .ok_or_else(|| VendorError::new("best_uuid", "missing, and so is epoch_start"))?;
            format!("{agent}-{start}")
        }
    };
    let captured_at = match fields::number(body.get("epoch_start"), "epoch_start")? {
        Some(millis) => from_epoch(millis, EpochUnit::Milliseconds, "epoch_start")?,
        None => {
            // Old agents sent `epoch_time` in seconds; the guess also reads milliseconds.
            let value = fields::number(body.get("epoch_time"), "epoch_time")?
                .ok_or_else(|| VendorError::missing("epoch_start"))?;
            from_epoch(value, EpochUnit::guess(value), "epoch_time")?
        }
    };

    let best_plate = fields::object(body.get("best_plate"), "best_plate")?;
    let from_best_plate = |key: &str| best_plate.and_then(|plate| plate.get(key));
    // The group's best_plate_number is the agent's vote over all frames; best_plate.plate is
    // the text of a single frame and can differ, so the vote wins.
    let text = match fields::text(body.get("best_plate_number"), "best_plate_number")? {
        Some(text) => Some(text),
        None => fields::text(from_best_plate("plate"), "best_plate.plate")?,
    }
    .ok_or_else(|| VendorError::missing("best_plate_number"))?;
    let confidence = match fields::number(body.get("best_confidence"), "best_confidence")? {
        Some(value) => Some(fields::confidence(value, 100.0, "best_confidence")?),
        None => fields::number(from_best_plate("confidence"), "best_plate.confidence")?
            .map(|value| fields::confidence(value, 100.0, "best_plate.confidence"))
            .transpose()?,
    };
    let region = match fields::text(body.get("best_region"), "best_region")? {
        Some(code) => region::from_code(&code, "best_region")?,
        None => None,
    };

    let mut location = fields::location(
        fields::number(body.get("gps_latitude"), "gps_latitude")?,
        fields::number(body.get("gps_longitude"), "gps_longitude")?,
    );
    // travel_direction is the vehicle's heading in degrees, which is what a read's heading is.
    if let Some(location) = location.as_mut() {
        location.heading = fields::number(body.get("travel_direction"), "travel_direction")?
            .filter(|heading| (0.0..=360.0).contains(heading));
    }

    Ok(VendorEvent {
        submission: ReadSubmission {
            camera_id: Some(camera_id),
            event_id: Some(event_id),
            captured_at: Some(to_submission_text(captured_at)),
            location,
            plate: Some(SubmittedPlate {
                text: Some(text),
                region,
                confidence,
                present: None,
            }),
            vehicle: parse_vehicle(body.get("vehicle"))?,
            image_ref: None,
            image: None,
        },
        image: parse_image(body, best_plate)?,
        retransmission: false,
    })
}

/// Returns the most confident `{name, confidence}` entry of one vehicle attribute list, with the
/// confidence rescaled from 0–100.
fn best_guess(
    vehicle: &Map<String, Value>,
    key: &str,
) -> Result<Option<(String, Option<f32>)>, VendorError> {
    let field = format!("vehicle.{key}");
    let mut best: Option<(String, Option<f64>)> = None;
    for (index, entry) in fields::array(vehicle.get(key), &field)?.iter().enumerate() {
        let entry_field = format!("{field}[{index}]");
        let Some(entry) = fields::object(Some(entry), &entry_field)? else {
            continue;
        };
        let Some(name) = fields::text(entry.get("name"), &format!("{entry_field}.name"))? else {
            continue;
        };
        let confidence = fields::number(
            entry.get("confidence"),
            &format!("{entry_field}.confidence"),
        )?;
        let better = match (&best, confidence) {
            (None, _) => true,
            (Some((_, Some(best_confidence))), Some(confidence)) => confidence > *best_confidence,
            (Some((_, None)), Some(_)) => true,
            (Some(_), None) => false,
        };
        if better {
            best = Some((name, confidence));
        }
    }
    best.map(|(name, confidence)| {
        let confidence = confidence
            .map(|value| fields::confidence(value, 100.0, &format!("{field}.confidence")))
            .transpose()?;
        Ok((name, confidence))
    })
    .transpose()
}

fn parse_vehicle(
    vehicle: Option<&Value>,
) -> Result<Option<alpr_schemas::submission::SubmittedVehicle>, VendorError> {
    let Some(vehicle) = fields::object(vehicle, "vehicle")? else {
        return Ok(None);
    };
    let make = best_guess(vehicle, "make")?
        .and_then(|(name, confidence)| vocabulary::make(&name).map(|make| (make, confidence)));
    let model = best_guess(vehicle, "make_model")?.and_then(|(name, confidence)| {
        vocabulary::model(&name, make.as_ref().map(|(make, _)| make.as_str()))
            .map(|model| (model, confidence))
    });
    let body_type = best_guess(vehicle, "body_type")?.and_then(|(name, confidence)| {
        vocabulary::body_type(&name).map(|word| (word.to_string(), confidence))
    });
    let colour = best_guess(vehicle, "color")?.and_then(|(name, confidence)| {
        vocabulary::colour(&name).map(|word| (word.to_string(), confidence))
    });
    let split = |pair: Option<(String, Option<f32>)>| {
        pair.and_then(|(value, confidence)| attribute(Some(value), confidence))
    };
    Ok(fields::vehicle(
        split(make),
        split(model),
        split(body_type),
        split(colour),
    ))
}

/// Takes the vehicle crop when the agent sends one, else the plate crop.
fn parse_image(
    body: &Map<String, Value>,
    best_plate: Option<&Map<String, Value>>,
) -> Result<Option<VendorImage>, VendorError> {
    let candidates = [
        (body.get("vehicle_crop_jpeg"), "vehicle_crop_jpeg"),
        (
            best_plate.and_then(|plate| plate.get("plate_crop_jpeg")),
            "best_plate.plate_crop_jpeg",
        ),
    ];
    for (value, field) in candidates {
        if let Some(encoded) = fields::text(value, field)? {
            return Ok(Some(VendorImage {
                media_type: Some("image/jpeg".to_string()),
                bytes: base64_image(&encoded, field)?,
            }));
        }
    }
    Ok(None)
}
