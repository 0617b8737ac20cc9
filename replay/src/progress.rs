//! Progress of a running replay: a progress bar on a terminal, periodic log lines otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::time::Instant;

use crate::summary::{rate, ReplaySummary};

/// Time between two progress log lines when stderr is not a terminal.
const LOG_INTERVAL: Duration = Duration::from_secs(10);
const BAR_TEMPLATE: &str = "{spinner} {elapsed_precise} {human_pos} rows ({per_sec}) {msg}";

pub(crate) struct Progress {
    /// Drawn on stderr, and only when stderr is a terminal, so logs piped to a file stay clean.
    bar: Option<ProgressBar>,
    started: Instant,
    last_log: Instant,
}

impl Progress {
    /// Starts reporting. `expected_rows` gives the bar a length, when the replay has a limit.
    pub(crate) fn start(expected_rows: Option<u64>) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = match expected_rows {
                Some(rows) => ProgressBar::new(rows),
                None => ProgressBar::new_spinner(),
            };
            if let Ok(style) = ProgressStyle::with_template(BAR_TEMPLATE) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let now = Instant::now();
        Self {
            bar,
            started: now,
            last_log: now,
        }
    }

    pub(crate) fn update(&mut self, summary: &ReplaySummary) {
        if let Some(bar) = &self.bar {
            bar.set_position(summary.rows);
            bar.set_message(counts(summary));
            return;
        }
        let now = Instant::now();
        if now.duration_since(self.last_log) < LOG_INTERVAL {
            return;
        }
        self.last_log = now;
        tracing::info!(
            rows = summary.rows,
            accepted = summary.accepted,
            rejected = summary.rejected,
            unparseable = summary.unparseable,
            reads_per_second = rate(summary.rows, now.duration_since(self.started)).round() as u64,
            "replay in progress"
        );
    }

    /// Removes the bar, so the summary line that follows starts on a clean line.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn counts(summary: &ReplaySummary) -> String {
    format!(
        "{} accepted, {} rejected, {} unparseable",
        summary.accepted, summary.rejected, summary.unparseable
    )
}
