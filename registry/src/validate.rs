//! Checks of every change against the current registry and the configured jurisdiction rules.
//! The admin functions run them before publishing, so the topic only receives changes that
//! passed. Each error names the field or the rule and the problem.

use serde::{Deserialize, Serialize};

use alpr_schemas::{Camera, Organisation, OrganisationLevel, SharingGrant, User};

use crate::{Registry, RegistryError};

/// Maximum id length in bytes, so ids stay readable in keys, logs and listings.
const MAX_ID_LEN: usize = 64;

/// Settings of the registry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrySettings {
    /// Laws and policies that limit which agencies may receive an owner's reads. Each new grant
    /// is checked against every rule; none are configured by default.
    pub jurisdiction_rules: Vec<JurisdictionRule>,
}

/// A limit on sharing that applies to owners in one state, such as a state law that lets its
/// agencies' ALPR data go only to public agencies of the same state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JurisdictionRule {
    /// Name that a rejected grant's error shows, such as `california-sb34`.
    pub name: String,
    /// ISO 3166-2 region of the owners the rule applies to, such as `US-CA`.
    pub owner_state: String,
    /// Whether the grantee must be in the owner's state.
    #[serde(default)]
    pub grantee_same_state: bool,
    /// Levels of agency that never receive these owners' reads, such as `["federal"]`.
    #[serde(default)]
    pub forbidden_grantee_levels: Vec<OrganisationLevel>,
}

fn invalid(field: &'static str, problem: impl Into<String>) -> RegistryError {
    RegistryError::Invalid {
        field,
        problem: problem.into(),
    }
}

/// Checks that `value` is a usable id: non-empty, at most 64 characters, lowercase ASCII
/// letters, digits, `-`, `_` and `.` only. A colon would make topic keys ambiguous.
pub fn check_id(field: &'static str, value: &str) -> Result<(), RegistryError> {
    if value.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if value.len() > MAX_ID_LEN {
        return Err(invalid(
            field,
            format!("{value:?} is longer than {MAX_ID_LEN} characters"),
        ));
    }
    if let Some(bad) = value.chars().find(|character| {
        !(character.is_ascii_lowercase()
            || character.is_ascii_digit()
            || matches!(character, '-' | '_' | '.'))
    }) {
        return Err(invalid(
            field,
            format!("{value:?} contains {bad:?}; use lowercase letters, digits, '-', '_' and '.'"),
        ));
    }
    Ok(())
}

fn check_text(field: &'static str, value: &str) -> Result<(), RegistryError> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    Ok(())
}

/// Checks an ISO 3166-2 subdivision code by its shape: two upper-case letters, a hyphen and one
/// to three letters or digits (`US-CA`, `GB-LND`). Whether the subdivision exists is not checked.
fn check_region(field: &'static str, value: &str) -> Result<(), RegistryError> {
    let shaped = value.split_once('-').is_some_and(|(country, subdivision)| {
        country.len() == 2
            && country.chars().all(|c| c.is_ascii_uppercase())
            && (1..=3).contains(&subdivision.len())
            && subdivision
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    });
    if !shaped {
        return Err(invalid(
            field,
            format!("{value:?} is not an ISO 3166-2 region such as US-CA"),
        ));
    }
    Ok(())
}

fn require_organisation<'r>(
    registry: &'r Registry,
    field: &'static str,
    organisation_id: &str,
) -> Result<&'r Organisation, RegistryError> {
    registry.organisation(organisation_id).ok_or_else(|| {
        invalid(
            field,
            format!("organisation {organisation_id:?} not found; add it with `alpr admin org add`"),
        )
    })
}

/// Checks a new organisation.
pub fn check_organisation(
    registry: &Registry,
    organisation: &Organisation,
) -> Result<(), RegistryError> {
    check_id("organisation id", &organisation.organisation_id)?;
    if registry
        .organisation(&organisation.organisation_id)
        .is_some()
    {
        return Err(invalid(
            "organisation id",
            format!("{:?} already exists", organisation.organisation_id),
        ));
    }
    check_text("name", &organisation.name)?;
    match (&organisation.state, organisation.level) {
        (Some(state), _) => check_region("state", state),
        (None, OrganisationLevel::Federal) => Ok(()),
        (None, level) => Err(invalid(
            "state",
            format!("missing; a {level} organisation needs its ISO 3166-2 region such as US-CA"),
        )),
    }
}

/// Checks a new camera.
pub fn check_camera(registry: &Registry, camera: &Camera) -> Result<(), RegistryError> {
    check_id("camera id", &camera.camera_id)?;
    if registry.camera(&camera.camera_id).is_some() {
        return Err(invalid(
            "camera id",
            format!("{:?} already exists", camera.camera_id),
        ));
    }
    require_organisation(registry, "organisation", &camera.organisation_id)?;
    check_text("name", &camera.name)?;
    if !(-90.0..=90.0).contains(&camera.latitude) {
        return Err(invalid(
            "latitude",
            format!("{} is outside -90 to 90 degrees", camera.latitude),
        ));
    }
    if !(-180.0..=180.0).contains(&camera.longitude) {
        return Err(invalid(
            "longitude",
            format!("{} is outside -180 to 180 degrees", camera.longitude),
        ));
    }
    Ok(())
}

/// Checks a new user.
pub fn check_user(registry: &Registry, user: &User) -> Result<(), RegistryError> {
    check_id("user id", &user.user_id)?;
    if registry.user(&user.user_id).is_some() {
        return Err(invalid(
            "user id",
            format!(
                "{:?} already exists; remove it first to issue a new token",
                user.user_id
            ),
        ));
    }
    require_organisation(registry, "organisation", &user.organisation_id)?;
    Ok(())
}

/// Checks a new grant: both organisations exist, they differ, the grantee is an agency, and no
/// jurisdiction rule forbids it.
pub fn check_grant(
    registry: &Registry,
    settings: &RegistrySettings,
    grant: &SharingGrant,
) -> Result<(), RegistryError> {
    let owner = require_organisation(registry, "owner", &grant.owner_organisation_id)?;
    let grantee = require_organisation(registry, "grantee", &grant.grantee_organisation_id)?;
    check_text("granted by", &grant.granted_by)?;
    if owner.organisation_id == grantee.organisation_id {
        return Err(invalid(
            "grantee",
            "is the owner itself, which sees its own reads without a grant",
        ));
    }
    if !grantee.level.is_agency() {
        return Err(invalid(
            "grantee",
            format!(
                "{:?} is a private organisation; only agencies receive another organisation's reads",
                grantee.organisation_id
            ),
        ));
    }
    if registry
        .grant(&owner.organisation_id, &grantee.organisation_id)
        .is_some()
    {
        return Err(invalid(
            "grantee",
            format!(
                "{:?} already has access to the reads of {:?}",
                grantee.organisation_id, owner.organisation_id
            ),
        ));
    }
    for rule in &settings.jurisdiction_rules {
        check_rule(rule, owner, grantee)?;
    }
    Ok(())
}

/// Checks one jurisdiction rule. A rule applies to owners in its `owner_state`.
fn check_rule(
    rule: &JurisdictionRule,
    owner: &Organisation,
    grantee: &Organisation,
) -> Result<(), RegistryError> {
    if owner.state.as_deref() != Some(rule.owner_state.as_str()) {
        return Ok(());
    }
    let rejected = |problem: String| RegistryError::RejectedByRule {
        rule: rule.name.clone(),
        problem,
    };
    if rule.forbidden_grantee_levels.contains(&grantee.level) {
        return Err(rejected(format!(
            "reads of {} organisations never go to a {} agency, and {:?} is one",
            rule.owner_state, grantee.level, grantee.organisation_id
        )));
    }
    if rule.grantee_same_state && grantee.state.as_deref() != Some(rule.owner_state.as_str()) {
        return Err(rejected(format!(
            "reads of {} organisations stay in {}, and {:?} is in {}",
            rule.owner_state,
            rule.owner_state,
            grantee.organisation_id,
            grantee.state.as_deref().unwrap_or("no state")
        )));
    }
    Ok(())
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
