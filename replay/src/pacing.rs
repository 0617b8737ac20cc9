//! Spacing reads out in time as they were captured, optionally faster or slower.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use alpr_ingest::submission::ReadSubmission;

/// Pauses shorter than this are skipped. The schedule is absolute, so a skipped pause does not
/// add up: the next longer pause waits for it.
const MIN_PAUSE: Duration = Duration::from_millis(10);
/// Maximum pause, reached only at absurdly slow speeds, so that the arithmetic cannot overflow.
const MAX_PAUSE: Duration = Duration::from_secs(365 * 24 * 3600);

/// Decides when each read is due, relative to the first read of the replay.
///
/// A read is due at `start + (captured_at - first captured_at) / speed`. A read captured before
/// the latest read already paced is due at once, so a file that is not in time order never
/// makes the replay wait twice for the same stretch of time.
#[derive(Debug)]
pub struct Pacer {
    /// Multiple of real time. `None` sends as fast as the sink accepts.
    speed: Option<f64>,
    /// Capture time of the first paced read and the instant it was paced.
    origin: Option<(DateTime<Utc>, Instant)>,
    /// Latest capture time paced so far.
    latest: Option<DateTime<Utc>>,
}

impl Pacer {
    /// `speed` must be finite and positive, which [`crate::ReplayOptions::validate`] checks.
    pub fn new(speed: Option<f64>) -> Self {
        Self {
            speed,
            origin: None,
            latest: None,
        }
    }

    /// Returns the instant the read captured at `captured_at` is due, or `None` when it is
    /// due within [`MIN_PAUSE`] of `now` or pacing is off.
    pub fn due_at(&mut self, captured_at: DateTime<Utc>, now: Instant) -> Option<Instant> {
        let speed = self.speed?;
        let (first_capture, start) = *self.origin.get_or_insert((captured_at, now));
        let latest = self
            .latest
            .map_or(captured_at, |latest| latest.max(captured_at));
        self.latest = Some(latest);
        // `latest` is never before `first_capture`, because it includes the first read.
        let offset = (latest - first_capture).to_std().unwrap_or(Duration::ZERO);
        let scaled = Duration::try_from_secs_f64(offset.as_secs_f64() / speed)
            .unwrap_or(MAX_PAUSE)
            .min(MAX_PAUSE);
        let due = start + scaled;
        (due >= now + MIN_PAUSE).then_some(due)
    }
}

/// Returns the capture time of a submission, which every source writes as RFC 3339.
pub fn capture_time(submission: &ReadSubmission) -> Option<DateTime<Utc>> {
    let text = submission.captured_at.as_deref()?;
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_633_114_800 + seconds, 0).expect("valid test time")
    }

    #[test]
    fn unpaced_replay_never_waits() {
        let mut pacer = Pacer::new(None);
        let now = Instant::now();
        assert_eq!(pacer.due_at(at(0), now), None);
        assert_eq!(pacer.due_at(at(3600), now), None);
    }

    #[test]
    fn gaps_are_scaled_by_speed() {
        let mut pacer = Pacer::new(Some(10.0));
        let start = Instant::now();
        assert_eq!(pacer.due_at(at(0), start), None);
        let due = pacer
            .due_at(at(60), start)
            .expect("a minute at 10x is six seconds away");
        assert_eq!(due - start, Duration::from_secs(6));
    }

    #[test]
    fn earlier_read_is_due_at_once() {
        let mut pacer = Pacer::new(Some(1.0));
        let start = Instant::now();
        pacer.due_at(at(0), start);
        let later = start + Duration::from_secs(100);
        assert!(pacer.due_at(at(100), start).is_some());
        assert_eq!(pacer.due_at(at(50), later), None);
        // The next read after the out-of-order one is paced from the latest time, not from 50.
        let due = pacer
            .due_at(at(110), later)
            .expect("ten seconds after the latest read");
        assert_eq!(due - start, Duration::from_secs(110));
    }

    #[test]
    fn tiny_gaps_are_not_paused_for() {
        let mut pacer = Pacer::new(Some(1000.0));
        let start = Instant::now();
        pacer.due_at(at(0), start);
        assert_eq!(pacer.due_at(at(1), start), None);
    }

    #[test]
    fn capture_time_reads_rfc3339() {
        let submission = ReadSubmission {
            captured_at: Some("2021-10-01T19:00:00Z".into()),
            ..Default::default()
        };
        assert_eq!(capture_time(&submission), Some(at(0)));
        assert_eq!(capture_time(&ReadSubmission::default()), None);
    }
}
