//! Export's share of the detection library: a customer's hand-made custom detection rules become
//! library entries, one `.kql` file per distinct query shared by every customer exported, and
//! this customer's selection of them (docs/detection-rules.md, "Adopting existing rules").
//!
//! Each export sees what earlier ones wrote (the `.kql` files and the fragment of entries the
//! Provider does not hold yet), so N customers exported one after the other end with one
//! library. A rule whose query matches an entry (after [`d::normalise_query`]) reuses it; the
//! customer gets the entry's selection label and the rule is pinned by id (`spec.adopt`), so the
//! next apply renames it to the owned `[<prefix>] <displayName>` in place, history kept.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::detections as d;
use crate::graph::{Service, TenantGraph, Version};
use crate::manifest::{
    CustomerManifest, DetectionAlert, DetectionRule, DetectionSelect, Loc, ProviderManifest,
    ResponseAction, Sourced,
};
use crate::model::observe::str_of;
use crate::plan::{Action, Op};
use crate::validate::detections::{ADDRESS_PREFIX, rule_display_name, selected};

/// Where adopted queries are written, relative to the Provider manifest's folder.
pub(crate) const LIBRARY_DIR: &str = "detections";
/// The entries export adopted that the Provider does not hold yet, in the library folder. Not
/// `.yaml`: a directory of manifests is loaded recursively, and this is not a manifest.
pub const FRAGMENT: &str = "exported-detections.yaml.fragment";
/// Adopted entries select their customers by this label (`detection.<name>: adopted`): exactly
/// the customers whose tenant had the rule, which no tier can say.
const LABEL_PREFIX: &str = "detection.";
const LABEL_VALUE: &str = "adopted";

/// A file export writes into the library folder.
#[derive(Debug, Clone, Serialize)]
pub struct LibraryFile {
    pub path: PathBuf,
    #[serde(skip)]
    pub text: String,
}

/// One hand-made rule of the tenant taken into the library.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdoptedRule {
    /// The rule's id in the tenant (pinned by `spec.adopt`).
    pub id: String,
    /// Its display name as found.
    pub display_name: String,
    /// The library entry (`detection-rule/<entry>`).
    pub entry: String,
    /// Whether the entry existed (same query in the Provider or an earlier export).
    pub reused: bool,
}

/// What the tenant's rules gave the draft.
#[derive(Debug, Default)]
pub(super) struct Adoption {
    /// New entries (not in the Provider nor the fragment), to validate and plan the draft with.
    pub entries: Vec<DetectionRule>,
    /// Selection labels the customer gets.
    pub labels: BTreeMap<String, String>,
    /// `spec.adopt` pins: (resource, rule id).
    pub pins: Vec<(String, String)>,
    pub rules: Vec<AdoptedRule>,
    /// New `.kql` files and the rewritten fragment.
    pub files: Vec<LibraryFile>,
    pub unplaceable: Vec<String>,
    pub notes: Vec<String>,
}

/// Where an entry of the library comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Provider,
    Fragment,
    New,
}

struct Entry {
    rule: DetectionRule,
    query: String,
    origin: Origin,
}

#[derive(Deserialize)]
struct Fragment {
    #[serde(default)]
    detections: Vec<DetectionRule>,
}

/// Reads the tenant's rules and places each hand-made one in the library.
pub(super) async fn adopt(
    tg: &TenantGraph,
    provider: &Sourced<ProviderManifest>,
    pending: &BTreeSet<String>,
    customer: &CustomerManifest,
) -> Adoption {
    let mut out = Adoption::default();
    let found = match tg
        .list(
            Service::Graph(Version::V1),
            "/security/rules/detectionRules",
        )
        .await
    {
        Ok(rules) => rules,
        Err(e) => {
            out.notes.push(format!(
                "custom detection rules were not read ({e}); grant CustomDetection.Read.All and export again to adopt them"
            ));
            return out;
        }
    };
    let p = &provider.doc;
    let base = provider
        .file
        .path
        .parent()
        .filter(|b| !b.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let mut library: Vec<Entry> = p
        .spec
        .detections
        .iter()
        .filter_map(|r| {
            Some(Entry {
                query: d::normalise_query(r.query.as_deref()?),
                rule: r.clone(),
                origin: if pending.contains(&r.name.value) {
                    Origin::Fragment
                } else {
                    Origin::Provider
                },
            })
        })
        .collect();
    let mut taken_files = kql_stems(&base.join(LIBRARY_DIR));
    let mark = rule_display_name(&p.spec.naming.prefix.value, "");
    let mut customer = customer.clone();
    let mut used: BTreeMap<String, String> = BTreeMap::new();
    let mut rules: Vec<&Value> = found
        .iter()
        .filter(|r| !str_of(r, "displayName").starts_with(&mark))
        .collect();
    rules.sort_by_key(|r| (str_of(r, "displayName"), str_of(r, "id")));
    for r in rules {
        let (id, shown) = (str_of(r, "id"), str_of(r, "displayName"));
        let what = format!("detection rule \"{shown}\" ({id})");
        let text = r
            .pointer("/queryCondition/queryText")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let query = d::normalise_query(text);
        let reuse = library.iter().position(|e| e.query == query);
        let index = match reuse {
            Some(i) => i,
            None => match new_entry(r, &query, &library, &taken_files) {
                Ok(rule) => {
                    taken_files.insert(rule.name.value.clone());
                    out.files.push(LibraryFile {
                        path: base.join(&rule.query_file.value),
                        text: format!("{query}\n"),
                    });
                    library.push(Entry {
                        rule,
                        query,
                        origin: Origin::New,
                    });
                    library.len() - 1
                }
                Err(why) => {
                    out.unplaceable.push(format!("{what}: {why}; left out"));
                    continue;
                }
            },
        };
        let entry = &library[index];
        let name = entry.rule.name.value.clone();
        if let Some(first) = used.get(&name) {
            out.unplaceable.push(format!(
                "{what}: same query as rule {first}, adopted as `{ADDRESS_PREFIX}{name}`; left out (delete the twin)"
            ));
            continue;
        }
        let selects = |c: &CustomerManifest| selected(p, c).iter().any(|s| s.name.value == name);
        if !(entry.origin == Origin::Provider && selects(&customer)) {
            // Entries of the fragment and new ones select by their label; so may a Provider
            // entry adopted before and pasted in.
            match adoption_label(&entry.rule) {
                Some((k, v)) => {
                    customer.metadata.labels.insert(k.clone(), v.clone());
                    out.labels.insert(k, v);
                }
                None => {
                    out.unplaceable.push(format!(
                        "{what}: same query as library rule `{name}`, whose select does not reach this customer; add the customer to it and export again"
                    ));
                    continue;
                }
            }
        }
        used.insert(name.clone(), format!("\"{shown}\" ({id})"));
        out.pins
            .push((format!("{ADDRESS_PREFIX}{name}"), id.to_string()));
        out.rules.push(AdoptedRule {
            id: id.to_string(),
            display_name: shown.to_string(),
            entry: name,
            reused: entry.origin != Origin::New,
        });
    }
    let unpasted: Vec<DetectionRule> = library
        .into_iter()
        .filter(|e| e.origin != Origin::Provider)
        .map(|e| e.rule)
        .collect();
    if !out.files.is_empty() {
        out.files.push(LibraryFile {
            path: base.join(LIBRARY_DIR).join(FRAGMENT),
            text: fragment_yaml(&unpasted),
        });
    }
    // The loaded Provider holds the fragment's entries already; the draft needs the new ones.
    out.entries = unpasted
        .into_iter()
        .filter(|r| !pending.contains(&r.name.value))
        .collect();
    out
}

/// Adds the entries of the fragment earlier exports wrote (and nobody pasted into the Provider
/// yet) to the loaded Provider, so customers exported earlier validate, and returns their names.
pub(crate) fn include_pending(loaded: &mut crate::manifest::LoadOutcome) -> BTreeSet<String> {
    let [provider] = loaded.set.providers.as_mut_slice() else {
        return BTreeSet::new();
    };
    let path = provider
        .file
        .path
        .parent()
        .filter(|b| !b.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(LIBRARY_DIR)
        .join(FRAGMENT);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return BTreeSet::new();
    };
    let fragment: Fragment = match serde_saphyr::from_str(&text) {
        Ok(f) => f,
        Err(e) => {
            loaded
                .diagnostics
                .push(crate::diagnostics::Diagnostic::warning(format!(
                    "{} is not a detection library fragment ({e}); its entries were left out",
                    path.display()
                )));
            return BTreeSet::new();
        }
    };
    let mut names = BTreeSet::new();
    for r in fragment.detections {
        let known = provider
            .doc
            .spec
            .detections
            .iter()
            .any(|x| x.name.value == r.name.value);
        if !known {
            names.insert(r.name.value.clone());
            provider.doc.spec.detections.push(r);
        }
    }
    names
}

/// Loads and validates manifests for `mssp export`, with the entries earlier exports left in
/// the fragment ([`include_pending`]); also returns those entries' names.
pub fn load_for_export(
    paths: &[PathBuf],
) -> (
    Option<crate::validate::Validated>,
    crate::diagnostics::Diagnostics,
    BTreeSet<String>,
) {
    let mut loaded = crate::manifest::load_paths(&crate::engine::resolved_paths(paths));
    let pending = include_pending(&mut loaded);
    let (v, diags, _) = crate::engine::validate_loaded(loaded);
    (v, diags, pending)
}

/// Names of the `.kql` files already in the library folder (never overwritten).
fn kql_stems(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            (p.extension() == Some("kql".as_ref()))
                .then(|| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .flatten()
        })
        .collect()
}

/// The one label an adopted entry selects its customers by.
fn adoption_label(rule: &DetectionRule) -> Option<(String, String)> {
    match (rule.select.tiers.is_empty(), rule.select.labels.len()) {
        (true, 1) => rule
            .select
            .labels
            .iter()
            .find(|(k, _)| k.starts_with(LABEL_PREFIX))
            .map(|(k, v)| (k.clone(), v.clone())),
        _ => None,
    }
}

/// Why the library cannot hold a rule found in a tenant (export lists it as left out).
#[derive(Debug, thiserror::Error)]
enum Unplaceable {
    #[error("it has no query")]
    NoQuery,
    #[error("{message} (line {line}, column {column}; mssp's textual check)")]
    Columns {
        message: String,
        line: u32,
        column: u32,
    },
    #[error("its frequency `{0}` is not one mssp offers (a Sentinel-only custom frequency?)")]
    Frequency(String),
    #[error("its alert severity `{0}` is not one mssp offers")]
    Severity(String),
    #[error("its automated action `{0}` is not one mssp manages")]
    Action(String),
    #[error("its action `{property}` names no column the query returns ({column})")]
    ActionColumn { property: String, column: String },
}

/// A library entry from a rule found in a tenant, or why the library cannot hold it.
fn new_entry(
    r: &Value,
    query: &str,
    library: &[Entry],
    taken_files: &BTreeSet<String>,
) -> Result<DetectionRule, Unplaceable> {
    let s = |v: &str| Loc::synthetic(v.to_string());
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
    };
    if query.trim().is_empty() {
        return Err(Unplaceable::NoQuery);
    }
    if let Some(p) = d::check_required_columns(query).first() {
        return Err(Unplaceable::Columns {
            message: p.message.clone(),
            line: p.line,
            column: p.column,
        });
    }
    let frequency = r
        .pointer("/schedule/frequency")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if d::frequency_label(frequency).is_none() {
        return Err(Unplaceable::Frequency(frequency.to_string()));
    }
    let template = r.pointer("/detectionAction/alertTemplate");
    let severity = template
        .and_then(|t| t.get("severity"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !d::SEVERITIES.contains(&severity) {
        return Err(Unplaceable::Severity(severity.to_string()));
    }
    let shown = str_of(r, "displayName").trim();
    let mut mitre: BTreeMap<String, Vec<Loc<String>>> = BTreeMap::new();
    for t in template
        .and_then(|t| t.get("tactics"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let techniques = t
            .get("techniques")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|x| s(str_of(x, "technique")));
        mitre
            .entry(str_of(t, "tactic").to_string())
            .or_default()
            .extend(techniques);
    }
    let actions = actions_of(r, query)?;
    let taken = |n: &str| taken_files.contains(n) || library.iter().any(|e| e.rule.name.value == n);
    let stem: String = crate::expand::slug(shown).chars().take(48).collect();
    let stem = match stem.trim_end_matches('-') {
        "" => "rule".to_string(),
        t => t.to_string(),
    };
    let name = (1..)
        .map(|n| {
            if n == 1 {
                stem.clone()
            } else {
                format!("{stem}-{n}")
            }
        })
        .find(|n| !taken(n))
        .unwrap_or(stem);
    let shown_taken = |n: &str| library.iter().any(|e| e.rule.display_name.value == n);
    let display_name = (1..)
        .map(|n| {
            if n == 1 {
                shown.to_string()
            } else {
                format!("{shown} ({n})")
            }
        })
        .find(|n| !shown_taken(n))
        .unwrap_or_else(|| shown.to_string());
    Ok(DetectionRule {
        display_name: s(&display_name),
        description: text(r.get("description")),
        query_file: s(&format!("{LIBRARY_DIR}/{name}.kql")),
        frequency: s(frequency),
        // A rule the service switched off keeps the library's intent: it was meant to run.
        enabled: str_of(r, "status") != "disabled",
        alert: DetectionAlert {
            title: s(
                &text(template.and_then(|t| t.get("title"))).unwrap_or_else(|| shown.to_string())
            ),
            description: text(template.and_then(|t| t.get("description"))).unwrap_or_default(),
            severity: s(severity),
            recommended_actions: text(template.and_then(|t| t.get("recommendedActions"))),
            mitre,
        },
        device_groups: r
            .pointer("/detectionAction/organizationalScope/deviceGroups")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(s)
            .collect(),
        actions,
        select: DetectionSelect {
            tiers: vec![],
            labels: BTreeMap::from([(format!("{LABEL_PREFIX}{name}"), LABEL_VALUE.to_string())]),
        },
        query: Some(Arc::from(format!("{query}\n"))),
        name: s(&name),
    })
}

/// The rule's automated actions, when mssp manages every one of them (an apply would otherwise
/// drop the others).
fn actions_of(r: &Value, query: &str) -> Result<Vec<ResponseAction>, Unplaceable> {
    let mut out = Vec::new();
    let Some(set) = r
        .pointer("/detectionAction/automatedActions")
        .and_then(Value::as_object)
    else {
        return Ok(out);
    };
    for (property, list) in set {
        let Some(list) = list.as_array().filter(|l| !l.is_empty()) else {
            continue;
        };
        let Some(kind) = d::action(property) else {
            return Err(Unplaceable::Action(property.clone()));
        };
        for a in list {
            let col = |p: &str| a.get(p).and_then(Value::as_str).map(str::to_string);
            for p in kind.columns {
                match col(p) {
                    Some(c) if d::returns_column(query, &c) => {}
                    _ => {
                        return Err(Unplaceable::ActionColumn {
                            property: property.clone(),
                            column: (*p).to_string(),
                        });
                    }
                }
            }
            out.push(ResponseAction {
                action: Loc::synthetic(property.clone()),
                device_id_column: col("deviceIdColumn"),
                sha1_column: col("sha1Column"),
                account_sid_column: col("accountSidColumn"),
                account_object_id_column: col("accountObjectIdColumn"),
                isolation_type: (property == "isolateDevices")
                    .then(|| col("isolationType"))
                    .flatten(),
            });
        }
    }
    Ok(out)
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The entries as the block to paste under the Provider's `spec:`.
fn fragment_yaml(entries: &[DetectionRule]) -> String {
    let mut y = String::from(
        "# Detection rules adopted by `mssp export` that the Provider does not hold yet.\n\
         # Paste this block under `spec:` of the Provider manifest (merge it into an existing\n\
         # `detections:` list), then delete this file. Later exports reuse these entries.\n",
    );
    y.push_str("  detections:\n");
    for r in entries {
        y.push_str(&format!("    - name: {}\n", q(&r.name.value)));
        y.push_str(&format!(
            "      displayName: {}\n",
            q(&r.display_name.value)
        ));
        if let Some(dsc) = &r.description {
            y.push_str(&format!("      description: {}\n", q(dsc)));
        }
        y.push_str(&format!("      queryFile: {}\n", q(&r.query_file.value)));
        y.push_str(&format!("      frequency: {}\n", q(&r.frequency.value)));
        y.push_str(&format!("      enabled: {}\n", r.enabled));
        y.push_str("      alert:\n");
        y.push_str(&format!("        title: {}\n", q(&r.alert.title.value)));
        y.push_str(&format!(
            "        description: {}\n",
            q(&r.alert.description)
        ));
        y.push_str(&format!(
            "        severity: {}\n",
            q(&r.alert.severity.value)
        ));
        if let Some(ra) = &r.alert.recommended_actions {
            y.push_str(&format!("        recommendedActions: {}\n", q(ra)));
        }
        if !r.alert.mitre.is_empty() {
            y.push_str("        mitre:\n");
            for (tactic, techniques) in &r.alert.mitre {
                let list: Vec<String> = techniques.iter().map(|t| q(&t.value)).collect();
                y.push_str(&format!("          {}: [{}]\n", q(tactic), list.join(", ")));
            }
        }
        if !r.device_groups.is_empty() {
            let list: Vec<String> = r.device_groups.iter().map(|g| q(&g.value)).collect();
            y.push_str(&format!("      deviceGroups: [{}]\n", list.join(", ")));
        }
        if !r.actions.is_empty() {
            y.push_str("      actions:\n");
            for a in &r.actions {
                y.push_str(&format!("        - action: {}\n", q(&a.action.value)));
                for (key, v) in [
                    ("deviceIdColumn", &a.device_id_column),
                    ("sha1Column", &a.sha1_column),
                    ("accountSidColumn", &a.account_sid_column),
                    ("accountObjectIdColumn", &a.account_object_id_column),
                    ("isolationType", &a.isolation_type),
                ] {
                    if let Some(v) = v {
                        y.push_str(&format!("          {key}: {}\n", q(v)));
                    }
                }
            }
        }
        y.push_str("      select:\n        labels:\n");
        for (k, v) in &r.select.labels {
            y.push_str(&format!("          {}: {}\n", q(k), q(v)));
        }
    }
    y
}

/// How a difference the draft's plan shows on a rule is kept: `None` when it is not (the
/// rename of an adopted rule is the documented change, and other fields would be overwritten
/// by that rename's update), `Some(None)` as accepted drift, `Some(Some(v))` as an override.
pub(super) fn kept(address: &str, field: &str, live: &Value) -> Option<Option<String>> {
    if !address.starts_with(ADDRESS_PREFIX) {
        return Some(None);
    }
    let live = live.as_str()?;
    let valid = match field {
        "status" => d::STATUSES.contains(&live),
        "severity" => d::SEVERITIES.contains(&live),
        _ => false,
    };
    valid.then(|| Some(live.to_string()))
}

/// The line `remaining` shows for an update of an adopted rule: its rename, and where it
/// differs from the library entry it reuses (alert, frequency, …), the entry's values.
pub(super) fn remaining_note(a: &Action) -> Option<String> {
    (a.op == Op::Update && a.address.starts_with(ADDRESS_PREFIX)).then(|| {
        let changes: Vec<String> = a
            .changes
            .iter()
            .map(|c| format!("{} {} → {}", c.field, c.before, c.after))
            .collect();
        format!(
            "update {}: {} (an adopted rule takes its owned name and the library entry's values on the next apply; its id and history are kept)",
            a.address,
            changes.join("; ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fragment_reads_back_as_the_entries_it_holds() {
        let rule = new_entry(
            &serde_json::json!({
                "id": "7", "displayName": "Encoded PowerShell", "status": "disabled",
                "schedule": {"frequency": "PT1H"},
                "detectionAction": {"alertTemplate": {"title": "t", "severity": "high",
                    "tactics": [{"tactic": "Execution", "techniques": [{"technique": "T1059.001"}]}]},
                    "automatedActions": {"isolateDevices": [{"deviceIdColumn": "DeviceId", "isolationType": "full"}]}}
            }),
            "T | project Timestamp, ReportId, DeviceId",
            &[],
            &BTreeSet::new(),
        )
        .unwrap();
        assert_eq!(rule.name.value, "encoded-powershell");
        assert!(!rule.enabled);
        let back: Fragment = serde_saphyr::from_str(&fragment_yaml(&[rule])).unwrap();
        let r = &back.detections[0];
        assert_eq!(r.query_file.value, "detections/encoded-powershell.kql");
        assert_eq!(r.alert.mitre["Execution"][0].value, "T1059.001");
        assert_eq!(r.actions[0].isolation_type.as_deref(), Some("full"));
        assert_eq!(r.select.labels["detection.encoded-powershell"], LABEL_VALUE);
    }

    #[test]
    fn actions_mssp_does_not_manage_keep_a_rule_out() {
        let r = serde_json::json!({"displayName": "x", "schedule": {"frequency": "PT1H"},
            "detectionAction": {"alertTemplate": {"title": "t", "severity": "low"},
                "automatedActions": {"blockFiles": [{"sha256Column": "SHA256"}]}}});
        let why = new_entry(&r, "T", &[], &BTreeSet::new()).unwrap_err();
        assert!(why.to_string().contains("blockFiles"), "{why}");
    }
}
