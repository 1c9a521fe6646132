//! `/security/rules/detectionRules` (v1.0 and beta): Defender XDR custom detection rules.
//!
//! Create takes a client-chosen `id` and answers 201; update is PATCH answered 200 with the
//! rule; delete answers 204. Bodies are checked against the hand-written types in
//! `csdl::BETA_TYPES`, then against what Microsoft documents a rule must satisfy (a schedule it
//! offers, the columns a detection query must return, automated actions whose columns the
//! query returns), using the same table the tool validates manifests with
//! ([`crate::detections`]). Microsoft does not publish these error bodies; their wording here is
//! the sandbox's (docs/detection-rules.md says so).

use serde_json::{Value, json};

use super::{ApiRequest, Ctx, Resp, Result};
use crate::detections;
use crate::sandbox::csdl::{self, Mode};
use crate::sandbox::errors::GraphError;
use crate::sandbox::state::{DETECTION_RULES, Entry, iso};
use crate::sandbox::world::Scope;

const TYPE: &str = "microsoft.graph.security.detectionRule";
const SET: &str = "security/rules/detectionRules";
/// Who the sandbox records as author (the tool's app; there is only one client).
const AUTHOR: &str = "mssp provisioning";

fn invalid(message: impl Into<String>) -> GraphError {
    GraphError::new(400, "BadRequest", message)
}

pub(crate) fn list(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, _: &[String]) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    let rules = super::service_rules(TYPE, &["id", "displayName", "status", "createdBy"]);
    super::list(
        ctx,
        req,
        super::visible_items(t, DETECTION_RULES, ctx.now, None),
        &rules,
        SET,
    )
}

pub(crate) fn get(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    super::get_one(
        ctx,
        req,
        SET,
        TYPE,
        &super::visible(t, DETECTION_RULES, &args[0], ctx.now)?.v,
    )
}

/// The rule-level checks, on the merged rule (so a PATCH of the query alone is checked against
/// the actions already configured).
fn check_rule(rule: &Value) -> Result<()> {
    if let Some(status) = rule.get("status").and_then(Value::as_str)
        && !detections::STATUSES.contains(&status)
    {
        return Err(invalid(format!(
            "The value '{status}' is not valid for property 'status'; a client may set: {}.",
            detections::STATUSES.join(", ")
        )));
    }
    if let Some(f) = rule.pointer("/schedule/frequency").and_then(Value::as_str)
        && detections::frequency_label(f).is_none()
    {
        return Err(invalid(format!(
            "The schedule frequency '{f}' is not supported. Supported values: {}.",
            detections::FREQUENCIES
                .iter()
                .map(|(f, _)| *f)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if let Some(sev) = rule
        .pointer("/detectionAction/alertTemplate/severity")
        .and_then(Value::as_str)
        && !detections::SEVERITIES.contains(&sev)
    {
        return Err(invalid(format!(
            "The value '{sev}' is not valid for property 'severity'."
        )));
    }
    let query = rule
        .pointer("/queryCondition/queryText")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if query.trim().is_empty() {
        return Err(invalid(
            "The query text of a detection rule cannot be empty.",
        ));
    }
    if let Some(p) = detections::check_required_columns(query).first() {
        return Err(invalid(format!(
            "The query is not valid for a custom detection rule: {} (line {}, column {}).",
            p.message, p.line, p.column
        )));
    }
    if let Some(Value::Object(set)) = rule.pointer("/detectionAction/automatedActions") {
        for (property, entries) in set {
            let Some(kind) = detections::action(property) else {
                return Err(invalid(format!(
                    "The automated action '{property}' is not supported by this service."
                )));
            };
            for entry in entries.as_array().into_iter().flatten() {
                for col_prop in kind.columns {
                    let column = entry.get(*col_prop).and_then(Value::as_str).unwrap_or("");
                    if column.is_empty() {
                        return Err(invalid(format!(
                            "The automated action '{property}' requires '{col_prop}'."
                        )));
                    }
                    if !detections::returns_column(query, column) {
                        return Err(invalid(format!(
                            "The automated action '{property}' uses column '{column}', which the query does not return."
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn create(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    _: &[String],
) -> Result<Resp> {
    let body = req.body();
    csdl::validate(TYPE, &body, Mode::Create)?;
    super::require(
        &body,
        &["id", "displayName", "queryCondition", "schedule", "status"],
        "DetectionRule",
    )?;
    check_rule(&body)?;
    let id = body
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let t = super::tenant_mut(st, ctx)?;
    // The id is the client's: a second create with it is a conflict, even while replicating.
    if t.find(DETECTION_RULES, &id).is_some() {
        return Err(GraphError::new(
            409,
            "Conflict",
            format!("A detection rule with id '{id}' already exists."),
        ));
    }
    let now = iso(ctx.now);
    let mut v = json!({
        "id": id, "displayName": null, "description": null, "status": "enabled",
        "createdBy": AUTHOR, "createdDateTime": now, "lastModifiedBy": AUTHOR, "lastModifiedDateTime": now,
        "queryCondition": {"queryText": null}, "schedule": {"frequency": null},
        "detectionAction": {"alertTemplate": null, "automatedActions": null, "organizationalScope": null},
    });
    super::merge(&mut v, &body);
    t.insert(
        DETECTION_RULES,
        Entry {
            v: v.clone(),
            visible_at_ms: ctx.visible_at(),
            parent: None,
            origin: None,
        },
    );
    super::created(super::entity(ctx, SET, &v))
}

pub(crate) fn patch(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let body = req.body();
    csdl::validate(TYPE, &body, Mode::Update)?;
    let t = super::tenant_mut(st, ctx)?;
    let e = super::visible_mut(t, DETECTION_RULES, &args[0], ctx.now)?;
    let mut merged = e.v.clone();
    super::merge(&mut merged, &body);
    check_rule(&merged)?;
    merged["lastModifiedDateTime"] = json!(iso(ctx.now));
    merged["lastModifiedBy"] = json!(AUTHOR);
    e.v = merged;
    let v = e.v.clone();
    super::ok(super::entity(ctx, SET, &v))
}

pub(crate) fn delete(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    _: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let t = super::tenant_mut(st, ctx)?;
    super::visible(t, DETECTION_RULES, &args[0], ctx.now)?;
    t.remove(DETECTION_RULES, &args[0]);
    super::no_content()
}
