//! Benchmarks of alpr. The Criterion micro-benchmarks live in `benches/` and run with
//! `cargo bench -p alpr-benches`; the end-to-end pipeline benchmark is the `pipeline-bench`
//! binary, whose library part is [`pipeline`].

pub mod pipeline;
