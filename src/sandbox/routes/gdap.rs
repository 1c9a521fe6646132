//! GDAP, the partner side (`/tenantRelationships/delegatedAdminRelationships`): relationships with
//! their status lifecycle, `requests` (lockForApproval, terminate), `accessAssignments` (security
//! groups of the partner tenant → a subset of the relationship's roles) and the long-running
//! `operations` an assignment update starts. docs/gdap.md is the contract this follows.
//!
//! Strict where Microsoft is: `If-Match` is required on every update and delete and must carry the
//! current `@odata.etag` (412 otherwise); app-only callers need the *Partner Customer Delegated
//! Administration* service principal in their tenant; status moves on by time (the replication
//! delay stands in for the provisioning Microsoft does after the customer approves), never by the
//! caller. The customer's approval is not an API the partner can call: the control endpoint
//! [`control`] plays the customer's Global Administrator.

use serde_json::{Value, json};

use super::{ApiRequest, Ctx, Resp, Result};
use crate::gdap::{
    AUTO_EXTEND_VALUES, GLOBAL_ADMINISTRATOR, MAX_DURATION_DAYS, MIN_DURATION_DAYS, duration_days,
};
use crate::sandbox::csdl::{self, Mode};
use crate::sandbox::errors::GraphError;
use crate::sandbox::odata::CollectionRules;
use crate::sandbox::state::{
    self, Entry, GDAP_ASSIGNMENTS, GDAP_OPERATIONS, GDAP_RELATIONSHIPS, GDAP_REQUESTS, GROUPS,
    PARTNER_CDA_APP_ID, Tenant, iso, new_id,
};
use crate::sandbox::world::Scope;

const REL_TYPE: &str = "microsoft.graph.delegatedAdminRelationship";
const ASSIGN_TYPE: &str = "microsoft.graph.delegatedAdminAccessAssignment";
const REQUEST_TYPE: &str = "microsoft.graph.delegatedAdminRelationshipRequest";
const OP_TYPE: &str = "microsoft.graph.delegatedAdminRelationshipOperation";
const SET: &str = "tenantRelationships/delegatedAdminRelationships";

/// `$top` limit of the GDAP lists (List accessAssignments: "supports up to 300 objects").
pub(crate) const MAX_TOP: usize = 300;
/// Seconds a client is told to wait before polling an operation.
const RETRY_AFTER_SECS: &str = "10";

const DAY_MS: i64 = 86_400_000;

fn etag() -> String {
    use base64::Engine;
    let raw = format!("'\"{}\"'", new_id());
    format!(
        "W/\"{}\"",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

fn touch(v: &mut Value, now: i64) {
    v["@odata.etag"] = json!(etag());
    v["lastModifiedDateTime"] = json!(iso(now));
}

fn ms(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(i64::MAX)
}

fn status(v: &Value) -> &str {
    v.get("status").and_then(Value::as_str).unwrap_or_default()
}

fn roles_of(v: &Value) -> Vec<String> {
    v.pointer("/accessDetails/unifiedRoles")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| r.get("roleDefinitionId").and_then(Value::as_str))
                .map(str::to_ascii_lowercase)
                .collect()
        })
        .unwrap_or_default()
}

/// Moves every relationship, assignment and operation of `t` to the status time has given it.
/// Called before each GDAP request (and by the control endpoint), so no background task is needed.
pub(crate) fn advance(t: &mut Tenant, now: i64) {
    for e in t.list_mut(GDAP_RELATIONSHIPS).iter_mut() {
        let v = &mut e.v;
        match status(v) {
            "approved" => {
                v["status"] = json!("activating");
                touch(v, now);
            }
            "activating" if now >= ms(v, "_activateAtMs") => {
                let at = ms(v, "_activateAtMs");
                let days = v
                    .get("duration")
                    .and_then(Value::as_str)
                    .and_then(duration_days)
                    .unwrap_or(0);
                v["status"] = json!("active");
                v["activatedDateTime"] = json!(iso(at));
                v["_endMs"] = json!(at.saturating_add(days.saturating_mul(DAY_MS)));
                v["endDateTime"] = json!(iso(ms(v, "_endMs")));
                touch(v, now);
            }
            "active" if now >= ms(v, "_endMs") => {
                let extend = v
                    .get("autoExtendDuration")
                    .and_then(Value::as_str)
                    .and_then(duration_days)
                    .unwrap_or(0);
                if extend > 0 {
                    let mut end = ms(v, "_endMs");
                    while end <= now {
                        end = end.saturating_add(extend.saturating_mul(DAY_MS));
                    }
                    v["_endMs"] = json!(end);
                    v["endDateTime"] = json!(iso(end));
                } else {
                    v["status"] = json!("expired");
                }
                touch(v, now);
            }
            "terminationRequested" if now >= ms(v, "_settleAtMs") => {
                v["status"] = json!("terminated");
                v["endDateTime"] = json!(iso(ms(v, "_settleAtMs")));
                touch(v, now);
            }
            _ => {}
        }
    }
    // Operations first: a finished update changes its assignment.
    let mut finished: Vec<(String, Value)> = Vec::new();
    for e in t.list_mut(GDAP_OPERATIONS).iter_mut() {
        let v = &mut e.v;
        match status(v) {
            "notStarted" => {
                v["status"] = json!("running");
                v["lastModifiedDateTime"] = json!(iso(now));
            }
            "running" if now >= ms(v, "_doneAtMs") => {
                v["status"] = json!("succeeded");
                v["lastModifiedDateTime"] = json!(iso(now));
                if let (Some(a), Some(d)) = (
                    v.get("_assignment").and_then(Value::as_str),
                    v.get("_accessDetails"),
                ) {
                    finished.push((a.to_string(), d.clone()));
                }
            }
            _ => {}
        }
    }
    for (id, details) in finished {
        if let Some(a) = t.find_mut(GDAP_ASSIGNMENTS, &id) {
            a.v["accessDetails"] = details;
            touch(&mut a.v, now);
        }
    }
    let mut gone = Vec::new();
    for e in t.list_mut(GDAP_ASSIGNMENTS).iter_mut() {
        let v = &mut e.v;
        match status(v) {
            "pending" if now >= ms(v, "_activeAtMs") => {
                v["status"] = json!("active");
                touch(v, now);
            }
            "deleting" if now >= ms(v, "_goneAtMs") => gone.push(e.id().to_string()),
            _ => {}
        }
    }
    for id in gone {
        t.remove(GDAP_ASSIGNMENTS, &id);
    }
}

/// The tenant of the call, advanced to now, after the service-principal prerequisite.
fn partner<'a>(ctx: &Ctx, st: &'a mut Scope<'_>) -> Result<&'a mut Tenant> {
    let t = super::tenant_mut(st, ctx)?;
    let provisioned = t
        .sp_by_app_id(PARTNER_CDA_APP_ID)
        .is_some_and(|e| e.visible(ctx.now));
    if !provisioned {
        return Err(GraphError::new(
            403,
            "Forbidden",
            format!(
                "The service principal of the Partner Customer Delegated Administration application ({PARTNER_CDA_APP_ID}) is not provisioned in the partner tenant; application permissions need it."
            ),
        ));
    }
    advance(t, ctx.now);
    Ok(t)
}

/// Graph's answer to a request this API refuses (`400 badRequest`, lower camel case here).
fn bad(message: impl Into<String>) -> GraphError {
    GraphError::new(400, "badRequest", message)
}

fn invalid_relationship() -> GraphError {
    bad("The passed in delegatedAdminRelationshipId is invalid.")
}

fn relationship<'a>(t: &'a Tenant, id: &str, now: i64) -> Result<&'a Entry> {
    t.find(GDAP_RELATIONSHIPS, id)
        .filter(|e| e.visible(now))
        .ok_or_else(|| {
            GraphError::new(
                404,
                "notFound",
                format!("The delegated admin relationship '{id}' was not found."),
            )
        })
}

/// The parent relationship of a nested collection (`…/{id}/accessAssignments` and the like).
fn parent<'a>(t: &'a Tenant, id: &str, now: i64) -> Result<&'a Entry> {
    t.find(GDAP_RELATIONSHIPS, id)
        .filter(|e| e.visible(now))
        .ok_or_else(invalid_relationship)
}

/// `If-Match` must be present and equal to the object's current ETag.
fn check_if_match(req: &ApiRequest, current: &Value) -> Result<()> {
    let Some(given) = req.if_match.as_deref().map(str::trim) else {
        return Err(bad(
            "The If-Match header is required: send the @odata.etag of the object as last read.",
        ));
    };
    let now = current
        .get("@odata.etag")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if given != now {
        return Err(GraphError::new(
            412,
            "preconditionFailed",
            "The ETag in If-Match does not match the object's current ETag; read it again.",
        ));
    }
    Ok(())
}

fn location(ctx: &Ctx, path: &str) -> (String, String) {
    (
        "Location".into(),
        format!("{}/{}/{SET}/{path}", ctx.base, ctx.version),
    )
}

fn rules(type_name: &'static str, filterable: &'static [&'static str]) -> CollectionRules {
    CollectionRules {
        filterable,
        directory: false,
        skip_paging: false,
        max_top: MAX_TOP,
        type_name,
    }
}

fn check_roles(body: &Value) -> Result<Vec<String>> {
    let list = body
        .pointer("/accessDetails/unifiedRoles")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| bad("accessDetails.unifiedRoles must name at least one role."))?;
    let mut out = Vec::new();
    for r in list {
        let id = r
            .get("roleDefinitionId")
            .and_then(Value::as_str)
            .filter(|s| uuid::Uuid::parse_str(s).is_ok())
            .ok_or_else(|| bad("Each unifiedRole needs a roleDefinitionId (GUID)."))?;
        out.push(id.to_ascii_lowercase());
    }
    Ok(out)
}

fn check_auto_extend(value: &str, roles: &[String]) -> Result<()> {
    if !AUTO_EXTEND_VALUES.contains(&value) {
        return Err(bad(format!(
            "autoExtendDuration '{value}' is not supported; use P0D, PT0S or P180D."
        )));
    }
    if duration_days(value).unwrap_or(0) > 0 && roles.iter().any(|r| r == GLOBAL_ADMINISTRATOR) {
        return Err(bad(
            "A relationship that includes the Global Administrator role cannot be extended automatically.",
        ));
    }
    Ok(())
}

// ------------------------------------------------------------------ relationships

pub(crate) fn list(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, _: &[String]) -> Result<Resp> {
    let t = partner(ctx, st)?;
    let items = super::visible_items(t, GDAP_RELATIONSHIPS, ctx.now, None);
    super::list(
        ctx,
        req,
        items,
        &rules(REL_TYPE, &["displayName", "status"]),
        SET,
    )
}

pub(crate) fn get(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let t = partner(ctx, st)?;
    let e = relationship(t, &args[0], ctx.now)?;
    super::get_one(ctx, req, SET, REL_TYPE, &e.v)
}

pub(crate) fn create(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    _: &[String],
) -> Result<Resp> {
    let body = req.body();
    csdl::validate(REL_TYPE, &body, Mode::Create)?;
    super::require(
        &body,
        &["displayName", "duration", "accessDetails"],
        "delegatedAdminRelationship",
    )?;
    let name = body["displayName"].as_str().unwrap_or_default().to_string();
    if name.trim().is_empty() || name.chars().count() > 50 {
        return Err(bad("displayName must have 1 to 50 characters."));
    }
    let duration = body["duration"].as_str().unwrap_or_default().to_string();
    match duration_days(&duration) {
        Some(d) if (MIN_DURATION_DAYS..=MAX_DURATION_DAYS).contains(&d) => {}
        _ => {
            return Err(bad(format!(
                "duration '{duration}' must be between P1D and P2Y (730 days)."
            )));
        }
    }
    let roles = check_roles(&body)?;
    let auto = body
        .get("autoExtendDuration")
        .and_then(Value::as_str)
        .unwrap_or("PT0S")
        .to_string();
    check_auto_extend(&auto, &roles)?;
    let customer_tid = body
        .pointer("/customer/tenantId")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(c) = &customer_tid
        && uuid::Uuid::parse_str(c).is_err()
    {
        return Err(bad("customer.tenantId must be a GUID."));
    }
    let t = partner(ctx, st)?;
    // The name is unique across all the partner's relationships, whatever their status.
    if t.find_by(GDAP_RELATIONSHIPS, "displayName", &name)
        .is_some()
    {
        return Err(GraphError::new(
            409,
            "conflict",
            format!("A delegated admin relationship named '{name}' already exists."),
        ));
    }
    let id = format!(
        "{}-{}",
        customer_tid.clone().unwrap_or_else(new_id),
        new_id()
    );
    let days = duration_days(&duration).unwrap_or(0);
    let end = ctx.now.saturating_add(days.saturating_mul(DAY_MS));
    let mut v = json!({
        "id": id, "displayName": name, "duration": duration,
        "customer": body.get("customer").cloned().unwrap_or(Value::Null),
        "accessDetails": {"unifiedRoles": roles.iter().map(|r| json!({"roleDefinitionId": r})).collect::<Vec<_>>()},
        "status": "created", "autoExtendDuration": auto,
        "createdDateTime": iso(ctx.now), "activatedDateTime": null, "endDateTime": iso(end),
    });
    touch(&mut v, ctx.now);
    t.insert(
        GDAP_RELATIONSHIPS,
        Entry {
            v: v.clone(),
            visible_at_ms: ctx.visible_at(),
            parent: None,
            origin: None,
        },
    );
    let mut resp = super::created(super::entity(ctx, SET, &v))?;
    resp.headers.push(location(ctx, &id));
    Ok(resp)
}

pub(crate) fn patch(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let body = req.body();
    csdl::validate(REL_TYPE, &body, Mode::Update)?;
    let now = ctx.now;
    let t = partner(ctx, st)?;
    let current = relationship(t, &args[0], now)?.v.clone();
    check_if_match(req, &current)?;
    let only_auto_extend = body.as_object().is_some_and(|o| {
        o.keys()
            .all(|k| k == "autoExtendDuration" || k.starts_with('@'))
    });
    match status(&current) {
        "created" => {}
        "active" if only_auto_extend => {}
        s => {
            return Err(bad(format!(
                "A relationship in status '{s}' cannot be updated (only autoExtendDuration, while active)."
            )));
        }
    }
    let mut next = current.clone();
    super::merge(&mut next, &body);
    let roles = if body.get("accessDetails").is_some() {
        check_roles(&next)?
    } else {
        roles_of(&next)
    };
    if let Some(d) = body.get("duration").and_then(Value::as_str) {
        match duration_days(d) {
            Some(n) if (MIN_DURATION_DAYS..=MAX_DURATION_DAYS).contains(&n) => {}
            _ => {
                return Err(bad(format!(
                    "duration '{d}' must be between P1D and P2Y (730 days)."
                )));
            }
        }
    }
    let auto = next
        .get("autoExtendDuration")
        .and_then(Value::as_str)
        .unwrap_or("PT0S")
        .to_string();
    check_auto_extend(&auto, &roles)?;
    touch(&mut next, now);
    if let Some(e) = t.find_mut(GDAP_RELATIONSHIPS, &args[0]) {
        e.v = next.clone();
    }
    super::ok(super::entity(ctx, SET, &next))
}

pub(crate) fn delete(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let now = ctx.now;
    let t = partner(ctx, st)?;
    let current = relationship(t, &args[0], now)?.v.clone();
    check_if_match(req, &current)?;
    if status(&current) != "created" {
        return Err(bad(
            "Only a relationship in status 'created' can be deleted; terminate it instead.",
        ));
    }
    t.remove(GDAP_RELATIONSHIPS, &args[0]);
    super::no_content()
}

// ------------------------------------------------------------------ requests

pub(crate) fn requests_list(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let set = format!("{SET}('{}')/requests", args[0]);
    list_nested(ctx, st, req, &args[0], &REQUESTS, &set)
}

pub(crate) fn request_get(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    get_nested(ctx, st, req, args, &REQUESTS)
}

/// A collection below a relationship (requests, access assignments, operations).
struct Nested {
    /// The sandbox state's collection.
    coll: &'static str,
    /// Its name in `@odata.context` of one entity.
    name: &'static str,
    type_name: &'static str,
    filterable: &'static [&'static str],
}

const REQUESTS: Nested = Nested {
    coll: GDAP_REQUESTS,
    name: "requests",
    type_name: REQUEST_TYPE,
    filterable: &["action"],
};
const ASSIGNMENTS: Nested = Nested {
    coll: GDAP_ASSIGNMENTS,
    name: "accessAssignments",
    type_name: ASSIGN_TYPE,
    filterable: &["status"],
};
const OPERATIONS: Nested = Nested {
    coll: GDAP_OPERATIONS,
    name: "operations",
    type_name: OP_TYPE,
    filterable: &["status"],
};

/// Lists a nested collection of relationship `rel` (an unknown relationship is a 400).
fn list_nested(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    rel: &str,
    n: &Nested,
    set: &str,
) -> Result<Resp> {
    let t = partner(ctx, st)?;
    parent(t, rel, ctx.now)?;
    let items = super::visible_items(t, n.coll, ctx.now, Some(rel));
    super::list(ctx, req, items, &rules(n.type_name, n.filterable), set)
}

/// Reads item `args[1]` of a nested collection of relationship `args[0]`.
fn get_nested(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
    n: &Nested,
) -> Result<Resp> {
    let t = partner(ctx, st)?;
    parent(t, &args[0], ctx.now)?;
    let e = child(t, n.coll, &args[0], &args[1], ctx.now)?;
    super::get_one(ctx, req, n.name, n.type_name, &e.v)
}

/// Item `args[1]` of a nested collection of relationship `args[0]`, when the request's
/// `If-Match` carries its current ETag (updates and deletes).
fn matching_child(
    t: &Tenant,
    coll: &str,
    args: &[String],
    req: &ApiRequest,
    now: i64,
) -> Result<Value> {
    parent(t, &args[0], now)?;
    let current = child(t, coll, &args[0], &args[1], now)?.v.clone();
    check_if_match(req, &current)?;
    Ok(current)
}

/// Adds an item below relationship `rel`, listed from `visible_at_ms`.
fn insert_child(t: &mut Tenant, coll: &str, rel: &str, v: Value, visible_at_ms: i64) {
    t.insert(
        coll,
        Entry {
            v,
            visible_at_ms,
            parent: Some(rel.to_string()),
            origin: None,
        },
    );
}

fn child<'a>(t: &'a Tenant, coll: &str, rel: &str, id: &str, now: i64) -> Result<&'a Entry> {
    t.find(coll, id)
        .filter(|e| {
            e.visible(now)
                && e.parent
                    .as_deref()
                    .is_some_and(|p| p.eq_ignore_ascii_case(rel))
        })
        .ok_or_else(|| {
            GraphError::new(404, "notFound", format!("The object '{id}' was not found."))
        })
}

pub(crate) fn request_create(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let body = req.body();
    csdl::validate(REQUEST_TYPE, &body, Mode::Create)?;
    super::require(&body, &["action"], "delegatedAdminRelationshipRequest")?;
    let action = body["action"].as_str().unwrap_or_default().to_string();
    let now = ctx.now;
    let delay = ctx.replication_delay_ms;
    let t = partner(ctx, st)?;
    let rel_status = status(&parent(t, &args[0], now)?.v).to_string();
    let next = match (action.as_str(), rel_status.as_str()) {
        ("lockForApproval", "created") => "approvalPending",
        ("terminate", "active") => "terminationRequested",
        ("lockForApproval" | "terminate", s) => {
            return Err(bad(format!(
                "The action '{action}' is not allowed on a relationship in status '{s}'."
            )));
        }
        _ => {
            return Err(bad(format!(
                "The action '{action}' is not supported; use lockForApproval or terminate."
            )));
        }
    };
    if let Some(e) = t.find_mut(GDAP_RELATIONSHIPS, &args[0]) {
        e.v["status"] = json!(next);
        if next == "terminationRequested" {
            e.v["_settleAtMs"] = json!(now.saturating_add(delay));
        }
        touch(&mut e.v, now);
    }
    let id = new_id();
    let v = json!({"id": id, "action": action, "status": "succeeded",
        "createdDateTime": iso(now), "lastModifiedDateTime": iso(now)});
    insert_child(t, GDAP_REQUESTS, &args[0], v.clone(), now);
    let mut resp = super::created(super::entity(ctx, "requests", &v))?;
    resp.headers
        .push(location(ctx, &format!("{}/requests/{id}", args[0])));
    Ok(resp)
}

// ------------------------------------------------------------------ access assignments

pub(crate) fn assignments_list(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    list_nested(ctx, st, req, &args[0], &ASSIGNMENTS, ASSIGNMENTS.name)
}

pub(crate) fn assignment_get(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    get_nested(ctx, st, req, args, &ASSIGNMENTS)
}

/// Roles of an assignment must be among the relationship's.
fn check_subset(roles: &[String], rel: &Value) -> Result<()> {
    let allowed = roles_of(rel);
    if let Some(extra) = roles.iter().find(|r| !allowed.contains(r)) {
        return Err(bad(format!(
            "The role '{extra}' is not part of the delegated admin relationship."
        )));
    }
    Ok(())
}

pub(crate) fn assignment_create(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let body = req.body();
    csdl::validate(ASSIGN_TYPE, &body, Mode::Create)?;
    super::require(
        &body,
        &["accessContainer", "accessDetails"],
        "delegatedAdminAccessAssignment",
    )?;
    let roles = check_roles(&body)?;
    let container = body
        .pointer("/accessContainer/accessContainerId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let kind = body
        .pointer("/accessContainer/accessContainerType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if kind != "securityGroup" {
        return Err(bad(
            "accessContainer.accessContainerType must be 'securityGroup'.",
        ));
    }
    let now = ctx.now;
    let activate = ctx.visible_at();
    let t = partner(ctx, st)?;
    let rel = parent(t, &args[0], now)?.v.clone();
    if status(&rel) != "active" {
        return Err(bad(format!(
            "Access assignments can be created only on an active relationship (this one is '{}').",
            status(&rel)
        )));
    }
    check_subset(&roles, &rel)?;
    let is_group = t
        .find(GROUPS, &container)
        .is_some_and(|g| g.visible(now) && g.v["securityEnabled"] == json!(true));
    if !is_group {
        return Err(bad(format!(
            "The access container '{container}' is not a security group of the partner tenant."
        )));
    }
    let taken = t.list(GDAP_ASSIGNMENTS).iter().any(|e| {
        e.parent
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case(&args[0]))
            && e.v
                .pointer("/accessContainer/accessContainerId")
                .and_then(Value::as_str)
                .is_some_and(|c| c.eq_ignore_ascii_case(&container))
            && !matches!(status(&e.v), "deleting" | "deleted")
    });
    if taken {
        return Err(GraphError::new(
            409,
            "conflict",
            format!(
                "The security group '{container}' already has an access assignment in this relationship."
            ),
        ));
    }
    let id = new_id();
    let mut v = json!({
        "id": id, "status": "pending",
        "accessContainer": {"accessContainerId": container, "accessContainerType": "securityGroup"},
        "accessDetails": {"unifiedRoles": roles.iter().map(|r| json!({"roleDefinitionId": r})).collect::<Vec<_>>()},
        "createdDateTime": iso(now), "_activeAtMs": activate,
    });
    touch(&mut v, now);
    // Listed at once as `pending`; provisioning, not replication, is what takes time.
    insert_child(t, GDAP_ASSIGNMENTS, &args[0], v.clone(), now);
    let mut resp = super::created(super::entity(ctx, "accessAssignments", &state::render(&v)))?;
    resp.headers.push(location(
        ctx,
        &format!("{}/accessAssignments/{id}", args[0]),
    ));
    Ok(resp)
}

pub(crate) fn assignment_patch(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let body = req.body();
    csdl::validate(ASSIGN_TYPE, &body, Mode::Update)?;
    if body.as_object().is_some_and(|o| {
        o.keys()
            .any(|k| k != "accessDetails" && !k.starts_with('@'))
    }) {
        return Err(bad(
            "Only accessDetails of an access assignment can be updated.",
        ));
    }
    let roles = check_roles(&body)?;
    let now = ctx.now;
    let done = ctx.visible_at();
    let t = partner(ctx, st)?;
    let rel = parent(t, &args[0], now)?.v.clone();
    let current = matching_child(t, GDAP_ASSIGNMENTS, args, req, now)?;
    if status(&current) != "active" {
        return Err(bad(format!(
            "An access assignment in status '{}' cannot be updated.",
            status(&current)
        )));
    }
    check_subset(&roles, &rel)?;
    let mut same = roles_of(&current);
    same.sort();
    let mut wanted = roles.clone();
    wanted.sort();
    if same == wanted {
        return super::ok(super::entity(
            ctx,
            "accessAssignments",
            &state::render(&current),
        ));
    }
    let op = new_id();
    let details = json!({"unifiedRoles": roles.iter().map(|r| json!({"roleDefinitionId": r})).collect::<Vec<_>>()});
    let v = json!({
        "id": op, "operationType": "delegatedAdminAccessAssignmentUpdate", "status": "notStarted",
        "data": json!({"accessAssignmentId": args[1], "accessDetails": details}).to_string(),
        "createdDateTime": iso(now), "lastModifiedDateTime": iso(now),
        "_assignment": args[1], "_accessDetails": details, "_doneAtMs": done,
    });
    insert_child(t, GDAP_OPERATIONS, &args[0], v, now);
    Ok(Resp {
        status: 202,
        headers: vec![
            location(ctx, &format!("{}/operations/{op}", args[0])),
            ("Retry-After".into(), RETRY_AFTER_SECS.into()),
        ],
        body: Some(json!({})),
    })
}

pub(crate) fn assignment_delete(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let now = ctx.now;
    let gone_at = ctx.visible_at();
    let t = partner(ctx, st)?;
    matching_child(t, GDAP_ASSIGNMENTS, args, req, now)?;
    if let Some(e) = t.find_mut(GDAP_ASSIGNMENTS, &args[1]) {
        e.v["status"] = json!("deleting");
        e.v["_goneAtMs"] = json!(gone_at);
        touch(&mut e.v, now);
    }
    super::no_content()
}

// ------------------------------------------------------------------ operations

pub(crate) fn operations_list(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    list_nested(ctx, st, req, &args[0], &OPERATIONS, OPERATIONS.name)
}

pub(crate) fn operation_get(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    get_nested(ctx, st, req, args, &OPERATIONS)
}

// ------------------------------------------------------------------ the customer's side

/// What the control endpoint does to a relationship on behalf of the customer or the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlAction {
    /// The customer's Global Administrator approves (only while `approvalPending`).
    Approve,
    /// The relationship reaches its end date now (auto-extension still applies).
    Expire,
    /// The customer terminates it (only while `active`).
    Terminate,
}

/// Whether relationship `id` lives in `t` (the control endpoint looks for it tenant by tenant).
pub(crate) fn holds(t: &Tenant, id: &str) -> bool {
    t.find(GDAP_RELATIONSHIPS, id).is_some()
}

/// Applies `action` to relationship `id` of tenant `t` (the one that [`holds`] it); `end` moves
/// the end date (ms) of an active relationship instead. Returns the relationship as rendered,
/// or a message for a 4xx.
pub(crate) fn control(
    t: &mut Tenant,
    id: &str,
    action: Option<ControlAction>,
    end: Option<i64>,
    now: i64,
    delay: i64,
) -> std::result::Result<Value, (u16, String)> {
    if !holds(t, id) {
        return Err((404, format!("no delegated admin relationship '{id}'")));
    }
    advance(t, now);
    let Some(e) = t.find_mut(GDAP_RELATIONSHIPS, id) else {
        return Err((404, format!("no delegated admin relationship '{id}'")));
    };
    let v = &mut e.v;
    let s = status(v).to_string();
    match (action, s.as_str()) {
        (Some(ControlAction::Approve), "approvalPending") => {
            v["status"] = json!("approved");
            v["_activateAtMs"] = json!(now.saturating_add(delay));
        }
        (Some(ControlAction::Expire), "active") => {
            v["_endMs"] = json!(now);
            v["endDateTime"] = json!(iso(now));
        }
        (Some(ControlAction::Terminate), "active") => {
            v["status"] = json!("terminationRequested");
            v["_settleAtMs"] = json!(now.saturating_add(delay));
        }
        (None, "active") if end.is_some() => {
            let end = end.unwrap_or(now);
            v["_endMs"] = json!(end);
            v["endDateTime"] = json!(iso(end));
        }
        (a, s) => {
            return Err((
                409,
                format!("{a:?} is not possible on a relationship in status '{s}'"),
            ));
        }
    }
    touch(v, now);
    advance(t, now);
    t.find(GDAP_RELATIONSHIPS, id)
        .map(|e| state::render(&e.v))
        .ok_or_else(|| (404, format!("no delegated admin relationship '{id}'")))
}
