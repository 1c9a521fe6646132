//! Applying a plan whose tenants were just read (fresh, see `engine::check_fresh`): run the
//! actions in dependency order (independent ones concurrently, tenants in parallel) and wait
//! out replication where Graph needs it. `engine::apply` wraps this with the preflight, the
//! lease and the verification.
//!
//! One tenant's failure never stops the others; a failed action skips only its dependents.

pub mod binding;
pub mod lease;
// Moved out of `apply` so kinds can write without importing it; kept reachable by the old
// paths for callers.
pub use crate::graph::journal;
pub use crate::secrets;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;

use crate::expand;
use crate::graph::write::{Wait, WriteError, Writer};
use crate::manifest::{CustomerManifest, LifecycleState};
use crate::model::{Address, DesiredResource, DesiredTenant, Ids, TenantRole};
use crate::plan::read::{ReadError, TenantState};
use crate::plan::{Op, Plan, TenantPlan, TenantStates, TenantStatus};
use crate::session::Session;
use crate::validate::Validated;
use journal::Journal;

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub allow_delete: bool,
    pub parallelism: usize,
    /// Concurrent actions within one tenant.
    pub per_tenant: usize,
    pub replication_deadline: Duration,
    /// How long an object whose create answer was lost is looked for before it is created
    /// again. List queries lag behind writes by seconds; longer than that, the create
    /// most likely did not happen.
    pub recovery_window: Duration,
    /// Where creates and deletes are noted, so plans made moments later still see them.
    pub recent: Option<Arc<crate::plan::recent::RecentCreates>>,
    /// The apply lease this run holds: no write starts once it is lost or about to expire.
    pub lease: Option<lease::LeaseCheck>,
    /// Set on the first Ctrl-C: writes in flight finish (and are journaled), no new one starts.
    pub interrupted: Option<Arc<std::sync::atomic::AtomicBool>>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            allow_delete: false,
            parallelism: 8,
            per_tenant: 4,
            replication_deadline: Duration::from_secs(120),
            recovery_window: Duration::from_secs(15),
            recent: None,
            lease: None,
            interrupted: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    Applied,
    Unchanged,
    Failed,
    Blocked,
}

#[derive(Debug)]
pub struct TenantOutcome {
    pub name: String,
    pub outcome: Outcome,
    pub done: Vec<String>,
    pub failed: Vec<WriteError>,
    pub skipped: Vec<String>,
    pub waits: Vec<Wait>,
    /// Manual items still waiting for someone to do them.
    pub manual: usize,
}

/// Applies the plan's actions with fresh tenant states.
pub async fn apply(
    v: &Validated,
    session: &Session,
    plan: &Plan,
    mut states: TenantStates,
    opts: &ApplyOptions,
    journal: Option<&Journal>,
    progress: &indicatif::ProgressBar,
) -> Vec<TenantOutcome> {
    let base = v.base_dir();
    let sinks = secrets::SecretSinks {
        http: session.http.clone(),
        tokens: Arc::clone(&session.tokens),
        tenant: v.provider.doc.spec.tenant_id.value.to_ascii_lowercase(),
        login: session.endpoints.profile(v.provider.doc.spec.cloud).login,
    };
    let provider_state = plan
        .tenants
        .iter()
        .find(|t| t.role == TenantRole::Provider)
        .map(|tp| {
            let state = states.remove(&tp.name).unwrap_or(Err(ReadError::NotRead));
            (tp, state)
        });
    let jobs: Vec<_> = plan
        .tenants
        .iter()
        .filter(|t| t.role == TenantRole::Customer)
        .filter_map(|t| v.customer(&t.name).map(|c| (t, &c.doc)))
        .map(|(tp, c)| {
            let state = states.remove(&tp.name).unwrap_or(Err(ReadError::NotRead));
            (tp, c, state)
        })
        .collect();
    // The MSSP tenant first: customers' service principals need the application's appId.
    let (provider, results) = crate::plan::provider_first(
        async {
            let (tp, state) = provider_state?;
            let desired = expand::provider_tenant(v);
            let done = apply_tenant(
                session, tp, &desired, &desired, state, None, opts, journal, &sinks, &base,
            )
            .await;
            progress.inc(1);
            Some(done)
        },
        jobs,
        opts.parallelism,
        |provider, (tp, c, state)| {
            let desired = expand::expand_customer(&v.provider.doc, c);
            let universe = expand::universe_customer(&v.provider.doc, c);
            let siem = provider
                .as_ref()
                .and_then(|(_, ids): &(TenantOutcome, Ids)| ids.siem_app_id.clone());
            let base = base.clone();
            let sinks = &sinks;
            async move {
                let state = state.map(|mut s| {
                    if s.ids.siem_app_id.is_none() {
                        s.ids.siem_app_id = siem;
                    }
                    s
                });
                let (o, _) = apply_tenant(
                    session,
                    tp,
                    &desired,
                    &universe,
                    state,
                    Some(c),
                    opts,
                    journal,
                    sinks,
                    &base,
                )
                .await;
                progress.inc(1);
                o
            }
        },
    )
    .await;
    let mut outcomes: Vec<TenantOutcome> = provider.map(|(o, _)| o).into_iter().collect();
    outcomes.extend(results);
    outcomes.sort_by(|a, b| a.name.cmp(&b.name));
    outcomes
}

/// `Err` with the reason once no write may start: interrupted, or the lease lost.
fn may_start(opts: &ApplyOptions) -> Result<(), String> {
    if opts
        .interrupted
        .as_ref()
        .is_some_and(|i| i.load(std::sync::atomic::Ordering::SeqCst))
    {
        return Err("not started: interrupted (Ctrl-C)".into());
    }
    opts.lease.as_ref().map_or(Ok(()), lease::LeaseCheck::check)
}

#[allow(clippy::too_many_arguments)]
async fn apply_tenant(
    session: &Session,
    tp: &TenantPlan,
    desired: &DesiredTenant,
    universe: &DesiredTenant,
    state: Result<TenantState, ReadError>,
    customer: Option<&CustomerManifest>,
    opts: &ApplyOptions,
    journal: Option<&Journal>,
    sinks: &secrets::SecretSinks,
    base: &Path,
) -> (TenantOutcome, Ids) {
    let mut out = TenantOutcome {
        name: tp.name.clone(),
        outcome: Outcome::Unchanged,
        done: vec![],
        failed: vec![],
        skipped: vec![],
        waits: vec![],
        manual: tp.actions.iter().filter(|a| a.op == Op::Manual).count(),
    };
    if tp.status == TenantStatus::Blocked {
        out.outcome = Outcome::Blocked;
        return (out, Ids::default());
    }
    let state = match state {
        Ok(s) => s,
        Err(e) => {
            out.outcome = Outcome::Blocked;
            out.failed.push(WriteError {
                address: "(read)".into(),
                message: e.to_string(),
                cause: crate::graph::write::WriteCause::Unread,
            });
            return (out, Ids::default());
        }
    };
    let writes: Vec<&crate::plan::Action> = tp
        .actions
        .iter()
        .filter(|a| matches!(a.op, Op::Create | Op::Update | Op::Replace | Op::Delete))
        .collect();
    if writes.is_empty() {
        return (out, state.ids);
    }
    let tg = session
        .graph
        .tenant(&tp.tenant_id, session.endpoints.profile(tp.cloud));
    let w = Writer {
        tg: &tg,
        tenant: desired,
        snap: &state.snapshot,
        base_dir: base,
        ids: Mutex::new(state.ids.clone()),
        waits: Mutex::new(vec![]),
        journal,
        replication_deadline: opts.replication_deadline,
        recovery_window: opts.recovery_window.min(opts.replication_deadline),
        secrets: sinks,
    };
    let allow_protected = customer.is_some_and(|c| {
        c.spec.lifecycle.allow_protected_deletes
            || c.spec.lifecycle.state == LifecycleState::Offboarding
    });
    run_actions(
        &w,
        desired,
        universe,
        &writes,
        opts,
        allow_protected,
        &mut out,
    )
    .await;
    out.waits = w.waits.lock().map(|g| g.clone()).unwrap_or_default();
    out.outcome = if !out.failed.is_empty() || !out.skipped.is_empty() {
        Outcome::Failed
    } else {
        Outcome::Applied
    };
    let ids = w.ids();
    (out, ids)
}

/// Creates and updates level by level (a resource's level is one more than its deepest
/// dependency), independent actions of a level concurrently; then deletions, dependents first.
async fn run_actions(
    w: &Writer<'_>,
    desired: &DesiredTenant,
    universe: &DesiredTenant,
    writes: &[&crate::plan::Action],
    opts: &ApplyOptions,
    allow_protected: bool,
    out: &mut TenantOutcome,
) {
    let failed: Mutex<BTreeSet<Address>> = Mutex::new(BTreeSet::new());
    let mut levels: BTreeMap<usize, Vec<(&crate::plan::Action, &DesiredResource)>> =
        BTreeMap::new();
    let mut level_of: BTreeMap<Address, usize> = BTreeMap::new();
    for r in &desired.resources {
        let l = r
            .depends_on
            .iter()
            .filter_map(|d| level_of.get(d))
            .max()
            .map_or(0, |l| l + 1);
        level_of.insert(r.address.clone(), l);
        if let Some(a) = writes
            .iter()
            .find(|a| a.op != Op::Delete && a.address == r.address.to_string())
        {
            levels.entry(l).or_default().push((a, r));
        }
    }
    let results: Mutex<Vec<(String, Result<(), WriteError>)>> = Mutex::new(vec![]);
    for (_, batch) in levels {
        futures::stream::iter(batch.into_iter().map(|(a, r)| {
            let failed = &failed;
            let results = &results;
            async move {
                let blocked_by = r
                    .depends_on
                    .iter()
                    .find(|d| failed.lock().map(|f| f.contains(*d)).unwrap_or(false))
                    .cloned();
                let lease = may_start(opts);
                let creates = matches!(a.op, Op::Create | Op::Replace)
                    || (a.op == Op::Update && a.id.is_none());
                // Noted before sending: a run killed before the answer is recorded still tells
                // the next plan to wait for lists before creating this again.
                let sent = creates && blocked_by.is_none() && lease.is_ok();
                if sent && let Some(recent) = &opts.recent {
                    recent.sending(&w.tg.profile.graph, &w.tg.tenant, &a.address);
                }
                let result = match (blocked_by, lease) {
                    (Some(dep), _) => Err(WriteError::skipped(&r.address, &dep)),
                    (None, Err(why)) => Err(WriteError::new(&r.address, why)),
                    (None, Ok(())) => match a.op {
                        Op::Create => r.spec.create(&r.address, w).await,
                        Op::Update => match &a.id {
                            Some(id) => r.spec.update(id, &r.address, w).await,
                            None => r.spec.create(&r.address, w).await,
                        },
                        Op::Replace => {
                            let deleted = match &a.id {
                                Some(id) => r.spec.delete(id, &r.address, w).await,
                                None => Ok(()),
                            };
                            match deleted {
                                Ok(()) => r.spec.create(&r.address, w).await,
                                Err(e) => Err(e),
                            }
                        }
                        _ => Ok(()),
                    },
                };
                if result.is_err()
                    && let Ok(mut f) = failed.lock()
                {
                    f.insert(r.address.clone());
                }
                if sent && let Some(recent) = &opts.recent {
                    match (&result, w.ids().of(&r.address)) {
                        (Ok(()), Some(id)) => {
                            recent.created(&w.tg.profile.graph, &w.tg.tenant, &a.address, id);
                        }
                        // The answer was lost: the object may exist; keep the note.
                        (Err(e), _) if e.answer_lost() => {}
                        _ => recent.settled(&w.tg.profile.graph, &w.tg.tenant, &a.address),
                    }
                }
                if let Ok(mut res) = results.lock() {
                    res.push((a.address.clone(), result));
                }
            }
        }))
        .buffer_unordered(opts.per_tenant.max(1))
        .collect::<Vec<()>>()
        .await;
    }
    // Deletions: reverse expansion order, so dependents go before what they depend on.
    for r in universe.resources.iter().rev() {
        let Some(a) = writes
            .iter()
            .find(|a| a.op == Op::Delete && a.address == r.address.to_string())
        else {
            continue;
        };
        let lease = may_start(opts);
        let result = if let Err(why) = lease {
            Err(WriteError::new(&r.address, why))
        } else if !opts.allow_delete {
            Err(WriteError::new(
                &r.address,
                "not deleted: deletions need --allow-delete",
            ))
        } else if a.protected && !allow_protected {
            Err(WriteError::new(
                &r.address,
                "not deleted: protected; the customer manifest must set lifecycle.allowProtectedDeletes (or offboarding)",
            ))
        } else {
            match &a.id {
                Some(id) => r.spec.delete(id, &r.address, w).await,
                None => Ok(()),
            }
        };
        if result.is_ok()
            && let Some(recent) = &opts.recent
        {
            recent.settled(&w.tg.profile.graph, &w.tg.tenant, &a.address);
        }
        if let Ok(mut res) = results.lock() {
            res.push((a.address.clone(), result));
        }
    }
    for (address, result) in results.into_inner().unwrap_or_default() {
        match result {
            Ok(()) => out.done.push(address),
            Err(e) if e.is_skipped() => out.skipped.push(e.to_string()),
            Err(e) => out.failed.push(e),
        }
    }
}
