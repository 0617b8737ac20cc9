//! Alert suppression: a car that sits in front of a camera is read many times in a few seconds,
//! and dispatch needs one alert for it, not twenty.
//!
//! An alert for a (normalised plate, entry, camera) is suppressed when another alert for the
//! same three was emitted for a read captured less than the window earlier or later. Times are
//! capture times, not the matcher's clock, so a replay after a crash decides the same way as the
//! first run did. Only alerts are suppressed: every read stays on the reads topic.
//!
//! The state is the capture time of the last emitted alert per key. It is never written
//! anywhere of its own: the committed alerts on the alert topic are its durable copy, because
//! each alert commits in the same transaction as the offsets of its read. A restarted matcher
//! rebuilds the state from the alerts committed within [`AlertSuppressor::history_horizon`]
//! and so agrees with the offsets it resumes from.

use std::collections::HashMap;
use std::time::Duration;

use alpr_schemas::{Alert, CameraRead};

/// The fields that make two alerts repeats of each other.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SuppressionKey {
    plate: String,
    entry_id: String,
    camera_id: String,
}

impl SuppressionKey {
    fn new(plate: &str, entry_id: &str, camera_id: &str) -> Self {
        Self {
            plate: plate.to_string(),
            entry_id: entry_id.to_string(),
            camera_id: camera_id.to_string(),
        }
    }
}

/// Decides which alerts to emit and remembers the ones emitted.
#[derive(Debug)]
pub struct AlertSuppressor {
    window_micros: i64,
    /// Capture time of the latest emitted alert per key, in microseconds since the epoch.
    last_alerted: HashMap<SuppressionKey, i64>,
    /// Latest capture time seen, which bounds what [`Self::forget_expired`] may drop.
    newest_capture: i64,
}

impl AlertSuppressor {
    /// Returns a suppressor with the given window; a zero window emits every alert.
    pub fn new(window: Duration) -> Self {
        Self {
            window_micros: i64::try_from(window.as_micros()).unwrap_or(i64::MAX),
            last_alerted: HashMap::new(),
            newest_capture: i64::MIN,
        }
    }

    /// Returns how far back, in wall-clock time, the alert topic must be read at start to
    /// restore the state. Alerts are stamped when they are emitted, which trails capture by the
    /// read's delay in reaching the matcher. Twice the window covers a delay of one window.
    pub fn history_horizon(&self) -> Duration {
        Duration::from_micros(
            u64::try_from(self.window_micros)
                .unwrap_or(0)
                .saturating_mul(2),
        )
    }

    /// Returns whether the match of `read` with entry `entry_id` should alert, and if so
    /// remembers it, so that repeats within the window are suppressed.
    pub fn admit(&mut self, read: &CameraRead, entry_id: &str) -> bool {
        self.newest_capture = self.newest_capture.max(read.captured_at);
        if self.window_micros == 0 {
            return true;
        }
        let key = SuppressionKey::new(&read.plate.normalised, entry_id, &read.camera_id);
        match self.last_alerted.get_mut(&key) {
            Some(last) if (read.captured_at - *last).abs() < self.window_micros => false,
            Some(last) => {
                *last = (*last).max(read.captured_at);
                true
            }
            None => {
                self.last_alerted.insert(key, read.captured_at);
                true
            }
        }
    }

    /// Remembers an alert that was emitted earlier, while the state is rebuilt from the topic.
    pub fn remember(&mut self, alert: &Alert) {
        self.newest_capture = self.newest_capture.max(alert.read.captured_at);
        let key = SuppressionKey::new(
            &alert.read.plate.normalised,
            &alert.entry.entry_id,
            &alert.read.camera_id,
        );
        let last = self
            .last_alerted
            .entry(key)
            .or_insert(alert.read.captured_at);
        *last = (*last).max(alert.read.captured_at);
    }

    /// Drops keys whose last alert lies more than two windows before the newest capture seen.
    /// A repeat that late would need a read delayed by more than a window, which the history
    /// horizon does not cover after a restart either.
    pub fn forget_expired(&mut self) {
        let oldest_kept = self
            .newest_capture
            .saturating_sub(self.window_micros.saturating_mul(2));
        self.last_alerted.retain(|_, &mut last| last >= oldest_kept);
    }

    /// Forgets everything, before a rebuild.
    pub fn clear(&mut self) {
        self.last_alerted.clear();
        self.newest_capture = i64::MIN;
    }

    /// Number of keys remembered.
    pub fn len(&self) -> usize {
        self.last_alerted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.last_alerted.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000;

    fn read(plate: &str, camera: &str, captured_at: i64) -> CameraRead {
        crate::test_support::plate_read(plate, None, camera, captured_at)
    }

    fn five_minutes() -> AlertSuppressor {
        AlertSuppressor::new(Duration::from_secs(300))
    }

    #[test]
    fn repeats_within_window_are_suppressed() {
        let mut suppressor = five_minutes();
        let admitted: Vec<bool> = (0..20)
            .map(|i| suppressor.admit(&read("7ABC123", "cam-1", i * SECOND / 2), "e1"))
            .collect();
        assert!(admitted[0]);
        assert_eq!(admitted.iter().filter(|&&alerted| alerted).count(), 1);
    }

    #[test]
    fn repeat_after_window_alerts_again() {
        let mut suppressor = five_minutes();
        assert!(suppressor.admit(&read("7ABC123", "cam-1", 0), "e1"));
        assert!(!suppressor.admit(&read("7ABC123", "cam-1", 299 * SECOND), "e1"));
        assert!(suppressor.admit(&read("7ABC123", "cam-1", 300 * SECOND), "e1"));
        assert!(!suppressor.admit(&read("7ABC123", "cam-1", 310 * SECOND), "e1"));
    }

    #[test]
    fn other_plate_entry_or_camera_always_alerts() {
        let mut suppressor = five_minutes();
        assert!(suppressor.admit(&read("7ABC123", "cam-1", 0), "e1"));
        assert!(suppressor.admit(&read("8XYZ999", "cam-1", 30 * SECOND), "e2"));
        assert!(suppressor.admit(&read("7ABC123", "cam-1", 31 * SECOND), "e3"));
        assert!(suppressor.admit(&read("7ABC123", "cam-2", 32 * SECOND), "e1"));
        // An OCR variant of the plate is another normalised plate, so it alerts on its own.
        assert!(suppressor.admit(&read("7ABCI23", "cam-1", 33 * SECOND), "e1"));
    }

    #[test]
    fn late_read_within_window_suppressed() {
        let mut suppressor = five_minutes();
        assert!(suppressor.admit(&read("7ABC123", "cam-1", 600 * SECOND), "e1"));
        assert!(!suppressor.admit(&read("7ABC123", "cam-1", 400 * SECOND), "e1"));
        assert!(suppressor.admit(&read("7ABC123", "cam-1", 200 * SECOND), "e1"));
    }

    #[test]
    fn zero_window_alerts_every_time() {
        let mut suppressor = AlertSuppressor::new(Duration::ZERO);
        for i in 0..5 {
            assert!(suppressor.admit(&read("7ABC123", "cam-1", i), "e1"));
        }
        assert!(suppressor.is_empty());
    }

    #[test]
    fn forgetting_keeps_recent_keys() {
        let mut suppressor = five_minutes();
        suppressor.admit(&read("OLD1", "cam-1", 0), "e1");
        suppressor.admit(&read("NEW1", "cam-1", 650 * SECOND), "e1");
        suppressor.forget_expired();
        assert_eq!(suppressor.len(), 1);
        assert!(!suppressor.admit(&read("NEW1", "cam-1", 700 * SECOND), "e1"));
        assert_eq!(suppressor.history_horizon(), Duration::from_secs(600));
    }
}
