//! Terraform-like plan output for terminals: `+ ~ - -/+` markers, field-level changes, long
//! values as line diffs, a summary line per tenant and a total that lists every tenant.
//! Text that may come from a server (reasons, warnings, notes) is stripped of control
//! characters; the only escape sequences in the output are our own colours.

use std::fmt::Write as _;

use serde_json::Value;

use crate::graph::sanitize::clean;
use crate::plan::{Action, Change, Counts, Op, Plan, TenantPlan, TenantStatus};

/// ANSI styling, off unless writing to a terminal without `NO_COLOR`.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub(crate) fn detect() -> Self {
        use std::io::IsTerminal;
        Self::decide(
            std::env::var_os("NO_COLOR").as_deref(),
            std::io::stdout().is_terminal(),
        )
    }

    /// <https://no-color.org>: a `NO_COLOR` that is set and not empty turns colour off, even
    /// on a terminal; colour is never written to a pipe or file.
    pub(crate) fn decide(no_color: Option<&std::ffi::OsStr>, terminal: bool) -> Self {
        let no_color = no_color.is_some_and(|v| !v.is_empty());
        Self {
            color: !no_color && terminal,
        }
    }

    fn paint(self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn op(self, op: Op, s: &str) -> String {
        let code = match op {
            Op::Create => "32",
            Op::Update => "33",
            Op::Replace => "35",
            Op::Delete => "31",
            Op::Manual => "36",
            Op::NoOp => "2",
        };
        self.paint(code, s)
    }

    fn bold(self, s: &str) -> String {
        self.paint("1", s)
    }
}

pub fn render(plan: &Plan, style: Style) -> String {
    let mut out = String::new();
    for t in &plan.tenants {
        tenant(&mut out, t, style);
        out.push('\n');
    }
    let _ = writeln!(out, "{}", style.bold("Summary"));
    for t in &plan.tenants {
        let _ = writeln!(out, "  {}", summary_line(t));
    }
    if !plan.drift.is_empty() {
        let _ = writeln!(out, "{}", style.bold("Changes by kind"));
        for g in &plan.drift {
            let _ = writeln!(out, "  {}", drift_line(g));
        }
    }
    let _ = writeln!(
        out,
        "{}",
        style.bold(&format!(
            "Plan: {} tenant{}: {}",
            plan.tenants.len(),
            if plan.tenants.len() == 1 { "" } else { "s" },
            counts_text(&plan.summary, true)
        ))
    );
    out
}

fn tenant(out: &mut String, t: &TenantPlan, style: Style) {
    let role = match t.role {
        crate::kinds::TenantRole::Provider => "MSSP tenant",
        crate::kinds::TenantRole::Customer => "Customer",
    };
    let _ = writeln!(
        out,
        "{}",
        style.bold(&format!(
            "{role} {} — {} ({}, {} cloud)",
            t.name,
            clean(&t.display_name),
            t.tenant_id,
            t.cloud
        ))
    );
    if let Some(link) = &t.portal_link {
        let _ = writeln!(out, "  portal: {link}");
    }
    if !t.labels.is_empty() {
        let labels: Vec<String> = t.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(out, "  labels: {}", labels.join(", "));
    }
    if t.status == TenantStatus::Blocked {
        let _ = writeln!(
            out,
            "  {} {}",
            style.paint("31;1", "BLOCKED:"),
            clean(t.blocked_reason.as_deref().unwrap_or("read failed"))
        );
        let _ = writeln!(
            out,
            "  Nothing is planned for this tenant: its state could not be read completely."
        );
        return;
    }
    for w in &t.warnings {
        let _ = writeln!(out, "  {} {}", style.paint("33", "warning:"), clean(w));
    }
    // From the counts: a plan made for this output lists no unchanged resource.
    let unchanged = t.counts.unchanged;
    for a in t
        .actions
        .iter()
        .filter(|a| a.op != Op::NoOp || !a.excepted.is_empty())
    {
        action(out, a, style);
    }
    if !t.not_pruned.is_empty() {
        let _ = writeln!(
            out,
            "  {} owned object{} no longer declared, kept (plan with --prune to delete): {}",
            t.not_pruned.len(),
            if t.not_pruned.len() == 1 { "" } else { "s" },
            t.not_pruned.join(", ")
        );
    }
    if unchanged > 0 {
        let _ = writeln!(out, "  ({unchanged} unchanged)");
    }
}

fn action(out: &mut String, a: &Action, style: Style) {
    let header = match (&a.id, a.op) {
        (Some(id), Op::Update | Op::Replace | Op::Delete) => {
            format!("{} {}  (id {id})", a.op.symbol(), a.address)
        }
        _ => format!("{} {}", a.op.symbol(), a.address),
    };
    let _ = writeln!(out, "\n  {}", style.op(a.op, &header));
    if let Some(note) = &a.note {
        let _ = writeln!(out, "      # {}", clean(note));
    }
    if let Some(m) = a.manual.as_ref().filter(|_| a.op == Op::Manual) {
        let _ = writeln!(
            out,
            "      manual: {} — {}",
            clean(&m.title),
            clean(&m.reason)
        );
        for (i, step) in m.steps.iter().enumerate() {
            let _ = writeln!(out, "        {}. {}", i + 1, clean(step));
        }
        let _ = writeln!(
            out,
            "      when done, attest it in the customer manifest: attestations: [{{item: {}, by: <you>, on: <date>}}]",
            a.address
        );
    }
    for c in &a.changes {
        change(out, c, a.op, style);
    }
    for e in &a.excepted {
        let _ = writeln!(
            out,
            "      = {}: drift accepted until {} by {} ({})",
            e.field,
            e.expires,
            e.owner,
            clean(&e.reason)
        );
    }
}

fn change(out: &mut String, c: &Change, op: Op, style: Style) {
    if op == Op::Create {
        let _ = writeln!(out, "      {}: {}", c.field, inline(&c.after));
        return;
    }
    let (before, after) = (inline(&c.before), inline(&c.after));
    if before.len() + after.len() < 100 && !before.contains('\n') && !after.contains('\n') {
        let _ = writeln!(out, "      {}: {before} → {after}", c.field);
        return;
    }
    let _ = writeln!(out, "      {}:", c.field);
    // Multi-line text (a KQL query) is compared line by line as the user wrote it; as JSON it
    // would be one escaped line replaced by another.
    let (old, new) = match (multiline_text(&c.before), multiline_text(&c.after)) {
        (Some(old), Some(new)) if old.contains('\n') || new.contains('\n') => (old, new),
        _ => (pretty(&c.before), pretty(&c.after)),
    };
    let diff = similar::TextDiff::from_lines(&old, &new);
    for op in diff.ops() {
        for ch in diff.iter_changes(op) {
            let line = ch.value().trim_end_matches('\n');
            let text = match ch.tag() {
                similar::ChangeTag::Delete => style.paint("31", &format!("        - {line}")),
                similar::ChangeTag::Insert => style.paint("32", &format!("        + {line}")),
                similar::ChangeTag::Equal => format!("          {line}"),
            };
            let _ = writeln!(out, "{text}");
        }
    }
}

/// A string (or nothing) as text ending in a newline, for a line diff.
fn multiline_text(v: &Value) -> Option<String> {
    let text = match v {
        Value::String(s) => s.trim_end_matches('\n').to_string(),
        Value::Null => String::new(),
        _ => return None,
    };
    Some(if text.is_empty() { text } else { text + "\n" })
}

/// One-line rendering of a value.
pub(crate) fn inline(v: &Value) -> String {
    match v {
        Value::Null => "(none)".into(),
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// Multi-line rendering for diffs.
pub(crate) fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

pub(crate) fn counts_text(c: &Counts, with_blocked: bool) -> String {
    let mut s = format!(
        "{} to create, {} to update, {} to replace, {} to delete, {} manual, {} unchanged",
        c.create, c.update, c.replace, c.delete, c.manual, c.unchanged
    );
    if c.excepted > 0 {
        let _ = write!(s, ", {} with accepted drift", c.excepted);
    }
    if with_blocked {
        let _ = write!(s, "; {} blocked", c.blocked);
    }
    s
}

/// One group of the drift overview: what changes, how often, where.
pub(crate) fn drift_line(g: &crate::plan::DriftGroup) -> String {
    const SHOWN: usize = 10;
    let what = match (g.change.as_str(), g.kind.as_str()) {
        ("blocked", _) => "blocked (not read)".to_string(),
        ("expiredException", k) => format!("expired exception on {k}"),
        ("expiringException", k) => format!("exception ending soon on {k}"),
        // Portal steps are their own kind: "manual manual" said nothing twice.
        ("manual", "manual") => "manual portal step".to_string(),
        (c, k) if g.fields.is_empty() => format!("{c} {k}"),
        (c, k) => format!("{c} {k} ({})", g.fields.join(", ")),
    };
    let mut names = g
        .tenants
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if g.tenants.len() > SHOWN {
        names.push_str(&format!(" and {} more", g.tenants.len() - SHOWN));
    }
    let n = g.tenants.len();
    format!(
        "{what}: {} in {n} tenant{}: {names}",
        g.count,
        if n == 1 { "" } else { "s" }
    )
}

/// The summary line of one tenant; blocked tenants say so.
pub(crate) fn summary_line(t: &TenantPlan) -> String {
    match t.status {
        TenantStatus::Blocked => format!("{}: BLOCKED (not planned)", t.name),
        TenantStatus::Complete => format!("{}: {}", t.name, counts_text(&t.counts, false)),
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::*;

    #[test]
    fn no_color_wins_over_a_terminal() {
        assert!(Style::decide(None, true).color);
        assert!(!Style::decide(Some(OsStr::new("1")), true).color);
        // The spec: an empty NO_COLOR does not count as set.
        assert!(Style::decide(Some(OsStr::new("")), true).color);
        assert!(!Style::decide(None, false).color);
    }

    #[test]
    fn a_changed_query_is_diffed_line_by_line() {
        let c = Change {
            field: "query".into(),
            before: Value::String(
                "DeviceEvents\n| where A == 1\n| project Timestamp, ReportId, DeviceId\n".into(),
            ),
            after: Value::String(
                "DeviceEvents\n| where A == 2\n| project Timestamp, ReportId, DeviceId\n".into(),
            ),
        };
        let mut out = String::new();
        change(&mut out, &c, Op::Update, Style { color: false });
        assert_eq!(
            out,
            "      query:\n          DeviceEvents\n        - | where A == 1\n        + | where A == 2\n          | project Timestamp, ReportId, DeviceId\n"
        );
    }

    #[test]
    fn without_colour_there_are_no_escape_codes() {
        let plain = Style { color: false };
        assert_eq!(plain.op(Op::Create, "+"), "+");
        assert_eq!(plain.bold("Summary"), "Summary");
        let coloured = Style { color: true };
        assert_eq!(coloured.op(Op::Create, "+"), "\x1b[32m+\x1b[0m");
    }
}
