//! Parses the whole Seattle Police Department export and checks the facts its publisher states.
//!
//! The file is not part of the repository. The test reads it from the shared data folder next
//! to the workspace, or from the path in `ALPR_SPD_DATA`, and fails when it is missing.

// A failed unwrap in a test is a failed test, with the value in its message.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::path::PathBuf;

use alpr_replay::{ReplaySource, SourceFormat};

const ROWS: u64 = 93_490;
const ROWS_WITHOUT_POSITION: u64 = 24_705;
/// Distinct SHA-1 digests in the file.
const DISTINCT_DIGESTS: usize = 68_188;
/// Distinct 7-character plates derived from those digests; 16 digests share a prefix with
/// another one.
const DISTINCT_DERIVED_PLATES: usize = 68_172;

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

#[test]
fn spd_export_parses_completely() {
    let path = spd_path();
    assert_eq!(SourceFormat::detect(&path).unwrap(), SourceFormat::Spd);
    let source = ReplaySource::open(&path, None).unwrap();

    let mut rows = 0_u64;
    let mut unparseable = Vec::new();
    let mut without_position = 0_u64;
    let mut plates = HashSet::new();
    let mut cameras = HashSet::new();
    let mut event_ids = HashSet::new();
    let mut first = None;
    for (line, row) in source {
        rows += 1;
        let submission = match row {
            Ok(submission) => submission,
            Err(error) => {
                unparseable.push(format!("line {line}: {error}"));
                continue;
            }
        };
        if submission.location.is_none() {
            without_position += 1;
        }
        let plate = submission.plate.as_ref().unwrap();
        plates.insert(plate.text.clone().unwrap());
        cameras.insert(submission.camera_id.clone().unwrap());
        event_ids.insert(submission.event_id.clone().unwrap());
        first.get_or_insert((line, submission));
    }

    assert_eq!(rows, ROWS);
    assert!(
        unparseable.is_empty(),
        "unparseable rows: {:?}",
        &unparseable[..unparseable.len().min(10)]
    );
    assert_eq!(without_position, ROWS_WITHOUT_POSITION);
    assert!(
        plates.len() <= DISTINCT_DIGESTS,
        "prefixes can only merge digests"
    );
    assert_eq!(plates.len(), DISTINCT_DERIVED_PLATES);
    assert_eq!(
        event_ids.len() as u64,
        ROWS,
        "every row gets its own event id"
    );
    assert!(
        cameras.contains("M207541_Deleted_2021-10-21_22 50:42"),
        "{cameras:?}"
    );
    assert_eq!(cameras.len(), 9, "{cameras:?}");

    let (line, submission) = first.unwrap();
    assert_eq!(line, 2);
    assert_eq!(submission.event_id.as_deref(), Some("spd-1"));
    assert_eq!(submission.camera_id.as_deref(), Some("SPD2020621MDC"));
    // 10/07/2021 - 16:30:51 in Seattle, on daylight time (UTC-7).
    assert_eq!(
        submission.captured_at.as_deref(),
        Some("2021-10-07T23:30:51Z")
    );
    assert_eq!(submission.plate.unwrap().text.as_deref(), Some("1EA4433"));
}
