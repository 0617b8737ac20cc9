//! Round trips of every record type through the single-object codec, and reads of records
//! written with an older schema version.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

use alpr_schemas::codec::{fingerprint_of, AvroRecord};
use alpr_schemas::*;
use apache_avro::Schema;
use proptest::prelude::*;

fn sample_read() -> CameraRead {
    CameraRead {
        read_id: "0190f5a2-8c1e-7d3a-9b4e-2f6a1c3d5e7f".into(),
        camera_id: "cam-17".into(),
        organisation_id: "spd".into(),
        captured_at: 1_633_100_000_123_456,
        received_at: 1_633_100_000_223_456,
        location: Some(Location {
            latitude: 47.6062,
            longitude: -122.3321,
            heading: Some(270.0),
        }),
        plate: PlateRead {
            present: true,
            text: "7abc-1?3".into(),
            normalised: "7ABC1?3".into(),
            region: Some("US-WA".into()),
            confidence: Some(0.875),
            unreadable_positions: vec![5],
        },
        vehicle: VehicleRead {
            make: Some(VehicleAttribute {
                value: "Toyota".into(),
                confidence: Some(0.5),
            }),
            model: None,
            vehicle_type: Some(VehicleAttribute {
                value: "sedan".into(),
                confidence: None,
            }),
            colour: None,
        },
        image_ref: Some("images/2021/10/01/abc.jpg".into()),
        source: "http-json".into(),
    }
}

fn sample_entry() -> HotlistEntry {
    HotlistEntry {
        entry_id: "4a1f1c52-53f4-5b8e-8d0c-0e3f2a1b9c7d".into(),
        list: "NCIC".into(),
        agency_id: "wsp".into(),
        plate: "7AB*12".into(),
        region: None,
        reason: HotlistReason::StolenVehicle,
        priority: 1,
        match_policy: MatchPolicy::OcrTolerant,
        vehicle: VehicleDescription {
            year: Some("2014".into()),
            make: Some("TOYT".into()),
            ..Default::default()
        },
        case_number: Some("21-000123".into()),
        source_record_id: Some("V123456789".into()),
        valid_from: 1_600_000_000_000_000,
        expires_at: Some(1_700_000_000_000_000),
    }
}

#[test]
fn camera_read_round_trips() {
    let read = sample_read();
    let bytes = encode(&read).expect("encode");
    assert_eq!(decode::<CameraRead>(&bytes).expect("decode"), read);
}

#[test]
fn camera_read_without_optionals_round_trips() {
    let mut read = sample_read();
    read.location = None;
    read.plate.region = None;
    read.plate.confidence = None;
    read.vehicle = VehicleRead::default();
    read.image_ref = None;
    let bytes = encode(&read).expect("encode");
    assert_eq!(decode::<CameraRead>(&bytes).expect("decode"), read);
}

#[test]
fn hotlist_entry_round_trips() {
    let entry = sample_entry();
    let bytes = encode(&entry).expect("encode");
    assert_eq!(decode::<HotlistEntry>(&bytes).expect("decode"), entry);
}

fn sample_alert() -> Alert {
    Alert {
        alert_id: "9d3c2b1a-0f1e-5d2c-8b3a-4f5e6d7c8b9a".into(),
        read: sample_read(),
        entry: AlertEntry {
            entry_id: sample_entry().entry_id,
            list: "NCIC".into(),
            agency_id: "wsp".into(),
            plate: "7ABC1?3".into(),
            region: Some("US-WA".into()),
            reason: HotlistReason::StolenPlate.as_symbol().into(),
            priority: 2,
            case_number: None,
        },
        match_detail: MatchDetail {
            kind: MatchKind::Exact,
            read_plate: "7ABC1?3".into(),
            entry_plate: "7ABC1?3".into(),
            region_confirmed: true,
            differences: vec![MatchDifference {
                position: 5,
                read_char: "Z".into(),
                entry_char: "2".into(),
                class: "2Z".into(),
            }],
            list_imported_at: Some(1_633_096_400_000_000),
            list_age_seconds: Some(3_600),
        },
        recipient_agency_id: "wsp".into(),
        emitted_at: 1_633_100_000_323_456,
    }
}

#[test]
fn alert_round_trips() {
    let alert = sample_alert();
    let bytes = encode(&alert).expect("encode");
    assert_eq!(decode::<Alert>(&bytes).expect("decode"), alert);
}

fn sample_hold() -> EvidenceHold {
    EvidenceHold {
        hold_id: "5b0c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d".into(),
        case_number: "21-000123".into(),
        read_ids: vec![
            sample_read().read_id,
            "0190f5a2-8c1e-7d3a-9b4e-2f6a1c3d5e80".into(),
        ],
        placed_by: "det-jones".into(),
        placed_at: 1_633_200_000_000_000,
        reason: "homicide investigation".into(),
        review_at: None,
    }
}

#[test]
fn evidence_hold_round_trips() {
    let hold = sample_hold();
    let bytes = encode(&hold).expect("encode");
    assert_eq!(decode::<EvidenceHold>(&bytes).expect("decode"), hold);
}

fn sample_event() -> AuditEvent {
    AuditEvent {
        event_id: "6c1d2e3f-4051-4b6c-9d7e-8f9a0b1c2d3e".into(),
        actor: "det-jones".into(),
        organisation_id: "spd".into(),
        occurred_at: 1_633_300_000_000_000,
        action: AuditAction::Search,
        case_number: Some("21-000123".into()),
        purpose: Some("homicide".into()),
        query: Some(r#"{"plate":"7AB*"}"#.into()),
        result_count: Some(12),
        previous_hash: String::new(),
        hash: "ab".repeat(32),
    }
}

#[test]
fn audit_event_round_trips() {
    let event = sample_event();
    let bytes = encode(&event).expect("encode");
    assert_eq!(decode::<AuditEvent>(&bytes).expect("decode"), event);
}

/// One registry record of each kind, each with only its own field set.
fn sample_registry_records() -> Vec<RegistryRecord> {
    let organisation = Organisation {
        organisation_id: "cahp".into(),
        name: "California Highway Patrol".into(),
        level: OrganisationLevel::State,
        state: Some("US-CA".into()),
    };
    let federal = Organisation {
        organisation_id: "fbi".into(),
        name: "Federal Bureau of Investigation".into(),
        level: OrganisationLevel::Federal,
        state: None,
    };
    let camera = Camera {
        camera_id: "cam-1".into(),
        organisation_id: "cahp".into(),
        name: "I-5 at Sand Canyon".into(),
        latitude: 33.66,
        longitude: -117.75,
        token_hash: "cd".repeat(32),
    };
    let user = User {
        user_id: "det-1".into(),
        organisation_id: "cahp".into(),
        role: UserRole::Auditor,
        token_hash: "ef".repeat(32),
        created_at: 1_633_300_000_000_000,
    };
    let grant = SharingGrant {
        owner_organisation_id: "hoa".into(),
        grantee_organisation_id: "cahp".into(),
        granted_at: 1_633_400_000_000_000,
        granted_by: "admin-1".into(),
    };
    vec![
        RegistryRecord {
            organisation: Some(organisation),
            ..RegistryRecord::default()
        },
        RegistryRecord {
            organisation: Some(federal),
            ..RegistryRecord::default()
        },
        RegistryRecord {
            camera: Some(camera),
            ..RegistryRecord::default()
        },
        RegistryRecord {
            user: Some(user),
            ..RegistryRecord::default()
        },
        RegistryRecord {
            grant: Some(grant),
            ..RegistryRecord::default()
        },
    ]
}

#[test]
fn registry_records_round_trip() {
    for record in sample_registry_records() {
        let bytes = encode(&record).expect("encode");
        assert_eq!(decode::<RegistryRecord>(&bytes).expect("decode"), record);
    }
}

#[test]
fn registry_record_is_not_another_record_type() {
    let bytes = encode(&sample_registry_records()[0]).expect("encode");
    assert!(is_encoded_as::<RegistryRecord>(&bytes));
    assert!(!is_encoded_as::<EvidenceHold>(&bytes));
    assert!(decode::<EvidenceHold>(&bytes).is_err());
}

/// Encodes `event` as a producer on the first AuditEvent schema, without `READS_DELETED`, would
/// have.
fn encode_with_v1_audit_schema(event: &AuditEvent) -> Vec<u8> {
    let v1_schema = Schema::parse_str(include_str!("../history/audit_event.v1.avsc")).unwrap();
    let value = apache_avro::to_value(event)
        .unwrap()
        .resolve(&v1_schema)
        .expect("event fits the v1 schema");
    let datum = apache_avro::to_avro_datum(&v1_schema, value).expect("encode with v1");
    let mut framed = vec![0xC3, 0x01];
    framed.extend_from_slice(&fingerprint_of(&v1_schema));
    framed.extend_from_slice(&datum);
    framed
}

#[test]
fn audit_event_v1_record_decodes() {
    let event = sample_event();
    let framed = encode_with_v1_audit_schema(&event);
    assert_ne!(
        framed[2..10],
        encode(&event).unwrap()[2..10],
        "v1 and the current schema have different fingerprints"
    );
    assert_eq!(decode::<AuditEvent>(&framed).expect("decode v1"), event);
    assert_eq!(AuditEvent::schemas().known_versions(), 2);
}

#[test]
fn encode_as_written_rebuilds_v1_bytes() {
    let event = sample_event();
    let framed = encode_with_v1_audit_schema(&event);
    assert_eq!(encode_as_written(&event, &framed).unwrap(), framed);

    let current = encode(&event).unwrap();
    assert_eq!(encode_as_written(&event, &current).unwrap(), current);

    let mut deleted = event.clone();
    deleted.action = AuditAction::ReadsDeleted;
    let as_v1 = encode_as_written(&deleted, &framed).unwrap();
    assert_eq!(
        decode::<AuditEvent>(&as_v1).unwrap().action,
        AuditAction::Other,
        "v1 has no READS_DELETED, so Avro resolution takes the enum's default"
    );
}

#[test]
fn reads_deleted_resolves_to_other_for_v1_reader() {
    let mut event = sample_event();
    event.action = AuditAction::ReadsDeleted;
    let framed = encode(&event).unwrap();
    let v1_schema = Schema::parse_str(include_str!("../history/audit_event.v1.avsc")).unwrap();
    let mut datum = &framed[10..];
    let value = apache_avro::from_avro_datum(
        AuditEvent::schemas().current(),
        &mut datum,
        Some(&v1_schema),
    )
    .expect("a v1 reader resolves the current schema's record");
    let apache_avro::types::Value::Record(fields) = value else {
        panic!("expected a record, got {value:?}");
    };
    let action = fields
        .iter()
        .find(|(name, _)| name == "action")
        .map(|(_, value)| value.clone());
    assert_eq!(
        action,
        Some(apache_avro::types::Value::Enum(5, "OTHER".into()))
    );
}

/// A producer still on version 1 of CameraRead wrote this record; the current reader fills the
/// fields added in version 2 with their defaults.
/// Encodes `read` as a producer on the first CameraRead schema would have.
fn encode_with_v1_read_schema(read: &CameraRead) -> Vec<u8> {
    let v1_schema = Schema::parse_str(include_str!("../history/camera_read.v1.avsc")).unwrap();
    let mut value = apache_avro::to_value(read).unwrap();
    if let apache_avro::types::Value::Record(fields) = &mut value {
        fields.retain(|(name, _)| name != "image_ref" && name != "source");
    }
    let datum = apache_avro::to_avro_datum(&v1_schema, value).expect("encode with v1");
    let mut framed = vec![0xC3, 0x01];
    framed.extend_from_slice(&fingerprint_of(&v1_schema));
    framed.extend_from_slice(&datum);
    framed
}

#[test]
fn camera_read_v1_record_decodes_with_defaults() {
    let read = sample_read();
    let framed = encode_with_v1_read_schema(&read);
    let decoded = decode::<CameraRead>(&framed).expect("decode v1 record");
    assert_eq!(decoded.image_ref, None);
    assert_eq!(decoded.source, "unknown");
    assert_eq!(decoded.plate, read.plate);
    assert_eq!(decoded.captured_at, read.captured_at);
    assert_eq!(CameraRead::schemas().known_versions(), 2);
}

#[test]
fn plate_reader_borrows_normalised_plate() {
    let read = sample_read();
    let bytes = encode(&read).unwrap();
    let plate = normalised_plate_of(&bytes).unwrap();
    assert_eq!(plate, Some(read.plate.normalised.as_str()));

    let mut other = read.clone();
    other.plate.normalised = "8XYZ99?".into();
    other.vehicle = VehicleRead::default();
    other.location = None;
    let bytes = encode(&other).unwrap();
    assert_eq!(normalised_plate_of(&bytes).unwrap(), Some("8XYZ99?"));
}

#[test]
fn plate_reader_stops_at_plate() {
    let read = sample_read();
    let bytes = encode(&read).unwrap();
    // The normalised plate follows the raw text, which for this read is different.
    let normalised = read.plate.normalised.as_bytes();
    let end = bytes
        .windows(normalised.len())
        .position(|window| window == normalised)
        .unwrap()
        + normalised.len();
    assert!(end < bytes.len() - 1, "the read has fields after its plate");
    let plate = normalised_plate_of(&bytes[..end]).unwrap();
    assert_eq!(plate, Some(read.plate.normalised.as_str()));
}

#[test]
fn plate_reader_leaves_older_schemas_to_full_decode() {
    let framed = encode_with_v1_read_schema(&sample_read());
    assert_eq!(normalised_plate_of(&framed).unwrap(), None);
}

#[test]
fn plate_reader_rejects_bad_header_and_cut_datum() {
    let bytes = encode(&sample_read()).unwrap();
    let error = normalised_plate_of(&bytes[..12]).unwrap_err();
    assert!(matches!(error, CodecError::Datum { .. }), "{error}");
    assert!(
        error.to_string().contains("`read_id` is cut off"),
        "{error}"
    );

    let mut unknown = bytes.clone();
    unknown[2] ^= 0xFF;
    let error = normalised_plate_of(&unknown).unwrap_err();
    assert!(matches!(error, CodecError::UnknownSchema { .. }), "{error}");

    let error = normalised_plate_of(&bytes[..9]).unwrap_err();
    assert!(matches!(error, CodecError::NotSingleObject(_)), "{error}");
}

fn attribute_strategy() -> impl Strategy<Value = Option<VehicleAttribute>> {
    proptest::option::of(
        (any::<String>(), proptest::option::of(any::<f32>()))
            .prop_map(|(value, confidence)| VehicleAttribute { value, confidence }),
    )
}

prop_compose! {
    fn read_strategy()(
        ids in any::<[String; 3]>(),
        captured_at in any::<i64>(),
        received_at in any::<i64>(),
        location in proptest::option::of(
            (any::<f64>(), any::<f64>(), proptest::option::of(any::<f64>()))
        ),
        present in any::<bool>(),
        text in any::<String>(),
        normalised in any::<String>(),
        region in proptest::option::of(any::<String>()),
        confidence in proptest::option::of(any::<f32>()),
        unreadable_positions in proptest::collection::vec(any::<i32>(), 0..4),
        attributes in [attribute_strategy(), attribute_strategy(), attribute_strategy(), attribute_strategy()],
        image_ref in proptest::option::of(any::<String>()),
        source in any::<String>(),
    ) -> CameraRead {
        let [read_id, camera_id, organisation_id] = ids;
        let [make, model, vehicle_type, colour] = attributes;
        CameraRead {
            read_id,
            camera_id,
            organisation_id,
            captured_at,
            received_at,
            location: location.map(|(latitude, longitude, heading)| Location {
                latitude,
                longitude,
                heading,
            }),
            plate: PlateRead {
                present,
                text,
                normalised,
                region,
                confidence,
                unreadable_positions,
            },
            vehicle: VehicleRead { make, model, vehicle_type, colour },
            image_ref,
            source,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn plate_reader_agrees_with_full_decode(read in read_strategy()) {
        let bytes = encode(&read).unwrap();
        prop_assert_eq!(normalised_plate_of(&bytes).unwrap(), Some(read.plate.normalised.as_str()));
    }

    /// A wrong plate from the reader would let a wanted vehicle pass without an alert, so
    /// whenever the full decode accepts a damaged read, the reader has to give its plate.
    #[test]
    fn plate_reader_agrees_on_damaged_reads(
        read in read_strategy(),
        position in any::<proptest::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<bool>(),
    ) {
        let mut bytes = encode(&read).unwrap();
        let position = 10 + position.index(bytes.len() - 10);
        if cut {
            bytes.truncate(position);
        } else {
            bytes[position] = byte;
        }
        let plate = normalised_plate_of(&bytes);
        if let Ok(decoded) = decode::<CameraRead>(&bytes) {
            prop_assert_eq!(plate.unwrap(), Some(decoded.plate.normalised.as_str()));
        }
    }
}

#[test]
fn unknown_fingerprint_is_rejected() {
    let mut bytes = encode(&sample_read()).unwrap();
    bytes[2] ^= 0xFF;
    let error = decode::<CameraRead>(&bytes).unwrap_err();
    assert!(matches!(error, CodecError::UnknownSchema { .. }), "{error}");
}

#[test]
fn missing_marker_is_rejected() {
    let error = decode::<CameraRead>(b"{\"plate\":\"7ABC123\"}").unwrap_err();
    assert!(matches!(error, CodecError::NotSingleObject(_)), "{error}");
}

#[test]
fn truncated_datum_is_rejected() {
    let bytes = encode(&sample_read()).unwrap();
    let error = decode::<CameraRead>(&bytes[..bytes.len() / 2]).unwrap_err();
    assert!(matches!(error, CodecError::Datum { .. }), "{error}");
}

/// The fingerprint of the primitive schema "null" is a test vector of the Avro specification.
#[test]
fn fingerprint_matches_avro_specification() {
    let schema = Schema::parse_str(r#""null""#).unwrap();
    assert_eq!(
        fingerprint_of(&schema),
        7_195_948_357_588_979_594_i64.to_le_bytes()
    );
}

/// Encodes `alert` with an older Alert schema, leaving out the `match` fields that version
/// did not have.
fn encode_with_old_alert_schema(alert: &Alert, schema_text: &str, missing: &[&str]) -> Vec<u8> {
    let schema = Schema::parse_str(schema_text).unwrap();
    let mut value = apache_avro::to_value(alert).unwrap();
    if let apache_avro::types::Value::Record(fields) = &mut value {
        for (name, field) in fields.iter_mut() {
            if name == "match" {
                if let apache_avro::types::Value::Record(detail) = field {
                    detail.retain(|(name, _)| !missing.contains(&name.as_str()));
                }
            }
        }
    }
    let datum = apache_avro::to_avro_datum(&schema, value).expect("encode with old schema");
    let mut framed = vec![0xC3, 0x01];
    framed.extend_from_slice(&fingerprint_of(&schema));
    framed.extend_from_slice(&datum);
    framed
}

/// A dispatch system's archive may hold alerts from before `match.differences` existed; they
/// still decode, with no differences and no list age.
#[test]
fn alert_v1_record_decodes_without_differences() {
    let framed = encode_with_old_alert_schema(
        &sample_alert(),
        include_str!("../history/alert.v1.avsc"),
        &["differences", "list_imported_at", "list_age_seconds"],
    );
    let decoded = decode::<Alert>(&framed).expect("decode v1 alert");
    assert!(decoded.match_detail.differences.is_empty());
    assert_eq!(decoded.match_detail.list_age_seconds, None);
    assert_eq!(decoded.alert_id, sample_alert().alert_id);
    assert_eq!(Alert::schemas().known_versions(), 3);
}

#[test]
fn alert_v2_record_decodes_without_list_age() {
    let framed = encode_with_old_alert_schema(
        &sample_alert(),
        include_str!("../history/alert.v2.avsc"),
        &["list_imported_at", "list_age_seconds"],
    );
    let decoded = decode::<Alert>(&framed).expect("decode v2 alert");
    assert_eq!(
        decoded.match_detail.differences,
        sample_alert().match_detail.differences
    );
    assert_eq!(decoded.match_detail.list_imported_at, None);
    assert_eq!(decoded.match_detail.list_age_seconds, None);
}

#[test]
fn hotlist_import_distinct_from_entries() {
    let import = HotlistImport {
        list: "WA-STATE".into(),
        agency_id: None,
        imported_at: 1_633_096_400_000_000,
        entry_count: 12,
        source: Some("wa_state_full.txt".into()),
    };
    let bytes = encode(&import).expect("encode");
    assert_eq!(decode::<HotlistImport>(&bytes).expect("decode"), import);
    assert!(is_encoded_as::<HotlistImport>(&bytes));
    assert!(!is_encoded_as::<HotlistEntry>(&bytes));

    let entry_bytes = encode(&sample_entry()).expect("encode entry");
    assert!(is_encoded_as::<HotlistEntry>(&entry_bytes));
    assert!(!is_encoded_as::<HotlistImport>(&entry_bytes));
    assert!(!is_encoded_as::<HotlistImport>(&bytes[..9]));
    assert_eq!(HotlistImport::key("WA-STATE"), "list:WA-STATE");
    assert_eq!(
        HotlistImport::list_of_key("list:WA-STATE"),
        Some("WA-STATE")
    );
    assert_eq!(
        HotlistImport::list_of_key("9d3c2b1a-0f1e-5d2c-8b3a-4f5e6d7c8b9a"),
        None
    );
}

/// Alert embeds CameraRead; the copy inside alert.avsc must not drift from camera_read.avsc.
#[test]
fn alert_embeds_current_camera_read_schema() {
    let alert: serde_json::Value = serde_json::from_str(include_str!("../alert.avsc")).unwrap();
    let read: serde_json::Value =
        serde_json::from_str(include_str!("../camera_read.avsc")).unwrap();
    let embedded = alert["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|field| field["name"] == "read")
        .expect("alert has a read field");
    assert_eq!(embedded["type"], read);
}

/// Checks that the codec writes exactly the datum `apache_avro` writes for the current schema,
/// so records written before the codec changed, and readers built on `apache_avro`, agree with it.
fn assert_datum_matches_apache_avro<R: AvroRecord + std::fmt::Debug + PartialEq>(record: &R) {
    let value = apache_avro::to_value(record).unwrap();
    let expected = apache_avro::to_avro_datum(R::schemas().current(), value).unwrap();
    let framed = encode(record).unwrap();
    assert_eq!(framed[10..], expected[..], "{record:?}");
    let mut old_framed = framed[..10].to_vec();
    old_framed.extend_from_slice(&expected);
    assert_eq!(&decode::<R>(&old_framed).unwrap(), record);
}

#[test]
fn datum_matches_apache_avro_for_every_record_type() {
    let mut bare_read = sample_read();
    bare_read.location = None;
    bare_read.vehicle = VehicleRead::default();
    bare_read.plate.region = None;
    bare_read.plate.confidence = None;
    assert_datum_matches_apache_avro(&sample_read());
    assert_datum_matches_apache_avro(&bare_read);
    assert_datum_matches_apache_avro(&sample_entry());
    assert_datum_matches_apache_avro(&sample_alert());
    assert_datum_matches_apache_avro(&sample_hold());
    assert_datum_matches_apache_avro(&sample_event());
    for record in sample_registry_records() {
        assert_datum_matches_apache_avro(&record);
    }
    assert_datum_matches_apache_avro(&HotlistImport {
        list: "WA-STATE".into(),
        agency_id: Some("wsp".into()),
        imported_at: 1_633_096_400_000_000,
        entry_count: 12,
        source: None,
    });
}
