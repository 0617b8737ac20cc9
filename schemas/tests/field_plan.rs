//! `FieldPlan` against datums that apache_avro encodes, for a schema with every Avro type
//! before the target field, and against cut-off and hand-made datums.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use alpr_schemas::field_reader::{FieldPathError, FieldPlan};
use apache_avro::types::Value;
use apache_avro::Schema;
use proptest::prelude::*;

/// Every kind of value a plan steps over, nested, before `target`.
const EVERY_TYPE: &str = r#"{
  "type": "record", "name": "EveryType", "namespace": "test",
  "fields": [
    {"name": "flag", "type": "boolean"},
    {"name": "count", "type": "int"},
    {"name": "total", "type": "long"},
    {"name": "ratio", "type": "float"},
    {"name": "value", "type": "double"},
    {"name": "blob", "type": "bytes"},
    {"name": "colour", "type": {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN", "BLUE"]}},
    {"name": "digest", "type": {"type": "fixed", "name": "Digest", "size": 4}},
    {"name": "stamp", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "scores", "type": {"type": "map", "values": "long"}},
    {"name": "choice", "type": ["null", "string", "long", {
      "type": "record", "name": "Inner",
      "fields": [
        {"name": "weight", "type": "double"},
        {"name": "digests", "type": {"type": "array", "items": "Digest"}}
      ]}]},
    {"name": "nested", "type": {"type": "array", "items": {"type": "map", "values": ["null", "Inner"]}}},
    {"name": "inner", "type": "Inner"},
    {"name": "target", "type": "string"},
    {"name": "after", "type": "long"}
  ]
}"#;

fn inner_strategy() -> impl Strategy<Value = Value> {
    (
        any::<f64>(),
        proptest::collection::vec(any::<[u8; 4]>(), 0..4),
    )
        .prop_map(|(weight, digests)| {
            Value::Record(vec![
                ("weight".into(), Value::Double(weight)),
                (
                    "digests".into(),
                    Value::Array(
                        digests
                            .into_iter()
                            .map(|digest| Value::Fixed(4, digest.to_vec()))
                            .collect(),
                    ),
                ),
            ])
        })
}

fn choice_strategy() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Union(0, Box::new(Value::Null))),
        any::<String>().prop_map(|text| Value::Union(1, Box::new(Value::String(text)))),
        any::<i64>().prop_map(|number| Value::Union(2, Box::new(Value::Long(number)))),
        inner_strategy().prop_map(|inner| Value::Union(3, Box::new(inner))),
    ]
}

fn nested_strategy() -> impl Strategy<Value = Value> {
    let optional_inner = prop_oneof![
        Just(Value::Union(0, Box::new(Value::Null))),
        inner_strategy().prop_map(|inner| Value::Union(1, Box::new(inner))),
    ];
    proptest::collection::vec(
        proptest::collection::hash_map(any::<String>(), optional_inner, 0..3),
        0..3,
    )
    .prop_map(|maps| {
        Value::Array(
            maps.into_iter()
                .map(|map| Value::Map(map.into_iter().collect()))
                .collect(),
        )
    })
}

prop_compose! {
    fn every_type_strategy()(
        flag in any::<bool>(),
        count in any::<i32>(),
        total in any::<i64>(),
        ratio in any::<f32>(),
        value in any::<f64>(),
        blob in proptest::collection::vec(any::<u8>(), 0..40),
        colour in 0u32..3,
        digest in any::<[u8; 4]>(),
        stamp in any::<i64>(),
        id in any::<u128>(),
        tags in proptest::collection::vec(any::<String>(), 0..5),
        scores in proptest::collection::hash_map(any::<String>(), any::<i64>(), 0..5),
        choice in choice_strategy(),
        nested in nested_strategy(),
        inner in inner_strategy(),
        target in any::<String>(),
        after in any::<i64>(),
    ) -> (Value, String, i64) {
        let symbols = ["RED", "GREEN", "BLUE"];
        let record = Value::Record(vec![
            ("flag".into(), Value::Boolean(flag)),
            ("count".into(), Value::Int(count)),
            ("total".into(), Value::Long(total)),
            ("ratio".into(), Value::Float(ratio)),
            ("value".into(), Value::Double(value)),
            ("blob".into(), Value::Bytes(blob)),
            ("colour".into(), Value::Enum(colour, symbols[colour as usize].into())),
            ("digest".into(), Value::Fixed(4, digest.to_vec())),
            ("stamp".into(), Value::TimestampMicros(stamp)),
            ("id".into(), Value::Uuid(uuid::Uuid::from_u128(id))),
            ("tags".into(), Value::Array(tags.into_iter().map(Value::String).collect())),
            ("scores".into(), Value::Map(
                scores.into_iter().map(|(key, score)| (key, Value::Long(score))).collect::<HashMap<_, _>>(),
            )),
            ("choice".into(), choice),
            ("nested".into(), nested),
            ("inner".into(), inner),
            ("target".into(), Value::String(target.clone())),
            ("after".into(), Value::Long(after)),
        ]);
        (record, target, after)
    }
}

/// Length of the zig-zag varint that encodes `value`.
fn varint_len(value: i64) -> usize {
    let mut zig_zag = ((value << 1) ^ (value >> 63)) as u64;
    let mut length = 1;
    while zig_zag >= 0x80 {
        zig_zag >>= 7;
        length += 1;
    }
    length
}

fn encode_every_type(record: Value) -> Vec<u8> {
    let schema = Schema::parse_str(EVERY_TYPE).unwrap();
    apache_avro::to_avro_datum(&schema, record).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn plan_reads_target_after_every_type((record, target, _) in every_type_strategy()) {
        let plan = FieldPlan::new(EVERY_TYPE, &["target"]).unwrap();
        let datum = encode_every_type(record);
        prop_assert_eq!(plan.read(&datum), Ok(target.as_str()));
    }

    #[test]
    fn plan_rejects_every_cut_datum((record, target, after) in every_type_strategy()) {
        let plan = FieldPlan::new(EVERY_TYPE, &["target"]).unwrap();
        let datum = encode_every_type(record);
        // The target ends where the last field, one varint, begins.
        let target_end = datum.len() - varint_len(after);
        prop_assert_eq!(&datum[target_end - target.len()..target_end], target.as_bytes());
        for end in 0..target_end {
            prop_assert!(plan.read(&datum[..end]).is_err(), "datum cut at {} of {}", end, datum.len());
        }
        prop_assert_eq!(plan.read(&datum[..target_end]), Ok(target.as_str()));
    }
}

#[test]
fn plan_jumps_over_sized_blocks() {
    let schema = r#"{"type": "record", "name": "Sized", "fields": [
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "target", "type": "string"}]}"#;
    let plan = FieldPlan::new(schema, &["target"]).unwrap();
    // A block of two items written with its byte size: count -2 (zig-zag 3), size 6 (zig-zag
    // 12), then "ab" and "cd" as length 2 (zig-zag 4) and the bytes. A block of one plain item
    // follows, then the end of the array and the target "ok".
    let datum = [
        3, 12, 4, b'a', b'b', 4, b'c', b'd', 2, 2, b'x', 0, 4, b'o', b'k',
    ];
    assert_eq!(plan.read(&datum), Ok("ok"));
}

#[test]
fn plan_names_field_with_bad_union_branch() {
    let schema = r#"{"type": "record", "name": "Choice", "fields": [
        {"name": "choice", "type": ["null", "string"]},
        {"name": "target", "type": "string"}]}"#;
    let plan = FieldPlan::new(schema, &["target"]).unwrap();
    // Branch 2 (zig-zag 4) of a two-branch union.
    let error = plan.read(&[4, 2, b'x']).unwrap_err();
    assert_eq!(
        error.to_string(),
        "field `choice` has union branch 2, but the union has 2 branches"
    );
}

#[test]
fn plan_rejects_negative_length() {
    let schema = r#"{"type": "record", "name": "Text", "fields": [
        {"name": "first", "type": "string"},
        {"name": "target", "type": "string"}]}"#;
    let plan = FieldPlan::new(schema, &["target"]).unwrap();
    let error = plan.read(&[2, b'a', 1]).unwrap_err();
    assert_eq!(error.to_string(), "field `target` has a negative length -1");
}

#[test]
fn plan_rejects_invalid_utf8_target() {
    let schema = r#"{"type": "record", "name": "Text", "fields": [
        {"name": "target", "type": "string"}]}"#;
    let plan = FieldPlan::new(schema, &["target"]).unwrap();
    let error = plan.read(&[4, 0xC3, 0x28]).unwrap_err();
    assert_eq!(error.to_string(), "field `target` is not valid UTF-8");
}

#[test]
fn plan_follows_nested_path() {
    let plan = FieldPlan::new(EVERY_TYPE, &["inner", "weight"]);
    assert_eq!(
        plan.unwrap_err(),
        FieldPathError::NotAString {
            path: "inner.weight".into()
        }
    );
    let schema = r#"{"type": "record", "name": "Outer", "fields": [
        {"name": "before", "type": "long"},
        {"name": "plate", "type": {"type": "record", "name": "Plate", "fields": [
            {"name": "present", "type": "boolean"},
            {"name": "text", "type": "string"},
            {"name": "normalised", "type": "string"}]}}]}"#;
    let plan = FieldPlan::new(schema, &["plate", "normalised"]).unwrap();
    assert_eq!(plan.path(), "plate.normalised");
    // before = 1, present = true, text "ab", normalised "AB".
    let datum = [2, 1, 4, b'a', b'b', 4, b'A', b'B'];
    assert_eq!(plan.read(&datum), Ok("AB"));
    let error = plan.read(&datum[..4]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "field `plate.text` is cut off: the datum ends inside it"
    );
}

#[test]
fn plan_rejects_paths_that_lead_nowhere() {
    let cases: [(&[&str], FieldPathError); 4] = [
        (&[], FieldPathError::EmptyPath),
        (
            &["missing"],
            FieldPathError::NotFound {
                record: "test.EveryType".into(),
                field: "missing".into(),
            },
        ),
        (
            &["tags", "first"],
            FieldPathError::NotARecord {
                path: "tags".into(),
                field: "first".into(),
            },
        ),
        (
            &["choice"],
            FieldPathError::NotAString {
                path: "choice".into(),
            },
        ),
    ];
    for (path, expected) in cases {
        assert_eq!(
            FieldPlan::new(EVERY_TYPE, path).unwrap_err(),
            expected,
            "path {path:?}"
        );
    }
}

#[test]
fn plan_rejects_recursive_type_before_target() {
    let schema = r#"{"type": "record", "name": "Node", "fields": [
        {"name": "next", "type": ["null", "Node"]},
        {"name": "label", "type": "string"}]}"#;
    assert_eq!(
        FieldPlan::new(schema, &["label"]).unwrap_err(),
        FieldPathError::Recursive {
            path: "next".into()
        }
    );
}

#[test]
fn plan_rejects_invalid_schema() {
    let error = FieldPlan::new("{\"type\": \"record\"}", &["target"]).unwrap_err();
    assert!(matches!(error, FieldPathError::InvalidSchema(_)), "{error}");
}
