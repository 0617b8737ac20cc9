//! Parsing of the JSON form in which cameras and relays submit reads. The types themselves live
//! in `alpr_schemas::submission`, shared with the vendor adapters, and are re-exported here.

pub use alpr_schemas::submission::{
    ReadSubmission, SubmittedAttribute, SubmittedImage, SubmittedLocation, SubmittedPlate,
    SubmittedVehicle,
};

/// Parses one JSON read, naming the path of the offending field in the error.
pub fn parse_submission(bytes: &[u8]) -> Result<ReadSubmission, crate::validate::Rejection> {
    let text = std::str::from_utf8(bytes).map_err(|error| {
        crate::validate::Rejection::malformed(
            "body",
            format!("invalid UTF-8 at byte {}", error.valid_up_to()),
        )
    })?;
    let first = text.trim_start().chars().next();
    if first != Some('{') {
        let found = match first {
            None => "nothing",
            Some('[') => "an array",
            Some(_) => "a value that is not an object",
        };
        return Err(crate::validate::Rejection::malformed(
            "body",
            format!("expected one JSON object per read, found {found}"),
        ));
    }
    // A read has no JSON arrays, so text without `[` cannot put an array in place of an object
    // and goes straight into the typed form. Anything else, and every error, takes the slower
    // path through a JSON value, which checks for arrays and names the failing field.
    if !text.contains('[') {
        if let Ok(submission) = serde_json::from_str(text) {
            return Ok(submission);
        }
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|error| {
        crate::validate::Rejection::malformed("body", format!("invalid JSON: {error}"))
    })?;
    reject_arrays_for_objects(&value)?;
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let field = if path == "." {
            "body".to_string()
        } else {
            path
        };
        crate::validate::Rejection::malformed(field, error.into_inner().to_string())
    })
}

/// Paths of the nested objects of a read. Serde accepts a JSON array in place of a struct (as
/// its fields in order), which would silently read `"plate": ["7ABC123"]` as a plate, so these
/// are checked to be objects first.
const OBJECT_FIELDS: [&str; 8] = [
    "/location",
    "/image",
    "/plate",
    "/vehicle",
    "/vehicle/make",
    "/vehicle/model",
    "/vehicle/type",
    "/vehicle/colour",
];

fn reject_arrays_for_objects(value: &serde_json::Value) -> Result<(), crate::validate::Rejection> {
    for pointer in OBJECT_FIELDS {
        if let Some(found @ serde_json::Value::Array(_)) = value.pointer(pointer) {
            let field = pointer.trim_start_matches('/').replace('/', ".");
            return Err(crate::validate::Rejection::malformed(
                field,
                format!("expected a JSON object, found an array {found}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_for_plate_is_rejected() {
        let rejection = parse_submission(br#"{"camera_id":"c1","plate":["7ABC123"]}"#)
            .expect_err("an array is not a plate");
        assert_eq!(rejection.field, "plate");
        assert!(rejection.message.contains("found an array"), "{rejection}");
    }

    #[test]
    fn bracket_in_text_takes_the_checked_path() {
        let submission = parse_submission(br#"{"camera_id":"cam[2]","plate":{"text":"7ABC123"}}"#)
            .expect("brackets inside strings are text");
        assert_eq!(submission.camera_id.as_deref(), Some("cam[2]"));
    }

    #[test]
    fn fast_and_checked_paths_agree() {
        let body = r#"{"camera_id":"c1","event_id":"e9","captured_at":"2026-12-05T01:02:03Z",
            "location":{"latitude":47.6,"longitude":-122.3,"heading":90.0},
            "plate":{"text":"7abc-123","region":"US-WA","confidence":0.9},
            "vehicle":{"make":{"value":"Toyota","confidence":0.8},"colour":{"value":"grey"}}}"#;
        let fast = parse_submission(body.as_bytes()).expect("valid read");
        let value: serde_json::Value = serde_json::from_str(body).expect("valid JSON");
        let checked: ReadSubmission = serde_json::from_value(value).expect("valid read");
        assert_eq!(fast, checked);
    }

    #[test]
    fn misspelt_field_is_named() {
        let rejection = parse_submission(br#"{"camera_id":"c1","plate":{"txt":"7ABC123"}}"#)
            .expect_err("unknown field");
        assert_eq!(rejection.field, "plate.txt");
        assert!(rejection.message.contains("txt"), "{rejection}");
    }
}
