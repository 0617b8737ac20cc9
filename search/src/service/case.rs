//! The case a request is made for. Every search, export and hold names an official case and a
//! purpose from the deployment's list; both go into the audit event, and the transparency report
//! counts searches by purpose.

use serde::{Deserialize, Serialize};

use crate::query::RequestError;

/// The case fields as a request carries them. Both are optional here so that a request missing
/// them is answered with an error naming what is missing, not a generic parse failure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFields {
    #[serde(default)]
    pub case_number: Option<String>,
    #[serde(default)]
    pub purpose: Option<String>,
}

/// A checked case number and purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseContext {
    pub case_number: String,
    pub purpose: String,
}

/// Maximum case number length. Agencies' numbers are short, and the value is logged and audited.
const MAX_CASE_NUMBER_LENGTH: usize = 64;

impl CaseFields {
    /// Checks that a case number is given and the purpose is one of `purposes`. When both are
    /// missing, the error names both.
    pub fn check(&self, purposes: &[String]) -> Result<CaseContext, RequestError> {
        let case_number = self.case_number.as_deref().map(str::trim).unwrap_or("");
        let purpose = self.purpose.as_deref().map(str::trim).unwrap_or("");
        match (case_number.is_empty(), purpose.is_empty()) {
            (true, true) => {
                return Err(RequestError::new(
                    "case_number, purpose",
                    "both are required: every search is made for a case and a stated purpose",
                ))
            }
            (true, false) => {
                return Err(RequestError::new(
                    "case_number",
                    "is required: every search is made for a case",
                ))
            }
            (false, true) => {
                return Err(RequestError::new(
                    "purpose",
                    format!("is required; one of: {}", purposes.join(", ")),
                ))
            }
            (false, false) => {}
        }
        if case_number.chars().count() > MAX_CASE_NUMBER_LENGTH
            || case_number.chars().any(char::is_control)
        {
            return Err(RequestError::new(
                "case_number",
                format!(
                    "must be at most {MAX_CASE_NUMBER_LENGTH} characters without control characters"
                ),
            ));
        }
        let Some(purpose) = purposes
            .iter()
            .find(|allowed| allowed.eq_ignore_ascii_case(purpose))
        else {
            return Err(RequestError::new(
                "purpose",
                format!(
                    "{purpose:?} is not an allowed purpose; one of: {}",
                    purposes.join(", ")
                ),
            ));
        };
        Ok(CaseContext {
            case_number: case_number.to_string(),
            purpose: purpose.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purposes() -> Vec<String> {
        vec!["stolen vehicle".into(), "homicide".into()]
    }

    fn fields(case_number: Option<&str>, purpose: Option<&str>) -> CaseFields {
        CaseFields {
            case_number: case_number.map(str::to_string),
            purpose: purpose.map(str::to_string),
        }
    }

    #[test]
    fn missing_fields_are_named() {
        let both = fields(None, Some(" ")).check(&purposes()).unwrap_err();
        assert_eq!(both.field, "case_number, purpose");
        let case = fields(None, Some("homicide"))
            .check(&purposes())
            .unwrap_err();
        assert_eq!(case.field, "case_number");
        let purpose = fields(Some("2026-1"), None).check(&purposes()).unwrap_err();
        assert_eq!(purpose.field, "purpose");
        assert!(purpose.message.contains("stolen vehicle, homicide"));
    }

    #[test]
    fn purpose_must_be_listed() {
        let error = fields(Some("2026-1"), Some("curiosity"))
            .check(&purposes())
            .unwrap_err();
        assert_eq!(error.field, "purpose");
        assert!(error.message.contains("\"curiosity\""), "{error}");
        let case = fields(Some(" 2026-1 "), Some("Homicide"))
            .check(&purposes())
            .unwrap();
        assert_eq!(
            case,
            CaseContext {
                case_number: "2026-1".into(),
                purpose: "homicide".into()
            }
        );
    }

    #[test]
    fn case_number_without_control_characters() {
        let error = fields(Some("2026\n1"), Some("homicide"))
            .check(&purposes())
            .unwrap_err();
        assert_eq!(error.field, "case_number");
    }
}
