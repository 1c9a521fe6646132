//! `mssp apply` / `mssp-apply`: apply a saved plan, or plan and apply after confirmation.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;

use crate::apply::journal::Journal;
use crate::apply::{self, ApplyOptions, Outcome, TenantOutcome};
use crate::cli::{ApplyArgs, PlanArgs, PlanFormat};
use crate::exit;
use crate::plan::{FORMAT_VERSION, Plan};
use crate::render;
use crate::validate::Validated;

pub fn run(args: &ApplyArgs) -> u8 {
    super::block_on(run_async(args))
}

/// A single `.json` argument is a saved plan; anything else is manifests.
fn saved_plan(args: &ApplyArgs) -> Option<&PathBuf> {
    match args.paths.as_slice() {
        [one] if one.extension().is_some_and(|e| e == "json") && one.is_file() => Some(one),
        _ => None,
    }
}

async fn run_async(args: &ApplyArgs) -> u8 {
    let (plan, from_file) = match saved_plan(args) {
        Some(path) => match load_plan(path) {
            Ok(p) => (Some(p), true),
            Err(e) => {
                eprintln!("error: {e}");
                return exit::ERROR;
            }
        },
        None => (None, false),
    };
    let manifest_paths: Vec<PathBuf> = match &plan {
        Some(p) => p.manifest_paths.iter().map(PathBuf::from).collect(),
        None => args.paths.clone(),
    };
    let (validated, diags, _) = super::load_and_validate(&manifest_paths);
    eprint!("{}", diags.render_brief());
    let Some(v) = validated else {
        eprintln!("error: the manifests are invalid; nothing was applied");
        return exit::ERROR;
    };
    if let Some(p) = &plan
        && p.manifests_digest != crate::plan::manifests_digest(&v)
    {
        eprintln!(
            "error: the manifests changed since the plan was made ({}); make a new plan",
            p.manifest_paths.join(", ")
        );
        return exit::STALE_PLAN;
    }
    // A saved plan carries its shard; a second one on the command line could only disagree.
    let shard = match (&plan, args.shard.shard) {
        (Some(_), Some(s)) => {
            eprintln!(
                "error: --shard {s} is for applying manifests; a saved plan applies the shard it was made for"
            );
            return exit::USAGE;
        }
        (Some(p), None) => p.shard,
        (None, s) => s,
    };
    let (session, sandbox) = match super::connect(&args.connection, &v).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    // Connected (a sandbox is started from every customer) before narrowing to the shard.
    let v = crate::shard::restrict(&v, shard);
    let mut code = apply_with(args, &v, &session, plan, from_file).await;
    if args.verify_siem && code == exit::SUCCESS {
        code = crate::alerts::verify::after_apply(
            &v,
            &session,
            args.connection.sandbox,
            &args.customer,
        )
        .await;
    }
    if let Some(sb) = sandbox
        && let Err(e) = sb.shutdown().await
    {
        eprintln!("warning: the sandbox did not shut down cleanly: {e}");
    }
    code
}

pub(crate) fn load_plan(path: &std::path::Path) -> Result<Plan, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let plan: Plan = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a saved plan: {e}", path.display()))?;
    if plan.format_version != FORMAT_VERSION {
        return Err(format!(
            "{} has plan format {}; this mssp reads format {FORMAT_VERSION}",
            path.display(),
            plan.format_version
        ));
    }
    Ok(plan)
}

async fn apply_with(
    args: &ApplyArgs,
    v: &Validated,
    session: &crate::session::Session,
    plan: Option<Plan>,
    from_file: bool,
) -> u8 {
    // Before anything is read or written: does the tool hold the permissions it needs?
    let tenants = crate::permissions::needs(v, &args.customer);
    match crate::permissions::preflight(session, &tenants).await {
        Ok(short) if short.is_empty() => {}
        Ok(short) => {
            eprintln!("error: the tool's application lacks permissions; nothing was applied:");
            for s in &short {
                eprintln!(
                    "  {} ({}): missing {}\n    grant admin consent: {}",
                    s.tenant,
                    s.tenant_id,
                    s.missing.join(", "),
                    s.consent_url
                );
            }
            return exit::ERROR;
        }
        Err(e) => {
            eprintln!("error: permission preflight failed: {e}");
            return exit::ERROR;
        }
    }
    // The apply lease is taken before reading what the writes rely on: an unattended apply
    // takes it before planning (its reads then need no second pass); one that waits for a
    // person or applies a saved plan takes it before its re-read. Plans never take it.
    let mut lease = None;
    if args.auto_approve
        && plan.is_none()
        && let Err(code) = take_lease(args, v, session, &mut lease).await
    {
        return code;
    }
    let code = apply_leased(args, v, session, plan, from_file, &mut lease).await;
    if let Some(l) = lease
        && let Err(e) = l.release().await
    {
        eprintln!("warning: the apply lease could not be released (it expires on its own): {e}");
    }
    code
}

/// Takes the apply lease in the MSSP tenant, or says who holds it.
async fn take_lease(
    args: &ApplyArgs,
    v: &Validated,
    session: &crate::session::Session,
    lease: &mut Option<apply::lease::Lease>,
) -> Result<(), u8> {
    // The in-process sandbox is a world of its own per process: no other apply can reach it,
    // and a lease left in its state file by a killed run would only block the next try.
    if args.connection.sandbox {
        return Ok(());
    }
    let p = &v.provider.doc.spec;
    let tg = session
        .graph
        .tenant(&p.tenant_id.value, session.endpoints.profile(p.cloud));
    match apply::lease::acquire(&tg, &p.naming.prefix.value, args.lease_ttl, args.lease_wait).await
    {
        Ok(l) => {
            *lease = Some(l);
            Ok(())
        }
        Err(e @ apply::lease::LeaseError::Held { .. }) => {
            eprintln!("error: {e}; nothing was applied");
            eprintln!(
                "  = help: wait for it (--lease-wait 10m), or if that run was killed: mssp lease show / mssp lease break --yes"
            );
            Err(exit::LEASE_HELD)
        }
        Err(e) => {
            eprintln!("error: {e}; nothing was applied");
            if let apply::lease::LeaseError::Graph { source, .. } = &e
                && source.status() == Some(403)
            {
                eprintln!(
                    "  = help: the lease needs Group.ReadWrite.All in the MSSP tenant {}",
                    p.tenant_id.value
                );
            }
            Err(exit::ERROR)
        }
    }
}

async fn apply_leased(
    args: &ApplyArgs,
    v: &Validated,
    session: &crate::session::Session,
    plan: Option<Plan>,
    from_file: bool,
    lease: &mut Option<apply::lease::Lease>,
) -> u8 {
    // A plan made here and applied without a pause needs no second read; one that waited for
    // a person's confirmation (or was saved) is re-read and compared first.
    let mut just_read = None;
    let plan = match plan {
        Some(p) => p,
        None => {
            let pa = PlanArgs {
                paths: args.paths.clone(),
                connection: args.connection.clone(),
                format: PlanFormat::Human,
                out: None,
                detailed_exitcode: false,
                customer: args.customer.clone(),
                label: vec![],
                parallelism: args.parallelism,
                prune: args.allow_delete,
                shard: crate::shard::ShardArgs::default(),
            };
            let (mut p, states) = super::plan::make_plan_with_states(
                &pa,
                v,
                session,
                &args.customer,
                crate::plan::VISIBILITY_WAIT,
            )
            .await;
            if let Some(shard) = args.shard.shard {
                // Shards run at once: only shard 1 may write the MSSP tenant, and the others'
                // customers may need what it creates there (the SIEM app), so they wait for it.
                if !shard.owns_provider()
                    && let Some(t) = crate::shard::provider_writes(&p)
                {
                    eprintln!(
                        "error: the MSSP tenant {} has changes, which only shard 1 applies; shard {shard} applied nothing",
                        t.name
                    );
                    eprintln!(
                        "  = help: apply shard 1 first (or without --shard), then this shard"
                    );
                    return exit::ERROR;
                }
                let digest = p.manifests_digest.clone();
                crate::shard::finish_plan(&mut p, shard, &digest);
            }
            eprint!(
                "{}",
                render::human::render(&p, render::human::Style { color: false })
            );
            if args.auto_approve {
                just_read = Some(states);
            }
            p
        }
    };
    if plan.blocked().next().is_some() {
        let names: Vec<&str> = plan.blocked().map(|t| t.name.as_str()).collect();
        eprintln!("note: blocked tenants are skipped: {}", names.join(", "));
    }
    if !plan.tenants.iter().any(|t| {
        t.actions
            .iter()
            .any(|a| a.op.is_change() && a.op != crate::plan::Op::Manual)
    }) {
        eprintln!("No changes to apply.");
        return if plan.blocked().next().is_some() {
            exit::ERROR
        } else {
            exit::SUCCESS
        };
    }
    if !from_file && !args.auto_approve && !confirm() {
        eprintln!("Apply cancelled.");
        return exit::ERROR;
    }
    if lease.is_none()
        && let Err(code) = take_lease(args, v, session, lease).await
    {
        return code;
    }
    let parallelism = usize::from(args.parallelism);
    let (states, stale) = match just_read {
        Some(states) => (states, vec![]),
        None => apply::check_fresh(v, session, &plan, parallelism).await,
    };
    if !stale.is_empty() {
        eprintln!("error: the plan is stale; nothing was applied:");
        for s in &stale {
            eprintln!("  {s}");
        }
        eprintln!("  = help: make a new plan and review it");
        return exit::STALE_PLAN;
    }
    // What runs is derived again from the manifests and what was just read, never the file's.
    let plan = match saved_plan(args).filter(|_| from_file) {
        Some(f) => match apply::binding::bind(v, &plan, &states, parallelism, f) {
            Ok(p) => p,
            Err(e) => {
                eprint!("{}", e.report());
                return exit::STALE_PLAN;
            }
        },
        None => plan,
    };
    let journal = match &args.journal {
        Some(path) => {
            match Journal::open(path, session.tokens.client_id().unwrap_or("(unknown)")) {
                Ok(j) => Some(j),
                Err(e) => {
                    eprintln!("error: cannot open the journal {}: {e}", path.display());
                    return exit::ERROR;
                }
            }
        }
        None => None,
    };
    let interrupts = Interrupts::watch();
    let opts = ApplyOptions {
        allow_delete: args.allow_delete,
        parallelism,
        replication_deadline: std::time::Duration::from_secs(args.replication_timeout),
        recent: Some(std::sync::Arc::clone(&session.recent)),
        lease: lease.as_ref().map(apply::lease::Lease::check),
        interrupted: Some(std::sync::Arc::clone(&interrupts.interrupted)),
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
    if interrupts.interrupted() {
        report(&outcomes);
        let journal = match &args.journal {
            Some(p) => format!(" and are in the journal {}", p.display()),
            None => String::new(),
        };
        eprintln!(
            "interrupted: the writes in flight finished{journal}; no write started after Ctrl-C. \
             Run `mssp plan` to see what is left."
        );
        return exit::INTERRUPTED;
    }
    let mut code = report(&outcomes);
    // Verify: a second plan of the touched tenants must show nothing left to do.
    let touched: Vec<String> = outcomes
        .iter()
        .filter(|o| o.outcome == Outcome::Applied)
        .map(|o| o.name.clone())
        .collect();
    if !touched.is_empty() {
        let pa = PlanArgs {
            paths: plan.manifest_paths.iter().map(PathBuf::from).collect(),
            connection: args.connection.clone(),
            format: PlanFormat::Human,
            out: None,
            detailed_exitcode: false,
            customer: touched
                .iter()
                .filter(|n| v.customer(n).is_some())
                .cloned()
                .collect(),
            label: vec![],
            parallelism: args.parallelism,
            prune: false,
            shard: crate::shard::ShardArgs::default(),
        };
        // Objects just created may take a while to show up in lists: the plan waits for the
        // ones this apply created (it knows their ids), up to the replication deadline.
        let verify =
            super::plan::make_plan(&pa, v, session, &pa.customer, opts.replication_deadline).await;
        for (tenant, secs) in session.recent.take_waits() {
            eprintln!(
                "  {tenant}: waited {secs:.1} s for the objects this apply created to show up in Graph's lists"
            );
        }
        let mut left = Vec::new();
        for t in verify.blocked().filter(|t| touched.contains(&t.name)) {
            left.push(format!(
                "{}: could not be read back: {}",
                t.name,
                t.blocked_reason.as_deref().unwrap_or("read failed")
            ));
        }
        for t in verify.tenants.iter().filter(|t| touched.contains(&t.name)) {
            for a in t.actions.iter().filter(|a| {
                a.op.is_change()
                    && a.op != crate::plan::Op::Manual
                    && a.op != crate::plan::Op::Delete
            }) {
                left.push(format!(
                    "{}: {} still needs {}",
                    t.name,
                    a.address,
                    a.op.verb()
                ));
            }
        }
        if left.is_empty() {
            eprintln!("verified: a new plan of the applied tenants has nothing left to apply");
        } else {
            eprintln!("error: verification failed, the tenants still differ:");
            for l in &left {
                eprintln!("  {l}");
            }
            code = exit::ERROR;
        }
    }
    code
}

/// Ctrl-C during an apply. The first one lets the writes in flight finish (each is journaled)
/// and starts no new one: killing a write half way leaves a tenant with an object nobody
/// recorded. A second one, or any once the writes are over, stops the process at once.
struct Interrupts {
    interrupted: std::sync::Arc<std::sync::atomic::AtomicBool>,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Interrupts {
    fn watch() -> Self {
        use std::sync::atomic::Ordering;
        let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (flag, over) = (
            std::sync::Arc::clone(&interrupted),
            std::sync::Arc::clone(&done),
        );
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
        self.interrupted.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// From now on nothing is in flight that a Ctrl-C could cut in half.
    fn writes_done(&self) {
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Interrupts {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn confirm() -> bool {
    if !std::io::stdin().is_terminal() {
        eprintln!(
            "error: not a terminal: pass --auto-approve to apply without confirmation (CI), or apply a reviewed saved plan"
        );
        return false;
    }
    eprint!("Apply these changes? Only 'yes' is accepted: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    line.trim() == "yes"
}

fn report(outcomes: &[TenantOutcome]) -> u8 {
    let mut code = exit::SUCCESS;
    let mut out = String::new();
    for o in outcomes {
        for wt in &o.waits {
            out.push_str(&format!(
                "  {}: {} — {} ({:.1} s)\n",
                o.name,
                wt.address,
                wt.reason,
                wt.waited.as_secs_f64()
            ));
        }
        let mut not_started = 0;
        for f in &o.failed {
            // After Ctrl-C every remaining write says so: one line per tenant, not per write.
            if f.to_string().contains("not started: interrupted") {
                not_started += 1;
                continue;
            }
            out.push_str(&format!("  {}: FAILED {f}\n", o.name));
        }
        if not_started > 0 {
            out.push_str(&format!(
                "  {}: {not_started} write(s) not started (interrupted)\n",
                o.name
            ));
        }
        for s in &o.skipped {
            out.push_str(&format!("  {}: {s}\n", o.name));
        }
    }
    eprint!("{out}");
    eprintln!("Apply summary:");
    for o in outcomes {
        let state = match o.outcome {
            Outcome::Applied => "applied",
            Outcome::Unchanged => "unchanged",
            Outcome::Failed => "FAILED",
            Outcome::Blocked => "BLOCKED",
        };
        if matches!(o.outcome, Outcome::Failed | Outcome::Blocked) {
            code = exit::ERROR;
        }
        eprintln!(
            "  {}: {state} ({} done, {} failed, {} skipped, {} manual left)",
            o.name,
            o.done.len(),
            o.failed.len(),
            o.skipped.len(),
            o.manual
        );
    }
    code
}
