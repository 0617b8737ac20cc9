use alpr_schemas::{encode, OrganisationLevel, UserRole};

use super::*;

fn organisation(id: &str, level: OrganisationLevel) -> Organisation {
    Organisation {
        organisation_id: id.into(),
        name: format!("{id} name"),
        level,
        state: Some("US-WA".into()),
    }
}

fn apply_record(registry: &mut Registry, key: &str, record: RegistryRecord) {
    let bytes = encode(&record).expect("encode");
    registry.apply(key, Some(&bytes)).expect("apply");
}

fn add_organisation(registry: &mut Registry, id: &str, level: OrganisationLevel) {
    let record = RegistryRecord {
        organisation: Some(organisation(id, level)),
        ..RegistryRecord::default()
    };
    apply_record(registry, &format!("organisation:{id}"), record);
}

fn add_grant(registry: &mut Registry, owner: &str, grantee: &str) {
    let record = RegistryRecord {
        grant: Some(SharingGrant {
            owner_organisation_id: owner.into(),
            grantee_organisation_id: grantee.into(),
            granted_at: 1,
            granted_by: "admin-1".into(),
        }),
        ..RegistryRecord::default()
    };
    apply_record(registry, &format!("grant:{owner}:{grantee}"), record);
}

/// Agency A, agency B and a private association H that granted A access.
fn three_organisations() -> Registry {
    let mut registry = Registry::default();
    add_organisation(&mut registry, "agency-a", OrganisationLevel::Local);
    add_organisation(&mut registry, "agency-b", OrganisationLevel::State);
    add_organisation(&mut registry, "hoa-h", OrganisationLevel::Private);
    add_grant(&mut registry, "hoa-h", "agency-a");
    registry
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|id| id.to_string()).collect()
}

#[test]
fn grantee_sees_owner_and_itself() {
    assert_eq!(
        three_organisations().visible_organisations("agency-a"),
        set(&["agency-a", "hoa-h"])
    );
}

#[test]
fn agency_without_grant_sees_only_itself() {
    assert_eq!(
        three_organisations().visible_organisations("agency-b"),
        set(&["agency-b"])
    );
}

#[test]
fn granting_owner_sees_only_itself() {
    assert_eq!(
        three_organisations().visible_organisations("hoa-h"),
        set(&["hoa-h"])
    );
}

#[test]
fn unknown_organisation_sees_nothing() {
    assert!(three_organisations()
        .visible_organisations("nobody")
        .is_empty());
}

#[test]
fn private_grantee_on_topic_sees_only_itself() {
    // Such a grant fails validation; this one stands for a record another tool wrote.
    let mut registry = three_organisations();
    add_grant(&mut registry, "agency-a", "hoa-h");
    assert_eq!(registry.visible_organisations("hoa-h"), set(&["hoa-h"]));
}

#[test]
fn revoked_grant_is_no_longer_visible() {
    let mut registry = three_organisations();
    registry
        .apply("grant:hoa-h:agency-a", None)
        .expect("tombstone applies");
    assert_eq!(
        registry.visible_organisations("agency-a"),
        set(&["agency-a"])
    );
    assert!(registry.grant("hoa-h", "agency-a").is_none());
}

#[test]
fn user_found_by_token_until_removed() {
    let mut registry = three_organisations();
    let user = User {
        user_id: "det-1".into(),
        organisation_id: "agency-a".into(),
        role: UserRole::Investigator,
        token_hash: hash_token("alpr_user_secret"),
        created_at: 1,
    };
    let record = RegistryRecord {
        user: Some(user.clone()),
        ..RegistryRecord::default()
    };
    apply_record(&mut registry, "user:det-1", record);
    assert_eq!(registry.user_by_token("alpr_user_secret"), Some(&user));
    assert_eq!(registry.user_by_token("alpr_user_guess"), None);

    registry
        .apply("user:det-1", None)
        .expect("tombstone applies");
    assert_eq!(registry.user_by_token("alpr_user_secret"), None);
}

#[test]
fn replaced_camera_token_stops_working() {
    let mut registry = three_organisations();
    let camera = |token: &str| RegistryRecord {
        camera: Some(Camera {
            camera_id: "cam-1".into(),
            organisation_id: "agency-a".into(),
            name: "gate".into(),
            latitude: 47.6,
            longitude: -122.3,
            token_hash: hash_token(token),
        }),
        ..RegistryRecord::default()
    };
    apply_record(&mut registry, "camera:cam-1", camera("alpr_camera_old"));
    apply_record(&mut registry, "camera:cam-1", camera("alpr_camera_new"));
    assert!(registry.camera_by_token("alpr_camera_old").is_none());
    let found = registry.camera_by_token("alpr_camera_new");
    assert_eq!(found.map(|camera| camera.camera_id.as_str()), Some("cam-1"));
}

#[test]
fn record_under_wrong_key_is_rejected() {
    let mut registry = Registry::default();
    let record = RegistryRecord {
        organisation: Some(organisation("spd", OrganisationLevel::Local)),
        ..RegistryRecord::default()
    };
    let bytes = encode(&record).expect("encode");
    let wrong_kind = registry.apply("camera:spd", Some(&bytes));
    assert!(matches!(wrong_kind, Err(RegistryError::Record { .. })));
    let wrong_id = registry.apply("organisation:other", Some(&bytes));
    assert!(matches!(wrong_id, Err(RegistryError::Record { .. })));
    assert_eq!(registry.organisations().count(), 0);
}

#[test]
fn record_with_two_entries_is_rejected() {
    let mut registry = Registry::default();
    let record = RegistryRecord {
        organisation: Some(organisation("spd", OrganisationLevel::Local)),
        grant: Some(SharingGrant {
            owner_organisation_id: "a".into(),
            grantee_organisation_id: "b".into(),
            granted_at: 1,
            granted_by: "x".into(),
        }),
        ..RegistryRecord::default()
    };
    let bytes = encode(&record).expect("encode");
    let error = registry
        .apply("organisation:spd", Some(&bytes))
        .expect_err("two entries in one record");
    assert!(error.to_string().contains("2 entries"), "{error}");
}

#[test]
fn keys_parse_and_print_back() {
    for key in [
        "organisation:spd",
        "camera:cam-1",
        "user:det.1",
        "grant:hoa:spd",
    ] {
        let parsed = RegistryKey::parse(key).expect("valid key");
        assert_eq!(parsed.to_string(), key);
    }
}

#[test]
fn malformed_keys_are_rejected() {
    for key in ["spd", "organisation:", "grant:hoa", "grant::spd", "badge:7"] {
        assert!(
            matches!(RegistryKey::parse(key), Err(RegistryError::Key { .. })),
            "{key}"
        );
    }
}
