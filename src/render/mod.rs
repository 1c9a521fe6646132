//! Rendering of results for people and machines: `--explain` listings and plans as human
//! text, versioned JSON and pull-request Markdown. Nothing here talks to a service.

pub mod explain;
pub mod human;
pub mod markdown;

/// Why a plan or report could not be rendered (a bug, not a user's mistake: the models
/// always serialise and the templates are built in).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Template(#[from] tera::Error),
}

/// Plan as pretty JSON (the versioned format of docs/plan-format.md).
pub fn json(plan: &crate::plan::Plan) -> Result<String, RenderError> {
    let mut s = serde_json::to_string_pretty(plan)?;
    s.push('\n');
    Ok(s)
}

/// [`json`] written to `out` as it is produced: a saved plan of 10,000 tenants is tens of
/// megabytes of text, which need not be held in memory beside the plan itself. An I/O failure
/// comes back as the `std::io::Error` it was.
pub fn write_json(plan: &crate::plan::Plan, out: impl std::io::Write) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(out);
    serde_json::to_writer_pretty(&mut out, plan)?;
    out.write_all(b"\n")?;
    out.flush()
}
