//! Generated traffic and hotlist for the pipeline benchmark.
//!
//! Reads come from the demo's traffic generator: a few plates pass often, most once or twice,
//! and about 0.3 % of reads carry a hotlisted plate. The hotlist contains those plates plus filler
//! entries up to the requested size, so the matcher probes an index of realistic size. Filler
//! plates are chosen so that none of them matches any plate of the traffic, not even as an OCR
//! variant. The number of alerts is then known in advance, which checks the matcher's work.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};

use alpr::generator::TrafficGenerator;
use alpr_ingest::{validate_submission, ReadSubmission, ValidationLimits};
use alpr_matcher::plate_match::ConfusionClasses;
use alpr_schemas::CameraRead;

/// Organisation that owns the generated cameras.
pub const ORGANISATION: &str = "bench";
/// Name of the generated list.
pub const LIST: &str = "BENCH";

/// Reads drawn from one traffic generator, with the number of them that match the hotlist.
pub struct Traffic {
    generator: TrafficGenerator,
    limits: ValidationLimits,
}

impl Traffic {
    /// Creates traffic over `distinct_plates` plates; the same seed gives the same reads.
    pub fn new(seed: u64, distinct_plates: usize) -> Self {
        Self {
            generator: TrafficGenerator::new(seed, distinct_plates),
            limits: ValidationLimits {
                max_clock_skew: chrono::Duration::seconds(300),
            },
        }
    }

    /// Returns the next read as a camera would submit it, captured at `now`, and whether it
    /// matches the hotlist.
    pub fn next_submission(&mut self, now: DateTime<Utc>) -> (ReadSubmission, bool) {
        let submission = self.generator.next_read(now);
        let hit = self.generator.is_hit(&submission);
        (submission, hit)
    }

    /// Returns the next read as ingest would publish it, and whether it matches the hotlist.
    pub fn next_read(&mut self, now: DateTime<Utc>) -> anyhow::Result<(CameraRead, bool)> {
        let (submission, hit) = self.next_submission(now);
        let read = validate_submission(submission, ORGANISATION, "bench", now, self.limits)
            .map_err(|rejection| anyhow::anyhow!("generated read rejected: {rejection:?}"))?;
        Ok((read, hit))
    }

    /// Returns `count` reads captured over the last hour, and how many of them match.
    pub fn reads(&mut self, count: usize) -> anyhow::Result<(Vec<CameraRead>, usize)> {
        let end = Utc::now();
        let span_micros = 3_600_000_000_i64;
        let mut reads = Vec::with_capacity(count);
        let mut hits = 0;
        for index in 0..count {
            let offset = span_micros - span_micros * index as i64 / count.max(1) as i64;
            let (read, hit) = self.next_read(end - chrono::Duration::microseconds(offset))?;
            hits += usize::from(hit);
            reads.push(read);
        }
        Ok((reads, hits))
    }

    /// Writes a hotlist CSV of `entries` rows: every hotlisted plate of the traffic, then filler
    /// plates. One filler entry in five is OCR-tolerant, as on lists that allow for misreads.
    pub fn write_hotlist(&self, path: &Path, entries: usize) -> anyhow::Result<usize> {
        let classes = ConfusionClasses::default();
        let traffic_keys: HashSet<String> = self
            .generator
            .plates()
            .iter()
            .map(|plate| classes.class_key(plate))
            .collect();
        let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
        writeln!(file, "plate,state,reason,priority,match_policy")?;
        let hot = self.generator.hotlist();
        for plate in &hot {
            writeln!(
                file,
                "{},{},STOLEN_VEHICLE,1,exact",
                plate.plate, plate.region
            )?;
        }
        let mut written = hot.len();
        let mut filler = FillerPlates::default();
        while written < entries {
            let plate = filler.next_plate();
            if traffic_keys.contains(&classes.class_key(&plate)) {
                continue;
            }
            let policy = if written % 5 == 0 {
                "ocr_tolerant"
            } else {
                "exact"
            };
            writeln!(file, "{plate},WA,STOLEN_PLATE,2,{policy}")?;
            written += 1;
        }
        file.flush()?;
        Ok(written)
    }
}

/// Distinct seven-character plates spread over the whole space of letters and digits.
///
/// Multiplying a counter by a number coprime with 36^7 visits every value below 36^7 once, in
/// an order without visible pattern, so the plates are distinct without a set to check them.
#[derive(Default)]
struct FillerPlates {
    counter: u64,
}

impl FillerPlates {
    const SPACE: u64 = 36_u64.pow(7);
    /// Coprime with 36^7 because it is divisible by neither 2 nor 3.
    const STRIDE: u64 = 48_271_000_007;

    fn next_plate(&mut self) -> String {
        let mut value = (self.counter * Self::STRIDE) % Self::SPACE;
        self.counter += 1;
        let mut plate = [b'0'; 7];
        for slot in plate.iter_mut().rev() {
            let digit = (value % 36) as u8;
            *slot = if digit < 10 {
                b'0' + digit
            } else {
                b'A' + digit - 10
            };
            value /= 36;
        }
        String::from_utf8_lossy(&plate).into_owned()
    }
}

/// Returns NDJSON bodies of `per_body` reads each, as cameras send them to `POST /v1/reads`.
pub fn ndjson_bodies(
    traffic: &mut Traffic,
    reads: usize,
    per_body: usize,
) -> anyhow::Result<Vec<String>> {
    let now = Utc::now();
    let mut bodies = Vec::with_capacity(reads.div_ceil(per_body));
    let mut body = String::new();
    let mut in_body = 0;
    for _ in 0..reads {
        let (submission, _) = traffic.next_submission(now);
        body.push_str(&serde_json::to_string(&submission)?);
        body.push('\n');
        in_body += 1;
        if in_body == per_body {
            bodies.push(std::mem::take(&mut body));
            in_body = 0;
        }
    }
    if in_body > 0 {
        bodies.push(body);
    }
    Ok(bodies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filler_plates_are_distinct() {
        let mut filler = FillerPlates::default();
        let plates: HashSet<String> = (0..100_000).map(|_| filler.next_plate()).collect();
        assert_eq!(plates.len(), 100_000);
        assert!(plates.iter().all(|plate| plate.len() == 7));
    }

    #[test]
    fn hotlist_matches_only_the_hot_plates() -> anyhow::Result<()> {
        let traffic = Traffic::new(5, 2_000);
        let folder = tempfile::tempdir()?;
        let path = folder.path().join("list.csv");
        let written = traffic.write_hotlist(&path, 5_000)?;
        assert_eq!(written, 5_000);
        let text = std::fs::read_to_string(&path)?;
        let classes = ConfusionClasses::default();
        let listed: Vec<&str> = text
            .lines()
            .skip(1)
            .filter_map(|line| line.split(',').next())
            .collect();
        assert_eq!(listed.len(), 5_000);
        let hot: HashSet<String> = traffic
            .generator
            .hotlist()
            .into_iter()
            .map(|plate| plate.plate)
            .collect();
        let hot_keys: HashSet<String> = hot.iter().map(|plate| classes.class_key(plate)).collect();
        let listed_keys: HashSet<String> = listed
            .iter()
            .map(|entry| classes.class_key(entry))
            .collect();
        for plate in traffic.generator.plates() {
            assert_eq!(
                listed_keys.contains(&classes.class_key(plate)),
                hot_keys.contains(&classes.class_key(plate)),
                "plate {plate}"
            );
        }
        Ok(())
    }
}
