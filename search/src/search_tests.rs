//! Searches on a small in-memory index built read by read.

use chrono::{DateTime, Duration, Utc};

use alpr_schemas::{CameraRead, Location, PlateRead, VehicleAttribute, VehicleRead};

use super::*;
use crate::geo::Point;
use crate::query::{Place, Sighting, TimeWindow};

/// 2026-01-01T00:00:00Z in microseconds.
const START: i64 = 1_767_225_600_000_000;
const SECOND: i64 = 1_000_000;

fn read(id: &str, plate: &str, seconds: i64) -> CameraRead {
    let normalised = alpr_schemas::plate::normalise_read_plate(plate);
    CameraRead {
        read_id: id.to_string(),
        camera_id: "cam-a".into(),
        organisation_id: "agency".into(),
        captured_at: START + seconds * SECOND,
        received_at: START + seconds * SECOND,
        location: Some(Location {
            latitude: 47.6,
            longitude: -122.3,
            heading: None,
        }),
        plate: PlateRead {
            present: true,
            text: plate.to_string(),
            normalised: normalised.text,
            region: None,
            confidence: None,
            unreadable_positions: normalised.unreadable_positions,
        },
        vehicle: VehicleRead::default(),
        image_ref: Some(format!("images/{id}.jpg")),
        source: "test".into(),
    }
}

fn attribute(value: &str) -> Option<VehicleAttribute> {
    Some(VehicleAttribute {
        value: value.to_string(),
        confidence: None,
    })
}

fn at(latitude: f64, longitude: f64) -> Option<Location> {
    Some(Location {
        latitude,
        longitude,
        heading: None,
    })
}

fn time(seconds: i64) -> DateTime<Utc> {
    from_micros(START + seconds * SECOND)
}

/// A window over the first day.
fn day() -> TimeWindow {
    TimeWindow {
        from: time(0),
        to: time(24 * 3600),
    }
}

fn handle_of(reads: &[CameraRead]) -> SearchHandle {
    let mut index = ReadIndex::in_memory(20_000_000).expect("in-memory index");
    for read in reads {
        index.upsert(read).expect("add read");
    }
    index.commit(&Default::default()).expect("commit");
    index.search_handle(SearchLimits::default())
}

fn agency() -> Scope {
    Scope::organisation("agency")
}

fn reads_page(handle: &SearchHandle, request: &SearchRequest, scope: &Scope) -> ReadsPage {
    match handle.search(request, scope).expect("search runs") {
        SearchResponse::Reads(page) => page,
        other => panic!("expected reads, got {other:?}"),
    }
}

fn found_ids(handle: &SearchHandle, request: &SearchRequest, scope: &Scope) -> Vec<String> {
    let mut ids: Vec<String> = reads_page(handle, request, scope)
        .reads
        .into_iter()
        .map(|read| read.read_id)
        .collect();
    ids.sort();
    ids
}

fn plate_request(pattern: &str) -> SearchRequest {
    let mut request = SearchRequest::in_window(day());
    request.plate = Some(pattern.to_string());
    request
}

#[test]
fn full_query_finds_partial_read() {
    let handle = handle_of(&[
        read("full", "7ABC123", 1),
        read("partial", "7A?C12?", 2),
        read("other", "7XBC123", 3),
    ]);
    assert_eq!(
        found_ids(&handle, &plate_request("7ABC123"), &agency()),
        ["full", "partial"]
    );
}

#[test]
fn wildcards_match_one_and_any_run() {
    let handle = handle_of(&[
        read("a", "7ABC123", 1),
        read("b", "7ABC4512", 2),
        read("c", "8ABC112", 3),
        read("d", "7AB12", 4),
    ]);
    assert_eq!(
        found_ids(&handle, &plate_request("7*12"), &agency()),
        ["b", "d"]
    );
    assert_eq!(
        found_ids(&handle, &plate_request("?ABC1?2"), &agency()),
        ["c"]
    );
    assert_eq!(
        found_ids(&handle, &plate_request("7ABC*"), &agency()),
        ["a", "b"]
    );
}

#[test]
fn ocr_option_matches_confusion_classes() {
    let handle = handle_of(&[
        read("zero", "70BC123", 1),
        read("letter-o", "7OBC123", 2),
        read("letter-d-and-i", "7DBCI23", 3),
        read("unrelated", "7XBC123", 4),
    ]);
    let mut request = plate_request("70BC123");
    assert_eq!(found_ids(&handle, &request, &agency()), ["zero"]);
    request.ocr_tolerant = true;
    assert_eq!(
        found_ids(&handle, &request, &agency()),
        ["letter-d-and-i", "letter-o", "zero"]
    );
}

#[test]
fn vehicle_filters_ignore_case() {
    let mut blue_toyota = read("blue-toyota", "1AAA111", 1);
    blue_toyota.vehicle.make = attribute("Toyota");
    blue_toyota.vehicle.colour = attribute("Blue");
    let mut red_toyota = read("red-toyota", "1AAA112", 2);
    red_toyota.vehicle.make = attribute("TOYOTA");
    red_toyota.vehicle.colour = attribute("red");
    let mut blue_honda = read("blue-honda", "1AAA113", 3);
    blue_honda.vehicle.make = attribute("Honda");
    blue_honda.vehicle.colour = attribute("blue");
    let unknown = read("unknown", "1AAA114", 4);
    let handle = handle_of(&[blue_toyota, red_toyota, blue_honda, unknown]);

    let mut request = SearchRequest::in_window(day());
    request.vehicle.make = vec!["toyota".into()];
    request.vehicle.colour = vec![" BLUE ".into()];
    assert_eq!(found_ids(&handle, &request, &agency()), ["blue-toyota"]);
    request.vehicle.colour = vec!["blue".into(), "red".into()];
    assert_eq!(
        found_ids(&handle, &request, &agency()),
        ["blue-toyota", "red-toyota"]
    );
}

#[test]
fn region_filter_is_strict() {
    let mut washington = read("wa", "1AAA111", 1);
    washington.plate.region = Some("US-WA".into());
    let mut oregon = read("or", "1AAA111", 2);
    oregon.plate.region = Some("US-OR".into());
    let unknown = read("unknown", "1AAA111", 3);
    let handle = handle_of(&[washington, oregon, unknown]);
    let mut request = SearchRequest::in_window(day());
    request.regions = vec!["us-wa".into()];
    assert_eq!(found_ids(&handle, &request, &agency()), ["wa"]);
}

#[test]
fn time_window_excludes_end() {
    let handle = handle_of(&[
        read("before", "1AAA111", -1),
        read("first", "1AAA111", 0),
        read("last", "1AAA111", 24 * 3600 - 1),
        read("end", "1AAA111", 24 * 3600),
    ]);
    assert_eq!(
        found_ids(&handle, &SearchRequest::in_window(day()), &agency()),
        ["first", "last"]
    );
}

#[test]
fn scope_limits_organisations_and_cameras() {
    let own = read("own", "1AAA111", 1);
    let mut shared = read("shared", "1AAA111", 2);
    shared.organisation_id = "association".into();
    shared.camera_id = "hoa-gate".into();
    let mut unshared = read("unshared", "1AAA111", 3);
    unshared.organisation_id = "association".into();
    unshared.camera_id = "hoa-pool".into();
    let mut other_agency = read("other-agency", "1AAA111", 4);
    other_agency.organisation_id = "agency-2".into();
    let handle = handle_of(&[own, shared, unshared, other_agency]);
    let request = plate_request("1AAA111");

    let mut granted = agency();
    granted.camera_ids.insert("hoa-gate".into());
    assert_eq!(found_ids(&handle, &request, &granted), ["own", "shared"]);
    assert_eq!(
        found_ids(&handle, &request, &Scope::organisation("association")),
        ["shared", "unshared"]
    );
    assert!(found_ids(&handle, &request, &Scope::default()).is_empty());
    assert_eq!(
        reads_page(&handle, &request, &Scope::default()).total_matches,
        0
    );
}

#[test]
fn visible_reads_only_returns_reads_in_scope() {
    let own = read("own", "1AAA111", 1);
    let mut other = read("other", "1AAA111", 2);
    other.organisation_id = "agency-2".into();
    let handle = handle_of(&[own, other]);
    let asked: Vec<String> = ["own", "other", "missing"].map(String::from).to_vec();

    let mut visible: Vec<String> = handle
        .visible_reads(&asked, &agency())
        .expect("lookup runs")
        .into_iter()
        .map(|read| read.read_id)
        .collect();
    visible.sort();
    assert_eq!(visible, ["own"]);
    assert!(handle
        .visible_reads(&asked, &Scope::default())
        .expect("lookup runs")
        .is_empty());
}

#[test]
fn circle_keeps_reads_within_radius() {
    let mut centre = read("centre", "1AAA111", 1);
    centre.location = at(47.6, -122.3);
    // 800 m north: inside a 1 km circle.
    let mut near = read("near", "1AAA111", 2);
    near.location = at(47.6 + 800.0 / 111_195.0, -122.3);
    // The box corner, about 1.4 km away diagonally: in the bounding box, outside the circle.
    let mut corner = read("corner", "1AAA111", 3);
    corner.location = at(47.6 + 950.0 / 111_195.0, -122.3 + 950.0 / 75_000.0);
    let mut far = read("far", "1AAA111", 4);
    far.location = at(47.7, -122.3);
    let mut nowhere = read("nowhere", "1AAA111", 5);
    nowhere.location = None;
    let handle = handle_of(&[centre, near, corner, far, nowhere]);

    let mut request = SearchRequest::in_window(day());
    request.place = Some(Place::Circle {
        centre: Point {
            latitude: 47.6,
            longitude: -122.3,
        },
        radius_metres: 1000.0,
    });
    assert_eq!(found_ids(&handle, &request, &agency()), ["centre", "near"]);
    assert_eq!(reads_page(&handle, &request, &agency()).total_matches, 2);
}

#[test]
fn polygon_and_camera_places() {
    let mut inside = read("inside", "1AAA111", 1);
    inside.location = at(0.5, 0.5);
    inside.camera_id = "cam-in".into();
    let mut notch = read("notch", "1AAA111", 2);
    notch.location = at(1.5, 1.5);
    notch.camera_id = "cam-notch".into();
    let handle = handle_of(&[inside, notch]);
    let point = |latitude, longitude| Point {
        latitude,
        longitude,
    };
    let mut request = SearchRequest::in_window(day());
    request.place = Some(Place::Polygon {
        vertices: vec![
            point(0.0, 0.0),
            point(0.0, 2.0),
            point(1.0, 2.0),
            point(1.0, 1.0),
            point(2.0, 1.0),
            point(2.0, 0.0),
        ],
    });
    assert_eq!(found_ids(&handle, &request, &agency()), ["inside"]);
    request.place = Some(Place::Cameras {
        camera_ids: vec!["cam-notch".into()],
    });
    assert_eq!(found_ids(&handle, &request, &agency()), ["notch"]);
}

#[test]
fn pages_cover_ties_without_repeats() {
    // 25 reads, most sharing a second, so page boundaries fall inside ties.
    let reads: Vec<CameraRead> = (0..25)
        .map(|n| read(&format!("read-{n:02}"), "1AAA111", n / 10))
        .collect();
    let handle = handle_of(&reads);
    let mut request = SearchRequest::in_window(day());
    request.page_size = 10;

    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = reads_page(&handle, &request, &agency());
        assert_eq!(page.total_matches, 25);
        pages += 1;
        let times: Vec<i64> = page.reads.iter().map(|read| read.captured_at).collect();
        assert!(times.windows(2).all(|pair| pair[0] <= pair[1]), "{times:?}");
        if let Some(previous) = seen.last().map(|read: &CameraRead| read.captured_at) {
            assert!(times.first().is_some_and(|&first| first >= previous));
        }
        seen.extend(page.reads);
        match page.next_cursor {
            Some(cursor) => request.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut ids: Vec<String> = seen.into_iter().map(|read| read.read_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 25);
}

#[test]
fn all_reads_pages_through_up_to_the_limit() {
    let reads: Vec<CameraRead> = (0..25)
        .map(|n| read(&format!("read-{n:02}"), "1AAA111", n / 10))
        .collect();
    let handle = handle_of(&reads);
    let mut request = SearchRequest::in_window(day());
    request.page_size = 10;

    let all = handle
        .all_reads(&request, &agency(), 25)
        .expect("search runs")
        .expect("25 reads are within the limit");
    let mut ids: Vec<String> = all.into_iter().map(|read| read.read_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 25);
    assert!(handle
        .all_reads(&request, &agency(), 24)
        .expect("search runs")
        .is_none());
}

#[test]
fn results_carry_image_reference() {
    let handle = handle_of(&[read("one", "1AAA111", 1)]);
    let page = reads_page(&handle, &plate_request("1AAA111"), &agency());
    assert_eq!(page.reads[0].image_ref.as_deref(), Some("images/one.jpg"));
}

#[test]
fn distinct_plates_count_and_page() {
    let handle = handle_of(&[
        read("a1", "1AAA111", 10),
        read("a2", "1AAA111", 30),
        read("a3", "1AAA111", 20),
        read("b1", "1AAA222", 5),
        read("c1", "1AAA333", 6),
        read("c2", "1AAA333", 7),
    ]);
    let mut request = plate_request("1AAA*");
    request.mode = SearchMode::DistinctPlates;
    request.page_size = 2;
    let SearchResponse::DistinctPlates(first) = handle.search(&request, &agency()).expect("search")
    else {
        panic!("expected distinct plates");
    };
    assert_eq!(first.total_plates, 3);
    let plates: Vec<(&str, u64)> = first
        .plates
        .iter()
        .map(|summary| (summary.plate.as_str(), summary.reads))
        .collect();
    assert_eq!(plates, [("1AAA111", 3), ("1AAA333", 2)]);
    assert_eq!(first.plates[0].first_seen, time(10));
    assert_eq!(first.plates[0].last_seen, time(30));

    request.cursor = first.next_cursor;
    let SearchResponse::DistinctPlates(second) =
        handle.search(&request, &agency()).expect("search")
    else {
        panic!("expected distinct plates");
    };
    assert_eq!(second.plates.len(), 1);
    assert_eq!(second.plates[0].plate, "1AAA222");
    assert_eq!(second.next_cursor, None);
}

#[test]
fn redelivered_read_indexed_once_and_deleted() {
    let mut index = ReadIndex::in_memory(20_000_000).expect("in-memory index");
    let first = read("same-id", "1AAA111", 1);
    index.upsert(&first).expect("add");
    index.upsert(&first).expect("add again");
    index.commit(&Default::default()).expect("commit");
    assert_eq!(index.read_count(), 1);
    index.upsert(&first).expect("add after commit");
    index.commit(&Default::default()).expect("commit");
    assert_eq!(index.read_count(), 1);

    index.delete("same-id");
    index.commit(&Default::default()).expect("commit");
    let handle = index.search_handle(SearchLimits::default());
    assert!(found_ids(&handle, &plate_request("1AAA111"), &agency()).is_empty());
}

#[test]
fn multi_place_needs_every_pair() {
    let at_camera = |id: &str, plate: &str, camera: &str, seconds: i64| {
        let mut read = read(id, plate, seconds);
        read.camera_id = camera.to_string();
        read
    };
    let handle = handle_of(&[
        at_camera("p1", "7ABC123", "north", 100),
        at_camera("p2", "7ABC123", "south", 5000),
        at_camera("q1", "8XYZ999", "north", 110),
        at_camera("q2", "8XYZ999", "south", 20_000),
    ]);
    let sighting = |camera: &str, from: i64, to: i64| Sighting {
        place: Place::Cameras {
            camera_ids: vec![camera.to_string()],
        },
        window: TimeWindow {
            from: time(from),
            to: time(to),
        },
    };
    let request = MultiPlaceRequest {
        sightings: vec![sighting("north", 0, 200), sighting("south", 4000, 6000)],
        min_places: None,
        plate: None,
        ocr_tolerant: false,
    };
    let hits = handle.multi_place(&request, &agency()).expect("search");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].plate, "7ABC123");
    assert_eq!(
        hits[0].sightings.keys().copied().collect::<Vec<_>>(),
        [0, 1]
    );
    assert_eq!(hits[0].sightings[&1].first_seen, time(5000));
    assert!(handle
        .multi_place(&request, &Scope::organisation("nobody"))
        .expect("search")
        .is_empty());
}

#[test]
fn invalid_requests_name_field() {
    let handle = handle_of(&[]);
    let field_of = |request: &SearchRequest| match handle.search(request, &agency()) {
        Err(SearchError::InvalidRequest(error)) => error.field,
        other => panic!("expected an invalid request, got {other:?}"),
    };

    let mut backwards = SearchRequest::in_window(day());
    backwards.window.to = backwards.window.from;
    assert_eq!(field_of(&backwards), "window.to");

    let too_long = SearchRequest::in_window(TimeWindow {
        from: time(0),
        to: time(0) + Duration::days(31),
    });
    assert_eq!(field_of(&too_long), "window");

    assert_eq!(field_of(&plate_request("7*")), "plate");

    let mut no_page = SearchRequest::in_window(day());
    no_page.page_size = 0;
    assert_eq!(field_of(&no_page), "page_size");

    let mut bad_cursor = SearchRequest::in_window(day());
    bad_cursor.cursor = Some("p3".into());
    assert_eq!(field_of(&bad_cursor), "cursor");

    let mut huge_circle = SearchRequest::in_window(day());
    huge_circle.place = Some(Place::Circle {
        centre: Point {
            latitude: 47.6,
            longitude: -122.3,
        },
        radius_metres: f64::NAN,
    });
    assert_eq!(field_of(&huge_circle), "place.radius_metres");

    let mut empty_make = SearchRequest::in_window(day());
    empty_make.vehicle.make = vec![" ".into()];
    assert_eq!(field_of(&empty_make), "vehicle.make[0]");

    let one_pair = MultiPlaceRequest {
        sightings: vec![Sighting {
            place: Place::Cameras {
                camera_ids: vec!["north".into()],
            },
            window: day(),
        }],
        min_places: None,
        plate: None,
        ocr_tolerant: false,
    };
    match handle.multi_place(&one_pair, &agency()) {
        Err(SearchError::InvalidRequest(error)) => assert_eq!(error.field, "sightings"),
        other => panic!("expected an invalid request, got {other:?}"),
    }
}

#[test]
fn request_parses_from_json() {
    let json = r#"{
        "plate": "7*12",
        "ocr_tolerant": true,
        "vehicle": {"make": ["Toyota"], "type": ["sedan"]},
        "window": {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"},
        "place": {"kind": "circle", "centre": {"latitude": 47.6, "longitude": -122.3}, "radius_metres": 500},
        "mode": "distinct_plates"
    }"#;
    let request: SearchRequest = serde_json::from_str(json).expect("valid request");
    assert_eq!(request.vehicle.vehicle_type, ["sedan"]);
    assert_eq!(request.mode, SearchMode::DistinctPlates);
    assert_eq!(request.page_size, crate::query::DEFAULT_PAGE_SIZE);
    let unknown = json.replace("\"ocr_tolerant\"", "\"ocr\"");
    assert!(serde_json::from_str::<SearchRequest>(&unknown).is_err());
}
