use alpr_schemas::{encode, RegistryRecord, UserRole};

use super::*;

fn organisation(id: &str, level: OrganisationLevel, state: Option<&str>) -> Organisation {
    Organisation {
        organisation_id: id.into(),
        name: format!("{id} name"),
        level,
        state: state.map(str::to_string),
    }
}

/// LAPD and a California HOA, the California Highway Patrol, the Reno police (Nevada) and the
/// FBI.
fn registry() -> Registry {
    let mut registry = Registry::default();
    for organisation in [
        organisation("lapd", OrganisationLevel::Local, Some("US-CA")),
        organisation("hoa", OrganisationLevel::Private, Some("US-CA")),
        organisation("chp", OrganisationLevel::State, Some("US-CA")),
        organisation("rpd", OrganisationLevel::Local, Some("US-NV")),
        organisation("fbi", OrganisationLevel::Federal, None),
    ] {
        let key = format!("organisation:{}", organisation.organisation_id);
        let record = RegistryRecord {
            organisation: Some(organisation),
            ..RegistryRecord::default()
        };
        let bytes = encode(&record).expect("encode");
        registry.apply(&key, Some(&bytes)).expect("apply");
    }
    registry
}

fn california_rule() -> RegistrySettings {
    RegistrySettings {
        jurisdiction_rules: vec![JurisdictionRule {
            name: "california-sb34".into(),
            owner_state: "US-CA".into(),
            grantee_same_state: true,
            forbidden_grantee_levels: vec![OrganisationLevel::Federal],
        }],
    }
}

fn grant(owner: &str, grantee: &str) -> SharingGrant {
    SharingGrant {
        owner_organisation_id: owner.into(),
        grantee_organisation_id: grantee.into(),
        granted_at: 1,
        granted_by: "admin-1".into(),
    }
}

fn camera(organisation_id: &str, latitude: f64, longitude: f64) -> Camera {
    Camera {
        camera_id: "cam-1".into(),
        organisation_id: organisation_id.into(),
        name: "5th and Pine".into(),
        latitude,
        longitude,
        token_hash: "00".repeat(32),
    }
}

/// Returns the error message, failing the test when the check passed.
fn message(result: Result<(), RegistryError>) -> String {
    result.expect_err("the check should fail").to_string()
}

#[test]
fn ids_take_lowercase_digits_and_separators() {
    assert!(check_id("camera id", "cam-1_north.2").is_ok());
    assert_eq!(
        message(check_id("camera id", "")),
        "invalid camera id: must not be empty"
    );
    assert!(message(check_id("camera id", "Cam-1")).contains("invalid camera id"));
    assert!(message(check_id("user id", "a:b")).contains("':'"));
    assert!(message(check_id("user id", &"a".repeat(65))).contains("longer than 64"));
}

#[test]
fn organisation_needs_state_unless_federal() {
    let registry = registry();
    let no_state = organisation("spd", OrganisationLevel::Local, None);
    assert!(message(check_organisation(&registry, &no_state)).starts_with("invalid state"));
    let federal = organisation("dea", OrganisationLevel::Federal, None);
    assert!(check_organisation(&registry, &federal).is_ok());
    let bad_region = organisation("spd", OrganisationLevel::Local, Some("Washington"));
    assert!(message(check_organisation(&registry, &bad_region)).contains("ISO 3166-2"));
}

#[test]
fn duplicate_organisation_is_rejected() {
    let duplicate = organisation("lapd", OrganisationLevel::Local, Some("US-CA"));
    assert!(message(check_organisation(&registry(), &duplicate)).contains("already exists"));
}

#[test]
fn camera_needs_existing_organisation() {
    let error = message(check_camera(&registry(), &camera("nobody", 47.6, -122.3)));
    assert!(error.starts_with("invalid organisation"), "{error}");
    assert!(error.contains("not found"), "{error}");
}

#[test]
fn camera_position_must_be_in_range() {
    let registry = registry();
    assert!(check_camera(&registry, &camera("lapd", 34.05, -118.24)).is_ok());
    assert!(message(check_camera(&registry, &camera("lapd", 91.0, 0.0)))
        .starts_with("invalid latitude"));
    assert!(
        message(check_camera(&registry, &camera("lapd", 0.0, -180.5)))
            .starts_with("invalid longitude")
    );
    assert!(
        message(check_camera(&registry, &camera("lapd", f64::NAN, 0.0)))
            .starts_with("invalid latitude")
    );
}

#[test]
fn user_needs_existing_organisation() {
    let user = User {
        user_id: "det-1".into(),
        organisation_id: "nobody".into(),
        role: UserRole::Investigator,
        token_hash: "00".repeat(32),
        created_at: 1,
    };
    assert!(message(check_user(&registry(), &user)).starts_with("invalid organisation"));
}

#[test]
fn grant_needs_both_organisations() {
    let settings = RegistrySettings::default();
    let registry = registry();
    assert!(
        message(check_grant(&registry, &settings, &grant("nobody", "lapd")))
            .starts_with("invalid owner")
    );
    assert!(
        message(check_grant(&registry, &settings, &grant("lapd", "nobody")))
            .starts_with("invalid grantee")
    );
}

#[test]
fn grant_to_itself_is_rejected() {
    let error = message(check_grant(
        &registry(),
        &RegistrySettings::default(),
        &grant("lapd", "lapd"),
    ));
    assert!(error.contains("owner itself"), "{error}");
}

#[test]
fn grant_to_private_organisation_is_rejected() {
    let error = message(check_grant(
        &registry(),
        &RegistrySettings::default(),
        &grant("lapd", "hoa"),
    ));
    assert!(error.starts_with("invalid grantee"), "{error}");
    assert!(error.contains("private"), "{error}");
}

#[test]
fn rule_rejects_federal_grantee() {
    let error = message(check_grant(
        &registry(),
        &california_rule(),
        &grant("hoa", "fbi"),
    ));
    assert!(
        error.starts_with("grant refused by jurisdiction rule \"california-sb34\""),
        "{error}"
    );
    assert!(error.contains("federal"), "{error}");
}

#[test]
fn rule_rejects_out_of_state_grantee() {
    let error = message(check_grant(
        &registry(),
        &california_rule(),
        &grant("lapd", "rpd"),
    ));
    assert!(
        error.starts_with("grant refused by jurisdiction rule \"california-sb34\""),
        "{error}"
    );
    assert!(error.contains("US-NV"), "{error}");
}

#[test]
fn rule_allows_in_state_agency() {
    assert!(check_grant(&registry(), &california_rule(), &grant("hoa", "lapd")).is_ok());
    assert!(check_grant(&registry(), &california_rule(), &grant("lapd", "chp")).is_ok());
}

#[test]
fn rule_ignores_owners_of_other_states() {
    // Nevada data may go to a federal agency: the California rule does not apply.
    assert!(check_grant(&registry(), &california_rule(), &grant("rpd", "fbi")).is_ok());
}

#[test]
fn rule_parses_from_toml_like_config() {
    let rule: JurisdictionRule = serde_json::from_value(serde_json::json!({
        "name": "california-sb34",
        "owner_state": "US-CA",
        "grantee_same_state": true,
        "forbidden_grantee_levels": ["federal"],
    }))
    .expect("rule parses");
    assert_eq!(rule, california_rule().jurisdiction_rules[0]);
    let unknown_field: Result<JurisdictionRule, _> = serde_json::from_value(serde_json::json!({
        "name": "x", "owner_state": "US-CA", "owner_country": "US",
    }));
    assert!(unknown_field.is_err());
}
