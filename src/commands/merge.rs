//! `mssp merge`: reads the shards' JSON files, merges them ([`crate::merge`]), renders the
//! result and exits as the unsharded command would have.

use std::io::Write as _;
use std::path::PathBuf;

use crate::exit;
use crate::merge::{self, Input, Merged};
use crate::render;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MergeFormat {
    Human,
    Json,
    Markdown,
    Html,
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The JSON outputs of `--shard 1/N` … `--shard N/N` (plans, or reports), in any order.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Output format on stdout: plans render as human, json or markdown; reports as json,
    /// markdown or html.
    #[arg(long, value_enum, default_value_t = MergeFormat::Json)]
    pub format: MergeFormat,
    /// Also save the merged JSON here (a merged plan can be applied like an unsharded one).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Plans: exit 0 when nothing would change, 2 when something would, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

pub fn run(args: &MergeArgs) -> u8 {
    let mut inputs = Vec::with_capacity(args.files.len());
    for f in &args.files {
        match std::fs::read_to_string(f) {
            Ok(text) => inputs.push(Input {
                name: f.display().to_string(),
                text,
            }),
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", f.display());
                return exit::ERROR;
            }
        }
    }
    let merged = match merge::merge(&inputs) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}; nothing was merged");
            return exit::ERROR;
        }
    };
    let (json, text) = match &merged {
        Merged::Plan(p) => (
            render::json(p),
            match args.format {
                MergeFormat::Human => Ok(render::human::render(p, render::human::Style::detect())),
                MergeFormat::Json => render::json(p),
                MergeFormat::Markdown => render::markdown::render(p),
                MergeFormat::Html => Err("plans render as human, json or markdown".to_string()),
            },
        ),
        Merged::Report(r) => {
            let json = serde_json::to_string_pretty(r)
                .map(|s| s + "\n")
                .map_err(|e| e.to_string());
            let text = match args.format {
                MergeFormat::Json => json.clone(),
                MergeFormat::Markdown => crate::report::markdown(r),
                MergeFormat::Html => crate::report::html(r),
                MergeFormat::Human => Err("reports render as json, markdown or html".to_string()),
            };
            (json, text)
        }
    };
    if let Some(path) = &args.out {
        let saved = json
            .and_then(|j| std::fs::write(path, j).map_err(|e| format!("{}: {e}", path.display())));
        if let Err(e) = saved {
            eprintln!("error: cannot save the merged JSON: {e}");
            return exit::ERROR;
        }
    }
    match text {
        Ok(t) => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(t.as_bytes());
            let _ = out.flush();
        }
        Err(e) => {
            eprintln!("error: cannot render the merge: {e}");
            return exit::ERROR;
        }
    }
    outcome(args, &merged)
}

/// The exit code the unsharded `plan` or `report` would have given.
fn outcome(args: &MergeArgs, merged: &Merged) -> u8 {
    let (failed, changes): (Vec<&str>, bool) = match merged {
        Merged::Plan(p) => (
            p.blocked().map(|t| t.name.as_str()).collect(),
            p.has_changes(),
        ),
        Merged::Report(r) => (r.failed().map(|c| c.name.as_str()).collect(), false),
    };
    if !failed.is_empty() {
        eprintln!(
            "error: {} tenant{} could not be read: {}",
            failed.len(),
            if failed.len() == 1 { "" } else { "s" },
            failed.join(", ")
        );
        return exit::ERROR;
    }
    if args.detailed_exitcode && changes {
        exit::CHANGES_PRESENT
    } else {
        exit::SUCCESS
    }
}
