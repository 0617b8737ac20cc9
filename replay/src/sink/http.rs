//! Sends reads to ingest's `POST /v1/reads` as NDJSON batches, as a camera relay would.
//!
//! Ingest responds to a batch with a JSON body that counts the accepted lines and lists the
//! rejected ones, numbered from 1, each with its own status. A line rejected with 503 met a full
//! producer queue or an unacknowledged publish and is sent again. A line rejected with a 4xx
//! status is invalid and is counted as rejected. A lost connection, or a 429, 502, 503 or 504
//! without a batch body, sends the whole batch again after a pause.

use std::fmt;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use serde::Deserialize;

use super::{BatchOutcome, LineRejection, NumberedSubmission, ReadSink, RetryPolicy, SinkError};

pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080";
pub const DEFAULT_BATCH_SIZE: usize = 500;
const NDJSON: &str = "application/x-ndjson";
/// Ingest numbers the lines of an NDJSON body from 1 in its `rejected` list.
const FIRST_BODY_LINE: usize = 1;
/// Characters of an error body quoted in an error message.
const MAX_QUOTED_BODY: usize = 500;

/// Settings of the HTTP sink: target, credentials, batching and retries.
#[derive(Clone)]
pub struct HttpSinkConfig {
    /// Scheme, host and port of ingest, such as `http://127.0.0.1:8080`.
    pub base_url: String,
    /// Bearer token of the camera owner the reads are sent for.
    pub token: String,
    /// Reads per request.
    pub batch_size: usize,
    /// Time limit of one request, response included, after which it counts as a lost connection.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
}

impl HttpSinkConfig {
    pub fn new(base_url: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            token: token.into(),
            batch_size: DEFAULT_BATCH_SIZE,
            request_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
        }
    }
}

impl fmt::Debug for HttpSinkConfig {
    /// Leaves the token out, so that a logged configuration cannot leak it.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("HttpSinkConfig")
            .field("base_url", &self.base_url)
            .field("token", &"<redacted>")
            .field("batch_size", &self.batch_size)
            .field("request_timeout", &self.request_timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

/// Posts batches to ingest over plain HTTP.
///
/// NOTE: this crate is built without TLS, so only `http://` URLs work. Reads without an event
/// id get a new read id on every attempt, so a batch re-sent after a lost response can store such
/// reads twice. Reads with an event id, as every SPD read has, keep their id.
#[derive(Debug)]
pub struct HttpSink {
    client: reqwest::Client,
    endpoint: String,
    config: HttpSinkConfig,
}

/// The body of ingest's response to an NDJSON batch.
#[derive(Debug, Deserialize)]
struct BatchResponse {
    accepted: u64,
    #[serde(default)]
    read_ids: Vec<String>,
    #[serde(default)]
    rejected: Vec<RejectedLine>,
}

#[derive(Debug, Deserialize)]
struct RejectedLine {
    line: usize,
    status: u16,
    #[serde(default)]
    field: Option<String>,
    error: String,
}

/// Outcome of one request.
enum Attempt {
    /// Ingest reported on each line. `retry_after` is set when some lines met a full queue.
    Responded {
        response: BatchResponse,
        retry_after: Option<Duration>,
    },
    /// The whole batch is to be sent again, after at least `retry_after` if ingest gave one.
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
}

impl HttpSink {
    pub fn new(config: HttpSinkConfig) -> Result<Self, SinkError> {
        if config.batch_size == 0 {
            return Err(SinkError::Config("batch size must be at least 1".into()));
        }
        let base_url = config.base_url.trim_end_matches('/');
        if !base_url.starts_with("http://") {
            return Err(SinkError::Config(format!(
                "base URL {base_url:?} must start with http://; this build has no TLS support"
            )));
        }
        let endpoint = format!("{base_url}/v1/reads");
        let client = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .build()
            .map_err(SinkError::Client)?;
        Ok(Self {
            client,
            endpoint,
            config,
        })
    }

    /// Posts the pending reads once and sorts the response into done or to be retried.
    async fn attempt(&self, pending: &[NumberedSubmission]) -> Result<Attempt, SinkError> {
        let mut body = Vec::with_capacity(pending.len() * 256);
        for (_, submission) in pending {
            serde_json::to_writer(&mut body, submission)?;
            body.push(b'\n');
        }

        let sent = self
            .client
            .post(&self.endpoint)
            .header(CONTENT_TYPE, NDJSON)
            .header(AUTHORIZATION, format!("Bearer {}", self.config.token))
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) if error.is_builder() => {
                return Err(SinkError::Config(format!("invalid request: {error}")));
            }
            Err(error) => {
                return Ok(Attempt::Retry {
                    reason: format!("request failed: {error}"),
                    retry_after: None,
                });
            }
        };

        let status = response.status();
        let retry_after = retry_after(&response);
        match response.text().await {
            Ok(text) => classify_response(status, retry_after, &text),
            Err(error) => Ok(Attempt::Retry {
                reason: format!("reading the response failed: {error}"),
                retry_after,
            }),
        }
    }
}

/// Sorts a response into a batch response, a whole-batch retry or an error that ends the replay.
fn classify_response(
    status: StatusCode,
    retry_after: Option<Duration>,
    text: &str,
) -> Result<Attempt, SinkError> {
    // A batch response lists every rejected line, also when no line was accepted and the
    // status is 422 or 503, so it is applied line by line whatever the status.
    if let Ok(response) = serde_json::from_str::<BatchResponse>(text) {
        return Ok(Attempt::Responded {
            response,
            retry_after,
        });
    }
    if is_retriable(status) {
        return Ok(Attempt::Retry {
            reason: format!("ingest responded with {status}"),
            retry_after,
        });
    }
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(SinkError::Unauthorized {
            status: status.as_u16(),
            message: quote(text),
        });
    }
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return Err(SinkError::Request {
            status: status.as_u16(),
            message: format!("{}; lower the batch size", quote(text)),
        });
    }
    if status.is_success() {
        return Err(SinkError::Protocol(format!(
            "the {status} response is not a batch response: {}",
            quote(text)
        )));
    }
    Err(SinkError::Request {
        status: status.as_u16(),
        message: quote(text),
    })
}

impl ReadSink for HttpSink {
    fn batch_size(&self) -> usize {
        self.config.batch_size
    }

    async fn send_batch(
        &mut self,
        batch: Vec<NumberedSubmission>,
    ) -> Result<BatchOutcome, SinkError> {
        let mut outcome = BatchOutcome::default();
        let mut pending = batch;
        let mut attempts_without_progress = 0;
        while !pending.is_empty() {
            let (reason, retry_after) = match self.attempt(&pending).await? {
                Attempt::Responded {
                    response,
                    retry_after,
                } => {
                    let settled_before = settled(&outcome);
                    pending = apply_response(response, pending, &mut outcome)?;
                    if settled(&outcome) > settled_before {
                        attempts_without_progress = 0;
                    }
                    let reason = format!("ingest could not take {} lines yet", pending.len());
                    (reason, retry_after)
                }
                Attempt::Retry {
                    reason,
                    retry_after,
                } => (reason, retry_after),
            };
            if pending.is_empty() {
                break;
            }
            attempts_without_progress += 1;
            if attempts_without_progress >= self.config.retry.max_attempts {
                return Err(SinkError::RetriesExhausted {
                    attempts: attempts_without_progress,
                    last_error: reason,
                });
            }
            let backoff = self.config.retry.delay(attempts_without_progress);
            let delay = retry_after
                .map_or(backoff, |requested| requested.max(backoff))
                .min(self.config.retry.max_delay);
            tracing::warn!(
                %reason,
                attempt = attempts_without_progress,
                delay_ms = delay.as_millis() as u64,
                lines = pending.len(),
                "sending reads to ingest again after a pause"
            );
            tokio::time::sleep(delay).await;
        }
        Ok(outcome)
    }
}

/// Reads of the batch that no longer need sending.
fn settled(outcome: &BatchOutcome) -> u64 {
    outcome.accepted + outcome.rejected.len() as u64
}

/// Records the accepted and rejected lines of a response and returns the reads to send again.
fn apply_response(
    response: BatchResponse,
    pending: Vec<NumberedSubmission>,
    outcome: &mut BatchOutcome,
) -> Result<Vec<NumberedSubmission>, SinkError> {
    let sent = pending.len();
    let mut verdicts: Vec<Option<RejectedLine>> = (0..sent).map(|_| None).collect();
    for rejected in response.rejected {
        let index = rejected
            .line
            .checked_sub(FIRST_BODY_LINE)
            .filter(|index| *index < sent)
            .ok_or_else(|| {
                SinkError::Protocol(format!(
                    "rejected line {} is outside the {sent} lines sent",
                    rejected.line
                ))
            })?;
        verdicts[index] = Some(rejected);
    }
    let rejected_count = verdicts.iter().filter(|verdict| verdict.is_some()).count();
    let accepted = (sent - rejected_count) as u64;
    if response.accepted != accepted {
        return Err(SinkError::Protocol(format!(
            "response counts {} accepted reads, but {sent} lines were sent and {rejected_count} rejected",
            response.accepted
        )));
    }
    outcome.accepted += accepted;
    outcome.read_ids += response.read_ids.len() as u64;

    let mut retry = Vec::new();
    for (read, verdict) in pending.into_iter().zip(verdicts) {
        let Some(rejected) = verdict else {
            continue;
        };
        let status = StatusCode::from_u16(rejected.status).unwrap_or(StatusCode::BAD_REQUEST);
        if is_retriable(status) {
            retry.push(read);
            continue;
        }
        let message = match rejected.field {
            Some(field) => format!("{field}: {} (status {status})", rejected.error),
            None => format!("{} (status {status})", rejected.error),
        };
        tracing::debug!(line = read.0, %message, "ingest rejected a read");
        outcome.rejected.push(LineRejection {
            line: read.0,
            message,
        });
    }
    Ok(retry)
}

/// Returns true for statuses that mean "not now" rather than "not this", so the same request
/// may succeed later.
fn is_retriable(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    )
}

/// Reads a `Retry-After` header given in seconds. The HTTP-date form is ignored.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Shortens a response body for an error message.
fn quote(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() <= MAX_QUOTED_BODY {
        return text.to_string();
    }
    let shortened: String = text.chars().take(MAX_QUOTED_BODY).collect();
    format!("{shortened}…")
}

#[cfg(test)]
#[path = "http_tests.rs"]
// A failed unwrap in a test is a failed test, with the value in its message.
#[allow(clippy::unwrap_used)]
mod tests;
