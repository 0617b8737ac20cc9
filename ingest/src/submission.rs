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
