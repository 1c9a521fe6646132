//! Validation of the provider's detection library and of customers' detection overrides.
//!
//! Each rule's `.kql` file is read here, once: the text goes into [`super::Validated`] so that
//! later stages never read the file again (and never see a different file than was checked).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Ctx, MAX_DISPLAY_NAME, check_slug, parse_date};
use crate::detections::{self as d, FREQUENCIES};
use crate::diagnostics::{Diagnostic, Diagnostics, Pos, SourceFile};
use crate::manifest::{CustomerManifest, DetectionRule, Exception, Loc, ProviderManifest, Sourced};

/// Largest query file read; Defender's own editor holds far less.
const MAX_QUERY_BYTES: u64 = 256 * 1024;

/// Address prefix of detection rules (`detection-rule/<name>`), as exceptions name them.
pub const ADDRESS_PREFIX: &str = "detection-rule/";

/// Fields of a detection rule an exception may name.
pub const FIELDS: &[&str] = &[
    "status",
    "severity",
    "query",
    "frequency",
    "alert",
    "actions",
    "deviceGroups",
    "description",
];

/// Checks the library and returns each rule's query text by rule name.
pub(super) fn check_library(
    p: &Sourced<ProviderManifest>,
    roots: &[PathBuf],
    diags: &mut Diagnostics,
) -> BTreeMap<String, Arc<str>> {
    let mut queries = BTreeMap::new();
    let mut cx = Ctx {
        file: &p.file,
        diags,
    };
    let spec = &p.doc.spec;
    let mut names: BTreeMap<&str, u32> = BTreeMap::new();
    let mut display: BTreeMap<&str, u32> = BTreeMap::new();
    for rule in &spec.detections {
        check_slug(&mut cx, &rule.name, "detection rule name");
        if let Some(line) = names.insert(rule.name.value.as_str(), rule.name.pos.line) {
            cx.error(
                &rule.name,
                format!("detection rule `{}` is defined twice", rule.name.value),
            )
            .set_help(format!("first defined on line {line}"));
        }
        if let Some(line) =
            display.insert(rule.display_name.value.as_str(), rule.display_name.pos.line)
        {
            cx.error(
                &rule.display_name,
                format!(
                    "detection rule display name `{}` is used twice",
                    rule.display_name.value
                ),
            )
            .set_help(format!(
                "rules are found by display name in each tenant; the other is on line {line}"
            ));
        }
        let full = rule_display_name(&spec.naming.prefix.value, &rule.display_name.value);
        if rule.display_name.value.trim().is_empty() {
            cx.error(&rule.display_name, "detection rule displayName is empty");
        } else if full.chars().count() > MAX_DISPLAY_NAME {
            cx.error(
                &rule.display_name,
                format!(
                    "`{full}` is {} characters long; keep it under {MAX_DISPLAY_NAME}",
                    full.chars().count()
                ),
            );
        }
        if d::frequency_label(&rule.frequency.value).is_none() {
            cx.error(
                &rule.frequency,
                format!(
                    "`{}` is not a frequency Microsoft accepts for custom detections",
                    rule.frequency.value
                ),
            )
            .set_help(format!(
                "use one of: {}",
                FREQUENCIES
                    .iter()
                    .map(|(f, what)| format!("{f} ({what})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        check_severity(&mut cx, &rule.alert.severity);
        if rule.alert.title.value.trim().is_empty() {
            cx.error(&rule.alert.title, "alert title is empty");
        }
        for techniques in rule.alert.mitre.values() {
            for t in techniques {
                if !is_technique(&t.value) {
                    cx.error(
                        t,
                        format!("`{}` is not a MITRE ATT&CK technique id", t.value),
                    )
                    .set_label("expected e.g. T1059 or T1059.001");
                }
            }
        }
        let mut groups = BTreeSet::new();
        for g in &rule.device_groups {
            if g.value.trim().is_empty() {
                cx.error(g, "device group name is empty");
            } else if !groups.insert(g.value.as_str()) {
                cx.error(g, format!("device group `{}` is listed twice", g.value));
            }
        }
        for t in &rule.select.tiers {
            if !spec.tiers.iter().any(|pt| pt.name.value == t.value) {
                cx.error(t, format!("unknown tier `{}`", t.value))
                    .set_label("not defined in this Provider");
            }
        }
        let query = read_query(&mut cx, rule, roots);
        check_actions(&mut cx, rule, query.as_deref());
        if let Some(q) = query {
            queries.insert(rule.name.value.clone(), q);
        }
    }
    queries
}

/// The rule's name in Defender: the MSSP prefix marks the tool's own rules.
pub fn rule_display_name(prefix: &str, display_name: &str) -> String {
    format!("[{prefix}] {display_name}")
}

fn check_severity(cx: &mut Ctx<'_>, sev: &Loc<String>) {
    if !d::SEVERITIES.contains(&sev.value.as_str()) {
        cx.error(sev, format!("`{}` is not an alert severity", sev.value))
            .set_help(format!("use one of: {}", d::SEVERITIES.join(", ")));
    }
}

fn is_technique(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: &[u8]| r.iter().all(u8::is_ascii_digit);
    match b.len() {
        5 => b[0] == b'T' && digits(&b[1..]),
        9 => b[0] == b'T' && digits(&b[1..5]) && b[5] == b'.' && digits(&b[6..]),
        _ => false,
    }
}

/// Reads the rule's `.kql` file (relative to the manifest, kept inside the manifests' folder,
/// like certificate files: a manifest from a pull request must not send another file's content
/// to Microsoft as a query). Query problems are reported at their line and column in the file.
fn read_query(cx: &mut Ctx<'_>, rule: &DetectionRule, roots: &[PathBuf]) -> Option<Arc<str>> {
    let at = &rule.query_file;
    // Read once: a rule validated before (or built by `mssp export` before its file is
    // written) carries its text, which is what later stages send.
    if let Some(text) = &rule.query {
        for p in d::check_required_columns(text) {
            cx.error(
                at,
                format!("{} (line {}, column {})", p.message, p.line, p.column),
            );
        }
        return Some(Arc::clone(text));
    }
    let base = cx
        .file
        .path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let written = Path::new(&at.value);
    let path = base.join(written);
    let text = match read_inside(&base, &path, written.is_absolute(), roots) {
        Ok(t) => t,
        Err(why) => {
            cx.error(at, format!("query file `{}` {why}", at.value))
                .set_help(format!("paths are relative to {}", base.display()));
            return None;
        }
    };
    let meaningful = text
        .lines()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("//"));
    if !meaningful {
        cx.error(at, format!("query file `{}` holds no query", at.value))
            .set_label("empty, or comments only");
        return None;
    }
    let problems = d::check_required_columns(&text);
    if !problems.is_empty() {
        let file = SourceFile::new(path.clone(), text.clone());
        for p in problems {
            cx.diags.push(
                Diagnostic::error(p.message)
                    .at(&file, Pos::new(p.line, p.column, 0))
                    .help(format!(
                        "return `Timestamp`, `ReportId` and a device, user or mailbox column \
                         (e.g. `| project Timestamp, ReportId, DeviceId, …`); rule `{}`",
                        rule.name.value
                    )),
            );
        }
    }
    Some(Arc::from(text))
}

/// Why a query file is not used; the text completes "query file `…` ".
#[derive(Debug, thiserror::Error)]
enum QueryFileError {
    #[error("not found")]
    NotFound,
    #[error("cannot be read: {0}")]
    Unreadable(std::io::Error),
    #[error("is outside the manifests' folder {}", .0.display())]
    Outside(PathBuf),
    #[error("is not a regular file")]
    NotAFile,
    #[error("is larger than {} KiB", MAX_QUERY_BYTES / 1024)]
    TooLarge,
    #[error("is not UTF-8 text")]
    NotUtf8,
}

fn read_inside(
    base: &Path,
    path: &Path,
    absolute: bool,
    roots: &[PathBuf],
) -> Result<String, QueryFileError> {
    let io = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            QueryFileError::NotFound
        } else {
            QueryFileError::Unreadable(e)
        }
    };
    if !absolute {
        let real_base = base.canonicalize().map_err(io)?;
        let fence = roots
            .iter()
            .filter(|r| real_base.starts_with(r))
            .min_by_key(|r| r.components().count())
            .cloned()
            .unwrap_or(real_base);
        let real = path.canonicalize().map_err(io)?;
        if !real.starts_with(&fence) {
            return Err(QueryFileError::Outside(fence));
        }
    }
    // Before opening: opening a FIFO would wait for a writer forever.
    if !std::fs::metadata(path).map_err(io)?.is_file() {
        return Err(QueryFileError::NotAFile);
    }
    let f = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    f.take(MAX_QUERY_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(QueryFileError::Unreadable)?;
    if bytes.len() as u64 > MAX_QUERY_BYTES {
        return Err(QueryFileError::TooLarge);
    }
    String::from_utf8(bytes).map_err(|_| QueryFileError::NotUtf8)
}

fn check_actions(cx: &mut Ctx<'_>, rule: &DetectionRule, query: Option<&str>) {
    for a in &rule.actions {
        let Some(kind) = d::action(&a.action.value) else {
            cx.error(
                &a.action,
                format!("`{}` is not an automated action", a.action.value),
            )
            .set_help(format!(
                "use one of: {}",
                d::ACTIONS
                    .iter()
                    .map(|k| k.property)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            continue;
        };
        for prop in kind.columns {
            match a.column(prop) {
                None => {
                    cx.error(&a.action, format!("`{}` needs `{prop}`", a.action.value));
                }
                Some(col) => {
                    if query.is_some_and(|q| !d::returns_column(q, col)) {
                        cx.error(
                            &a.action,
                            format!(
                                "`{}` acts on column `{col}`, which the query of `{}` does not return",
                                a.action.value, rule.name.value
                            ),
                        )
                        .set_help(format!("project `{col}` in {}", rule.query_file.value));
                    }
                }
            }
        }
        let unused: Vec<&str> = [
            "deviceIdColumn",
            "sha1Column",
            "accountSidColumn",
            "accountObjectIdColumn",
        ]
        .into_iter()
        .filter(|p| a.column(p).is_some() && !kind.columns.contains(p))
        .collect();
        if !unused.is_empty() {
            cx.error(
                &a.action,
                format!(
                    "`{}` takes no {}",
                    a.action.value,
                    unused
                        .iter()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        match (&a.isolation_type, kind.property) {
            (Some(t), "isolateDevices") if t != "full" && t != "selective" => {
                cx.error(
                    &a.action,
                    format!("isolationType `{t}` is neither `full` nor `selective`"),
                );
            }
            (Some(_), p) if p != "isolateDevices" => {
                cx.error(&a.action, "only `isolateDevices` takes an isolationType");
            }
            _ => {}
        }
    }
}

/// Library rules this customer gets (by tier or label), in library order.
pub fn selected<'a>(
    provider: &'a ProviderManifest,
    customer: &CustomerManifest,
) -> Vec<&'a DetectionRule> {
    provider
        .spec
        .detections
        .iter()
        .filter(|r| selects(r, customer))
        .collect()
}

fn selects(rule: &DetectionRule, c: &CustomerManifest) -> bool {
    let sel = &rule.select;
    if sel.tiers.is_empty() && sel.labels.is_empty() {
        return true;
    }
    let by_tier = sel
        .tiers
        .iter()
        .any(|t| c.spec.access.tiers.iter().any(|ct| ct.value == t.value));
    let by_label = !sel.labels.is_empty()
        && sel
            .labels
            .iter()
            .all(|(k, v)| c.metadata.labels.get(k) == Some(v));
    by_tier || by_label
}

/// Checks a customer's exceptions on detection rules and that its cloud offers the API.
/// Returns whether `e` was a detection-rule exception (so the generic check skips it).
pub(super) fn check_exception(
    cx: &mut Ctx<'_>,
    provider: &ProviderManifest,
    customer: &CustomerManifest,
    e: &Exception,
) -> bool {
    let Some(name) = e.resource.value.strip_prefix(ADDRESS_PREFIX) else {
        if let Some(v) = &e.value {
            cx.error(v, "only exceptions on detection rules carry a `value`")
                .set_help("other exceptions accept drift; they do not override");
        }
        return false;
    };
    let rules = selected(provider, customer);
    if !rules.iter().any(|r| r.name.value == name) {
        let known: Vec<&str> = rules.iter().map(|r| r.name.value.as_str()).collect();
        cx.error(
            &e.resource,
            format!("exception names detection rule `{name}`, which this customer does not get"),
        )
        .set_help(if known.is_empty() {
            "no detection rule selects this customer".to_string()
        } else {
            format!("this customer's rules: {}", known.join(", "))
        });
        return true;
    }
    if let Some(field) = &e.field
        && !FIELDS.contains(&field.value.as_str())
    {
        cx.error(
            field,
            format!("a detection rule has no field `{}`", field.value),
        )
        .set_help(format!("fields: {}", FIELDS.join(", ")));
        return true;
    }
    if let Some(v) = &e.value {
        match e.field.as_ref().map(|f| f.value.as_str()) {
            Some("status") => {
                if !d::STATUSES.contains(&v.value.as_str()) {
                    cx.error(v, format!("`{}` is not a rule status", v.value))
                        .set_help(format!("use one of: {}", d::STATUSES.join(", ")));
                }
            }
            Some("severity") => check_severity(cx, v),
            _ => {
                cx.error(v, "an override needs `field: status` or `field: severity`");
            }
        }
    }
    true
}

/// Custom detection rules exist only in Microsoft's global service.
pub(super) fn check_cloud(
    cx: &mut Ctx<'_>,
    provider: &ProviderManifest,
    customer: &CustomerManifest,
) {
    let cloud = customer
        .spec
        .cloud
        .as_ref()
        .map_or(provider.spec.cloud, |c| c.value);
    let rules = selected(provider, customer);
    if cloud != crate::cloud::Cloud::Public && !rules.is_empty() {
        let names: BTreeSet<&str> = rules.iter().map(|r| r.name.value.as_str()).collect();
        cx.error(
            &customer.metadata.name,
            format!(
                "customer `{}` is in the {cloud} cloud, where Microsoft offers no custom detection rules API",
                customer.metadata.name.value
            ),
        )
        .set_help(format!(
            "rules selecting it: {}; narrow their `select`",
            names.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
}

/// An override in force on `today` for one field of one rule, from the customer's exceptions.
pub fn override_value<'a>(
    customer: &'a CustomerManifest,
    rule: &str,
    field: &str,
    today: jiff::civil::Date,
) -> Option<&'a str> {
    customer.spec.exceptions.iter().find_map(|e| {
        let named = e.resource.value.strip_prefix(ADDRESS_PREFIX) == Some(rule)
            && e.field.as_ref().is_some_and(|f| f.value == field);
        let current = parse_date(&e.expires.value).is_some_and(|d| d >= today);
        (named && current)
            .then(|| e.value.as_ref().map(|v| v.value.as_str()))
            .flatten()
    })
}
