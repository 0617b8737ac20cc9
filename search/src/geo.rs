//! Geometry of place filters: bounding boxes for the range clauses of a query, and the exact
//! distance and point-in-polygon checks on the reads inside a box.
//!
//! These are two short formulas on WGS84 degrees, written out here so that the search crate does
//! not pull in a full geometry library for them. Distances use the haversine formula on a
//! sphere of the mean Earth radius, which differs from the ellipsoid distance by at most about
//! 0.5 %. At the radii investigators use, that is an estimated few metres, which is about a
//! camera's own position error.

use serde::{Deserialize, Serialize};

/// Mean Earth radius in metres (IUGG value).
const EARTH_RADIUS_METRES: f64 = 6_371_008.8;

/// A WGS84 position in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub latitude: f64,
    pub longitude: f64,
}

/// Latitude and longitude ranges, in degrees, that contain a place. `longitude` has two ranges
/// when the place crosses the ±180° meridian.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundingBox {
    pub latitude: (f64, f64),
    pub longitude: Vec<(f64, f64)>,
}

/// Returns the great-circle distance between two points, in metres.
pub fn distance_metres(a: Point, b: Point) -> f64 {
    let (lat_a, lat_b) = (a.latitude.to_radians(), b.latitude.to_radians());
    let d_lat = lat_b - lat_a;
    let d_lon = (b.longitude - a.longitude).to_radians();
    let h = (d_lat / 2.0).sin().powi(2) + lat_a.cos() * lat_b.cos() * (d_lon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_METRES * h.sqrt().min(1.0).asin()
}

/// Returns a box that contains every point within `radius_metres` of `centre`. The box is a
/// little larger than the circle, so the exact distance check decides at the edges.
pub fn circle_bounds(centre: Point, radius_metres: f64) -> BoundingBox {
    let angle = (radius_metres / EARTH_RADIUS_METRES).to_degrees();
    let south = (centre.latitude - angle).max(-90.0);
    let north = (centre.latitude + angle).min(90.0);
    // Near a pole, or for a circle that contains one, every longitude is in range.
    let widest_latitude = south.abs().max(north.abs());
    if widest_latitude >= 89.9 {
        return BoundingBox {
            latitude: (south, north),
            longitude: vec![(-180.0, 180.0)],
        };
    }
    let half_width = (angle / widest_latitude.to_radians().cos()).min(180.0);
    BoundingBox {
        latitude: (south, north),
        longitude: wrap_longitude(centre.longitude - half_width, centre.longitude + half_width),
    }
}

fn wrap_longitude(west: f64, east: f64) -> Vec<(f64, f64)> {
    if east - west >= 360.0 {
        vec![(-180.0, 180.0)]
    } else if west < -180.0 {
        vec![(west + 360.0, 180.0), (-180.0, east)]
    } else if east > 180.0 {
        vec![(west, 180.0), (-180.0, east - 360.0)]
    } else {
        vec![(west, east)]
    }
}

/// Returns the box of a polygon's vertices.
///
/// NOTE: a polygon is taken as drawn on a flat longitude/latitude plane, so one that crosses the
/// ±180° meridian is not supported. Its box spans the whole globe the other way round.
pub fn polygon_bounds(vertices: &[Point]) -> BoundingBox {
    let mut south = f64::INFINITY;
    let mut north = f64::NEG_INFINITY;
    let mut west = f64::INFINITY;
    let mut east = f64::NEG_INFINITY;
    for vertex in vertices {
        south = south.min(vertex.latitude);
        north = north.max(vertex.latitude);
        west = west.min(vertex.longitude);
        east = east.max(vertex.longitude);
    }
    BoundingBox {
        latitude: (south, north),
        longitude: vec![(west, east)],
    }
}

/// Returns true when `point` is inside the polygon, by counting the edges a ray to the east
/// crosses. Points exactly on an edge may fall either way.
pub fn polygon_contains(vertices: &[Point], point: Point) -> bool {
    let mut inside = false;
    let mut previous = match vertices.last() {
        Some(&last) => last,
        None => return false,
    };
    for &vertex in vertices {
        let crosses = (vertex.latitude > point.latitude) != (previous.latitude > point.latitude);
        if crosses {
            let longitude_at_crossing = vertex.longitude
                + (point.latitude - vertex.latitude) * (previous.longitude - vertex.longitude)
                    / (previous.latitude - vertex.latitude);
            if point.longitude < longitude_at_crossing {
                inside = !inside;
            }
        }
        previous = vertex;
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(latitude: f64, longitude: f64) -> Point {
        Point {
            latitude,
            longitude,
        }
    }

    #[test]
    fn distance_of_known_pair() {
        // 0.0108° of latitude and 0.0071° of longitude at 47.6° N: about 1201 m and 532 m, so
        // about 1313 m by Pythagoras on this short distance.
        let needle = point(47.6205, -122.3493);
        let market = point(47.6097, -122.3422);
        let metres = distance_metres(needle, market);
        assert!((1250.0..1400.0).contains(&metres), "{metres}");
        assert_eq!(distance_metres(needle, needle), 0.0);
    }

    #[test]
    fn circle_bounds_contain_circle() {
        let centre = point(47.6, -122.3);
        let bounds = circle_bounds(centre, 1000.0);
        // 999 m north of the centre is inside the box.
        let north = point(47.6 + 999.0 / 111_195.0, -122.3);
        assert!(bounds.latitude.0 < centre.latitude);
        assert!(north.latitude <= bounds.latitude.1);
        assert_eq!(bounds.longitude.len(), 1);
        let (west, east) = bounds.longitude[0];
        assert!(
            west < -122.3 - 0.013 && east > -122.3 + 0.013,
            "{west} {east}"
        );
    }

    #[test]
    fn circle_bounds_split_at_antimeridian() {
        let bounds = circle_bounds(point(0.0, 179.999), 10_000.0);
        assert_eq!(bounds.longitude.len(), 2);
        assert_eq!(bounds.longitude[0].1, 180.0);
        assert_eq!(bounds.longitude[1].0, -180.0);
    }

    #[test]
    fn polygon_contains_inside_not_outside() {
        // An L shape: the notch at the top right is outside.
        let shape = [
            point(0.0, 0.0),
            point(0.0, 2.0),
            point(1.0, 2.0),
            point(1.0, 1.0),
            point(2.0, 1.0),
            point(2.0, 0.0),
        ];
        assert!(polygon_contains(&shape, point(0.5, 0.5)));
        assert!(polygon_contains(&shape, point(0.5, 1.5)));
        assert!(polygon_contains(&shape, point(1.5, 0.5)));
        assert!(!polygon_contains(&shape, point(1.5, 1.5)));
        assert!(!polygon_contains(&shape, point(3.0, 0.5)));
        assert!(!polygon_contains(&[], point(0.0, 0.0)));
    }
}
