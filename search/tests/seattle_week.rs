//! Searches over the Seattle Police Department week, compared with a plain scan of the same
//! reads, plus vehicle filters over generated reads.
//!
//! The export is not part of the repository. The test reads it from the shared data folder next
//! to the workspace, or from the path in `ALPR_SPD_DATA`, and fails when it is missing. Its
//! plates are derived from SHA-1 digests, so they hold only 0–9 and A–F.

// A failed unwrap in a test is a failed test, with the value in its message.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::LazyLock;

use chrono::{Duration, Utc};

use alpr_ingest::validate::{validate_submission, ValidationLimits};
use alpr_replay::SeattleSource;
use alpr_schemas::confusion::ConfusionClasses;
use alpr_schemas::{from_micros, CameraRead, Location};
use alpr_search::geo::distance_metres;
use alpr_search::synthetic::{GeneratorSettings, ReadGenerator};
use alpr_search::{
    MultiPlaceRequest, Place, Point, ReadIndex, Scope, SearchHandle, SearchLimits, SearchMode,
    SearchRequest, SearchResponse, Sighting, TimeWindow,
};

const ORGANISATION: &str = "spd";
/// A plate no derived plate can be: P, L, N and T are not hexadecimal digits.
const PLANTED_PLATE: &str = "PLANT77";

fn spd_path() -> PathBuf {
    let path = match std::env::var_os("ALPR_SPD_DATA") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/data/spd-alpr/spd-alpr-pub.csv.gz"),
    };
    assert!(
        path.is_file(),
        "SPD export not found at {}; set ALPR_SPD_DATA to the path of spd-alpr-pub.csv.gz",
        path.display()
    );
    path
}

/// The week's reads, three planted reads of [`PLANTED_PLATE`], and an index of all of them.
struct Week {
    reads: Vec<CameraRead>,
    planted: Vec<CameraRead>,
    window: TimeWindow,
    handle: SearchHandle,
    _folder: tempfile::TempDir,
}

static WEEK: LazyLock<Week> = LazyLock::new(load_week);

fn load_week() -> Week {
    let limits = ValidationLimits {
        max_clock_skew: Duration::minutes(5),
    };
    let now = Utc::now();
    let mut reads = Vec::new();
    for (line, row) in SeattleSource::open(&spd_path()).unwrap() {
        let submission = row.unwrap_or_else(|error| panic!("line {line}: {error}"));
        reads.push(
            validate_submission(submission, ORGANISATION, "replay-spd", now, limits).unwrap(),
        );
    }
    assert_eq!(reads.len(), 93_490, "reads of the week");
    let planted = plant_reads(&reads);
    reads.extend(planted.iter().cloned());

    let folder = tempfile::tempdir().unwrap();
    let mut index = ReadIndex::open(folder.path(), 50_000_000).unwrap();
    for read in &reads {
        index.upsert(read).unwrap();
    }
    index.commit(&Default::default()).unwrap();
    assert_eq!(index.read_count(), reads.len() as u64);

    let first = reads.iter().map(|read| read.captured_at).min().unwrap();
    let last = reads.iter().map(|read| read.captured_at).max().unwrap();
    Week {
        window: TimeWindow {
            from: from_micros(first),
            to: from_micros(last + 1),
        },
        handle: index.search_handle(SearchLimits::default()),
        reads,
        planted,
        _folder: folder,
    }
}

/// Plants one read of [`PLANTED_PLATE`] a second after each of three reads with a position, at
/// three different cameras spread over the week. The export is not in time order, and its last
/// rows have no position, so the hosts are chosen among positioned reads sorted by time.
fn plant_reads(reads: &[CameraRead]) -> Vec<CameraRead> {
    let mut located: Vec<&CameraRead> = reads
        .iter()
        .filter(|read| read.location.is_some())
        .collect();
    located.sort_by_key(|read| read.captured_at);
    let mut planted: Vec<CameraRead> = Vec::new();
    for share in [0.2, 0.5, 0.8] {
        let start = (located.len() as f64 * share) as usize;
        let host = located[start..]
            .iter()
            .find(|read| {
                planted
                    .iter()
                    .all(|other| other.camera_id != read.camera_id)
            })
            .unwrap();
        let mut read = (*host).clone();
        read.read_id = format!("planted-{}", planted.len());
        read.captured_at += 1_000_000;
        read.plate.text = PLANTED_PLATE.into();
        read.plate.normalised = PLANTED_PLATE.into();
        planted.push(read);
    }
    planted
}

/// Returns true when `plate` matches `pattern` by the rules the search promises. In the pattern,
/// `?` is any one character and `*` any run. A stored `?` matches any pattern character, and with
/// `classes` two characters of one confusion class are equal.
fn scan_matches(plate: &[u8], pattern: &[u8], classes: Option<&ConfusionClasses>) -> bool {
    match (pattern.first(), plate.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            (0..=plate.len()).any(|skip| scan_matches(&plate[skip..], &pattern[1..], classes))
        }
        (Some(&wanted), Some(&stored)) => {
            let equal = wanted == b'?'
                || stored == b'?'
                || wanted == stored
                || classes.is_some_and(|classes| classes.same_class(wanted, stored));
            equal && scan_matches(&plate[1..], &pattern[1..], classes)
        }
        _ => false,
    }
}

/// Follows every page of `request` and returns the read ids found.
fn all_found(handle: &SearchHandle, mut request: SearchRequest) -> BTreeSet<String> {
    request.page_size = 1_000;
    let scope = Scope::organisation(ORGANISATION);
    let mut found = BTreeSet::new();
    loop {
        let SearchResponse::Reads(page) = handle.search(&request, &scope).unwrap() else {
            panic!("expected reads");
        };
        for read in page.reads {
            assert!(found.insert(read.read_id), "a read appeared on two pages");
        }
        match page.next_cursor {
            Some(cursor) => request.cursor = Some(cursor),
            None => return found,
        }
    }
}

#[test]
fn plate_patterns_match_file_scan() {
    let week = &*WEEK;
    let classes = ConfusionClasses::default();
    let cases = [
        ("1EA4*", false),
        ("1E*", false),
        ("*12", false),
        ("A?C*", false),
        ("?0?0*", false),
        ("8B0*", true),
    ];
    for (pattern, ocr_tolerant) in cases {
        let expected: BTreeSet<String> = week
            .reads
            .iter()
            .filter(|read| {
                let classes = ocr_tolerant.then_some(&classes);
                scan_matches(
                    read.plate.normalised.as_bytes(),
                    pattern.as_bytes(),
                    classes,
                )
            })
            .map(|read| read.read_id.clone())
            .collect();
        let mut request = SearchRequest::in_window(week.window);
        request.plate = Some(pattern.into());
        request.ocr_tolerant = ocr_tolerant;
        let found = all_found(&week.handle, request);
        assert_eq!(found, expected, "pattern {pattern}");
        if pattern != "1EA4*" {
            // Every pattern but the example is common enough to be found in a week of reads.
            assert!(expected.len() > 50, "pattern {pattern}: {}", expected.len());
        }
    }
}

#[test]
fn distinct_plates_match_file_scan() {
    let week = &*WEEK;
    let mut expected: HashMap<&str, u64> = HashMap::new();
    for read in &week.reads {
        if scan_matches(read.plate.normalised.as_bytes(), b"1E*", None) {
            *expected.entry(read.plate.normalised.as_str()).or_default() += 1;
        }
    }
    let mut request = SearchRequest::in_window(week.window);
    request.plate = Some("1E*".into());
    request.mode = SearchMode::DistinctPlates;
    request.page_size = 1_000;
    let scope = Scope::organisation(ORGANISATION);
    let SearchResponse::DistinctPlates(page) = week.handle.search(&request, &scope).unwrap() else {
        panic!("expected distinct plates");
    };
    assert_eq!(page.total_plates, expected.len() as u64);
    let found: HashMap<&str, u64> = page
        .plates
        .iter()
        .map(|summary| (summary.plate.as_str(), summary.reads))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn multi_place_finds_planted_plate() {
    let week = &*WEEK;
    let minutes = Duration::minutes(10);
    let window_around = |read: &CameraRead| TimeWindow {
        from: from_micros(read.captured_at) - minutes,
        to: from_micros(read.captured_at) + minutes,
    };
    let centre = |location: &Option<Location>| {
        let location = location.as_ref().unwrap();
        Point {
            latitude: location.latitude,
            longitude: location.longitude,
        }
    };
    let [first, second, third] = &week.planted[..] else {
        panic!("three planted reads expected");
    };
    // The middle scene is a 300 m circle around the camera, the others are the cameras.
    let sightings = vec![
        Sighting {
            place: Place::Cameras {
                camera_ids: vec![first.camera_id.clone()],
            },
            window: window_around(first),
        },
        Sighting {
            place: Place::Circle {
                centre: centre(&second.location),
                radius_metres: 300.0,
            },
            window: window_around(second),
        },
        Sighting {
            place: Place::Cameras {
                camera_ids: vec![third.camera_id.clone()],
            },
            window: window_around(third),
        },
    ];

    // The same question answered by a scan of the reads.
    let in_sighting = |read: &CameraRead, sighting: &Sighting| {
        let time = from_micros(read.captured_at);
        let in_window = sighting.window.from <= time && time < sighting.window.to;
        let in_place = match &sighting.place {
            Place::Cameras { camera_ids } => camera_ids.contains(&read.camera_id),
            Place::Circle {
                centre: middle,
                radius_metres,
            } => read.location.as_ref().is_some_and(|location| {
                let point = Point {
                    latitude: location.latitude,
                    longitude: location.longitude,
                };
                distance_metres(*middle, point) <= *radius_metres
            }),
            Place::Polygon { .. } => unreachable!("no polygon in this test"),
        };
        in_window && in_place
    };
    let plates_at = |sighting: &Sighting| -> BTreeSet<&str> {
        week.reads
            .iter()
            .filter(|read| in_sighting(read, sighting))
            .map(|read| read.plate.normalised.as_str())
            .collect()
    };
    let scanned: BTreeSet<&str> = sightings
        .iter()
        .map(plates_at)
        .reduce(|all, next| all.intersection(&next).copied().collect())
        .unwrap();

    let request = MultiPlaceRequest {
        sightings,
        min_places: None,
        plate: None,
        ocr_tolerant: false,
    };
    let hits = week
        .handle
        .multi_place(&request, &Scope::organisation(ORGANISATION))
        .unwrap();
    let found: BTreeSet<&str> = hits.iter().map(|hit| hit.plate.as_str()).collect();
    assert_eq!(found, scanned);
    assert_eq!(found, BTreeSet::from([PLANTED_PLATE]));
    assert_eq!(hits[0].sightings.len(), 3);
}

#[test]
fn vehicle_filter_matches_generated_scan() {
    let mut generator = ReadGenerator::new(GeneratorSettings::default());
    let reads: Vec<CameraRead> = generator.by_ref().take(30_000).collect();
    let mut index = ReadIndex::in_memory(50_000_000).unwrap();
    for read in &reads {
        index.upsert(read).unwrap();
    }
    index.commit(&Default::default()).unwrap();
    let handle = index.search_handle(SearchLimits::default());

    let first = reads.iter().map(|read| read.captured_at).min().unwrap();
    let window = TimeWindow {
        from: from_micros(first),
        to: from_micros(first) + Duration::days(7),
    };
    let is = |attribute: &Option<alpr_schemas::VehicleAttribute>, value: &str| {
        attribute
            .as_ref()
            .is_some_and(|attribute| attribute.value.eq_ignore_ascii_case(value))
    };
    let scope = Scope {
        organisation_ids: ["org-0", "org-1"].map(String::from).into(),
        camera_ids: BTreeSet::new(),
    };
    let expected: BTreeSet<String> = reads
        .iter()
        .filter(|read| scope.organisation_ids.contains(&read.organisation_id))
        .filter(|read| is(&read.vehicle.make, "toyota") && is(&read.vehicle.colour, "blue"))
        .map(|read| read.read_id.clone())
        .collect();
    assert!(expected.len() > 100, "{}", expected.len());

    let mut request = SearchRequest::in_window(window);
    request.vehicle.make = vec!["Toyota".into()];
    request.vehicle.colour = vec!["Blue".into()];
    request.page_size = 1_000;
    let mut found = BTreeSet::new();
    loop {
        let SearchResponse::Reads(page) = handle.search(&request, &scope).unwrap() else {
            panic!("expected reads");
        };
        found.extend(page.reads.into_iter().map(|read| read.read_id));
        match page.next_cursor {
            Some(cursor) => request.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(found, expected);
}
