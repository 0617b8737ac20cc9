//! Request bodies of the case-bound endpoints: a JSON object with `case_number`, `purpose` and
//! the endpoint's own fields.
//!
//! The case is checked before anything else, so a request without one is answered with the
//! missing field named, whatever else is wrong with it.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::service::case::{CaseContext, CaseFields};
use crate::service::error::ApiError;

/// A parsed body whose case is checked; the other fields are taken out one by one.
#[derive(Debug)]
pub struct CaseBoundBody {
    pub case: CaseContext,
    fields: Map<String, Value>,
}

const CASE_FIELDS: [&str; 2] = ["case_number", "purpose"];

impl CaseBoundBody {
    /// Parses `bytes` as a JSON object that may hold only the case fields and `allowed`, and
    /// checks its case against `purposes`.
    pub fn parse(bytes: &[u8], allowed: &[&str], purposes: &[String]) -> Result<Self, ApiError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|error| ApiError::bad_request("body", format!("is not JSON: {error}")))?;
        let Value::Object(mut fields) = value else {
            return Err(ApiError::bad_request("body", "must be a JSON object"));
        };
        if let Some(unknown) = fields
            .keys()
            .find(|key| !CASE_FIELDS.contains(&key.as_str()) && !allowed.contains(&key.as_str()))
        {
            return Err(ApiError::bad_request(
                unknown.clone(),
                format!(
                    "is not a field of this request; expected {}",
                    CASE_FIELDS
                        .iter()
                        .chain(allowed)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let case = CaseFields {
            case_number: take_text(&mut fields, "case_number")?,
            purpose: take_text(&mut fields, "purpose")?,
        }
        .check(purposes)
        .map_err(|error| ApiError::bad_request(error.field, error.message))?;
        Ok(Self { case, fields })
    }

    /// Takes a required field.
    pub fn take<T: DeserializeOwned>(&mut self, name: &str) -> Result<T, ApiError> {
        let value = self
            .fields
            .remove(name)
            .ok_or_else(|| ApiError::bad_request(name, "is required"))?;
        deserialize_field(name, value)
    }

    /// Takes an optional field; `null` counts as absent.
    pub fn take_optional<T: DeserializeOwned>(
        &mut self,
        name: &str,
    ) -> Result<Option<T>, ApiError> {
        match self.fields.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => deserialize_field(name, value).map(Some),
        }
    }
}

fn take_text(fields: &mut Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match fields.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(ApiError::bad_request(name, "must be a string")),
    }
}

/// Deserializes one field, naming the path inside it that failed, such as `query.window.to`.
fn deserialize_field<T: DeserializeOwned>(name: &str, value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let field = if path == "." {
            name.to_string()
        } else {
            format!("{name}.{path}")
        };
        ApiError::bad_request(field, error.into_inner().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::SearchRequest;

    fn purposes() -> Vec<String> {
        vec!["stolen vehicle".into()]
    }

    #[test]
    fn case_is_checked_first() {
        let error = CaseBoundBody::parse(br#"{"query": 5}"#, &["query"], &purposes()).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("case_number, purpose"));
        let error = CaseBoundBody::parse(
            br#"{"case_number": 7, "purpose": "stolen vehicle"}"#,
            &["query"],
            &purposes(),
        )
        .unwrap_err();
        assert_eq!(error.field.as_deref(), Some("case_number"));
        assert_eq!(error.message, "must be a string");
    }

    #[test]
    fn unknown_fields_are_named() {
        let error = CaseBoundBody::parse(
            br#"{"case_number": "1", "purpose": "stolen vehicle", "qurey": {}}"#,
            &["query"],
            &purposes(),
        )
        .unwrap_err();
        assert_eq!(error.field.as_deref(), Some("qurey"));
        assert!(error.message.contains("case_number, purpose, query"));
    }

    #[test]
    fn nested_errors_carry_their_path() {
        let mut body = CaseBoundBody::parse(
            br#"{"case_number": "1", "purpose": "stolen vehicle",
                 "query": {"window": {"from": "2026-01-01T00:00:00Z", "to": "yesterday"}}}"#,
            &["query"],
            &purposes(),
        )
        .unwrap();
        let error = body.take::<SearchRequest>("query").unwrap_err();
        assert_eq!(error.field.as_deref(), Some("query.window.to"));

        let mut body = CaseBoundBody::parse(
            br#"{"case_number": "1", "purpose": "stolen vehicle"}"#,
            &["query"],
            &purposes(),
        )
        .unwrap();
        let error = body.take::<SearchRequest>("query").unwrap_err();
        assert_eq!(error.field.as_deref(), Some("query"));
        assert_eq!(error.message, "is required");
    }
}
