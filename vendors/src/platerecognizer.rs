//! Plate Recognizer Snapshot and Stream webhooks.
//!
//! The body is `{hook, data}` JSON, or `multipart/form-data` with that JSON in a `json` field and
//! the frame in an `upload` field. Each entry of `data.results` is one vehicle and becomes one
//! read. Two shapes of an entry exist: the original one with `plate` as text and the newer
//! Stream one with `plate` as an object whose `props` hold the candidates. The adapter detects
//! the shape from the JSON type of `plate`.

use serde_json::{Map, Value};

use alpr_schemas::submission::{ReadSubmission, SubmittedPlate, SubmittedVehicle};

use crate::fields::{self, attribute};
use crate::multipart;
use crate::time::{parse_text, to_submission_text};
use crate::{
    region, vocabulary, ParseContext, VendorAdapter, VendorError, VendorEvent, VendorImage,
};

/// Adapter for Plate Recognizer webhooks.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlateRecognizer;

impl VendorAdapter for PlateRecognizer {
    fn name(&self) -> &'static str {
        "platerecognizer"
    }

    fn parse(
        &self,
        body: &[u8],
        content_type: Option<&str>,
        context: &ParseContext,
    ) -> Result<Vec<VendorEvent>, VendorError> {
        let (json, image) = match content_type {
            Some(content_type) if multipart::is_multipart(Some(content_type)) => {
                split_multipart(body, content_type)?
            }
            _ => (bytes::Bytes::copy_from_slice(body), None),
        };
        let body = fields::parse_object(&json)?;
        let data = fields::object(body.get("data"), "data")?
            .ok_or_else(|| VendorError::missing("data"))?;
        let results = fields::array(data.get("results"), "data.results")?;
        if results.is_empty() {
            return Ok(Vec::new());
        }
        let camera_id = fields::text(data.get("camera_id"), "data.camera_id")?
            .ok_or_else(|| VendorError::missing("data.camera_id"))?;
        let zone = context.zones.zone_of(&camera_id);
        let (timestamp, captured_at) = match fields::text(data.get("timestamp"), "data.timestamp")?
        {
            Some(text) => {
                let time = parse_text(&text, zone, "data.timestamp")?;
                (text, time)
            }
            None => {
                let text = fields::text(data.get("timestamp_local"), "data.timestamp_local")?
                    .ok_or_else(|| VendorError::missing("data.timestamp"))?;
                let time = parse_text(&text, zone, "data.timestamp_local")?;
                (text, time)
            }
        };

        let mut events = Vec::with_capacity(results.len());
        for (index, result) in results.iter().enumerate() {
            let field = format!("data.results[{index}]");
            let result = fields::object(Some(result), &field)?
                .ok_or_else(|| VendorError::new(&field, "expected an object, found null"))?;
            let (plate, vehicle) = match result.get("plate") {
                Some(Value::Object(plate)) => parse_stream_entry(plate, result, &field)?,
                _ => parse_original_entry(result, &field)?,
            };
            events.push(VendorEvent {
                submission: ReadSubmission {
                    camera_id: Some(camera_id.clone()),
                    // The webhook carries no id of its own. The frame's timestamp and the
                    // vehicle's place in `results` are the same in every resend of the body.
                    event_id: Some(format!("{timestamp}/{index}")),
                    captured_at: Some(to_submission_text(captured_at)),
                    location: None,
                    plate: Some(plate),
                    vehicle,
                    image_ref: None,
                    image: None,
                },
                image: image.clone(),
                retransmission: false,
            });
        }
        Ok(events)
    }
}

/// Takes the `json` field and the `upload` image out of a multipart webhook.
fn split_multipart(
    body: &[u8],
    content_type: &str,
) -> Result<(bytes::Bytes, Option<VendorImage>), VendorError> {
    let mut json = None;
    let mut image = None;
    for part in multipart::parts(body, content_type)? {
        match part.name.as_deref() {
            Some("json") => json = Some(part.bytes),
            Some("upload") if !part.bytes.is_empty() => {
                image = Some(VendorImage {
                    media_type: multipart::image_media_type(&part),
                    bytes: part.bytes,
                });
            }
            _ => {}
        }
    }
    let json = json.ok_or_else(|| VendorError::new("json", "missing multipart field"))?;
    Ok((json, image))
}

/// Reads the first `{<name_key>, score}` entry of a list, as `(name, score 0–1)`.
fn first_scored(
    value: Option<&Value>,
    name_key: &str,
    field: &str,
) -> Result<Option<(String, Option<f32>)>, VendorError> {
    let Some(first) = fields::array(value, field)?.first() else {
        return Ok(None);
    };
    let entry_field = format!("{field}[0]");
    let Some(entry) = fields::object(Some(first), &entry_field)? else {
        return Ok(None);
    };
    let Some(name) = fields::text(entry.get(name_key), &format!("{entry_field}.{name_key}"))?
    else {
        return Ok(None);
    };
    let score = fields::number(entry.get("score"), &format!("{entry_field}.score"))?
        .map(|score| fields::confidence(score, 1.0, &format!("{entry_field}.score")))
        .transpose()?;
    Ok(Some((name, score)))
}

fn score(value: Option<&Value>, field: &str) -> Result<Option<f32>, VendorError> {
    fields::number(value, field)?
        .map(|score| fields::confidence(score, 1.0, field))
        .transpose()
}

/// Reads an entry of the original shape: `plate` text, `score`, `region.code`, and vehicle
/// details in `vehicle`, `model_make`, `color`.
fn parse_original_entry(
    result: &Map<String, Value>,
    field: &str,
) -> Result<(SubmittedPlate, Option<SubmittedVehicle>), VendorError> {
    let text = fields::text(result.get("plate"), &format!("{field}.plate"))?
        .ok_or_else(|| VendorError::missing(&format!("{field}.plate")))?;
    let region_field = format!("{field}.region.code");
    let region = match fields::object(result.get("region"), &format!("{field}.region"))? {
        Some(region) => match fields::text(region.get("code"), &region_field)? {
            Some(code) => region::from_code(&code, &region_field)?,
            None => None,
        },
        None => None,
    };
    let plate = SubmittedPlate {
        text: Some(text),
        region,
        confidence: score(result.get("score"), &format!("{field}.score"))?,
        present: None,
    };

    let vehicle_type = match fields::object(result.get("vehicle"), &format!("{field}.vehicle"))? {
        Some(vehicle) => vehicle_type(vehicle, &format!("{field}.vehicle"))?,
        None => None,
    };
    let (make, model) = make_and_model(result.get("model_make"), &format!("{field}.model_make"))?;
    let colour = first_scored(result.get("color"), "color", &format!("{field}.color"))?
        .and_then(|(name, score)| attribute(vocabulary::colour(&name).map(str::to_string), score));
    Ok((plate, fields::vehicle(make, model, vehicle_type, colour)))
}

/// Reads an entry of the newer Stream shape: `plate.props.plate[{value, score}]`,
/// `plate.props.region[{value, score}]`, and `vehicle.props` with `make_model` and `color`.
fn parse_stream_entry(
    plate: &Map<String, Value>,
    result: &Map<String, Value>,
    field: &str,
) -> Result<(SubmittedPlate, Option<SubmittedVehicle>), VendorError> {
    let props_field = format!("{field}.plate.props");
    let props = fields::object(plate.get("props"), &props_field)?
        .ok_or_else(|| VendorError::missing(&props_field))?;
    let (text, text_score) =
        first_scored(props.get("plate"), "value", &format!("{props_field}.plate"))?
            .ok_or_else(|| VendorError::missing(&format!("{props_field}.plate")))?;
    let region_field = format!("{props_field}.region");
    let region = match first_scored(props.get("region"), "value", &region_field)? {
        Some((code, _)) => region::from_code(&code, &region_field)?,
        None => None,
    };
    let plate = SubmittedPlate {
        text: Some(text),
        region,
        confidence: text_score,
        present: None,
    };

    let vehicle_field = format!("{field}.vehicle");
    let Some(vehicle) = fields::object(result.get("vehicle"), &vehicle_field)? else {
        return Ok((plate, None));
    };
    let vehicle_type = vehicle_type(vehicle, &vehicle_field)?;
    let props_field = format!("{vehicle_field}.props");
    let (make, model, colour) = match fields::object(vehicle.get("props"), &props_field)? {
        Some(props) => {
            let (make, model) = make_and_model(
                props.get("make_model"),
                &format!("{props_field}.make_model"),
            )?;
            let colour =
                first_scored(props.get("color"), "value", &format!("{props_field}.color"))?
                    .and_then(|(name, score)| {
                        attribute(vocabulary::colour(&name).map(str::to_string), score)
                    });
            (make, model, colour)
        }
        None => (None, None, None),
    };
    Ok((plate, fields::vehicle(make, model, vehicle_type, colour)))
}

fn vehicle_type(
    vehicle: &Map<String, Value>,
    field: &str,
) -> Result<Option<alpr_schemas::submission::SubmittedAttribute>, VendorError> {
    let name = fields::text(vehicle.get("type"), &format!("{field}.type"))?;
    let confidence = score(vehicle.get("score"), &format!("{field}.score"))?;
    Ok(attribute(
        name.and_then(|name| vocabulary::body_type(&name))
            .map(str::to_string),
        confidence,
    ))
}

type Attribute = Option<alpr_schemas::submission::SubmittedAttribute>;

/// Reads the first `{make, model, score}` entry; the score applies to both.
fn make_and_model(
    value: Option<&Value>,
    field: &str,
) -> Result<(Attribute, Attribute), VendorError> {
    let Some(first) = fields::array(value, field)?.first() else {
        return Ok((None, None));
    };
    let entry_field = format!("{field}[0]");
    let Some(entry) = fields::object(Some(first), &entry_field)? else {
        return Ok((None, None));
    };
    let confidence = score(entry.get("score"), &format!("{entry_field}.score"))?;
    let make = fields::text(entry.get("make"), &format!("{entry_field}.make"))?
        .and_then(|name| vocabulary::make(&name));
    let model = fields::text(entry.get("model"), &format!("{entry_field}.model"))?
        .and_then(|name| vocabulary::model(&name, make.as_deref()));
    Ok((attribute(make, confidence), attribute(model, confidence)))
}
