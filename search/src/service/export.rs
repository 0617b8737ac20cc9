//! Exports of a result set as CSV or JSON, for case files.

use serde::{Deserialize, Serialize};

use alpr_schemas::{from_micros, CameraRead, VehicleAttribute};

/// Format of an export.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    #[default]
    Csv,
    Json,
}

impl ExportFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Json => "application/json",
        }
    }

    pub fn file_extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Json => "json",
        }
    }
}

/// Column names of the CSV export, in order.
const CSV_HEADER: [&str; 15] = [
    "read_id",
    "captured_at",
    "camera_id",
    "organisation_id",
    "latitude",
    "longitude",
    "plate",
    "plate_as_read",
    "plate_region",
    "make",
    "model",
    "type",
    "colour",
    "image_ref",
    "source",
];

/// Renders `reads` in `format`. JSON is an array of the reads as the search API returns them.
pub fn render(reads: &[CameraRead], format: ExportFormat) -> Result<Vec<u8>, ExportError> {
    match format {
        ExportFormat::Json => Ok(serde_json::to_vec(reads)?),
        ExportFormat::Csv => render_csv(reads),
    }
}

fn render_csv(reads: &[CameraRead]) -> Result<Vec<u8>, ExportError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(CSV_HEADER)?;
    let attribute = |value: &Option<VehicleAttribute>| {
        value
            .as_ref()
            .map(|attribute| attribute.value.clone())
            .unwrap_or_default()
    };
    for read in reads {
        let (latitude, longitude) = read
            .location
            .as_ref()
            .map(|location| {
                (
                    location.latitude.to_string(),
                    location.longitude.to_string(),
                )
            })
            .unwrap_or_default();
        writer.write_record([
            read.read_id.clone(),
            from_micros(read.captured_at).to_rfc3339(),
            read.camera_id.clone(),
            read.organisation_id.clone(),
            latitude,
            longitude,
            read.plate.normalised.clone(),
            read.plate.text.clone(),
            read.plate.region.clone().unwrap_or_default(),
            attribute(&read.vehicle.make),
            attribute(&read.vehicle.model),
            attribute(&read.vehicle.vehicle_type),
            attribute(&read.vehicle.colour),
            read.image_ref.clone().unwrap_or_default(),
            read.source.clone(),
        ])?;
    }
    writer
        .into_inner()
        .map_err(|error| ExportError::Csv(error.into_error().into()))
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write the CSV export: {0}")]
    Csv(#[from] csv::Error),
    #[error("cannot write the JSON export: {0}")]
    Json(#[from] serde_json::Error),
}

#[cfg(test)]
mod tests {
    use alpr_schemas::{Location, PlateRead, VehicleRead};

    use super::*;

    fn read() -> CameraRead {
        CameraRead {
            read_id: "0190c5a8-0000-7000-8000-000000000001".into(),
            camera_id: "cam-1".into(),
            organisation_id: "spd".into(),
            captured_at: 1_767_225_600_000_000,
            received_at: 1_767_225_600_000_000,
            location: Some(Location {
                latitude: 47.61,
                longitude: -122.33,
                heading: None,
            }),
            plate: PlateRead {
                present: true,
                text: "7ABC-123, \"x\"".into(),
                normalised: "7ABC123".into(),
                region: Some("US-WA".into()),
                confidence: None,
                unreadable_positions: Vec::new(),
            },
            vehicle: VehicleRead {
                make: Some(VehicleAttribute {
                    value: "honda".into(),
                    confidence: None,
                }),
                ..VehicleRead::default()
            },
            image_ref: Some("images/1.jpg".into()),
            source: "test".into(),
        }
    }

    #[test]
    fn csv_has_header_and_quoted_fields() {
        let bytes = render(&[read()], ExportFormat::Csv).unwrap();
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        let header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_string)
            .collect();
        assert_eq!(header, CSV_HEADER);
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(&rows[0][1], "2026-01-01T00:00:00+00:00");
        assert_eq!(&rows[0][6], "7ABC123");
        assert_eq!(&rows[0][7], "7ABC-123, \"x\"", "commas and quotes survive");
        assert_eq!(&rows[0][9], "honda");
        assert_eq!(&rows[0][10], "", "a missing attribute is empty");
    }

    #[test]
    fn json_round_trips() {
        let bytes = render(&[read()], ExportFormat::Json).unwrap();
        let reads: Vec<CameraRead> = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(reads, vec![read()]);
    }
}
