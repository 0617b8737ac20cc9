//! Benchmarks of alpr's hot paths. The Criterion benchmarks live in `benches/`; run them with
//! `cargo bench -p alpr-benches`.
