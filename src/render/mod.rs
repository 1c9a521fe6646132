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
