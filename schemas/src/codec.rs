//! Avro single-object encoding of alpr's records.
//!
//! Every record on a topic starts with the two marker bytes `C3 01` and the 8-byte little-endian
//! CRC-64-AVRO (Rabin) fingerprint of the schema that wrote it, as the Avro specification's
//! "single-object encoding" defines. A reader looks the fingerprint up among the current and the
//! historical schemas of the record type and resolves the datum to the current schema, so records
//! written by an older producer stay readable after a field is added.
//!
//! The datum of the current schema is written and read with `serde_avro_fast`, which goes
//! straight between the Rust types and the bytes. `apache_avro` builds an intermediate value and
//! is several times slower, so it only resolves data written with an older schema.

use std::collections::HashMap;
use std::sync::LazyLock;

use apache_avro::rabin::Rabin;
use apache_avro::Schema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::records::{
    Alert, AuditEvent, CameraRead, EvidenceHold, HotlistEntry, HotlistImport, RegistryRecord,
};

const SINGLE_OBJECT_MARKER: [u8; 2] = [0xC3, 0x01];
const HEADER_LEN: usize = 10;

/// Errors of encoding and decoding. None of them goes away on retry: the bytes or the record
/// are wrong, so a consumer sends such a record to its dead-letter path.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("record is not Avro single-object encoded: {0}")]
    NotSingleObject(&'static str),
    #[error("no known {record} schema has fingerprint {fingerprint}")]
    UnknownSchema {
        record: &'static str,
        fingerprint: String,
    },
    #[error("invalid {record} record: {source}")]
    Avro {
        record: &'static str,
        #[source]
        source: Box<apache_avro::Error>,
    },
    #[error("invalid {record} record: {message}")]
    Datum {
        record: &'static str,
        message: String,
    },
}

/// The schemas one record type can be written with: the current one, which every writer uses,
/// and the historical ones that readers still accept.
pub struct RecordSchemas {
    record: &'static str,
    current: Schema,
    /// The current schema for `serde_avro_fast`, which writes and reads its datum.
    current_datum: serde_avro_fast::Schema,
    current_fingerprint: [u8; 8],
    writers: HashMap<[u8; 8], Schema>,
}

impl RecordSchemas {
    /// Parses the current schema and its predecessors.
    ///
    /// # Panics
    /// Panics when a schema text does not parse. The texts are compiled into the binary and
    /// checked by this crate's tests, so a panic here means a broken build, not bad input.
    fn parse(record: &'static str, current: &str, history: &[&str]) -> Self {
        let parse = |text: &str| {
            Schema::parse_str(text)
                .unwrap_or_else(|err| panic!("compiled-in {record} schema is invalid: {err}"))
        };
        let current_datum = current.parse().unwrap_or_else(|err| {
            panic!("compiled-in {record} schema is invalid for serde_avro_fast: {err}")
        });
        let current = parse(current);
        let current_fingerprint = fingerprint_of(&current);
        let mut writers = HashMap::new();
        for text in history {
            let schema = parse(text);
            writers.insert(fingerprint_of(&schema), schema);
        }
        writers.insert(current_fingerprint, current.clone());
        Self {
            record,
            current,
            current_datum,
            current_fingerprint,
            writers,
        }
    }

    /// Returns the schema every writer uses now.
    pub fn current(&self) -> &Schema {
        &self.current
    }

    /// Number of schema versions a reader accepts, the current one included.
    pub fn known_versions(&self) -> usize {
        self.writers.len()
    }

    pub(crate) fn record_name(&self) -> &'static str {
        self.record
    }

    /// Returns the current schema's JSON text, whitespace removed.
    pub(crate) fn current_json(&self) -> &str {
        self.current_datum.json()
    }

    /// Returns the datum of the single-object encoded `bytes` when the current schema wrote
    /// them, and `None` when a historical one did. Fails on an invalid header or an unknown
    /// fingerprint.
    pub(crate) fn current_datum<'a>(
        &self,
        bytes: &'a [u8],
    ) -> Result<Option<&'a [u8]>, CodecError> {
        let (fingerprint, _) = writer_schema(self, bytes)?;
        Ok((fingerprint == self.current_fingerprint).then(|| &bytes[HEADER_LEN..]))
    }
}

/// Returns the 8-byte Rabin fingerprint of a schema's canonical form, little-endian.
pub fn fingerprint_of(schema: &Schema) -> [u8; 8] {
    let bytes = schema.fingerprint::<Rabin>().bytes;
    let mut fingerprint = [0u8; 8];
    fingerprint.copy_from_slice(&bytes[..8]);
    fingerprint
}

/// A record type with Avro schemas compiled into the binary.
pub trait AvroRecord: Serialize + DeserializeOwned {
    fn schemas() -> &'static RecordSchemas;
}

macro_rules! avro_record {
    ($type:ty, $name:literal, $current:literal $(, $history:literal)*) => {
        impl AvroRecord for $type {
            fn schemas() -> &'static RecordSchemas {
                static SCHEMAS: LazyLock<RecordSchemas> = LazyLock::new(|| {
                    RecordSchemas::parse(
                        $name,
                        include_str!(concat!("../", $current)),
                        &[$(include_str!(concat!("../", $history))),*],
                    )
                });
                &SCHEMAS
            }
        }
    };
}

avro_record!(
    CameraRead,
    "CameraRead",
    "camera_read.avsc",
    "history/camera_read.v1.avsc"
);
avro_record!(HotlistEntry, "HotlistEntry", "hotlist_entry.avsc");
avro_record!(HotlistImport, "HotlistImport", "hotlist_import.avsc");
avro_record!(
    Alert,
    "Alert",
    "alert.avsc",
    "history/alert.v1.avsc",
    "history/alert.v2.avsc"
);
avro_record!(EvidenceHold, "EvidenceHold", "evidence_hold.avsc");
avro_record!(RegistryRecord, "RegistryRecord", "registry_record.avsc");
avro_record!(
    AuditEvent,
    "AuditEvent",
    "audit_event.avsc",
    "history/audit_event.v1.avsc"
);

/// Encodes a record with its current schema, framed for single-object decoding.
pub fn encode<R: AvroRecord>(record: &R) -> Result<Vec<u8>, CodecError> {
    let schemas = R::schemas();
    let mut framed = Vec::with_capacity(256);
    framed.extend_from_slice(&SINGLE_OBJECT_MARKER);
    framed.extend_from_slice(&schemas.current_fingerprint);
    let mut config = serde_avro_fast::ser::SerializerConfig::new(&schemas.current_datum);
    // `to_datum` appends the datum to the writer it is given and returns it.
    serde_avro_fast::to_datum(record, framed, &mut config).map_err(|error| CodecError::Datum {
        record: schemas.record,
        message: error.to_string(),
    })
}

/// Encodes `record` with the schema, current or historical, that wrote `written`, framed the
/// same way. A checker uses it to rebuild the exact bytes an older producer wrote, as the audit
/// chain's hashes require. Fails when `written` has no known fingerprint or `record` does not
/// fit that schema. An enum symbol the older schema lacks becomes that enum's default.
pub fn encode_as_written<R: AvroRecord>(record: &R, written: &[u8]) -> Result<Vec<u8>, CodecError> {
    let schemas = R::schemas();
    let (fingerprint, writer) = writer_schema(schemas, written)?;
    if fingerprint == schemas.current_fingerprint {
        return encode(record);
    }
    let avro_error = |source| CodecError::Avro {
        record: schemas.record,
        source: Box::new(source),
    };
    let value = apache_avro::to_value(record)
        .and_then(|value| value.resolve(writer))
        .map_err(avro_error)?;
    let datum = apache_avro::to_avro_datum(writer, value).map_err(avro_error)?;
    let mut framed = Vec::with_capacity(HEADER_LEN + datum.len());
    framed.extend_from_slice(&SINGLE_OBJECT_MARKER);
    framed.extend_from_slice(&fingerprint);
    framed.extend_from_slice(&datum);
    Ok(framed)
}

/// Tells whether `bytes` were written with a schema of record type `R`, current or historical,
/// by the fingerprint in the header alone. Lets a topic that carries two record types, such as
/// the hotlist topic, pick the decoder.
pub fn is_encoded_as<R: AvroRecord>(bytes: &[u8]) -> bool {
    bytes.len() >= HEADER_LEN
        && bytes[..2] == SINGLE_OBJECT_MARKER
        && <[u8; 8]>::try_from(&bytes[2..HEADER_LEN])
            .is_ok_and(|fingerprint| R::schemas().writers.contains_key(&fingerprint))
}

/// Decodes only the fields that `View` names from a record of type `R`, borrowing strings from
/// `bytes` instead of copying them, for a consumer that looks at a small part of most records.
/// Returns `None` when the record was written with an older schema; the caller then decodes it
/// in full with [`decode`].
pub fn decode_view<'a, R: AvroRecord, View: Deserialize<'a>>(
    bytes: &'a [u8],
) -> Result<Option<View>, CodecError> {
    let schemas = R::schemas();
    let Some(datum) = schemas.current_datum(bytes)? else {
        return Ok(None);
    };
    serde_avro_fast::from_datum_slice(datum, &schemas.current_datum)
        .map(Some)
        .map_err(|error| CodecError::Datum {
            record: schemas.record,
            message: error.to_string(),
        })
}

/// Checks the single-object header and returns the fingerprint and the schema that wrote the
/// record.
fn writer_schema<'s>(
    schemas: &'s RecordSchemas,
    bytes: &[u8],
) -> Result<([u8; 8], &'s Schema), CodecError> {
    if bytes.len() < HEADER_LEN {
        return Err(CodecError::NotSingleObject(
            "shorter than the 10-byte header",
        ));
    }
    if bytes[..2] != SINGLE_OBJECT_MARKER {
        return Err(CodecError::NotSingleObject("missing the C3 01 marker"));
    }
    let mut fingerprint = [0u8; 8];
    fingerprint.copy_from_slice(&bytes[2..HEADER_LEN]);
    // Nearly every record has the current schema. Comparing with it first saves hashing the
    // fingerprint, which showed in the matcher's profile.
    if fingerprint == schemas.current_fingerprint {
        return Ok((fingerprint, &schemas.current));
    }
    let writer = schemas
        .writers
        .get(&fingerprint)
        .ok_or_else(|| CodecError::UnknownSchema {
            record: schemas.record,
            fingerprint: fingerprint.iter().map(|b| format!("{b:02x}")).collect(),
        })?;
    Ok((fingerprint, writer))
}

/// Decodes a single-object encoded record written with the current or any historical schema.
pub fn decode<R: AvroRecord>(bytes: &[u8]) -> Result<R, CodecError> {
    let schemas = R::schemas();
    let (fingerprint, writer) = writer_schema(schemas, bytes)?;
    if fingerprint == schemas.current_fingerprint {
        return serde_avro_fast::from_datum_slice(&bytes[HEADER_LEN..], &schemas.current_datum)
            .map_err(|error| CodecError::Datum {
                record: schemas.record,
                message: error.to_string(),
            });
    }
    let avro_error = |source| CodecError::Avro {
        record: schemas.record,
        source: Box::new(source),
    };
    let mut datum = &bytes[HEADER_LEN..];
    let value = apache_avro::from_avro_datum(writer, &mut datum, Some(&schemas.current))
        .map_err(avro_error)?;
    apache_avro::from_value(&value).map_err(avro_error)
}
