//! The registry of organisations, cameras, users and sharing grants.
//!
//! Every entry is a record on the compacted topic `alpr.registry.v1`, keyed `organisation:ID`,
//! `camera:ID`, `user:ID` or `grant:OWNER:GRANTEE`; a tombstone removes it. Services build a
//! [`Registry`] in memory from the topic and keep it current with a [`RegistryFollower`]; the
//! [`admin`] functions validate a change and publish it.
//!
//! What the registry decides:
//! - which camera an ingest token belongs to ([`Registry::camera_by_token`]);
//! - which user a bearer token belongs to ([`Registry::user_by_token`]);
//! - whose reads an organisation may see ([`Registry::visible_organisations`]): its own, and
//!   those of every owner that granted it access. Grants go to agencies only, so a private
//!   organisation never sees another organisation's reads.

pub mod admin;
mod error;
pub mod registry;
pub mod token;
pub mod topic;
pub mod validate;

pub use error::RegistryError;
pub use registry::{Registry, RegistryKey};
pub use token::{hash_token, IssuedToken};
pub use topic::{load_registry, publish_change, RegistryFollower, SharedRegistry};
pub use validate::{JurisdictionRule, RegistrySettings};
