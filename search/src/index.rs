//! The Tantivy index of reads: its schema, adding and deleting reads, and commits that carry the
//! consumed topic offsets.
//!
//! Field choices:
//! - `read_id` is a raw (untokenised) string term, so a tombstone or a re-delivered read deletes
//!   exactly one read with `delete_term`.
//! - `organisation_id` and `camera_id` are raw terms because the scope clause and the camera
//!   filter are term-set queries over them.
//! - `plate` is the normalised plate as one raw term, `?` included. A plate pattern becomes a
//!   regular expression that Tantivy runs over the term dictionary (a finite-state transducer),
//!   so a pattern costs one walk of the distinct plates of each segment, not one test per read.
//!   A regex can skip the dictionary entries that do not share its literal prefix, but one that
//!   starts with a wildcard walks them all, so `plate_reversed` contains the plate back to front
//!   and a pattern that is better anchored at its end (`*123`) runs reversed on that field.
//!   The field is also a fast field, which lets the distinct-plates summary count plates by
//!   term ordinal without loading stored documents. OCR tolerance needs no second field: the
//!   regex puts each pattern character's whole confusion class in a character set, which is
//!   what a class-key field would give, without a second term dictionary.
//! - Vehicle make, model, type and colour are raw terms, lower-cased, and region is a raw term,
//!   upper-cased, so filters compare whole values without a tokenizer's guesses.
//! - `captured_at` (microseconds, UTC), `latitude`, `longitude` and `order_key` are fast
//!   fields. Range queries on fast fields are evaluated inside the query, and the collectors read
//!   them to sort, paginate and check exact distances.
//! - `record` stores the whole read as JSON, so a result carries the image reference and
//!   everything else a caller shows.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tantivy::directory::MmapDirectory;
use tantivy::schema::{Field, Schema, FAST, INDEXED, STORED, STRING};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term};

use alpr_schemas::CameraRead;

/// Names of the index fields, shared with the query code.
pub(crate) mod field_names {
    pub const READ_ID: &str = "read_id";
    pub const ORGANISATION_ID: &str = "organisation_id";
    pub const CAMERA_ID: &str = "camera_id";
    pub const PLATE: &str = "plate";
    pub const PLATE_REVERSED: &str = "plate_reversed";
    pub const REGION: &str = "region";
    pub const MAKE: &str = "make";
    pub const MODEL: &str = "model";
    pub const VEHICLE_TYPE: &str = "vehicle_type";
    pub const COLOUR: &str = "colour";
    pub const CAPTURED_AT: &str = "captured_at";
    pub const LATITUDE: &str = "latitude";
    pub const LONGITUDE: &str = "longitude";
    pub const ORDER_KEY: &str = "order_key";
    pub const RECORD: &str = "record";
}

/// Handles on the fields of the read schema.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadFields {
    pub read_id: Field,
    pub organisation_id: Field,
    pub camera_id: Field,
    pub plate: Field,
    pub plate_reversed: Field,
    pub region: Field,
    pub make: Field,
    pub model: Field,
    pub vehicle_type: Field,
    pub colour: Field,
    pub captured_at: Field,
    pub latitude: Field,
    pub longitude: Field,
    pub order_key: Field,
    pub record: Field,
}

fn build_schema() -> (Schema, ReadFields) {
    use field_names::*;
    let mut builder = Schema::builder();
    let fields = ReadFields {
        read_id: builder.add_text_field(READ_ID, STRING),
        organisation_id: builder.add_text_field(ORGANISATION_ID, STRING),
        camera_id: builder.add_text_field(CAMERA_ID, STRING),
        plate: builder.add_text_field(PLATE, STRING | FAST),
        plate_reversed: builder.add_text_field(PLATE_REVERSED, STRING),
        region: builder.add_text_field(REGION, STRING),
        make: builder.add_text_field(MAKE, STRING),
        model: builder.add_text_field(MODEL, STRING),
        vehicle_type: builder.add_text_field(VEHICLE_TYPE, STRING),
        colour: builder.add_text_field(COLOUR, STRING),
        captured_at: builder.add_i64_field(CAPTURED_AT, INDEXED | FAST),
        latitude: builder.add_f64_field(LATITUDE, FAST),
        longitude: builder.add_f64_field(LONGITUDE, FAST),
        order_key: builder.add_u64_field(ORDER_KEY, FAST),
        record: builder.add_bytes_field(RECORD, STORED),
    };
    (builder.build(), fields)
}

/// Returns the key that orders reads captured in the same microsecond: the first 8 bytes of the
/// SHA-256 of the read id. Results are sorted by (captured_at, order key), and a page cursor
/// contains both, so pages neither repeat nor skip reads that share a timestamp.
///
/// NOTE: two reads of the same microsecond whose keys collide (a chance of about 2^-64 per
/// pair) compare equal, and a page boundary between them would skip one.
pub fn order_key(read_id: &str) -> u64 {
    let digest = Sha256::digest(read_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// Normalises a vehicle attribute for the index and for filters: trimmed and lower-cased.
pub(crate) fn attribute_term(value: &str) -> String {
    value.trim().to_lowercase()
}

/// Normalises a region for the index and for filters: trimmed and upper-cased.
pub(crate) fn region_term(value: &str) -> String {
    value.trim().to_uppercase()
}

/// Errors of the read index. None of them is fixed by retrying, except an I/O error that a full
/// disk caused.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("search index folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open search index folder {path}: {message}")]
    OpenFolder { path: String, message: String },
    #[error("stored read {read_id} is not valid JSON: {source}")]
    StoredRecord {
        read_id: String,
        source: serde_json::Error,
    },
    #[error("commit payload of the search index is invalid: {0}")]
    Payload(serde_json::Error),
    #[error(
        "search index contains offsets of topic `{stored}` but follows `{configured}`; \
         use a new index folder for a new topic"
    )]
    TopicMismatch { stored: String, configured: String },
}

/// Topic position stored in every commit, so the index and its offsets always agree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredOffsets {
    /// The topic the offsets belong to, topic prefix included.
    pub topic: String,
    /// Next offset to consume per partition (exclusive: every record before it is indexed).
    pub next_offsets: BTreeMap<i32, i64>,
}

/// Memory budget of the index writer for all its threads. Tantivy needs at least 15 MB a thread.
pub const DEFAULT_WRITER_MEMORY_BYTES: usize = 100_000_000;

/// The read index: one Tantivy index with its single writer and a reader for searches.
///
/// Searches see the state of the last commit; [`ReadIndex::commit`] reloads the reader, so a
/// search after a commit returns reads added before it.
pub struct ReadIndex {
    index: Index,
    writer: IndexWriter,
    reader: IndexReader,
    fields: ReadFields,
}

impl ReadIndex {
    /// Opens the index in `folder`, creating the folder and an empty index when they are missing.
    pub fn open(folder: &Path, writer_memory_bytes: usize) -> Result<Self, IndexError> {
        std::fs::create_dir_all(folder).map_err(|source| IndexError::Folder {
            path: folder.display().to_string(),
            source,
        })?;
        let directory = MmapDirectory::open(folder).map_err(|error| IndexError::OpenFolder {
            path: folder.display().to_string(),
            message: error.to_string(),
        })?;
        let (schema, fields) = build_schema();
        let index = Index::open_or_create(directory, schema)?;
        Self::from_index(index, fields, writer_memory_bytes)
    }

    /// Creates an index held in memory, for tests and benchmarks.
    pub fn in_memory(writer_memory_bytes: usize) -> Result<Self, IndexError> {
        let (schema, fields) = build_schema();
        Self::from_index(Index::create_in_ram(schema), fields, writer_memory_bytes)
    }

    fn from_index(
        index: Index,
        fields: ReadFields,
        writer_memory_bytes: usize,
    ) -> Result<Self, IndexError> {
        let writer = index.writer(writer_memory_bytes)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            index,
            writer,
            reader,
            fields,
        })
    }

    /// Adds a read, replacing any indexed read with the same read id, so a re-delivered read is
    /// indexed once. The change is visible to searches after the next commit.
    pub fn upsert(&mut self, read: &CameraRead) -> Result<(), IndexError> {
        self.delete(&read.read_id);
        let document = self.document(read)?;
        self.writer.add_document(document)?;
        Ok(())
    }

    /// Deletes the read with `read_id`, if indexed. Deleting an unknown id does nothing, which
    /// makes tombstones idempotent.
    pub fn delete(&mut self, read_id: &str) {
        self.writer
            .delete_term(Term::from_field_text(self.fields.read_id, read_id));
    }

    fn document(&self, read: &CameraRead) -> Result<TantivyDocument, IndexError> {
        let fields = &self.fields;
        let mut document = TantivyDocument::default();
        document.add_text(fields.read_id, &read.read_id);
        document.add_text(fields.organisation_id, &read.organisation_id);
        document.add_text(fields.camera_id, &read.camera_id);
        if read.plate.present && !read.plate.normalised.is_empty() {
            document.add_text(fields.plate, &read.plate.normalised);
            let reversed: String = read.plate.normalised.chars().rev().collect();
            document.add_text(fields.plate_reversed, reversed);
        }
        if let Some(region) = &read.plate.region {
            document.add_text(fields.region, region_term(region));
        }
        let vehicle = &read.vehicle;
        for (field, attribute) in [
            (fields.make, &vehicle.make),
            (fields.model, &vehicle.model),
            (fields.vehicle_type, &vehicle.vehicle_type),
            (fields.colour, &vehicle.colour),
        ] {
            if let Some(attribute) = attribute {
                document.add_text(field, attribute_term(&attribute.value));
            }
        }
        document.add_i64(fields.captured_at, read.captured_at);
        if let Some(location) = &read.location {
            document.add_f64(fields.latitude, location.latitude);
            document.add_f64(fields.longitude, location.longitude);
        }
        document.add_u64(fields.order_key, order_key(&read.read_id));
        let record = serde_json::to_vec(read).map_err(|source| IndexError::StoredRecord {
            read_id: read.read_id.clone(),
            source,
        })?;
        document.add_bytes(fields.record, &record);
        Ok(document)
    }

    /// Commits every change since the last commit together with `offsets`, then reloads the
    /// reader so searches see the commit. A crash before this call loses the uncommitted
    /// changes and their offsets together, so a restart consumes them again.
    pub fn commit(&mut self, offsets: &StoredOffsets) -> Result<(), IndexError> {
        let payload = serde_json::to_string(offsets).map_err(IndexError::Payload)?;
        let mut prepared = self.writer.prepare_commit()?;
        prepared.set_payload(&payload);
        prepared.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Returns the offsets of the last commit for `topic`: empty for a new index, and an error
    /// when the index was built from another topic.
    pub fn stored_offsets(&self, topic: &str) -> Result<StoredOffsets, IndexError> {
        let metas = self.index.load_metas()?;
        let Some(payload) = metas.payload else {
            return Ok(StoredOffsets {
                topic: topic.to_string(),
                next_offsets: BTreeMap::new(),
            });
        };
        let stored: StoredOffsets = serde_json::from_str(&payload).map_err(IndexError::Payload)?;
        if stored.topic != topic {
            return Err(IndexError::TopicMismatch {
                stored: stored.topic,
                configured: topic.to_string(),
            });
        }
        Ok(stored)
    }

    /// Returns a searcher on the last commit.
    pub fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    /// Returns the number of reads searches can see.
    pub fn read_count(&self) -> u64 {
        self.searcher().num_docs()
    }

    pub(crate) fn reader(&self) -> &IndexReader {
        &self.reader
    }

    pub(crate) fn fields(&self) -> &ReadFields {
        &self.fields
    }
}
