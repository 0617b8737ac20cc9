//! Reading fields out of vendors' JSON, which is loose about types: numbers arrive as strings,
//! ids as numbers, and unknown values as `"-"` or `""`.

use serde_json::Value;

use crate::VendorError;

/// Parses a body as one JSON object, naming the problem when it is not one.
pub(crate) fn parse_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, VendorError> {
    crate::check_body_size(body)?;
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| VendorError::new("body", format!("invalid JSON: {error}")))?;
    match value {
        Value::Object(object) => Ok(object),
        other => Err(VendorError::new(
            "body",
            format!("expected a JSON object, found {}", kind_of(&other)),
        )),
    }
}

pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Returns a field's text: a string as it is, a number in its decimal form. Empty text and the
/// placeholders vendors use for "unknown" (`-`, `unknown`, `none`, `null`) count as absent.
pub(crate) fn text(value: Option<&Value>, field: &str) -> Result<Option<String>, VendorError> {
    let text = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) => text.trim().to_string(),
        Some(Value::Number(number)) => number.to_string(),
        Some(other) => {
            return Err(VendorError::new(
                field,
                format!("expected text, found {}", kind_of(other)),
            ))
        }
    };
    if is_placeholder(&text) {
        Ok(None)
    } else {
        Ok(Some(text))
    }
}

/// Returns whether a vendor value means "unknown" rather than a value.
pub(crate) fn is_placeholder(text: &str) -> bool {
    let text = text.trim();
    text.is_empty()
        || text == "-"
        || ["unknown", "none", "null", "n/a"]
            .iter()
            .any(|placeholder| text.eq_ignore_ascii_case(placeholder))
}

/// Returns a field's number, accepting a JSON number or a decimal string such as `"0.71"`.
pub(crate) fn number(value: Option<&Value>, field: &str) -> Result<Option<f64>, VendorError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => number
            .as_f64()
            .map(Some)
            .ok_or_else(|| VendorError::new(field, format!("{number} is not a usable number"))),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => match text.trim().parse::<f64>() {
            Ok(number) if number.is_finite() => Ok(Some(number)),
            _ => Err(VendorError::new(field, format!("{text:?} is not a number"))),
        },
        Some(other) => Err(VendorError::new(
            field,
            format!("expected a number, found {}", kind_of(other)),
        )),
    }
}

/// Returns a field's boolean, accepting `true`/`false` as JSON or as text.
pub(crate) fn boolean(value: Option<&Value>, field: &str) -> Result<Option<bool>, VendorError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(Value::String(text)) if text.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(text)) if text.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(VendorError::new(
            field,
            format!("expected true or false, found {other}"),
        )),
    }
}

/// Returns a field that must be an object, or `None` when absent.
pub(crate) fn object<'a>(
    value: Option<&'a Value>,
    field: &str,
) -> Result<Option<&'a serde_json::Map<String, Value>>, VendorError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(object)) => Ok(Some(object)),
        Some(other) => Err(VendorError::new(
            field,
            format!("expected an object, found {}", kind_of(other)),
        )),
    }
}

/// Returns a field that must be an array, or an empty slice when absent.
pub(crate) fn array<'a>(value: Option<&'a Value>, field: &str) -> Result<&'a [Value], VendorError> {
    match value {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(VendorError::new(
            field,
            format!("expected an array, found {}", kind_of(other)),
        )),
    }
}

/// Rescales a confidence to 0–1. `scale` is the vendor's maximum (1 or 100). A value outside
/// the vendor's range is an error naming the field, since rescaling would hide it.
pub(crate) fn confidence(value: f64, scale: f64, field: &str) -> Result<f32, VendorError> {
    if !(0.0..=scale).contains(&value) {
        return Err(VendorError::new(
            field,
            format!("{value} is out of range (0 to {scale})"),
        ));
    }
    Ok((value / scale) as f32)
}

/// Decodes a base64 image field (standard alphabet, padding optional).
pub(crate) fn base64_image(text: &str, field: &str) -> Result<bytes::Bytes, VendorError> {
    use base64::Engine;
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let cleaned: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    engine
        .decode(cleaned)
        .map(bytes::Bytes::from)
        .map_err(|error| VendorError::new(field, format!("invalid base64: {error}")))
}

/// Builds a vehicle attribute from a value already in the vocabulary.
pub(crate) fn attribute(
    value: Option<String>,
    confidence: Option<f32>,
) -> Option<alpr_schemas::submission::SubmittedAttribute> {
    value.map(|value| alpr_schemas::submission::SubmittedAttribute { value, confidence })
}

/// Builds the vehicle of a submission, or `None` when no attribute is known.
pub(crate) fn vehicle(
    make: Option<alpr_schemas::submission::SubmittedAttribute>,
    model: Option<alpr_schemas::submission::SubmittedAttribute>,
    vehicle_type: Option<alpr_schemas::submission::SubmittedAttribute>,
    colour: Option<alpr_schemas::submission::SubmittedAttribute>,
) -> Option<alpr_schemas::submission::SubmittedVehicle> {
    if make.is_none() && model.is_none() && vehicle_type.is_none() && colour.is_none() {
        return None;
    }
    Some(alpr_schemas::submission::SubmittedVehicle {
        make,
        model,
        vehicle_type,
        colour,
    })
}

/// Builds a location from optional coordinates. Both are needed. Several vendors send `0, 0`
/// when the camera has no GPS fix, so that pair counts as absent.
pub(crate) fn location(
    latitude: Option<f64>,
    longitude: Option<f64>,
) -> Option<alpr_schemas::submission::SubmittedLocation> {
    match (latitude, longitude) {
        (Some(latitude), Some(longitude)) if latitude != 0.0 || longitude != 0.0 => {
            Some(alpr_schemas::submission::SubmittedLocation {
                latitude,
                longitude,
                heading: None,
            })
        }
        _ => None,
    }
}
