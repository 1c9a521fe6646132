//! Microsoft Graph (and Defender API) client: tokens per tenant, retries honouring
//! `Retry-After`, `@odata.nextLink` paging, JSON `$batch`, typed errors.
//!
//! Requests go to the endpoints of a [`CloudProfile`], so the same code reaches the public
//! cloud, a national cloud or the sandbox. Every call is counted per tenant, which the
//! benchmarks report as "requests per tenant".

mod batch;
mod error;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;

pub use batch::{BatchRequest, BatchResponse};
pub use error::{GraphError, GraphErrorKind};

use crate::auth::Tokens;
use crate::cloud::CloudProfile;

/// Graph API version of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    Beta,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1 => "v1.0",
            Version::Beta => "beta",
        }
    }
}

/// Retry behaviour for throttling and transient failures.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// No retry starts after this much time has passed since the first attempt.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            deadline: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// Delay before retry number `attempt` (1-based): the server's `Retry-After` when given,
    /// else exponential backoff with full jitter.
    fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(d) = retry_after {
            return d.min(self.max_delay);
        }
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(16).saturating_sub(1));
        let cap = exp.min(self.max_delay);
        let jitter: f64 = rand::random();
        cap.mul_f64(0.5 + jitter / 2.0)
    }
}

/// Builds the HTTP client: rustls with the platform's roots plus the PEM bundle named by
/// `MSSP_CA_BUNDLE` (TLS-inspecting proxies, private clouds, the sandbox).
pub fn http_client(extra_ca_pem: Option<&[u8]>) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .user_agent(concat!("mssp/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(20))
        .timeout(Duration::from_secs(120))
        .pool_max_idle_per_host(32);
    if let Some(pem) = extra_ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| format!("MSSP_CA_BUNDLE is not a PEM bundle: {e}"))?;
        if certs.is_empty() {
            return Err("MSSP_CA_BUNDLE holds no certificate".into());
        }
        b = b.tls_certs_merge(certs);
    }
    b.build().map_err(|e| e.to_string())
}

/// Reads `MSSP_CA_BUNDLE` if set.
pub fn ca_bundle_from_env() -> Result<Option<Vec<u8>>, String> {
    match std::env::var_os("MSSP_CA_BUNDLE") {
        None => Ok(None),
        Some(p) if p.is_empty() => Ok(None),
        Some(p) => std::fs::read(&p)
            .map(Some)
            .map_err(|e| format!("cannot read MSSP_CA_BUNDLE {}: {e}", p.to_string_lossy())),
    }
}

/// Shared by every tenant of a run.
#[derive(Debug)]
pub struct Graph {
    http: reqwest::Client,
    tokens: Arc<Tokens>,
    retry: RetryPolicy,
}

impl Graph {
    pub fn new(http: reqwest::Client, tokens: Arc<Tokens>, retry: RetryPolicy) -> Self {
        Self {
            http,
            tokens,
            retry,
        }
    }

    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// A client bound to one tenant and its cloud.
    pub fn tenant(self: &Arc<Self>, tenant_id: &str, profile: CloudProfile) -> TenantGraph {
        TenantGraph {
            graph: Arc::clone(self),
            tenant: tenant_id.to_string(),
            profile,
            requests: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Option<Value>,
    pub request_id: Option<String>,
}

/// Which service a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Graph(Version),
    Defender,
}

/// A Graph client for one tenant.
#[derive(Debug, Clone)]
pub struct TenantGraph {
    graph: Arc<Graph>,
    pub tenant: String,
    pub profile: CloudProfile,
    requests: Arc<AtomicU64>,
}

impl TenantGraph {
    /// HTTP requests sent so far for this tenant (retries included, token requests excluded).
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn url(&self, service: Service, path: &str) -> Result<String, GraphError> {
        if path.starts_with("https://") {
            return Ok(path.to_string());
        }
        let path = path.trim_start_matches('/');
        match service {
            Service::Graph(v) => Ok(format!("{}/{}/{path}", self.profile.graph, v.as_str())),
            Service::Defender => match &self.profile.defender {
                Some(base) => Ok(format!("{base}/api/{path}")),
                None => Err(self.error(
                    "GET",
                    path,
                    GraphErrorKind::Transport(format!(
                        "the {} cloud has no documented Defender for Endpoint API",
                        self.profile.cloud
                    )),
                )),
            },
        }
    }

    fn error(&self, method: &str, path: &str, kind: GraphErrorKind) -> GraphError {
        GraphError {
            tenant: self.tenant.clone(),
            method: method.to_string(),
            path: display_path(path),
            kind,
        }
    }

    fn audience(&self, service: Service) -> Option<&str> {
        match service {
            Service::Graph(_) => Some(&self.profile.graph_audience),
            Service::Defender => self.profile.defender_audience.as_deref(),
        }
    }

    /// Sends one request with retries. `idempotent` requests are also retried after transport
    /// failures and 504s; others report those as [`GraphErrorKind::OutcomeUnknown`].
    pub async fn send(
        &self,
        service: Service,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Answer, GraphError> {
        let idempotent = matches!(method, Method::GET | Method::PUT | Method::DELETE);
        self.send_as(service, method, path, body, headers, idempotent)
            .await
    }

    /// [`TenantGraph::send`] for a request whose repetition is known to be harmless even
    /// though its method is not (a `$batch` of GETs).
    pub async fn send_as(
        &self,
        service: Service,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
        idempotent: bool,
    ) -> Result<Answer, GraphError> {
        let url = self.url(service, path)?;
        let m = method.as_str().to_string();
        let audience = self
            .audience(service)
            .ok_or_else(|| self.error(&m, &url, GraphErrorKind::Auth("no audience".into())))?
            .to_string();
        let retry = &self.graph.retry;
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let token = self
                .graph
                .tokens
                .token(&self.profile.login, &self.tenant, &audience)
                .await
                .map_err(|e| self.error(&m, &url, GraphErrorKind::Auth(e.to_string())))?;
            let mut req = self
                .graph
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.secret())
                .header("client-request-id", uuid::Uuid::new_v4().to_string());
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let outcome = req.send().await;
            let retryable_in_time =
                attempt < retry.max_attempts && started.elapsed() < retry.deadline;
            match outcome {
                Err(e) => {
                    let what = e.to_string();
                    if !idempotent {
                        return Err(self.error(&m, &url, GraphErrorKind::OutcomeUnknown(what)));
                    }
                    if !retryable_in_time {
                        return Err(self.error(
                            &m,
                            &url,
                            GraphErrorKind::DeadlineExceeded {
                                attempts: attempt,
                                last: what,
                            },
                        ));
                    }
                    tracing::debug!(tenant = %self.tenant, url = %display_path(&url), error = %what, "retrying after transport error");
                    tokio::time::sleep(retry.delay(attempt, None)).await;
                }
                Ok(resp) => {
                    let status = resp.status();
                    let request_id = header(&resp, "request-id");
                    let retry_after = retry_after(&resp);
                    // 429 and 503 say the request was not processed: always safe to repeat.
                    // 500/502/504 may come after the change was made: repeat only what is
                    // idempotent, and hand writes back as "outcome unknown" so the caller
                    // re-reads the natural key instead of creating a duplicate.
                    let ambiguous = matches!(status.as_u16(), 500 | 502 | 504);
                    let transient = status == StatusCode::TOO_MANY_REQUESTS
                        || status == StatusCode::SERVICE_UNAVAILABLE
                        || (ambiguous && idempotent);
                    if ambiguous && !idempotent {
                        return Err(self.error(
                            &m,
                            &url,
                            GraphErrorKind::OutcomeUnknown(format!("HTTP {}", status.as_u16())),
                        ));
                    }
                    let text = resp.text().await.unwrap_or_default();
                    if transient {
                        if !retryable_in_time {
                            return Err(self.error(
                                &m,
                                &url,
                                GraphErrorKind::DeadlineExceeded {
                                    attempts: attempt,
                                    last: format!("HTTP {}", status.as_u16()),
                                },
                            ));
                        }
                        let delay = retry.delay(attempt, retry_after);
                        tracing::debug!(tenant = %self.tenant, status = status.as_u16(), ?delay, "throttled or unavailable; retrying");
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    if status.is_success() {
                        let body = if text.trim().is_empty() {
                            None
                        } else {
                            Some(serde_json::from_str(&text).map_err(|e| {
                                self.error(&m, &url, GraphErrorKind::Decode(e.to_string()))
                            })?)
                        };
                        return Ok(Answer {
                            status: status.as_u16(),
                            body,
                            request_id,
                        });
                    }
                    return Err(self.error(
                        &m,
                        &url,
                        parse_error(status.as_u16(), &text, request_id),
                    ));
                }
            }
        }
    }

    /// GET a single object.
    pub async fn get(&self, service: Service, path: &str) -> Result<Value, GraphError> {
        let a = self.send(service, Method::GET, path, None, &[]).await?;
        Ok(a.body.unwrap_or(Value::Null))
    }

    /// GET a single object; a 404 means "absent" (use only for keyed addresses).
    pub async fn get_opt(&self, service: Service, path: &str) -> Result<Option<Value>, GraphError> {
        match self.get(service, path).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// GET a collection, following `@odata.nextLink` verbatim to the end.
    pub async fn list(&self, service: Service, path: &str) -> Result<Vec<Value>, GraphError> {
        let first = self.get(service, path).await?;
        self.collect_pages(service, first).await
    }

    /// Collects the remaining pages of a collection whose first page is in hand.
    pub async fn collect_pages(
        &self,
        service: Service,
        mut page: Value,
    ) -> Result<Vec<Value>, GraphError> {
        let mut items = Vec::new();
        loop {
            if let Some(Value::Array(v)) = page.get_mut("value").map(Value::take) {
                items.extend(v);
            }
            match page.get("@odata.nextLink").and_then(Value::as_str) {
                Some(next) => {
                    let next = self.rebase(next);
                    page = self.get(service, &next).await?;
                }
                None => return Ok(items),
            }
        }
    }

    /// nextLinks carry the service's own host; when the endpoint is overridden (sandbox,
    /// private endpoint) keep talking to the configured host.
    fn rebase(&self, next: &str) -> String {
        for host in [&self.profile.graph, &self.profile.graph_audience] {
            if let Some(rest) = next.strip_prefix(host.as_str()) {
                return format!("{}{rest}", self.profile.graph);
            }
        }
        next.to_string()
    }
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let v = resp.headers().get("retry-after")?.to_str().ok()?;
    if let Ok(secs) = v.trim().parse::<f64>() {
        return Some(Duration::from_secs_f64(secs.max(0.0)));
    }
    // HTTP-date form.
    let when = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
    let now = jiff::Timestamp::now();
    let ms = (when.as_millisecond() - now.as_millisecond()).max(0);
    Some(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

/// Parses Graph's `{"error":{"code","message","innerError":{"request-id"}}}` (also the
/// Defender API's shape, which has no innerError, and legacy `message: {value}`).
pub fn parse_error(status: u16, text: &str, header_request_id: Option<String>) -> GraphErrorKind {
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let e = v.get("error").or_else(|| v.get("odata.error"));
    let code = e
        .and_then(|e| e.get("code"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let message = e
        .and_then(|e| e.get("message"))
        .and_then(|m| {
            m.as_str()
                .or_else(|| m.get("value").and_then(Value::as_str))
        })
        .unwrap_or("")
        .to_string();
    let detail_code = e
        .and_then(|e| e.get("details"))
        .and_then(Value::as_array)
        .and_then(|d| d.first())
        .and_then(|d| d.get("code"))
        .and_then(Value::as_str);
    let request_id = e
        .and_then(|e| e.get("innerError"))
        .and_then(|i| i.get("request-id"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or(header_request_id);
    GraphErrorKind::Status {
        status,
        // A documented detail code (e.g. NoBackingApplicationObject) says more than
        // the generic Request_BadRequest around it.
        code: detail_code.map_or(code, str::to_string),
        message: if message.is_empty() {
            format!("HTTP {status}")
        } else {
            message
        },
        request_id,
    }
}

/// A URL shown in errors and logs: path and query only, never a host-specific token.
fn display_path(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        },
        Err(_) => url.to_string(),
    }
}
