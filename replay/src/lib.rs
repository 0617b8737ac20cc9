//! Replays recorded ALPR reads into alpr, for demos, load tests and end-to-end checks.
//!
//! A [source](source) turns a file into submissions, as a camera would send them: the Seattle
//! Police Department export (`|`-delimited, local times, hashed plates) or a plain CSV layout.
//! A [sink](sink) delivers them, either to ingest's `POST /v1/reads` over HTTP or, validated
//! the same way, straight to the reads topic. [`replay`] connects the two, paces the reads by
//! their capture times when asked to, and returns a [`ReplaySummary`] that accounts for every
//! row: accepted, rejected by the sink, or unparseable.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use alpr_replay::{replay, HttpSink, HttpSinkConfig, ReplayOptions, ReplaySource};
//!
//! let source = ReplaySource::open("spd-alpr-pub.csv.gz".as_ref(), None)?;
//! let mut sink = HttpSink::new(HttpSinkConfig::new("http://127.0.0.1:8080", "token"))?;
//! let summary = replay(source, &mut sink, &ReplayOptions::default()).await?;
//! println!("{summary}");
//! # Ok(())
//! # }
//! ```

pub mod pacing;
mod progress;
mod run;
pub mod sink;
pub mod source;
mod summary;

pub use run::{replay, ReplayError, ReplayOptions};
pub use sink::{
    BatchOutcome, HttpSink, HttpSinkConfig, KafkaSink, KafkaSinkConfig, LineRejection, ReadSink,
    RetryPolicy, SinkError, PLACEHOLDER_JPEG,
};
pub use source::{
    CsvSource, ReplaySource, RowError, SeattleSource, SourceError, SourceFormat, SourceRow,
};
pub use summary::{LineProblem, ProblemKind, ReplaySummary, MAX_KEPT_PROBLEMS};
