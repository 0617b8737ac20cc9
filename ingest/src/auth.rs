//! Per-camera bearer tokens. A token belongs to one organisation and names the cameras it may
//! send for; `*` lets a relay send for every camera of its organisation.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

/// One token as configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraToken {
    /// The secret the camera sends as `Authorization: Bearer <token>`.
    pub token: String,
    /// Organisation that owns the cameras; it becomes the reads' `organisation_id`.
    pub organisation: String,
    /// Camera ids the token may send for; `*` allows any camera of the organisation.
    pub cameras: Vec<String>,
}

/// Outcome of checking a request's credentials for one camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access<'a> {
    Granted {
        organisation: &'a str,
    },
    /// No token, or one that is not configured.
    Unauthenticated,
    /// A valid token that does not own the camera.
    Forbidden,
}

/// Tokens indexed for lookup on every request.
#[derive(Debug, Default)]
pub struct TokenTable {
    by_token: HashMap<String, TokenGrant>,
}

#[derive(Debug)]
struct TokenGrant {
    organisation: String,
    any_camera: bool,
    cameras: HashSet<String>,
}

impl TokenTable {
    pub fn new(tokens: &[CameraToken]) -> Self {
        let by_token = tokens
            .iter()
            .map(|token| {
                let grant = TokenGrant {
                    organisation: token.organisation.clone(),
                    any_camera: token.cameras.iter().any(|camera| camera == "*"),
                    cameras: token.cameras.iter().cloned().collect(),
                };
                (token.token.clone(), grant)
            })
            .collect();
        Self { by_token }
    }

    /// Returns whether `token` is known at all.
    pub fn is_known(&self, token: Option<&str>) -> bool {
        token.is_some_and(|token| self.by_token.contains_key(token))
    }

    /// Checks whether `token` may send reads for `camera_id`.
    pub fn check(&self, token: Option<&str>, camera_id: &str) -> Access<'_> {
        let Some(grant) = token.and_then(|token| self.by_token.get(token)) else {
            return Access::Unauthenticated;
        };
        if grant.any_camera || grant.cameras.contains(camera_id) {
            Access::Granted {
                organisation: &grant.organisation,
            }
        } else {
            Access::Forbidden
        }
    }
}

/// Extracts the token from an `Authorization: Bearer …` header value.
pub fn bearer_token(header: Option<&str>) -> Option<&str> {
    let value = header?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// Extracts the token from an `Authorization` header of the vendor endpoints, which take
/// `Bearer …` as well as `Token …`, the scheme Plate Recognizer's webhooks send.
pub fn camera_token(header: Option<&str>) -> Option<&str> {
    let value = header?.trim();
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> TokenTable {
        TokenTable::new(&[
            CameraToken {
                token: "north-secret".into(),
                organisation: "spd".into(),
                cameras: vec!["cam-1".into(), "cam-2".into()],
            },
            CameraToken {
                token: "relay-secret".into(),
                organisation: "hoa".into(),
                cameras: vec!["*".into()],
            },
        ])
    }

    #[test]
    fn owned_camera_is_granted() {
        assert_eq!(
            table().check(Some("north-secret"), "cam-2"),
            Access::Granted {
                organisation: "spd"
            }
        );
    }

    #[test]
    fn other_camera_is_forbidden() {
        assert_eq!(
            table().check(Some("north-secret"), "cam-3"),
            Access::Forbidden
        );
    }

    #[test]
    fn unknown_token_is_unauthenticated() {
        assert_eq!(
            table().check(Some("guess"), "cam-1"),
            Access::Unauthenticated
        );
        assert_eq!(table().check(None, "cam-1"), Access::Unauthenticated);
    }

    #[test]
    fn wildcard_grants_any_camera() {
        assert_eq!(
            table().check(Some("relay-secret"), "gate-7"),
            Access::Granted {
                organisation: "hoa"
            }
        );
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token(Some("bearer abc")), Some("abc"));
        assert_eq!(bearer_token(Some("Bearer  abc ")), Some("abc"));
        assert_eq!(bearer_token(Some("Basic abc")), None);
        assert_eq!(bearer_token(Some("Bearer")), None);
    }

    #[test]
    fn vendor_endpoints_take_token_scheme() {
        assert_eq!(camera_token(Some("Token abc")), Some("abc"));
        assert_eq!(camera_token(Some("Bearer abc")), Some("abc"));
        assert_eq!(camera_token(Some("Basic abc")), None);
        assert_eq!(bearer_token(Some("Token abc")), None);
    }
}
