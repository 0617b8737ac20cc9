//! The replay loop: read rows, pace them, send them in batches and count what happened.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::pacing::{capture_time, Pacer};
use crate::progress::Progress;
use crate::sink::{NumberedSubmission, ReadSink, SinkError};
use crate::source::{RowError, SourceRow};
use crate::summary::{ProblemKind, ReplaySummary};

/// Rows read ahead of the sink, as a multiple of the batch size. When the sink falls behind,
/// the channel fills and the reading thread waits, so memory stays bounded.
const READ_AHEAD_BATCHES: usize = 4;

/// Pacing, limit and order of a replay.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplayOptions {
    /// Multiple of real time to replay at, such as `60.0` for a minute of reads per second.
    /// `None` sends reads as fast as the sink accepts them.
    pub speed: Option<f64>,
    /// Rows to take from the source, counting unparseable ones. `None` takes every row.
    pub limit: Option<usize>,
    /// Sorts the rows by capture time before sending them, so that pacing follows the real
    /// traffic of a file that is not in time order, as the SPD export is (it is grouped by zip
    /// code). The whole file is held in memory, and `limit` then takes the earliest rows.
    pub sort_by_capture_time: bool,
}

impl ReplayOptions {
    pub fn validate(&self) -> Result<(), ReplayError> {
        if let Some(speed) = self.speed {
            if !(speed.is_finite() && speed > 0.0) {
                return Err(ReplayError::InvalidOptions(format!(
                    "speed {speed} must be a positive multiple of real time, such as 1 or 60"
                )));
            }
        }
        if self.limit == Some(0) {
            return Err(ReplayError::InvalidOptions(
                "limit must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// Failure that stops a replay before the end of its source.
///
/// The variants that occur mid-replay carry a summary of the rows settled before the stop:
/// accepted, rejected or unparseable. Reads of a batch that failed in the sink are not in it,
/// although ingest may have accepted some of them.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("invalid replay option: {0}")]
    InvalidOptions(String),
    #[error("replay stopped at line {line}: {source}")]
    Source {
        line: u64,
        source: RowError,
        summary: Box<ReplaySummary>,
    },
    #[error("replay stopped: {source}; {summary}")]
    Sink {
        source: SinkError,
        summary: Box<ReplaySummary>,
    },
    #[error("the thread reading the source failed: {0}")]
    Reader(String),
}

/// Replays every row of `source` into `sink` and returns what happened.
///
/// Rows that do not parse are counted and listed, never sent. Reads are sent in batches of the
/// sink's batch size, and the pending batch is sent before every pacing pause so that each read
/// leaves on time. The source is read on a blocking thread, because reading and decompressing
/// a file would otherwise stall the async runtime.
pub async fn replay<I, S>(
    source: I,
    sink: &mut S,
    options: &ReplayOptions,
) -> Result<ReplaySummary, ReplayError>
where
    I: Iterator<Item = SourceRow> + Send + 'static,
    S: ReadSink,
{
    options.validate()?;
    let batch_size = sink.batch_size().max(1);
    tracing::info!(
        batch_size,
        speed = options.speed,
        limit = options.limit,
        sort_by_capture_time = options.sort_by_capture_time,
        "replay started"
    );
    let (rows, reader) = spawn_reader(source, options, batch_size * READ_AHEAD_BATCHES);
    let mut rows = rows;
    let started = Instant::now();
    let mut summary = ReplaySummary::default();
    let mut progress = Progress::start(options.limit.map(|limit| limit as u64));
    let mut pacer = Pacer::new(options.speed);
    let mut batch: Vec<NumberedSubmission> = Vec::with_capacity(batch_size);

    while let Some((line, row)) = rows.recv().await {
        summary.rows += 1;
        match row {
            Ok(submission) => {
                let due =
                    capture_time(&submission).and_then(|time| pacer.due_at(time, Instant::now()));
                if let Some(due) = due {
                    send(sink, &mut batch, &mut summary, started).await?;
                    tokio::time::sleep_until(due).await;
                }
                batch.push((line, submission));
                if batch.len() >= batch_size {
                    send(sink, &mut batch, &mut summary, started).await?;
                }
            }
            Err(error) if error.is_fatal() => {
                // The rows before the failure are good reads, so they still go out.
                send(sink, &mut batch, &mut summary, started).await?;
                summary.rows = settled_rows(&summary);
                summary.elapsed = started.elapsed();
                progress.finish();
                tracing::error!(line, %error, "replay stopped because the source cannot be read");
                return Err(ReplayError::Source {
                    line,
                    source: error,
                    summary: Box::new(summary),
                });
            }
            Err(error) => {
                tracing::debug!(line, %error, "row is unparseable");
                summary.record_problem(line, ProblemKind::Unparseable, error.to_string());
            }
        }
        progress.update(&summary);
    }
    send(sink, &mut batch, &mut summary, started).await?;
    reader
        .await
        .map_err(|error| ReplayError::Reader(error.to_string()))?;

    summary.elapsed = started.elapsed();
    progress.finish();
    debug_assert_eq!(
        summary.rows,
        summary.accepted + summary.rejected + summary.unparseable,
        "every row is accepted, rejected or unparseable once the replay ends"
    );
    if summary.unparseable > 0 || summary.rejected > 0 {
        tracing::warn!(
            unparseable = summary.unparseable,
            rejected = summary.rejected,
            "some rows did not become accepted reads; the summary lists their lines"
        );
    }
    tracing::info!(
        rows = summary.rows,
        accepted = summary.accepted,
        rejected = summary.rejected,
        unparseable = summary.unparseable,
        elapsed_ms = summary.elapsed.as_millis() as u64,
        "replay finished"
    );
    Ok(summary)
}

/// Sends the pending batch, if any, and adds its outcome to the summary.
async fn send<S: ReadSink>(
    sink: &mut S,
    batch: &mut Vec<NumberedSubmission>,
    summary: &mut ReplaySummary,
    started: Instant,
) -> Result<(), ReplayError> {
    if batch.is_empty() {
        return Ok(());
    }
    let reads = std::mem::take(batch);
    let sent = reads.len();
    let outcome = match sink.send_batch(reads).await {
        Ok(outcome) => outcome,
        Err(error) => {
            // Reads of the failed batch may or may not have been accepted, so the summary
            // counts only rows whose fate is known.
            summary.rows = settled_rows(summary);
            summary.elapsed = started.elapsed();
            tracing::error!(%error, reads = sent, "replay stopped because the sink failed");
            return Err(ReplayError::Sink {
                source: error,
                summary: Box::new(summary.clone()),
            });
        }
    };
    summary.accepted += outcome.accepted;
    summary.read_ids += outcome.read_ids;
    for rejection in outcome.rejected {
        summary.record_problem(rejection.line, ProblemKind::Rejected, rejection.message);
    }
    Ok(())
}

fn settled_rows(summary: &ReplaySummary) -> u64 {
    summary.accepted + summary.rejected + summary.unparseable
}

/// Reads the source on a blocking thread into a bounded channel, applying the limit and the
/// optional sort. Dropping the receiver stops the thread at its next row.
fn spawn_reader<I>(
    source: I,
    options: &ReplayOptions,
    capacity: usize,
) -> (mpsc::Receiver<SourceRow>, JoinHandle<()>)
where
    I: Iterator<Item = SourceRow> + Send + 'static,
{
    let (sender, receiver) = mpsc::channel(capacity.max(1));
    let limit = options.limit.unwrap_or(usize::MAX);
    let sort = options.sort_by_capture_time;
    let reader = tokio::task::spawn_blocking(move || {
        let rows: Box<dyn Iterator<Item = SourceRow>> = if sort {
            Box::new(sorted_by_capture_time(source).into_iter())
        } else {
            Box::new(source)
        };
        for row in rows.take(limit) {
            if sender.blocking_send(row).is_err() {
                break;
            }
        }
    });
    (receiver, reader)
}

/// Collects every row and orders them by capture time, then by line.
///
/// Unparseable rows have no time and come first, so that they are counted even under a small
/// limit. A fatal error ends the collection and is kept last, so that the rows before it are
/// still replayed.
fn sorted_by_capture_time(source: impl Iterator<Item = SourceRow>) -> Vec<SourceRow> {
    let mut rows = Vec::new();
    let mut fatal = None;
    for (line, row) in source {
        match row {
            Err(error) if error.is_fatal() => {
                fatal = Some((line, Err(error)));
                break;
            }
            row => rows.push((line, row)),
        }
    }
    rows.sort_by_cached_key(|(line, row)| {
        let time = row.as_ref().ok().and_then(capture_time);
        (time, *line)
    });
    rows.extend(fatal);
    rows
}

#[cfg(test)]
#[path = "run_tests.rs"]
// A failed unwrap in a test is a failed test, with the value in its message.
#[allow(clippy::unwrap_used)]
mod tests;
