//! Writing to one tenant: the [`Writer`] context (Graph calls with replication-delay retries,
//! the ids of objects created so far, the journal, the record of every wait), the typed
//! [`WriteError`], and the write helpers every kind uses (create with recovery, keyed upsert,
//! patch, delete).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::journal::Journal;
use super::{
    Answer, GraphError, GraphErrorKind, RetryAfter, RetryPolicy, Service, TenantGraph, Version,
};
use crate::model::observe::str_of;
use crate::model::{Address, DesiredTenant, Ids, Snapshot};

/// How often a write whose answer was lost is sent again (after looking for its effect where
/// the write is not idempotent) before giving up.
pub(crate) const LOST_ANSWER_TRIES: u32 = 3;

/// A write that did not happen (or whose outcome is unknown): which object, and why.
#[derive(Debug, thiserror::Error)]
#[error("{address}: {message}")]
pub struct WriteError {
    pub address: String,
    /// Why, for people (with Graph's code and request id when it answered).
    pub message: String,
    pub cause: WriteCause,
}

/// What kind of failure a [`WriteError`] is.
#[derive(Debug)]
pub enum WriteCause {
    /// Graph refused or did not answer.
    Graph(GraphError),
    /// The tool refused or could not build the write.
    Refused,
    /// Not attempted because something it depends on failed.
    Skipped { dependency: String },
    /// The tenant could not be re-read before writing, so nothing was attempted.
    Unread,
    /// The run stopped starting writes: see [`Halted`].
    Halted(Halted),
}

/// Why no write may start any more in this run (nothing was sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Halted {
    #[error("not started: interrupted (Ctrl-C)")]
    Interrupted,
    #[error("the apply lease was lost (another apply took it over); writes stopped")]
    LeaseLost,
    #[error("the apply lease could not be renewed and is about to expire; writes stopped")]
    LeaseExpiring,
}

impl WriteError {
    pub(crate) fn new(address: &Address, message: impl Into<String>) -> Self {
        Self {
            address: address.to_string(),
            message: message.into(),
            cause: WriteCause::Refused,
        }
    }

    /// A write never sent because the run stopped starting writes.
    pub(crate) fn halted(address: &Address, why: Halted) -> Self {
        Self {
            address: address.to_string(),
            message: why.to_string(),
            cause: WriteCause::Halted(why),
        }
    }

    pub(crate) fn skipped(address: &Address, dependency: &Address) -> Self {
        Self {
            address: address.to_string(),
            message: format!("skipped: {dependency} failed"),
            cause: WriteCause::Skipped {
                dependency: dependency.to_string(),
            },
        }
    }

    pub(crate) fn is_skipped(&self) -> bool {
        matches!(self.cause, WriteCause::Skipped { .. })
    }

    /// Whether the write may have happened although no answer said so (its answer was lost),
    /// also when a kind wrapped the Graph error into its own message.
    pub(crate) fn answer_lost(&self) -> bool {
        match &self.cause {
            WriteCause::Graph(e) => outcome_unknown(e),
            WriteCause::Refused => self.message.contains(super::OUTCOME_UNKNOWN),
            WriteCause::Skipped { .. } | WriteCause::Unread | WriteCause::Halted(_) => false,
        }
    }
}

/// A replication wait that happened, for the output.
#[derive(Debug, Clone)]
pub struct Wait {
    pub address: String,
    pub waited: Duration,
    pub reason: String,
}

pub struct Writer<'a> {
    pub tg: &'a TenantGraph,
    pub tenant: &'a DesiredTenant,
    pub snap: &'a Snapshot,
    pub base_dir: &'a Path,
    pub ids: Mutex<Ids>,
    pub waits: Mutex<Vec<Wait>>,
    pub journal: Option<&'a Journal>,
    /// How long a dependent may wait for a fresh object to replicate.
    pub replication_deadline: Duration,
    /// How long to look for an object whose create answer was lost before creating it again.
    pub recovery_window: Duration,
    pub secrets: &'a crate::secrets::SecretSinks,
    /// What this tenant's writes looked up once and share (see [`Writer::resolve_once`]).
    pub resolved: Resolved,
}

/// Objects several writes of one tenant need and that do not change during a run (a
/// resource service principal's id and app roles, a catalog resource's roles and scopes),
/// each fetched at most once per tenant per run, however many writes ask at the same time.
#[derive(Default)]
pub struct Resolved {
    cells: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Value>>>>,
}

impl Resolved {
    fn cell(&self, key: &str) -> Arc<tokio::sync::OnceCell<Value>> {
        match self.cells.lock() {
            Ok(mut m) => Arc::clone(m.entry(key.to_string()).or_default()),
            // A poisoned map only loses the sharing, never the answer.
            Err(_) => Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    /// Notes what a write learnt anyway (e.g. a catalog resource it waited for).
    pub(crate) fn remember(&self, key: &str, value: Value) {
        let _ = self.cell(key).set(value);
    }

    /// What was noted or fetched under `key`, if anything.
    pub(crate) fn recall(&self, key: &str) -> Option<Value> {
        self.cell(key).get().cloned()
    }
}

impl Writer<'_> {
    pub(crate) fn ids(&self) -> Ids {
        self.ids.lock().map(|g| g.clone()).unwrap_or_default()
    }

    /// The id of an object that must exist by now (a dependency).
    pub(crate) fn id_of(&self, at: &Address, dep: &Address) -> Result<String, WriteError> {
        self.ids().of(dep).map(str::to_string).ok_or_else(|| {
            WriteError::new(
                at,
                format!("{dep} does not exist (it failed or was skipped)"),
            )
        })
    }

    pub(crate) fn set_id(&self, a: &Address, id: &str) {
        if let Ok(mut g) = self.ids.lock() {
            g.objects.insert(a.clone(), id.to_string());
        }
    }

    pub(crate) fn set_siem_app_id(&self, app_id: &str) {
        if let Ok(mut g) = self.ids.lock() {
            g.siem_app_id = Some(app_id.to_string());
        }
    }

    /// The value under `key`, fetched by `fetch` the first time any write of this tenant asks
    /// (concurrent askers wait for that one request); a failed fetch is not kept.
    pub(crate) async fn resolve_once<F, Fut>(
        &self,
        key: &str,
        fetch: F,
    ) -> Result<Value, GraphError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Value, GraphError>>,
    {
        self.resolved
            .cell(key)
            .get_or_try_init(fetch)
            .await
            .cloned()
    }

    /// Sends a write; while Graph answers with a documented replication error (a referenced
    /// object created moments ago is not visible yet) it waits with backoff, up to the deadline.
    pub(crate) async fn call(
        &self,
        at: &Address,
        service: Service,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Answer, GraphError> {
        let policy = RetryPolicy::replication(self.replication_deadline);
        let mut tries = policy.start();
        loop {
            tries.begin();
            let result = self
                .tg
                .send(service, method.clone(), path, body, headers)
                .await;
            if let Some(j) = self.journal {
                j.record(self.tg, at, method.as_str(), path, &result);
            }
            match result {
                Err(e) if e.is_replication_delay() && tries.in_time() => {
                    // Without a Retry-After the pause never exceeds the deadline: no error.
                    let _ = tries.pause(RetryAfter::Unusable).await;
                }
                other => {
                    let waited = tries.elapsed();
                    if other.is_ok()
                        && tries.waits() > 0
                        && let Ok(mut w) = self.waits.lock()
                    {
                        w.push(Wait {
                            address: at.to_string(),
                            waited,
                            reason: "a referenced object was still replicating".into(),
                        });
                    }
                    return other;
                }
            }
        }
    }

    /// GET with the same replication patience (reading back an object just created).
    pub(crate) async fn get(
        &self,
        at: &Address,
        service: Service,
        path: &str,
    ) -> Result<Value, GraphError> {
        self.call(at, service, Method::GET, path, None, &[])
            .await
            .map(|a| a.body.unwrap_or(Value::Null))
    }

    /// Lists a collection with the same patience: a collection under an object created
    /// moments ago answers 404 until the object has replicated.
    pub(crate) async fn list(
        &self,
        at: &Address,
        service: Service,
        path: &str,
    ) -> Result<Vec<Value>, GraphError> {
        let first = self.get(at, service, path).await?;
        self.tg.collect_pages(service, first).await
    }

    /// Waits until `probe` finds what an asynchronous step produces (e.g. a catalog resource
    /// after its resource request), polling with backoff up to the replication deadline.
    pub(crate) async fn await_visible<F, Fut>(
        &self,
        at: &Address,
        what: &str,
        mut probe: F,
    ) -> Result<String, WriteError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Option<String>, GraphError>>,
    {
        let policy = RetryPolicy::replication(self.replication_deadline);
        let mut tries = policy.start();
        loop {
            match probe().await {
                Ok(Some(id)) => {
                    let waited = tries.elapsed();
                    if waited > Duration::from_millis(50)
                        && let Ok(mut w) = self.waits.lock()
                    {
                        w.push(Wait {
                            address: at.to_string(),
                            waited,
                            reason: format!("waited for {what}"),
                        });
                    }
                    return Ok(id);
                }
                Ok(None) => {}
                Err(e) if e.is_replication_delay() => {}
                Err(e) => return Err(graph_err(at)(e)),
            }
            if !tries.in_time() {
                return Err(WriteError::new(
                    at,
                    format!(
                        "{what} did not appear within {:?}",
                        self.replication_deadline
                    ),
                ));
            }
            let _ = tries.pause(RetryAfter::Unusable).await;
        }
    }
}

/// Whether a write's answer was lost (it may have happened): recover by re-reading.
pub(crate) fn outcome_unknown(e: &GraphError) -> bool {
    matches!(e.kind, GraphErrorKind::OutcomeUnknown(_))
}

/// The created object's id from a 201 body.
pub(crate) fn created_id(at: &Address, a: &Answer) -> Result<String, WriteError> {
    a.body
        .as_ref()
        .and_then(|b| b.get("id"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| WriteError::new(at, "the create answer carried no id"))
}

/// Wraps a Graph error with the address it was for (`.map_err(graph_err(at))`).
pub(crate) fn graph_err(at: &Address) -> impl Fn(GraphError) -> WriteError + '_ {
    move |e| WriteError {
        address: at.to_string(),
        message: e.to_string(),
        cause: WriteCause::Graph(e),
    }
}

/// A Graph collection whose objects a kind creates by POST and changes and deletes by id
/// (`{path}/{id}`): the write paths of one kind, written once, so the kind's file says only
/// its body and its natural key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Collection {
    pub(crate) version: Version,
    /// As sent: the journal and error messages show it.
    pub(crate) path: &'static str,
}

impl Collection {
    pub(crate) const fn new(version: Version, path: &'static str) -> Self {
        Self { version, path }
    }

    /// One object of the collection, the id encoded: ids the tool gives (detection rules)
    /// are not GUIDs.
    pub(crate) fn item(&self, id: &str) -> String {
        format!("{}/{}", self.path, crate::model::observe::enc(id))
    }

    /// The whole collection as one list read under `key` (kinds whose objects the plan finds
    /// among all of them).
    pub(crate) fn read_all(&self, key: &str) -> crate::model::Read {
        let path = format!("/{}", self.path.trim_start_matches('/'));
        crate::model::Read::list(key, self.version, path)
    }

    /// Where the plan reads one object by id (`ResourceKind::read_by_id`), the id encoded as
    /// it may come from a hand-edited file.
    pub(crate) fn read_by_id(&self, id: &str) -> Option<(Version, String)> {
        let id = crate::model::observe::enc(id);
        Some((
            self.version,
            format!("{}/{id}", self.path.trim_start_matches('/')),
        ))
    }

    /// Creates the object and records its id (see [`create_listed`]).
    pub(crate) async fn create(
        &self,
        w: &Writer<'_>,
        at: &Address,
        body: &Value,
        list_url: &str,
        pick: impl Fn(&[Value]) -> Option<&Value>,
    ) -> Result<(), WriteError> {
        create_listed(w, at, self.version, self.path, body, list_url, pick).await
    }

    /// Updates the fields `body` names (Graph answers 204, or 202 for connected organizations).
    pub(crate) async fn patch(
        &self,
        w: &Writer<'_>,
        at: &Address,
        id: &str,
        body: &Value,
    ) -> Result<(), WriteError> {
        patch_path(w, at, self.version, &self.item(id), body).await
    }

    /// Replaces the whole object (the service resets whatever `body` leaves out).
    pub(crate) async fn put(
        &self,
        w: &Writer<'_>,
        at: &Address,
        id: &str,
        body: &Value,
    ) -> Result<(), WriteError> {
        w.call(
            at,
            Service::Graph(self.version),
            Method::PUT,
            &self.item(id),
            Some(body),
            &[],
        )
        .await
        .map_err(graph_err(at))?;
        Ok(())
    }

    /// Deletes the object; "already gone" counts as done.
    pub(crate) async fn delete(
        &self,
        w: &Writer<'_>,
        at: &Address,
        id: &str,
    ) -> Result<(), WriteError> {
        delete_path(w, at, self.version, &self.item(id)).await
    }
}

/// Creates an object by POST to `path` and records its id; an answer lost on the way is
/// recovered by listing `list_url` and taking the object `pick` finds there (its natural key),
/// so the create is never duplicated.
pub(crate) async fn create_listed(
    w: &Writer<'_>,
    at: &Address,
    version: Version,
    path: &str,
    body: &Value,
    list_url: &str,
    pick: impl Fn(&[Value]) -> Option<&Value>,
) -> Result<(), WriteError> {
    let id = create_recovering(w, at, version, path, body, || async {
        let items = w.list(at, Service::Graph(version), list_url).await?;
        Ok(pick(&items).map(|v| str_of(v, "id").to_string()))
    })
    .await?;
    w.set_id(at, &id);
    Ok(())
}

/// POSTs a create; if the answer is lost, re-reads the natural key (`find`) before trying
/// again, so a create is never duplicated.
pub(crate) async fn create_recovering<F, Fut>(
    w: &Writer<'_>,
    at: &Address,
    version: Version,
    path: &str,
    body: &serde_json::Value,
    find: F,
) -> Result<String, WriteError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Option<String>, GraphError>>,
{
    for _ in 0..LOST_ANSWER_TRIES {
        match w
            .call(
                at,
                Service::Graph(version),
                reqwest::Method::POST,
                path,
                Some(body),
                &[],
            )
            .await
        {
            Ok(a) => return created_id(at, &a),
            // A lost answer (the create may have happened), or a conflict (it exists, perhaps
            // from a run whose answer was lost, but list queries may not show it yet): look for
            // it for as long as replication can take before deciding.
            Err(e) if outcome_unknown(&e) || is_conflict(&e) => {
                tracing::info!(address = %at, error = %e, "create not confirmed; re-reading the natural key");
                let policy = RetryPolicy::replication(w.recovery_window);
                let mut tries = policy.start();
                loop {
                    if let Some(id) = find().await.map_err(graph_err(at))? {
                        return Ok(id);
                    }
                    if !tries.in_time() {
                        break;
                    }
                    let _ = tries.pause(RetryAfter::Unusable).await;
                }
                if is_conflict(&e) {
                    return Err(graph_err(at)(e));
                }
            }
            Err(e) => return Err(graph_err(at)(e)),
        }
    }
    Err(WriteError::new(
        at,
        "the create kept losing its answer; giving up",
    ))
}

/// Upserts by an alternate key (`groups(uniqueName=…)`, `servicePrincipals(appId=…)`,
/// `applications(uniqueName=…)`) with `Prefer: create-if-missing`. Idempotent, so a lost
/// answer is simply sent again. Returns the object's id: from the 201 body, or read back after
/// a 204.
pub(crate) async fn upsert_keyed(
    w: &Writer<'_>,
    at: &Address,
    path: &str,
    body: &serde_json::Value,
) -> Result<String, GraphError> {
    let mut tries = 0;
    let answer = loop {
        tries += 1;
        match w
            .call(
                at,
                Service::Graph(Version::V1),
                reqwest::Method::PATCH,
                path,
                Some(body),
                &[("Prefer", "create-if-missing")],
            )
            .await
        {
            Err(e) if outcome_unknown(&e) && tries < LOST_ANSWER_TRIES => continue,
            other => break other?,
        }
    };
    if let Some(id) = answer
        .body
        .as_ref()
        .and_then(|b| b.get("id"))
        .and_then(serde_json::Value::as_str)
    {
        return Ok(id.to_string());
    }
    let v = w
        .get(
            at,
            Service::Graph(Version::V1),
            &format!("{path}?$select=id"),
        )
        .await?;
    Ok(str_of(&v, "id").to_string())
}

/// A PATCH update of one object (Graph answers 204, or 202 for connected organizations).
pub(crate) async fn patch_path(
    w: &Writer<'_>,
    at: &Address,
    version: Version,
    path: &str,
    body: &serde_json::Value,
) -> Result<(), WriteError> {
    w.call(
        at,
        Service::Graph(version),
        reqwest::Method::PATCH,
        path,
        Some(body),
        &[],
    )
    .await
    .map_err(graph_err(at))?;
    Ok(())
}

/// Graph's ways of saying "an object with this key already exists".
fn is_conflict(e: &GraphError) -> bool {
    e.status() == Some(409)
        || (e.status() == Some(400)
            && match &e.kind {
                GraphErrorKind::Status { message, .. } => message.contains("already exist"),
                _ => false,
            })
}

/// DELETE that treats "already gone" as done.
pub(crate) async fn delete_path(
    w: &Writer<'_>,
    at: &Address,
    version: Version,
    path: &str,
) -> Result<(), WriteError> {
    match w
        .tg
        .send(
            Service::Graph(version),
            reqwest::Method::DELETE,
            path,
            None,
            &[],
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(graph_err(at)(e)),
    }
}
