//! Synthetic camera traffic for the demo: a fixed set of cameras around Seattle, a population of
//! plates in which a few vehicles pass often and most rarely, and a hotlist whose plates make up
//! about 0.3 % of reads, inside the 0.03–0.5 % hit rates agencies publish.

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use alpr_ingest::submission::{SubmittedLocation, SubmittedPlate};
use alpr_ingest::ReadSubmission;

/// One plate in every this many is on the hotlist. Plates are picked for the list without regard
/// to how often they pass, so the share of reads that hit is about one in this many.
const HOTLIST_EVERY: usize = 333;
const CAMERA_COUNT: usize = 24;

/// Deterministic synthetic traffic.
pub struct TrafficGenerator {
    rng: StdRng,
    plates: Vec<String>,
    hot_plates: std::collections::HashSet<String>,
    cameras: Vec<(String, f64, f64)>,
    next_event: u64,
}

/// A hotlisted plate with the region on the list.
#[derive(Debug, Clone)]
pub struct HotPlate {
    pub plate: String,
    pub region: &'static str,
}

impl TrafficGenerator {
    /// Creates a generator over `plate_count` distinct plates; the same seed gives the same
    /// traffic.
    pub fn new(seed: u64, plate_count: usize) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let plates: Vec<String> = (0..plate_count).map(|_| random_plate(&mut rng)).collect();
        let hot_plates = hotlisted(&plates).cloned().collect();
        let cameras = (0..CAMERA_COUNT)
            .map(|index| {
                let latitude = 47.50 + rng.random::<f64>() * 0.23;
                let longitude = -122.42 + rng.random::<f64>() * 0.17;
                (format!("demo-cam-{:02}", index + 1), latitude, longitude)
            })
            .collect();
        Self {
            rng,
            plates,
            hot_plates,
            cameras,
            next_event: 0,
        }
    }

    /// Returns every plate the traffic is drawn from.
    pub fn plates(&self) -> &[String] {
        &self.plates
    }

    /// Returns the hotlisted plates, all listed for Washington.
    pub fn hotlist(&self) -> Vec<HotPlate> {
        hotlisted(&self.plates)
            .map(|plate| HotPlate {
                plate: plate.clone(),
                region: "US-WA",
            })
            .collect()
    }

    /// Returns whether a read with this plate and region alerts against [`Self::hotlist`].
    pub fn is_hit(&self, submission: &ReadSubmission) -> bool {
        let Some(plate) = &submission.plate else {
            return false;
        };
        let region_allows = matches!(plate.region.as_deref(), None | Some("US-WA"));
        let text = plate.text.as_deref().unwrap_or("");
        region_allows && self.hot_plates.contains(text)
    }

    /// Returns the next read, captured at `now`.
    pub fn next_read(&mut self, now: DateTime<Utc>) -> ReadSubmission {
        // Cubing a uniform number skews the draw towards low indices: a few plates pass many
        // times (commuters), most pass once or twice.
        let draw: f64 = self.rng.random();
        let index = ((draw * draw * draw) * self.plates.len() as f64) as usize;
        let plate = self.plates[index.min(self.plates.len() - 1)].clone();
        let camera = &self.cameras[self.rng.random_range(0..self.cameras.len())];
        let region = match self.rng.random_range(0..100) {
            0..=89 => Some("US-WA".to_string()),
            90..=94 => Some("US-OR".to_string()),
            _ => None,
        };
        self.next_event += 1;
        ReadSubmission {
            camera_id: Some(camera.0.clone()),
            event_id: Some(format!("demo-{}", self.next_event)),
            captured_at: Some(now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
            location: Some(SubmittedLocation {
                latitude: camera.1,
                longitude: camera.2,
                heading: Some(f64::from(self.rng.random_range(0..360_u16))),
            }),
            plate: Some(SubmittedPlate {
                text: Some(plate),
                region,
                confidence: Some(0.80 + self.rng.random::<f32>() * 0.19),
                present: Some(true),
            }),
            vehicle: None,
            image_ref: None,
            image: None,
        }
    }
}

/// Returns every `HOTLIST_EVERY`-th plate, starting half a step in: the first plates are the
/// most frequent visitors, and listing plate 0 alone would put a few percent of reads on the list.
fn hotlisted(plates: &[String]) -> impl Iterator<Item = &String> {
    plates.iter().skip(HOTLIST_EVERY / 2).step_by(HOTLIST_EVERY)
}

/// Returns a Washington-style plate: three letters and four digits, or a digit, three letters
/// and three digits.
fn random_plate(rng: &mut StdRng) -> String {
    let letter = |rng: &mut StdRng| char::from(b'A' + rng.random_range(0..26u8));
    let digit = |rng: &mut StdRng| char::from(b'0' + rng.random_range(0..10u8));
    let mut plate = String::with_capacity(7);
    if rng.random_bool(0.7) {
        (0..3).for_each(|_| plate.push(letter(rng)));
        (0..4).for_each(|_| plate.push(digit(rng)));
    } else {
        plate.push(digit(rng));
        (0..3).for_each(|_| plate.push(letter(rng)));
        (0..3).for_each(|_| plate.push(digit(rng)));
    }
    plate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_gives_same_traffic() {
        let now = Utc::now();
        let mut first = TrafficGenerator::new(7, 1_000);
        let mut second = TrafficGenerator::new(7, 1_000);
        for _ in 0..50 {
            assert_eq!(first.next_read(now), second.next_read(now));
        }
    }

    #[test]
    fn hit_rate_is_a_fraction_of_a_percent() {
        let now = Utc::now();
        let mut generator = TrafficGenerator::new(1, 50_000);
        let reads = 100_000;
        let hits = (0..reads)
            .filter(|_| {
                let read = generator.next_read(now);
                generator.is_hit(&read)
            })
            .count();
        let share = hits as f64 / reads as f64;
        assert!((0.001..0.006).contains(&share), "hit share {share}");
    }

    #[test]
    fn some_plates_repeat_often() {
        let now = Utc::now();
        let mut generator = TrafficGenerator::new(3, 50_000);
        let mut counts = std::collections::HashMap::new();
        for _ in 0..20_000 {
            let read = generator.next_read(now);
            *counts.entry(read.plate.unwrap().text.unwrap()).or_insert(0) += 1;
        }
        let max = counts.values().copied().max().unwrap();
        assert!(max >= 20, "most frequent plate seen {max} times");
        assert!(counts.len() > 5_000, "{} distinct plates", counts.len());
    }
}
