//! Lookup cost of `PlateIndex` against 1 million and 10 million entries, beside a plain
//! `HashMap<String, _>` lookup of the same plates in the same run. Run with
//! `cargo bench -p alpr-matcher --bench plate_index`. The 10 million-entry index and map need
//! a few GB of memory together.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};

use alpr_matcher::plate_match::{ConfusionClasses, PlateIndex, DEFAULT_MAX_SUBSTITUTIONS};
use alpr_schemas::MatchPolicy;

/// Hotlist sizes measured, with the benchmark group name of each.
const SIZES: [(usize, &str); 2] = [
    (1_000_000, "plate_index_1m"),
    (10_000_000, "plate_index_10m"),
];
const PLATE_CHARACTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// xorshift64: a fixed sequence of plates without a random-number dependency.
struct Plates(u64);

impl Plates {
    fn next_plate(&mut self) -> String {
        (0..7)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                let index = usize::try_from(self.0 % PLATE_CHARACTERS.len() as u64).unwrap_or(0);
                char::from(PLATE_CHARACTERS[index])
            })
            .collect()
    }
}

fn plate_index(c: &mut Criterion) {
    for (entries, group_name) in SIZES {
        bench_size(c, entries, group_name);
    }
}

/// Builds an index and a map of `entries` plates, half exact and half OCR-tolerant, and
/// measures lookups in both.
fn bench_size(c: &mut Criterion, entries: usize, group_name: &str) {
    let mut plates = Plates(0x9e37_79b9_7f4a_7c15);
    let mut index = PlateIndex::new(ConfusionClasses::default(), DEFAULT_MAX_SUBSTITUTIONS)
        .expect("default budget is valid");
    let mut map = HashMap::with_capacity(entries);
    // Fixed plates to probe, so each benchmark has a known outcome.
    index
        .insert(entries, "1291164", MatchPolicy::OcrTolerant, 0)
        .expect("valid pattern");
    index
        .insert(entries + 1, "7AB*", MatchPolicy::Exact, 0)
        .expect("valid pattern");
    map.insert("1291164".to_string(), entries);
    for id in 0..entries {
        let plate = plates.next_plate();
        let policy = if id % 2 == 0 {
            MatchPolicy::Exact
        } else {
            MatchPolicy::OcrTolerant
        };
        index.insert(id, &plate, policy, 0).expect("valid pattern");
        map.insert(plate, id);
    }
    let missing = "9XX9XX9";

    let mut group = c.benchmark_group(group_name);
    group.bench_function("hashmap_hit", |b| b.iter(|| map.get(black_box("1291164"))));
    group.bench_function("hashmap_miss", |b| b.iter(|| map.get(black_box(missing))));
    group.bench_function("index_exact_hit", |b| {
        b.iter(|| index.matches(black_box("1291164")))
    });
    group.bench_function("index_ocr_variant_hit", |b| {
        b.iter(|| index.matches(black_box("1Z91164")))
    });
    group.bench_function("index_miss", |b| {
        b.iter(|| index.matches(black_box(missing)))
    });
    group.bench_function("index_partial_one_unknown", |b| {
        b.iter(|| index.matches(black_box("12911?4")))
    });
    group.bench_function("index_partial_two_unknown", |b| {
        b.iter(|| index.matches(black_box("1?911?4")))
    });
    group.finish();
}

criterion_group!(benches, plate_index);
criterion_main!(benches);
