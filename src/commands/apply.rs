//! `mssp apply` / `mssp-apply`: apply a saved plan, or plan and apply after confirmation.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;

use crate::apply::{Outcome as TenantResult, TenantOutcome};
use crate::cli::ApplyArgs;
use crate::engine::{self, ApplyRequest, ApplyUi, EngineError};
use crate::exit;
use crate::plan::Plan;
use crate::render;

pub fn run(args: &ApplyArgs) -> super::Outcome {
    engine::block_on(run_async(args))
}

/// A single `.json` argument is a saved plan; anything else is manifests.
fn saved_plan(args: &ApplyArgs) -> Option<&PathBuf> {
    match args.paths.as_slice() {
        [one] if one.extension().is_some_and(|e| e == "json") && one.is_file() => Some(one),
        _ => None,
    }
}

async fn run_async(args: &ApplyArgs) -> super::Outcome {
    let saved = match saved_plan(args) {
        Some(path) => Some((
            path.clone(),
            engine::load_plan(path).map_err(EngineError::from)?,
        )),
        None => None,
    };
    let manifest_paths: Vec<PathBuf> = match &saved {
        Some((_, p)) => p.manifest_paths.iter().map(PathBuf::from).collect(),
        None => args.paths.clone(),
    };
    let v = engine::load_checked(&manifest_paths, Some("applied"))?;
    if let Some((_, p)) = &saved {
        engine::check_manifests(p, &v)?;
    }
    let shard = match (&saved, args.shard.shard) {
        (Some(_), Some(s)) => return Err(EngineError::ShardWithSavedPlan(s).into()),
        (Some((_, p)), None) => p.shard,
        (None, s) => s,
    };
    let (session, sandbox) = engine::connect(&args.connection, &v).await?;
    // Connected (a sandbox is started from every customer) before narrowing to the shard.
    let v = crate::shard::restrict(&v, shard);
    let req = ApplyRequest {
        paths: args.paths.clone(),
        saved,
        customers: args.selection.customers.clone(),
        shard,
        parallelism: args.parallelism.get(),
        allow_delete: args.allow_delete,
        auto_approve: args.auto_approve,
        journal: args.journal.clone(),
        replication_timeout: std::time::Duration::from_secs(args.replication_timeout),
        lease_wait: args.lease_wait,
        lease_ttl: args.lease_ttl,
        sandbox: args.connection.sandbox,
    };
    let mut done = engine::apply(&req, &v, &session, &Terminal).await;
    if args.verify_siem && done.is_ok() {
        done = crate::alerts::verify::after_apply(
            &v,
            &session,
            args.connection.sandbox,
            &args.selection.customers,
        )
        .await;
    }
    engine::disconnect(sandbox).await;
    done?;
    Ok(exit::SUCCESS)
}

/// An apply shown on stderr, asking on the terminal.
struct Terminal;

impl ApplyUi for Terminal {
    fn planned(&self, plan: &Plan) {
        eprint!(
            "{}",
            render::human::render(plan, render::human::Style { color: false })
        );
    }

    fn confirm(&self) -> Result<bool, EngineError> {
        if !std::io::stdin().is_terminal() {
            return Err(EngineError::NotATerminal);
        }
        eprint!("Apply these changes? Only 'yes' is accepted: ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        Ok(line.trim() == "yes")
    }

    fn note(&self, line: &str) {
        eprintln!("{line}");
    }

    fn outcomes(&self, outcomes: &[TenantOutcome]) {
        eprint!("{}", summary(outcomes));
    }
}

/// Each tenant's waits, failures and skips, then one summary line per tenant.
fn summary(outcomes: &[TenantOutcome]) -> String {
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
    out.push_str("Apply summary:\n");
    for o in outcomes {
        let state = match o.outcome {
            TenantResult::Applied => "applied",
            TenantResult::Unchanged => "unchanged",
            TenantResult::Failed => "FAILED",
            TenantResult::Blocked => "BLOCKED",
        };
        out.push_str(&format!(
            "  {}: {state} ({} done, {} failed, {} skipped, {} manual left)\n",
            o.name,
            o.done.len(),
            o.failed.len(),
            o.skipped.len(),
            o.manual
        ));
    }
    out
}
