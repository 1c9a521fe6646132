//! Rendering of results for people and machines: `--explain` listings and plans as human
//! text, versioned JSON and pull-request Markdown. Nothing here talks to a service.

pub mod explain;
pub mod human;
pub mod markdown;

/// Plan as pretty JSON (the versioned format of docs/plan-format.md).
pub fn json(plan: &crate::plan::Plan) -> Result<String, String> {
    serde_json::to_string_pretty(plan)
        .map(|mut s| {
            s.push('\n');
            s
        })
        .map_err(|e| e.to_string())
}
