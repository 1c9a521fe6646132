//! Custom detection rules (Graph v1.0 `security/rules/detectionRules`) from the provider's
//! detection library: docs/detection-rules.md.
//!
//! Natural key: the display name `[<prefix>] <name>`, which marks the tool's rules; a rule
//! without the prefix (made by hand in the portal) is never read as one of these, so never
//! changed or deleted. Disabling is an update of `status`; deletion is pruning (`--allow-delete`).

use serde::Serialize;
use serde_json::{Value, json};

use crate::graph::Version;
use crate::graph::write::{Collection, WriteError, Writer};
use crate::kinds::{ObserveContext, Permissions, ResourceKind};
use crate::model::observe::{Observed, Read, Snapshot, single, str_of};
use crate::model::{Address, Ids, ObserveError};

const RULES: Collection = Collection::new(Version::V1, "security/rules/detectionRules");
/// Where the plan's read of the tenant's rules lands in the snapshot (the report reuses it).
pub(crate) const KEY: &str = "detection-rules";

/// One library rule as this customer gets it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectionRuleSpec {
    /// The id the tool gives the rule at creation (`<prefix>-<name>`).
    pub id: String,
    pub display_name: String,
    /// The create body (`crate::detections::desired`).
    pub body: Value,
    /// The id of a hand-made rule taken over (`spec.adopt`, written by `mssp export`): found by
    /// id until the next apply renames it to `display_name`, and by either afterwards.
    pub adopt_id: Option<String>,
}

impl DetectionRuleSpec {
    fn update_body(&self) -> Value {
        let mut b = self.body.clone();
        if let Some(o) = b.as_object_mut() {
            o.remove("id");
        }
        // A PATCH leaves out what it does not send: a scope the library no longer declares is
        // cleared explicitly (every device again).
        if let Some(action) = b.get_mut("detectionAction").and_then(Value::as_object_mut) {
            action.entry("organizationalScope").or_insert(Value::Null);
        }
        b
    }
}

/// The compared fields, from a rule as Graph renders it (or as the tool would send it).
fn view_of(rule: &Value) -> Value {
    let template = rule.pointer("/detectionAction/alertTemplate");
    let get = |v: Option<&Value>, k: &str| v.and_then(|t| t.get(k)).cloned().unwrap_or(Value::Null);
    let actions = rule
        .pointer("/detectionAction/automatedActions")
        .and_then(Value::as_object)
        .map(|m| {
            // Graph renders every action list, empty ones included: compare the non-empty ones.
            let kept: serde_json::Map<String, Value> = m
                .iter()
                .filter(|(_, v)| v.as_array().is_some_and(|a| !a.is_empty()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Value::Object(kept)
        })
        .unwrap_or_else(|| json!({}));
    let non_empty = |v: Value| {
        if v.as_str() == Some("") {
            Value::Null
        } else {
            v
        }
    };
    json!({
        "displayName": rule.get("displayName").cloned().unwrap_or(Value::Null),
        "status": rule.get("status").cloned().unwrap_or(Value::Null),
        "query": rule
            .pointer("/queryCondition/queryText")
            .and_then(Value::as_str)
            .map_or(Value::Null, |q| Value::String(crate::detections::normalise_query(q))),
        "frequency": rule.pointer("/schedule/frequency").cloned().unwrap_or(Value::Null),
        "severity": get(template, "severity"),
        "alert": {
            "title": get(template, "title"),
            "description": get(template, "description"),
            "recommendedActions": non_empty(get(template, "recommendedActions")),
            "tactics": get(template, "tactics"),
        },
        "actions": actions,
        "deviceGroups": device_groups(rule),
        "description": non_empty(rule.get("description").cloned().unwrap_or(Value::Null)),
    })
}

/// `[<prefix>] `, the start of every display name the tool gives a rule.
fn owner_mark(display_name: &str) -> Option<&str> {
    let end = display_name.find("] ")?;
    display_name
        .starts_with('[')
        .then(|| &display_name[..end + 2])
        .filter(|m| m.len() > 3)
}

/// `organizationalScope.deviceGroups` as a sorted list; none (null scope) is every device.
fn device_groups(rule: &Value) -> Value {
    let mut groups: Vec<&str> = rule
        .pointer("/detectionAction/organizationalScope/deviceGroups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    groups.sort_unstable();
    json!(groups)
}

fn find<'a>(
    spec: &DetectionRuleSpec,
    items: &'a [Value],
) -> Result<Option<&'a Value>, ObserveError> {
    let matching = items.iter().filter(|r| {
        str_of(r, "displayName") == spec.display_name
            || spec
                .adopt_id
                .as_deref()
                .is_some_and(|id| str_of(r, "id").eq_ignore_ascii_case(id))
    });
    let found = single(
        format!("detection rule \"{}\"", spec.display_name),
        matching,
    )?;
    if found.is_none()
        && let Some(id) = &spec.adopt_id
    {
        return Err(crate::model::adopted_missing("detection rule", id));
    }
    Ok(found)
}

impl ResourceKind for DetectionRuleSpec {
    const NAME: &'static str = "detection-rule";
    const READ_PERMISSIONS: Permissions =
        &[&["CustomDetection.Read.All", "CustomDetection.ReadWrite.All"]];
    const WRITE_PERMISSIONS: Permissions = &[&["CustomDetection.ReadWrite.All"]];
    const FIELDS: &'static [&'static str] = crate::validate::detections::FIELDS;
    const ADOPTABLE: bool = true;

    fn read_by_id(id: &str) -> Option<(Version, String)> {
        RULES.read_by_id(id)
    }

    fn reads(&self, _ids: &Ids) -> Vec<Read> {
        vec![RULES.read_all(KEY)]
    }

    fn observe(&self, cx: &ObserveContext<'_>) -> Result<Observed, ObserveError> {
        let Some(items) = cx.snap.items(KEY) else {
            return Ok(Observed::Unknown);
        };
        Ok(match find(self, items)? {
            None => Observed::Absent,
            Some(v) => Observed::Present {
                id: str_of(v, "id").to_string(),
                view: view_of(v),
            },
        })
    }

    fn view(&self, _ids: &Ids) -> Value {
        view_of(&self.body)
    }

    fn adoption_hint(&self, _address: &str, _snap: &Snapshot) -> Option<String> {
        None
    }

    /// Rules carrying the `[<prefix>] ` mark that no library rule names: removed from the
    /// library, so no manifest can name them, yet still the tool's. Hand-made rules lack the
    /// mark and are never among them. The mark is known from the library's own rules, so a
    /// library emptied entirely reads no rules at all (docs/detection-rules.md).
    fn leftovers(ours: &[&Self], snap: &Snapshot) -> Vec<(String, Self)> {
        let Some(mark) = ours.iter().find_map(|s| owner_mark(&s.display_name)) else {
            return vec![];
        };
        let Some(items) = snap.items(KEY) else {
            return vec![];
        };
        let prefix = &mark[1..mark.len() - 2];
        let mut names: Vec<String> = ours
            .iter()
            .map(|s| {
                s.id.strip_prefix(&format!("{prefix}-"))
                    .unwrap_or(&s.id)
                    .to_string()
            })
            .collect();
        let mut out = Vec::new();
        for r in items {
            let (id, shown) = (str_of(r, "id"), str_of(r, "displayName"));
            let named = ours.iter().any(|s| {
                s.display_name == shown
                    || s.adopt_id
                        .as_deref()
                        .is_some_and(|a| a.eq_ignore_ascii_case(id))
            });
            if !shown.starts_with(mark) || named {
                continue;
            }
            // The library name the rule was created under (its id is `<prefix>-<name>`), else
            // one from its display name; never an address the universe or another uses.
            let base = id
                .strip_prefix(&format!("{prefix}-"))
                .filter(|n| !n.is_empty())
                .map_or_else(|| crate::expand::slug(&shown[mark.len()..]), str::to_string);
            let name = (1..)
                .map(|n| {
                    if n == 1 {
                        base.clone()
                    } else {
                        format!("{base}-{n}")
                    }
                })
                .find(|n| !names.contains(n))
                .unwrap_or(base);
            names.push(name.clone());
            out.push((
                name,
                DetectionRuleSpec {
                    id: id.to_string(),
                    display_name: shown.to_string(),
                    body: r.clone(),
                    adopt_id: None,
                },
            ));
        }
        out
    }

    async fn create(&self, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        RULES
            .create(w, at, &self.body, RULES.path, |items| {
                items
                    .iter()
                    .find(|r| str_of(r, "displayName") == self.display_name)
            })
            .await
    }

    async fn update(&self, id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        RULES.patch(w, at, id, &self.update_body()).await
    }

    async fn delete(&self, id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        RULES.delete(w, at, id).await
    }
}
