//! The registry in memory, built by applying the records of `alpr.registry.v1` in order.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use alpr_schemas::{decode, Camera, Organisation, RegistryRecord, SharingGrant, User};

use crate::token::hash_token;
use crate::RegistryError;

/// The key of one registry entry on the topic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum RegistryKey {
    Organisation(String),
    Camera(String),
    User(String),
    Grant { owner: String, grantee: String },
}

impl RegistryKey {
    /// Parses `organisation:ID`, `camera:ID`, `user:ID` or `grant:OWNER:GRANTEE`. Ids never hold
    /// a colon (see [`crate::validate::check_id`]), so the split is unambiguous.
    pub fn parse(key: &str) -> Result<Self, RegistryError> {
        let invalid = |problem: &str| RegistryError::Key {
            key: key.to_string(),
            problem: problem.to_string(),
        };
        let (kind, rest) = key
            .split_once(':')
            .ok_or_else(|| invalid("expected KIND:ID"))?;
        if rest.is_empty() {
            return Err(invalid("the id is empty"));
        }
        match kind {
            "organisation" => Ok(Self::Organisation(rest.to_string())),
            "camera" => Ok(Self::Camera(rest.to_string())),
            "user" => Ok(Self::User(rest.to_string())),
            "grant" => {
                let (owner, grantee) = rest
                    .split_once(':')
                    .filter(|(owner, grantee)| !owner.is_empty() && !grantee.is_empty())
                    .ok_or_else(|| invalid("expected grant:OWNER:GRANTEE"))?;
                Ok(Self::Grant {
                    owner: owner.to_string(),
                    grantee: grantee.to_string(),
                })
            }
            _ => Err(invalid(
                "unknown kind; expected organisation, camera, user or grant",
            )),
        }
    }
}

impl std::fmt::Display for RegistryKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Organisation(id) => write!(formatter, "organisation:{id}"),
            Self::Camera(id) => write!(formatter, "camera:{id}"),
            Self::User(id) => write!(formatter, "user:{id}"),
            Self::Grant { owner, grantee } => write!(formatter, "grant:{owner}:{grantee}"),
        }
    }
}

/// Organisations, cameras, users and sharing grants as of the last applied record.
///
/// It reflects the topic as it is: [`Registry::apply`] does not re-check references, because
/// the admin functions validate every change before publishing it (see [`crate::validate`]).
#[derive(Debug, Clone, Default)]
pub struct Registry {
    organisations: BTreeMap<String, Organisation>,
    cameras: BTreeMap<String, Camera>,
    users: BTreeMap<String, User>,
    /// By (owner, grantee).
    grants: BTreeMap<(String, String), SharingGrant>,
    /// User id by token hash, so a request's token is found with one hash and one lookup.
    user_ids_by_token_hash: HashMap<String, String>,
    /// Camera id by token hash.
    camera_ids_by_token_hash: HashMap<String, String>,
}

impl Registry {
    /// Applies one record of the registry topic: a value adds or replaces the entry under `key`,
    /// `None` (a tombstone) removes it. An invalid key or record changes nothing and returns the
    /// reason.
    pub fn apply(&mut self, key: &str, payload: Option<&[u8]>) -> Result<(), RegistryError> {
        let parsed = RegistryKey::parse(key)?;
        let Some(payload) = payload else {
            self.remove(&parsed);
            return Ok(());
        };
        let record: RegistryRecord = decode(payload)?;
        let mismatch = |problem: String| RegistryError::Record {
            key: key.to_string(),
            problem,
        };
        let set_fields = [
            record.organisation.is_some(),
            record.camera.is_some(),
            record.user.is_some(),
            record.grant.is_some(),
        ]
        .into_iter()
        .filter(|set| *set)
        .count();
        if set_fields != 1 {
            return Err(mismatch(format!(
                "{set_fields} entries are set, expected exactly one"
            )));
        }
        match (parsed, record) {
            (
                RegistryKey::Organisation(id),
                RegistryRecord {
                    organisation: Some(organisation),
                    ..
                },
            ) if organisation.organisation_id == id => {
                self.organisations.insert(id, organisation);
            }
            (
                RegistryKey::Camera(id),
                RegistryRecord {
                    camera: Some(camera),
                    ..
                },
            ) if camera.camera_id == id => {
                self.remove(&RegistryKey::Camera(id.clone()));
                self.camera_ids_by_token_hash
                    .insert(camera.token_hash.clone(), id.clone());
                self.cameras.insert(id, camera);
            }
            (
                RegistryKey::User(id),
                RegistryRecord {
                    user: Some(user), ..
                },
            ) if user.user_id == id => {
                self.remove(&RegistryKey::User(id.clone()));
                self.user_ids_by_token_hash
                    .insert(user.token_hash.clone(), id.clone());
                self.users.insert(id, user);
            }
            (
                RegistryKey::Grant { owner, grantee },
                RegistryRecord {
                    grant: Some(grant), ..
                },
            ) if grant.owner_organisation_id == owner
                && grant.grantee_organisation_id == grantee =>
            {
                self.grants.insert((owner, grantee), grant);
            }
            _ => {
                return Err(mismatch(
                    "the entry is of another kind or id than the key names".to_string(),
                ))
            }
        }
        Ok(())
    }

    fn remove(&mut self, key: &RegistryKey) {
        match key {
            RegistryKey::Organisation(id) => {
                self.organisations.remove(id);
            }
            RegistryKey::Camera(id) => {
                if let Some(camera) = self.cameras.remove(id) {
                    self.camera_ids_by_token_hash.remove(&camera.token_hash);
                }
            }
            RegistryKey::User(id) => {
                if let Some(user) = self.users.remove(id) {
                    self.user_ids_by_token_hash.remove(&user.token_hash);
                }
            }
            RegistryKey::Grant { owner, grantee } => {
                self.grants.remove(&(owner.clone(), grantee.clone()));
            }
        }
    }

    /// Returns the user whose bearer token is `token`.
    pub fn user_by_token(&self, token: &str) -> Option<&User> {
        let user_id = self.user_ids_by_token_hash.get(&hash_token(token))?;
        self.users.get(user_id)
    }

    /// Returns the camera whose ingest token is `token`.
    pub fn camera_by_token(&self, token: &str) -> Option<&Camera> {
        let camera_id = self.camera_ids_by_token_hash.get(&hash_token(token))?;
        self.cameras.get(camera_id)
    }

    pub fn organisation(&self, organisation_id: &str) -> Option<&Organisation> {
        self.organisations.get(organisation_id)
    }

    pub fn camera(&self, camera_id: &str) -> Option<&Camera> {
        self.cameras.get(camera_id)
    }

    pub fn user(&self, user_id: &str) -> Option<&User> {
        self.users.get(user_id)
    }

    pub fn grant(&self, owner: &str, grantee: &str) -> Option<&SharingGrant> {
        self.grants.get(&(owner.to_string(), grantee.to_string()))
    }

    /// Returns the organisations whose cameras' reads `organisation_id` may see: itself, plus
    /// every known owner that granted it access. An unknown organisation sees nothing.
    ///
    /// A private organisation sees only its own reads even if a grant to it is on the topic.
    /// The admin functions never publish such a grant, so one there was written by another tool.
    pub fn visible_organisations(&self, organisation_id: &str) -> BTreeSet<String> {
        let Some(organisation) = self.organisations.get(organisation_id) else {
            return BTreeSet::new();
        };
        let mut visible = BTreeSet::from([organisation_id.to_string()]);
        if !organisation.level.is_agency() {
            return visible;
        }
        for (owner, grantee) in self.grants.keys() {
            if grantee == organisation_id && self.organisations.contains_key(owner) {
                visible.insert(owner.clone());
            }
        }
        visible
    }

    pub fn organisations(&self) -> impl Iterator<Item = &Organisation> {
        self.organisations.values()
    }

    pub fn cameras(&self) -> impl Iterator<Item = &Camera> {
        self.cameras.values()
    }

    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    pub fn grants(&self) -> impl Iterator<Item = &SharingGrant> {
        self.grants.values()
    }
}

/// Encodes one entry as the value of its registry-topic record.
pub fn encode_entry(record: &RegistryRecord) -> Result<Vec<u8>, RegistryError> {
    Ok(alpr_schemas::encode(record)?)
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
