//! Per-camera bearer tokens. A token belongs to one organisation and names the cameras it may
//! send for; `*` lets a relay send for every camera of its organisation.
//!
//! Tokens come from two places: `[[ingest.tokens]]` in the configuration, and the registry,
//! where `alpr admin camera add` issues one token per camera.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use alpr_registry::SharedRegistry;

/// One token as configured. Configured tokens are the fallback for set-ups without a registry,
/// such as tests and the demo; a registered camera's token works alongside them.
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
        organisation: Cow<'a, str>,
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
    /// Registered cameras and their token hashes, kept current by a follower; `None` when only
    /// configured tokens count.
    registry: Option<SharedRegistry>,
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
        Self {
            by_token,
            registry: None,
        }
    }

    /// Accepts, besides the configured tokens, the token of every camera in `registry`, for
    /// that camera only.
    pub fn with_registry(mut self, registry: SharedRegistry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Returns whether `token` is known at all.
    pub fn is_known(&self, token: Option<&str>) -> bool {
        let Some(token) = token else {
            return false;
        };
        self.by_token.contains_key(token) || self.registered_camera(token).is_some()
    }

    /// Checks whether `token` may send reads for `camera_id`. A configured token is looked up
    /// first, then the registry.
    pub fn check(&self, token: Option<&str>, camera_id: &str) -> Access<'_> {
        let Some(token) = token else {
            return Access::Unauthenticated;
        };
        if let Some(grant) = self.by_token.get(token) {
            return if grant.any_camera || grant.cameras.contains(camera_id) {
                Access::Granted {
                    organisation: Cow::Borrowed(&grant.organisation),
                }
            } else {
                Access::Forbidden
            };
        }
        match self.registered_camera(token) {
            Some((registered_id, organisation)) if registered_id == camera_id => Access::Granted {
                organisation: Cow::Owned(organisation),
            },
            Some(_) => Access::Forbidden,
            None => Access::Unauthenticated,
        }
    }

    /// Returns the id and owner of the registered camera whose token is `token`.
    fn registered_camera(&self, token: &str) -> Option<(String, String)> {
        let registry = self.registry.as_ref()?;
        // `Registry::apply` changes whole entries only, so a registry whose lock a panicking
        // writer poisoned is still consistent.
        let registry = registry
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let camera = registry.camera_by_token(token)?;
        Some((camera.camera_id.clone(), camera.organisation_id.clone()))
    }
}

pub use alpr_registry::token::bearer_token;

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
                organisation: "spd".into()
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
                organisation: "hoa".into()
            }
        );
    }

    /// A table without configured tokens whose registry has camera `gate-1` of `hoa`.
    fn registry_table(token: &str) -> TokenTable {
        let record = alpr_schemas::RegistryRecord {
            camera: Some(alpr_schemas::Camera {
                camera_id: "gate-1".into(),
                organisation_id: "hoa".into(),
                name: "north gate".into(),
                latitude: 47.6,
                longitude: -122.3,
                token_hash: alpr_registry::hash_token(token),
            }),
            ..alpr_schemas::RegistryRecord::default()
        };
        let bytes = alpr_schemas::encode(&record).expect("encode");
        let registry = SharedRegistry::default();
        registry
            .write()
            .expect("fresh lock")
            .apply("camera:gate-1", Some(&bytes))
            .expect("apply");
        TokenTable::new(&[]).with_registry(registry)
    }

    #[test]
    fn registered_token_owns_its_camera_only() {
        let table = registry_table("alpr_camera_gate");
        assert!(table.is_known(Some("alpr_camera_gate")));
        assert_eq!(
            table.check(Some("alpr_camera_gate"), "gate-1"),
            Access::Granted {
                organisation: "hoa".into()
            }
        );
        assert_eq!(
            table.check(Some("alpr_camera_gate"), "gate-2"),
            Access::Forbidden
        );
        assert!(!table.is_known(Some("alpr_camera_other")));
        assert_eq!(
            table.check(Some("alpr_camera_other"), "gate-1"),
            Access::Unauthenticated
        );
    }

    #[test]
    fn vendor_endpoints_take_token_scheme() {
        assert_eq!(camera_token(Some("Token abc")), Some("abc"));
        assert_eq!(camera_token(Some("Bearer abc")), Some("abc"));
        assert_eq!(camera_token(Some("Basic abc")), None);
        assert_eq!(bearer_token(Some("Token abc")), None);
    }
}
