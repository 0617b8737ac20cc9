//! Hikvision `EventNotificationAlert` XML (ISAPI, namespace `http://www.hikvision.com/ver20/XMLSchema`)
//! for ANPR events, sent alone or as `multipart/form-data` with the plate and scene pictures.
//!
//! After an outage the camera resends stored events with `isDataRetransmission` set. The event
//! id is built from the channel, the capture time and the plate, which a resend repeats, so a
//! retransmitted event gets the read id of the original.

use serde::Deserialize;

use alpr_schemas::submission::{ReadSubmission, SubmittedPlate};

use crate::fields::{attribute, is_placeholder};
use crate::multipart;
use crate::time::{parse_text, to_submission_text};
use crate::{vocabulary, ParseContext, VendorAdapter, VendorError, VendorEvent, VendorImage};

/// Adapter for Hikvision ANPR event notifications.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hikvision;

/// The fields of `EventNotificationAlert` this adapter reads. Every value is taken as text and
/// parsed afterwards, so that a malformed number is reported with its field name.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Alert {
    mac_address: Option<String>,
    ip_address: Option<String>,
    #[serde(rename = "deviceID")]
    device_id: Option<String>,
    #[serde(rename = "channelID")]
    channel_id: Option<String>,
    date_time: Option<String>,
    event_type: Option<String>,
    #[serde(rename = "ANPR")]
    anpr: Option<Anpr>,
    is_data_retransmission: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Anpr {
    license_plate: Option<String>,
    confidence_level: Option<String>,
    vehicle_info: Option<VehicleInfo>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct VehicleInfo {
    color: Option<String>,
}

impl VendorAdapter for Hikvision {
    fn name(&self) -> &'static str {
        "hikvision"
    }

    fn parse(
        &self,
        body: &[u8],
        content_type: Option<&str>,
        context: &ParseContext,
    ) -> Result<Vec<VendorEvent>, VendorError> {
        let (xml, image) = match content_type {
            Some(content_type) if multipart::is_multipart(Some(content_type)) => {
                split_multipart(body, content_type)?
            }
            _ => (bytes::Bytes::copy_from_slice(body), None),
        };
        crate::check_body_size(&xml)?;
        let text = std::str::from_utf8(&xml).map_err(|error| {
            VendorError::new(
                "body",
                format!("invalid UTF-8 at byte {}", error.valid_up_to()),
            )
        })?;
        if !text.contains("EventNotificationAlert") {
            return Err(VendorError::new(
                "body",
                "not an EventNotificationAlert document",
            ));
        }
        let alert: Alert = quick_xml::de::from_str(text)
            .map_err(|error| VendorError::new("body", format!("invalid XML: {error}")))?;
        match alert.event_type.as_deref().map(str::trim) {
            Some(event_type) if event_type.eq_ignore_ascii_case("ANPR") => {}
            // Heartbeats (`videoloss` with state inactive) and other event types carry no read.
            Some(_) => return Ok(Vec::new()),
            None => return Err(VendorError::missing("eventType")),
        }
        parse_anpr(alert, image, context).map(|event| vec![event])
    }
}

fn present(value: Option<String>) -> Option<String> {
    value
        .map(|text| text.trim().to_string())
        .filter(|text| !is_placeholder(text))
}

fn parse_anpr(
    alert: Alert,
    image: Option<VendorImage>,
    context: &ParseContext,
) -> Result<VendorEvent, VendorError> {
    let device = present(alert.device_id)
        .or(present(alert.mac_address))
        .or(present(alert.ip_address))
        .ok_or_else(|| {
            VendorError::new("deviceID", "missing, and so are macAddress and ipAddress")
        })?;
    let channel = present(alert.channel_id).unwrap_or_else(|| "1".to_string());
    // One device serves several channels, each a camera of its own.
    let camera_id = format!("{device}:{channel}");
    let date_time = present(alert.date_time).ok_or_else(|| VendorError::missing("dateTime"))?;
    let captured_at = parse_text(&date_time, context.zones.zone_of(&camera_id), "dateTime")?;
    let anpr = alert.anpr.ok_or_else(|| VendorError::missing("ANPR"))?;
    let plate =
        present(anpr.license_plate).ok_or_else(|| VendorError::missing("ANPR.licensePlate"))?;
    let confidence = match present(anpr.confidence_level) {
        Some(text) => {
            let value: f64 = text.parse().map_err(|_| {
                VendorError::new("ANPR.confidenceLevel", format!("{text:?} is not a number"))
            })?;
            Some(crate::fields::confidence(
                value,
                100.0,
                "ANPR.confidenceLevel",
            )?)
        }
        None => None,
    };
    let colour = anpr
        .vehicle_info
        .and_then(|info| present(info.color))
        .and_then(|name| vocabulary::colour(&name));
    let retransmission =
        present(alert.is_data_retransmission).is_some_and(|flag| flag.eq_ignore_ascii_case("true"));

    Ok(VendorEvent {
        submission: ReadSubmission {
            event_id: Some(format!("{channel}/{date_time}/{}", plate.to_uppercase())),
            camera_id: Some(camera_id),
            captured_at: Some(to_submission_text(captured_at)),
            location: None,
            plate: Some(SubmittedPlate {
                text: Some(plate),
                // NOTE: Hikvision reports at most a country (as its own numeric index), never a
                // state or province, so these reads carry no region.
                region: None,
                confidence,
                present: None,
            }),
            // NOTE: vehicleLogoRecog is a numeric brand index whose table Hikvision does not
            // publish with the event format, so the make is not mapped.
            vehicle: crate::fields::vehicle(
                None,
                None,
                None,
                attribute(colour.map(str::to_string), None),
            ),
            image_ref: None,
            image: None,
        },
        image,
        retransmission,
    })
}

/// Takes the XML part and the best picture out of a multipart notification: the scene
/// (`detectionPicture`) when sent, else the plate picture.
fn split_multipart(
    body: &[u8],
    content_type: &str,
) -> Result<(bytes::Bytes, Option<VendorImage>), VendorError> {
    let mut xml = None;
    let mut scene = None;
    let mut other_picture = None;
    for part in multipart::parts(body, content_type)? {
        let is_xml = part
            .content_type
            .as_deref()
            .is_some_and(|media_type| media_type.ends_with("/xml"))
            || part
                .file_name
                .as_deref()
                .or(part.name.as_deref())
                .is_some_and(|name| name.to_ascii_lowercase().ends_with(".xml"));
        if is_xml {
            xml.get_or_insert(part.bytes);
            continue;
        }
        let Some(media_type) = multipart::image_media_type(&part) else {
            continue;
        };
        let is_scene = [part.name.as_deref(), part.file_name.as_deref()]
            .into_iter()
            .flatten()
            .any(|name| name.starts_with("detectionPicture"));
        let picture = VendorImage {
            media_type: Some(media_type),
            bytes: part.bytes,
        };
        if is_scene {
            scene.get_or_insert(picture);
        } else {
            other_picture.get_or_insert(picture);
        }
    }
    let xml = xml.ok_or_else(|| VendorError::new("body", "no XML part in the multipart body"))?;
    Ok((xml, scene.or(other_picture)))
}
