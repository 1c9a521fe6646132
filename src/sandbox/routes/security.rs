//! Graph `/security/alerts_v2` and `/security/incidents` over seeded alerts: most recent first,
//! `$filter` on the documented properties, `$top`/`$skip` with `$skip` nextLinks, `$expand=alerts`
//! on incidents, and each endpoint's `$top` limit (incidents: 50) refused with Graph's 400. Tenants without Defender have no alerts (the lists are empty).

use serde_json::{Value, json};

use super::{ApiRequest, Ctx, Resp, Result};
use crate::alerts::fetch::Stream;
use crate::sandbox::errors::GraphError;
use crate::sandbox::odata::{self, CollectionRules};
use crate::sandbox::state::{ALERTS, Entry, INCIDENTS, Tenant, iso, now_ms};
use crate::sandbox::world::Scope;

const ALERT_FILTERS: &[&str] = &[
    "assignedTo",
    "classification",
    "determination",
    "createdDateTime",
    "lastUpdateDateTime",
    "severity",
    "serviceSource",
    "status",
];

fn rules(type_name: &'static str, stream: Stream) -> CollectionRules {
    CollectionRules {
        filterable: ALERT_FILTERS,
        directory: false,
        skip_paging: true,
        max_top: stream.max_top() as usize,
        type_name,
    }
}

/// Graph's answer to a `$top` above the endpoint's limit (the limits are the tool's own table,
/// so both sides agree on one set of numbers).
pub(crate) fn top_exceeded(max: usize, asked: usize) -> GraphError {
    GraphError::new(
        400,
        "BadRequest",
        format!(
            "The query specified in the URI is not valid. The limit of '{max}' for Top query has been exceeded. The value from the incoming request is '{asked}'."
        ),
    )
}

/// A security collection paged like Graph: `$top` over the limit is refused, an absent `$top`
/// gets the service's page size (never above the limit), more pages follow by nextLink.
fn security_list(
    ctx: &Ctx,
    req: &ApiRequest,
    items: Vec<Value>,
    rules: &CollectionRules,
    set: &str,
) -> Result<Resp> {
    if let Some(asked) = req.query.top
        && asked > rules.max_top
    {
        return Err(top_exceeded(rules.max_top, asked));
    }
    super::check_select(&req.query, rules.type_name)?;
    let default_page = ctx.page_size.clamp(1, rules.max_top);
    let page = odata::page(items, &req.query, rules, default_page, req.eventual)?;
    super::ok(odata::collection_body(
        &ctx.context(set),
        page,
        &req.query,
        rules,
        &req.self_url(ctx),
    ))
}

/// Seeds `n` alerts (one incident per two alerts), newest last in storage.
pub(crate) fn seed_alerts(t: &mut Tenant, n: usize) {
    const SEVERITIES: [&str; 4] = ["low", "medium", "high", "informational"];
    const STATUSES: [&str; 3] = ["new", "inProgress", "resolved"];
    let now = now_ms();
    let tid = t.id.to_string();
    for i in 0..n {
        let created = now - ((n - i) as i64) * 3_600_000;
        let id = format!("da63{:013}_{}", created, 1000 + i);
        let incident = 10_000 + i / 2;
        let alert = json!({
            "@odata.type": "#microsoft.graph.security.alert", "id": id, "providerAlertId": id, "incidentId": incident.to_string(),
            "status": STATUSES[i % 3], "severity": SEVERITIES[i % 4], "classification": null, "determination": null,
            "serviceSource": "microsoftDefenderForEndpoint", "detectionSource": "antivirus", "detectorId": "e0da400f-affd-43ef-b1d5-afc2eb6f2756",
            "tenantId": tid, "title": format!("Sandbox alert {i}"), "description": "Seeded by the mssp sandbox.", "category": "DefenseEvasion",
            "assignedTo": null, "alertWebUrl": format!("https://security.microsoft.com/alerts/{id}?tid={tid}"),
            "incidentWebUrl": format!("https://security.microsoft.com/incidents/{incident}?tid={tid}"), "mitreTechniques": ["T1564.001"],
            "createdDateTime": iso(created), "lastUpdateDateTime": iso(created + 60_000), "resolvedDateTime": null,
            "firstActivityDateTime": iso(created - 60_000), "lastActivityDateTime": iso(created), "comments": [], "evidence": [], "systemTags": [],
            "_machineId": format!("{:040x}", i + 1), "_computerDnsName": format!("host{i}.{}", t.domain)
        });
        t.insert(
            ALERTS,
            Entry {
                v: alert,
                visible_at_ms: 0,
                parent: None,
                origin: None,
            },
        );
        if i % 2 == 0 {
            let inc = json!({"id": incident.to_string(), "tenantId": tid, "displayName": format!("Sandbox incident {}", i / 2),
                "status": "active", "severity": SEVERITIES[i % 4], "classification": "unknown", "determination": "unknown", "assignedTo": null,
                "createdDateTime": iso(created), "lastUpdateDateTime": iso(created + 60_000), "incidentWebUrl": format!("https://security.microsoft.com/incidents/{incident}?tid={tid}"),
                "redirectIncidentId": null, "customTags": [], "systemTags": [], "comments": []});
            t.insert(
                INCIDENTS,
                Entry {
                    v: inc,
                    visible_at_ms: 0,
                    parent: None,
                    origin: None,
                },
            );
        }
    }
}

/// Newest first (by createdDateTime).
pub(crate) fn newest_first(t: &Tenant, coll: &str) -> Vec<Value> {
    let mut items: Vec<Value> = t.list(coll).iter().map(|e| e.v.clone()).collect();
    items.sort_by(|a, b| {
        b["createdDateTime"]
            .as_str()
            .cmp(&a["createdDateTime"].as_str())
    });
    items
}

fn public(items: Vec<Value>) -> Vec<Value> {
    items.iter().map(crate::sandbox::state::render).collect()
}

pub fn alerts(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, _: &[String]) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    security_list(
        ctx,
        req,
        public(newest_first(t, ALERTS)),
        &rules("microsoft.graph.security.alert", Stream::Alerts),
        "security/alerts_v2",
    )
}

pub fn alert(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, args: &[String]) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    let a = t.find(ALERTS, &args[0]).ok_or_else(|| {
        GraphError::new(
            404,
            "NotFound",
            format!("Alert '{}' was not found.", args[0]),
        )
    })?;
    super::get_one(
        ctx,
        req,
        "security/alerts_v2",
        "microsoft.graph.security.alert",
        &a.v,
    )
}

fn with_alerts(t: &Tenant, mut inc: Value, expand: &[String]) -> Value {
    if expand.iter().any(|e| e == "alerts") {
        let id = inc["id"].clone();
        inc["alerts"] = Value::Array(
            public(newest_first(t, ALERTS))
                .into_iter()
                .filter(|a| a["incidentId"] == id)
                .collect(),
        );
    }
    inc
}

pub fn incidents(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, _: &[String]) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    let items = public(newest_first(t, INCIDENTS))
        .into_iter()
        .map(|i| with_alerts(t, i, &req.query.expand))
        .collect();
    security_list(
        ctx,
        req,
        items,
        &rules("microsoft.graph.security.incident", Stream::Incidents),
        "security/incidents",
    )
}

pub fn incident(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, args: &[String]) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    let i = t.find(INCIDENTS, &args[0]).ok_or_else(|| {
        GraphError::new(
            404,
            "NotFound",
            format!("Incident '{}' was not found.", args[0]),
        )
    })?;
    super::get_one(
        ctx,
        req,
        "security/incidents",
        "microsoft.graph.security.incident",
        &with_alerts(t, i.v.clone(), &req.query.expand),
    )
}

/// A new alert for `POST /_sandbox/tenants/{tid}/alerts`: the given properties over seeded-style
/// defaults, created and last updated now. An existing id is updated (its `lastUpdateDateTime`
/// moves), as when an analyst changes an alert.
pub(crate) fn upsert_alert(t: &mut Tenant, partial: &Value) -> Value {
    let now = now_ms();
    let tid = t.id.to_string();
    let id = partial
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("da63{now:013}_{}", t.list(ALERTS).len() + 2000));
    let mut alert = match t.find(ALERTS, &id) {
        Some(e) => e.v.clone(),
        None => json!({
            "@odata.type": "#microsoft.graph.security.alert", "id": id, "providerAlertId": id, "incidentId": "20000",
            "status": "new", "severity": "medium", "classification": null, "determination": null,
            "serviceSource": "microsoftDefenderForEndpoint", "detectionSource": "antivirus", "detectorId": null,
            "tenantId": tid, "title": "Sandbox alert", "description": "Added through the sandbox control API.", "category": "Execution",
            "assignedTo": null, "alertWebUrl": format!("https://security.microsoft.com/alerts/{id}?tid={tid}"),
            "incidentWebUrl": format!("https://security.microsoft.com/incidents/20000?tid={tid}"), "mitreTechniques": [],
            "createdDateTime": iso(now), "resolvedDateTime": null, "firstActivityDateTime": iso(now), "lastActivityDateTime": iso(now),
            "comments": [], "evidence": [], "systemTags": [], "_machineId": format!("{:040x}", now), "_computerDnsName": format!("new.{}", t.domain)
        }),
    };
    if let (Some(dst), Some(src)) = (alert.as_object_mut(), partial.as_object()) {
        for (k, v) in src {
            dst.insert(k.clone(), v.clone());
        }
    }
    alert["lastUpdateDateTime"] = json!(iso(now));
    t.list_mut(ALERTS).retain(|e| e.id() != id);
    t.insert(
        ALERTS,
        Entry {
            v: alert.clone(),
            visible_at_ms: 0,
            parent: None,
            origin: None,
        },
    );
    crate::sandbox::state::render(&alert)
}
