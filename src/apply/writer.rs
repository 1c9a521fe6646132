//! The write context of one tenant: Graph calls with replication-delay retries, the ids of
//! objects created so far, the journal, and the record of every wait.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use super::journal::Journal;
use crate::graph::{Answer, GraphError, GraphErrorKind, Service, TenantGraph};
use crate::providers::graph_map::{Ids, Snapshot};
use crate::providers::{Address, DesiredTenant};

/// A failed action: which object, and why (with Graph's code and request id when it answered).
#[derive(Debug, thiserror::Error)]
#[error("{address}: {message}")]
pub struct ApplyError {
    pub address: String,
    pub message: String,
}

impl ApplyError {
    pub fn new(address: &Address, message: impl Into<String>) -> Self {
        Self {
            address: address.to_string(),
            message: message.into(),
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
    pub secrets: &'a super::secrets::SecretSinks,
}

impl Writer<'_> {
    pub fn ids(&self) -> Ids {
        self.ids.lock().map(|g| g.clone()).unwrap_or_default()
    }

    /// The id of an object that must exist by now (a dependency).
    pub fn id_of(&self, at: &Address, dep: &Address) -> Result<String, ApplyError> {
        self.ids().of(dep).map(str::to_string).ok_or_else(|| {
            ApplyError::new(
                at,
                format!("{dep} does not exist (it failed or was skipped)"),
            )
        })
    }

    pub fn set_id(&self, a: &Address, id: &str) {
        if let Ok(mut g) = self.ids.lock() {
            g.objects.insert(a.clone(), id.to_string());
        }
    }

    pub fn set_siem_app_id(&self, app_id: &str) {
        if let Ok(mut g) = self.ids.lock() {
            g.siem_app_id = Some(app_id.to_string());
        }
    }

    /// Sends a write; while Graph answers with a documented replication error (a referenced
    /// object created moments ago is not visible yet) it waits with backoff, up to the deadline.
    pub async fn call(
        &self,
        at: &Address,
        service: Service,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Answer, GraphError> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            let result = self
                .tg
                .send(service, method.clone(), path, body, headers)
                .await;
            if let Some(j) = self.journal {
                j.record(self.tg, at, method.as_str(), path, &result);
            }
            match result {
                Err(e)
                    if e.is_replication_delay()
                        && started.elapsed() < self.replication_deadline =>
                {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                other => {
                    let waited = started.elapsed();
                    // `delay` only grew if at least one replication error was waited out.
                    if other.is_ok()
                        && delay > Duration::from_millis(100)
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
    pub async fn get(
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
    pub async fn list(
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
    pub async fn await_visible<F, Fut>(
        &self,
        at: &Address,
        what: &str,
        mut probe: F,
    ) -> Result<String, ApplyError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Option<String>, GraphError>>,
    {
        let started = Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            match probe().await {
                Ok(Some(id)) => {
                    let waited = started.elapsed();
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
                Err(e) => return Err(ApplyError::new(at, e.to_string())),
            }
            if started.elapsed() >= self.replication_deadline {
                return Err(ApplyError::new(
                    at,
                    format!(
                        "{what} did not appear within {:?}",
                        self.replication_deadline
                    ),
                ));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }
}

/// Whether a write's answer was lost (it may have happened): recover by re-reading.
pub fn outcome_unknown(e: &GraphError) -> bool {
    matches!(e.kind, GraphErrorKind::OutcomeUnknown(_))
}

/// The created object's id from a 201 body.
pub fn created_id(at: &Address, a: &Answer) -> Result<String, ApplyError> {
    a.body
        .as_ref()
        .and_then(|b| b.get("id"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| ApplyError::new(at, "the create answer carried no id"))
}

pub fn graph_err(at: &Address) -> impl Fn(GraphError) -> ApplyError + '_ {
    move |e| ApplyError::new(at, e.to_string())
}
