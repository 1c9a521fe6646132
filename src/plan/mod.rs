//! Planning: read every tenant (in parallel, bounded), diff it against the manifests, and
//! produce a [`Plan`] that lists every tenant — blocked ones included — with its actions.

pub mod diff;
pub mod model;
pub mod read;
pub mod recent;

use std::path::Path;
use std::sync::Arc;

use futures::StreamExt;
use sha2::{Digest, Sha256};

pub use model::*;

use crate::cloud::CloudProfile;
use crate::expand;
use crate::graph::Graph;
use crate::kinds::DesiredTenant;
use crate::manifest::LifecycleState;
use crate::model::observe::{Ids, Observed};
use crate::validate::{ValidCustomer, Validated};
use diff::{DiffInput, ExceptionRule};

/// Endpoint overrides applied to every tenant's cloud profile (the sandbox, private clouds).
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    pub login: Option<String>,
    pub graph: Option<String>,
    pub defender: Option<String>,
}

impl Endpoints {
    pub(crate) fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Self {
            login: var("AZURE_AUTHORITY_HOST"),
            graph: var("MSSP_GRAPH_URL"),
            defender: var("MSSP_DEFENDER_URL"),
        }
    }

    pub fn profile(&self, cloud: crate::cloud::Cloud) -> CloudProfile {
        CloudProfile::with_overrides(cloud, |k| match k {
            "AZURE_AUTHORITY_HOST" => self.login.clone(),
            "MSSP_GRAPH_URL" => self.graph.clone(),
            "MSSP_DEFENDER_URL" => self.defender.clone(),
            _ => None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub prune: bool,
    pub parallelism: usize,
    /// Limit to these customers (all when empty). The provider tenant is always read.
    pub customers: Vec<String>,
    pub today: jiff::civil::Date,
    /// Recorded in the plan so `apply PLAN` can load the same manifests.
    pub manifest_paths: Vec<String>,
    /// Objects created moments ago that lists may not show yet.
    pub recent: Option<Arc<recent::RecentCreates>>,
    /// How long to wait for such objects to become visible before blocking their tenant.
    pub visibility_wait: std::time::Duration,
}

/// Default of [`PlanOptions::visibility_wait`]: Graph's lists usually catch up within seconds.
pub const VISIBILITY_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// What each tenant was read as, by tenant name (an error for blocked tenants).
pub type TenantStates =
    std::collections::BTreeMap<String, Result<read::TenantState, read::ReadError>>;

/// What a plan keeps of each tenant besides its changes. At 10,000 tenants an entry per
/// unchanged resource and a fingerprint per object read are most of a no-op plan's memory, and
/// only a plan that is saved or printed as JSON shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Detail {
    /// Every action, unchanged resources too, and the fingerprints of everything read: what
    /// `--format json` prints and what `apply PLAN` needs from a saved plan (`--out`).
    #[default]
    Full,
    /// Changes only: unchanged resources are counted (`counts.unchanged`) and listed only
    /// when they carry accepted drift; no fingerprints. Enough for the human and Markdown
    /// renderings, the drift overview and `has_changes`, which show nothing more.
    Changes,
}

/// How a plan is kept and what is done per tenant while its token is at hand.
#[derive(Debug, Clone, Copy, Default)]
pub struct Keep {
    pub detail: Detail,
    /// Check each tenant's token for the permissions the manifests need there and warn about
    /// a shortfall in that tenant's plan (see `permissions::note_shortfall`), while the token
    /// the reads fetched is still cached.
    pub check_permissions: bool,
    /// Drop each customer's credential (and the tokens it caches) once its plan is made, for
    /// runs where nothing after the plan calls that tenant again. The MSSP tenant's is kept.
    pub release_credentials: bool,
}

impl Keep {
    /// What `mssp plan` keeps: everything when the plan is saved or printed as JSON (`full`),
    /// otherwise only changes. Either way each tenant's permissions are checked while its
    /// token is at hand, and nothing after the plan needs a customer's credential.
    pub fn for_plan_command(full: bool) -> Self {
        Self {
            detail: if full { Detail::Full } else { Detail::Changes },
            check_permissions: true,
            release_credentials: true,
        }
    }
}

/// Plans every selected tenant. Never fails as a whole: a tenant that cannot be read is
/// listed as blocked with the reason.
pub async fn plan(
    v: &Validated,
    graph: Arc<Graph>,
    endpoints: &Endpoints,
    opts: &PlanOptions,
    progress: &indicatif::ProgressBar,
) -> Plan {
    plan_keeping(v, graph, endpoints, opts, progress, Keep::default()).await
}

/// [`plan`], keeping only what `keep` says.
pub async fn plan_keeping(
    v: &Validated,
    graph: Arc<Graph>,
    endpoints: &Endpoints,
    opts: &PlanOptions,
    progress: &indicatif::ProgressBar,
    keep: Keep,
) -> Plan {
    // Nothing keeps a tenant's read state once its plan is made: memory stays flat however
    // many tenants there are.
    plan_inner(v, graph, endpoints, opts, progress, false, keep)
        .await
        .0
}

/// [`plan`], also returning what was read, so an apply that follows at once needs no second
/// read (a saved plan is different: it is re-read and compared, see `engine::check_fresh`).
pub async fn plan_with_states(
    v: &Validated,
    graph: Arc<Graph>,
    endpoints: &Endpoints,
    opts: &PlanOptions,
    progress: &indicatif::ProgressBar,
) -> (Plan, TenantStates) {
    plan_inner(v, graph, endpoints, opts, progress, true, Keep::default()).await
}

/// With `keep_states` false, customer states are dropped as soon as their plan is made and the
/// states returned hold the MSSP tenant's alone.
async fn plan_inner(
    v: &Validated,
    graph: Arc<Graph>,
    endpoints: &Endpoints,
    opts: &PlanOptions,
    progress: &indicatif::ProgressBar,
    keep_states: bool,
    keep: Keep,
) -> (Plan, TenantStates) {
    let base_dir = v.base_dir();
    let provider_desired = expand::provider_tenant_for(v, &opts.customers);
    let selected = selected_customers(v, opts);
    let window = v.siem_expiry_window();
    let ((provider_plan, provider_state), results) = provider_first(
        async {
            let planned = plan_tenant_keeping(
                &graph,
                endpoints,
                TenantJob {
                    desired: &provider_desired,
                    universe: &provider_desired,
                    exceptions: vec![],
                    allow_protected: false,
                    ids: Ids::default(),
                    expiry_window: window,
                },
                opts,
                &base_dir,
                // The MSSP tenant's credential serves the whole run (the customers' reads
                // need what was found there; an apply's lease lives there).
                Keep {
                    release_credentials: false,
                    ..keep
                },
            )
            .await;
            progress.inc(1);
            planned
        },
        selected,
        opts.parallelism,
        |(_, provider_state), c| {
            let graph = Arc::clone(&graph);
            let ids = Ids {
                siem_app_id: provider_state
                    .as_ref()
                    .ok()
                    .and_then(|s| s.ids.siem_app_id.clone()),
                ..Ids::default()
            };
            let base_dir = base_dir.clone();
            async move {
                // Expanded here, not up front: only the tenants being read hold their desired
                // resources, so memory does not grow with the number of customers.
                let job = customer_job(v, c, opts.today);
                let (p, state) = plan_tenant_keeping(
                    &graph,
                    endpoints,
                    TenantJob {
                        desired: &job.desired,
                        universe: &job.universe,
                        exceptions: job.exceptions.clone(),
                        allow_protected: job.allow_protected,
                        ids,
                        // Per-customer SIEM apps live in customer tenants: warn there too.
                        expiry_window: window,
                    },
                    opts,
                    &base_dir,
                    keep,
                )
                .await;
                progress.inc(1);
                // Only an apply that follows at once uses what was read; otherwise the plan
                // (a blocked tenant's reason included) is all that is kept.
                (p, keep_states.then_some(state))
            }
        },
    )
    .await;
    let mut states = TenantStates::new();
    states.insert(provider_plan.name.clone(), provider_state);
    let mut results: Vec<TenantPlan> = results
        .into_iter()
        .map(|(p, state)| {
            if let Some(state) = state {
                states.insert(p.name.clone(), state);
            }
            p
        })
        .collect();
    results.sort_by(|a, b| a.name.cmp(&b.name));

    let mut tenants = vec![provider_plan];
    tenants.extend(results);
    (assemble(v, opts, &opts.customers, tenants), states)
}

/// The MSSP tenant's step first (customers need what it finds there, such as the SIEM
/// application's appId), then one step per customer job, `parallelism` at a time. The
/// customers' results come in the order they finish.
pub(crate) async fn provider_first<P, J, C, F>(
    provider: impl std::future::Future<Output = P>,
    jobs: impl IntoIterator<Item = J>,
    parallelism: usize,
    customer: impl Fn(&P, J) -> F,
) -> (P, Vec<C>)
where
    F: std::future::Future<Output = C>,
{
    let first = provider.await;
    let results = futures::stream::iter(jobs.into_iter().map(|job| customer(&first, job)))
        .buffer_unordered(parallelism.max(1))
        .collect()
        .await;
    (first, results)
}

/// A customer's share of a plan: what the manifests want there and what they allow.
struct CustomerJob {
    desired: DesiredTenant,
    universe: DesiredTenant,
    exceptions: Vec<ExceptionRule>,
    allow_protected: bool,
}

/// The selected customers, by name.
fn selected_customers<'a>(v: &'a Validated, opts: &PlanOptions) -> Vec<&'a ValidCustomer> {
    let mut customers: Vec<&ValidCustomer> = v
        .customers
        .iter()
        .filter(|c| {
            opts.customers.is_empty() || opts.customers.contains(&c.doc.metadata.name.value)
        })
        .collect();
    customers.sort_by(|a, b| a.doc.metadata.name.value.cmp(&b.doc.metadata.name.value));
    customers
}

fn customer_job(v: &Validated, c: &ValidCustomer, today: jiff::civil::Date) -> CustomerJob {
    CustomerJob {
        desired: expand::expand_customer(&v.provider, &c.doc),
        universe: expand::universe_customer(&v.provider, &c.doc),
        exceptions: exception_rules(c, today),
        allow_protected: c.doc.spec.lifecycle.allow_protected_deletes
            || c.doc.spec.lifecycle.state == LifecycleState::Offboarding,
    }
}

/// The selected customers' jobs, by name.
fn customer_jobs(v: &Validated, opts: &PlanOptions) -> Vec<CustomerJob> {
    selected_customers(v, opts)
        .into_iter()
        .map(|c| customer_job(v, c, opts.today))
        .collect()
}

fn assemble(
    v: &Validated,
    opts: &PlanOptions,
    selected: &[String],
    tenants: Vec<TenantPlan>,
) -> Plan {
    let mut summary = Counts::default();
    for t in &tenants {
        summary.add(&t.counts);
    }
    Plan {
        format_version: FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: jiff::Timestamp::now().to_string(),
        manifests_digest: manifests_digest(v),
        manifest_paths: opts.manifest_paths.clone(),
        prune: opts.prune,
        drift: model::drift(&tenants),
        tenants,
        summary,
        shard: None,
        customers: selected.to_vec(),
    }
}

/// The plan the manifests give for tenant states already read (`apply PLAN` re-reads the
/// tenants, then derives its actions here instead of trusting the file's). Tenants missing
/// from `states` are blocked. No I/O: the same diff as [`plan`], on the given states.
/// `selected` is the saved plan's [`Plan::customers`]: the MSSP tenant's GDAP items are
/// those it was planned with, whichever customer tenants `opts` lists.
pub(crate) fn plan_from_states(
    v: &Validated,
    states: &TenantStates,
    opts: &PlanOptions,
    selected: &[String],
) -> Plan {
    static NOT_READ: read::ReadError = read::ReadError::NotRead;
    let state_of = |name: &str| match states.get(name) {
        Some(Ok(s)) => Ok(s),
        Some(Err(e)) => Err(e),
        None => Err(&NOT_READ),
    };
    let provider = expand::provider_tenant_for(v, selected);
    let window = v.siem_expiry_window();
    let mut tenants = vec![tenant_plan(
        &TenantJob {
            desired: &provider,
            universe: &provider,
            exceptions: vec![],
            allow_protected: false,
            ids: Ids::default(),
            expiry_window: window,
        },
        opts,
        state_of(&provider.name),
        Detail::Full,
    )];
    for job in customer_jobs(v, opts) {
        tenants.push(tenant_plan(
            &TenantJob {
                desired: &job.desired,
                universe: &job.universe,
                exceptions: job.exceptions.clone(),
                allow_protected: job.allow_protected,
                ids: Ids::default(),
                expiry_window: window,
            },
            opts,
            state_of(&job.desired.name),
            Detail::Full,
        ));
    }
    assemble(v, opts, selected, tenants)
}

pub(crate) struct TenantJob<'a> {
    pub desired: &'a DesiredTenant,
    pub universe: &'a DesiredTenant,
    pub exceptions: Vec<ExceptionRule>,
    pub allow_protected: bool,
    pub ids: Ids,
    /// Warn about SIEM credentials (of applications in this tenant) ending within this span.
    pub expiry_window: Option<std::time::Duration>,
}

pub(crate) async fn plan_tenant(
    graph: &Arc<Graph>,
    endpoints: &Endpoints,
    job: TenantJob<'_>,
    opts: &PlanOptions,
    base_dir: &Path,
) -> (TenantPlan, Result<read::TenantState, read::ReadError>) {
    plan_tenant_keeping(graph, endpoints, job, opts, base_dir, Keep::default()).await
}

async fn plan_tenant_keeping(
    graph: &Arc<Graph>,
    endpoints: &Endpoints,
    job: TenantJob<'_>,
    opts: &PlanOptions,
    base_dir: &Path,
    keep: Keep,
) -> (TenantPlan, Result<read::TenantState, read::ReadError>) {
    let t = job.desired;
    let tg = graph.tenant(&t.tenant_id, endpoints.profile(t.cloud));
    let needs_reading = !job.universe.resources.iter().all(|r| r.spec.is_manual());
    let state = if needs_reading {
        read::read_tenant(&tg, job.universe, job.ids.clone(), base_dir).await
    } else {
        Ok(read::TenantState::default())
    };
    let state = match state {
        Ok(s) => await_recent(&tg, &job, opts, base_dir, s).await,
        Err(e) => Err(e),
    };
    if let Err(e) = &state {
        tracing::debug!(tenant = %t.name, error = %e, "tenant blocked");
    }
    let mut plan = tenant_plan(&job, opts, state.as_ref(), keep.detail);
    plan.requests = tg.request_count();
    let tokens = graph.tokens();
    if keep.check_permissions {
        let needs = crate::permissions::TenantNeeds::for_tenant(t, job.universe);
        crate::permissions::note_shortfall(&mut plan, &needs, tokens, &tg.profile).await;
    }
    if keep.release_credentials {
        tokens.release(&tg.profile.login, &t.tenant_id).await;
    }
    (plan, state)
}

/// A tenant's plan from what was read of it (or why it could not be read).
fn tenant_plan(
    job: &TenantJob<'_>,
    opts: &PlanOptions,
    state: Result<&read::TenantState, &read::ReadError>,
    detail: Detail,
) -> TenantPlan {
    let t = job.desired;
    let mut plan = TenantPlan {
        name: t.name.clone(),
        role: t.role,
        tenant_id: t.tenant_id.clone(),
        display_name: t.display_name.clone(),
        cloud: t.cloud,
        portal_link: t.portal_link.clone(),
        labels: t.labels.clone(),
        status: TenantStatus::Complete,
        blocked_reason: None,
        actions: vec![],
        not_pruned: vec![],
        warnings: vec![],
        fingerprints: Default::default(),
        requests: 0,
        counts: Counts::default(),
    };
    let state = match state {
        Ok(s) => s,
        Err(e) => {
            plan.status = TenantStatus::Blocked;
            plan.blocked_reason = Some(e.to_string());
            plan.counts.blocked = 1;
            return plan;
        }
    };
    let out = diff::diff(&DiffInput {
        desired: t,
        universe: job.universe,
        state,
        exceptions: &job.exceptions,
        prune: opts.prune,
        allow_protected_deletes: job.allow_protected,
    });
    match out {
        Ok(out) => {
            plan.actions = out.actions;
            plan.not_pruned = out.not_pruned;
            plan.warnings.extend(out.warnings);
        }
        Err(e) => {
            plan.status = TenantStatus::Blocked;
            plan.blocked_reason = Some(e.to_string());
            plan.counts.blocked = 1;
            return plan;
        }
    }
    if let Some(window) = job.expiry_window {
        plan.warnings.extend(expiring_credentials(t, state, window));
    }
    plan.counts = Counts::of(&plan.actions);
    if detail == Detail::Full {
        plan.fingerprints = diff::fingerprints(state);
    } else {
        plan.actions
            .retain(|a| a.op.is_change() || !a.excepted.is_empty());
        plan.actions.shrink_to_fit();
    }
    plan
}

/// Objects this machine created moments ago that the read did not find: lists lag behind
/// writes, so wait (bounded, with backoff) for them to appear instead of planning twins. If
/// they stay invisible the tenant is blocked with the reason.
async fn await_recent(
    tg: &crate::graph::TenantGraph,
    job: &TenantJob<'_>,
    opts: &PlanOptions,
    base_dir: &Path,
    mut state: read::TenantState,
) -> Result<read::TenantState, read::ReadError> {
    let Some(recent) = &opts.recent else {
        return Ok(state);
    };
    let created = recent.in_tenant(&tg.profile.graph, &job.desired.tenant_id);
    if created.is_empty() {
        return Ok(state);
    }
    // What a read found has replicated: forget it, so that a later absence (someone deleted
    // it) is planned as usual instead of being waited for. An object the lists show by its id
    // has replicated too, even when it no longer counts as present (a GDAP relationship
    // terminated since): waiting would not bring it back.
    let settle = |state: &read::TenantState| {
        for c in &created {
            let found = state
                .observed
                .iter()
                .any(|(a, o)| a.to_string() == c.address && matches!(o, Observed::Present { .. }))
                || c.id
                    .as_deref()
                    .is_some_and(|id| listed(&state.snapshot, id));
            if found {
                recent.settled(&tg.profile.graph, &job.desired.tenant_id, &c.address);
            }
        }
    };
    let unseen = |state: &read::TenantState| -> Vec<recent::Created> {
        created
            .iter()
            .filter(|c| {
                state
                    .observed
                    .iter()
                    .any(|(a, o)| a.to_string() == c.address && *o == Observed::Absent)
                    && !c
                        .id
                        .as_deref()
                        .is_some_and(|id| listed(&state.snapshot, id))
            })
            .cloned()
            .collect()
    };
    settle(&state);
    let mut missing = unseen(&state);
    if missing.is_empty() {
        return Ok(state);
    }
    let policy = crate::graph::RetryPolicy {
        base_delay: std::time::Duration::from_millis(250),
        max_delay: std::time::Duration::from_secs(4),
        ..crate::graph::RetryPolicy::replication(opts.visibility_wait)
    };
    let mut tries = policy.start();
    while !missing.is_empty() && tries.in_time() {
        // Without a Retry-After the pause never exceeds the deadline: no error.
        let _ = tries.pause(crate::graph::RetryAfter::Unusable).await;
        state = read::read_tenant(tg, job.universe, job.ids.clone(), base_dir).await?;
        settle(&state);
        missing = unseen(&state);
    }
    // Still not listed after the wait. Only objects Graph keys by display name can be created
    // twice (the others are upserts or unique on the server, where a second create fails
    // instead of making a twin): for those, a point read tells "lists lag" (it exists) from
    // "gone" (deleted by hand since, or never kept, as by a sandbox killed before it saved).
    let mut lagging = Vec::new();
    for c in missing {
        // A create whose answer was never recorded left no id to read; the wait covered the
        // lag, so what is still unlisted did not happen.
        let Some((version, path)) = c.id.as_deref().and_then(|id| by_id(&c.address, id)) else {
            recent.settled(&tg.profile.graph, &job.desired.tenant_id, &c.address);
            continue;
        };
        match tg
            .get_opt(crate::graph::Service::Graph(version), &path)
            .await?
        {
            Some(_) => lagging.push(c),
            None => recent.settled(&tg.profile.graph, &job.desired.tenant_id, &c.address),
        }
    }
    let missing = lagging;
    let waited = tries.elapsed().as_secs_f64();
    if missing.is_empty() {
        // Not a plan warning: the plan must not depend on how fast lists caught up.
        tracing::info!(tenant = %job.desired.name, waited, "objects created moments ago are visible now");
        recent.note_wait(&job.desired.name, waited);
        return Ok(state);
    }
    let now = jiff::Timestamp::now();
    let list: Vec<String> = missing
        .iter()
        .map(|c| {
            let age = (now.as_millisecond() - c.at.as_millisecond()) / 1000;
            format!(
                "{} (id {}, created {age} s ago)",
                c.address,
                c.id.as_deref().unwrap_or("?")
            )
        })
        .collect();
    let hint = recent.path().map_or_else(String::new, |p| {
        format!(
            " (if one was deleted by hand since, remove its line from {})",
            p.display()
        )
    });
    Err(read::ReadError::NotVisibleYet(format!(
        "objects an apply created moments ago are not in Graph's lists yet after waiting {waited:.1} s: {}; planning now could create twins, so plan again in a minute{hint}",
        list.join(", ")
    )))
}

/// Whether a list the read got holds an object with this id.
fn listed(snap: &crate::model::Snapshot, id: &str) -> bool {
    snap.answers.values().any(|a| match a {
        crate::model::observe::Answer::Items(items) => items
            .iter()
            .any(|v| v.get("id").and_then(serde_json::Value::as_str) == Some(id)),
        _ => false,
    })
}

/// Where a twin-prone object (one Graph finds only by display name) is read by id.
fn by_id(address: &str, id: &str) -> Option<(crate::graph::Version, String)> {
    crate::model::Address::parse(address)?.kind.read_by_id(id)
}

fn expiring_credentials(
    t: &DesiredTenant,
    state: &read::TenantState,
    window: std::time::Duration,
) -> Vec<String> {
    let now = jiff::Timestamp::now();
    t.resources
        .iter()
        .filter_map(|r| match &r.spec {
            crate::kinds::Spec::Application(a) => {
                crate::kinds::application::object(a, &state.snapshot)
            }
            _ => None,
        })
        .flat_map(|app| crate::kinds::application::expiring(app, now, window))
        .map(|(name, end)| format!("SIEM credential \"{name}\" expires {end}; rotate it"))
        .collect()
}

pub(crate) fn exception_rules(c: &ValidCustomer, today: jiff::civil::Date) -> Vec<ExceptionRule> {
    c.exceptions
        .iter()
        // An exception with a `value` is an override the expansion applies (a detection rule
        // disabled in one customer), not drift to leave alone.
        .filter(|e| e.value.is_none())
        .map(|e| ExceptionRule {
            address: e.resource.clone(),
            field: e.field.clone(),
            reason: e.reason.clone(),
            owner: e.owner.clone(),
            expires: e.expires.to_string(),
            active: e.expires >= today,
            ending_soon: today
                .checked_add(jiff::Span::new().days(diff::EXPIRY_NOTICE_DAYS))
                .is_ok_and(|limit| e.expires <= limit),
        })
        .collect()
}

/// SHA-256 over every manifest file (path and contents), in path order.
pub(crate) fn manifests_digest(v: &Validated) -> String {
    let mut files = std::collections::BTreeMap::new();
    files.insert(v.provider.file.path.clone(), Arc::clone(&v.provider.file));
    for c in &v.customers {
        files.insert(c.file.path.clone(), Arc::clone(&c.file));
    }
    let mut h = Sha256::new();
    for (path, f) in files {
        h.update(path.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(f.text.as_bytes());
        h.update([0]);
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}
