//! Markdown plans for pull-request comments, from a tera template.
//!
//! Everything that comes from manifests or tenants is escaped before it reaches the
//! template, so a display name cannot inject Markdown, HTML or @-mentions into a comment.
//! Values only appear inside a ```diff block, where nothing is interpreted. Control
//! characters and escape sequences are removed from all of it.

use serde::Serialize;

use super::human::{counts_text, inline, summary_line};
use crate::graph::sanitize::clean;
use crate::plan::{Op, Plan, TenantStatus};

const TEMPLATE: &str = include_str!("templates/plan.md.tera");
/// GitHub refuses comments over 65,536 characters.
pub(crate) const MAX_COMMENT: usize = 60_000;

#[derive(Serialize)]
struct Doc {
    totals: String,
    drift: Vec<String>,
    tenants: Vec<TenantDoc>,
    footer: String,
}

#[derive(Serialize)]
struct TenantDoc {
    name: String,
    cloud: String,
    status: String,
    summary: String,
    heading: String,
    portal: Option<String>,
    blocked: Option<String>,
    warnings: Vec<String>,
    diff: String,
    manual: Vec<ManualDoc>,
    open: bool,
}

#[derive(Serialize)]
struct ManualDoc {
    title: String,
    address: String,
    steps: Vec<String>,
}

pub fn render(plan: &Plan) -> Result<String, super::RenderError> {
    let full = render_with(plan, true)?;
    if full.len() <= MAX_COMMENT {
        return Ok(full);
    }
    // Too long for one comment: keep the table and summaries, drop the details.
    render_with(plan, false)
}

fn render_with(plan: &Plan, details: bool) -> Result<String, super::RenderError> {
    let doc = Doc {
        totals: esc(&format!(
            "{} tenants: {}",
            plan.tenants.len(),
            counts_text(&plan.summary, true)
        )),
        drift: plan
            .drift
            .iter()
            .map(|g| esc(&super::human::drift_line(g)))
            .collect(),
        tenants: plan
            .tenants
            .iter()
            .map(|t| TenantDoc {
                name: esc(&t.name),
                cloud: t.cloud.to_string(),
                status: match t.status {
                    TenantStatus::Complete => "complete".into(),
                    TenantStatus::Blocked => "**blocked**".into(),
                },
                summary: esc(summary_line(t).split_once(": ").map_or("", |(_, s)| s)),
                heading: esc(&format!("{} ({})", t.display_name, t.tenant_id)),
                portal: t.portal_link.as_ref().map(|l| esc(l)),
                blocked: t.blocked_reason.as_ref().map(|r| esc(r)),
                warnings: t.warnings.iter().map(|w| esc(w)).collect(),
                diff: if details {
                    code(&diff_block(t))
                } else {
                    String::new()
                },
                manual: if details {
                    t.actions
                        .iter()
                        .filter(|a| a.op == Op::Manual)
                        .filter_map(|a| {
                            a.manual.as_ref().map(|m| ManualDoc {
                                title: esc(&m.title),
                                address: code_span(&a.address),
                                steps: m.steps.iter().map(|s| esc(s)).collect(),
                            })
                        })
                        .collect()
                } else {
                    vec![]
                },
                open: t.has_changes() || t.status == TenantStatus::Blocked,
            })
            .collect(),
        footer: if details {
            format!(
                "mssp {} · plan format {}",
                plan.tool_version, plan.format_version
            )
        } else {
            format!(
                "mssp {} · details omitted: the full plan exceeds a comment; see the JSON plan artifact",
                plan.tool_version
            )
        },
    };
    let mut tera = tera::Tera::default();
    tera.autoescape_on(Vec::<&str>::new());
    tera.add_raw_template("plan.md", TEMPLATE)?;
    let ctx = tera::Context::from_serialize(&doc)?;
    Ok(tera.render("plan.md", &ctx)?)
}

/// The actions of a tenant as `diff` lines (`+` create, `-` delete, `!` update and manual).
fn diff_block(t: &crate::plan::TenantPlan) -> String {
    let mut lines = Vec::new();
    for a in t.actions.iter().filter(|a| a.op != Op::NoOp) {
        let marker = match a.op {
            Op::Create => "+",
            Op::Delete => "-",
            _ => "!",
        };
        lines.push(format!("{marker} {} {}", a.op.verb(), a.address));
        for c in &a.changes {
            match a.op {
                Op::Create => lines.push(format!("+     {}: {}", c.field, inline(&c.after))),
                _ => {
                    lines.push(format!("-     {}: {}", c.field, inline(&c.before)));
                    lines.push(format!("+     {}: {}", c.field, inline(&c.after)));
                }
            }
        }
        if let Some(n) = &a.note {
            lines.push(format!("#     {n}"));
        }
    }
    for a in t.actions.iter().filter(|a| !a.excepted.is_empty()) {
        for e in &a.excepted {
            lines.push(format!(
                "#   {} {}: drift accepted until {} ({})",
                a.address, e.field, e.expires, e.reason
            ));
        }
    }
    lines.join("\n")
}

/// Escapes text for Markdown and HTML: no markup, links, mentions or tables can result.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev: Option<char> = None;
    for ch in clean(s).chars() {
        let after = prev.replace(ch);
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '!' | '|'
            | '~' => {
                out.push('\\');
                out.push(ch);
            }
            // A zero-width joiner after @ stops GitHub from notifying users or teams. Only
            // where a mention can start: inside an e-mail address (`soc@fabrikam.example`) it
            // is no mention, and the invisible character would break the copied address.
            '@' if !after.is_some_and(|p| p.is_alphanumeric() || "._%+-".contains(p)) => {
                out.push_str("@\u{200d}")
            }
            c => out.push(c),
        }
    }
    out
}

/// Text for a fenced code block: a run of backticks could close the fence early.
fn code(s: &str) -> String {
    clean(s).replace("```", "`\u{200b}``")
}

fn code_span(s: &str) -> String {
    s.replace('`', "'")
}
