//! Who is asking, and what they may do: bearer tokens are looked up in the registry, roles
//! decide which endpoints a user may call, and the registry's sharing grants decide the scope of
//! reads they may see.

use std::collections::BTreeSet;

use axum::http::{header, HeaderMap};

use alpr_registry::{Registry, SharedRegistry};
use alpr_schemas::UserRole;

use crate::query::{Place, Scope};
use crate::service::error::ApiError;

/// An authenticated user with the scope of reads they may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub organisation_id: String,
    pub role: UserRole,
    pub scope: Scope,
}

/// Action a request performs, for the role check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Search, export and hold reads.
    SearchReads,
    /// Read the audit log and its report.
    ReadAudit,
}

impl Permission {
    fn describe(self) -> &'static str {
        match self {
            Self::SearchReads => "search reads",
            Self::ReadAudit => "read the audit log",
        }
    }
}

/// Returns whether `role` may do `permission`. Auditors check what others did with reads but
/// never see reads themselves; administrators manage the registry and see neither.
pub fn role_allows(role: UserRole, permission: Permission) -> bool {
    match permission {
        Permission::SearchReads => matches!(role, UserRole::Investigator | UserRole::Supervisor),
        Permission::ReadAudit => matches!(role, UserRole::Auditor),
    }
}

/// Authenticates the request's bearer token and checks that its user may do `permission`:
/// 401 without a known token, 403 for a role that may not.
pub fn authorise(
    registry: &SharedRegistry,
    headers: &HeaderMap,
    permission: Permission,
) -> Result<Principal, ApiError> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let Some(token) = alpr_registry::token::bearer_token(header) else {
        return Err(ApiError::unauthenticated(
            "send a user token as `Authorization: Bearer <token>`",
        ));
    };
    let registry = read_registry(registry);
    let Some(user) = registry.user_by_token(token) else {
        return Err(ApiError::unauthenticated(
            "the token is not valid: unknown, or its user was removed",
        ));
    };
    if !role_allows(user.role, permission) {
        return Err(ApiError::forbidden(format!(
            "the {} role may not {}",
            user.role,
            permission.describe()
        )));
    }
    let organisation_ids = registry.visible_organisations(&user.organisation_id);
    Ok(Principal {
        user_id: user.user_id.clone(),
        organisation_id: user.organisation_id.clone(),
        role: user.role,
        scope: Scope {
            organisation_ids,
            camera_ids: BTreeSet::new(),
        },
    })
}

/// Refuses a place that names a registered camera outside the caller's scope. The scope clause
/// would return nothing from such a camera anyway; the 403 tells the investigator why, instead
/// of an empty result they might take for "the car was not there".
pub fn check_place_in_scope(
    registry: &SharedRegistry,
    principal: &Principal,
    field: &str,
    place: Option<&Place>,
) -> Result<(), ApiError> {
    let Some(Place::Cameras { camera_ids }) = place else {
        return Ok(());
    };
    let registry = read_registry(registry);
    let outside: Vec<&str> = camera_ids
        .iter()
        .filter(|camera_id| {
            registry.camera(camera_id).is_some_and(|camera| {
                !principal
                    .scope
                    .organisation_ids
                    .contains(&camera.organisation_id)
            })
        })
        .map(String::as_str)
        .collect();
    if outside.is_empty() {
        return Ok(());
    }
    Err(ApiError::forbidden_field(
        field,
        format!(
            "your organisation has no access to the reads of camera {}",
            outside.join(", ")
        ),
    ))
}

/// Locks the registry for reading. A follower thread that panicked while writing leaves the
/// last state it wrote, which is still the best answer available.
fn read_registry(registry: &SharedRegistry) -> std::sync::RwLockReadGuard<'_, Registry> {
    registry
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
