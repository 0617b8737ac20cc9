//! Latency of partial-plate searches over a generated index, beside a sequential scan of the
//! same reads held in memory, in the same run.
//!
//! Reads come from `alpr_search::synthetic` over 30 days (the retention period): half of them
//! of plates read once, the rest of regular vehicles chosen with a strong skew, so some plates
//! are read hundreds of times. Each pattern is searched once over the whole 30-day window and
//! every organisation, and its total match count is checked against the scan's.
//!
//! `ALPR_SEARCH_BENCH_READS` sets the number of reads (10 million by default; 1 million is a
//! quick run). `ALPR_SEARCH_BENCH_DIR` sets the folder of the index (a temporary folder by
//! default; the 10-million-read index takes a few GB).
//!
//! It is a plain binary rather than a `cargo bench` target, so that its optimised build needs
//! neither the dev-dependencies nor the Kafka follower. Run:
//! `cargo run --release -p alpr-search --no-default-features --features bench --bin partial-plate-bench`

// A benchmark that cannot set up should stop with the error, which is what unwrap does.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use alpr_schemas::confusion::ConfusionClasses;
use alpr_schemas::from_micros;
use alpr_search::synthetic::{GeneratorSettings, ReadGenerator};
use alpr_search::{
    ReadIndex, Scope, SearchHandle, SearchLimits, SearchRequest, SearchResponse, TimeWindow,
};

/// Width of one plate in the scan's flat buffer; generated plates have 7 characters.
const PLATE_WIDTH: usize = 7;
/// Patterns searched through the index.
const INDEX_PATTERNS: usize = 300;
/// Patterns scanned; fewer, because one scan of 10 million reads takes long.
const SCAN_PATTERNS: usize = 20;

/// The reads as a sequential scan stores them: plates side by side, then capture times.
struct ScanData {
    plates: Vec<u8>,
    captured_at: Vec<i64>,
}

/// Pattern shapes, in the order [`varied_patterns`] cycles through them.
const SHAPES: [&str; 6] = [
    "prefix (7ABC*)",
    "suffix (*C123)",
    "both ends (7*23)",
    "middle unknown (7A??123)",
    "full plate",
    "full plate, OCR",
];

/// A search pattern and whether it uses the OCR-tolerant option.
#[derive(Clone)]
struct Pattern {
    text: String,
    ocr_tolerant: bool,
}

fn main() {
    let count: usize = std::env::var("ALPR_SEARCH_BENCH_READS")
        .map(|value| value.parse().unwrap())
        .unwrap_or(10_000_000);
    let folder = match std::env::var_os("ALPR_SEARCH_BENCH_DIR") {
        Some(path) => tempfile::tempdir_in(path).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let settings = GeneratorSettings {
        seed: 11,
        regular_vehicles: (count / 10).max(1),
        cameras: 2_000,
        organisations: 20,
        span_micros: 30 * 24 * 3600 * 1_000_000 - 1,
        ..GeneratorSettings::default()
    };
    let start = settings.start_micros;
    let organisations: BTreeSet<String> = (0..settings.organisations)
        .map(|index| format!("org-{index}"))
        .collect();

    println!(
        "generating and indexing {count} reads into {}",
        folder.path().display()
    );
    let build_started = Instant::now();
    let mut index = ReadIndex::open(folder.path(), 1_000_000_000).unwrap();
    let mut scan = ScanData {
        plates: Vec::with_capacity(count * PLATE_WIDTH),
        captured_at: Vec::with_capacity(count),
    };
    for read in ReadGenerator::new(settings).take(count) {
        assert_eq!(read.plate.normalised.len(), PLATE_WIDTH);
        scan.plates
            .extend_from_slice(read.plate.normalised.as_bytes());
        scan.captured_at.push(read.captured_at);
        index.upsert(&read).unwrap();
    }
    index.commit(&Default::default()).unwrap();
    let build_time = build_started.elapsed();
    println!(
        "index built in {:.1} s ({:.0} reads/s), {} reads searchable",
        build_time.as_secs_f64(),
        count as f64 / build_time.as_secs_f64(),
        index.read_count()
    );

    let handle = index.search_handle(SearchLimits::default());
    let patterns = varied_patterns(&scan, INDEX_PATTERNS);
    let window = TimeWindow {
        from: from_micros(start),
        to: from_micros(start) + chrono::Duration::days(30),
    };
    let scope = Scope {
        organisation_ids: organisations,
        camera_ids: BTreeSet::new(),
    };

    let mut index_times = Vec::with_capacity(patterns.len());
    let mut index_totals = Vec::with_capacity(patterns.len());
    let mut shape_times: Vec<Vec<Duration>> = vec![Vec::new(); SHAPES.len()];
    for (number, pattern) in patterns.iter().enumerate() {
        let started = Instant::now();
        let total = search_total(&handle, pattern, window, &scope);
        let elapsed = started.elapsed();
        index_times.push(elapsed);
        shape_times[number % SHAPES.len()].push(elapsed);
        index_totals.push(total);
    }
    for (shape, times) in SHAPES.iter().zip(&mut shape_times) {
        println!(
            "index, {shape:<24} p50 {:.2} ms, p99 {:.2} ms",
            percentile_ms(times, 0.50),
            percentile_ms(times, 0.99)
        );
    }

    let classes = ConfusionClasses::default();
    let (from, to) = (window.from.timestamp_micros(), window.to.timestamp_micros());
    let mut scan_times = Vec::with_capacity(SCAN_PATTERNS);
    for (pattern, &index_total) in patterns.iter().zip(&index_totals).take(SCAN_PATTERNS) {
        let started = Instant::now();
        let classes = pattern.ocr_tolerant.then_some(&classes);
        let total = scan_total(&scan, pattern.text.as_bytes(), classes, from, to);
        scan_times.push(started.elapsed());
        assert_eq!(
            total, index_total,
            "pattern {} found different reads",
            pattern.text
        );
    }

    let matches: u64 = index_totals.iter().sum();
    println!(
        "index: {} patterns, p50 {:.2} ms, p99 {:.2} ms, mean matches {:.0}",
        index_times.len(),
        percentile_ms(&mut index_times, 0.50),
        percentile_ms(&mut index_times, 0.99),
        matches as f64 / index_totals.len() as f64
    );
    let index_p50 = percentile_ms(&mut index_times, 0.50);
    let scan_p50 = percentile_ms(&mut scan_times, 0.50);
    println!(
        "scan:  {} patterns, p50 {:.2} ms, p99 {:.2} ms (same match counts as the index)",
        scan_times.len(),
        scan_p50,
        percentile_ms(&mut scan_times, 0.99)
    );
    println!("scan p50 / index p50: {:.1}", scan_p50 / index_p50);
}

/// Returns patterns built from stored plates, in the shapes witnesses give: a prefix, a suffix,
/// both ends, unknown characters in the middle, and full plates with and without OCR tolerance.
fn varied_patterns(scan: &ScanData, count: usize) -> Vec<Pattern> {
    let mut rng = StdRng::seed_from_u64(3);
    let reads = scan.captured_at.len();
    let mut patterns = Vec::with_capacity(count);
    while patterns.len() < count {
        let index = rng.random_range(0..reads);
        let plate = &scan.plates[index * PLATE_WIDTH..(index + 1) * PLATE_WIDTH];
        if plate.contains(&b'?') {
            continue;
        }
        let plate = std::str::from_utf8(plate).unwrap();
        let (text, ocr_tolerant) = match patterns.len() % SHAPES.len() {
            0 => (format!("{}*", &plate[..4]), false),
            1 => (format!("*{}", &plate[3..]), false),
            2 => (format!("{}*{}", &plate[..1], &plate[5..]), false),
            3 => (format!("{}??{}", &plate[..2], &plate[4..]), false),
            4 => (plate.to_string(), false),
            _ => (plate.to_string(), true),
        };
        patterns.push(Pattern { text, ocr_tolerant });
    }
    patterns
}

/// Runs one search and returns its total match count.
fn search_total(
    handle: &SearchHandle,
    pattern: &Pattern,
    window: TimeWindow,
    scope: &Scope,
) -> u64 {
    let mut request = SearchRequest::in_window(window);
    request.plate = Some(pattern.text.clone());
    request.ocr_tolerant = pattern.ocr_tolerant;
    match handle.search(&request, scope).unwrap() {
        SearchResponse::Reads(page) => page.total_matches,
        SearchResponse::DistinctPlates(_) => unreachable!("reads mode was requested"),
    }
}

/// Counts the reads in `[from, to)` whose plate matches `pattern`, one read after another.
fn scan_total(
    scan: &ScanData,
    pattern: &[u8],
    classes: Option<&ConfusionClasses>,
    from: i64,
    to: i64,
) -> u64 {
    let mut total = 0;
    for (plate, &captured_at) in scan.plates.chunks_exact(PLATE_WIDTH).zip(&scan.captured_at) {
        if (from..to).contains(&captured_at) && wildcard_match(plate, pattern, classes) {
            total += 1;
        }
    }
    total
}

/// Matches by the search's rules: pattern `?` is one character, `*` any run, a stored `?`
/// matches any character, and with `classes` members of one confusion class are equal.
fn wildcard_match(plate: &[u8], pattern: &[u8], classes: Option<&ConfusionClasses>) -> bool {
    match (pattern.first(), plate.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            (0..=plate.len()).any(|skip| wildcard_match(&plate[skip..], &pattern[1..], classes))
        }
        (Some(&wanted), Some(&stored)) => {
            let equal = wanted == b'?'
                || stored == b'?'
                || wanted == stored
                || classes.is_some_and(|classes| classes.same_class(wanted, stored));
            equal && wildcard_match(&plate[1..], &pattern[1..], classes)
        }
        _ => false,
    }
}

fn percentile_ms(times: &mut [Duration], share: f64) -> f64 {
    times.sort_unstable();
    let position = ((times.len() as f64 - 1.0) * share).round() as usize;
    times[position].as_secs_f64() * 1_000.0
}
