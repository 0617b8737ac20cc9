//! Rust mirrors of the `.avsc` schemas. Field names and order follow the schema files exactly,
//! because the Avro serde bridge matches fields by name. Every timestamp is microseconds since the
//! Unix epoch, UTC, as the schemas' `timestamp-micros` logical type defines it.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::codec::CodecError;
use crate::field_reader::StringFieldReader;

/// One plate read by one camera: the value of `alpr.reads.v1`, keyed by `read_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraRead {
    pub read_id: String,
    pub camera_id: String,
    /// Organisation that owns the camera, which decides who may see the read.
    pub organisation_id: String,
    pub captured_at: i64,
    pub received_at: i64,
    /// `None` when the reader recorded no position.
    pub location: Option<Location>,
    pub plate: PlateRead,
    pub vehicle: VehicleRead,
    /// Storage location of the rear-of-vehicle image. The bytes never travel in the read.
    pub image_ref: Option<String>,
    /// Adapter that produced the read, such as `http-json` or `replay-spd`.
    pub source: String,
}

/// Reads the normalised plate of a single-object encoded [`CameraRead`], borrowed from its
/// bytes, without decoding the rest of the read: all the matcher needs to tell whether a read
/// can match a hotlist entry. Returns `None` for a read written with a historical schema, which
/// the caller decodes in full with [`crate::decode`].
///
/// The fields before the plate are stepped over, not checked, so a read that is corrupt only
/// there still gives its plate. If such a read matches an entry, its full decode rejects it.
pub fn normalised_plate_of(bytes: &[u8]) -> Result<Option<&str>, CodecError> {
    static READER: LazyLock<StringFieldReader> = LazyLock::new(|| {
        StringFieldReader::for_current::<CameraRead>(&["plate", "normalised"]).unwrap_or_else(
            |error| panic!("compiled-in CameraRead schema lacks the plate: {error}"),
        )
    });
    READER.read(bytes)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// WGS84 degrees, -90 to 90.
    pub latitude: f64,
    /// WGS84 degrees, -180 to 180.
    pub longitude: f64,
    /// Degrees clockwise from north, 0 to 360.
    pub heading: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlateRead {
    /// False when the camera saw a vehicle but no plate; `text` is then empty.
    pub present: bool,
    /// Plate text exactly as the camera sent it, kept for investigators.
    pub text: String,
    /// Upper-case A–Z and 0–9, with `?` for each unreadable character.
    pub normalised: String,
    /// ISO 3166-2 code such as `US-CA`.
    pub region: Option<String>,
    /// Recogniser confidence, 0 to 1.
    pub confidence: Option<f32>,
    /// Zero-based positions of `?` in `normalised`.
    pub unreadable_positions: Vec<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VehicleRead {
    pub make: Option<VehicleAttribute>,
    pub model: Option<VehicleAttribute>,
    #[serde(rename = "type")]
    pub vehicle_type: Option<VehicleAttribute>,
    pub colour: Option<VehicleAttribute>,
}

/// A recognised vehicle attribute with the recogniser's confidence (0 to 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VehicleAttribute {
    pub value: String,
    pub confidence: Option<f32>,
}

/// One plate on a stolen or wanted list: the value of `alpr.hotlist.v1`, keyed by `entry_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HotlistEntry {
    pub entry_id: String,
    /// List name, such as `NCIC`, a state list or an agency's own.
    pub list: String,
    /// Agency that owns the entry and receives its alerts.
    pub agency_id: String,
    /// Normalised plate; `?` stands for one unknown character and `*` for any run.
    pub plate: String,
    pub region: Option<String>,
    pub reason: HotlistReason,
    /// 1 is the most urgent, 5 the least.
    pub priority: i32,
    pub match_policy: MatchPolicy,
    pub vehicle: VehicleDescription,
    pub case_number: Option<String>,
    /// Record id in the file the entry was imported from.
    pub source_record_id: Option<String>,
    pub valid_from: i64,
    /// `None` for an entry that stays until it is removed.
    pub expires_at: Option<i64>,
}

/// The fields of an encoded [`HotlistEntry`] that an index by plate needs, borrowed from its
/// bytes. Decode with `decode_view::<HotlistEntry, HotlistEntryView>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct HotlistEntryView<'a> {
    pub entry_id: &'a str,
    pub list: &'a str,
    pub plate: &'a str,
    pub match_policy: MatchPolicy,
}

/// The latest import of one list, on the hotlist topic beside the entries. Its key is
/// [`HotlistImport::key`]; a tombstone under that key means the list was removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HotlistImport {
    pub list: String,
    /// Agency named at import; `None` when each entry names its own.
    pub agency_id: Option<String>,
    /// When the import finished publishing the list's entries.
    pub imported_at: i64,
    /// Entries in the imported file.
    pub entry_count: i64,
    /// File name the list was imported from.
    pub source: Option<String>,
}

impl HotlistImport {
    /// Prefix of import record keys. Entry keys are UUIDs, which never contain a colon.
    pub const KEY_PREFIX: &'static str = "list:";

    /// Returns the hotlist topic key of the import record of `list`.
    pub fn key(list: &str) -> String {
        format!("{}{list}", Self::KEY_PREFIX)
    }

    /// Returns the list name when `key` is an import record key.
    pub fn list_of_key(key: &str) -> Option<&str> {
        key.strip_prefix(Self::KEY_PREFIX)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HotlistReason {
    StolenVehicle,
    StolenPlate,
    WantedPerson,
    MissingPerson,
    AmberAlert,
    FelonyVehicle,
    BeOnTheLookout,
    Other,
}

impl HotlistReason {
    /// Returns the Avro symbol, which is also the form used in CSV files and alerts.
    pub fn as_symbol(self) -> &'static str {
        match self {
            Self::StolenVehicle => "STOLEN_VEHICLE",
            Self::StolenPlate => "STOLEN_PLATE",
            Self::WantedPerson => "WANTED_PERSON",
            Self::MissingPerson => "MISSING_PERSON",
            Self::AmberAlert => "AMBER_ALERT",
            Self::FelonyVehicle => "FELONY_VEHICLE",
            Self::BeOnTheLookout => "BE_ON_THE_LOOKOUT",
            Self::Other => "OTHER",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MatchPolicy {
    Exact,
    OcrTolerant,
}

/// Vehicle description of a hotlist entry, as the source list gives it (often NCIC codes).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VehicleDescription {
    pub year: Option<String>,
    pub make: Option<String>,
    pub model: Option<String>,
    pub style: Option<String>,
    pub colour: Option<String>,
}

/// A read that matched a hotlist entry: the value of `alpr.alerts.v1`, keyed by normalised plate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// UUIDv5 of read id and entry id, so the same match always carries the same id.
    pub alert_id: String,
    pub read: CameraRead,
    pub entry: AlertEntry,
    #[serde(rename = "match")]
    pub match_detail: MatchDetail,
    /// Agency whose dispatch receives the alert.
    pub recipient_agency_id: String,
    pub emitted_at: i64,
}

/// The hotlist entry that matched, copied at match time so the alert is complete without the hotlist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEntry {
    pub entry_id: String,
    pub list: String,
    pub agency_id: String,
    pub plate: String,
    pub region: Option<String>,
    /// [`HotlistReason`] symbol, such as `STOLEN_VEHICLE`.
    pub reason: String,
    pub priority: i32,
    pub case_number: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchDetail {
    pub kind: MatchKind,
    pub read_plate: String,
    pub entry_plate: String,
    /// False when the read had no region, so the entry's region could not be checked.
    pub region_confirmed: bool,
    /// Characters an OCR-tolerant match substituted; empty for other matches.
    pub differences: Vec<MatchDifference>,
    /// When the entry's list was last imported, or `None` when its entries were published
    /// without a [`HotlistImport`] record.
    pub list_imported_at: Option<i64>,
    /// Age of that import when the read matched, in whole seconds.
    pub list_age_seconds: Option<i64>,
}

/// One character an OCR-tolerant match substituted, with the confusion class that allowed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchDifference {
    /// Zero-based position in the read's normalised plate.
    pub position: i32,
    pub read_char: String,
    pub entry_char: String,
    /// The confusion class, such as `0ODQ`.
    pub class: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MatchKind {
    Exact,
    OcrVariant,
    Partial,
    Wildcard,
}

/// Keeps reads past their retention period for a case: the value of `alpr.holds.v1`, keyed by
/// `hold_id`; a tombstone releases the hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceHold {
    pub hold_id: String,
    pub case_number: String,
    pub read_ids: Vec<String>,
    pub placed_by: String,
    pub placed_at: i64,
    pub reason: String,
    pub review_at: Option<i64>,
}

/// One access to or change of data: the value of `alpr.audit.v1`. `hash` covers `previous_hash`
/// and every other field, so removing an event breaks the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub event_id: String,
    pub actor: String,
    pub organisation_id: String,
    pub occurred_at: i64,
    pub action: AuditAction,
    pub case_number: Option<String>,
    pub purpose: Option<String>,
    /// The request as JSON.
    pub query: Option<String>,
    pub result_count: Option<i64>,
    pub previous_hash: String,
    pub hash: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuditAction {
    Search,
    Export,
    HoldPlaced,
    HoldReleased,
    HotlistChange,
    Other,
    /// A retention sweep tombstoned reads; `result_count` is how many. Added in version 2 of the
    /// schema: a reader on version 1 resolves it to `OTHER`, the enum's default.
    ReadsDeleted,
}

/// One entry of the registry: the value of `alpr.registry.v1`. Exactly one field is set, the one
/// the key names (`organisation:ID`, `camera:ID`, `user:ID`, `grant:OWNER:GRANTEE`). Four
/// optional fields rather than an Avro union of records, because nullable records are the shape
/// every Avro library here reads and writes the same way.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RegistryRecord {
    pub organisation: Option<Organisation>,
    pub camera: Option<Camera>,
    pub user: Option<User>,
    pub grant: Option<SharingGrant>,
}

/// An agency, or a private party (a homeowners' association, a shopping centre) that owns
/// cameras.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    pub organisation_id: String,
    pub name: String,
    pub level: OrganisationLevel,
    /// ISO 3166-2 region such as `US-CA`; `None` only for a federal agency.
    pub state: Option<String>,
}

/// Level of an organisation. Every level except `Private` is an agency.
///
/// The lowercase aliases let configuration files write `"federal"`; Avro records always carry
/// the upper-case symbols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrganisationLevel {
    #[serde(alias = "local")]
    Local,
    #[serde(alias = "state")]
    State,
    #[serde(alias = "federal")]
    Federal,
    #[serde(alias = "private")]
    Private,
}

impl OrganisationLevel {
    pub const ALL: [Self; 4] = [Self::Local, Self::State, Self::Federal, Self::Private];

    /// Returns the lowercase name used on the command line and in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::State => "state",
            Self::Federal => "federal",
            Self::Private => "private",
        }
    }

    /// Tells whether organisations of this level are public-safety agencies, the only ones that
    /// may receive another organisation's reads.
    pub fn is_agency(self) -> bool {
        self != Self::Private
    }
}

impl std::fmt::Display for OrganisationLevel {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl std::str::FromStr for OrganisationLevel {
    type Err = String;

    /// Parses a lowercase level name such as `local`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|level| level.as_str() == text)
            .ok_or_else(|| {
                format!("{text:?} is not an organisation level; expected local, state, federal or private")
            })
    }
}

/// A fixed camera whose reads belong to its organisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Camera {
    pub camera_id: String,
    pub organisation_id: String,
    pub name: String,
    pub latitude: f64,
    pub longitude: f64,
    /// Hex SHA-256 of the camera's ingest token; the token itself is never stored.
    pub token_hash: String,
}

/// A person who signs in with a bearer token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub user_id: String,
    pub organisation_id: String,
    pub role: UserRole,
    /// Hex SHA-256 of the user's bearer token; the token itself is never stored.
    pub token_hash: String,
    pub created_at: i64,
}

/// A user's role, which decides the work they do in the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserRole {
    Investigator,
    Supervisor,
    Auditor,
    Admin,
}

impl UserRole {
    pub const ALL: [Self; 4] = [
        Self::Investigator,
        Self::Supervisor,
        Self::Auditor,
        Self::Admin,
    ];

    /// Returns the lowercase name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Investigator => "investigator",
            Self::Supervisor => "supervisor",
            Self::Auditor => "auditor",
            Self::Admin => "admin",
        }
    }
}

impl std::fmt::Display for UserRole {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl std::str::FromStr for UserRole {
    type Err = String;

    /// Parses a lowercase role name such as `investigator`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| {
                format!("{text:?} is not a user role; expected investigator, supervisor, auditor or admin")
            })
    }
}

/// Access of the grantee agency to the reads of every camera of the owner. Sharing is one way:
/// the owner sees nothing of the grantee's reads through it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharingGrant {
    pub owner_organisation_id: String,
    pub grantee_organisation_id: String,
    pub granted_at: i64,
    pub granted_by: String,
}
