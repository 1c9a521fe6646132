//! JSON `$batch`: up to 20 requests in one round trip, with per-request retries of throttled
//! entries (each entry in a batch is throttled on its own).

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

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
        let mut pending: Vec<BatchRequest> = requests.to_vec();
        let mut done: Vec<BatchResponse> = Vec::with_capacity(requests.len());
        let mut rounds = 0u32;
        while !pending.is_empty() {
            rounds += 1;
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
            let responses = answer
                .body
                .as_ref()
                .and_then(|b| b.get("responses"))
                .and_then(Value::as_array)
                .cloned()
                .ok_or_else(|| GraphError {
                    tenant: self.tenant.clone(),
                    method: "POST".into(),
                    path: format!("/{}/$batch", version.as_str()),
                    kind: GraphErrorKind::Decode("no `responses` array".into()),
                })?;
            let mut retry_after = Duration::ZERO;
            let mut still = Vec::new();
            for r in pending {
                let resp = responses
                    .iter()
                    .find(|x| x.get("id").and_then(Value::as_str) == Some(r.id.as_str()));
                let Some(resp) = resp else {
                    still.push(r);
                    continue;
                };
                let status = resp
                    .get("status")
                    .and_then(Value::as_u64)
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or(0);
                if status == 429
                    || status == 503
                    || (r.method == Method::GET && matches!(status, 500 | 502 | 504))
                {
                    let secs = resp
                        .get("headers")
                        .and_then(|h| h.get("Retry-After").or_else(|| h.get("retry-after")))
                        .and_then(|v| {
                            v.as_str()
                                .map(str::to_string)
                                .or(v.as_u64().map(|n| n.to_string()))
                        })
                        .and_then(|s| s.parse::<f64>().ok())
                        .unwrap_or(1.0);
                    retry_after = retry_after.max(Duration::from_secs_f64(secs.max(0.0)));
                    still.push(r);
                    continue;
                }
                done.push(BatchResponse {
                    id: r.id.clone(),
                    status,
                    body: resp.get("body").cloned().unwrap_or(Value::Null),
                });
            }
            pending = still;
            if !pending.is_empty() {
                if rounds >= 10 {
                    return Err(GraphError {
                        tenant: self.tenant.clone(),
                        method: "POST".into(),
                        path: format!("/{}/$batch", version.as_str()),
                        kind: GraphErrorKind::DeadlineExceeded {
                            attempts: rounds,
                            last: "batched requests still throttled".into(),
                        },
                    });
                }
                tokio::time::sleep(retry_after.min(Duration::from_secs(30))).await;
            }
        }
        // Restore request order.
        let mut ordered = Vec::with_capacity(done.len());
        for r in requests {
            if let Some(pos) = done.iter().position(|d| d.id == r.id) {
                ordered.push(done.swap_remove(pos));
            }
        }
        Ok(ordered)
    }
}
