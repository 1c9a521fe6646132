//! `mssp plan` / `mssp-plan`: read the tenants, diff, render, optionally save.

use std::io::Write as _;

use super::Error;
use crate::cli::{PlanArgs, PlanFormat};
use crate::engine;
use crate::exit;
use crate::plan::{self, Plan};
use crate::render;
use crate::validate::Validated;

pub fn run(args: &PlanArgs) -> super::Outcome {
    let paths = engine::resolved_paths(&args.manifests.paths);
    let v = engine::load_checked(&paths, Some("planned"))?;
    let selected = engine::select_customers(&v, &args.selection.customers, &args.label)?;
    engine::block_on(run_async(args, &v, selected))
}

async fn run_async(args: &PlanArgs, v: &Validated, selected: Vec<String>) -> super::Outcome {
    let (session, sandbox) = engine::connect(&args.connection, v).await?;
    // The sandbox above was started from every customer; the shard narrows what is read.
    let whole_digest = plan::manifests_digest(v);
    let v = &crate::shard::restrict(v, args.shard.shard);
    let req = engine::PlanRequest {
        paths: args.manifests.paths.clone(),
        customers: selected,
        parallelism: args.parallelism.get(),
        prune: args.prune,
        visibility_wait: plan::VISIBILITY_WAIT,
    };
    // Unchanged resources and fingerprints are in the JSON (saved or printed) only.
    let keep = plan::Keep::for_plan_command(args.out.is_some() || args.format == PlanFormat::Json);
    let mut plan = engine::make_plan_keeping(&req, v, &session, keep).await;
    if let Some(shard) = args.shard.shard {
        crate::shard::finish_plan(&mut plan, shard, &whole_digest);
    }
    engine::disconnect(sandbox).await;
    report(args, &plan)
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

fn report(args: &PlanArgs, plan: &Plan) -> super::Outcome {
    if let Some(path) = &args.out {
        std::fs::File::create(path)
            .and_then(|file| render::write_json(plan, file))
            .map_err(Error::io(format!(
                "cannot save the plan: {}",
                path.display()
            )))?;
    }
    // Write errors on stdout (a closed pipe) are not the plan's: the exit code says what it found.
    let mut out = std::io::stdout().lock();
    match args.format {
        PlanFormat::Human => {
            let text = render::human::render(plan, render::human::Style::detect());
            let _ = out.write_all(text.as_bytes());
        }
        // Streamed like the saved plan.
        PlanFormat::Json => {
            let _ = render::write_json(plan, &mut out);
        }
        PlanFormat::Markdown => {
            let text = render::markdown::render(plan).map_err(Error::render("plan"))?;
            let _ = out.write_all(text.as_bytes());
        }
    }
    let _ = out.flush();
    if let Some(path) = &args.out {
        eprintln!(
            "saved the plan to {}; apply it with `{}`",
            path.display(),
            apply_hint(&args.connection, path)
        );
    }
    let blocked: Vec<&str> = plan.blocked().map(|t| t.name.as_str()).collect();
    if !blocked.is_empty() {
        return Err(Error::Unread {
            what: "tenant",
            how: if blocked.len() == 1 {
                "read and was not planned"
            } else {
                "read and were not planned"
            },
            tenants: blocked.iter().map(ToString::to_string).collect(),
        });
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        exit::CHANGES_PRESENT
    } else {
        exit::SUCCESS
    })
}
