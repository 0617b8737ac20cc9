//! The read search of alpr: a Tantivy index of `alpr.reads.v1`, kept in step with the topic, and
//! the query engine investigators' searches run on.
//!
//! - [`index`] contains the schema and the index, whose commits carry the consumed offsets.
//! - [`follower`] consumes the reads topic into the index: reads are added, tombstones delete.
//! - [`service`] is `alpr search`: the HTTP API investigators call, bound to a case, scoped by
//!   the registry's sharing grants and recorded in the audit log.
//! - [`SearchHandle`] runs [`SearchRequest`]s (plate patterns, vehicle, region, time, place,
//!   reads or distinct plates) and [`MultiPlaceRequest`]s, always inside a caller's [`Scope`].
//!
//! ```no_run
//! # fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use alpr_search::{ReadIndex, Scope, SearchLimits, SearchRequest, TimeWindow};
//!
//! let index = ReadIndex::open("search-index".as_ref(), alpr_search::index::DEFAULT_WRITER_MEMORY_BYTES)?;
//! let handle = index.search_handle(SearchLimits::default());
//! let window = TimeWindow {
//!     from: "2021-10-01T00:00:00Z".parse()?,
//!     to: "2021-10-08T00:00:00Z".parse()?,
//! };
//! let mut request = SearchRequest::in_window(window);
//! request.plate = Some("7*12".into());
//! let response = handle.search(&request, &Scope::organisation("spd"))?;
//! # Ok(())
//! # }
//! ```

mod collect;
#[cfg(feature = "kafka")]
pub mod follower;
pub mod geo;
pub mod index;
#[cfg(feature = "kafka")]
mod metrics;
pub mod pattern;
pub mod query;
mod search;
#[cfg(feature = "service")]
pub mod service;
pub mod synthetic;

#[cfg(feature = "kafka")]
pub use follower::{FollowerError, FollowerSettings, ReadsFollower};
pub use geo::Point;
pub use index::{IndexError, ReadIndex, StoredOffsets};
pub use pattern::{PatternError, PlatePattern};
pub use query::{
    MultiPlaceRequest, Place, RequestError, Scope, SearchLimits, SearchMode, SearchRequest,
    Sighting, TimeWindow, VehicleFilter,
};
pub use search::{
    MultiPlaceHit, PlateSummary, PlatesPage, ReadsPage, SearchError, SearchHandle, SearchResponse,
};
