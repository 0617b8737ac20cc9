//! Reads one string field of an encoded record without decoding the fields around it.
//!
//! An Avro datum has no field offsets, so reaching a field means stepping over every value
//! before it. A [`FieldPlan`], built once from the schema, lists for each of those values how
//! its encoding is delimited: one varint, a length prefix, a fixed size, a union branch or
//! counted blocks. Following the plan touches a few length prefixes per record, where a serde
//! deserializer visits every skipped field, and stops at the target, leaving the rest unread.
//!
//! The matcher needs only the normalised plate of nearly every read, and reads it with a
//! [`StringFieldReader`].

use std::collections::HashSet;
use std::fmt;

use serde_avro_fast::schema::{RegularType, SchemaKey, SchemaMut};

use crate::codec::{AvroRecord, CodecError, RecordSchemas};

/// Errors of building a plan: the path does not lead to a string field of the schema.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FieldPathError {
    #[error("schema is invalid: {0}")]
    InvalidSchema(String),
    #[error("field path is empty")]
    EmptyPath,
    #[error("record `{record}` has no field `{field}`")]
    NotFound { record: String, field: String },
    #[error("field `{path}` is not a record, so it has no field `{field}`")]
    NotARecord { path: String, field: String },
    #[error("field `{path}` is not a string")]
    NotAString { path: String },
    #[error(
        "field `{path}` has a recursive type, which a plan cannot step over; \
         choose a field that comes before it"
    )]
    Recursive { path: String },
}

/// Rule for stepping over one encoded value.
#[derive(Debug, Clone, PartialEq)]
enum Skip {
    /// `int`, `long` and `enum`: one zig-zag varint.
    Varint,
    /// `string` and `bytes`: a varint length, then that many bytes.
    LengthPrefixed,
    /// `boolean`, `float`, `double`, `fixed` and adjacent runs of them: this many bytes.
    Bytes(usize),
    /// A varint branch index, then the value of that branch.
    Union(Vec<Vec<Skip>>),
    /// `array` and `map`: blocks of items, each block led by its item count and ended by a
    /// count of zero. A map's item is a string key and a value.
    Blocks(Vec<Skip>),
}

/// The values to step over for one field before the target, with the field's dotted path for
/// error messages.
#[derive(Debug, Clone)]
struct Step {
    field: String,
    skips: Vec<Skip>,
}

/// Steps that lead to one string field in datums of one schema. Build it with
/// [`FieldPlan::new`] and read with [`FieldPlan::read`].
#[derive(Debug, Clone)]
pub struct FieldPlan {
    path: String,
    steps: Vec<Step>,
}

impl FieldPlan {
    /// Plans how to reach the string field at `path` (field names from the top-level record
    /// down) in datums written with the schema `schema_json`. Fails when the path does not end
    /// at a string, passes through something other than a record, or a value before the field
    /// has a recursive type.
    pub fn new(schema_json: &str, path: &[&str]) -> Result<Self, FieldPathError> {
        let schema: SchemaMut =
            schema_json
                .parse()
                .map_err(|error: serde_avro_fast::schema::SchemaError| {
                    FieldPathError::InvalidSchema(error.to_string())
                })?;
        if path.is_empty() {
            return Err(FieldPathError::EmptyPath);
        }

        // Walk down the records of the path. At each level, every field before the one named
        // is a value to step over.
        let mut steps = Vec::new();
        let mut key = SchemaKey::root();
        let mut prefix = String::new();
        for &name in path {
            let RegularType::Record(record) = &node(&schema, key)?.type_ else {
                return Err(FieldPathError::NotARecord {
                    path: prefix,
                    field: name.to_owned(),
                });
            };
            let position = record
                .fields
                .iter()
                .position(|field| field.name == name)
                .ok_or_else(|| FieldPathError::NotFound {
                    record: record.name.fully_qualified_name().to_owned(),
                    field: name.to_owned(),
                })?;
            for field in &record.fields[..position] {
                let field_path = join(&prefix, &field.name);
                let mut skips = Vec::new();
                plan_value(&schema, field.type_, &mut HashSet::new(), &mut skips).map_err(
                    |problem| match problem {
                        PlanProblem::Recursive => FieldPathError::Recursive {
                            path: field_path.clone(),
                        },
                        PlanProblem::MissingNode(key) => missing_node(key),
                    },
                )?;
                steps.push(Step {
                    field: field_path,
                    skips,
                });
            }
            prefix = join(&prefix, name);
            key = record.fields[position].type_;
        }
        if !matches!(node(&schema, key)?.type_, RegularType::String) {
            return Err(FieldPathError::NotAString { path: prefix });
        }
        Ok(Self {
            path: prefix,
            steps,
        })
    }

    /// Returns the field's text, borrowed from `datum`. Values before the field are stepped
    /// over, not checked, so a datum that is corrupt only there still gives its text. A full
    /// decode rejects such a datum.
    pub fn read<'a>(&self, datum: &'a [u8]) -> Result<&'a str, FieldReadError> {
        let mut cursor = Cursor { rest: datum };
        for step in &self.steps {
            for skip in &step.skips {
                cursor
                    .skip(skip)
                    .map_err(|problem| FieldReadError::new(&step.field, problem))?;
            }
        }
        let text = cursor
            .length_prefixed()
            .map_err(|problem| FieldReadError::new(&self.path, problem))?;
        std::str::from_utf8(text)
            .map_err(|_| FieldReadError::new(&self.path, DatumProblem::InvalidUtf8))
    }

    /// Dotted path of the field this plan reads, such as `plate.normalised`.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// A datum without a valid value where its schema expects one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}` {problem}")]
pub struct FieldReadError {
    field: String,
    problem: DatumProblem,
}

impl FieldReadError {
    fn new(field: &str, problem: DatumProblem) -> Self {
        Self {
            field: field.to_owned(),
            problem,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DatumProblem {
    Truncated,
    VarintTooLong,
    NegativeLength(i64),
    UnionBranch { index: i64, branches: usize },
    InvalidUtf8,
}

impl fmt::Display for DatumProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => formatter.write_str("is cut off: the datum ends inside it"),
            Self::VarintTooLong => formatter.write_str("has a varint longer than 10 bytes"),
            Self::NegativeLength(length) => write!(formatter, "has a negative length {length}"),
            Self::UnionBranch { index, branches } => write!(
                formatter,
                "has union branch {index}, but the union has {branches} branches"
            ),
            Self::InvalidUtf8 => formatter.write_str("is not valid UTF-8"),
        }
    }
}

/// Reads one string field of records of type `R` written with `R`'s current schema. Records
/// written with a historical schema are left to [`crate::decode`], which resolves them.
pub struct StringFieldReader {
    schemas: &'static RecordSchemas,
    plan: FieldPlan,
}

impl StringFieldReader {
    /// Plans how to reach the string field at `path` in `R`'s current schema.
    pub fn for_current<R: AvroRecord>(path: &[&str]) -> Result<Self, FieldPathError> {
        let schemas = R::schemas();
        Ok(Self {
            schemas,
            plan: FieldPlan::new(schemas.current_json(), path)?,
        })
    }

    /// Returns the field's text, borrowed from the single-object encoded `bytes`, or `None`
    /// when a historical schema wrote them and the caller has to decode them in full. Fails
    /// when the header is invalid, the fingerprint is unknown, or the datum is cut off or
    /// invalid before the end of the field.
    pub fn read<'a>(&self, bytes: &'a [u8]) -> Result<Option<&'a str>, CodecError> {
        let Some(datum) = self.schemas.current_datum(bytes)? else {
            return Ok(None);
        };
        self.plan
            .read(datum)
            .map(Some)
            .map_err(|error| CodecError::Datum {
                record: self.schemas.record_name(),
                message: error.to_string(),
            })
    }
}

fn node(
    schema: &SchemaMut,
    key: SchemaKey,
) -> Result<&serde_avro_fast::schema::SchemaNode, FieldPathError> {
    schema.get(key).ok_or_else(|| missing_node(key))
}

fn missing_node(key: SchemaKey) -> FieldPathError {
    FieldPathError::InvalidSchema(format!("no schema node {}", key.idx()))
}

/// Reason that a value's type cannot be planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlanProblem {
    /// The type contains itself, so its skips would never end.
    Recursive,
    /// The schema refers to a node it does not have. The parser should not produce such a
    /// schema, so this is reported as an invalid schema.
    MissingNode(SchemaKey),
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Appends how to step over a value of the type at `key`. Records are flattened into their
/// fields' skips.
fn plan_value(
    schema: &SchemaMut,
    key: SchemaKey,
    expanding: &mut HashSet<SchemaKey>,
    skips: &mut Vec<Skip>,
) -> Result<(), PlanProblem> {
    let Some(node) = schema.get(key) else {
        return Err(PlanProblem::MissingNode(key));
    };
    match &node.type_ {
        RegularType::Null => {}
        RegularType::Boolean => push_bytes(skips, 1),
        RegularType::Float => push_bytes(skips, 4),
        RegularType::Double => push_bytes(skips, 8),
        RegularType::Fixed(fixed) => push_bytes(skips, fixed.size),
        RegularType::Int | RegularType::Long | RegularType::Enum(_) => skips.push(Skip::Varint),
        RegularType::Bytes | RegularType::String => skips.push(Skip::LengthPrefixed),
        RegularType::Array(array) => {
            let mut item = Vec::new();
            plan_value(schema, array.items, expanding, &mut item)?;
            skips.push(Skip::Blocks(item));
        }
        RegularType::Map(map) => {
            let mut item = vec![Skip::LengthPrefixed];
            plan_value(schema, map.values, expanding, &mut item)?;
            skips.push(Skip::Blocks(item));
        }
        RegularType::Union(union) => {
            let mut branches = Vec::with_capacity(union.variants.len());
            for &variant in &union.variants {
                let mut branch = Vec::new();
                plan_value(schema, variant, expanding, &mut branch)?;
                branches.push(branch);
            }
            skips.push(Skip::Union(branches));
        }
        RegularType::Record(record) => {
            if !expanding.insert(key) {
                return Err(PlanProblem::Recursive);
            }
            for field in &record.fields {
                plan_value(schema, field.type_, expanding, skips)?;
            }
            expanding.remove(&key);
        }
    }
    Ok(())
}

/// Merges a fixed-size value into a fixed-size run before it, so a record of doubles costs
/// one step.
fn push_bytes(skips: &mut Vec<Skip>, count: usize) {
    if count == 0 {
        return;
    }
    if let Some(Skip::Bytes(run)) = skips.last_mut() {
        *run += count;
    } else {
        skips.push(Skip::Bytes(count));
    }
}

struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn skip(&mut self, skip: &Skip) -> Result<(), DatumProblem> {
        match skip {
            Skip::Varint => self.varint().map(drop),
            Skip::LengthPrefixed => self.length_prefixed().map(drop),
            Skip::Bytes(count) => self.take(*count).map(drop),
            Skip::Union(branches) => {
                let index = self.varint()?;
                let branch = usize::try_from(index)
                    .ok()
                    .and_then(|index| branches.get(index))
                    .ok_or(DatumProblem::UnionBranch {
                        index,
                        branches: branches.len(),
                    })?;
                branch.iter().try_for_each(|skip| self.skip(skip))
            }
            Skip::Blocks(item) => self.skip_blocks(item),
        }
    }

    /// Steps over an array's or a map's blocks. A block with a negative count carries its
    /// size in bytes after the count, which lets the cursor jump over it.
    fn skip_blocks(&mut self, item: &[Skip]) -> Result<(), DatumProblem> {
        loop {
            let count = self.varint()?;
            if count == 0 {
                return Ok(());
            }
            if count < 0 {
                let size = self.length()?;
                self.take(size)?;
                continue;
            }
            for _ in 0..count {
                for skip in item {
                    self.skip(skip)?;
                }
            }
        }
    }

    /// Reads a zig-zag encoded long of at most ten bytes.
    fn varint(&mut self) -> Result<i64, DatumProblem> {
        let mut value: u64 = 0;
        for (index, &byte) in self.rest.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7F) << (7 * index);
            if byte & 0x80 == 0 {
                self.rest = &self.rest[index + 1..];
                // Zig-zag: the lowest bit is the sign.
                return Ok((value >> 1) as i64 ^ -((value & 1) as i64));
            }
        }
        if self.rest.len() >= 10 {
            Err(DatumProblem::VarintTooLong)
        } else {
            Err(DatumProblem::Truncated)
        }
    }

    fn length(&mut self) -> Result<usize, DatumProblem> {
        let length = self.varint()?;
        usize::try_from(length).map_err(|_| DatumProblem::NegativeLength(length))
    }

    fn length_prefixed(&mut self) -> Result<&'a [u8], DatumProblem> {
        let length = self.length()?;
        self.take(length)
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], DatumProblem> {
        if count > self.rest.len() {
            return Err(DatumProblem::Truncated);
        }
        let (taken, rest) = self.rest.split_at(count);
        self.rest = rest;
        Ok(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_reads_zig_zag_values() {
        let cases: [(&[u8], i64); 5] = [
            (&[0x00], 0),
            (&[0x01], -1),
            (&[0x02], 1),
            (&[0xAC, 0x02], 150),
            (
                &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
                i64::MIN,
            ),
        ];
        for (bytes, expected) in cases {
            let mut cursor = Cursor { rest: bytes };
            assert_eq!(cursor.varint(), Ok(expected), "bytes {bytes:02x?}");
            assert!(
                cursor.rest.is_empty(),
                "bytes {bytes:02x?} left some unread"
            );
        }
    }

    #[test]
    fn varint_rejects_eleven_bytes() {
        let bytes = [0x80; 11];
        assert_eq!(
            Cursor { rest: &bytes }.varint(),
            Err(DatumProblem::VarintTooLong)
        );
    }

    #[test]
    fn varint_reports_cut_off() {
        assert_eq!(
            Cursor {
                rest: &[0x80, 0x80]
            }
            .varint(),
            Err(DatumProblem::Truncated)
        );
        assert_eq!(Cursor { rest: &[] }.varint(), Err(DatumProblem::Truncated));
    }

    #[test]
    fn fixed_size_values_merge() {
        let schema = r#"{"type": "record", "name": "R", "fields": [
            {"name": "point", "type": {"type": "record", "name": "P", "fields": [
                {"name": "x", "type": "double"}, {"name": "y", "type": "double"},
                {"name": "flag", "type": "boolean"}, {"name": "nothing", "type": "null"}]}},
            {"name": "target", "type": "string"}]}"#;
        let plan = FieldPlan::new(schema, &["target"]).unwrap();
        assert_eq!(plan.steps.len(), 1);
        assert_eq!(plan.steps[0].skips, vec![Skip::Bytes(17)]);
    }
}
