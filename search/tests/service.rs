//! `alpr search`'s HTTP API against the local broker, with the registry, the audit topic and a
//! retention worker all real:
//!
//! - three organisations (two agencies, and a homeowners' association sharing one way with the
//!   first agency): a table of which camera's reads each user sees;
//! - tokens and roles: 401 without a known token, 403 for roles that may not search and for a
//!   camera outside the caller's scope;
//! - a case number and a purpose from the list are required, and the 400 names what is missing;
//! - every search, export and hold writes exactly one audit event, and the chain verifies;
//! - a hold placed through the API keeps its read through a retention sweep, while the read the
//!   sweep tombstones disappears from search results.
//!
//! Needs the local broker: `deploy/local/kafka.sh start`, and `ALPR_KAFKA_BOOTSTRAP` when it
//! listens elsewhere than 127.0.0.1:9092.

// A failed set-up step should stop the test with its error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::producer::{FutureProducer, FutureRecord};
use reqwest::StatusCode;
use serde_json::{json, Value};

use alpr_platform::testkit::{fresh_settings, read_topic};
use alpr_platform::{KafkaSettings, Readiness, ShutdownToken};
use alpr_registry::admin::{self, NewCamera, NewUser};
use alpr_registry::RegistrySettings;
use alpr_retention::{RetentionSettings, RetentionWorker, SweepOutcome};
use alpr_schemas::{
    decode, encode, from_micros, AuditAction, AuditEvent, CameraRead, Location, OrganisationLevel,
    PlateRead, UserRole, VehicleRead,
};
use alpr_search::service::{Clock, SearchServiceSettings};
use alpr_search::SearchLimits;

/// 2026-11-02T10:00:00Z, when the test's reads are captured.
const CAPTURED_MICROS: i64 = 1_793_613_600_000_000;
const MINUTE_MICROS: i64 = 60_000_000;
const DAY_MICROS: i64 = 24 * 60 * MINUTE_MICROS;
const PURPOSE: &str = "stolen vehicle";

/// A clock the test moves.
#[derive(Clone)]
struct TestClock(Arc<AtomicI64>);

impl TestClock {
    fn at(micros: i64) -> Self {
        Self(Arc::new(AtomicI64::new(micros)))
    }

    fn set(&self, micros: i64) {
        self.0.store(micros, Ordering::SeqCst);
    }

    fn clock(&self) -> Clock {
        let now = self.0.clone();
        Arc::new(move || from_micros(now.load(Ordering::SeqCst)))
    }
}

fn read(camera_id: &str, organisation_id: &str, plate: &str, minute: i64) -> CameraRead {
    let captured_at = CAPTURED_MICROS + minute * MINUTE_MICROS;
    CameraRead {
        read_id: uuid::Uuid::new_v4().to_string(),
        camera_id: camera_id.into(),
        organisation_id: organisation_id.into(),
        captured_at,
        received_at: captured_at,
        location: Some(Location {
            latitude: 47.61,
            longitude: -122.33,
            heading: None,
        }),
        plate: PlateRead {
            present: true,
            text: plate.into(),
            normalised: plate.into(),
            region: Some("US-WA".into()),
            confidence: None,
            unreadable_positions: Vec::new(),
        },
        vehicle: VehicleRead::default(),
        image_ref: None,
        source: "test".into(),
    }
}

async fn publish_reads(kafka: &KafkaSettings, reads: &[CameraRead]) {
    let producer: FutureProducer = kafka.client_config().set("acks", "all").create().unwrap();
    let topic = kafka.topics().reads;
    for read in reads {
        let payload = encode(read).unwrap();
        producer
            .send(
                FutureRecord::to(&topic)
                    .key(read.read_id.as_bytes())
                    .payload(&payload),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(error, _)| error)
            .unwrap();
    }
}

/// Registers organisations `(id, level)` with one camera each, named `cam-<id>`.
async fn register_organisations(
    kafka: &KafkaSettings,
    organisations: &[(&str, OrganisationLevel)],
) {
    for &(id, level) in organisations {
        admin::add_organisation(kafka, id, id, level, Some("US-WA"))
            .await
            .unwrap();
        admin::add_camera(
            kafka,
            NewCamera {
                camera_id: format!("cam-{id}"),
                organisation_id: id.into(),
                name: format!("camera of {id}"),
                latitude: 47.61,
                longitude: -122.33,
            },
        )
        .await
        .unwrap();
    }
}

/// Registers a user and returns their token.
async fn register_user(
    kafka: &KafkaSettings,
    user_id: &str,
    organisation: &str,
    role: UserRole,
) -> String {
    admin::add_user(
        kafka,
        NewUser {
            user_id: user_id.into(),
            organisation_id: organisation.into(),
            role,
        },
        from_micros(CAPTURED_MICROS),
    )
    .await
    .unwrap()
    .token
}

/// Cancels its token when dropped, so that a failed assertion stops the background tasks
/// instead of leaving the test's runtime waiting on them forever.
struct CancelOnDrop(ShutdownToken);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// A running search service.
struct Service {
    base_url: String,
    shutdown: ShutdownToken,
    _stop_on_drop: CancelOnDrop,
    task: tokio::task::JoinHandle<Result<(), alpr_search::service::ServiceError>>,
    _index: tempfile::TempDir,
    client: reqwest::Client,
}

impl Service {
    async fn start(kafka: &KafkaSettings, clock: Clock, retention_url: String) -> Self {
        let index = tempfile::tempdir().unwrap();
        let mut settings = SearchServiceSettings {
            purposes: vec![PURPOSE.into(), "homicide".into()],
            retention_url,
            ..SearchServiceSettings::default()
        };
        settings.index.index_dir = index.path().join("index");
        settings.index.commit_interval_ms = 100;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        let readiness = Readiness::default();
        let shutdown = ShutdownToken::new();
        let task = tokio::spawn(alpr_search::service::run(
            settings,
            SearchLimits::default(),
            kafka.clone(),
            listener,
            clock,
            readiness.clone(),
            shutdown.clone(),
        ));
        let deadline = Instant::now() + Duration::from_secs(120);
        while !readiness.is_ready() {
            assert!(
                !task.is_finished(),
                "the search service stopped during start-up"
            );
            assert!(
                Instant::now() < deadline,
                "the search service did not get ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self {
            base_url: format!("http://{address}"),
            _stop_on_drop: CancelOnDrop(shutdown.clone()),
            shutdown,
            task,
            _index: index,
            client: reqwest::Client::new(),
        }
    }

    async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> (StatusCode, Value, String) {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base_url))
            .json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, json, text)
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.base_url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Searches the test's day as `token` and returns the status and the body.
    async fn search(&self, token: &str, query: Value) -> (StatusCode, Value) {
        let (status, body, _) = self
            .post("/v1/search", Some(token), &case_bound(query))
            .await;
        (status, body)
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }
}

/// Returns the window of the test's reads.
fn day_window() -> Value {
    json!({
        "from": from_micros(CAPTURED_MICROS - 60 * MINUTE_MICROS),
        "to": from_micros(CAPTURED_MICROS + DAY_MICROS),
    })
}

fn case_bound(query: Value) -> Value {
    json!({ "case_number": "2026-04711", "purpose": PURPOSE, "query": query })
}

fn read_ids_of(body: &Value) -> BTreeSet<String> {
    body["reads"]
        .as_array()
        .unwrap_or_else(|| panic!("expected reads in {body}"))
        .iter()
        .map(|read| read["read_id"].as_str().unwrap().to_string())
        .collect()
}

fn cameras_of(body: &Value) -> BTreeSet<String> {
    body["reads"]
        .as_array()
        .unwrap_or_else(|| panic!("expected reads in {body}"))
        .iter()
        .map(|read| read["camera_id"].as_str().unwrap().to_string())
        .collect()
}

/// Returns the audit events of `actor` on the audit topic.
async fn audit_events_of(kafka: &KafkaSettings, actor: &str) -> Vec<AuditEvent> {
    read_topic(kafka, &kafka.topics().audit)
        .await
        .iter()
        .filter_map(|record| record.payload.as_deref())
        .map(|payload| decode::<AuditEvent>(payload).unwrap())
        .filter(|event| event.actor == actor)
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|item| item.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scope_roles_case_and_audit() {
    let kafka = fresh_settings("search_service_scope").await;
    register_organisations(
        &kafka,
        &[
            ("agency-a", OrganisationLevel::Local),
            ("agency-b", OrganisationLevel::Local),
            ("hoa", OrganisationLevel::Private),
        ],
    )
    .await;
    admin::add_grant(
        &kafka,
        &RegistrySettings::default(),
        "hoa",
        "agency-a",
        "admin-1",
        from_micros(CAPTURED_MICROS),
    )
    .await
    .unwrap();
    let mut tokens = BTreeMap::new();
    for (user, organisation, role) in [
        ("inv-a", "agency-a", UserRole::Investigator),
        ("sup-b", "agency-b", UserRole::Supervisor),
        ("inv-h", "hoa", UserRole::Investigator),
        ("aud-a", "agency-a", UserRole::Auditor),
        ("adm-a", "agency-a", UserRole::Admin),
    ] {
        tokens.insert(user, register_user(&kafka, user, organisation, role).await);
    }
    // The planted plate passes every camera; each camera also reads a plate of its own.
    let mut reads = Vec::new();
    for (minute, organisation) in ["agency-a", "agency-b", "hoa"].into_iter().enumerate() {
        let camera = format!("cam-{organisation}");
        reads.push(read(&camera, organisation, "7ABC12", minute as i64));
        reads.push(read(
            &camera,
            organisation,
            &format!("OWN{minute}"),
            30 + minute as i64,
        ));
    }
    publish_reads(&kafka, &reads).await;
    let clock = TestClock::at(CAPTURED_MICROS + DAY_MICROS);
    let service = Service::start(&kafka, clock.clock(), "http://127.0.0.1:9".into()).await;

    // The cameras whose reads each user can find.
    let visible = [
        ("inv-a", set(&["cam-agency-a", "cam-hoa"])),
        ("sup-b", set(&["cam-agency-b"])),
        ("inv-h", set(&["cam-hoa"])),
    ];
    for (user, expected) in &visible {
        let (status, body) = service
            .search(&tokens[user], json!({ "window": day_window() }))
            .await;
        assert_eq!(status, StatusCode::OK, "{user}: {body}");
        assert_eq!(&cameras_of(&body), expected, "{user}");
        let expected_reads = reads
            .iter()
            .filter(|read| expected.contains(&read.camera_id))
            .count();
        assert_eq!(body["total_matches"], json!(expected_reads), "{user}");
    }

    // Roles that may not search, and no or unknown token.
    for user in ["aud-a", "adm-a"] {
        let (status, body) = service
            .search(&tokens[user], json!({ "window": day_window() }))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{user}: {body}");
    }
    let query = case_bound(json!({ "window": day_window() }));
    let (status, _, _) = service.post("/v1/search", None, &query).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = service
        .post("/v1/search", Some("alpr_user_not-issued"), &query)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A camera outside the caller's scope is named in a 403.
    let (status, body) = service
        .search(
            &tokens["sup-b"],
            json!({ "window": day_window(), "place": { "kind": "cameras", "camera_ids": ["cam-hoa"] } }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["field"], "query.place");
    assert!(
        body["error"].as_str().unwrap().contains("cam-hoa"),
        "{body}"
    );

    // The case number and the purpose are required, and the 400 names the missing field.
    for (body, field) in [
        (
            json!({ "purpose": PURPOSE, "query": { "window": day_window() } }),
            "case_number",
        ),
        (
            json!({ "case_number": "2026-1", "query": { "window": day_window() } }),
            "purpose",
        ),
        (
            json!({ "case_number": "2026-1", "purpose": "curiosity", "query": { "window": day_window() } }),
            "purpose",
        ),
        (
            json!({ "query": { "window": day_window() } }),
            "case_number, purpose",
        ),
    ] {
        let (status, answer, _) = service
            .post("/v1/search", Some(&tokens["inv-a"]), &body)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["field"], field, "{answer}");
    }
    // A window longer than the retention period names the field inside the query.
    let (status, body) = service
        .search(
            &tokens["inv-a"],
            json!({ "window": { "from": from_micros(CAPTURED_MICROS - 40 * DAY_MICROS), "to": from_micros(CAPTURED_MICROS) } }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["field"].as_str().unwrap().starts_with("query.window"),
        "{body}"
    );

    // Multi-place: the planted plate was at both cameras inv-a may see.
    let places = json!({ "sightings": [
        { "place": { "kind": "cameras", "camera_ids": ["cam-agency-a"] }, "window": day_window() },
        { "place": { "kind": "cameras", "camera_ids": ["cam-hoa"] }, "window": day_window() },
    ] });
    let (status, body, _) = service
        .post(
            "/v1/search/multi-place",
            Some(&tokens["inv-a"]),
            &case_bound(places),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let plates: Vec<&str> = body["plates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["plate"].as_str().unwrap())
        .collect();
    assert_eq!(plates, ["7ABC12"]);

    // An export contains every read of the search, as CSV with a header line.
    let (status, _, csv) = service
        .post(
            "/v1/search/export?format=csv",
            Some(&tokens["inv-a"]),
            &case_bound(json!({ "window": day_window() })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert!(csv.starts_with("read_id,captured_at,camera_id"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + 4);

    // Exactly one event per successful request, none for rejected ones.
    let events = audit_events_of(&kafka, "inv-a").await;
    let actions: Vec<AuditAction> = events.iter().map(|event| event.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::Search,
            AuditAction::Search,
            AuditAction::Export
        ],
        "inv-a: one table search, one multi-place search, one export"
    );
    assert!(events
        .iter()
        .all(|event| event.organisation_id == "agency-a"
            && event.case_number.as_deref() == Some("2026-04711")
            && event.purpose.as_deref() == Some(PURPOSE)));
    assert_eq!(events[0].result_count, Some(4));
    assert_eq!(events[1].result_count, Some(1));
    assert_eq!(events[2].result_count, Some(4));
    assert_eq!(audit_events_of(&kafka, "sup-b").await.len(), 1);
    assert!(audit_events_of(&kafka, "aud-a").await.is_empty());

    // Auditors read the report and the chain check, investigators do not.
    let from = from_micros(CAPTURED_MICROS).format("%Y-%m-%d");
    let to = from_micros(CAPTURED_MICROS + 2 * DAY_MICROS).format("%Y-%m-%d");
    let report_path = format!("/v1/audit/report?from={from}&to={to}");
    let (status, report) = service.get(&report_path, &tokens["aud-a"]).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        report["searches_by_organisation"]["agency-a"], 2,
        "{report}"
    );
    assert_eq!(
        report["searches_by_organisation"]["agency-b"], 1,
        "{report}"
    );
    assert_eq!(report["searches_by_organisation"]["hoa"], 1, "{report}");
    assert_eq!(report["exports"], 1, "{report}");
    let (status, _) = service.get(&report_path, &tokens["inv-a"]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, verification) = service.get("/v1/audit/verify", &tokens["aud-a"]).await;
    assert_eq!(status, StatusCode::OK, "{verification}");
    assert!(alpr_audit::verify(&kafka).await.unwrap().is_intact());

    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hold_from_results_survives_retention() {
    let kafka = fresh_settings("search_service_holds").await;
    register_organisations(
        &kafka,
        &[
            ("agency-a", OrganisationLevel::Local),
            ("agency-b", OrganisationLevel::Local),
        ],
    )
    .await;
    let investigator = register_user(&kafka, "inv-a", "agency-a", UserRole::Investigator).await;
    let kept = read("cam-agency-a", "agency-a", "7ABC12", 0);
    let expiring = read("cam-agency-a", "agency-a", "7ABC99", 1);
    let foreign = read("cam-agency-b", "agency-b", "7ABC55", 2);
    publish_reads(&kafka, &[kept.clone(), expiring.clone(), foreign.clone()]).await;

    // A retention worker whose clock the test moves, with its read lookup API.
    let clock = TestClock::at(CAPTURED_MICROS + DAY_MICROS);
    let folder = tempfile::tempdir().unwrap();
    let retention_settings = RetentionSettings {
        state_dir: folder.path().join("retention"),
        purge_log: folder.path().join("purge-log.jsonl"),
        ..RetentionSettings::default()
    };
    let mut worker = tokio::task::block_in_place(|| {
        let mut worker =
            RetentionWorker::connect(&retention_settings, &kafka, clock.clock()).unwrap();
        worker.catch_up().unwrap();
        worker
    });
    let lookup_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let retention_url = format!("http://{}", lookup_listener.local_addr().unwrap());
    let lookup_stop = ShutdownToken::new();
    let _stop_lookup_on_drop = CancelOnDrop(lookup_stop.clone());
    let lookup = tokio::spawn(alpr_retention::api::serve(
        lookup_listener,
        worker.store(),
        lookup_stop.clone(),
    ));
    let service = Service::start(&kafka, clock.clock(), retention_url).await;

    // A read of another agency cannot be held, and nothing is recorded.
    let hold = |read_ids: Vec<String>| json!({ "case_number": "2026-04711", "purpose": PURPOSE, "read_ids": read_ids });
    let (status, body, _) = service
        .post(
            "/v1/holds",
            Some(&investigator),
            &hold(vec![foreign.read_id.clone()]),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains(&foreign.read_id),
        "{body}"
    );
    let (status, body, _) = service
        .post(
            "/v1/holds",
            Some(&investigator),
            &json!({ "case_number": "2026-04711", "purpose": PURPOSE }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "read_ids");
    assert!(audit_events_of(&kafka, "inv-a").await.is_empty());

    let (status, body, _) = service
        .post(
            "/v1/holds",
            Some(&investigator),
            &hold(vec![kept.read_id.clone()]),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["read_ids"], json!([kept.read_id]));
    let events = audit_events_of(&kafka, "inv-a").await;
    assert_eq!(events.len(), 1, "one event for the hold");
    assert_eq!(events[0].action, AuditAction::HoldPlaced);
    assert_eq!(events[0].organisation_id, "agency-a");
    assert_eq!(events[0].purpose.as_deref(), Some(PURPOSE));
    assert_eq!(events[0].result_count, Some(1));

    // Past the retention period the sweep tombstones every read but the held one, and the
    // tombstoned read disappears from search.
    clock.set(CAPTURED_MICROS + 31 * DAY_MICROS);
    tokio::task::block_in_place(|| {
        worker.catch_up().unwrap();
        let outcome = worker.sweep(&ShutdownToken::new()).unwrap();
        assert!(matches!(outcome, SweepOutcome::Completed(_)));
    });
    let window = json!({ "window": day_window() });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = service.search(&investigator, window.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let found = read_ids_of(&body);
        if found == BTreeSet::from([kept.read_id.clone()]) {
            break;
        }
        assert!(
            found.contains(&kept.read_id),
            "the held read must never disappear"
        );
        assert!(
            Instant::now() < deadline,
            "the tombstoned read is still found: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(alpr_audit::verify(&kafka).await.unwrap().is_intact());

    service.stop().await;
    lookup_stop.cancel();
    lookup.await.unwrap().unwrap();
}
