//! Counts of a replay and the lines that did not become accepted reads.

use std::fmt;
use std::time::Duration;

/// Problem lines a summary keeps. Later ones are only counted, so that a file full of bad rows
/// cannot exhaust memory.
pub const MAX_KEPT_PROBLEMS: usize = 1_000;

/// Reason a line did not become an accepted read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// The source could not turn the row into a read, so it was never sent.
    Unparseable,
    /// The sink rejected the read for good, for example because it failed validation.
    Rejected,
}

/// One line that did not become an accepted read.
#[derive(Debug, Clone, PartialEq)]
pub struct LineProblem {
    /// 1-based line in the decompressed file, the header being line 1.
    pub line: u64,
    pub kind: ProblemKind,
    pub message: String,
}

/// Counts of a replay. `rows` is the sum of `accepted`, `rejected` and `unparseable` once the
/// replay has finished.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplaySummary {
    /// Rows taken from the source, parsed or not.
    pub rows: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub unparseable: u64,
    /// Read ids the sink returned for accepted reads.
    pub read_ids: u64,
    pub elapsed: Duration,
    /// The first [`MAX_KEPT_PROBLEMS`] problem lines, in the order they were found.
    pub problems: Vec<LineProblem>,
    /// Problem lines found after `problems` was full.
    pub problems_not_kept: u64,
}

impl ReplaySummary {
    /// Rows per second over the whole replay, or 0 when no time has passed.
    pub fn reads_per_second(&self) -> f64 {
        rate(self.rows, self.elapsed)
    }

    pub(crate) fn record_problem(&mut self, line: u64, kind: ProblemKind, message: String) {
        match kind {
            ProblemKind::Unparseable => self.unparseable += 1,
            ProblemKind::Rejected => self.rejected += 1,
        }
        if self.problems.len() < MAX_KEPT_PROBLEMS {
            self.problems.push(LineProblem {
                line,
                kind,
                message,
            });
        } else {
            self.problems_not_kept += 1;
        }
    }
}

pub(crate) fn rate(count: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

impl fmt::Display for ReplaySummary {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "replayed {} reads: {} accepted, {} rejected, {} unparseable rows in {:.1} s ({:.0} reads/s)",
            self.rows,
            self.accepted,
            self.rejected,
            self.unparseable,
            self.elapsed.as_secs_f64(),
            self.reads_per_second()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_line_reads_well() {
        let summary = ReplaySummary {
            rows: 1000,
            accepted: 990,
            rejected: 7,
            unparseable: 3,
            read_ids: 990,
            elapsed: Duration::from_millis(2500),
            ..Default::default()
        };
        assert_eq!(
            summary.to_string(),
            "replayed 1000 reads: 990 accepted, 7 rejected, 3 unparseable rows in 2.5 s (400 reads/s)"
        );
    }

    #[test]
    fn problems_are_capped_but_counted() {
        let mut summary = ReplaySummary::default();
        for line in 0..(MAX_KEPT_PROBLEMS as u64 + 5) {
            summary.record_problem(line, ProblemKind::Rejected, "bad".into());
        }
        summary.record_problem(9, ProblemKind::Unparseable, "worse".into());
        assert_eq!(summary.problems.len(), MAX_KEPT_PROBLEMS);
        assert_eq!(summary.problems_not_kept, 6);
        assert_eq!(summary.rejected, MAX_KEPT_PROBLEMS as u64 + 5);
        assert_eq!(summary.unparseable, 1);
    }

    #[test]
    fn zero_elapsed_gives_zero_rate() {
        assert_eq!(ReplaySummary::default().reads_per_second(), 0.0);
    }
}
