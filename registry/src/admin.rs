//! The work behind `alpr admin`: each function loads the registry, validates the change against
//! it and the jurisdiction rules, and publishes the change.
//!
//! NOTE: two admins changing the registry at the same moment both validate against the state
//! before either change, so for example two grants that are each allowed alone are both
//! published. No check here depends on another pending change except duplicate ids, where the
//! later record replaces the earlier one.

use chrono::{DateTime, Utc};

use alpr_platform::KafkaSettings;
use alpr_schemas::{
    to_micros, Camera, Organisation, OrganisationLevel, RegistryRecord, SharingGrant, User,
    UserRole,
};

use crate::registry::{encode_entry, RegistryKey};
use crate::token::{generate_token, IssuedToken, CAMERA_TOKEN_PREFIX, USER_TOKEN_PREFIX};
use crate::validate::{
    check_camera, check_grant, check_id, check_organisation, check_user, RegistrySettings,
};
use crate::{load_registry, publish_change, Registry, RegistryError};

/// A camera to register; its token is generated.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCamera {
    pub camera_id: String,
    pub organisation_id: String,
    pub name: String,
    pub latitude: f64,
    pub longitude: f64,
}

/// A user to register; the token is generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub user_id: String,
    pub organisation_id: String,
    pub role: UserRole,
}

/// Adds an organisation.
pub async fn add_organisation(
    kafka: &KafkaSettings,
    organisation_id: &str,
    name: &str,
    level: OrganisationLevel,
    state: Option<&str>,
) -> Result<Organisation, RegistryError> {
    let organisation = Organisation {
        organisation_id: organisation_id.to_string(),
        name: name.trim().to_string(),
        level,
        state: state.map(str::to_string),
    };
    check_organisation(&load_registry(kafka).await?, &organisation)?;
    let key = RegistryKey::Organisation(organisation.organisation_id.clone());
    let record = RegistryRecord {
        organisation: Some(organisation.clone()),
        ..RegistryRecord::default()
    };
    publish_change(kafka, &key.to_string(), Some(encode_entry(&record)?)).await?;
    Ok(organisation)
}

/// Adds a camera and returns its ingest token, which is shown only this once.
pub async fn add_camera(
    kafka: &KafkaSettings,
    camera: NewCamera,
) -> Result<IssuedToken, RegistryError> {
    let token = generate_token(CAMERA_TOKEN_PREFIX)?;
    let camera = Camera {
        camera_id: camera.camera_id,
        organisation_id: camera.organisation_id,
        name: camera.name.trim().to_string(),
        latitude: camera.latitude,
        longitude: camera.longitude,
        token_hash: token.hash.clone(),
    };
    check_camera(&load_registry(kafka).await?, &camera)?;
    let key = RegistryKey::Camera(camera.camera_id.clone());
    let record = RegistryRecord {
        camera: Some(camera),
        ..RegistryRecord::default()
    };
    publish_change(kafka, &key.to_string(), Some(encode_entry(&record)?)).await?;
    Ok(token)
}

/// Adds a user and returns their bearer token, which is shown only this once.
pub async fn add_user(
    kafka: &KafkaSettings,
    user: NewUser,
    now: DateTime<Utc>,
) -> Result<IssuedToken, RegistryError> {
    let token = generate_token(USER_TOKEN_PREFIX)?;
    let user = User {
        user_id: user.user_id,
        organisation_id: user.organisation_id,
        role: user.role,
        token_hash: token.hash.clone(),
        created_at: to_micros(now),
    };
    check_user(&load_registry(kafka).await?, &user)?;
    let key = RegistryKey::User(user.user_id.clone());
    let record = RegistryRecord {
        user: Some(user),
        ..RegistryRecord::default()
    };
    publish_change(kafka, &key.to_string(), Some(encode_entry(&record)?)).await?;
    Ok(token)
}

/// Removes a user, so their token stops working wherever the registry is followed.
pub async fn remove_user(kafka: &KafkaSettings, user_id: &str) -> Result<(), RegistryError> {
    check_id("user id", user_id)?;
    if load_registry(kafka).await?.user(user_id).is_none() {
        return Err(RegistryError::Invalid {
            field: "user id",
            problem: format!("user {user_id:?} not found"),
        });
    }
    let key = RegistryKey::User(user_id.to_string());
    publish_change(kafka, &key.to_string(), None).await
}

/// Grants the agency `grantee` access to the reads of every camera of `owner`, after checking
/// it against the registry and every jurisdiction rule in `settings`.
pub async fn add_grant(
    kafka: &KafkaSettings,
    settings: &RegistrySettings,
    owner: &str,
    grantee: &str,
    granted_by: &str,
    now: DateTime<Utc>,
) -> Result<SharingGrant, RegistryError> {
    let grant = SharingGrant {
        owner_organisation_id: owner.to_string(),
        grantee_organisation_id: grantee.to_string(),
        granted_at: to_micros(now),
        granted_by: granted_by.trim().to_string(),
    };
    check_grant(&load_registry(kafka).await?, settings, &grant)?;
    let key = RegistryKey::Grant {
        owner: owner.to_string(),
        grantee: grantee.to_string(),
    };
    let record = RegistryRecord {
        grant: Some(grant.clone()),
        ..RegistryRecord::default()
    };
    publish_change(kafka, &key.to_string(), Some(encode_entry(&record)?)).await?;
    Ok(grant)
}

/// Revokes the access of `grantee` to the reads of `owner`.
pub async fn revoke_grant(
    kafka: &KafkaSettings,
    owner: &str,
    grantee: &str,
) -> Result<(), RegistryError> {
    check_id("owner", owner)?;
    check_id("grantee", grantee)?;
    if load_registry(kafka).await?.grant(owner, grantee).is_none() {
        return Err(RegistryError::Invalid {
            field: "grantee",
            problem: format!("{grantee:?} has no grant to the reads of {owner:?}"),
        });
    }
    let key = RegistryKey::Grant {
        owner: owner.to_string(),
        grantee: grantee.to_string(),
    };
    publish_change(kafka, &key.to_string(), None).await
}

/// Returns the whole registry for listing.
pub async fn list(kafka: &KafkaSettings) -> Result<Registry, RegistryError> {
    load_registry(kafka).await
}
