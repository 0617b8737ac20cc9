//! Frigate NVR events, as published on MQTT `frigate/events` and forwarded over HTTP.
//!
//! Each body is `{type, before, after}` for one tracked object, sent with `type` `new` when the
//! object appears, `update` as it changes and `end` when it leaves. Only `end` becomes a read,
//! with the object's final plate, and its event id is Frigate's object id, so each tracked
//! vehicle gives one read without ingest keeping state. An ended object without a recognised
//! plate (a pedestrian, a car whose plate was never read) gives none.

use serde_json::{Map, Value};

use alpr_schemas::submission::{ReadSubmission, SubmittedPlate};

use crate::fields::{self, attribute};
use crate::time::{from_epoch, to_submission_text, EpochUnit};
use crate::{vocabulary, ParseContext, VendorAdapter, VendorError, VendorEvent};

/// Adapter for Frigate event messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct Frigate;

impl VendorAdapter for Frigate {
    fn name(&self) -> &'static str {
        "frigate"
    }

    fn parse(
        &self,
        body: &[u8],
        _content_type: Option<&str>,
        _context: &ParseContext,
    ) -> Result<Vec<VendorEvent>, VendorError> {
        let body = fields::parse_object(body)?;
        match fields::text(body.get("type"), "type")?.as_deref() {
            Some("end") => {}
            Some("new" | "update") => return Ok(Vec::new()),
            Some(other) => {
                return Err(VendorError::new(
                    "type",
                    format!("{other:?} is not new, update or end"),
                ))
            }
            None => return Err(VendorError::missing("type")),
        }
        let after = fields::object(body.get("after"), "after")?
            .ok_or_else(|| VendorError::missing("after"))?;
        parse_ended_object(after).map(|event| event.into_iter().collect())
    }
}

fn parse_ended_object(after: &Map<String, Value>) -> Result<Option<VendorEvent>, VendorError> {
    let Some(text) = fields::text(
        after.get("recognized_license_plate"),
        "after.recognized_license_plate",
    )?
    else {
        return Ok(None);
    };
    let event_id = fields::text(after.get("id"), "after.id")?
        .ok_or_else(|| VendorError::missing("after.id"))?;
    let camera_id = fields::text(after.get("camera"), "after.camera")?
        .ok_or_else(|| VendorError::missing("after.camera"))?;
    let seconds = match fields::number(after.get("frame_time"), "after.frame_time")? {
        Some(seconds) => seconds,
        None => fields::number(after.get("start_time"), "after.start_time")?
            .ok_or_else(|| VendorError::missing("after.frame_time"))?,
    };
    let captured_at = from_epoch(seconds, EpochUnit::Seconds, "after.frame_time")?;
    let confidence = fields::number(
        after.get("recognized_license_plate_score"),
        "after.recognized_license_plate_score",
    )?
    .map(|score| fields::confidence(score, 1.0, "after.recognized_license_plate_score"))
    .transpose()?;
    let label_score = fields::number(after.get("top_score"), "after.top_score")?
        .map(|score| fields::confidence(score, 1.0, "after.top_score"))
        .transpose()?;
    let body_type = fields::text(after.get("label"), "after.label")?
        .and_then(|label| vocabulary::body_type(&label))
        .map(str::to_string);

    Ok(Some(VendorEvent {
        submission: ReadSubmission {
            camera_id: Some(camera_id),
            event_id: Some(event_id),
            captured_at: Some(to_submission_text(captured_at)),
            location: None,
            plate: Some(SubmittedPlate {
                text: Some(text),
                region: None,
                confidence,
                present: None,
            }),
            vehicle: fields::vehicle(None, None, attribute(body_type, label_score), None),
            image_ref: None,
            image: None,
        },
        // Frigate's event carries no picture; its snapshot is fetched from Frigate's API.
        image: None,
        retransmission: false,
    }))
}
