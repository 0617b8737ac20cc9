//! Records shared by the unit tests of several modules.

use alpr_schemas::{CameraRead, PlateRead, VehicleRead};

/// Returns a read of `plate`, already normalised, by `camera` at `captured_at` (microseconds),
/// received at the same moment.
pub(crate) fn plate_read(
    plate: &str,
    region: Option<&str>,
    camera: &str,
    captured_at: i64,
) -> CameraRead {
    CameraRead {
        read_id: "r-1".into(),
        camera_id: camera.into(),
        organisation_id: "spd".into(),
        captured_at,
        received_at: captured_at,
        location: None,
        plate: PlateRead {
            present: true,
            text: plate.into(),
            normalised: plate.into(),
            region: region.map(str::to_string),
            confidence: None,
            unreadable_positions: vec![],
        },
        vehicle: VehicleRead::default(),
        image_ref: None,
        source: "test".into(),
    }
}
