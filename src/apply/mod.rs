//! Applying a plan whose tenants were just read (fresh, see `engine::check_fresh`): run the
//! actions along their dependencies (each as soon as what it depends on is done, tenants in
//! parallel) and wait out replication where Graph needs it; the journal gets each tenant's
//! critical path. `engine::apply` wraps this with the preflight, the lease and the
//! verification.
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
    /// At most this many writes at once within one tenant: as many as are ready run
    /// together (the dependency graph decides), this only caps wide graphs.
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
            per_tenant: PER_TENANT_CAP,
            replication_deadline: Duration::from_secs(120),
            recovery_window: Duration::from_secs(15),
            recent: None,
            lease: None,
            interrupted: None,
        }
    }
}

/// The default cap on one tenant's concurrent writes. A customer's graph has about twenty
/// writes and at most a dozen ready at once; Graph throttles per app and tenant well above
/// this, and `Retry-After` is honoured when it does.
pub const PER_TENANT_CAP: usize = 16;

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
    /// The writes that determined how long this tenant's apply took (also in the journal).
    pub critical_path: Vec<PathStep>,
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
            let desired = expand::provider_tenant_for(v, &plan.customers);
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
            let desired = expand::expand_customer(&v.provider, c);
            let universe = expand::universe_customer(&v.provider, c);
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
fn may_start(opts: &ApplyOptions) -> Result<(), crate::graph::write::Halted> {
    if opts
        .interrupted
        .as_ref()
        .is_some_and(|i| i.load(std::sync::atomic::Ordering::SeqCst))
    {
        return Err(crate::graph::write::Halted::Interrupted);
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
        critical_path: vec![],
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
        resolved: Default::default(),
    };
    let allow_protected = customer.is_some_and(|c| {
        c.spec.lifecycle.allow_protected_deletes
            || c.spec.lifecycle.state == LifecycleState::Offboarding
    });
    run_actions(
        &w,
        desired,
        universe,
        &state.leftovers,
        &writes,
        opts,
        allow_protected,
        &mut out,
    )
    .await;
    out.waits = w.waits.lock().map(|g| g.clone()).unwrap_or_default();
    if let Some(j) = journal {
        j.critical_path(&tg, &out.critical_path);
    }
    out.outcome = if !out.failed.is_empty() || !out.skipped.is_empty() {
        Outcome::Failed
    } else {
        Outcome::Applied
    };
    let ids = w.ids();
    (out, ids)
}

/// One write of a tenant's apply and what it waits for.
struct Node<'a> {
    action: &'a crate::plan::Action,
    resource: &'a DesiredResource,
    delete: bool,
    /// Indices of the nodes that must finish before this one starts.
    deps: Vec<usize>,
}

/// The writes as a dependency graph. A create or update waits for the writes of what it
/// directly depends on. Deletions come after every create and update (an update may be what
/// stops referring to the object deleted), and a deletion waits for the deletions of
/// everything that depends on its object, directly or not: dependents go first.
fn graph_of<'a>(
    desired: &'a DesiredTenant,
    universe: &'a DesiredTenant,
    leftovers: &'a [DesiredResource],
    writes: &[&'a crate::plan::Action],
) -> Vec<Node<'a>> {
    let mut nodes: Vec<Node<'a>> = Vec::new();
    let mut index: BTreeMap<&Address, usize> = BTreeMap::new();
    for r in &desired.resources {
        if let Some(a) = writes
            .iter()
            .find(|a| a.op != Op::Delete && a.address == r.address.to_string())
        {
            index.insert(&r.address, nodes.len());
            nodes.push(Node {
                action: a,
                resource: r,
                delete: false,
                deps: vec![],
            });
        }
    }
    for n in &mut nodes {
        n.deps = n
            .resource
            .depends_on
            .iter()
            .filter_map(|d| index.get(d).copied())
            .collect();
    }
    let creates: Vec<usize> = (0..nodes.len()).collect();
    let mut deletes: BTreeMap<&Address, usize> = BTreeMap::new();
    for r in universe.resources.iter().rev().chain(leftovers) {
        if let Some(a) = writes
            .iter()
            .find(|a| a.op == Op::Delete && a.address == r.address.to_string())
        {
            deletes.insert(&r.address, nodes.len());
            nodes.push(Node {
                action: a,
                resource: r,
                delete: true,
                deps: creates.clone(),
            });
        }
    }
    for (address, &i) in &deletes {
        let mut seen: BTreeSet<&Address> = BTreeSet::new();
        let mut queue: Vec<&Address> = vec![address];
        while let Some(at) = queue.pop() {
            for u in &universe.resources {
                if u.depends_on.contains(at) && seen.insert(&u.address) {
                    queue.push(&u.address);
                }
            }
        }
        let after: Vec<usize> = seen
            .iter()
            .filter_map(|a| deletes.get(a).copied())
            .collect();
        nodes[i].deps.extend(after);
    }
    nodes
}

/// One action on a tenant's critical path: the chain of writes, each started by the end of
/// the one before, that ended last.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PathStep {
    pub address: String,
    pub op: &'static str,
    /// When it started, from the start of the tenant's writes.
    pub start_ms: u64,
    pub duration_ms: u64,
    /// HTTP requests it sent (retries, pages and replication waits included; tokens not).
    pub round_trips: u64,
}

/// When a node ran: start and end from the start of the tenant's writes, requests sent.
#[derive(Debug, Clone, Copy)]
struct Ran {
    start: Duration,
    end: Duration,
    requests: u64,
}

/// Runs the writes along their dependencies: each starts as soon as the writes it waits for
/// have finished (not when a whole level has), as many at once as are ready, up to
/// `opts.per_tenant`. A failed write skips what depends on it.
#[allow(clippy::too_many_arguments)]
async fn run_actions(
    w: &Writer<'_>,
    desired: &DesiredTenant,
    universe: &DesiredTenant,
    leftovers: &[DesiredResource],
    writes: &[&crate::plan::Action],
    opts: &ApplyOptions,
    allow_protected: bool,
    out: &mut TenantOutcome,
) {
    use futures::stream::FuturesUnordered;
    use std::sync::atomic::{AtomicU64, Ordering};

    let nodes = graph_of(desired, universe, leftovers, writes);
    let mut dependents: Vec<Vec<usize>> = vec![vec![]; nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        for &d in &n.deps {
            dependents[d].push(i);
        }
    }
    let mut waiting: Vec<usize> = nodes.iter().map(|n| n.deps.len()).collect();
    let mut ready: std::collections::VecDeque<usize> =
        (0..nodes.len()).filter(|&i| waiting[i] == 0).collect();
    let mut finished = vec![false; nodes.len()];
    let mut ran: Vec<Option<Ran>> = vec![None; nodes.len()];
    let mut failed: BTreeSet<Address> = BTreeSet::new();
    let mut results: Vec<(String, Result<(), WriteError>)> = vec![];
    let started = std::time::Instant::now();
    let cap = opts.per_tenant.max(1);
    let mut running = FuturesUnordered::new();
    loop {
        while running.len() < cap
            && let Some(i) = ready.pop_front()
        {
            let n = &nodes[i];
            let blocked_by = (!n.delete)
                .then(|| n.resource.depends_on.iter().find(|d| failed.contains(*d)))
                .flatten();
            if let Some(dep) = blocked_by {
                let skipped = WriteError::skipped(&n.resource.address, dep);
                finished[i] = true;
                failed.insert(n.resource.address.clone());
                results.push((n.action.address.clone(), Err(skipped)));
                for &d in &dependents[i] {
                    waiting[d] -= 1;
                    if waiting[d] == 0 {
                        ready.push_back(d);
                    }
                }
                continue;
            }
            let counter = Arc::new(AtomicU64::new(0));
            running.push(async move {
                let start = started.elapsed();
                let result = crate::graph::count_requests(Arc::clone(&counter), async {
                    if n.delete {
                        delete_one(w, n, opts, allow_protected).await
                    } else {
                        write_one(w, n, opts).await
                    }
                })
                .await;
                let ran = Ran {
                    start,
                    end: started.elapsed(),
                    requests: counter.load(Ordering::Relaxed),
                };
                (i, result, ran)
            });
        }
        let Some((i, result, r)) = running.next().await else {
            break;
        };
        let n = &nodes[i];
        finished[i] = true;
        ran[i] = Some(r);
        // Deletions order the others but never skip them (as before: each is attempted).
        if result.is_err() && !n.delete {
            failed.insert(n.resource.address.clone());
        }
        results.push((n.action.address.clone(), result));
        for &d in &dependents[i] {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                ready.push_back(d);
            }
        }
    }
    // Only a dependency cycle leaves a write unstarted; say so rather than drop it.
    for (_, n) in nodes.iter().enumerate().filter(|(i, _)| !finished[*i]) {
        results.push((
            n.action.address.clone(),
            Err(WriteError::new(
                &n.resource.address,
                "not started: its dependencies form a cycle",
            )),
        ));
    }
    out.critical_path = critical_path(&nodes, &ran);
    for (address, result) in results {
        match result {
            Ok(()) => out.done.push(address),
            Err(e) if e.is_skipped() => out.skipped.push(e.to_string()),
            Err(e) => out.failed.push(e),
        }
    }
}

/// The chain of writes that ended last, each preceded by the dependency that finished last
/// (the one it was waiting for), first write first.
fn critical_path(nodes: &[Node<'_>], ran: &[Option<Ran>]) -> Vec<PathStep> {
    let last = (0..nodes.len())
        .filter_map(|i| ran[i].map(|r| (i, r)))
        .max_by_key(|(_, r)| r.end);
    let mut path = Vec::new();
    let mut at = last;
    while let Some((i, r)) = at {
        path.push(PathStep {
            address: nodes[i].action.address.clone(),
            op: nodes[i].action.op.verb(),
            start_ms: millis(r.start),
            duration_ms: millis(r.end.saturating_sub(r.start)),
            round_trips: r.requests,
        });
        at = nodes[i]
            .deps
            .iter()
            .filter_map(|&d| ran[d].map(|r| (d, r)))
            .max_by_key(|(_, r)| r.end);
    }
    path.reverse();
    path
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A create, update or replace.
async fn write_one(w: &Writer<'_>, n: &Node<'_>, opts: &ApplyOptions) -> Result<(), WriteError> {
    let (a, r) = (n.action, n.resource);
    let lease = may_start(opts);
    let creates =
        matches!(a.op, Op::Create | Op::Replace) || (a.op == Op::Update && a.id.is_none());
    // Noted before sending: a run killed before the answer is recorded still tells the next
    // plan to wait for lists before creating this again.
    let sent = creates && lease.is_ok();
    if sent && let Some(recent) = &opts.recent {
        recent.sending(&w.tg.profile.graph, &w.tg.tenant, &a.address);
    }
    let result = match lease {
        Err(why) => Err(WriteError::halted(&r.address, why)),
        Ok(()) => match a.op {
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
    result
}

/// A deletion, if allowed.
async fn delete_one(
    w: &Writer<'_>,
    n: &Node<'_>,
    opts: &ApplyOptions,
    allow_protected: bool,
) -> Result<(), WriteError> {
    let (a, r) = (n.action, n.resource);
    let result = if let Err(why) = may_start(opts) {
        Err(WriteError::halted(&r.address, why))
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
    result
}
