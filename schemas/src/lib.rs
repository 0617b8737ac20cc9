//! Records that travel on alpr's Kafka topics, their Avro schemas and their wire framing.
//!
//! The `.avsc` files in this crate's folder are the authority on every field. The Rust types in
//! [`records`] mirror them one to one, and [`codec`] frames each record with Avro single-object
//! encoding so that a reader can tell which schema version wrote it. Older schema versions live
//! under `history/` and stay readable: their records are resolved to the current schema, with new
//! fields taking their defaults.

pub mod codec;
pub mod confusion;
pub mod field_reader;
pub mod plate;
pub mod records;
pub mod submission;

pub use codec::{
    decode, decode_view, encode, encode_as_written, is_encoded_as, AvroRecord, CodecError,
};
pub use records::{
    normalised_plate_of, Alert, AlertEntry, AuditAction, AuditEvent, Camera, CameraRead,
    EvidenceHold, HotlistEntry, HotlistEntryView, HotlistImport, HotlistReason, Location,
    MatchDetail, MatchDifference, MatchKind, MatchPolicy, Organisation, OrganisationLevel,
    PlateRead, RegistryRecord, SharingGrant, User, UserRole, VehicleAttribute, VehicleDescription,
    VehicleRead,
};

/// Converts a UTC time to the microseconds since the Unix epoch that every timestamp field holds.
pub fn to_micros(time: chrono::DateTime<chrono::Utc>) -> i64 {
    time.timestamp_micros()
}

/// Converts microseconds since the Unix epoch back to a UTC time. Values outside chrono's range,
/// which no valid record holds, become the epoch itself.
pub fn from_micros(micros: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(micros).unwrap_or_default()
}
