//! `mssp report`: what access the MSSP holds in each customer tenant, read live.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use super::Error;
use crate::engine;
use crate::exit;
use crate::report::{self, Report, ReportOptions};
use crate::validate::Validated;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Markdown,
    Html,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub manifests: super::ManifestArgs,
    #[command(flatten)]
    pub connection: super::ConnectionArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Markdown)]
    pub format: ReportFormat,
    #[command(flatten)]
    pub selection: super::TenantSelection,
    /// Write the report here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub parallelism: super::ParallelismArgs,
    #[command(flatten)]
    pub shard: crate::shard::ShardArgs,
}

pub fn run(args: &ReportArgs) -> super::Outcome {
    let v = engine::load_checked(&args.manifests.paths, Some("reported"))?;
    engine::check_customers(&v, &args.selection.customers)?;
    engine::block_on(run_async(args, &v))
}

async fn run_async(args: &ReportArgs, v: &Validated) -> super::Outcome {
    let (session, sandbox) = engine::connect(&args.connection, v).await?;
    let whole_digest = crate::plan::manifests_digest(v);
    let v = &crate::shard::restrict(v, args.shard.shard);
    let opts = ReportOptions {
        customers: args.selection.customers.clone(),
        parallelism: args.parallelism.get(),
        now: jiff::Timestamp::now(),
    };
    let mut r = report::report(v, Arc::clone(&session.graph), &session.endpoints, &opts).await;
    if let Some(shard) = args.shard.shard {
        r.shard = Some(shard);
        r.manifests_digest = Some(whole_digest);
    }
    engine::disconnect(sandbox).await;
    write(args, &r)
}

fn write(args: &ReportArgs, r: &Report) -> super::Outcome {
    let text = match args.format {
        ReportFormat::Markdown => report::markdown(r),
        ReportFormat::Html => report::html(r),
        ReportFormat::Json => serde_json::to_string_pretty(r)
            .map(|s| s + "\n")
            .map_err(crate::render::RenderError::from),
    };
    let text = text.map_err(Error::render("report"))?;
    match &args.out {
        Some(path) => std::fs::write(path, &text).map_err(Error::io(format!(
            "cannot write the report: {}",
            path.display()
        )))?,
        None => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(Error::io("cannot write the report: stdout"))?,
    }
    let failed: Vec<&str> = r.failed().map(|c| c.name.as_str()).collect();
    if failed.is_empty() {
        Ok(exit::SUCCESS)
    } else {
        Err(Error::Unread {
            what: "customer",
            how: "read completely",
            tenants: failed.iter().map(ToString::to_string).collect(),
        })
    }
}
