//! Applying: permission preflight, the apply lease, a plan (made now, or saved and checked for
//! freshness and bound to the manifests), the writes, and verification by planning again.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::apply::journal::Journal;
use crate::apply::lease::Lease;
use crate::apply::{self, ApplyOptions, Outcome, TenantOutcome};
use crate::exit;
use crate::plan::{Op, Plan, TenantStates};
use crate::session::Session;
use crate::validate::Validated;

use super::{EngineError, PlanRequest};

/// What to apply and how.
#[derive(Debug, Clone)]
pub struct ApplyRequest {
    /// The manifests (a plan is made from them when there is no saved one).
    pub paths: Vec<PathBuf>,
    /// A saved plan and its file: checked for freshness and bound to the manifests.
    pub saved: Option<(PathBuf, Plan)>,
    /// Customers to apply; empty: all.
    pub customers: Vec<String>,
    /// The shard of the customers applied (the manifests are already narrowed to it).
    pub shard: Option<crate::shard::Shard>,
    pub parallelism: usize,
    pub allow_delete: bool,
    /// No confirmation asked (CI). Saved plans never ask.
    pub auto_approve: bool,
    pub journal: Option<PathBuf>,
    /// How long a dependent may wait for a new object to replicate.
    pub replication_timeout: Duration,
    pub lease_wait: Duration,
    pub lease_ttl: Duration,
    /// Running against the in-process sandbox: no other apply can reach it, so no lease.
    pub sandbox: bool,
}

/// What an apply shows its user along the way; the engine decides, the command prints.
pub trait ApplyUi {
    /// A plan was just made (before any confirmation).
    fn planned(&self, plan: &Plan);
    /// May the plan be applied? Asked only for a plan made now without `auto_approve`.
    /// `Err` when nobody can be asked (no terminal).
    fn confirm(&self) -> Result<bool, EngineError>;
    /// A line of progress or a note ("No changes to apply.", waits, verification).
    fn note(&self, line: &str);
    /// What each tenant's writes came to.
    fn outcomes(&self, outcomes: &[TenantOutcome]);
}

/// Runs an apply to its end: `Ok` when every tenant applied and verified.
pub async fn apply(
    req: &ApplyRequest,
    v: &Validated,
    session: &Session,
    ui: &dyn ApplyUi,
) -> Result<(), EngineError> {
    // Before anything is read or written: does the tool hold the permissions it needs? A
    // saved plan needs what it was planned for (its customers' GDAP items in the MSSP tenant).
    let customers = req
        .saved
        .as_ref()
        .map_or(&req.customers, |(_, p)| &p.customers);
    let tenants = crate::permissions::needs(v, customers);
    let short = crate::permissions::preflight_with(session, &tenants, req.parallelism)
        .await
        .map_err(EngineError::Preflight)?;
    if !short.is_empty() {
        return Err(EngineError::PermissionsMissing(short));
    }
    // The apply lease is taken before reading what the writes rely on: an unattended apply
    // takes it before planning (its reads then need no second pass); one that waits for a
    // person or applies a saved plan takes it before its re-read. Plans never take it.
    let mut lease = None;
    if req.auto_approve && req.saved.is_none() {
        lease = take_lease(req, v, session).await?;
    }
    let done = apply_leased(req, v, session, ui, &mut lease).await;
    if let Some(l) = lease
        && let Err(e) = l.release().await
    {
        ui.note(&format!(
            "warning: the apply lease could not be released (it expires on its own): {e}"
        ));
    }
    done
}

/// Takes the apply lease in the MSSP tenant (none in the sandbox).
async fn take_lease(
    req: &ApplyRequest,
    v: &Validated,
    session: &Session,
) -> Result<Option<Lease>, EngineError> {
    // The in-process sandbox is a world of its own per process: no other apply can reach it,
    // and a lease left in its state file by a killed run would only block the next try.
    if req.sandbox {
        return Ok(None);
    }
    let p = &v.provider.doc.spec;
    let tg = session
        .graph
        .tenant(&p.tenant_id.value, session.endpoints.profile(p.cloud));
    apply::lease::acquire(&tg, &p.naming.prefix.value, req.lease_ttl, req.lease_wait)
        .await
        .map(Some)
        .map_err(|source| EngineError::Lease {
            source,
            tenant: p.tenant_id.value.clone(),
        })
}

fn has_writes(plan: &Plan) -> bool {
    plan.tenants.iter().any(|t| {
        t.actions
            .iter()
            .any(|a| a.op.is_change() && a.op != Op::Manual)
    })
}

async fn apply_leased(
    req: &ApplyRequest,
    v: &Validated,
    session: &Session,
    ui: &dyn ApplyUi,
    lease: &mut Option<Lease>,
) -> Result<(), EngineError> {
    // A plan made here and applied without a pause needs no second read; one that waited for
    // a person's confirmation (or was saved) is re-read and compared first.
    let mut just_read: Option<TenantStates> = None;
    let plan = match &req.saved {
        Some((_, p)) => p.clone(),
        None => {
            let (mut p, states) = super::make_plan_with_states(
                &PlanRequest {
                    paths: req.paths.clone(),
                    customers: req.customers.clone(),
                    parallelism: req.parallelism,
                    prune: req.allow_delete,
                    visibility_wait: crate::plan::VISIBILITY_WAIT,
                },
                v,
                session,
            )
            .await;
            if let Some(shard) = req.shard {
                // Shards run at once: only shard 1 may write the MSSP tenant, and the others'
                // customers may need what it creates there (the SIEM app), so they wait for it.
                if !shard.owns_provider()
                    && let Some(t) = crate::shard::provider_writes(&p)
                {
                    return Err(EngineError::ShardProviderChanges {
                        tenant: t.name.clone(),
                        shard,
                    });
                }
                let digest = p.manifests_digest.clone();
                crate::shard::finish_plan(&mut p, shard, &digest);
            }
            ui.planned(&p);
            if req.auto_approve {
                just_read = Some(states);
            }
            p
        }
    };
    if plan.blocked().next().is_some() {
        let names: Vec<&str> = plan.blocked().map(|t| t.name.as_str()).collect();
        ui.note(&format!(
            "note: blocked tenants are skipped: {}",
            names.join(", ")
        ));
    }
    if !has_writes(&plan) {
        ui.note("No changes to apply.");
        return if plan.blocked().next().is_some() {
            Err(EngineError::ApplyFailed)
        } else {
            Ok(())
        };
    }
    if req.saved.is_none() && !req.auto_approve && !ui.confirm()? {
        return Err(EngineError::Cancelled);
    }
    if lease.is_none() {
        *lease = take_lease(req, v, session).await?;
    }
    let states = match just_read {
        Some(states) => states,
        None => super::check_fresh(v, session, &plan, req.parallelism).await?,
    };
    // What runs is derived again from the manifests and what was just read, never the file's.
    let plan = match &req.saved {
        Some((file, _)) => apply::binding::bind(v, &plan, &states, req.parallelism, file)
            .map_err(EngineError::Unbound)?,
        None => plan,
    };
    let journal = match &req.journal {
        Some(path) => Some(
            Journal::open(path, session.tokens.client_id().unwrap_or("(unknown)")).map_err(
                |source| EngineError::Journal {
                    path: path.clone(),
                    source,
                },
            )?,
        ),
        None => None,
    };
    let interrupts = Interrupts::watch();
    let opts = ApplyOptions {
        allow_delete: req.allow_delete,
        parallelism: req.parallelism,
        replication_deadline: req.replication_timeout,
        recent: Some(Arc::clone(&session.recent)),
        lease: lease.as_ref().map(Lease::check),
        interrupted: Some(Arc::clone(&interrupts.interrupted)),
        ..ApplyOptions::default()
    };
    let progress = indicatif::ProgressBar::new(u64::try_from(plan.tenants.len()).unwrap_or(0));
    let outcomes = apply::apply(
        v,
        session,
        &plan,
        states,
        &opts,
        journal.as_ref(),
        &progress,
    )
    .await;
    progress.finish_and_clear();
    interrupts.writes_done();
    ui.outcomes(&outcomes);
    if interrupts.interrupted() {
        return Err(EngineError::Interrupted {
            journal: req.journal.clone(),
        });
    }
    let failed = outcomes
        .iter()
        .any(|o| matches!(o.outcome, Outcome::Failed | Outcome::Blocked));
    let touched: Vec<String> = outcomes
        .iter()
        .filter(|o| o.outcome == Outcome::Applied)
        .map(|o| o.name.clone())
        .collect();
    verify(v, session, ui, &plan, &touched, req, &opts).await?;
    if failed {
        Err(EngineError::ApplyFailed)
    } else {
        Ok(())
    }
}

/// The customers the verifying plan reads: those of a plan limited to some customers (so the
/// MSSP tenant's GDAP items are theirs, as planned: an empty list would bring in every other
/// customer's, which this apply was told to leave alone), otherwise the touched ones.
fn verified_customers(v: &Validated, plan: &Plan, touched: &[String]) -> Vec<String> {
    if !plan.customers.is_empty() {
        return plan.customers.clone();
    }
    touched
        .iter()
        .filter(|n| v.customer(n).is_some())
        .cloned()
        .collect()
}

/// A second plan of the touched tenants must show nothing left to do.
async fn verify(
    v: &Validated,
    session: &Session,
    ui: &dyn ApplyUi,
    plan: &Plan,
    touched: &[String],
    req: &ApplyRequest,
    opts: &ApplyOptions,
) -> Result<(), EngineError> {
    if touched.is_empty() {
        return Ok(());
    }
    // Objects just created may take a while to show up in lists: the plan waits for the
    // ones this apply created (it knows their ids), up to the replication deadline.
    // Only changes are looked at: unchanged resources and fingerprints need not be kept.
    let keep = crate::plan::Keep {
        detail: crate::plan::Detail::Changes,
        ..crate::plan::Keep::default()
    };
    let again = super::make_plan_keeping(
        &PlanRequest {
            paths: plan.manifest_paths.iter().map(PathBuf::from).collect(),
            customers: verified_customers(v, plan, touched),
            parallelism: req.parallelism,
            prune: false,
            visibility_wait: opts.replication_deadline,
        },
        v,
        session,
        keep,
    )
    .await;
    for (tenant, secs) in session.recent.take_waits() {
        ui.note(&format!(
            "  {tenant}: waited {secs:.1} s for the objects this apply created to show up in Graph's lists"
        ));
    }
    let mut left = Vec::new();
    for t in again.blocked().filter(|t| touched.contains(&t.name)) {
        left.push(format!(
            "{}: could not be read back: {}",
            t.name,
            t.blocked_reason.as_deref().unwrap_or("read failed")
        ));
    }
    for t in again.tenants.iter().filter(|t| touched.contains(&t.name)) {
        for a in t
            .actions
            .iter()
            .filter(|a| a.op.is_change() && a.op != Op::Manual && a.op != Op::Delete)
        {
            left.push(format!(
                "{}: {} still needs {}",
                t.name,
                a.address,
                a.op.verb()
            ));
        }
    }
    if left.is_empty() {
        ui.note("verified: a new plan of the applied tenants has nothing left to apply");
        Ok(())
    } else {
        Err(EngineError::VerifyFailed(left))
    }
}

/// Ctrl-C during an apply. The first one lets the writes in flight finish (each is journaled)
/// and starts no new one: killing a write half way leaves a tenant with an object nobody
/// recorded. A second one, or any once the writes are over, stops the process at once.
struct Interrupts {
    interrupted: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Interrupts {
    fn watch() -> Self {
        let interrupted = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicBool::new(false));
        let (flag, over) = (Arc::clone(&interrupted), Arc::clone(&done));
        let task = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            if over.load(Ordering::SeqCst) {
                std::process::exit(i32::from(exit::INTERRUPTED));
            }
            flag.store(true, Ordering::SeqCst);
            eprintln!(
                "\ninterrupted: finishing the writes in flight; no new write starts (Ctrl-C again to stop at once)"
            );
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "aborted: writes in flight may or may not have happened; run `mssp plan` to see"
                );
                std::process::exit(i32::from(exit::INTERRUPTED));
            }
        });
        Self {
            interrupted,
            done,
            task,
        }
    }

    fn interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }

    /// From now on nothing is in flight that a Ctrl-C could cut in half.
    fn writes_done(&self) {
        self.done.store(true, Ordering::SeqCst);
    }
}

impl Drop for Interrupts {
    fn drop(&mut self) {
        self.task.abort();
    }
}
