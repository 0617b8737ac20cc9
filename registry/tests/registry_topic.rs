//! The registry on the local broker: admin functions publish, a fresh load sees their changes,
//! a revoked grant and a removed user disappear, and a follower picks up a change made after it
//! started.
//!
//! Needs the local broker: `deploy/local/kafka.sh start`, and `ALPR_KAFKA_BOOTSTRAP` when it
//! listens elsewhere than 127.0.0.1:9092.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use alpr_platform::testkit::{fresh_settings, read_topic};
use alpr_platform::{KafkaSettings, ShutdownToken};
use alpr_registry::admin::{self, NewCamera, NewUser};
use alpr_registry::{
    load_registry, JurisdictionRule, RegistryError, RegistryFollower, RegistrySettings,
};
use alpr_schemas::{OrganisationLevel, UserRole};

fn fixed_now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
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

/// Adds a California agency, a California homeowners' association and a federal agency.
async fn add_organisations(kafka: &KafkaSettings) {
    admin::add_organisation(
        kafka,
        "lapd",
        "Los Angeles Police",
        OrganisationLevel::Local,
        Some("US-CA"),
    )
    .await
    .unwrap();
    admin::add_organisation(
        kafka,
        "hoa",
        "Oak Hills HOA",
        OrganisationLevel::Private,
        Some("US-CA"),
    )
    .await
    .unwrap();
    admin::add_organisation(kafka, "fbi", "FBI", OrganisationLevel::Federal, None)
        .await
        .unwrap();
}

fn ids(values: &[&str]) -> BTreeSet<String> {
    values.iter().map(|value| value.to_string()).collect()
}

#[tokio::test]
async fn admin_changes_reach_a_fresh_load() {
    let kafka = fresh_settings("registry_admin").await;
    add_organisations(&kafka).await;
    let camera_token = admin::add_camera(
        &kafka,
        NewCamera {
            camera_id: "gate-1".into(),
            organisation_id: "hoa".into(),
            name: "North gate".into(),
            latitude: 34.1,
            longitude: -118.3,
        },
    )
    .await
    .unwrap();
    let user_token = admin::add_user(
        &kafka,
        NewUser {
            user_id: "det-1".into(),
            organisation_id: "lapd".into(),
            role: UserRole::Investigator,
        },
        fixed_now(),
    )
    .await
    .unwrap();
    admin::add_grant(
        &kafka,
        &california_rule(),
        "hoa",
        "lapd",
        "admin-1",
        fixed_now(),
    )
    .await
    .unwrap();

    let registry = load_registry(&kafka).await.unwrap();
    assert_eq!(registry.organisations().count(), 3);
    let camera = registry.camera_by_token(&camera_token.token).unwrap();
    assert_eq!(camera.camera_id, "gate-1");
    assert_eq!(camera.organisation_id, "hoa");
    let user = registry.user_by_token(&user_token.token).unwrap();
    assert_eq!(user.user_id, "det-1");
    assert_eq!(user.created_at, fixed_now().timestamp_micros());
    assert_eq!(
        registry.visible_organisations("lapd"),
        ids(&["lapd", "hoa"])
    );

    // Only hashes reach the topic.
    let records = read_topic(&kafka, &kafka.topics().registry).await;
    assert_eq!(records.len(), 6);
    for record in &records {
        let payload = record.payload.as_deref().unwrap_or_default();
        let text = String::from_utf8_lossy(payload);
        assert!(!text.contains(&camera_token.token));
        assert!(!text.contains(&user_token.token));
    }
}

#[tokio::test]
async fn refused_grant_is_not_published() {
    let kafka = fresh_settings("registry_refused").await;
    add_organisations(&kafka).await;
    let before = read_topic(&kafka, &kafka.topics().registry).await.len();

    let error = admin::add_grant(
        &kafka,
        &california_rule(),
        "lapd",
        "fbi",
        "admin-1",
        fixed_now(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, RegistryError::RejectedByRule { ref rule, .. } if rule == "california-sb34"),
        "{error}"
    );
    let error = admin::add_grant(
        &kafka,
        &RegistrySettings::default(),
        "lapd",
        "hoa",
        "admin-1",
        fixed_now(),
    )
    .await
    .unwrap_err();
    assert!(error.to_string().starts_with("invalid grantee"), "{error}");

    assert_eq!(
        read_topic(&kafka, &kafka.topics().registry).await.len(),
        before
    );
}

#[tokio::test]
async fn revoked_grant_and_removed_user_disappear() {
    let kafka = fresh_settings("registry_revoke").await;
    add_organisations(&kafka).await;
    admin::add_grant(
        &kafka,
        &california_rule(),
        "hoa",
        "lapd",
        "admin-1",
        fixed_now(),
    )
    .await
    .unwrap();
    let token = admin::add_user(
        &kafka,
        NewUser {
            user_id: "det-1".into(),
            organisation_id: "lapd".into(),
            role: UserRole::Supervisor,
        },
        fixed_now(),
    )
    .await
    .unwrap();

    admin::revoke_grant(&kafka, "hoa", "lapd").await.unwrap();
    admin::remove_user(&kafka, "det-1").await.unwrap();

    let registry = load_registry(&kafka).await.unwrap();
    assert!(registry.grant("hoa", "lapd").is_none());
    assert_eq!(registry.visible_organisations("lapd"), ids(&["lapd"]));
    assert!(registry.user_by_token(&token.token).is_none());

    let again = admin::revoke_grant(&kafka, "hoa", "lapd")
        .await
        .unwrap_err();
    assert!(again.to_string().contains("has no grant"), "{again}");
}

#[tokio::test]
async fn follower_sees_later_changes() {
    let kafka = fresh_settings("registry_follower").await;
    add_organisations(&kafka).await;
    let shutdown = ShutdownToken::new();
    let follower = RegistryFollower::start(&kafka, shutdown.clone(), Duration::from_secs(30))
        .await
        .unwrap();
    assert!(follower.wait_caught_up(Duration::ZERO).await);
    let registry = follower.registry();
    assert_eq!(registry.read().unwrap().organisations().count(), 3);

    admin::add_grant(
        &kafka,
        &california_rule(),
        "hoa",
        "lapd",
        "admin-1",
        fixed_now(),
    )
    .await
    .unwrap();
    wait_until(|| registry.read().unwrap().visible_organisations("lapd") == ids(&["lapd", "hoa"]))
        .await;

    admin::revoke_grant(&kafka, "hoa", "lapd").await.unwrap();
    wait_until(|| registry.read().unwrap().visible_organisations("lapd") == ids(&["lapd"])).await;

    shutdown.cancel();
    follower.join().await;
}

/// Polls `condition` until it holds, failing the test after a few seconds: a follower is
/// expected to see a change within about a second.
async fn wait_until(condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "the follower did not see the change within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
