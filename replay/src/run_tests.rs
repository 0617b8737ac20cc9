//! Tests of the replay loop against a sink that keeps what it receives in memory.

use std::time::Duration;

use alpr_ingest::submission::ReadSubmission;

use super::*;
use crate::sink::{BatchOutcome, LineRejection};

/// Accepts every read except those from camera `bad`, and records the lines of each batch.
#[derive(Default)]
struct MemorySink {
    batch_size: usize,
    batches: Vec<Vec<u64>>,
    /// Fails the batch with this index, counting from 0.
    fail_batch: Option<usize>,
}

impl MemorySink {
    fn new(batch_size: usize) -> Self {
        Self {
            batch_size,
            ..Default::default()
        }
    }

    fn lines(&self) -> Vec<u64> {
        self.batches.iter().flatten().copied().collect()
    }
}

impl ReadSink for MemorySink {
    fn batch_size(&self) -> usize {
        self.batch_size
    }

    async fn send_batch(
        &mut self,
        batch: Vec<NumberedSubmission>,
    ) -> Result<BatchOutcome, SinkError> {
        if self.fail_batch == Some(self.batches.len()) {
            return Err(SinkError::Protocol("test failure".into()));
        }
        self.batches
            .push(batch.iter().map(|(line, _)| *line).collect());
        let mut outcome = BatchOutcome::default();
        for (line, submission) in batch {
            if submission.camera_id.as_deref() == Some("bad") {
                outcome.rejected.push(LineRejection {
                    line,
                    message: "camera_id: bad".into(),
                });
            } else {
                outcome.accepted += 1;
                outcome.read_ids += 1;
            }
        }
        Ok(outcome)
    }
}

fn read(camera_id: &str, second: u32) -> Result<ReadSubmission, RowError> {
    Ok(ReadSubmission {
        camera_id: Some(camera_id.into()),
        captured_at: Some(format!("2021-10-01T19:00:{second:02}Z")),
        ..Default::default()
    })
}

fn unparseable() -> Result<ReadSubmission, RowError> {
    Err(RowError::invalid("dt", "not a time"))
}

fn rows(items: Vec<Result<ReadSubmission, RowError>>) -> std::vec::IntoIter<SourceRow> {
    let numbered: Vec<SourceRow> = items
        .into_iter()
        .enumerate()
        .map(|(index, row)| (index as u64 + 2, row))
        .collect();
    numbered.into_iter()
}

#[tokio::test]
async fn rows_are_counted_by_fate() {
    let source = rows(vec![
        read("cam", 0),
        unparseable(),
        read("bad", 1),
        read("cam", 2),
        read("cam", 3),
    ]);
    let mut sink = MemorySink::new(2);
    let summary = replay(source, &mut sink, &ReplayOptions::default())
        .await
        .unwrap();
    assert_eq!(summary.rows, 5);
    assert_eq!(summary.accepted, 3);
    assert_eq!(summary.read_ids, 3);
    assert_eq!(summary.rejected, 1);
    assert_eq!(summary.unparseable, 1);
    assert_eq!(sink.batches, vec![vec![2, 4], vec![5, 6]]);
    let problems: Vec<(u64, ProblemKind)> =
        summary.problems.iter().map(|p| (p.line, p.kind)).collect();
    assert_eq!(
        problems,
        vec![(3, ProblemKind::Unparseable), (4, ProblemKind::Rejected)]
    );
}

#[tokio::test]
async fn limit_takes_first_rows() {
    let source = rows(vec![
        read("cam", 0),
        unparseable(),
        read("cam", 2),
        read("cam", 3),
    ]);
    let mut sink = MemorySink::new(10);
    let options = ReplayOptions {
        limit: Some(3),
        ..Default::default()
    };
    let summary = replay(source, &mut sink, &options).await.unwrap();
    assert_eq!(summary.rows, 3);
    assert_eq!(sink.lines(), vec![2, 4]);
}

#[tokio::test]
async fn io_error_stops_after_earlier_reads() {
    let source = rows(vec![
        read("cam", 0),
        Err(RowError::Io(std::io::Error::other(
            "unexpected end of gzip stream",
        ))),
        read("cam", 2),
    ]);
    let mut sink = MemorySink::new(10);
    let error = replay(source, &mut sink, &ReplayOptions::default())
        .await
        .unwrap_err();
    let ReplayError::Source { line, summary, .. } = error else {
        panic!("expected a source error, found {error}");
    };
    assert_eq!(line, 3);
    assert_eq!(summary.accepted, 1);
    assert_eq!(summary.rows, 1);
    assert_eq!(sink.lines(), vec![2]);
}

#[tokio::test]
async fn sink_error_keeps_settled_counts() {
    let source = rows(vec![
        read("cam", 0),
        read("cam", 1),
        unparseable(),
        read("cam", 3),
    ]);
    let mut sink = MemorySink {
        fail_batch: Some(1),
        ..MemorySink::new(2)
    };
    let error = replay(source, &mut sink, &ReplayOptions::default())
        .await
        .unwrap_err();
    let ReplayError::Sink { summary, .. } = error else {
        panic!("expected a sink error, found {error}");
    };
    assert_eq!(summary.accepted, 2);
    assert_eq!(summary.unparseable, 1);
    assert_eq!(summary.rows, 3);
}

#[tokio::test]
async fn paced_replay_sends_before_each_pause() {
    // Reads one second apart at 50x real time are 20 ms apart.
    let source = rows(vec![read("cam", 0), read("cam", 1), read("cam", 2)]);
    let mut sink = MemorySink::new(10);
    let options = ReplayOptions {
        speed: Some(50.0),
        ..Default::default()
    };
    let summary = replay(source, &mut sink, &options).await.unwrap();
    assert_eq!(sink.batches, vec![vec![2], vec![3], vec![4]]);
    assert!(
        summary.elapsed >= Duration::from_millis(40),
        "{:?}",
        summary.elapsed
    );
}

#[tokio::test]
async fn sorted_replay_follows_capture_time() {
    let source = rows(vec![
        read("cam", 30),
        read("cam", 10),
        unparseable(),
        read("cam", 20),
    ]);
    let mut sink = MemorySink::new(10);
    let options = ReplayOptions {
        sort_by_capture_time: true,
        limit: Some(3),
        ..Default::default()
    };
    let summary = replay(source, &mut sink, &options).await.unwrap();
    assert_eq!(summary.unparseable, 1);
    assert_eq!(sink.lines(), vec![3, 5]);
}

#[tokio::test]
async fn invalid_speed_is_rejected() {
    for speed in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let options = ReplayOptions {
            speed: Some(speed),
            ..Default::default()
        };
        let mut sink = MemorySink::new(1);
        let result = replay(rows(vec![read("cam", 0)]), &mut sink, &options).await;
        assert!(
            matches!(result, Err(ReplayError::InvalidOptions(_))),
            "speed {speed}"
        );
    }
}
