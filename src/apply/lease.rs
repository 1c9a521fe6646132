//! The apply lease: one apply at a time writes, whatever machine it runs on.
//!
//! Graph has no lock, but it has one atomic primitive the tool can reach: a directory object's
//! `uniqueName` is unique, and a second create with a taken one fails (400 "Another object with
//! the same value for property uniqueName already exists."). The lease is a security group
//! without members in the MSSP tenant, `uniqueName = <prefix>-apply-lease`, whose description
//! says who holds it and until when. Whoever creates it holds it; it is renewed (PATCH by id)
//! while the apply runs and deleted by id at the end. A lease past its expiry (a killed run) is
//! taken over by deleting that id and creating again: the create decides who wins.
//!
//! A holder that cannot renew stops writing before its lease could expire: every write asks
//! [`LeaseCheck::check`] first, which refuses once the last confirmed expiry (minus a margin
//! for clock skew) is near.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::graph::{GraphError, GraphErrorKind, Service, TenantGraph, Version};

/// How long a lease lives without renewal (`--lease-ttl`).
pub(crate) const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// Why no lease was obtained.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Another apply holds it (after waiting as long as allowed).
    #[error("another apply holds the apply lease{}", held_by(.holder.as_ref()))]
    Held { holder: Option<LeaseInfo> },
    /// Graph refused or failed a lease call.
    #[error("the apply lease could not be {action}: {source}")]
    Graph {
        action: &'static str,
        #[source]
        source: GraphError,
    },
}

fn held_by(info: Option<&LeaseInfo>) -> String {
    match info {
        Some(i) => format!(
            ": {} since {} (expires {}; lease group {})",
            i.holder, i.acquired_at, i.expires_at, i.id
        ),
        None => " (its details are not readable yet: it was created moments ago)".into(),
    }
}

/// What the lease group says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseInfo {
    /// The lease group's object id (what `mssp lease break` deletes).
    pub id: String,
    /// "run R on HOST by USER (pid P)", stripped of control characters.
    pub holder: String,
    pub acquired_at: String,
    pub expires_at: String,
    /// A per-process random value, so a holder recognises its own lease after a lost answer.
    nonce: String,
}

impl LeaseInfo {
    fn from_group(g: &Value) -> Option<LeaseInfo> {
        let id = g.get("id")?.as_str()?.to_string();
        let d: Value = g
            .get("description")
            .and_then(Value::as_str)
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or(Value::Null);
        let field = |k: &str| clean(d.get(k).and_then(Value::as_str).unwrap_or("unknown"));
        Some(LeaseInfo {
            id,
            holder: field("holder"),
            acquired_at: field("acquiredAt"),
            expires_at: field("expiresAt"),
            nonce: field("nonce"),
        })
    }

    /// Past its expiry plus `grace` (clock skew between the holder and us). A lease whose
    /// expiry cannot be read counts as expired: only a broken or foreign description has none.
    pub fn expired(&self, now: jiff::Timestamp, grace: Duration) -> bool {
        match self.expires_at.parse::<jiff::Timestamp>() {
            Ok(t) => {
                let grace = jiff::SignedDuration::try_from(grace).unwrap_or_default();
                now >= t.checked_add(grace).unwrap_or(t)
            }
            Err(_) => true,
        }
    }
}

/// Server-provided text reaches terminals and CI logs: no control characters.
fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// The lease group's `uniqueName` for a provider naming prefix.
pub fn unique_name(prefix: &str) -> String {
    crate::model::names::lease_unique_name(prefix)
}

/// Who is applying: CI run ids when there are any, else the local process.
fn holder_text() -> String {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let run = env("GITHUB_RUN_ID")
        .map(|r| format!("GitHub run {r}"))
        .or_else(|| env("BUILD_BUILDID").map(|r| format!("Azure Pipelines build {r}")))
        .unwrap_or_else(|| "local run".into());
    let host = env("HOSTNAME")
        .or_else(|| env("COMPUTERNAME"))
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown host".into());
    let user = env("USER")
        .or_else(|| env("USERNAME"))
        .unwrap_or_else(|| "unknown user".into());
    clean(&format!(
        "{run} on {host} by {user} (pid {})",
        std::process::id()
    ))
}

fn description(holder: &str, nonce: &str, acquired: jiff::Timestamp, ttl: Duration) -> String {
    let expires = acquired
        .checked_add(jiff::SignedDuration::try_from(ttl).unwrap_or_default())
        .unwrap_or(acquired);
    json!({
        "holder": holder,
        "acquiredAt": acquired.to_string(),
        "expiresAt": expires.to_string(),
        "nonce": nonce,
    })
    .to_string()
}

/// The margin kept between a lease's expiry and the last write, and the grace others give an
/// expired lease: together they tolerate clocks that disagree by up to a fifth of the TTL.
fn margin(ttl: Duration) -> Duration {
    ttl / 10
}

/// Reads the current lease, if any (lists lag behind writes: a lease created moments ago may
/// not show yet).
pub async fn read(tg: &TenantGraph, prefix: &str) -> Result<Option<LeaseInfo>, GraphError> {
    let path = format!(
        "groups?$filter=uniqueName eq '{}'&$select=id,description,createdDateTime",
        unique_name(prefix)
    );
    let answer = tg
        .send(Service::Graph(Version::V1), Method::GET, &path, None, &[])
        .await?;
    Ok(answer
        .body
        .as_ref()
        .and_then(|b| b.get("value"))
        .and_then(Value::as_array)
        .and_then(|items| items.first())
        .and_then(LeaseInfo::from_group))
}

/// Deletes a lease group by id. `false` when it was already gone.
pub async fn delete(tg: &TenantGraph, id: &str) -> Result<bool, GraphError> {
    match tg
        .send(
            Service::Graph(Version::V1),
            Method::DELETE,
            &format!("groups/{id}"),
            None,
            &[],
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

fn is_conflict(e: &GraphError) -> bool {
    matches!(&e.kind, GraphErrorKind::Status { status: 400, message, .. }
        if message.contains("uniqueName") && message.contains("already exists"))
}

/// State shared between the holder, its renewal task and every writer.
#[derive(Debug)]
struct Shared {
    /// Writes are allowed until then (the last confirmed expiry minus the margin).
    valid_until: Mutex<Instant>,
    lost: AtomicBool,
}

/// A cheap handle every write consults.
#[derive(Debug, Clone)]
pub struct LeaseCheck(Arc<Shared>);

impl LeaseCheck {
    /// `Err` once the lease is lost or about to expire: no write may start then.
    pub fn check(&self) -> Result<(), crate::graph::write::Halted> {
        if self.0.lost.load(Ordering::SeqCst) {
            return Err(crate::graph::write::Halted::LeaseLost);
        }
        let until = self
            .0
            .valid_until
            .lock()
            .map(|g| *g)
            .unwrap_or_else(|_| Instant::now());
        if Instant::now() >= until {
            return Err(crate::graph::write::Halted::LeaseExpiring);
        }
        Ok(())
    }
}

/// A held lease. Release it with [`Lease::release`]; dropping it stops the renewals and lets it
/// expire.
#[derive(Debug)]
pub struct Lease {
    tg: TenantGraph,
    pub id: String,
    shared: Arc<Shared>,
    renewer: tokio::task::JoinHandle<()>,
    created: Instant,
}

/// How long after its creation a lease's 404 may still be replication, not absence.
const RELEASE_PATIENCE: Duration = Duration::from_secs(30);

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

impl Lease {
    pub fn check(&self) -> LeaseCheck {
        LeaseCheck(Arc::clone(&self.shared))
    }

    /// Stops renewing and deletes the lease group (only ours: by id). A lease created moments
    /// ago may not be visible to the DELETE yet (404 while it replicates): that is retried for
    /// a while, or the lease would linger until it expires and block the next apply.
    pub(crate) async fn release(self) -> Result<(), GraphError> {
        self.renewer.abort();
        loop {
            if delete(&self.tg, &self.id).await? {
                return Ok(());
            }
            if self.created.elapsed() >= RELEASE_PATIENCE {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Creates the lease group; `Ok(None)` when the uniqueName is taken.
async fn try_create(
    tg: &TenantGraph,
    prefix: &str,
    holder: &str,
    nonce: &str,
    ttl: Duration,
) -> Result<Option<String>, GraphError> {
    let name = unique_name(prefix);
    let body = json!({
        "displayName": format!("mssp apply lease ({prefix})"),
        "description": description(holder, nonce, jiff::Timestamp::now(), ttl),
        "mailEnabled": false,
        "mailNickname": name,
        "securityEnabled": true,
        "uniqueName": name,
    });
    match tg
        .send(
            Service::Graph(Version::V1),
            Method::POST,
            "groups",
            Some(&body),
            &[],
        )
        .await
    {
        Ok(a) => Ok(a
            .body
            .as_ref()
            .and_then(|b| b.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string)),
        Err(e) if is_conflict(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Takes the lease, waiting up to `wait` for a holder to finish. A lease past its expiry is
/// taken over.
pub(crate) async fn acquire(
    tg: &TenantGraph,
    prefix: &str,
    ttl: Duration,
    wait: Duration,
) -> Result<Lease, LeaseError> {
    let holder = holder_text();
    let nonce = uuid::Uuid::new_v4().to_string();
    let deadline = Instant::now() + wait;
    let mut takeovers = 0;
    loop {
        let created_at = Instant::now();
        let created = match try_create(tg, prefix, &holder, &nonce, ttl).await {
            Ok(Some(id)) => Some(id),
            Ok(None) => None,
            // The create may have happened: the description's nonce tells whether it is ours.
            Err(e) if matches!(e.kind, GraphErrorKind::OutcomeUnknown(_)) => None,
            Err(source) => {
                return Err(LeaseError::Graph {
                    action: "created",
                    source,
                });
            }
        };
        if let Some(id) = created {
            return Ok(start(tg, id, holder, nonce, ttl, created_at));
        }
        let current = read(tg, prefix).await.map_err(|source| LeaseError::Graph {
            action: "read",
            source,
        })?;
        let last = match current {
            Some(info) if info.nonce == nonce => {
                return Ok(start(tg, info.id, holder, nonce, ttl, created_at));
            }
            Some(info) if info.expired(jiff::Timestamp::now(), margin(ttl)) && takeovers < 3 => {
                takeovers += 1;
                eprintln!(
                    "note: taking over an expired apply lease ({} since {}, expired {})",
                    info.holder, info.acquired_at, info.expires_at
                );
                delete(tg, &info.id)
                    .await
                    .map_err(|source| LeaseError::Graph {
                        action: "taken over",
                        source,
                    })?;
                continue;
            }
            other => other,
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(LeaseError::Held { holder: last });
        }
        tokio::time::sleep((deadline - now).min(Duration::from_secs(2))).await;
    }
}

/// Starts renewing a freshly obtained lease.
fn start(
    tg: &TenantGraph,
    id: String,
    holder: String,
    nonce: String,
    ttl: Duration,
    created_at: Instant,
) -> Lease {
    let shared = Arc::new(Shared {
        valid_until: Mutex::new(created_at + ttl.saturating_sub(margin(ttl))),
        lost: AtomicBool::new(false),
    });
    let renewer = tokio::spawn(renew(
        tg.clone(),
        id.clone(),
        holder,
        nonce,
        ttl,
        Arc::clone(&shared),
    ));
    Lease {
        tg: tg.clone(),
        id,
        shared,
        renewer,
        created: created_at,
    }
}

/// Extends the expiry every third of the TTL. A failed renewal only leaves the expiry where it
/// was (the next one may succeed); a 404 after the lease was once renewed means someone deleted
/// it (`lease break`, or a takeover after a long stall): writes stop at once.
async fn renew(
    tg: TenantGraph,
    id: String,
    holder: String,
    nonce: String,
    ttl: Duration,
    shared: Arc<Shared>,
) {
    let mut renewed_once = false;
    loop {
        tokio::time::sleep(ttl / 3).await;
        let sent = Instant::now();
        let body =
            json!({ "description": description(&holder, &nonce, jiff::Timestamp::now(), ttl) });
        match tg
            .send(
                Service::Graph(Version::V1),
                Method::PATCH,
                &format!("groups/{id}"),
                Some(&body),
                &[],
            )
            .await
        {
            Ok(_) => {
                renewed_once = true;
                if let Ok(mut until) = shared.valid_until.lock() {
                    *until = sent + ttl.saturating_sub(margin(ttl));
                }
            }
            Err(e) if e.is_not_found() && renewed_once => {
                shared.lost.store(true, Ordering::SeqCst);
                tracing::warn!("the apply lease group {id} is gone; writes stop");
                return;
            }
            Err(e) => tracing::warn!(error = %e, "renewing the apply lease failed; retrying"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(expires: &str) -> LeaseInfo {
        LeaseInfo {
            id: "x".into(),
            holder: "h".into(),
            acquired_at: "a".into(),
            expires_at: expires.into(),
            nonce: "n".into(),
        }
    }

    #[test]
    fn a_lease_is_expired_only_after_its_expiry_plus_the_grace() {
        let now: jiff::Timestamp = "2026-11-29T10:00:00Z".parse().expect("ts");
        let grace = Duration::from_secs(30);
        assert!(!info("2026-11-29T10:00:10Z").expired(now, grace));
        assert!(!info("2026-11-29T09:59:40Z").expired(now, grace));
        assert!(info("2026-11-29T09:59:29Z").expired(now, grace));
        assert!(info("garbage").expired(now, grace));
    }

    #[test]
    fn writes_stop_once_the_lease_is_near_expiry_or_lost() {
        let shared = Arc::new(Shared {
            valid_until: Mutex::new(Instant::now() + Duration::from_secs(60)),
            lost: AtomicBool::new(false),
        });
        let check = LeaseCheck(Arc::clone(&shared));
        assert!(check.check().is_ok());
        if let Ok(mut u) = shared.valid_until.lock() {
            *u = Instant::now();
        }
        assert!(check.check().is_err());
        if let Ok(mut u) = shared.valid_until.lock() {
            *u = Instant::now() + Duration::from_secs(60);
        }
        shared.lost.store(true, Ordering::SeqCst);
        assert!(check.check().is_err());
    }

    #[test]
    fn server_text_loses_control_characters() {
        let g = json!({"id": "1", "description": "{\"holder\":\"run\\u001b[31m x\",\"expiresAt\":\"e\"}"});
        let i = LeaseInfo::from_group(&g).expect("info");
        assert_eq!(i.holder, "run[31m x");
    }
}
