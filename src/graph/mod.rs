//! Microsoft Graph (and Defender API) client: tokens per tenant, retries honouring
//! `Retry-After`, `@odata.nextLink` paging, JSON `$batch`, typed errors.
//!
//! Requests go to the endpoints of a [`CloudProfile`], so the same code reaches the public
//! cloud, a national cloud or the sandbox. Every call is counted per tenant, which the
//! benchmarks report as "requests per tenant".

mod batch;
mod error;
pub mod journal;
mod retry;
mod retry_after;
pub mod sanitize;
pub mod write;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

pub use batch::{BatchRequest, BatchResponse};
pub(crate) use error::OUTCOME_UNKNOWN;
pub use error::{GraphError, GraphErrorKind};
pub use retry::{Attempts, BeyondDeadline, RetryPolicy};
pub use retry_after::RetryAfter;

use crate::auth::Tokens;
use crate::cloud::CloudProfile;

tokio::task_local! {
    /// Requests sent on behalf of one apply action (its round trips, for the journal's
    /// critical path): set around the action's future with [`count_requests`].
    static ACTION_REQUESTS: Arc<AtomicU64>;
}

/// Runs `fut`, counting every HTTP request it sends through any [`TenantGraph`] (retries and
/// pages included, token requests not) into `counter`.
pub async fn count_requests<F: std::future::Future>(counter: Arc<AtomicU64>, fut: F) -> F::Output {
    ACTION_REQUESTS.scope(counter, fut).await
}

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

/// Bounds of every HTTP exchange. They belong to the client, so token requests made through
/// azure_identity (which uses the same client) get them too.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// TCP + TLS connection set-up.
    pub connect: Duration,
    /// Longest silence while waiting for response headers or the next piece of a body.
    pub read: Duration,
    /// One whole exchange, body included. 100 s is the Azure SDKs' per-try network timeout.
    pub request: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            read: Duration::from_secs(30),
            request: Duration::from_secs(100),
        }
    }
}

/// Why no HTTP client could be built: the CA bundle is unreadable or not one, or TLS setup failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    #[error("cannot read MSSP_CA_BUNDLE {path}: {source}")]
    ReadBundle {
        path: String,
        source: std::io::Error,
    },
    #[error("MSSP_CA_BUNDLE is not a PEM bundle: {0}")]
    NotPem(reqwest::Error),
    #[error("MSSP_CA_BUNDLE holds no certificate")]
    EmptyBundle,
    #[error("{0}")]
    Build(reqwest::Error),
}

/// Builds the HTTP client: rustls with the platform's roots plus the PEM bundle named by
/// `MSSP_CA_BUNDLE` (TLS-inspecting proxies, private clouds, the sandbox), default limits.
pub fn http_client(extra_ca_pem: Option<&[u8]>) -> Result<reqwest::Client, HttpClientError> {
    http_client_with(extra_ca_pem, &HttpLimits::default())
}

/// [`http_client`] with explicit limits.
pub fn http_client_with(
    extra_ca_pem: Option<&[u8]>,
    limits: &HttpLimits,
) -> Result<reqwest::Client, HttpClientError> {
    let mut b = reqwest::Client::builder()
        .user_agent(concat!("mssp/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(limits.connect)
        .read_timeout(limits.read)
        .timeout(limits.request)
        // Small JSON requests on kept-alive connections: Nagle's algorithm would only delay them.
        .tcp_nodelay(true)
        .pool_max_idle_per_host(32);
    if let Some(pem) = extra_ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(HttpClientError::NotPem)?;
        if certs.is_empty() {
            return Err(HttpClientError::EmptyBundle);
        }
        b = b.tls_certs_merge(certs);
    }
    b.build().map_err(HttpClientError::Build)
}

/// Reads `MSSP_CA_BUNDLE` if set.
pub(crate) fn ca_bundle_from_env() -> Result<Option<Vec<u8>>, HttpClientError> {
    match std::env::var_os("MSSP_CA_BUNDLE") {
        None => Ok(None),
        Some(p) if p.is_empty() => Ok(None),
        Some(p) => std::fs::read(&p)
            .map(Some)
            .map_err(|source| HttpClientError::ReadBundle {
                path: p.to_string_lossy().into_owned(),
                source,
            }),
    }
}

/// Shared by every tenant of a run.
#[derive(Debug)]
pub struct Graph {
    http: reqwest::Client,
    tokens: Arc<Tokens>,
    retry: RetryPolicy,
    /// The limits `http` was built with (a retry's exchange is also cut at the deadline).
    limits: HttpLimits,
}

impl Graph {
    pub fn new(http: reqwest::Client, tokens: Arc<Tokens>, retry: RetryPolicy) -> Self {
        Self {
            http,
            tokens,
            retry,
            limits: HttpLimits::default(),
        }
    }

    /// Declares the limits `http` was built with ([`http_client_with`]).
    pub fn with_limits(mut self, limits: HttpLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
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

/// Why no usable answer arrived, judged by whether trying again can help.
enum Failure {
    /// Will not heal by retrying (TLS, DNS, refused connection, bad URL, oversized body).
    Permanent(String),
    /// May heal (timeouts, resets, truncated bodies).
    Transient(String),
}

impl TenantGraph {
    /// HTTP requests sent so far for this tenant (retries included, token requests excluded).
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn base(&self, service: Service) -> Result<String, GraphError> {
        match service {
            Service::Graph(_) => Ok(self.profile.graph.clone()),
            Service::Defender => self.profile.defender.clone().ok_or_else(|| {
                self.error(
                    "GET",
                    "/",
                    GraphErrorKind::Transport(format!(
                        "the {} cloud has no documented Defender for Endpoint API",
                        self.profile.cloud
                    )),
                )
            }),
        }
    }

    /// The request URL. It must be https; an absolute `path` (a paging link) must be on the
    /// origin of the service's configured endpoint, because the token goes with it.
    fn url(&self, service: Service, path: &str) -> Result<String, GraphError> {
        let base = self.base(service)?;
        let origin = https_origin(&base).map_err(|why| {
            self.error(
                "GET",
                path,
                GraphErrorKind::Transport(format!("the endpoint {base:?} {why}")),
            )
        })?;
        if is_absolute(path) {
            let link = url::Url::parse(path).map_err(|e| {
                self.error(
                    "GET",
                    path,
                    GraphErrorKind::Decode(format!("the link is not a URL ({e})")),
                )
            })?;
            let theirs = link.origin().ascii_serialization();
            if link.scheme() != "https" || theirs != origin {
                return Err(self.error(
                    "GET",
                    path,
                    GraphErrorKind::ForeignLink {
                        host: sanitize::clean_line(&theirs),
                        origin,
                    },
                ));
            }
            return Ok(link.to_string());
        }
        let path = path.trim_start_matches('/');
        match service {
            Service::Graph(v) => Ok(format!("{base}/{}/{path}", v.as_str())),
            Service::Defender => Ok(format!("{base}/api/{path}")),
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
    pub(crate) async fn send_as(
        &self,
        service: Service,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
        idempotent: bool,
    ) -> Result<Answer, GraphError> {
        let m = method.as_str().to_string();
        let url = self.url(service, path).map_err(|mut e| {
            e.method.clone_from(&m);
            e
        })?;
        let audience = self
            .audience(service)
            .ok_or_else(|| self.error(&m, &url, GraphErrorKind::Auth("no audience".into())))?
            .to_string();
        let retry = &self.graph.retry;
        let mut tries = retry.start();
        loop {
            let attempt = tries.begin();
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
            if attempt > 1 {
                // A retry must not outlive the deadline by a whole exchange.
                let left = tries.left();
                if left < self.graph.limits.request {
                    req = req.timeout(left.max(Duration::from_secs(1)));
                }
            }
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let _ = ACTION_REQUESTS.try_with(|c| c.fetch_add(1, Ordering::Relaxed));
            // One exchange: headers, then the body read in full (within the size bound).
            let exchange = match req.send().await {
                Err(e) => Err(classify(&e)),
                Ok(resp) => {
                    let status = resp.status();
                    let request_id = header(&resp, "request-id");
                    let retry_after =
                        retry_after::from_response(resp.headers(), jiff::Timestamp::now());
                    match read_body(resp, retry.max_body).await {
                        Ok(text) => Ok((status, request_id, retry_after, text)),
                        // The server had the request: a write may have happened, whatever
                        // stopped its answer.
                        Err(Failure::Permanent(what) | Failure::Transient(what)) if !idempotent => {
                            return Err(self.error(
                                &m,
                                &url,
                                GraphErrorKind::OutcomeUnknown(format!(
                                    "HTTP {}, then {what}",
                                    status.as_u16()
                                )),
                            ));
                        }
                        Err(f) => Err(f),
                    }
                }
            };
            let can_retry = tries.can_retry();
            let (status, request_id, retry_after, text) = match exchange {
                Err(Failure::Permanent(what)) => {
                    return Err(self.error(&m, &url, GraphErrorKind::Transport(what)));
                }
                Err(Failure::Transient(what)) => {
                    if !idempotent {
                        return Err(self.error(&m, &url, GraphErrorKind::OutcomeUnknown(what)));
                    }
                    if !can_retry {
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
                    // Without a Retry-After the pause never exceeds the deadline: no error.
                    let _ = tries.pause(RetryAfter::Unusable).await;
                    continue;
                }
                Ok(x) => x,
            };
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
            if transient {
                let last = format!("HTTP {}", status.as_u16());
                if !can_retry {
                    return Err(self.error(
                        &m,
                        &url,
                        GraphErrorKind::DeadlineExceeded {
                            attempts: attempt,
                            last,
                        },
                    ));
                }
                tracing::debug!(tenant = %self.tenant, status = status.as_u16(), ?retry_after, "throttled or unavailable; retrying");
                tries.pause(retry_after).await.map_err(|why| {
                    self.error(
                        &m,
                        &url,
                        GraphErrorKind::DeadlineExceeded {
                            attempts: attempt,
                            last: format!("{last}: {why}"),
                        },
                    )
                })?;
                continue;
            }
            if status.is_success() {
                let body =
                    if text.trim().is_empty() {
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
            return Err(self.error(&m, &url, parse_error(status.as_u16(), &text, request_id)));
        }
    }

    /// GET a single object: the answer must be a JSON object (an empty or other body is a
    /// failed read, never an empty object).
    pub async fn get(&self, service: Service, path: &str) -> Result<Value, GraphError> {
        let a = self.send(service, Method::GET, path, None, &[]).await?;
        match a.body {
            Some(v @ Value::Object(_)) => Ok(v),
            Some(other) => Err(self.error(
                "GET",
                path,
                GraphErrorKind::Decode(format!("expected a JSON object, got {}", kind_of(&other))),
            )),
            None => Err(self.error(
                "GET",
                path,
                GraphErrorKind::Decode("expected a JSON object, got an empty body".into()),
            )),
        }
    }

    /// GET a single object; a 404 means "absent" (use only for keyed addresses).
    pub(crate) async fn get_opt(
        &self,
        service: Service,
        path: &str,
    ) -> Result<Option<Value>, GraphError> {
        match self.get(service, path).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// GET a collection, following `@odata.nextLink` to the end.
    pub async fn list(&self, service: Service, path: &str) -> Result<Vec<Value>, GraphError> {
        let first = self.get(service, path).await?;
        self.collect_pages_at(service, path, first).await
    }

    /// Collects the remaining pages of a collection whose first page is in hand. Every page
    /// must carry a `value` array; links are only followed on the configured origin, never
    /// twice, and at most [`RetryPolicy::max_pages`] pages are read.
    pub(crate) async fn collect_pages(
        &self,
        service: Service,
        page: Value,
    ) -> Result<Vec<Value>, GraphError> {
        self.collect_pages_at(service, "(first page)", page).await
    }

    /// [`TenantGraph::collect_pages`] naming the path the first page came from in errors.
    pub(crate) async fn collect_pages_at(
        &self,
        service: Service,
        first: &str,
        mut page: Value,
    ) -> Result<Vec<Value>, GraphError> {
        let mut items = Vec::new();
        let mut followed: HashSet<String> = HashSet::new();
        let mut at = first.to_string();
        loop {
            match page.get_mut("value").map(Value::take) {
                Some(Value::Array(v)) => items.extend(v),
                other => {
                    let got = other.map_or("no `value`".to_string(), |v| {
                        format!("`value` is {}", kind_of(&v))
                    });
                    return Err(self.error(
                        "GET",
                        &at,
                        GraphErrorKind::Decode(format!(
                            "a collection page must carry a `value` array; {got}"
                        )),
                    ));
                }
            }
            let next = match page.get("@odata.nextLink") {
                None | Some(Value::Null) => return Ok(items),
                Some(Value::String(s)) => self.rebase(s),
                Some(other) => {
                    return Err(self.error(
                        "GET",
                        &at,
                        GraphErrorKind::Decode(format!(
                            "`@odata.nextLink` is {}, not a link",
                            kind_of(other)
                        )),
                    ));
                }
            };
            if !followed.insert(next.clone()) {
                return Err(self.error(
                    "GET",
                    &next,
                    GraphErrorKind::Decode(
                        "the service's nextLink points to a page already read (a paging loop)"
                            .into(),
                    ),
                ));
            }
            let max = self.graph.retry.max_pages;
            if followed.len() >= max {
                return Err(self.error(
                    "GET",
                    &next,
                    GraphErrorKind::Decode(format!(
                        "the collection has more than {max} pages; stopped following nextLinks"
                    )),
                ));
            }
            page = self.get(service, &next).await?;
            at = next;
        }
    }

    /// nextLinks carry the service's own host; when the endpoint is overridden (sandbox,
    /// private endpoint) keep talking to the configured host. Any other host stays as it is
    /// and is refused by [`TenantGraph::url`].
    fn rebase(&self, next: &str) -> String {
        for host in [&self.profile.graph, &self.profile.graph_audience] {
            if let Some(rest) = next.strip_prefix(host.as_str())
                && (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'))
            {
                return format!("{}{rest}", self.profile.graph);
            }
        }
        next.to_string()
    }
}

/// A full URL (a paging link) rather than a path under the service's base.
fn is_absolute(path: &str) -> bool {
    !path.starts_with('/') && url::Url::parse(path).is_ok()
}

/// Why an endpoint cannot carry a token; the text completes "the endpoint … ".
#[derive(Debug, thiserror::Error)]
enum NotHttpsOrigin {
    #[error("is not a valid URL ({0})")]
    Invalid(url::ParseError),
    #[error("must use https (tokens are never sent in clear), not {0}")]
    Scheme(String),
    #[error("names no host")]
    NoHost,
}

/// `scheme://host:port` of an https URL, or why it is not one.
fn https_origin(base: &str) -> Result<String, NotHttpsOrigin> {
    let u = url::Url::parse(base).map_err(NotHttpsOrigin::Invalid)?;
    if u.scheme() != "https" {
        return Err(NotHttpsOrigin::Scheme(u.scheme().to_string()));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(NotHttpsOrigin::NoHost);
    }
    Ok(u.origin().ascii_serialization())
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads a whole body as text, at most `max` bytes: a longer one is refused at once (its
/// declared length) or as soon as it grows past the bound, never held in memory.
async fn read_body(mut resp: reqwest::Response, max: usize) -> Result<String, Failure> {
    let too_large = || {
        Failure::Permanent(format!(
            "the answer is larger than {} MiB; stopped reading it",
            max / (1024 * 1024)
        ))
    };
    if resp
        .content_length()
        .is_some_and(|n| usize::try_from(n).map_or(true, |n| n > max))
    {
        return Err(too_large());
    }
    let mut buf: Vec<u8> = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if buf.len() + chunk.len() > max {
                    return Err(too_large());
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => {
                return Err(match classify(&e) {
                    Failure::Permanent(w) => Failure::Permanent(w),
                    Failure::Transient(w) => {
                        Failure::Transient(format!("the answer broke off while reading it: {w}"))
                    }
                });
            }
        }
    }
    // Invalid UTF-8 then fails as JSON (successes) or still shows the status (errors).
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Names the cause of a reqwest failure from its `source()` chain (reqwest's own message is
/// only "error sending request") and judges whether retrying can help.
fn classify(e: &reqwest::Error) -> Failure {
    let detail = error_chain(e);
    if let Some(why) = permanent_cause(e) {
        return Failure::Permanent(format!("{why} ({detail})"));
    }
    if e.is_builder() {
        return Failure::Permanent(format!("the request could not be built ({detail})"));
    }
    if e.is_timeout() {
        return Failure::Transient(format!("no answer in time ({detail})"));
    }
    Failure::Transient(detail)
}

/// Every error of `e`'s `source()` chain, in order. `io::Error` hides the error it wraps
/// from `source()` (it returns the wrapped error's source), so those are visited too.
fn chain<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut out = Vec::new();
    let mut src = Some(e);
    while let Some(err) = src {
        out.push(err);
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            let inner: &(dyn std::error::Error + 'static) = inner;
            out.extend(chain(inner));
            return out;
        }
        src = err.source();
    }
    out
}

/// Every message of an error's chain, joined, repeated ones once.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut texts: Vec<String> = chain(e).iter().map(ToString::to_string).collect();
    texts.dedup();
    // A wrapper's message often repeats its cause's: keep the shortest telling sequence.
    let mut kept: Vec<String> = Vec::new();
    for t in texts {
        if kept.last().is_some_and(|prev| prev.contains(&t)) {
            continue;
        }
        kept.push(t);
    }
    sanitize::clean_line(&kept.join(": "))
}

/// The cause of a failed exchange when no retry can heal it: TLS certificate and handshake
/// errors, DNS failures, refused connections, unusable URLs. `None` for anything that may
/// heal (timeouts, resets). Token requests made by azure_identity are judged by it too.
pub(crate) fn permanent_cause(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    chain(e).into_iter().find_map(deterministic)
}

fn deterministic(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    if let Some(tls) = err.downcast_ref::<rustls::Error>() {
        return Some(match tls {
            rustls::Error::InvalidCertificate(_) => format!(
                "TLS: the server's certificate is not accepted ({tls}); check MSSP_CA_BUNDLE and the endpoint host"
            ),
            _ => format!("TLS handshake failed ({tls})"),
        });
    }
    if let Some(io) = err.downcast_ref::<std::io::Error>()
        && io.kind() == std::io::ErrorKind::ConnectionRefused
    {
        return Some("connection refused: nothing listens at the endpoint".into());
    }
    let text = err.to_string();
    if text.starts_with("dns error") || text.contains("failed to lookup address") {
        return Some("DNS: the endpoint's host name does not resolve".into());
    }
    if let Some(req) = err.downcast_ref::<reqwest::Error>()
        && req.is_builder()
    {
        return Some("the endpoint URL is not usable".into());
    }
    None
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Parses Graph's `{"error":{"code","message","innerError":{"request-id"}}}` (also the
/// Defender API's shape, which has no innerError, and legacy `message: {value}`).
pub(crate) fn parse_error(
    status: u16,
    text: &str,
    header_request_id: Option<String>,
) -> GraphErrorKind {
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
    // Everything here is the server's text and will reach terminals and PR comments.
    GraphErrorKind::Status {
        status,
        // A documented detail code (e.g. NoBackingApplicationObject) says more than
        // the generic Request_BadRequest around it.
        code: sanitize::clean_line(&detail_code.map_or(code, str::to_string)),
        message: if message.is_empty() {
            format!("HTTP {status}")
        } else {
            sanitize::clean(&message)
        },
        request_id: request_id.map(|r| sanitize::clean_line(&r)),
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
