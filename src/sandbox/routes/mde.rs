//! Defender for Endpoint API `GET /api/alerts[/{id}]`: the same seeded alerts in MDE's own shape
//! (PascalCase enums, numeric incidentId, `alertCreationTime`/`lastUpdateTime`), `$top` ≤ 10,000,
//! `$skip`, `$filter` on the documented properties, and MDE's error envelope (no innerError).

use serde_json::{Value, json};

use super::{ApiRequest, Ctx, Resp, Result};
use crate::sandbox::errors::GraphError;
use crate::sandbox::odata::{self, CollectionRules};
use crate::sandbox::state::ALERTS;
use crate::sandbox::world::Scope;

const FILTERS: &[&str] = &[
    "alertCreationTime",
    "lastUpdateTime",
    "incidentId",
    "investigationId",
    "id",
    "assignedTo",
    "detectionSource",
    "lastEventTime",
    "status",
    "severity",
    "category",
];

fn pascal(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// Maps a stored alerts_v2 alert to MDE's `Alert` entity.
fn to_mde(a: &Value) -> Value {
    let s = |k: &str| a.get(k).cloned().unwrap_or(Value::Null);
    let status = match a["status"].as_str() {
        Some("inProgress") => "InProgress".to_string(),
        Some(other) => pascal(other),
        None => "Unknown".into(),
    };
    json!({
        "id": s("id"), "incidentId": a["incidentId"].as_str().and_then(|i| i.parse::<i64>().ok()), "investigationId": null,
        "assignedTo": s("assignedTo"), "severity": pascal(a["severity"].as_str().unwrap_or("informational")), "status": status,
        "classification": null, "determination": null, "investigationState": "Queued", "detectionSource": "WindowsDefenderAv",
        "category": s("category"), "threatFamilyName": null, "title": s("title"), "description": s("description"),
        "alertCreationTime": s("createdDateTime"), "firstEventTime": s("firstActivityDateTime"), "lastEventTime": s("lastActivityDateTime"),
        "lastUpdateTime": s("lastUpdateDateTime"), "resolvedTime": s("resolvedDateTime"), "machineId": s("_machineId"),
        "computerDnsName": s("_computerDnsName"), "rbacGroupName": null, "aadTenantId": s("tenantId"), "threatName": null,
        "mitreTechniques": s("mitreTechniques"), "relatedUser": null, "comments": [], "evidence": []
    })
}

fn mde_alerts(st: &Scope<'_>, ctx: &Ctx) -> Result<Vec<Value>> {
    let t = super::tenant(st, ctx)?;
    if !t.defender_licensed {
        return Err(GraphError::new(
            403,
            "DisabledFeature",
            "The tenant is not onboarded to Microsoft Defender for Endpoint.",
        ));
    }
    Ok(super::security::newest_first(t, ALERTS)
        .iter()
        .map(to_mde)
        .collect())
}

/// `GET /api/alerts`.
pub fn alerts(ctx: &Ctx, st: &Scope<'_>, req: &ApiRequest) -> Result<Resp> {
    let items = mde_alerts(st, ctx)?;
    let max_top = crate::alerts::fetch::Stream::DefenderAlerts.max_top() as usize;
    let rules = CollectionRules {
        filterable: FILTERS,
        directory: false,
        skip_paging: true,
        max_top,
        type_name: "Alert",
    };
    let q = &req.query;
    if q.top.is_some_and(|t| t == 0 || t > max_top) {
        return Err(GraphError::new(
            400,
            "InvalidInput",
            format!("$top must be between 1 and {max_top}."),
        ));
    }
    // Documented: no nextLink; a client pages with `$skip` until a short page.
    let page = odata::page(items, q, &rules, max_top, false)
        .map_err(|e| GraphError::new(400, "ODataError", e.message))?;
    let value: Vec<Value> = page
        .items
        .iter()
        .map(|v| odata::select(v, &q.select))
        .collect();
    super::ok(
        json!({"@odata.context": format!("{}/api/$metadata#Alerts", ctx.base), "value": value}),
    )
}

/// `GET /api/alerts/{id}`.
pub fn alert(ctx: &Ctx, st: &Scope<'_>, id: &str) -> Result<Resp> {
    let a = mde_alerts(st, ctx)?
        .into_iter()
        .find(|a| a["id"].as_str() == Some(id))
        .ok_or_else(|| {
            GraphError::new(404, "ResourceNotFound", format!("Alert {id} was not found"))
        })?;
    let mut body = json!({"@odata.context": format!("{}/api/$metadata#Alerts/$entity", ctx.base)});
    if let (Some(o), Value::Object(src)) = (body.as_object_mut(), a) {
        o.extend(src);
    }
    super::ok(body)
}
