//! Control endpoints under `/_sandbox/` for tests and demos (no token; loopback callers only):
//! state dump (private key material redacted), request log, fault settings (rates, latency,
//! replication delay, page size, Retry-After, one-shot failure rules), seeding of access package
//! assignments and security alerts, and the customer's side of GDAP (approve, terminate, expiry).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::sandbox::api::{Shared, lock, loopback};
use crate::sandbox::faults::{Delay, OneShot};
use crate::sandbox::state::{ASSIGNMENTS, Entry, new_id};

fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        "control endpoints answer loopback callers only",
    )
        .into_response()
}

pub async fn state(AxState(sh): AxState<Arc<Shared>>, addr: ConnectInfo<SocketAddr>) -> Response {
    if !loopback(&addr) {
        return forbidden();
    }
    let guards = sh.world.lock_all().await;
    let mut v = sh.world.to_value(&guards);
    drop(guards);
    for ptr in [
        "/ca/key_pem",
        "/signing_key_pkcs8",
        "/provisioning/client_secret",
    ] {
        if let Some(x) = v.pointer_mut(ptr) {
            *x = json!("<redacted>");
        }
    }
    Json(v).into_response()
}

pub async fn requests(
    AxState(sh): AxState<Arc<Shared>>,
    addr: ConnectInfo<SocketAddr>,
) -> Response {
    if !loopback(&addr) {
        return forbidden();
    }
    Json(lock(&sh.log).clone()).into_response()
}

pub(crate) async fn reset_log(
    AxState(sh): AxState<Arc<Shared>>,
    addr: ConnectInfo<SocketAddr>,
) -> Response {
    if !loopback(&addr) {
        return forbidden();
    }
    lock(&sh.log).clear();
    StatusCode::NO_CONTENT.into_response()
}

/// Partial update of the fault settings; `one_shot` appends a rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPatch {
    pub rate_429: Option<f64>,
    pub rate_5xx: Option<f64>,
    pub rate_lost: Option<f64>,
    pub latency_ms: Option<u64>,
    pub replication_delay_ms: Option<u64>,
    pub page_size: Option<usize>,
    pub retry_after_secs: Option<u64>,
    pub one_shot: Option<OneShot>,
    #[serde(default)]
    pub clear_one_shots: bool,
    /// Appends a [`Delay`] rule.
    pub delay: Option<Delay>,
    #[serde(default)]
    pub clear_delays: bool,
}

pub(crate) async fn get_faults(
    AxState(sh): AxState<Arc<Shared>>,
    addr: ConnectInfo<SocketAddr>,
) -> Response {
    if !loopback(&addr) {
        return forbidden();
    }
    Json(lock(&sh.faults).config.clone()).into_response()
}

pub(crate) async fn put_faults(
    AxState(sh): AxState<Arc<Shared>>,
    addr: ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    if !loopback(&addr) {
        return forbidden();
    }
    let patch: FaultPatch = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("invalid fault settings: {e}"),
            )
                .into_response();
        }
    };
    let mut f = lock(&sh.faults);
    let c = &mut f.config;
    if let Some(v) = patch.rate_429 {
        c.rate_429 = v
    }
    if let Some(v) = patch.rate_5xx {
        c.rate_5xx = v
    }
    if let Some(v) = patch.rate_lost {
        c.rate_lost = v
    }
    if let Some(v) = patch.latency_ms {
        c.latency_ms = v
    }
    if let Some(v) = patch.replication_delay_ms {
        c.replication_delay_ms = v
    }
    if let Some(v) = patch.page_size {
        c.page_size = v.max(1)
    }
    if let Some(v) = patch.retry_after_secs {
        c.retry_after_secs = v
    }
    if patch.clear_one_shots {
        c.one_shots.clear();
    }
    if let Some(rule) = patch.one_shot {
        c.one_shots.push(rule);
    }
    if patch.clear_delays {
        c.delays.clear();
    }
    if let Some(rule) = patch.delay {
        c.delays.push(rule);
    }
    Json(c.clone()).into_response()
}

/// `POST /_sandbox/tenants/{tid}/assignments`: seeds an accessPackageAssignment (reports read them).
pub(crate) async fn seed_assignment(
    AxState(sh): AxState<Arc<Shared>>,
    addr: ConnectInfo<SocketAddr>,
    Path(tid): Path<Uuid>,
    Json(mut body): Json<Value>,
) -> Response {
    if !loopback(&addr) {
        return forbidden();
    }
    let Some(cell) = sh.world.cell(&tid) else {
        return (StatusCode::NOT_FOUND, "unknown tenant").into_response();
    };
    let mut t = cell.data.lock().await;
    if body.get("id").is_none() {
        body["id"] = json!(new_id());
    }
    t.insert(
        ASSIGNMENTS,
        Entry {
            v: body.clone(),
            visible_at_ms: 0,
            parent: None,
            origin: None,
        },
    );
    drop(t);
    sh.persist();
    (StatusCode::CREATED, Json(body)).into_response()
}

/// `POST /_sandbox/tenants/{tid}/alerts`: adds (or updates, by `id`) a security alert, so a test
/// can make "a new alert arrives" happen.
pub(crate) async fn seed_alert(
    AxState(sh): AxState<Arc<Shared>>,
    addr: ConnectInfo<SocketAddr>,
    Path(tid): Path<Uuid>,
    Json(body): Json<Value>,
) -> Response {
    if !loopback(&addr) {
        return forbidden();
    }
    let Some(cell) = sh.world.cell(&tid) else {
        return (StatusCode::NOT_FOUND, "unknown tenant").into_response();
    };
    let mut t = cell.data.lock().await;
    let alert = crate::sandbox::routes::security::upsert_alert(&mut t, &body);
    drop(t);
    sh.persist();
    (StatusCode::CREATED, Json(alert)).into_response()
}

/// `POST /_sandbox/gdap/{relationshipId}/{approve|terminate|expire|end}`: what the partner cannot
/// do through Graph. `approve` is the customer's Global Administrator clicking the approval link
/// (the relationship turns `active` after the replication delay); `terminate` is the customer
/// ending it; `expire` makes the end date now (auto-extension still applies); `end` with
/// `{"endDateTime": "…"}` moves the end date of an active relationship (expiry warnings).
pub async fn gdap(
    AxState(sh): AxState<Arc<Shared>>,
    addr: ConnectInfo<SocketAddr>,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    use crate::sandbox::routes::gdap::{ControlAction, control};
    if !loopback(&addr) {
        return forbidden();
    }
    let (act, end) = match action.as_str() {
        "approve" => (Some(ControlAction::Approve), None),
        "terminate" => (Some(ControlAction::Terminate), None),
        "expire" => (Some(ControlAction::Expire), None),
        "end" => {
            let at = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| {
                    v.get("endDateTime")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .and_then(|s| s.parse::<jiff::Timestamp>().ok());
            match at {
                Some(t) => (None, Some(t.as_millisecond())),
                None => {
                    return (
                        StatusCode::BAD_REQUEST,
                        "`end` needs {\"endDateTime\": \"<RFC 3339 timestamp>\"}",
                    )
                        .into_response();
                }
            }
        }
        other => {
            return (
                StatusCode::NOT_FOUND,
                format!("unknown GDAP control action `{other}` (approve, terminate, expire, end)"),
            )
                .into_response();
        }
    };
    let delay = i64::try_from(lock(&sh.faults).config.replication_delay_ms).unwrap_or(i64::MAX);
    let now = crate::sandbox::state::now_ms();
    // One tenant locked at a time, as requests do (see `world`).
    let mut found = None;
    for tid in sh.world.tenant_ids() {
        let Some(cell) = sh.world.cell(&tid) else {
            continue;
        };
        let t = cell.data.lock().await;
        if crate::sandbox::routes::gdap::holds(&t, &id) {
            found = Some(t);
            break;
        }
    }
    let result = match found.as_mut() {
        Some(t) => control(t, &id, act, end, now, delay),
        None => Err((404, format!("no delegated admin relationship '{id}'"))),
    };
    drop(found);
    match result {
        Ok(v) => {
            sh.persist();
            Json(v).into_response()
        }
        Err((code, msg)) => (
            StatusCode::from_u16(code).unwrap_or(StatusCode::CONFLICT),
            msg,
        )
            .into_response(),
    }
}
