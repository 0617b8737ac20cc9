//! Vendor push formats mapped to `CameraRead`, field by field, through the same admission
//! function the HTTP endpoint and the raw topic use. No broker is needed. The sample bodies are
//! under `vendors/tests/samples`, written from the field lists the vendors publish.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, Utc};

use alpr_images::ImageMediaType;
use alpr_ingest::validate::read_id_for_event;
use alpr_ingest::vendor::{admit_vendor_body, VendorImages, VendorRead};
use alpr_ingest::{RejectReason, Rejection, ValidationLimits};
use alpr_schemas::{Location, VehicleAttribute};
use alpr_vendors::{CameraZones, ParseContext};

const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46, 0x49, 0x46, 0x00, 0x01,
];
const JPEG_SCENE: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x10, 0x45, 0x78, 0x69, 0x66, 0x00, 0x00,
];
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D,
];

fn sample(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../vendors/tests/samples/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|error| panic!("cannot read {path}: {error}"))
}

fn sample_json(name: &str) -> serde_json::Value {
    serde_json::from_slice(&sample(name)).unwrap()
}

fn now() -> DateTime<Utc> {
    utc("2024-06-01T00:00:00Z")
}

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn micros(text: &str) -> i64 {
    utc(text).timestamp_micros()
}

fn context() -> ParseContext {
    let zones = [
        ("gate-west".to_string(), "America/Los_Angeles".to_string()),
        (
            "ACCC8E654321".to_string(),
            "America/Los_Angeles".to_string(),
        ),
        (
            "DS-2CD7A26G0-P-LZS-2024:2".to_string(),
            "America/Los_Angeles".to_string(),
        ),
    ];
    ParseContext {
        zones: CameraZones::from_names("UTC", zones.iter().map(|(a, b)| (a, b))).unwrap(),
        default_country: Some("US".to_string()),
    }
}

fn admit_body(
    vendor: &str,
    body: &[u8],
    content_type: Option<&str>,
) -> Result<Vec<VendorRead>, Rejection> {
    let adapter = alpr_vendors::adapter_for(vendor).unwrap();
    admit_vendor_body(
        adapter.as_ref(),
        body,
        content_type,
        &context(),
        &|_camera| Ok("spd".to_string()),
        now(),
        ValidationLimits {
            max_clock_skew: Duration::seconds(300),
        },
        VendorImages::Admit {
            max_bytes: 1024 * 1024,
        },
    )
}

fn admit(vendor: &str, name: &str) -> Vec<VendorRead> {
    admit_body(vendor, &sample(name), None).unwrap()
}

fn admit_multipart(vendor: &str, name: &str) -> Vec<VendorRead> {
    let content_type = String::from_utf8(sample(&format!("{name}.content-type"))).unwrap();
    admit_body(vendor, &sample(&format!("{name}.bin")), Some(&content_type)).unwrap()
}

fn only(mut reads: Vec<VendorRead>) -> VendorRead {
    assert_eq!(reads.len(), 1, "expected one read");
    reads.remove(0)
}

fn rejection_of(vendor: &str, body: serde_json::Value) -> Rejection {
    match admit_body(vendor, body.to_string().as_bytes(), None) {
        Ok(reads) => panic!("accepted {} reads", reads.len()),
        Err(rejection) => rejection,
    }
}

fn assert_close(actual: Option<f32>, expected: Option<f32>, what: &str) {
    match (actual, expected) {
        (Some(actual), Some(expected)) => {
            assert!(
                (actual - expected).abs() < 1e-5,
                "{what}: {actual} != {expected}"
            )
        }
        _ => assert_eq!(actual, expected, "{what}"),
    }
}

fn assert_attribute(
    actual: &Option<VehicleAttribute>,
    value: Option<&str>,
    confidence: Option<f32>,
    what: &str,
) {
    assert_eq!(
        actual.as_ref().map(|attribute| attribute.value.as_str()),
        value,
        "{what}"
    );
    assert_close(
        actual.as_ref().and_then(|attribute| attribute.confidence),
        confidence,
        what,
    );
}

fn assert_image(read: &VendorRead, media_type: ImageMediaType, bytes: &[u8]) {
    let image = read.image.as_ref().expect("an image");
    assert_eq!(image.media_type, media_type);
    assert_eq!(image.bytes.as_ref(), bytes);
}

/// Checks the fields every vendor read shares: ids, owner, times and source.
fn assert_identity(
    read: &VendorRead,
    camera_id: &str,
    event_id: &str,
    captured_at: i64,
    source: &str,
) {
    let read = &read.read;
    assert_eq!(read.camera_id, camera_id);
    assert_eq!(
        read.read_id,
        read_id_for_event(camera_id, event_id).to_string()
    );
    assert_eq!(read.organisation_id, "spd");
    assert_eq!(read.captured_at, captured_at);
    assert_eq!(read.received_at, now().timestamp_micros());
    assert_eq!(read.source, source);
    assert_eq!(read.image_ref, None, "images are stored after admission");
}

fn assert_plate(
    read: &VendorRead,
    text: &str,
    normalised: &str,
    region: Option<&str>,
    confidence: Option<f32>,
) {
    let plate = &read.read.plate;
    assert!(plate.present);
    assert_eq!(plate.text, text);
    assert_eq!(plate.normalised, normalised);
    assert_eq!(plate.region.as_deref(), region);
    assert_close(plate.confidence, confidence, "plate confidence");
}

// --- OpenALPR / Rekor Scout ---

#[test]
fn openalpr_group_maps_every_field() {
    let read = only(admit("openalpr", "openalpr_group.json"));
    assert_identity(
        &read,
        "1045",
        "Xk2e9sTqL0-1045-1709294400123",
        1_709_294_400_123_000,
        "vendor-openalpr",
    );
    // best_plate_number wins over best_plate.plate (7ABC128).
    assert_plate(&read, "7ABC123", "7ABC123", Some("US-WA"), Some(0.945));
    assert_eq!(
        read.read.location,
        Some(Location {
            latitude: 47.6097,
            longitude: -122.3331,
            heading: Some(92.5)
        })
    );
    let vehicle = &read.read.vehicle;
    assert_attribute(&vehicle.make, Some("honda"), Some(0.92), "make");
    assert_attribute(&vehicle.model, Some("civic"), Some(0.80), "model");
    assert_attribute(&vehicle.vehicle_type, Some("sedan"), Some(0.85), "type");
    assert_attribute(&vehicle.colour, Some("grey"), Some(0.881), "colour");
    // The vehicle crop is preferred over the plate crop.
    assert_image(&read, ImageMediaType::Jpeg, JPEG);
    assert!(!read.retransmission);
}

#[test]
fn openalpr_old_agent_uses_epoch_seconds() {
    let read = only(admit("openalpr", "openalpr_group_old_agent.json"));
    assert_identity(
        &read,
        "east-lane-2",
        "OldAgent01-1709294400",
        1_709_294_400_000_000,
        "vendor-openalpr",
    );
    assert_plate(&read, "abc-1234", "ABC1234", Some("CA-ON"), Some(0.88));
    assert_eq!(read.read.location, None, "0, 0 means no GPS fix");
    assert_eq!(read.read.vehicle, Default::default());
    assert!(read.image.is_none());
}

#[test]
fn openalpr_group_without_plate_number_uses_best_plate() {
    let read = only(admit("openalpr", "openalpr_group_plate_only.json"));
    assert_identity(
        &read,
        "77",
        "Xk2e9sTqL0-77-1709294400000",
        1_709_294_400_000_000,
        "vendor-openalpr",
    );
    // `gb` names a country only, so there is no ISO 3166-2 region.
    assert_plate(&read, "LX19 ABC", "LX19ABC", None, Some(0.765));
    let vehicle = &read.read.vehicle;
    assert_attribute(&vehicle.colour, None, None, "teal is not in the vocabulary");
    assert_attribute(&vehicle.make, None, None, "empty make list");
    assert_attribute(&vehicle.vehicle_type, Some("suv"), Some(0.70), "type");
}

#[test]
fn openalpr_frames_heartbeats_and_previews_give_no_read() {
    assert!(admit("openalpr", "openalpr_frame.json").is_empty());
    assert!(admit("openalpr", "openalpr_heartbeat.json").is_empty());
    let mut preview = sample_json("openalpr_group.json");
    preview["is_preview"] = true.into();
    assert!(admit_body("openalpr", preview.to_string().as_bytes(), None)
        .unwrap()
        .is_empty());
}

#[test]
fn openalpr_frame_sequence_yields_one_read() {
    let frame = sample_json("openalpr_frame.json");
    let mut reads = Vec::new();
    for offset in 0..20 {
        let mut frame = frame.clone();
        frame["epoch_time"] = (1_709_294_400_123_i64 + offset * 66).into();
        reads.extend(admit_body("openalpr", frame.to_string().as_bytes(), None).unwrap());
    }
    reads.extend(admit("openalpr", "openalpr_group.json"));
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].read.plate.normalised, "7ABC123");
}

#[test]
fn openalpr_bad_bodies_name_the_field() {
    let mut no_camera = sample_json("openalpr_group.json");
    no_camera.as_object_mut().unwrap().remove("camera_id");
    let rejection = rejection_of("openalpr", no_camera);
    assert_eq!(
        (rejection.reason, rejection.field.as_str()),
        (RejectReason::Malformed, "camera_id")
    );

    let mut bad_confidence = sample_json("openalpr_group.json");
    bad_confidence["best_confidence"] = 150.into();
    assert_eq!(
        rejection_of("openalpr", bad_confidence).field,
        "best_confidence"
    );

    let mut unknown_type = sample_json("openalpr_group.json");
    unknown_type["data_type"] = "vehicle_sighting".into();
    assert_eq!(rejection_of("openalpr", unknown_type).field, "data_type");

    let rejection = admit_body("openalpr", b"[1,2]", None).unwrap_err();
    assert_eq!(
        (rejection.reason, rejection.field.as_str()),
        (RejectReason::Malformed, "body")
    );
}

// --- Plate Recognizer ---

#[test]
fn platerecognizer_snapshot_gives_a_read_per_result() {
    let reads = admit("platerecognizer", "platerecognizer_snapshot.json");
    assert_eq!(reads.len(), 2);
    let captured_at = micros("2024-03-01T12:00:00.123456Z");

    let first = &reads[0];
    assert_identity(
        first,
        "gate-west",
        "2024-03-01T12:00:00.123456Z/0",
        captured_at,
        "vendor-platerecognizer",
    );
    assert_plate(first, "nhk552", "NHK552", Some("US-CA"), Some(0.902));
    let vehicle = &first.read.vehicle;
    assert_attribute(&vehicle.vehicle_type, Some("sedan"), Some(0.81), "type");
    assert_attribute(&vehicle.make, Some("toyota"), Some(0.72), "make");
    assert_attribute(&vehicle.model, Some("camry"), Some(0.72), "model");
    assert_attribute(&vehicle.colour, Some("grey"), Some(0.64), "colour");
    assert_eq!(first.read.location, None);

    let second = &reads[1];
    assert_identity(
        second,
        "gate-west",
        "2024-03-01T12:00:00.123456Z/1",
        captured_at,
        "vendor-platerecognizer",
    );
    assert_plate(second, "7xyz999", "7XYZ999", Some("US-NV"), Some(0.85));
    assert_attribute(
        &second.read.vehicle.vehicle_type,
        Some("pickup"),
        Some(0.66),
        "type",
    );
    assert_attribute(&second.read.vehicle.colour, None, None, "colour");
}

#[test]
fn platerecognizer_stream_shape_is_detected() {
    let read = only(admit("platerecognizer", "platerecognizer_stream.json"));
    // Only timestamp_local, without an offset, so the camera's zone (Los Angeles) applies.
    assert_identity(
        &read,
        "gate-west",
        "2024-03-01 04:00:00/0",
        micros("2024-03-01T12:00:00Z"),
        "vendor-platerecognizer",
    );
    assert_plate(&read, "abc123", "ABC123", Some("US-TX"), Some(0.88));
    let vehicle = &read.read.vehicle;
    assert_attribute(&vehicle.vehicle_type, Some("suv"), Some(0.77), "type");
    assert_attribute(&vehicle.make, Some("ford"), Some(0.5), "make");
    assert_attribute(&vehicle.model, Some("explorer"), Some(0.5), "model");
    assert_attribute(&vehicle.colour, Some("black"), Some(0.66), "colour");
}

#[test]
fn platerecognizer_multipart_carries_the_upload() {
    let read = only(admit_multipart(
        "platerecognizer",
        "platerecognizer_multipart",
    ));
    assert_identity(
        &read,
        "gate-east",
        "2024-03-01T12:00:00Z/0",
        micros("2024-03-01T12:00:00Z"),
        "vendor-platerecognizer",
    );
    assert_plate(&read, "r2d2c3po", "R2D2C3PO", Some("US-OR"), Some(0.7));
    assert_image(&read, ImageMediaType::Png, PNG);
}

#[test]
fn platerecognizer_empty_results_and_bad_bodies() {
    assert!(admit("platerecognizer", "platerecognizer_empty.json").is_empty());

    let mut no_camera = sample_json("platerecognizer_snapshot.json");
    no_camera["data"]
        .as_object_mut()
        .unwrap()
        .remove("camera_id");
    assert_eq!(
        rejection_of("platerecognizer", no_camera).field,
        "data.camera_id"
    );

    let mut bad_score = sample_json("platerecognizer_snapshot.json");
    bad_score["data"]["results"][1]["score"] = 97.into();
    assert_eq!(
        rejection_of("platerecognizer", bad_score).field,
        "data.results[1].score"
    );

    let rejection = admit_body(
        "platerecognizer",
        b"--x\r\n",
        Some("multipart/form-data; boundary=x"),
    )
    .unwrap_err();
    assert_eq!(rejection.reason, RejectReason::Malformed);
}

// --- Genetec AutoVu ---

#[test]
fn genetec_maps_every_field() {
    let read = only(admit("genetec", "genetec_full.json"));
    assert_identity(
        &read,
        "autovu-unit7-cam2",
        "9f1c2b7e-3d4a-4f5e-8a6b-7c8d9e0f1a2b",
        micros("2024-03-01T12:00:00Z"),
        "vendor-genetec",
    );
    // A bare state code takes the configured default country.
    assert_plate(&read, "ABC 1234", "ABC1234", Some("US-WA"), Some(0.99));
    assert_eq!(
        read.read.location,
        Some(Location {
            latitude: 47.6097,
            longitude: -122.3331,
            heading: None
        })
    );
    let vehicle = &read.read.vehicle;
    assert_attribute(&vehicle.make, Some("chevrolet"), None, "make");
    assert_attribute(&vehicle.model, Some("malibu"), None, "model");
    assert_attribute(&vehicle.vehicle_type, Some("sedan"), None, "type");
    assert_attribute(&vehicle.colour, Some("grey"), None, "colour");
    // The context image is preferred over the plate image.
    assert_image(&read, ImageMediaType::Jpeg, JPEG);
}

#[test]
fn genetec_country_and_dash_placeholders() {
    let read = only(admit("genetec", "genetec_canada.json"));
    assert_identity(
        &read,
        "autovu-unit7-cam1",
        "12/31/2023 23:59:59 CDEF 123",
        micros("2023-12-31T23:59:59Z"),
        "vendor-genetec",
    );
    assert_plate(&read, "CDEF 123", "CDEF123", Some("CA-ON"), Some(0.87));
    assert_eq!(
        read.read.vehicle,
        Default::default(),
        "every attribute was -"
    );
    assert!(read.image.is_none());
}

#[test]
fn genetec_minimal_body() {
    let read = only(admit("genetec", "genetec_minimal.json"));
    assert_identity(
        &read,
        "Fixed cam 12",
        "03/01/2024 12:00:00.500 xyz789",
        micros("2024-03-01T12:00:00.5Z"),
        "vendor-genetec",
    );
    assert_plate(&read, "xyz789", "XYZ789", None, None);
    assert_eq!(read.read.location, None);
    assert_image(&read, ImageMediaType::Png, PNG);
}

#[test]
fn genetec_bad_bodies_name_the_field() {
    let mut iso_date = sample_json("genetec_full.json");
    iso_date["DateUtc"] = "2024-03-01".into();
    assert_eq!(rejection_of("genetec", iso_date).field, "DateUtc");

    let mut bad_latitude = sample_json("genetec_full.json");
    bad_latitude["Latitude"] = "47,6".into();
    assert_eq!(rejection_of("genetec", bad_latitude).field, "Latitude");

    let mut bad_image = sample_json("genetec_full.json");
    bad_image["ContextImage"] = "@@not base64@@".into();
    assert_eq!(rejection_of("genetec", bad_image).field, "ContextImage");

    // Out-of-range latitude parses but fails validation: 422, not 400.
    let mut far_north = sample_json("genetec_full.json");
    far_north["Latitude"] = "95.0".into();
    let rejection = rejection_of("genetec", far_north);
    assert_eq!(
        (rejection.reason, rejection.field.as_str()),
        (RejectReason::InvalidLocation, "location.latitude")
    );
}

// --- Axis ---

#[test]
fn axis_lost_event_maps_every_field() {
    let read = only(admit("axis", "axis_lost.json"));
    assert_identity(
        &read,
        "ACCC8E123456",
        "17@1709294400000",
        1_709_294_400_000_000,
        "vendor-axis",
    );
    assert_plate(&read, "ABC123", "ABC123", Some("US-WA"), Some(0.71));
    assert_eq!(
        read.read.location,
        Some(Location {
            latitude: 47.6097,
            longitude: -122.3331,
            heading: None
        })
    );
    let vehicle = &read.read.vehicle;
    assert_attribute(&vehicle.make, Some("volkswagen"), None, "make");
    assert_attribute(&vehicle.vehicle_type, Some("car"), None, "type");
    assert_attribute(&vehicle.colour, Some("white"), None, "colour");
    // No media type declared: recognised from the bytes.
    assert_image(&read, ImageMediaType::Jpeg, JPEG);
}

#[test]
fn axis_local_time_uses_the_camera_zone() {
    let read = only(admit("axis", "axis_lost_local_time.json"));
    assert_identity(
        &read,
        "ACCC8E654321",
        "3@20240301 040000",
        micros("2024-03-01T12:00:00Z"),
        "vendor-axis",
    );
    // SWE without a region gives no subdivision.
    assert_plate(&read, "ABC 987", "ABC987", None, Some(0.9));
}

#[test]
fn axis_single_event_mode() {
    let read = only(admit("axis", "axis_single_event.json"));
    assert_identity(
        &read,
        "lot-b-entry",
        "9@1709294400500",
        1_709_294_400_500_000,
        "vendor-axis",
    );
    // "Ontario" is a name, not a code, so the region stays unknown.
    assert_plate(&read, "CAND-42", "CAND42", None, Some(1.0));
    assert_attribute(&read.read.vehicle.vehicle_type, Some("truck"), None, "type");
    assert_attribute(&read.read.vehicle.colour, Some("red"), None, "colour");
}

#[test]
fn axis_car_sequence_yields_one_read_with_final_text() {
    let mut reads = Vec::new();
    for name in [
        "axis_new.json",
        "axis_update.json",
        "axis_update.json",
        "axis_lost.json",
    ] {
        reads.extend(admit("axis", name));
    }
    assert_eq!(reads.len(), 1);
    // The new event read ABC128; the lost event carries the final ABC123.
    assert_eq!(reads[0].read.plate.normalised, "ABC123");
}

#[test]
fn axis_bad_bodies_name_the_field() {
    let mut bad_state = sample_json("axis_lost.json");
    bad_state["carState"] = "gone".into();
    assert_eq!(rejection_of("axis", bad_state).field, "carState");

    let mut bad_confidence = sample_json("axis_lost.json");
    bad_confidence["plateConfidence"] = "high".into();
    assert_eq!(
        rejection_of("axis", bad_confidence).field,
        "plateConfidence"
    );

    let mut no_car = sample_json("axis_lost.json");
    no_car.as_object_mut().unwrap().remove("carID");
    assert_eq!(rejection_of("axis", no_car).field, "carID");
}

// --- Hikvision ---

#[test]
fn hikvision_anpr_maps_every_field() {
    let read = only(admit("hikvision", "hikvision_anpr.xml"));
    assert_identity(
        &read,
        "bc:ad:28:11:22:33:1",
        "1/2024-03-01T20:00:00+08:00/ABC1234",
        micros("2024-03-01T12:00:00Z"),
        "vendor-hikvision",
    );
    assert_plate(&read, "ABC1234", "ABC1234", None, Some(0.97));
    assert_attribute(&read.read.vehicle.colour, Some("grey"), None, "colour");
    assert_attribute(
        &read.read.vehicle.make,
        None,
        None,
        "logo index is not mapped",
    );
    assert!(read.image.is_none());
    assert!(!read.retransmission);
}

#[test]
fn hikvision_local_time_and_device_id() {
    let read = only(admit("hikvision", "hikvision_channel2.xml"));
    assert_identity(
        &read,
        "DS-2CD7A26G0-P-LZS-2024:2",
        "2/2024-03-01T04:00:00/DEF 5678",
        micros("2024-03-01T12:00:00Z"),
        "vendor-hikvision",
    );
    assert_plate(&read, "DEF 5678", "DEF5678", None, Some(0.64));
    assert_attribute(&read.read.vehicle.colour, Some("blue"), None, "colour");
}

#[test]
fn hikvision_multipart_keeps_the_scene_picture() {
    let read = only(admit_multipart("hikvision", "hikvision_multipart"));
    assert_identity(
        &read,
        "bc:ad:28:44:55:66:1",
        "1/2024-03-01T12:00:00Z/GHJ 4321",
        micros("2024-03-01T12:00:00Z"),
        "vendor-hikvision",
    );
    assert_plate(&read, "GHJ 4321", "GHJ4321", None, Some(0.88));
    assert_attribute(&read.read.vehicle.colour, Some("black"), None, "colour");
    assert_image(&read, ImageMediaType::Jpeg, JPEG_SCENE);
}

#[test]
fn hikvision_retransmission_repeats_the_read_id() {
    let original = only(admit("hikvision", "hikvision_anpr.xml"));
    // The resend carries a different UUID; the read id must not depend on it.
    let resent = only(admit("hikvision", "hikvision_retransmission.xml"));
    assert!(resent.retransmission);
    assert_eq!(resent.read.read_id, original.read.read_id);
}

#[test]
fn hikvision_other_events_and_bad_bodies() {
    assert!(admit("hikvision", "hikvision_videoloss.xml").is_empty());

    let text = String::from_utf8(sample("hikvision_anpr.xml")).unwrap();
    let bad_confidence = text.replace("<confidenceLevel>97<", "<confidenceLevel>high<");
    let rejection = admit_body("hikvision", bad_confidence.as_bytes(), None).unwrap_err();
    assert_eq!(rejection.field, "ANPR.confidenceLevel");

    let no_plate = text.replace("<licensePlate>ABC1234</licensePlate>", "");
    assert_eq!(
        admit_body("hikvision", no_plate.as_bytes(), None)
            .unwrap_err()
            .field,
        "ANPR.licensePlate"
    );

    let rejection = admit_body("hikvision", b"<html></html>", None).unwrap_err();
    assert_eq!(
        (rejection.reason, rejection.field.as_str()),
        (RejectReason::Malformed, "body")
    );
}

// --- Frigate ---

#[test]
fn frigate_end_event_maps_every_field() {
    let read = only(admit("frigate", "frigate_end.json"));
    assert_identity(
        &read,
        "driveway",
        "1709294399.812-x7k2p9",
        1_709_294_400_250_000,
        "vendor-frigate",
    );
    assert_plate(&read, "ABC 123", "ABC123", None, Some(0.91));
    assert_attribute(
        &read.read.vehicle.vehicle_type,
        Some("car"),
        Some(0.82),
        "type",
    );
    assert_eq!(read.read.location, None);
    assert!(read.image.is_none());
}

#[test]
fn frigate_lower_case_plate_without_score() {
    let read = only(admit("frigate", "frigate_end_motorcycle.json"));
    assert_identity(
        &read,
        "back_alley",
        "1709294500.100-m0t0rc",
        1_709_294_500_500_000,
        "vendor-frigate",
    );
    assert_plate(&read, "xyz-789", "XYZ789", None, None);
    assert_attribute(
        &read.read.vehicle.vehicle_type,
        Some("motorcycle"),
        Some(0.7),
        "type",
    );
}

#[test]
fn frigate_object_without_plate_gives_no_read() {
    assert!(admit("frigate", "frigate_end_person.json").is_empty());
}

#[test]
fn frigate_event_sequence_yields_one_read() {
    let mut reads = Vec::new();
    for name in [
        "frigate_new.json",
        "frigate_update.json",
        "frigate_update.json",
        "frigate_end.json",
    ] {
        reads.extend(admit("frigate", name));
    }
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].read.plate.normalised, "ABC123");
}

#[test]
fn frigate_bad_bodies_name_the_field() {
    let mut bad_type = sample_json("frigate_end.json");
    bad_type["type"] = "finished".into();
    assert_eq!(rejection_of("frigate", bad_type).field, "type");

    let mut bad_time = sample_json("frigate_end.json");
    bad_time["after"]["frame_time"] = "yesterday".into();
    assert_eq!(rejection_of("frigate", bad_time).field, "after.frame_time");

    let mut no_after = sample_json("frigate_end.json");
    no_after.as_object_mut().unwrap().remove("after");
    assert_eq!(rejection_of("frigate", no_after).field, "after");
}
