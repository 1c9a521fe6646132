//! `mssp plan` / `mssp-plan`: read the tenants, diff, render, optionally save.

use std::io::Write as _;
use std::sync::Arc;

use crate::cli::{PlanArgs, PlanFormat};
use crate::exit;
use crate::plan::{self, Plan, PlanOptions};
use crate::render;
use crate::session::Session;
use crate::validate::Validated;

pub fn run(args: &PlanArgs) -> u8 {
    let paths = super::resolved_paths(&args.paths);
    let (validated, diags, _) = super::load_and_validate(&paths);
    eprint!("{}", diags.render_brief());
    let Some(v) = validated else {
        eprintln!("error: the manifests are invalid; nothing was planned");
        return exit::ERROR;
    };
    for name in &args.customer {
        if v.customer(name).is_none() {
            eprintln!("error: no customer named `{name}` in the manifests");
            return exit::ERROR;
        }
    }
    let selected = match selected_customers(args, &v) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    super::block_on(run_async(args, &v, &selected))
}

/// `--customer` names, narrowed by `--label`: an empty list means every customer.
fn selected_customers(args: &PlanArgs, v: &Validated) -> Result<Vec<String>, String> {
    if args.label.is_empty() {
        return Ok(args.customer.clone());
    }
    let matching: Vec<String> = v
        .customers
        .iter()
        .map(|c| &c.doc.metadata)
        .filter(|m| args.customer.is_empty() || args.customer.contains(&m.name.value))
        .filter(|m| {
            args.label
                .iter()
                .all(|(k, val)| m.labels.get(k).is_some_and(|x| x == val))
        })
        .map(|m| m.name.value.clone())
        .collect();
    if matching.is_empty() {
        let wanted: Vec<String> = args.label.iter().map(|(k, v)| format!("{k}={v}")).collect();
        return Err(format!("no customer has the labels {}", wanted.join(", ")));
    }
    Ok(matching)
}

async fn run_async(args: &PlanArgs, v: &Validated, selected: &[String]) -> u8 {
    let connected = super::connect(&args.connection, v).await;
    let (session, sandbox) = match connected {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    // The sandbox above was started from every customer; the shard narrows what is read.
    let whole_digest = plan::manifests_digest(v);
    let v = &crate::shard::restrict(v, args.shard.shard);
    let mut plan = make_plan(args, v, &session, selected, plan::VISIBILITY_WAIT).await;
    crate::permissions::annotate(&mut plan, &session, &crate::permissions::needs(v, &[])).await;
    if let Some(shard) = args.shard.shard {
        crate::shard::finish_plan(&mut plan, shard, &whole_digest);
    }
    if let Some(sb) = sandbox
        && let Err(e) = sb.shutdown().await
    {
        eprintln!("warning: the sandbox did not shut down cleanly: {e}");
    }
    report(args, &plan)
}

pub async fn make_plan(
    args: &PlanArgs,
    v: &Validated,
    session: &Session,
    customers: &[String],
    visibility_wait: std::time::Duration,
) -> Plan {
    make_plan_inner(args, v, session, customers, visibility_wait, false)
        .await
        .0
}

/// The plan and what each tenant was read as (for an apply that follows at once).
pub async fn make_plan_with_states(
    args: &PlanArgs,
    v: &Validated,
    session: &Session,
    customers: &[String],
    visibility_wait: std::time::Duration,
) -> (Plan, plan::TenantStates) {
    make_plan_inner(args, v, session, customers, visibility_wait, true).await
}

async fn make_plan_inner(
    args: &PlanArgs,
    v: &Validated,
    session: &Session,
    customers: &[String],
    visibility_wait: std::time::Duration,
    keep_states: bool,
) -> (Plan, plan::TenantStates) {
    let selected = if customers.is_empty() {
        v.customers.len()
    } else {
        customers.len()
    };
    let progress = indicatif::ProgressBar::new(u64::try_from(selected + 1).unwrap_or(u64::MAX));
    progress.set_style(
        indicatif::ProgressStyle::with_template("{spinner} reading tenants {pos}/{len} {wide_bar}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let opts = PlanOptions {
        prune: args.prune,
        parallelism: usize::from(args.parallelism),
        customers: customers.to_vec(),
        today: jiff::ZonedDateTime::now().date(),
        manifest_paths: crate::manifest::resolve_paths(&args.paths)
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        recent: Some(Arc::clone(&session.recent)),
        visibility_wait,
    };
    let planned = if keep_states {
        plan::plan_with_states(
            v,
            Arc::clone(&session.graph),
            &session.endpoints,
            &opts,
            &progress,
        )
        .await
    } else {
        let p = plan::plan(
            v,
            Arc::clone(&session.graph),
            &session.endpoints,
            &opts,
            &progress,
        )
        .await;
        (p, plan::TenantStates::new())
    };
    progress.finish_and_clear();
    planned
}

/// The command that applies a saved plan against what it was planned against: a plan made
/// with `--sandbox` applied without it would go looking for real credentials.
pub fn apply_hint(connection: &super::ConnectionArgs, path: &std::path::Path) -> String {
    let mut cmd = String::from("mssp apply");
    if connection.sandbox {
        cmd.push_str(" --sandbox");
        if connection.sandbox_dir != std::path::Path::new(super::DEFAULT_SANDBOX_DIR) {
            cmd.push_str(&format!(
                " --sandbox-dir {}",
                connection.sandbox_dir.display()
            ));
        }
    } else if connection.auth != crate::auth::AuthMethod::Auto
        && let Some(v) = clap::ValueEnum::to_possible_value(&connection.auth)
    {
        cmd.push_str(&format!(" --auth {}", v.get_name()));
    }
    cmd.push(' ');
    cmd.push_str(&path.display().to_string());
    cmd
}

fn report(args: &PlanArgs, plan: &Plan) -> u8 {
    if let Some(path) = &args.out {
        let saved = render::json(plan).and_then(|json| {
            std::fs::write(path, json).map_err(|e| format!("{}: {e}", path.display()))
        });
        if let Err(e) = saved {
            eprintln!("error: cannot save the plan: {e}");
            return exit::ERROR;
        }
    }
    let text = match args.format {
        PlanFormat::Human => Ok(render::human::render(plan, render::human::Style::detect())),
        PlanFormat::Json => render::json(plan),
        PlanFormat::Markdown => render::markdown::render(plan),
    };
    match text {
        Ok(t) => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(t.as_bytes());
            let _ = out.flush();
        }
        Err(e) => {
            eprintln!("error: cannot render the plan: {e}");
            return exit::ERROR;
        }
    }
    if let Some(path) = &args.out {
        eprintln!(
            "saved the plan to {}; apply it with `{}`",
            path.display(),
            apply_hint(&args.connection, path)
        );
    }
    let blocked: Vec<&str> = plan.blocked().map(|t| t.name.as_str()).collect();
    if !blocked.is_empty() {
        eprintln!(
            "error: {} tenant{} could not be read and {} not planned: {}",
            blocked.len(),
            if blocked.len() == 1 { "" } else { "s" },
            if blocked.len() == 1 { "was" } else { "were" },
            blocked.join(", ")
        );
        return exit::ERROR;
    }
    if args.detailed_exitcode && plan.has_changes() {
        exit::CHANGES_PRESENT
    } else {
        exit::SUCCESS
    }
}
