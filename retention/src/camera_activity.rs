//! Silent cameras. A camera that stops reading (power cut, broken network, a lens turned away) is
//! otherwise invisible: no read is just as quiet as no traffic. The retention worker consumes every
//! read of the deployment, so it learns each camera's usual gap between reads and lists the
//! cameras whose silence has lasted much longer than that.
//!
//! The usual gap is an exponentially weighted mean of the gaps between reads as ingest received
//! them. Gaps under a second are left out, because a camera that reads a queue of cars in a burst
//! would otherwise learn a usual gap of nothing. A camera counts as silent when its last read is
//! older than `multiplier` times its usual gap, and never before `floor_seconds`, so a busy
//! camera is not listed after a few quiet seconds.

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::metrics::SILENT_CAMERAS;

/// Weight of the newest gap in the mean; about the last 20 gaps shape it.
const GAP_WEIGHT: f64 = 0.1;
/// Gaps shorter than this are bursts, not the camera's rhythm.
const MIN_COUNTED_GAP_MICROS: i64 = 1_000_000;

/// When a camera counts as silent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SilenceSettings {
    /// A camera is never silent before this many seconds without a read.
    pub floor_seconds: u64,
    /// A camera is silent once its last read is this many usual gaps old.
    pub multiplier: f64,
}

impl Default for SilenceSettings {
    fn default() -> Self {
        Self {
            floor_seconds: 15 * 60,
            multiplier: 4.0,
        }
    }
}

impl SilenceSettings {
    /// Returns the error message for a setting out of range.
    pub fn problem(&self) -> Option<String> {
        if self.floor_seconds == 0 {
            return Some("camera_silence.floor_seconds must be at least 1".into());
        }
        if !(self.multiplier.is_finite() && self.multiplier >= 1.0) {
            return Some(format!(
                "camera_silence.multiplier must be a number of at least 1, not {}",
                self.multiplier
            ));
        }
        None
    }

    /// Returns how long `activity`'s camera may stay without a read before it counts as silent,
    /// in microseconds.
    pub fn allowed_silence_micros(&self, activity: &CameraActivity) -> i64 {
        let floor = i64::try_from(self.floor_seconds)
            .unwrap_or(i64::MAX / 1_000_000)
            .saturating_mul(1_000_000);
        let learned = activity
            .usual_gap_micros
            .map_or(0, |gap| (gap * self.multiplier) as i64);
        floor.max(learned)
    }
}

/// The worker's record of one camera's traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraActivity {
    pub organisation_id: String,
    /// When ingest received the camera's latest read, microseconds since the Unix epoch.
    pub last_received_at: i64,
    /// Weighted mean of the gaps between reads; `None` until a gap of a second or more was seen.
    pub usual_gap_micros: Option<f64>,
}

impl CameraActivity {
    pub fn first_read(organisation_id: &str, received_at: i64) -> Self {
        Self {
            organisation_id: organisation_id.to_string(),
            last_received_at: received_at,
            usual_gap_micros: None,
        }
    }

    /// Takes a read received at `received_at` into account. A read older than the latest one,
    /// such as a re-sent read, leaves the usual gap alone.
    pub fn record_read(&mut self, received_at: i64) {
        let gap = received_at - self.last_received_at;
        if gap <= 0 {
            return;
        }
        if gap >= MIN_COUNTED_GAP_MICROS {
            let gap = gap as f64;
            self.usual_gap_micros = Some(match self.usual_gap_micros {
                None => gap,
                Some(mean) => mean + GAP_WEIGHT * (gap - mean),
            });
        }
        self.last_received_at = received_at;
    }
}

/// A camera listed as silent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SilentCamera {
    pub camera_id: String,
    pub organisation_id: String,
    /// RFC 3339 time of the last read ingest received from the camera.
    pub last_read_received_at: String,
    pub silent_seconds: i64,
    /// Silence after which this camera counts as silent, from its usual gap and the floor.
    pub allowed_silence_seconds: i64,
}

/// The silent cameras as of the latest check, shared between the checking task and the API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SilentCameraReport {
    /// RFC 3339 time of the check; `None` before the first one.
    pub checked_at: Option<String>,
    pub cameras: Vec<SilentCamera>,
}

/// The latest [`SilentCameraReport`], readable by the API while the worker refreshes it.
#[derive(Debug, Clone, Default)]
pub struct SilentCameraBoard(Arc<RwLock<SilentCameraReport>>);

impl SilentCameraBoard {
    pub fn report(&self) -> SilentCameraReport {
        self.0
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    /// Replaces the report with the cameras silent at `now_micros`, updates the gauge, and logs
    /// each camera that turned silent or sent again since the previous check.
    pub fn publish(&self, cameras: Vec<SilentCamera>, now_micros: i64) {
        let mut report = self.0.write().unwrap_or_else(|poison| poison.into_inner());
        let before: BTreeSet<&str> = report
            .cameras
            .iter()
            .map(|c| c.camera_id.as_str())
            .collect();
        let now: BTreeSet<&str> = cameras.iter().map(|c| c.camera_id.as_str()).collect();
        for camera in cameras
            .iter()
            .filter(|c| !before.contains(c.camera_id.as_str()))
        {
            tracing::warn!(
                camera_id = %camera.camera_id,
                organisation_id = %camera.organisation_id,
                silent_seconds = camera.silent_seconds,
                allowed_silence_seconds = camera.allowed_silence_seconds,
                "camera is silent: no read for longer than its usual gap allows"
            );
        }
        for camera_id in before.difference(&now) {
            tracing::info!(camera_id = %camera_id, "camera sends reads again or was forgotten");
        }
        SILENT_CAMERAS.set(i64::try_from(cameras.len()).unwrap_or(i64::MAX));
        *report = SilentCameraReport {
            checked_at: Some(
                alpr_schemas::from_micros(now_micros)
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
            cameras,
        };
    }
}

/// Returns the silent cameras among `cameras` at `now_micros`, longest silent first.
pub fn silent_cameras(
    cameras: impl IntoIterator<Item = (String, CameraActivity)>,
    settings: &SilenceSettings,
    now_micros: i64,
) -> Vec<SilentCamera> {
    let mut silent: Vec<SilentCamera> = cameras
        .into_iter()
        .filter_map(|(camera_id, activity)| {
            let silence = now_micros - activity.last_received_at;
            let allowed = settings.allowed_silence_micros(&activity);
            (silence > allowed).then(|| SilentCamera {
                camera_id,
                last_read_received_at: alpr_schemas::from_micros(activity.last_received_at)
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                organisation_id: activity.organisation_id,
                silent_seconds: silence / 1_000_000,
                allowed_silence_seconds: allowed / 1_000_000,
            })
        })
        .collect();
    silent.sort_by(|a, b| {
        b.silent_seconds
            .cmp(&a.silent_seconds)
            .then_with(|| a.camera_id.cmp(&b.camera_id))
    });
    silent
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60 * 1_000_000;

    fn camera_reading_every(gap: i64, reads: i64) -> CameraActivity {
        let mut activity = CameraActivity::first_read("spd", 0);
        for index in 1..reads {
            activity.record_read(index * gap);
        }
        activity
    }

    #[test]
    fn busy_camera_is_silent_after_the_floor() {
        let settings = SilenceSettings::default();
        let busy = camera_reading_every(30 * 1_000_000, 100);
        let last = busy.last_received_at;
        let cameras = || vec![("north-1".to_string(), busy.clone())];
        assert!(silent_cameras(cameras(), &settings, last + 15 * MINUTE).is_empty());
        let silent = silent_cameras(cameras(), &settings, last + 15 * MINUTE + 1);
        assert_eq!(silent.len(), 1);
        assert_eq!(silent[0].camera_id, "north-1");
        assert_eq!(silent[0].allowed_silence_seconds, 15 * 60);
    }

    #[test]
    fn quiet_camera_is_allowed_its_usual_gap() {
        let settings = SilenceSettings::default();
        let quiet = camera_reading_every(20 * MINUTE, 30);
        let last = quiet.last_received_at;
        let cameras = || vec![("lane-9".to_string(), quiet.clone())];
        assert!(silent_cameras(cameras(), &settings, last + 79 * MINUTE).is_empty());
        let silent = silent_cameras(cameras(), &settings, last + 81 * MINUTE);
        assert_eq!(silent.len(), 1);
        assert_eq!(silent[0].allowed_silence_seconds, 80 * 60);
    }

    #[test]
    fn bursts_keep_usual_gap() {
        let mut activity = camera_reading_every(10 * MINUTE, 10);
        let before = activity.usual_gap_micros;
        let last = activity.last_received_at;
        activity.record_read(last + 200_000);
        activity.record_read(last - MINUTE);
        assert_eq!(activity.usual_gap_micros, before);
        assert_eq!(activity.last_received_at, last + 200_000);
    }

    #[test]
    fn longest_silence_is_listed_first() {
        let settings = SilenceSettings::default();
        let cameras = vec![
            ("a".to_string(), CameraActivity::first_read("spd", 0)),
            (
                "b".to_string(),
                CameraActivity::first_read("spd", -MINUTE * 60),
            ),
            (
                "c".to_string(),
                CameraActivity::first_read("hoa-12", 100 * MINUTE),
            ),
        ];
        let listed: Vec<String> = silent_cameras(cameras, &settings, 110 * MINUTE)
            .into_iter()
            .map(|camera| camera.camera_id)
            .collect();
        assert_eq!(listed, vec!["b", "a"]);
    }

    #[test]
    fn settings_out_of_range_are_named() {
        let zero_floor = SilenceSettings {
            floor_seconds: 0,
            ..SilenceSettings::default()
        };
        assert!(zero_floor
            .problem()
            .unwrap_or_default()
            .contains("floor_seconds"));
        let small = SilenceSettings {
            multiplier: 0.5,
            ..SilenceSettings::default()
        };
        assert!(small.problem().unwrap_or_default().contains("multiplier"));
        assert_eq!(SilenceSettings::default().problem(), None);
    }
}
