//! Fuzzing of every adapter's parser with proptest: arbitrary bytes, and the sample bodies with
//! random byte edits, under every content type the adapters look at. A parser may reject any
//! input, but it must never panic, and every event it returns must carry an event id.
//!
//! The number of cases per adapter and input kind comes from `ALPR_VENDOR_FUZZ_CASES` (default
//! 20,000, small enough for CI). For a long run:
//! `ALPR_VENDOR_FUZZ_CASES=1000000 cargo test -p alpr-vendors --release --test fuzz`.

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

use alpr_vendors::{adapter_for, ParseContext, VendorEvent};

const DEFAULT_CASES: u32 = 20_000;

fn config() -> Config {
    let cases = std::env::var("ALPR_VENDOR_FUZZ_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..Config::default()
    }
}

/// Content types the adapters branch on: none, JSON, XML, and multipart with the boundaries the
/// samples use as well as one that matches nothing.
fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("application/json".to_string())),
        Just(Some("application/xml".to_string())),
        Just(Some(
            "multipart/form-data; boundary=----prboundary7MA4YWxkTrZu0gW".to_string()
        )),
        Just(Some(
            "multipart/form-data; boundary=MIME_boundary_hik_0001".to_string()
        )),
        Just(Some("multipart/form-data".to_string())),
        "[ -~]{0,40}".prop_map(Some),
    ]
}

fn samples_of(vendor: &str) -> Vec<Vec<u8>> {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/samples");
    let mut samples: Vec<Vec<u8>> = std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|entry| entry.file_name().to_string_lossy().starts_with(vendor))
                .filter(|entry| {
                    !entry
                        .file_name()
                        .to_string_lossy()
                        .ends_with(".content-type")
                })
                .filter_map(|entry| std::fs::read(entry.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    samples.sort();
    assert!(!samples.is_empty(), "no samples for {vendor} in {folder}");
    samples
}

/// One byte edit of a sample: overwrite, insert or delete at a position.
#[derive(Debug, Clone)]
enum Edit {
    Overwrite(usize, u8),
    Insert(usize, u8),
    Delete(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    // Bytes that matter to JSON and XML parsers are drawn often; any byte can still appear.
    let byte = prop_oneof![
        any::<u8>(),
        prop::sample::select(b"{}[]<>\"':,/-0123456789.eE+ntfu\\".to_vec()),
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(at, byte)| Edit::Overwrite(at, byte)),
        (any::<usize>(), byte).prop_map(|(at, byte)| Edit::Insert(at, byte)),
        any::<usize>().prop_map(Edit::Delete),
    ]
}

fn apply(mut body: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let len = body.len();
        match *edit {
            Edit::Overwrite(at, byte) if len > 0 => body[at % len] = byte,
            Edit::Insert(at, byte) => body.insert(at % (len + 1), byte),
            Edit::Delete(at) if len > 0 => {
                body.remove(at % len);
            }
            _ => {}
        }
    }
    body
}

fn check_events(vendor: &str, events: &[VendorEvent]) {
    for event in events {
        assert!(
            event.submission.event_id.is_some(),
            "{vendor}: an event without an event id"
        );
        assert!(
            event.submission.image.is_none(),
            "{vendor}: an image inline in the submission"
        );
    }
}

fn parse(vendor: &str, body: &[u8], content_type: Option<&str>) {
    let adapter = adapter_for(vendor).unwrap_or_else(|| panic!("no adapter {vendor}"));
    if let Ok(events) = adapter.parse(body, content_type, &ParseContext::default()) {
        check_events(vendor, &events);
    }
}

macro_rules! fuzz_adapter {
    ($bytes_test:ident, $edits_test:ident, $vendor:literal) => {
        proptest! {
            #![proptest_config(config())]

            #[test]
            fn $bytes_test(
                body in prop::collection::vec(any::<u8>(), 0..512),
                content_type in content_type(),
            ) {
                parse($vendor, &body, content_type.as_deref());
            }

            #[test]
            fn $edits_test(
                sample in prop::sample::select(samples_of($vendor)),
                edits in prop::collection::vec(edit(), 1..8),
                content_type in content_type(),
            ) {
                parse($vendor, &apply(sample, &edits), content_type.as_deref());
            }
        }
    };
}

fuzz_adapter!(
    openalpr_arbitrary_bytes,
    openalpr_edited_samples,
    "openalpr"
);
fuzz_adapter!(
    platerecognizer_arbitrary_bytes,
    platerecognizer_edited_samples,
    "platerecognizer"
);
fuzz_adapter!(genetec_arbitrary_bytes, genetec_edited_samples, "genetec");
fuzz_adapter!(axis_arbitrary_bytes, axis_edited_samples, "axis");
fuzz_adapter!(
    hikvision_arbitrary_bytes,
    hikvision_edited_samples,
    "hikvision"
);
fuzz_adapter!(frigate_arbitrary_bytes, frigate_edited_samples, "frigate");
