//! `mssp merge`: reads the shards' JSON files, merges them ([`crate::merge`]), renders the
//! result and exits as the unsharded command would have.

use std::io::Write as _;
use std::path::PathBuf;

use super::Error;
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

pub fn run(args: &MergeArgs) -> super::Outcome {
    let mut inputs = Vec::with_capacity(args.files.len());
    for f in &args.files {
        let text = std::fs::read_to_string(f)
            .map_err(Error::io(format!("cannot read {}", f.display())))?;
        inputs.push(Input {
            name: f.display().to_string(),
            text,
        });
    }
    let merged = merge::merge(&inputs)?;
    let (json, text) = match &merged {
        Merged::Plan(p) => {
            let json = render::json(p).map_err(Error::render("merged plan"))?;
            let text = match args.format {
                MergeFormat::Human => render::human::render(p, render::human::Style::detect()),
                MergeFormat::Json => json.clone(),
                MergeFormat::Markdown => {
                    render::markdown::render(p).map_err(Error::render("merged plan"))?
                }
                MergeFormat::Html => {
                    return Err(Error::MergeFormat(
                        "plans render as human, json or markdown",
                    ));
                }
            };
            (json, text)
        }
        Merged::Report(r) => {
            let json = serde_json::to_string_pretty(r)
                .map(|s| s + "\n")
                .map_err(|e| Error::render("merged report")(e.into()))?;
            let text = match args.format {
                MergeFormat::Json => json.clone(),
                MergeFormat::Markdown => {
                    crate::report::markdown(r).map_err(Error::render("merged report"))?
                }
                MergeFormat::Html => {
                    crate::report::html(r).map_err(Error::render("merged report"))?
                }
                MergeFormat::Human => {
                    return Err(Error::MergeFormat(
                        "reports render as json, markdown or html",
                    ));
                }
            };
            (json, text)
        }
    };
    if let Some(path) = &args.out {
        std::fs::write(path, json).map_err(Error::io(format!(
            "cannot save the merged JSON: {}",
            path.display()
        )))?;
    }
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    outcome(args, &merged)
}

/// The exit code the unsharded `plan` or `report` would have given.
fn outcome(args: &MergeArgs, merged: &Merged) -> super::Outcome {
    let (failed, changes): (Vec<&str>, bool) = match merged {
        Merged::Plan(p) => (
            p.blocked().map(|t| t.name.as_str()).collect(),
            p.has_changes(),
        ),
        Merged::Report(r) => (r.failed().map(|c| c.name.as_str()).collect(), false),
    };
    if !failed.is_empty() {
        return Err(Error::Unread {
            what: "tenant",
            how: "read",
            tenants: failed.iter().map(ToString::to_string).collect(),
        });
    }
    Ok(if args.detailed_exitcode && changes {
        exit::CHANGES_PRESENT
    } else {
        exit::SUCCESS
    })
}
