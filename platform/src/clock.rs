//! The clock components read the current time from. It is a parameter rather than a call to
//! `Utc::now`, so that tests can move time by days instead of waiting.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// Source of the current time.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Returns the wall clock.
pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}
