//! The HTTP layer: axum handlers for the token endpoint, discovery documents and the Graph / MDE
//! APIs. Around each API call it authenticates the bearer token, applies latency and fault
//! injection, records the request log (method, path, tenant, status, time — never tokens, secrets
//! or bodies), runs the route under its tenant's lock (see [`super::world`]) and marks state for
//! the state file after successful writes.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State as AxState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::errors::GraphError;
use super::faults::{Decision, Faults};
use super::odata::Query;
use super::routes::{self, ApiRequest, Ctx, Resp, batch};
use super::state::{FICS, now_iso, now_ms};
use super::token::{self, DEFENDER_AUDIENCES, GRAPH_AUDIENCES, Signer, TokenRequest};
use super::world::{Scope, World};

/// One request-log line.
#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    /// When the answer was sent (after any injected latency).
    pub time: String,
    /// When the request arrived: what "no write after X" checks need, since `time` includes
    /// the latency and any slowness of a busy machine.
    pub received: String,
    pub method: String,
    pub path: String,
    pub tenant: Option<Uuid>,
    pub status: u16,
}

/// Everything the handlers share.
pub struct Shared {
    pub world: World,
    pub faults: Mutex<Faults>,
    pub log: Mutex<Vec<LogEntry>>,
    pub signer: Signer,
    pub base: String,
    pub state_file: Option<std::path::PathBuf>,
    /// State changed since the state file was last written.
    pub dirty: std::sync::atomic::AtomicBool,
}

/// How often changed state reaches the state file while the sandbox runs.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// Locks a mutex, recovering from poisoning (a panicked request must not take the sandbox down).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn record(&self, received: &str, method: &str, path: &str, tenant: Option<Uuid>, status: u16) {
        lock(&self.log).push(LogEntry {
            time: now_iso(),
            received: received.to_string(),
            method: method.into(),
            path: path.into(),
            tenant,
            status,
        });
    }

    /// Marks the state for writing. Writing the whole file after every write made large
    /// worlds quadratic (1,000 tenants: a 30 MB file per write), so the file is written by
    /// [`Shared::flush`] at most once per [`FLUSH_EVERY`] (longer for large states, so that
    /// writing stays under a tenth of the time), on shutdown and on drop.
    pub(crate) fn persist(&self) {
        self.dirty.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Writes the state file if anything changed since the last write.
    pub async fn flush(&self) {
        if !self.dirty.swap(false, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        if let Some(path) = &self.state_file
            && let Err(e) = self.world.save(path).await
        {
            tracing::warn!(error = %e, "sandbox state not persisted");
        }
    }

    /// [`Shared::flush`] for a `Drop`, which cannot wait for a tenant a request still holds.
    pub fn flush_now(&self) {
        if !self.dirty.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        let Some(path) = &self.state_file else {
            return;
        };
        match self.world.try_lock_all() {
            Some(guards) => {
                self.dirty
                    .store(false, std::sync::atomic::Ordering::Release);
                if let Err(e) = self.world.save_locked(&guards, path) {
                    tracing::warn!(error = %e, "sandbox state not persisted");
                }
            }
            None => tracing::warn!(
                "sandbox state not persisted: a request was still being served when the sandbox was dropped"
            ),
        }
    }
}

fn json_response(status: u16, body: &Value, headers: &[(String, String)]) -> Response {
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body.to_string(),
    )
        .into_response();
    let h = resp.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::try_from(k.as_str()),
            HeaderValue::from_str(v),
        ) {
            h.insert(k, v);
        }
    }
    resp
}

// ------------------------------------------------------------ token endpoint and discovery

pub async fn token_endpoint(
    AxState(sh): AxState<Arc<Shared>>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Response {
    let received = now_iso();
    let slow = lock(&sh.faults).delay_for(
        "POST",
        &format!("/{tenant}/oauth2/v2.0/token"),
        Uuid::parse_str(&tenant).ok(),
    );
    if slow > 0 {
        tokio::time::sleep(Duration::from_millis(slow)).await;
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let req = TokenRequest::from_form(form);
    let token_url = format!("{}/{tenant}/oauth2/v2.0/token", sh.base);
    // Tenants are locked one after the other, never together (see `world`): the client's home
    // tenant for its federated credentials, then the tenant the token is for.
    let home = req.client_id().and_then(|c| sh.world.home_app(&c, None));
    let mut home_fics = Vec::new();
    if let Some((home_tid, app)) = &home
        && req.client_assertion.is_some()
        && let Some(cell) = sh.world.cell(home_tid)
    {
        let t = cell.data.lock().await;
        home_fics = t
            .list(FICS)
            .iter()
            .filter(|f| f.parent.as_deref() == Some(app.id()))
            .cloned()
            .collect();
    }
    let target = sh.world.resolve(&tenant).and_then(|i| sh.world.cell(&i.id));
    let guard = match target {
        Some(cell) => Some(cell.data.lock().await),
        None => None,
    };
    let input = token::Issuer {
        tenant: guard.as_deref(),
        home: home.as_ref().map(|(t, e)| (*t, e)),
        home_fics: &home_fics,
    };
    let result = token::issue(&input, &sh.signer, &tenant, &req, &token_url);
    drop(guard);
    let tid = Uuid::parse_str(&tenant).ok();
    match result {
        Ok(body) => {
            sh.record(
                &received,
                "POST",
                &format!("/{tenant}/oauth2/v2.0/token"),
                tid,
                200,
            );
            json_response(
                200,
                &body,
                &[("cache-control".into(), "no-store, no-cache".into())],
            )
        }
        Err(e) => {
            sh.record(
                &received,
                "POST",
                &format!("/{tenant}/oauth2/v2.0/token"),
                tid,
                e.status,
            );
            let (trace, corr) = (Uuid::new_v4().to_string(), Uuid::new_v4().to_string());
            let ts = jiff::Timestamp::now()
                .strftime("%Y-%m-%d %H:%M:%SZ")
                .to_string();
            json_response(e.status, &e.body(&trace, &corr, &ts), &[])
        }
    }
}

pub(crate) async fn openid_config(
    AxState(sh): AxState<Arc<Shared>>,
    Path(tenant): Path<String>,
) -> Response {
    json_response(200, &token::openid_configuration(&sh.base, &tenant), &[])
}

pub(crate) async fn instance_discovery(AxState(sh): AxState<Arc<Shared>>) -> Response {
    json_response(200, &token::instance_discovery(&sh.base), &[])
}

pub(crate) async fn jwks(AxState(sh): AxState<Arc<Shared>>) -> Response {
    json_response(200, &sh.signer.jwks(), &[])
}

// ------------------------------------------------------------ Graph and MDE

/// The Graph error a fault status maps to.
pub(crate) fn fault_error(status: u16) -> GraphError {
    match status {
        429 => GraphError::new(
            429,
            "TooManyRequests",
            "Too many requests. Retry after the interval given in Retry-After.",
        ),
        503 => GraphError::new(
            503,
            "serviceNotAvailable",
            "The service is temporarily unavailable. Retry after the interval given in Retry-After.",
        ),
        504 => GraphError::new(
            504,
            "GatewayTimeout",
            "The gateway did not receive a timely response from the upstream service.",
        ),
        404 => GraphError::not_found("injected"),
        s => GraphError::new(s, "generalException", "An unspecified error occurred."),
    }
}

/// `Retry-After` in both forms RFC 9110 §10.2.3 allows (delay-seconds and HTTP-date), taking
/// turns, so clients must read both (Graph's throttling guidance only promises "a value").
pub(crate) fn retry_after_value(secs: u64) -> String {
    static TURN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dated = TURN.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 2 == 1;
    let at = i64::try_from(secs).ok().and_then(|s| {
        jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_secs(s))
            .ok()
    });
    match at {
        // HTTP-dates have whole seconds: round up so the client never comes back early.
        Some(at) if dated && secs > 0 => {
            let at = at
                .checked_add(jiff::SignedDuration::from_secs(1))
                .unwrap_or(at);
            jiff::fmt::rfc2822::DateTimePrinter::new()
                .timestamp_to_rfc9110_string(&at)
                .unwrap_or_else(|_| secs.to_string())
        }
        _ => secs.to_string(),
    }
}

enum Service {
    Graph(String),
    Mde,
}

struct Ids {
    request: String,
    client: String,
    date: String,
}

fn graph_error_response(e: &GraphError, ids: &Ids, mde: bool) -> Response {
    let body = if mde {
        e.mde_body(&ids.request)
    } else {
        e.body(&ids.request, &ids.client, &ids.date)
    };
    let mut headers = vec![
        ("request-id".to_string(), ids.request.clone()),
        ("client-request-id".to_string(), ids.client.clone()),
    ];
    if let Some(ra) = e.retry_after {
        headers.push(("retry-after".into(), retry_after_value(ra)));
    }
    json_response(e.status, &body, &headers)
}

fn authenticate(
    sh: &Shared,
    headers: &HeaderMap,
    service: &Service,
) -> Result<(Uuid, Vec<String>), GraphError> {
    let (empty, bad) = match service {
        Service::Mde => (
            GraphError::new(401, "Unauthorized", "Authorization header is missing."),
            "Unauthorized",
        ),
        Service::Graph(_) => (
            GraphError::unauthenticated("Access token is empty."),
            "InvalidAuthenticationToken",
        ),
    };
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(token) = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))
    else {
        return Err(empty);
    };
    let claims = sh
        .signer
        .verify(token.trim())
        .map_err(|m| GraphError::new(401, bad, m))?;
    let aud = claims
        .get("aud")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let audiences = if matches!(service, Service::Mde) {
        DEFENDER_AUDIENCES
    } else {
        GRAPH_AUDIENCES
    };
    if !audiences.iter().any(|a| a.eq_ignore_ascii_case(aud)) {
        return Err(GraphError::new(
            401,
            bad,
            "Access token validation failure. Invalid audience.",
        ));
    }
    let tid = claims
        .get("tid")
        .and_then(Value::as_str)
        .and_then(|t| Uuid::parse_str(t).ok())
        .ok_or_else(|| GraphError::new(401, bad, "The token has no tenant."))?;
    let roles = claims
        .get("roles")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok((tid, roles))
}

/// Fallback handler: everything under `/v1.0`, `/beta` and `/api`.
pub async fn api(
    AxState(sh): AxState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let ids = Ids {
        request: Uuid::new_v4().to_string(),
        client: headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| Uuid::new_v4().to_string()),
        date: now_iso(),
    };
    let mut segs = path.trim_start_matches('/').split('/').map(batch::percent);
    let service = match segs.next().as_deref() {
        Some(v @ ("v1.0" | "beta")) => Service::Graph(v.to_string()),
        Some("api") => Service::Mde,
        _ => {
            let e = GraphError::new(
                404,
                "NotFound",
                format!("No sandbox endpoint serves '{path}'."),
            );
            sh.record(&ids.date, method.as_str(), &path, None, 404);
            return graph_error_response(&e, &ids, false);
        }
    };
    let mde = matches!(service, Service::Mde);
    let segments: Vec<String> = segs.filter(|s| !s.is_empty()).collect();
    let (tenant, roles) = match authenticate(&sh, &headers, &service) {
        Ok(x) => x,
        Err(e) => {
            sh.record(&ids.date, method.as_str(), &path, None, e.status);
            return graph_error_response(&e, &ids, mde);
        }
    };
    let (decision, latency, cfg) = {
        let mut f = lock(&sh.faults);
        let d = f.decide(method.as_str(), &path, Some(tenant));
        let slow = f.delay_for(method.as_str(), &path, Some(tenant));
        (
            d,
            f.config.latency_ms.saturating_add(slow),
            f.config.clone(),
        )
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if let Decision::Fail(status) = decision {
        let mut e = fault_error(status);
        if matches!(status, 429 | 503) {
            e.retry_after = Some(cfg.retry_after_secs);
        }
        if mde && status == 429 {
            e.code = "TooManyRequests".into();
        }
        sh.record(&ids.date, method.as_str(), &path, Some(tenant), status);
        return graph_error_response(&e, &ids, mde);
    }
    let mut guard = match sh.world.cell(&tenant) {
        Some(cell) => Some(cell.data.lock().await),
        None => None,
    };
    if let Decision::Hold(ms) = decision {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let scope = Scope {
        world: &sh.world,
        tenant: guard.as_deref_mut(),
    };
    let result = run(
        &sh,
        scope,
        &service,
        ApiInput {
            method: method.as_str(),
            segments,
            query: uri.query().unwrap_or_default(),
            headers: &headers,
            body: &body,
            tenant,
            roles,
            cfg: &cfg,
            ids: &ids,
        },
    );
    drop(guard);
    let status = match (&result, decision) {
        (_, Decision::Lose) => 504,
        (Ok(r), _) => r.status,
        (Err(e), _) => e.status,
    };
    sh.record(&ids.date, method.as_str(), &path, Some(tenant), status);
    if decision == Decision::Lose {
        // The write happened; the client only learns that the gateway gave up.
        return graph_error_response(&fault_error(504), &ids, mde);
    }
    match result {
        Ok(r) => {
            let mut hs = r.headers.clone();
            hs.push(("request-id".into(), ids.request.clone()));
            hs.push(("client-request-id".into(), ids.client.clone()));
            match r.body {
                Some(b) => json_response(r.status, &b, &hs),
                None => json_response_empty(r.status, &hs),
            }
        }
        Err(e) => graph_error_response(&e, &ids, mde),
    }
}

fn json_response_empty(status: u16, headers: &[(String, String)]) -> Response {
    let mut resp = StatusCode::from_u16(status)
        .unwrap_or(StatusCode::NO_CONTENT)
        .into_response();
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::try_from(k.as_str()),
            HeaderValue::from_str(v),
        ) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

struct ApiInput<'a> {
    method: &'a str,
    segments: Vec<String>,
    query: &'a str,
    headers: &'a HeaderMap,
    body: &'a Bytes,
    tenant: Uuid,
    roles: Vec<String>,
    cfg: &'a super::faults::FaultConfig,
    ids: &'a Ids,
}

fn run(
    sh: &Shared,
    mut st: Scope<'_>,
    service: &Service,
    input: ApiInput<'_>,
) -> Result<Resp, GraphError> {
    let header = |n: &str| {
        input
            .headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let body = if input.body.is_empty() {
        None
    } else {
        Some(serde_json::from_slice::<Value>(input.body).map_err(|e| {
            GraphError::new(
                400,
                "BadRequest",
                format!("Unable to read JSON request payload: {e}"),
            )
        })?)
    };
    let req = ApiRequest {
        method: input.method.to_string(),
        segments: input.segments,
        query: Query::parse(input.query)?,
        body,
        prefer_create_if_missing: header("prefer").contains("create-if-missing"),
        eventual: header("consistencylevel").eq_ignore_ascii_case("eventual"),
        keys: vec![],
        if_match: Some(header("if-match")).filter(|h| !h.is_empty()),
    };
    let version = match service {
        Service::Graph(v) => v.clone(),
        Service::Mde => "api".into(),
    };
    let ctx = Ctx {
        tenant: input.tenant,
        roles: input.roles,
        version,
        base: sh.base.clone(),
        now: now_ms(),
        replication_delay_ms: i64::try_from(input.cfg.replication_delay_ms).unwrap_or(i64::MAX),
        page_size: input.cfg.page_size.max(1),
    };
    let result = match service {
        Service::Mde => mde_route(&ctx, &st, &req),
        Service::Graph(_)
            if req.segments.first().map(String::as_str) == Some("$batch")
                && req.method == "POST" =>
        {
            let mut hook = |m: &str, p: &str| match lock(&sh.faults).decide(m, p, Some(ctx.tenant))
            {
                Decision::Fail(s) => Some(s),
                _ => None,
            };
            routes::batch::run(
                &ctx,
                &mut st,
                &req,
                &mut hook,
                input.cfg.retry_after_secs,
                (&input.ids.request, &input.ids.client, &input.ids.date),
            )
        }
        Service::Graph(_) => routes::dispatch(&ctx, &mut st, &req),
    };
    if req.method != "GET" && result.as_ref().is_ok_and(|r| r.status < 400) {
        if let Some(t) = st.tenant.as_deref() {
            sh.world.note_apps(t);
        }
        sh.persist();
    }
    result
}

fn mde_route(ctx: &Ctx, st: &Scope<'_>, req: &ApiRequest) -> Result<Resp, GraphError> {
    use super::permissions::{Access, Area, permits};
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let route = match (req.method.as_str(), segs.as_slice()) {
        ("GET", ["alerts"]) => None,
        ("GET", ["alerts", id]) => Some(id.to_string()),
        _ => {
            return Err(GraphError::new(
                404,
                "NotFound",
                "The sandbox emulates only GET /api/alerts of the Defender for Endpoint API.",
            ));
        }
    };
    if !permits(&ctx.roles, Area::MdeAlerts, Access::Read) {
        return Err(GraphError::new(
            403,
            "Forbidden",
            "The application does not have any of the required application permissions (Alert.ReadWrite.All, Alert.Read.All) to access the resource.",
        ));
    }
    match route {
        None => routes::mde::alerts(ctx, st, req),
        Some(id) => routes::mde::alert(ctx, st, &id),
    }
}

/// Rejects control-API callers that are not on the loopback interface.
pub fn loopback(addr: &ConnectInfo<SocketAddr>) -> bool {
    addr.0.ip().is_loopback()
}
