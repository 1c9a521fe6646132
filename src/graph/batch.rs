//! JSON `$batch`: up to 20 requests in one round trip, with per-request retries of throttled
//! entries (each entry in a batch is throttled on its own).

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::retry_after::{self, RetryAfter};
use super::{GraphError, GraphErrorKind, Service, TenantGraph, Version, parse_error};

/// Graph's limit on requests per batch.
pub const MAX_BATCH: usize = 20;

/// One request of a batch; `id` is echoed in the answer.
#[derive(Debug, Clone)]
pub struct BatchRequest {
    pub id: String,
    pub method: Method,
    /// Relative URL without the version, e.g. `/groups?$filter=…`.
    pub url: String,
    pub body: Option<Value>,
}

impl BatchRequest {
    pub fn get(id: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            method: Method::GET,
            url: url.into(),
            body: None,
        }
    }
}

/// The answer to one batched request.
#[derive(Debug, Clone)]
pub struct BatchResponse {
    pub id: String,
    pub status: u16,
    pub body: Value,
}

impl BatchResponse {
    /// The body of a success, or the entry's error as a [`GraphError`].
    pub fn into_result(self, tg: &TenantGraph, url: &str) -> Result<Value, GraphError> {
        if (200..300).contains(&self.status) {
            return Ok(self.body);
        }
        Err(GraphError {
            tenant: tg.tenant.clone(),
            method: "GET".into(),
            path: url.to_string(),
            kind: parse_error(self.status, &self.body.to_string(), None),
        })
    }
}

impl TenantGraph {
    /// Runs GET requests through `$batch` in chunks of 20, retrying throttled entries.
    /// Answers come back in request order.
    pub async fn batch(
        &self,
        version: Version,
        requests: Vec<BatchRequest>,
    ) -> Result<Vec<BatchResponse>, GraphError> {
        let mut out = Vec::with_capacity(requests.len());
        for chunk in requests.chunks(MAX_BATCH) {
            out.extend(self.batch_chunk(version, chunk).await?);
        }
        Ok(out)
    }

    async fn batch_chunk(
        &self,
        version: Version,
        requests: &[BatchRequest],
    ) -> Result<Vec<BatchResponse>, GraphError> {
        let retry = self.graph.retry.clone();
        let path = format!("/{}/$batch", version.as_str());
        let fail = |kind: GraphErrorKind| GraphError {
            tenant: self.tenant.clone(),
            method: "POST".into(),
            path: path.clone(),
            kind,
        };
        let mut tries = retry.start();
        let mut pending: Vec<BatchRequest> = requests.to_vec();
        let mut done: HashMap<String, BatchResponse> = HashMap::with_capacity(requests.len());
        while !pending.is_empty() {
            let rounds = tries.begin();
            let body = json!({
                "requests": pending.iter().map(|r| {
                    let mut v = json!({"id": r.id, "method": r.method.as_str(), "url": r.url});
                    if let Some(b) = &r.body {
                        v["body"] = b.clone();
                        v["headers"] = json!({"Content-Type": "application/json"});
                    }
                    v
                }).collect::<Vec<_>>()
            });
            // Only GETs are batched here, so a batch may be repeated like a GET.
            let all_reads = pending.iter().all(|r| r.method == Method::GET);
            let answer = self
                .send_as(
                    Service::Graph(version),
                    Method::POST,
                    "$batch",
                    Some(&body),
                    &[],
                    all_reads,
                )
                .await?;
            let entries = decode_envelope(answer.body.as_ref()).map_err(&fail)?;
            let now = jiff::Timestamp::now();
            let mut asked: Option<Duration> = None;
            let mut throttled = false;
            let mut unanswered: Vec<&str> = Vec::new();
            let mut still = Vec::new();
            for r in pending {
                // Graph answers in any order: entries are matched by id. An id answered
                // twice is as unusable as one not answered at all.
                let mine: Vec<&Entry> = entries.iter().filter(|e| e.id == r.id).collect();
                let [entry] = mine.as_slice() else {
                    unanswered.push(if mine.is_empty() {
                        "not answered"
                    } else {
                        "answered more than once"
                    });
                    still.push(r);
                    continue;
                };
                let status = entry.status;
                if status == 429
                    || status == 503
                    || (r.method == Method::GET && matches!(status, 500 | 502 | 504))
                {
                    throttled = true;
                    // The longest wait any throttled entry asks for; when none gives a
                    // usable value our backoff is in charge.
                    if let Some(d) =
                        retry_after::from_batch_headers(entry.headers.as_ref(), now).duration()
                    {
                        asked = Some(asked.map_or(d, |a| a.max(d)));
                    }
                    still.push(r);
                    continue;
                }
                done.insert(
                    r.id.clone(),
                    BatchResponse {
                        id: r.id.clone(),
                        status,
                        body: entry.body.clone(),
                    },
                );
            }
            pending = still;
            if pending.is_empty() {
                break;
            }
            let what = if let Some(why) = unanswered.first() {
                format!(
                    "{} batched request{} {why} (ids {})",
                    unanswered.len(),
                    if unanswered.len() == 1 { "" } else { "s" },
                    pending
                        .iter()
                        .map(|r| r.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                "batched requests still throttled".to_string()
            };
            if !tries.can_retry() {
                return Err(fail(if unanswered.is_empty() {
                    GraphErrorKind::DeadlineExceeded {
                        attempts: rounds,
                        last: what,
                    }
                } else {
                    GraphErrorKind::Decode(what)
                }));
            }
            let wait = match asked {
                Some(d) if throttled => RetryAfter::Wait(d),
                _ => RetryAfter::Unusable,
            };
            tries.pause(wait).await.map_err(|why| {
                fail(GraphErrorKind::DeadlineExceeded {
                    attempts: rounds,
                    last: format!("{what}: {why}"),
                })
            })?;
        }
        // Restore request order.
        Ok(requests.iter().filter_map(|r| done.remove(&r.id)).collect())
    }
}

/// One entry of a `$batch` answer.
struct Entry {
    id: String,
    status: u16,
    headers: Option<Value>,
    body: Value,
}

/// The documented envelope: `{"responses": [{"id": "…", "status": 200, "headers": {…},
/// "body": …}, …]}`. Anything else is an answer the tool cannot trust.
fn decode_envelope(body: Option<&Value>) -> Result<Vec<Entry>, GraphErrorKind> {
    let bad = |why: String| GraphErrorKind::Decode(format!("$batch answer: {why}"));
    let responses = body
        .and_then(|b| b.get("responses"))
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no `responses` array".into()))?;
    responses
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let id = r
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(format!("entry {i} has no string `id`")))?;
            let status = r
                .get("status")
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok())
                .filter(|s| (100..600).contains(s))
                .ok_or_else(|| bad(format!("entry {id:?} has no integer `status`")))?;
            Ok(Entry {
                id: id.to_string(),
                status,
                headers: r.get("headers").cloned(),
                body: r.get("body").cloned().unwrap_or(Value::Null),
            })
        })
        .collect()
}
