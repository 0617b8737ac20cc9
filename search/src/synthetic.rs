//! Generated reads for tests and benchmarks, with plate repetition like a real camera network's:
//! most plates are read once, and a small share of regular vehicles make up many reads.
//!
//! Each regular vehicle keeps its make, model, type, colour and region across its reads, as a
//! real car does, so vehicle filters and plate patterns select consistent sets. A few reads lose
//! one plate character to `?`, and a few have no vehicle attributes or no position.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use alpr_schemas::{CameraRead, Location, PlateRead, VehicleAttribute, VehicleRead};

/// Makes and their models.
const MAKES: [(&str, [&str; 3]); 6] = [
    ("Toyota", ["Camry", "Corolla", "RAV4"]),
    ("Honda", ["Civic", "Accord", "CR-V"]),
    ("Ford", ["F-150", "Focus", "Escape"]),
    ("Chevrolet", ["Silverado", "Malibu", "Equinox"]),
    ("Subaru", ["Outback", "Forester", "Impreza"]),
    ("Tesla", ["Model 3", "Model Y", "Model S"]),
];
const COLOURS: [&str; 7] = ["white", "black", "silver", "grey", "blue", "red", "green"];
const TYPES: [&str; 5] = ["sedan", "suv", "pickup", "van", "hatchback"];
const REGIONS: [&str; 3] = ["US-WA", "US-OR", "US-CA"];

/// Share of reads of a plate never seen before.
const NEW_PLATE_SHARE: f64 = 0.5;
/// Exponent that skews the choice among regular vehicles: index = pool × u^k for a uniform u,
/// so low indices are read far more often, about as a Zipf law would give.
const REPEAT_SKEW: i32 = 4;
/// Share of reads with one unreadable plate character.
const PARTIAL_SHARE: f64 = 0.03;
/// Share of reads without vehicle attributes.
const NO_VEHICLE_SHARE: f64 = 0.05;
/// Share of reads without a position.
const NO_POSITION_SHARE: f64 = 0.02;

/// A vehicle the generator reads: its plate and what the recogniser reports about it.
#[derive(Debug, Clone)]
struct Vehicle {
    plate: String,
    make: &'static str,
    model: &'static str,
    vehicle_type: &'static str,
    colour: &'static str,
    region: &'static str,
}

/// A fixed camera of the generated network.
#[derive(Debug, Clone)]
pub struct SyntheticCamera {
    pub camera_id: String,
    pub organisation_id: String,
    pub latitude: f64,
    pub longitude: f64,
}

/// Settings of a generated read stream.
#[derive(Debug, Clone)]
pub struct GeneratorSettings {
    pub seed: u64,
    /// Regular vehicles that are read again and again.
    pub regular_vehicles: usize,
    pub cameras: usize,
    /// Organisations the cameras are spread over, round robin.
    pub organisations: usize,
    /// First capture time, microseconds since the Unix epoch.
    pub start_micros: i64,
    /// Capture times are spread over this span, in microseconds.
    pub span_micros: i64,
}

impl Default for GeneratorSettings {
    fn default() -> Self {
        Self {
            seed: 7,
            regular_vehicles: 10_000,
            cameras: 200,
            organisations: 3,
            // 2026-01-01T00:00:00Z, spread over 7 days.
            start_micros: 1_767_225_600_000_000,
            span_micros: 7 * 24 * 3600 * 1_000_000,
        }
    }
}

/// An endless stream of generated reads; the same settings always give the same stream.
pub struct ReadGenerator {
    rng: StdRng,
    regulars: Vec<Vehicle>,
    cameras: Vec<SyntheticCamera>,
    settings: GeneratorSettings,
}

impl ReadGenerator {
    pub fn new(settings: GeneratorSettings) -> Self {
        let mut rng = StdRng::seed_from_u64(settings.seed);
        let regulars = (0..settings.regular_vehicles)
            .map(|_| random_vehicle(&mut rng))
            .collect();
        let cameras = (0..settings.cameras.max(1))
            .map(|index| SyntheticCamera {
                camera_id: format!("cam-{index:04}"),
                organisation_id: format!("org-{}", index % settings.organisations.max(1)),
                // Around Seattle, within about 20 km.
                latitude: 47.6 + rng.random_range(-0.2..0.2),
                longitude: -122.3 + rng.random_range(-0.25..0.25),
            })
            .collect();
        Self {
            rng,
            regulars,
            cameras,
            settings,
        }
    }

    /// Returns the cameras reads are taken at.
    pub fn cameras(&self) -> &[SyntheticCamera] {
        &self.cameras
    }
}

impl Iterator for ReadGenerator {
    type Item = CameraRead;

    fn next(&mut self) -> Option<CameraRead> {
        let rng = &mut self.rng;
        let vehicle = if rng.random_bool(NEW_PLATE_SHARE) || self.regulars.is_empty() {
            random_vehicle(rng)
        } else {
            let skewed = rng.random::<f64>().powi(REPEAT_SKEW);
            let index =
                ((skewed * self.regulars.len() as f64) as usize).min(self.regulars.len() - 1);
            self.regulars[index].clone()
        };
        let camera = &self.cameras[rng.random_range(0..self.cameras.len())];
        let captured_at =
            self.settings.start_micros + rng.random_range(0..self.settings.span_micros.max(1));

        let mut normalised = vehicle.plate.clone();
        let mut unreadable_positions = Vec::new();
        if rng.random_bool(PARTIAL_SHARE) {
            let position = rng.random_range(0..normalised.len());
            normalised.replace_range(position..position + 1, "?");
            unreadable_positions.push(position as i32);
        }
        let attribute = |value: &str| {
            Some(VehicleAttribute {
                value: value.to_string(),
                confidence: Some(0.9),
            })
        };
        let vehicle_read = if rng.random_bool(NO_VEHICLE_SHARE) {
            VehicleRead::default()
        } else {
            VehicleRead {
                make: attribute(vehicle.make),
                model: attribute(vehicle.model),
                vehicle_type: attribute(vehicle.vehicle_type),
                colour: attribute(vehicle.colour),
            }
        };
        let location = (!rng.random_bool(NO_POSITION_SHARE)).then_some(Location {
            latitude: camera.latitude,
            longitude: camera.longitude,
            heading: None,
        });
        let read_id = uuid::Uuid::from_u128(rng.random()).to_string();
        Some(CameraRead {
            image_ref: Some(format!("images/{read_id}.jpg")),
            read_id,
            camera_id: camera.camera_id.clone(),
            organisation_id: camera.organisation_id.clone(),
            captured_at,
            received_at: captured_at + 500_000,
            location,
            plate: PlateRead {
                present: true,
                text: vehicle.plate.clone(),
                normalised,
                region: Some(vehicle.region.to_string()),
                confidence: Some(0.95),
                unreadable_positions,
            },
            vehicle: vehicle_read,
            source: "synthetic".into(),
        })
    }
}

/// Returns a vehicle with a plate in the common US layout of one digit, three letters and three
/// digits, such as `7ABC123`.
fn random_vehicle(rng: &mut StdRng) -> Vehicle {
    let digit = |rng: &mut StdRng| char::from(b'0' + rng.random_range(0..10u8));
    let letter = |rng: &mut StdRng| char::from(b'A' + rng.random_range(0..26u8));
    let mut plate = String::with_capacity(7);
    plate.push(digit(rng));
    for _ in 0..3 {
        plate.push(letter(rng));
    }
    for _ in 0..3 {
        plate.push(digit(rng));
    }
    let (make, models) = MAKES[rng.random_range(0..MAKES.len())];
    Vehicle {
        plate,
        make,
        model: models[rng.random_range(0..models.len())],
        vehicle_type: TYPES[rng.random_range(0..TYPES.len())],
        colour: COLOURS[rng.random_range(0..COLOURS.len())],
        region: REGIONS[rng.random_range(0..REGIONS.len())],
    }
}
