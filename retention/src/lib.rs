//! Retention worker: deletes reads past their retention period by writing tombstones to
//! `alpr.reads.v1`, except reads under an evidence hold.
//!
//! Not built yet. Until it is, nothing deletes reads: `alpr.reads.v1` keeps every read for as
//! long as the broker keeps the topic, and `alpr retention` exits with an error saying so.
