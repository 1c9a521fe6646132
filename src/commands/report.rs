//! `mssp report`: what access the MSSP holds in each customer tenant, read live.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

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
    /// Manifest files or directories. Default: the first of ./, manifests/, examples/ with the Provider manifest at its top.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub connection: super::ConnectionArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Markdown)]
    pub format: ReportFormat,
    /// Report only this customer (repeatable).
    #[arg(long, value_name = "NAME")]
    pub customer: Vec<String>,
    /// Write the report here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Tenants read at the same time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,
    #[command(flatten)]
    pub shard: crate::shard::ShardArgs,
}

pub fn run(args: &ReportArgs) -> u8 {
    let (validated, diags, _) = super::load_and_validate(&args.paths);
    eprint!("{}", diags.render_brief());
    let Some(v) = validated else {
        eprintln!("error: the manifests are invalid; nothing was reported");
        return exit::ERROR;
    };
    for name in &args.customer {
        if v.customer(name).is_none() {
            eprintln!("error: no customer named `{name}` in the manifests");
            return exit::ERROR;
        }
    }
    super::block_on(run_async(args, &v))
}

async fn run_async(args: &ReportArgs, v: &Validated) -> u8 {
    let (session, sandbox) = match super::connect(&args.connection, v).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    let whole_digest = crate::plan::manifests_digest(v);
    let v = &crate::shard::restrict(v, args.shard.shard);
    let opts = ReportOptions {
        customers: args.customer.clone(),
        parallelism: usize::from(args.parallelism),
        now: jiff::Timestamp::now(),
    };
    let mut r = report::report(v, Arc::clone(&session.graph), &session.endpoints, &opts).await;
    if let Some(shard) = args.shard.shard {
        r.shard = Some(shard);
        r.manifests_digest = Some(whole_digest);
    }
    if let Some(sb) = sandbox
        && let Err(e) = sb.shutdown().await
    {
        eprintln!("warning: the sandbox did not shut down cleanly: {e}");
    }
    write(args, &r)
}

fn write(args: &ReportArgs, r: &Report) -> u8 {
    let text = match args.format {
        ReportFormat::Markdown => report::markdown(r),
        ReportFormat::Html => report::html(r),
        ReportFormat::Json => serde_json::to_string_pretty(r)
            .map(|s| s + "\n")
            .map_err(|e| e.to_string()),
    };
    let text = match text {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot render the report: {e}");
            return exit::ERROR;
        }
    };
    let written = match &args.out {
        Some(path) => std::fs::write(path, &text).map_err(|e| format!("{}: {e}", path.display())),
        None => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(|e| format!("stdout: {e}")),
    };
    if let Err(e) = written {
        eprintln!("error: cannot write the report: {e}");
        return exit::ERROR;
    }
    let failed: Vec<&str> = r.failed().map(|c| c.name.as_str()).collect();
    if failed.is_empty() {
        exit::SUCCESS
    } else {
        eprintln!(
            "error: {} customer{} could not be read completely: {}",
            failed.len(),
            if failed.len() == 1 { "" } else { "s" },
            failed.join(", ")
        );
        exit::ERROR
    }
}
