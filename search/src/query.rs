//! Search requests as callers send them (serde, so the HTTP layer can take them as JSON), their
//! validation, and the scope a caller may see.
//!
//! Validation turns a request into a checked form that the executor trusts. Each error names the
//! field in the request's JSON layout, such as `window.to` or `sightings[1].place.radius_metres`.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use alpr_schemas::confusion::ConfusionClasses;

use crate::geo::Point;
use crate::pattern::PlatePattern;

/// Default number of results of one page.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Largest circle radius a place may have. A wider area is a different kind of search (a
/// region or a time window alone), and a huge circle only makes the exact distance check run
/// over most reads.
pub const MAX_RADIUS_METRES: f64 = 50_000.0;
/// Most vertices a polygon may have; the point-in-polygon check costs one step per vertex.
pub const MAX_POLYGON_VERTICES: usize = 1_000;
/// Most values one filter list (cameras, makes, regions…) may hold.
pub const MAX_FILTER_VALUES: usize = 1_000;
/// Minimum number of (place, window) pairs of a multi-place search.
pub const MIN_SIGHTINGS: usize = 2;
/// Maximum number of (place, window) pairs of a multi-place search; each pair is one query.
pub const MAX_SIGHTINGS: usize = 10;

/// A time window, `from` included and `to` excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// The place of reads: a list of cameras, a circle, or a polygon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Place {
    Cameras {
        camera_ids: Vec<String>,
    },
    Circle {
        centre: Point,
        radius_metres: f64,
    },
    /// A polygon by its vertices in order; the last vertex connects back to the first.
    Polygon {
        vertices: Vec<Point>,
    },
}

/// Vehicle attributes a read must have. Each non-empty list matches any of its values, compared
/// without regard to case; a read without the attribute never matches a non-empty list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VehicleFilter {
    pub make: Vec<String>,
    pub model: Vec<String>,
    #[serde(rename = "type")]
    pub vehicle_type: Vec<String>,
    pub colour: Vec<String>,
}

/// The kind of result of a search: the reads, or one summary line per distinct plate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    #[default]
    Reads,
    DistinctPlates,
}

/// A search of stored reads. Every filter that is set must hold; the time window is required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// Plate pattern: `?` is one character and `*` any run, such as `7*12`.
    #[serde(default)]
    pub plate: Option<String>,
    /// Lets each known pattern character also match the other members of its OCR confusion
    /// class (`0ODQ`, `1IL`…).
    #[serde(default)]
    pub ocr_tolerant: bool,
    #[serde(default)]
    pub vehicle: VehicleFilter,
    /// ISO 3166-2 regions such as `US-WA`; a read of unknown region never matches a non-empty list.
    #[serde(default)]
    pub regions: Vec<String>,
    pub window: TimeWindow,
    #[serde(default)]
    pub place: Option<Place>,
    #[serde(default = "default_page_size")]
    pub page_size: usize,
    /// `next_cursor` of the previous page, to get the page after it.
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub mode: SearchMode,
}

fn default_page_size() -> usize {
    DEFAULT_PAGE_SIZE
}

impl SearchRequest {
    /// Returns a request for every read in `window`, with every other filter unset.
    pub fn in_window(window: TimeWindow) -> Self {
        Self {
            plate: None,
            ocr_tolerant: false,
            vehicle: VehicleFilter::default(),
            regions: Vec::new(),
            window,
            place: None,
            page_size: DEFAULT_PAGE_SIZE,
            cursor: None,
            mode: SearchMode::Reads,
        }
    }
}

/// One (place, time window) pair of a multi-place search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sighting {
    pub place: Place,
    pub window: TimeWindow,
}

/// Plates seen at several (place, window) pairs: "which car was at all three scenes".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiPlaceRequest {
    pub sightings: Vec<Sighting>,
    /// Pairs a plate must be seen at; every pair when unset.
    #[serde(default)]
    pub min_places: Option<usize>,
    /// Optional plate pattern every read must match too.
    #[serde(default)]
    pub plate: Option<String>,
    #[serde(default)]
    pub ocr_tolerant: bool,
}

/// The cameras a caller may see reads of: every camera of the listed organisations, and the
/// listed cameras of other organisations that granted access to them. The registry computes it;
/// the query engine adds it to every query as a required clause.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scope {
    pub organisation_ids: BTreeSet<String>,
    pub camera_ids: BTreeSet<String>,
}

impl Scope {
    /// Returns the scope of one organisation's own cameras.
    pub fn organisation(organisation_id: &str) -> Self {
        Self {
            organisation_ids: BTreeSet::from([organisation_id.to_string()]),
            camera_ids: BTreeSet::new(),
        }
    }

    /// Returns true when the scope lets the caller see nothing.
    pub fn is_empty(&self) -> bool {
        self.organisation_ids.is_empty() && self.camera_ids.is_empty()
    }
}

/// Deployment limits that requests are checked against.
#[derive(Debug, Clone)]
pub struct SearchLimits {
    /// Maximum time window: the retention period, because older reads are deleted anyway.
    pub max_window: Duration,
    /// Largest page a caller may ask for.
    pub max_page_size: usize,
    /// Confusion classes of the OCR-tolerant option, the same as the matcher's.
    pub classes: ConfusionClasses,
}

impl Default for SearchLimits {
    fn default() -> Self {
        Self {
            max_window: Duration::days(30),
            max_page_size: 1_000,
            classes: ConfusionClasses::default(),
        }
    }
}

/// A request that failed validation, with the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{field}`: {message}")]
pub struct RequestError {
    /// Path of the field in the request's JSON, such as `window.to`.
    pub field: String,
    pub message: String,
}

impl RequestError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A time window in microseconds since the Unix epoch, `from` included and `to` excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MicrosWindow {
    pub from: i64,
    pub to: i64,
}

/// A place after validation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CheckedPlace {
    Cameras(Vec<String>),
    Circle { centre: Point, radius_metres: f64 },
    Polygon(Vec<Point>),
}

/// Filters of one query after validation, shared by searches and each multi-place pair.
#[derive(Debug, Clone, Default)]
pub(crate) struct CheckedFilters {
    pub plate: Option<PlatePattern>,
    pub ocr_tolerant: bool,
    pub vehicle: VehicleFilter,
    pub regions: Vec<String>,
    pub window: Option<MicrosWindow>,
    pub place: Option<CheckedPlace>,
}

/// Position after which the next page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cursor {
    /// After the read with this (captured_at, order key).
    Read { captured_at: i64, order_key: u64 },
    /// After this many distinct plates.
    Plates { offset: usize },
}

impl Cursor {
    pub(crate) fn encode(self) -> String {
        match self {
            Self::Read {
                captured_at,
                order_key,
            } => format!("r{captured_at}.{order_key}"),
            Self::Plates { offset } => format!("p{offset}"),
        }
    }

    fn decode(text: &str, mode: SearchMode) -> Result<Self, RequestError> {
        let invalid = || {
            RequestError::new(
                "cursor",
                format!("`{text}` is not a cursor of a {mode:?} search; pass `next_cursor` of the previous page unchanged"),
            )
        };
        match mode {
            SearchMode::Reads => {
                let rest = text.strip_prefix('r').ok_or_else(invalid)?;
                let (time, key) = rest.split_once('.').ok_or_else(invalid)?;
                Ok(Self::Read {
                    captured_at: time.parse().map_err(|_| invalid())?,
                    order_key: key.parse().map_err(|_| invalid())?,
                })
            }
            SearchMode::DistinctPlates => {
                let rest = text.strip_prefix('p').ok_or_else(invalid)?;
                Ok(Self::Plates {
                    offset: rest.parse().map_err(|_| invalid())?,
                })
            }
        }
    }
}

/// A validated search.
#[derive(Debug, Clone)]
pub(crate) struct CheckedSearch {
    pub filters: CheckedFilters,
    pub page_size: usize,
    pub cursor: Option<Cursor>,
    pub mode: SearchMode,
}

/// A validated multi-place search.
#[derive(Debug, Clone)]
pub(crate) struct CheckedMultiPlace {
    pub sightings: Vec<CheckedFilters>,
    pub min_places: usize,
}

pub(crate) fn check_search(
    request: &SearchRequest,
    limits: &SearchLimits,
) -> Result<CheckedSearch, RequestError> {
    let mut filters = CheckedFilters {
        plate: check_plate(request.plate.as_deref(), "plate")?,
        ocr_tolerant: request.ocr_tolerant,
        vehicle: check_vehicle(&request.vehicle)?,
        regions: check_list(&request.regions, "regions", crate::index::region_term)?,
        window: Some(check_window(&request.window, "window", limits)?),
        place: None,
    };
    if let Some(place) = &request.place {
        filters.place = Some(check_place(place, "place")?);
    }
    if request.page_size == 0 || request.page_size > limits.max_page_size {
        return Err(RequestError::new(
            "page_size",
            format!(
                "{} is outside 1 to {}",
                request.page_size, limits.max_page_size
            ),
        ));
    }
    let cursor = request
        .cursor
        .as_deref()
        .map(|text| Cursor::decode(text, request.mode))
        .transpose()?;
    Ok(CheckedSearch {
        filters,
        page_size: request.page_size,
        cursor,
        mode: request.mode,
    })
}

pub(crate) fn check_multi_place(
    request: &MultiPlaceRequest,
    limits: &SearchLimits,
) -> Result<CheckedMultiPlace, RequestError> {
    let count = request.sightings.len();
    if !(MIN_SIGHTINGS..=MAX_SIGHTINGS).contains(&count) {
        return Err(RequestError::new(
            "sightings",
            format!("{count} pairs given; give {MIN_SIGHTINGS} to {MAX_SIGHTINGS}"),
        ));
    }
    let min_places = request.min_places.unwrap_or(count);
    if !(MIN_SIGHTINGS..=count).contains(&min_places) {
        return Err(RequestError::new(
            "min_places",
            format!("{min_places} is outside {MIN_SIGHTINGS} to {count}, the number of pairs"),
        ));
    }
    let plate = check_plate(request.plate.as_deref(), "plate")?;
    let mut sightings = Vec::with_capacity(count);
    for (index, sighting) in request.sightings.iter().enumerate() {
        let prefix = format!("sightings[{index}]");
        sightings.push(CheckedFilters {
            plate: plate.clone(),
            ocr_tolerant: request.ocr_tolerant,
            window: Some(check_window(
                &sighting.window,
                &format!("{prefix}.window"),
                limits,
            )?),
            place: Some(check_place(&sighting.place, &format!("{prefix}.place"))?),
            ..CheckedFilters::default()
        });
    }
    Ok(CheckedMultiPlace {
        sightings,
        min_places,
    })
}

fn check_plate(plate: Option<&str>, field: &str) -> Result<Option<PlatePattern>, RequestError> {
    plate
        .map(PlatePattern::parse)
        .transpose()
        .map_err(|error| RequestError::new(field, error.to_string()))
}

fn check_window(
    window: &TimeWindow,
    field: &str,
    limits: &SearchLimits,
) -> Result<MicrosWindow, RequestError> {
    if window.to <= window.from {
        return Err(RequestError::new(
            format!("{field}.to"),
            format!("{} is not after `from` {}", window.to, window.from),
        ));
    }
    if window.to - window.from > limits.max_window {
        return Err(RequestError::new(
            field,
            format!(
                "the window spans {} hours; at most {} hours (the retention period) are allowed",
                (window.to - window.from).num_hours(),
                limits.max_window.num_hours()
            ),
        ));
    }
    Ok(MicrosWindow {
        from: window.from.timestamp_micros(),
        to: window.to.timestamp_micros(),
    })
}

fn check_vehicle(vehicle: &VehicleFilter) -> Result<VehicleFilter, RequestError> {
    let term = crate::index::attribute_term;
    Ok(VehicleFilter {
        make: check_list(&vehicle.make, "vehicle.make", term)?,
        model: check_list(&vehicle.model, "vehicle.model", term)?,
        vehicle_type: check_list(&vehicle.vehicle_type, "vehicle.type", term)?,
        colour: check_list(&vehicle.colour, "vehicle.colour", term)?,
    })
}

/// Normalises every value of a filter list with `normalise` and rejects empty values and lists
/// longer than [`MAX_FILTER_VALUES`].
fn check_list(
    values: &[String],
    field: &str,
    normalise: fn(&str) -> String,
) -> Result<Vec<String>, RequestError> {
    if values.len() > MAX_FILTER_VALUES {
        return Err(RequestError::new(
            field,
            format!(
                "{} values given; at most {MAX_FILTER_VALUES} are allowed",
                values.len()
            ),
        ));
    }
    let mut checked = Vec::with_capacity(values.len());
    for (index, value) in values.iter().enumerate() {
        let value = normalise(value);
        if value.is_empty() {
            return Err(RequestError::new(format!("{field}[{index}]"), "empty"));
        }
        checked.push(value);
    }
    Ok(checked)
}

fn check_point(point: &Point, field: &str) -> Result<(), RequestError> {
    if !(-90.0..=90.0).contains(&point.latitude) {
        return Err(RequestError::new(
            format!("{field}.latitude"),
            format!("{} is outside -90 to 90 degrees", point.latitude),
        ));
    }
    if !(-180.0..=180.0).contains(&point.longitude) {
        return Err(RequestError::new(
            format!("{field}.longitude"),
            format!("{} is outside -180 to 180 degrees", point.longitude),
        ));
    }
    Ok(())
}

fn check_place(place: &Place, field: &str) -> Result<CheckedPlace, RequestError> {
    match place {
        Place::Cameras { camera_ids } => {
            let ids = check_list(camera_ids, &format!("{field}.camera_ids"), |id| {
                id.to_string()
            })?;
            if ids.is_empty() {
                return Err(RequestError::new(
                    format!("{field}.camera_ids"),
                    "empty; give at least one camera id",
                ));
            }
            Ok(CheckedPlace::Cameras(ids))
        }
        Place::Circle {
            centre,
            radius_metres,
        } => {
            check_point(centre, &format!("{field}.centre"))?;
            // Written so that NaN fails too.
            if !(*radius_metres > 0.0 && *radius_metres <= MAX_RADIUS_METRES) {
                return Err(RequestError::new(
                    format!("{field}.radius_metres"),
                    format!("{radius_metres} is outside 0 (excluded) to {MAX_RADIUS_METRES}"),
                ));
            }
            Ok(CheckedPlace::Circle {
                centre: *centre,
                radius_metres: *radius_metres,
            })
        }
        Place::Polygon { vertices } => {
            if !(3..=MAX_POLYGON_VERTICES).contains(&vertices.len()) {
                return Err(RequestError::new(
                    format!("{field}.vertices"),
                    format!(
                        "{} vertices given; give 3 to {MAX_POLYGON_VERTICES}",
                        vertices.len()
                    ),
                ));
            }
            for (index, vertex) in vertices.iter().enumerate() {
                check_point(vertex, &format!("{field}.vertices[{index}]"))?;
            }
            Ok(CheckedPlace::Polygon(vertices.clone()))
        }
    }
}
