//! Custom detection rules (Microsoft Graph `security/rules/detectionRules`): what Microsoft
//! accepts, shared by manifest validation and the sandbox so both enforce one documented set.
//!
//! Sources are in docs/detection-rules.md. The checks on a query are textual: KQL is not parsed,
//! but the last `project`/`summarize`/`distinct` of a query names what it returns, which is
//! enough to catch the usual mistake (an aggregation that drops `Timestamp` or `ReportId`).

use std::collections::BTreeSet;

/// Schedules a rule may have (`schedule.frequency`, ISO 8601), with what the portal calls them.
/// Custom frequencies (5 minutes to 14 days) exist only for rules over Microsoft Sentinel data
/// alone, which the tool cannot tell from a query, so it does not offer them.
pub(crate) const FREQUENCIES: &[(&str, &str)] = &[
    ("PT0S", "continuous (near real time)"),
    ("PT1H", "every hour"),
    ("PT3H", "every 3 hours"),
    ("PT12H", "every 12 hours"),
    ("P1D", "every 24 hours"),
];

/// `status` values a client may set (`autoDisabled` is the service's own verdict).
pub(crate) const STATUSES: &[&str] = &["enabled", "disabled"];

/// Alert severities of `alertTemplate.severity`.
pub(crate) const SEVERITIES: &[&str] = &["informational", "low", "medium", "high"];

/// Columns that time-stamp a result row (Defender tables, Sentinel tables).
pub(crate) const TIMESTAMP_COLUMNS: &[&str] = &["Timestamp", "TimeGenerated"];

/// The column that links an alert back to the original record.
pub(crate) const REPORT_ID: &str = "ReportId";

/// Columns that identify the device, user or mailbox a row is about; a query returns one.
pub(crate) const ENTITY_COLUMNS: &[&str] = &[
    "DeviceId",
    "DeviceName",
    "RemoteDeviceName",
    "RecipientEmailAddress",
    "SenderFromAddress",
    "SenderMailFromAddress",
    "RecipientObjectId",
    "AccountObjectId",
    "AccountSid",
    "AccountUpn",
    "InitiatingProcessAccountSid",
    "InitiatingProcessAccountUpn",
    "InitiatingProcessAccountObjectId",
];

/// A query as compared and deduplicated: line endings, trailing spaces and trailing blank lines
/// carry no meaning in KQL but differ between editors, so they never make a diff or a twin.
pub(crate) fn normalise_query(query: &str) -> String {
    let lines: Vec<&str> = query
        .split('\n')
        .map(|l| l.trim_end_matches(['\r', ' ', '\t']))
        .collect();
    lines.join("\n").trim_end_matches('\n').to_string()
}

/// The name of `frequency` for people, when it is one Microsoft accepts.
pub(crate) fn frequency_label(frequency: &str) -> Option<&'static str> {
    FREQUENCIES
        .iter()
        .find(|(f, _)| *f == frequency)
        .map(|(_, label)| *label)
}

/// Where the query's result shape is decided: the last shaping operator and its columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// `project`, `summarize` or `distinct`.
    pub operator: String,
    /// 1-based line and column of the operator in the query text.
    pub line: u32,
    pub column: u32,
    /// The columns the query returns after it (including later `extend`s).
    pub columns: BTreeSet<String>,
}

/// A problem with a query's output columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryProblem {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// What the query returns, when a `project`, `summarize` or `distinct` decides it. `None` means
/// the rows keep their table's columns, which Defender's tables provide (`Timestamp`, `ReportId`,
/// an entity column), so nothing can be said against them.
pub(crate) fn output_shape(query: &str) -> Option<Shape> {
    let mut shape: Option<Shape> = None;
    for (offset, stage) in pipe_stages(query) {
        let trimmed = stage.trim_start();
        let lead = stage.len() - trimmed.len();
        let (op, rest) = split_operator(trimmed);
        let (line, column) = line_col(query, offset + lead);
        match op {
            "project" => {
                shape = Some(Shape {
                    operator: op.into(),
                    line,
                    column,
                    columns: assigned_names(rest),
                });
            }
            "distinct" => {
                shape = Some(Shape {
                    operator: op.into(),
                    line,
                    column,
                    columns: assigned_names(rest),
                });
            }
            "summarize" => {
                let (aggs, by) = split_by(rest);
                let mut columns = assigned_names(aggs);
                columns.extend(assigned_names(by));
                shape = Some(Shape {
                    operator: op.into(),
                    line,
                    column,
                    columns,
                });
            }
            "extend" => {
                if let Some(s) = shape.as_mut() {
                    s.columns.extend(assigned_names(rest));
                }
            }
            "project-rename" => {
                if let Some(s) = shape.as_mut() {
                    for item in split_top_level(rest, ',') {
                        if let Some((new, old)) = item.split_once('=') {
                            s.columns.remove(old.trim());
                            s.columns.insert(new.trim().to_string());
                        }
                    }
                }
            }
            "project-away" => {
                if let Some(s) = shape.as_mut() {
                    for item in split_top_level(rest, ',') {
                        s.columns.remove(item.trim());
                    }
                }
            }
            _ => {}
        }
    }
    shape
}

/// Checks the columns Microsoft requires of a custom detection's results.
pub(crate) fn check_required_columns(query: &str) -> Vec<QueryProblem> {
    let Some(shape) = output_shape(query) else {
        return Vec::new();
    };
    let has = |c: &str| shape.columns.iter().any(|x| x.eq_ignore_ascii_case(c));
    let mut missing = Vec::new();
    if !TIMESTAMP_COLUMNS.iter().any(|c| has(c)) {
        missing.push("`Timestamp` (or `TimeGenerated`)".to_string());
    }
    if !has(REPORT_ID) {
        missing.push(format!("`{REPORT_ID}`"));
    }
    if !ENTITY_COLUMNS.iter().any(|c| has(c)) {
        missing.push("an entity column such as `DeviceId` or `AccountObjectId`".to_string());
    }
    if missing.is_empty() {
        return Vec::new();
    }
    vec![QueryProblem {
        line: shape.line,
        column: shape.column,
        message: format!(
            "the query's `{}` drops {}, which a custom detection must return",
            shape.operator,
            missing.join(", ")
        ),
    }]
}

/// Whether the query returns `column`: unknown shapes (no shaping operator) are given the
/// benefit of the doubt, as the service's tables carry their full schema.
pub(crate) fn returns_column(query: &str, column: &str) -> bool {
    output_shape(query).is_none_or(|s| s.columns.iter().any(|c| c.eq_ignore_ascii_case(column)))
}

/// Pipe-separated stages outside strings, parentheses and comments, with their byte offsets.
fn pipe_stages(query: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut chars = query.char_indices().peekable();
    while let Some((i, ch)) = chars.next() {
        if let Some(q) = quote {
            if ch == '\\' {
                chars.next();
            } else if ch == q {
                quote = None;
            }
            continue;
        }
        match ch {
            '"' | '\'' => quote = Some(ch),
            '/' if chars.peek().is_some_and(|(_, c)| *c == '/') => {
                // A comment runs to the end of its line.
                for (_, c) in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            '|' if depth == 0 => {
                out.push((start, &query[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push((start, &query[start..]));
    out
}

/// The operator word of a stage (`project-away` included) and what follows it.
fn split_operator(stage: &str) -> (&str, &str) {
    let end = stage
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .unwrap_or(stage.len());
    (&stage[..end], &stage[end..])
}

/// `aggregates by columns` of a `summarize`.
fn split_by(rest: &str) -> (&str, &str) {
    let mut depth = 0i32;
    let bytes = rest.as_bytes();
    for (i, ch) in rest.char_indices() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            _ if depth == 0
                && rest[i..].starts_with("by")
                && (i == 0 || bytes[i - 1].is_ascii_whitespace())
                && rest[i + 2..].chars().next().is_none_or(char::is_whitespace) =>
            {
                return (&rest[..i], &rest[i + 2..]);
            }
            _ => {}
        }
    }
    (rest, "")
}

/// Column names a comma list produces: `A = expr` gives `A`, a bare column gives itself, an
/// unnamed aggregate (`count()`) gives Kusto's generated name (`count_`).
fn assigned_names(list: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for item in split_top_level(strip_comments(list).as_str(), ',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        if let Some((name, _)) = split_assignment(item) {
            out.insert(name.trim().to_string());
        } else if item.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            out.insert(item.to_string());
        } else if let Some(open) = item.find('(') {
            let func = item[..open].trim();
            // arg_max(Timestamp, *) keeps every column of the winning row: assume the full row.
            if (func == "arg_max" || func == "arg_min") && item.contains('*') {
                for c in TIMESTAMP_COLUMNS.iter().chain([REPORT_ID].iter()) {
                    out.insert((*c).to_string());
                }
                out.extend(ENTITY_COLUMNS.iter().map(|c| (*c).to_string()));
            } else if func == "arg_max" || func == "arg_min" {
                let inner = item[open + 1..].trim_end_matches(')');
                out.extend(
                    split_top_level(inner, ',')
                        .iter()
                        .map(|s| s.trim().to_string()),
                );
            } else {
                out.insert(format!("{func}_"));
            }
        }
    }
    out
}

/// `name = expr` (not `==`), returning the name.
fn split_assignment(item: &str) -> Option<(&str, &str)> {
    let eq = item.find('=')?;
    let after = item[eq + 1..].chars().next();
    let before = item[..eq].chars().last();
    if after == Some('=') || matches!(before, Some('!' | '<' | '>' | '=')) {
        return None;
    }
    let name = item[..eq].trim();
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
        .then_some((name, &item[eq + 1..]))
}

fn split_top_level(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let mut quote: Option<char> = None;
    for (i, ch) in s.char_indices() {
        if let Some(q) = quote {
            if ch == q {
                quote = None;
            }
            continue;
        }
        match ch {
            '"' | '\'' => quote = Some(ch),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            c if c == sep && depth == 0 => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn strip_comments(s: &str) -> String {
    s.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(before.chars().count(), |nl| {
        before[nl + 1..].chars().count()
    }) + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

/// An automated response action and the query columns it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionKind {
    /// The property of `detectionAction.automatedActions` that holds this action.
    pub property: &'static str,
    /// `@odata.type` of its entries.
    pub odata_type: &'static str,
    /// Column properties each entry carries.
    pub columns: &'static [&'static str],
}

/// The automated actions of `automatedActionSet`, per Microsoft's reference pages.
pub(crate) const ACTIONS: &[ActionKind] = &[
    ActionKind {
        property: "isolateDevices",
        odata_type: "#microsoft.graph.security.isolateDeviceAction",
        columns: &["deviceIdColumn"],
    },
    ActionKind {
        property: "collectInvestigationPackages",
        odata_type: "#microsoft.graph.security.deviceAction",
        columns: &["deviceIdColumn"],
    },
    ActionKind {
        property: "runAntivirusScans",
        odata_type: "#microsoft.graph.security.deviceAction",
        columns: &["deviceIdColumn"],
    },
    ActionKind {
        property: "initiateInvestigations",
        odata_type: "#microsoft.graph.security.deviceAction",
        columns: &["deviceIdColumn"],
    },
    ActionKind {
        property: "restrictAppExecutions",
        odata_type: "#microsoft.graph.security.deviceAction",
        columns: &["deviceIdColumn"],
    },
    ActionKind {
        property: "stopAndQuarantineFiles",
        odata_type: "#microsoft.graph.security.stopAndQuarantineFileAction",
        columns: &["deviceIdColumn", "sha1Column"],
    },
    ActionKind {
        property: "disableUsers",
        odata_type: "#microsoft.graph.security.accountSidAction",
        columns: &["accountSidColumn"],
    },
    ActionKind {
        property: "forceUserPasswordResets",
        odata_type: "#microsoft.graph.security.accountSidAction",
        columns: &["accountSidColumn"],
    },
    ActionKind {
        property: "markUsersAsCompromised",
        odata_type: "#microsoft.graph.security.accountObjectIdAction",
        columns: &["accountObjectIdColumn"],
    },
];

/// The action stored under `property`, if Microsoft documents it.
pub(crate) fn action(property: &str) -> Option<&'static ActionKind> {
    ACTIONS.iter().find(|a| a.property == property)
}

/// One library rule as one customer gets it: overrides in force applied, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredRule {
    /// The library key (`detection-rule/<name>`).
    pub name: String,
    /// The rule's id in the tenant (`<prefix>-<name>`), chosen by the tool at creation.
    pub id: String,
    /// `[<prefix>] <displayName>`: the natural key, and the mark of the tool's rules.
    pub display_name: String,
    /// `enabled` or `disabled`.
    pub status: String,
    pub severity: String,
    pub query: String,
    /// The Graph body of a create (`id` included); an update sends it without `id`.
    pub body: serde_json::Value,
}

/// The rules `customer` gets on `today`, in library order.
pub fn desired(
    provider: &crate::manifest::ProviderManifest,
    customer: &crate::manifest::CustomerManifest,
    today: jiff::civil::Date,
) -> Vec<DesiredRule> {
    use crate::validate::detections::selected;
    rules_for(provider, selected(provider, customer), customer, today)
}

/// Every library rule as `customer` would get it (what pruning compares against).
pub(crate) fn all_rules(
    provider: &crate::manifest::ProviderManifest,
    customer: &crate::manifest::CustomerManifest,
    today: jiff::civil::Date,
) -> Vec<DesiredRule> {
    rules_for(
        provider,
        provider.spec.detections.iter().collect(),
        customer,
        today,
    )
}

fn rules_for(
    provider: &crate::manifest::ProviderManifest,
    rules: Vec<&crate::manifest::DetectionRule>,
    customer: &crate::manifest::CustomerManifest,
    today: jiff::civil::Date,
) -> Vec<DesiredRule> {
    use crate::validate::detections::{override_value, rule_display_name};
    let prefix = &provider.spec.naming.prefix.value;
    rules
        .into_iter()
        .filter_map(|r| {
            let name = r.name.value.clone();
            // Validation read every rule's file; a rule without text (not validated) is not sent.
            let query = r.query.as_deref()?.to_string();
            let status = override_value(customer, &name, "status", today)
                .unwrap_or(if r.enabled { "enabled" } else { "disabled" })
                .to_string();
            let severity = override_value(customer, &name, "severity", today)
                .unwrap_or(&r.alert.severity.value)
                .to_string();
            let id = format!("{prefix}-{name}");
            let display_name = rule_display_name(prefix, &r.display_name.value);
            let tactics: Vec<serde_json::Value> = r
                .alert
                .mitre
                .iter()
                .map(|(tactic, techniques)| {
                    serde_json::json!({
                        "tactic": tactic,
                        "techniques": techniques.iter().map(|t| serde_json::json!({"technique": t.value})).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let mut actions = serde_json::Map::new();
            for a in &r.actions {
                let Some(kind) = action(&a.action.value) else {
                    continue;
                };
                let mut entry = serde_json::Map::new();
                entry.insert("@odata.type".into(), kind.odata_type.into());
                for prop in kind.columns {
                    if let Some(col) = a.column(prop) {
                        entry.insert((*prop).into(), col.into());
                    }
                }
                if kind.property == "isolateDevices" {
                    let t = a.isolation_type.as_deref().unwrap_or("full");
                    entry.insert("isolationType".into(), t.into());
                }
                if let Some(list) = actions
                    .entry(kind.property)
                    .or_insert_with(|| serde_json::Value::Array(vec![]))
                    .as_array_mut()
                {
                    list.push(serde_json::Value::Object(entry));
                }
            }
            let mut body = serde_json::json!({
                "id": id,
                "displayName": display_name,
                "description": r.description,
                "status": status,
                "queryCondition": {"queryText": query},
                "schedule": {"frequency": r.frequency.value},
                "detectionAction": {
                    "alertTemplate": {
                        "title": r.alert.title.value,
                        "description": r.alert.description,
                        "severity": severity,
                        "recommendedActions": r.alert.recommended_actions,
                        "tactics": tactics,
                    },
                    "automatedActions": actions,
                },
            });
            if !r.device_groups.is_empty()
                && let Some(action) = body
                    .get_mut("detectionAction")
                    .and_then(serde_json::Value::as_object_mut)
            {
                let groups: Vec<&str> = r.device_groups.iter().map(|g| g.value.as_str()).collect();
                action.insert(
                    "organizationalScope".into(),
                    serde_json::json!({ "deviceGroups": groups }),
                );
            }
            Some(DesiredRule {
                name,
                id,
                display_name,
                status,
                severity,
                query,
                body,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_filter_keeps_the_table_columns() {
        assert!(output_shape("DeviceProcessEvents\n| where FileName == 'x.exe'").is_none());
        assert!(check_required_columns("DeviceProcessEvents | take 1").is_empty());
    }

    #[test]
    fn a_project_without_report_id_is_named_with_its_position() {
        let q = "DeviceProcessEvents\n| where FileName =~ 'a|b'\n| project Timestamp, DeviceId";
        let p = check_required_columns(q);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!((p[0].line, p[0].column), (3, 3));
        assert!(p[0].message.contains("ReportId"), "{}", p[0].message);
    }

    #[test]
    fn summarize_with_renamed_aggregates_and_by_columns_counts() {
        let q = "DeviceEvents | summarize Timestamp = max(Timestamp), ReportId = any(ReportId), count() by DeviceId | where count_ > 5";
        assert!(check_required_columns(q).is_empty());
        let s = output_shape(q).unwrap();
        assert!(s.columns.contains("count_"));
        let bad = "DeviceEvents | summarize count() by DeviceId";
        assert_eq!(check_required_columns(bad).len(), 1);
    }

    #[test]
    fn extend_after_project_and_arg_max_star_add_columns() {
        let q = "T | project Timestamp, DeviceId | extend ReportId = 1";
        assert!(check_required_columns(q).is_empty());
        let q = "T | summarize arg_max(Timestamp, *) by DeviceId";
        assert!(check_required_columns(q).is_empty());
    }

    #[test]
    fn pipes_in_strings_and_comments_are_not_stages() {
        let q = "T // a | project X\n| where A has \"| project Y\"";
        assert!(output_shape(q).is_none());
    }

    #[test]
    fn queries_differing_only_in_line_ends_and_trailing_spaces_are_one() {
        let a = "T\r\n| where A == 1  \r\n| project X\r\n\r\n";
        let b = "T\n| where A == 1\n| project X";
        assert_eq!(normalise_query(a), normalise_query(b));
        assert_ne!(
            normalise_query("T | take 1"),
            normalise_query("T  | take 1")
        );
    }

    #[test]
    fn equality_is_not_an_assignment() {
        assert!(split_assignment("A == B").is_none());
        assert_eq!(split_assignment("A = B").map(|(n, _)| n), Some("A"));
    }
}
