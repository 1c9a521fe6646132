//! `/identityGovernance/entitlementManagement/*`: connected organizations (PATCH → 202 with body,
//! domain identity sources converted to `azureActiveDirectoryTenant` when the domain is a known
//! tenant, 201 body shows `identitySources: []`), catalogs, resource requests (the group appears in
//! the catalog only after the replication delay), catalog resources/resourceRoles, access packages,
//! resource role scopes (create/delete only, id `<roleId>_<scopeId>`), assignment policies (update is
//! PUT only → 200), and read-only assignments (seeded through the control API).

use serde_json::{Value, json};

use super::{ApiRequest, Ctx, Resp, Result, Route, r};
use crate::sandbox::csdl::{self, Mode};
use crate::sandbox::errors::GraphError;
use crate::sandbox::permissions::{Access, Area};
use crate::sandbox::state::{
    ACCESS_PACKAGES, ASSIGNMENTS, CATALOGS, CONNECTED_ORGS, Entry, GROUPS, POLICIES,
    RESOURCE_REQUESTS, RESOURCES, ROLE_SCOPES, Tenant, new_id, now_iso,
};
use crate::sandbox::world::Scope;

const EM: &str = "identityGovernance/entitlementManagement";

/// Entitlement-management routes (path below `entitlementManagement`).
pub fn route(method: &str, toks: &[&str]) -> Option<Route> {
    use Access::*;
    use Area::EntitlementManagement as E;
    match (method, toks) {
        ("GET", ["connectedOrganizations"]) => r(E, Read, org_list, &[]),
        ("POST", ["connectedOrganizations"]) => r(E, Write, org_create, &[]),
        ("GET", ["connectedOrganizations", id]) => r(E, Read, org_get, &[id]),
        ("PATCH", ["connectedOrganizations", id]) => r(E, Write, org_patch, &[id]),
        ("DELETE", ["connectedOrganizations", id]) => r(E, Write, org_delete, &[id]),
        ("GET", ["catalogs"]) => r(E, Read, catalog_list, &[]),
        ("POST", ["catalogs"]) => r(E, Write, catalog_create, &[]),
        ("GET", ["catalogs", id]) => r(E, Read, catalog_get, &[id]),
        ("PATCH", ["catalogs", id]) => r(E, Write, catalog_patch, &[id]),
        ("DELETE", ["catalogs", id]) => r(E, Write, catalog_delete, &[id]),
        ("GET", ["catalogs", id, "resources"]) => r(E, Read, resources_list, &[id]),
        ("GET", ["catalogs", id, "resourceRoles"]) => r(E, Read, resource_roles_list, &[id]),
        ("GET", ["resourceRequests"]) => r(E, Read, request_list, &[]),
        ("POST", ["resourceRequests"]) => r(E, Write, request_create, &[]),
        ("GET", ["accessPackages"]) => r(E, Read, package_list, &[]),
        ("POST", ["accessPackages"]) => r(E, Write, package_create, &[]),
        ("GET", ["accessPackages", id]) => r(E, Read, package_get, &[id]),
        ("PATCH", ["accessPackages", id]) => r(E, Write, package_patch, &[id]),
        ("DELETE", ["accessPackages", id]) => r(E, Write, package_delete, &[id]),
        ("GET", ["accessPackages", id, "resourceRoleScopes"]) => r(E, Read, scope_list, &[id]),
        ("POST", ["accessPackages", id, "resourceRoleScopes"]) => r(E, Write, scope_create, &[id]),
        ("DELETE", ["accessPackages", id, "resourceRoleScopes", s]) => {
            r(E, Write, scope_delete, &[id, s])
        }
        ("GET", ["assignmentPolicies"]) => r(E, Read, policy_list, &[]),
        ("POST", ["assignmentPolicies"]) => r(E, Write, policy_create, &[]),
        ("GET", ["assignmentPolicies", id]) => r(E, Read, policy_get, &[id]),
        ("PUT", ["assignmentPolicies", id]) => r(E, Write, policy_put, &[id]),
        ("DELETE", ["assignmentPolicies", id]) => r(E, Write, policy_delete, &[id]),
        ("GET", ["assignments"]) => r(E, Read, assignment_list, &[]),
        ("GET", ["assignments", id]) => r(E, Read, assignment_get, &[id]),
        _ => None,
    }
}

fn set(name: &str) -> String {
    format!("{EM}/{name}")
}

fn insert(ctx: &Ctx, t: &mut Tenant, coll: &str, v: &Value, parent: Option<String>) {
    t.insert(
        coll,
        Entry {
            v: v.clone(),
            visible_at_ms: ctx.visible_at(),
            parent,
            origin: None,
        },
    );
}

fn stamp_modified(v: &mut Value) {
    v["modifiedDateTime"] = json!(now_iso());
}

// ------------------------------------------------------------ connected organizations

const ORG_TYPE: &str = "microsoft.graph.connectedOrganization";

pub fn org_list(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, _: &[String]) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    let rules = super::service_rules(
        ORG_TYPE,
        &["id", "displayName", "state", "identitySources/any"],
    );
    super::list(
        ctx,
        req,
        super::visible_items(t, CONNECTED_ORGS, ctx.now, None),
        &rules,
        &set("connectedOrganizations"),
    )
}

pub fn org_get(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, args: &[String]) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    super::get_one(
        ctx,
        req,
        &set("connectedOrganizations"),
        ORG_TYPE,
        &super::visible(t, CONNECTED_ORGS, &args[0], ctx.now)?.v,
    )
}

/// The service resolves a domain to its Entra tenant; unknown domains stay domain sources.
fn convert_sources(st: &Scope<'_>, sources: &Value) -> Value {
    let convert = |s: &Value| {
        let ty = s
            .get("@odata.type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim_start_matches('#');
        match ty {
            "microsoft.graph.domainIdentitySource" | "microsoft.graph.externalDomainFederation" => {
                let domain = s
                    .get("domainName")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                match st.world.by_domain(domain) {
                    Some(t) => {
                        json!({"@odata.type": "#microsoft.graph.azureActiveDirectoryTenant", "tenantId": t.id.to_string(), "displayName": t.display_name})
                    }
                    None => s.clone(),
                }
            }
            "microsoft.graph.azureActiveDirectoryTenant" => {
                let tid = s
                    .get("tenantId")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let name = uuid::Uuid::parse_str(tid)
                    .ok()
                    .and_then(|id| st.world.info(&id))
                    .map(|t| t.display_name.clone());
                json!({"@odata.type": "#microsoft.graph.azureActiveDirectoryTenant", "tenantId": tid, "displayName": name.or_else(|| s.get("displayName").and_then(Value::as_str).map(str::to_string))})
            }
            _ => s.clone(),
        }
    };
    Value::Array(
        sources
            .as_array()
            .map(|a| a.iter().map(convert).collect())
            .unwrap_or_default(),
    )
}

pub fn org_create(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, _: &[String]) -> Result<Resp> {
    let body = req.body();
    csdl::validate(ORG_TYPE, &body, Mode::Create)?;
    super::require(
        &body,
        &["displayName", "identitySources"],
        "ConnectedOrganization",
    )?;
    if body["identitySources"]
        .as_array()
        .is_none_or(|a| a.len() != 1)
    {
        return Err(GraphError::bad_request(
            "A connected organization must have exactly one identity source.",
        ));
    }
    let now = now_iso();
    let mut org = json!({"id": new_id(), "displayName": null, "description": null, "createdDateTime": now, "modifiedDateTime": now, "state": "configured"});
    super::merge(&mut org, &body);
    org["identitySources"] = convert_sources(st, &body["identitySources"]);
    let t = super::tenant_mut(st, ctx)?;
    insert(ctx, t, CONNECTED_ORGS, &org, None);
    // The documented 201 body shows identitySources as [] (they are resolved asynchronously).
    let mut answer = org;
    answer["identitySources"] = json!([]);
    super::created(super::entity(ctx, &set("connectedOrganizations"), &answer))
}

pub fn org_patch(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, args: &[String]) -> Result<Resp> {
    let mut body = req.body();
    csdl::validate(ORG_TYPE, &body, Mode::Update)?;
    if body.get("identitySources").is_some() {
        body["identitySources"] = convert_sources(st, &body["identitySources"]);
    }
    let t = super::tenant_mut(st, ctx)?;
    let e = super::visible_mut(t, CONNECTED_ORGS, &args[0], ctx.now)?;
    super::merge(&mut e.v, &body);
    stamp_modified(&mut e.v);
    let answer = super::entity(ctx, &set("connectedOrganizations"), &e.v);
    Ok(Resp {
        status: 202,
        headers: vec![],
        body: Some(answer),
    })
}

pub fn org_delete(ctx: &Ctx, st: &mut Scope<'_>, _: &ApiRequest, args: &[String]) -> Result<Resp> {
    delete_from(ctx, st, CONNECTED_ORGS, &args[0])
}

fn delete_from(ctx: &Ctx, st: &mut Scope<'_>, coll: &str, id: &str) -> Result<Resp> {
    let t = super::tenant_mut(st, ctx)?;
    super::visible(t, coll, id, ctx.now)?;
    t.remove(coll, id);
    super::no_content()
}

// ------------------------------------------------------------ catalogs and resources

const CATALOG_TYPE: &str = "microsoft.graph.accessPackageCatalog";

pub fn catalog_list(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, _: &[String]) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    let rules = super::service_rules(
        CATALOG_TYPE,
        &[
            "id",
            "displayName",
            "state",
            "catalogType",
            "isExternallyVisible",
        ],
    );
    super::list(
        ctx,
        req,
        super::visible_items(t, CATALOGS, ctx.now, None),
        &rules,
        &set("catalogs"),
    )
}

pub fn catalog_get(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    super::get_one(
        ctx,
        req,
        &set("catalogs"),
        CATALOG_TYPE,
        &super::visible(t, CATALOGS, &args[0], ctx.now)?.v,
    )
}

pub fn catalog_create(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    _: &[String],
) -> Result<Resp> {
    let body = req.body();
    csdl::validate(CATALOG_TYPE, &body, Mode::Create)?;
    super::require(&body, &["displayName"], "AccessPackageCatalog")?;
    let now = now_iso();
    let mut c = json!({"id": new_id(), "displayName": null, "description": null, "catalogType": "userManaged", "state": "published",
        "isExternallyVisible": true, "createdDateTime": now, "modifiedDateTime": now});
    super::merge(&mut c, &body);
    insert(ctx, super::tenant_mut(st, ctx)?, CATALOGS, &c, None);
    super::created(super::entity(ctx, &set("catalogs"), &c))
}

pub fn catalog_patch(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    patch_in(ctx, st, req, CATALOGS, CATALOG_TYPE, &args[0])
}

fn patch_in(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    coll: &str,
    ty: &str,
    id: &str,
) -> Result<Resp> {
    let body = req.body();
    csdl::validate(ty, &body, Mode::Update)?;
    let t = super::tenant_mut(st, ctx)?;
    let e = super::visible_mut(t, coll, id, ctx.now)?;
    super::merge(&mut e.v, &body);
    stamp_modified(&mut e.v);
    super::no_content()
}

pub fn catalog_delete(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    _: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    if t.list(ACCESS_PACKAGES)
        .iter()
        .any(|p| p.parent.as_deref() == Some(args[0].as_str()))
    {
        return Err(GraphError::bad_request(
            "The catalog cannot be deleted because it still contains access packages.",
        ));
    }
    delete_from(ctx, st, CATALOGS, &args[0])
}

fn strip_expand(mut v: Value, expand: &[String]) -> Value {
    if let Some(o) = v.as_object_mut() {
        for nav in ["roles", "scopes"] {
            if !expand.iter().any(|e| e == nav) {
                o.remove(nav);
            }
        }
    }
    v
}

fn check_expand(req: &ApiRequest, allowed: &[&str]) -> Result<()> {
    match req
        .query
        .expand
        .iter()
        .find(|e| !allowed.contains(&e.as_str()))
    {
        Some(bad) => Err(GraphError::new(
            400,
            "BadRequest",
            format!("Could not find a property named '{bad}' on type to expand."),
        )),
        None => Ok(()),
    }
}

pub fn resources_list(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    check_expand(req, &["roles", "scopes"])?;
    let t = super::tenant(st, ctx)?;
    super::visible(t, CATALOGS, &args[0], ctx.now)?;
    let items = super::visible_items(t, RESOURCES, ctx.now, Some(&args[0]))
        .into_iter()
        .map(|v| strip_expand(v, &req.query.expand))
        .collect();
    let rules = super::service_rules(
        "microsoft.graph.accessPackageResource",
        &["id", "originId", "originSystem", "displayName"],
    );
    super::list(
        ctx,
        req,
        items,
        &rules,
        &format!("{EM}/catalogs('{}')/resources", args[0]),
    )
}

pub fn resource_roles_list(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    check_expand(req, &["resource"])?;
    let t = super::tenant(st, ctx)?;
    super::visible(t, CATALOGS, &args[0], ctx.now)?;
    let mut roles = Vec::new();
    for res in super::visible_items(t, RESOURCES, ctx.now, Some(&args[0])) {
        for role in res
            .get("roles")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let mut role = role.clone();
            // `resource` is needed for the documented filter `resource/id eq …`; shown only when expanded.
            role["resource"] = strip_expand(res.clone(), &[]);
            roles.push(role);
        }
    }
    let rules = super::service_rules(
        "microsoft.graph.accessPackageResourceRole",
        &["id", "originId", "originSystem", "displayName", "resource"],
    );
    let mut resp = super::list(
        ctx,
        req,
        roles,
        &rules,
        &format!("{EM}/catalogs('{}')/resourceRoles", args[0]),
    )?;
    if !req.query.expand.iter().any(|e| e == "resource")
        && let Some(Value::Array(items)) = resp.body.as_mut().and_then(|b| b.get_mut("value"))
    {
        items
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(|o| {
                o.remove("resource");
            });
    }
    Ok(resp)
}

const REQUEST_TYPE: &str = "microsoft.graph.accessPackageResourceRequest";

pub fn request_list(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, _: &[String]) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    let rules = super::service_rules(REQUEST_TYPE, &["id", "requestType", "state"]);
    super::list(
        ctx,
        req,
        super::visible_items(t, RESOURCE_REQUESTS, ctx.now, None),
        &rules,
        &set("resourceRequests"),
    )
}

fn group_resource(group: &Entry, catalog: &str) -> Value {
    let gid = group.id();
    let rid = new_id();
    let role = |name: &str| json!({"id": new_id(), "displayName": name, "description": null, "originSystem": "AadGroup", "originId": format!("{name}_{gid}")});
    json!({"id": rid, "displayName": group.str("displayName"), "description": group.str("description"), "originId": gid,
        "originSystem": "AadGroup", "createdDateTime": now_iso(), "attributes": [], "_catalog": catalog,
        "roles": [role("Member"), role("Owner")],
        "scopes": [{"id": new_id(), "displayName": "Root", "description": "Root Scope", "originId": gid, "originSystem": "AadGroup", "isRootScope": true}]})
}

pub fn request_create(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    _: &[String],
) -> Result<Resp> {
    let body = req.body();
    csdl::validate(REQUEST_TYPE, &body, Mode::Create)?;
    super::require(
        &body,
        &["requestType", "resource", "catalog"],
        "AccessPackageResourceRequest",
    )?;
    let request_type = body["requestType"].as_str().unwrap_or_default().to_string();
    if request_type != "adminAdd" && request_type != "adminRemove" {
        return Err(GraphError::bad_request(format!(
            "Request type '{request_type}' is not supported for application callers."
        )));
    }
    let catalog_id = body["catalog"]
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let origin_id = body["resource"]
        .get("originId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let origin_system = body["resource"]
        .get("originSystem")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if origin_system != "AadGroup" {
        return Err(GraphError::bad_request(format!(
            "The sandbox only emulates group resources (originSystem 'AadGroup'), not '{origin_system}'."
        )));
    }
    // Adding a group with application permissions also needs Group.ReadWrite.All (MGD resourceRequests page).
    if !ctx
        .roles
        .iter()
        .any(|r| r == "Group.ReadWrite.All" || r == "Directory.ReadWrite.All")
    {
        return Err(GraphError::forbidden());
    }
    let t = super::tenant_mut(st, ctx)?;
    super::visible(t, CATALOGS, &catalog_id, ctx.now)?;
    let existing = t
        .list(RESOURCES)
        .iter()
        .find(|r| {
            r.parent.as_deref() == Some(catalog_id.as_str())
                && r.str("originId") == Some(origin_id.as_str())
        })
        .map(|r| r.id().to_string());
    if request_type == "adminAdd" {
        let group = super::visible(t, GROUPS, &origin_id, ctx.now)?.clone();
        if existing.is_some() {
            return Err(GraphError::bad_request(
                "ResourceAlreadyOnboarded: the resource is already in the catalog.",
            ));
        }
        let res = group_resource(&group, &catalog_id);
        insert(ctx, t, RESOURCES, &res, Some(catalog_id.clone()));
    } else {
        let Some(rid) = existing else {
            return Err(GraphError::not_found(&origin_id));
        };
        t.remove(RESOURCES, &rid);
    }
    let rr = json!({"id": new_id(), "requestType": request_type, "state": "delivered", "createdDateTime": now_iso()});
    insert(ctx, t, RESOURCE_REQUESTS, &rr, None);
    super::created(super::entity(ctx, &set("resourceRequests"), &rr))
}

// ------------------------------------------------------------ access packages and role scopes

const PACKAGE_TYPE: &str = "microsoft.graph.accessPackage";

pub fn package_list(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, _: &[String]) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    let rules = super::service_rules(PACKAGE_TYPE, &["id", "displayName", "isHidden", "catalog"]);
    let items = super::visible_items(t, ACCESS_PACKAGES, ctx.now, None);
    let items: Vec<Value> = items
        .into_iter()
        .map(|p| expand_package(t, p, &req.query.expand))
        .collect();
    super::list(ctx, req, items, &rules, &set("accessPackages"))
}

fn expand_package(t: &Tenant, mut p: Value, expand: &[String]) -> Value {
    let id = p
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if expand.iter().any(|e| e == "resourceRoleScopes") {
        p["resourceRoleScopes"] = Value::Array(
            t.list(ROLE_SCOPES)
                .iter()
                .filter(|s| s.parent.as_deref() == Some(id.as_str()))
                .map(|s| s.v.clone())
                .collect(),
        );
    }
    if !expand.iter().any(|e| e == "catalog")
        && let Some(o) = p.as_object_mut()
    {
        o.remove("catalog");
    }
    p
}

pub fn package_get(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    check_expand(req, &["catalog", "resourceRoleScopes"])?;
    let t = super::tenant(st, ctx)?;
    let p = expand_package(
        t,
        super::visible(t, ACCESS_PACKAGES, &args[0], ctx.now)?
            .v
            .clone(),
        &req.query.expand,
    );
    super::get_one(ctx, req, &set("accessPackages"), PACKAGE_TYPE, &p)
}

pub fn package_create(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    _: &[String],
) -> Result<Resp> {
    let body = req.body();
    csdl::validate(PACKAGE_TYPE, &body, Mode::Create)?;
    super::require(&body, &["displayName", "catalog"], "AccessPackage")?;
    let catalog_id = body["catalog"]
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let t = super::tenant_mut(st, ctx)?;
    let catalog = super::visible(t, CATALOGS, &catalog_id, ctx.now)?.v.clone();
    let now = now_iso();
    let mut p = json!({"id": new_id(), "displayName": null, "description": null, "isHidden": false, "createdDateTime": now, "modifiedDateTime": now});
    super::merge(&mut p, &body);
    p["catalog"] = crate::sandbox::state::render(&catalog);
    insert(ctx, t, ACCESS_PACKAGES, &p, Some(catalog_id));
    if let Some(o) = p.as_object_mut() {
        o.remove("catalog");
    }
    super::created(super::entity(ctx, &set("accessPackages"), &p))
}

pub fn package_patch(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    if req.body().get("catalog").is_some() {
        return Err(GraphError::bad_request(
            "Property 'catalog' cannot be updated; use the moveToCatalog action.",
        ));
    }
    patch_in(ctx, st, req, ACCESS_PACKAGES, PACKAGE_TYPE, &args[0])
}

pub fn package_delete(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    _: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    let delivered = t.list(ASSIGNMENTS).iter().any(|a| {
        a.v.pointer("/accessPackage/id").and_then(Value::as_str) == Some(args[0].as_str())
            && a.str("state") == Some("delivered")
    });
    if delivered {
        return Err(GraphError::bad_request(
            "The access package cannot be deleted because it has active assignments.",
        ));
    }
    let t = super::tenant_mut(st, ctx)?;
    t.list_mut(ROLE_SCOPES)
        .retain(|s| s.parent.as_deref() != Some(args[0].as_str()));
    delete_from(ctx, st, ACCESS_PACKAGES, &args[0])
}

const SCOPE_TYPE: &str = "microsoft.graph.accessPackageResourceRoleScope";

pub fn scope_list(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    super::visible(t, ACCESS_PACKAGES, &args[0], ctx.now)?;
    let items = super::visible_items(t, ROLE_SCOPES, ctx.now, Some(&args[0]));
    super::list(
        ctx,
        req,
        items,
        &super::service_rules(SCOPE_TYPE, &["id"]),
        &format!("{EM}/accessPackages('{}')/resourceRoleScopes", args[0]),
    )
}

/// Finds the catalog role and scope a role-scope body refers to (by id, or by originId).
fn resolve_role_scope(t: &Tenant, catalog: &str, body: &Value) -> Option<(Value, Value, Value)> {
    let role_id = body.pointer("/role/id").and_then(Value::as_str);
    let role_origin = body.pointer("/role/originId").and_then(Value::as_str);
    let scope_id = body.pointer("/scope/id").and_then(Value::as_str);
    let scope_origin = body.pointer("/scope/originId").and_then(Value::as_str);
    for res in t
        .list(RESOURCES)
        .iter()
        .filter(|r| r.parent.as_deref() == Some(catalog))
    {
        let roles = res
            .v
            .get("roles")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let scopes = res
            .v
            .get("scopes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let matches = |v: &Value, id: Option<&str>, origin: Option<&str>| {
            id.is_some_and(|i| v.get("id").and_then(Value::as_str) == Some(i))
                || (id.is_none()
                    && origin.is_some_and(|o| v.get("originId").and_then(Value::as_str) == Some(o)))
        };
        let role = roles.iter().find(|r| matches(r, role_id, role_origin));
        let scope = scopes.iter().find(|s| matches(s, scope_id, scope_origin));
        if let (Some(role), Some(scope)) = (role, scope) {
            return Some((
                role.clone(),
                scope.clone(),
                crate::sandbox::state::render(&strip_expand(res.v.clone(), &[])),
            ));
        }
    }
    None
}

pub fn scope_create(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let body = req.body();
    csdl::validate(SCOPE_TYPE, &body, Mode::Create)?;
    super::require(&body, &["role", "scope"], "AccessPackageResourceRoleScope")?;
    let t = super::tenant_mut(st, ctx)?;
    let package = super::visible(t, ACCESS_PACKAGES, &args[0], ctx.now)?;
    let catalog = package.parent.clone().unwrap_or_default();
    let Some((mut role, mut scope, resource)) = resolve_role_scope(t, &catalog, &body) else {
        return Err(GraphError::new(
            404,
            "ResourceNotFound",
            "The role or scope was not found among the resources of the access package's catalog.",
        ));
    };
    let id = format!(
        "{}_{}",
        role["id"].as_str().unwrap_or_default(),
        scope["id"].as_str().unwrap_or_default()
    );
    if t.list(ROLE_SCOPES)
        .iter()
        .any(|s| s.id() == id && s.parent.as_deref() == Some(args[0].as_str()))
    {
        return Err(GraphError::new(
            409,
            "Conflict",
            "The resource role scope already exists in the access package.",
        ));
    }
    role["resource"] = resource.clone();
    scope["resource"] = resource;
    let rs = json!({"id": id, "createdDateTime": now_iso(), "role": role, "scope": scope});
    insert(ctx, t, ROLE_SCOPES, &rs, Some(args[0].clone()));
    super::created(super::entity(
        ctx,
        &format!("{EM}/accessPackages('{}')/resourceRoleScopes", args[0]),
        &json!({"id": rs["id"], "createdDateTime": rs["createdDateTime"]}),
    ))
}

pub fn scope_delete(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    _: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let t = super::tenant_mut(st, ctx)?;
    let list = t.list_mut(ROLE_SCOPES);
    let pos = list
        .iter()
        .position(|s| s.id() == args[1] && s.parent.as_deref() == Some(args[0].as_str()))
        .ok_or_else(|| GraphError::not_found(&args[1]))?;
    list.remove(pos);
    super::no_content()
}

// ------------------------------------------------------------ assignment policies

const POLICY_TYPE: &str = "microsoft.graph.accessPackageAssignmentPolicy";

fn expand_policy(t: &Tenant, mut p: Value, expand: &[String]) -> Value {
    let pkg_id = p
        .pointer("/accessPackage/id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if expand.iter().any(|e| e == "accessPackage") {
        if let Some(pkg) = t.find(ACCESS_PACKAGES, &pkg_id) {
            let mut v = crate::sandbox::state::render(&pkg.v);
            if let Some(o) = v.as_object_mut() {
                o.remove("catalog");
            }
            p["accessPackage"] = v;
        }
    } else if let Some(o) = p.as_object_mut() {
        o.remove("accessPackage");
    }
    p
}

pub fn policy_list(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, _: &[String]) -> Result<Resp> {
    check_expand(req, &["accessPackage"])?;
    let t = super::tenant(st, ctx)?;
    let rules = super::service_rules(POLICY_TYPE, &["id", "displayName", "accessPackage"]);
    // Filter on the stored accessPackage reference, expand afterwards.
    let page = crate::sandbox::odata::page(
        super::visible_items(t, POLICIES, ctx.now, None),
        &req.query,
        &rules,
        ctx.page_size,
        req.eventual,
    )?;
    let page = crate::sandbox::odata::Page {
        items: page
            .items
            .into_iter()
            .map(|p| expand_policy(t, p, &req.query.expand))
            .collect(),
        ..page
    };
    super::check_select(&req.query, POLICY_TYPE)?;
    super::ok(crate::sandbox::odata::collection_body(
        &ctx.context(&set("assignmentPolicies")),
        page,
        &req.query,
        &rules,
        &req.self_url(ctx),
    ))
}

pub fn policy_get(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    check_expand(req, &["accessPackage"])?;
    let t = super::tenant(st, ctx)?;
    let p = expand_policy(
        t,
        super::visible(t, POLICIES, &args[0], ctx.now)?.v.clone(),
        &req.query.expand,
    );
    super::get_one(ctx, req, &set("assignmentPolicies"), POLICY_TYPE, &p)
}

fn policy_defaults() -> Value {
    json!({"displayName": null, "description": null, "allowedTargetScope": "notSpecified", "specificAllowedTargets": [],
        "expiration": {"type": "noExpiration", "duration": null, "endDateTime": null},
        "requestorSettings": {"enableTargetsToSelfAddAccess": false, "enableTargetsToSelfUpdateAccess": false, "enableTargetsToSelfRemoveAccess": false,
            "allowCustomAssignmentSchedule": false, "enableOnBehalfRequestorsToAddAccess": false, "enableOnBehalfRequestorsToUpdateAccess": false,
            "enableOnBehalfRequestorsToRemoveAccess": false, "onBehalfRequestors": []},
        "requestApprovalSettings": {"isApprovalRequiredForAdd": false, "isApprovalRequiredForUpdate": false, "stages": []},
        "reviewSettings": null, "automaticRequestSettings": null})
}

pub fn policy_create(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    _: &[String],
) -> Result<Resp> {
    let body = req.body();
    csdl::validate(POLICY_TYPE, &body, Mode::Create)?;
    super::require(
        &body,
        &["displayName", "accessPackage"],
        "AccessPackageAssignmentPolicy",
    )?;
    let pkg_id = body
        .pointer("/accessPackage/id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let t = super::tenant_mut(st, ctx)?;
    super::visible(t, ACCESS_PACKAGES, &pkg_id, ctx.now)?;
    let now = now_iso();
    let mut p = policy_defaults();
    super::merge(&mut p, &body);
    p["id"] = json!(new_id());
    p["createdDateTime"] = json!(now);
    p["modifiedDateTime"] = json!(now);
    p["accessPackage"] = json!({"id": pkg_id});
    insert(ctx, t, POLICIES, &p, None);
    super::created(super::entity(
        ctx,
        &set("assignmentPolicies"),
        &expand_policy(t, p, &[]),
    ))
}

/// PUT replaces the whole policy: omitted settings are reset to their defaults.
pub fn policy_put(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let body = req.body();
    csdl::validate(POLICY_TYPE, &body, Mode::Replace)?;
    if body
        .get("id")
        .and_then(Value::as_str)
        .is_some_and(|id| !id.eq_ignore_ascii_case(&args[0]))
    {
        return Err(GraphError::bad_request(
            "The id in the request body does not match the id in the request URL.",
        ));
    }
    let t = super::tenant_mut(st, ctx)?;
    let e = super::visible_mut(t, POLICIES, &args[0], ctx.now)?;
    let keep = (
        e.v["id"].clone(),
        e.v["createdDateTime"].clone(),
        e.v["accessPackage"].clone(),
    );
    if body
        .pointer("/accessPackage/id")
        .and_then(Value::as_str)
        .is_some_and(|p| Some(p) != keep.2.get("id").and_then(Value::as_str))
    {
        return Err(GraphError::bad_request(
            "Property 'accessPackage' cannot be changed after the policy is created.",
        ));
    }
    let mut p = policy_defaults();
    super::merge(&mut p, &body);
    (p["id"], p["createdDateTime"], p["accessPackage"]) = keep;
    p["modifiedDateTime"] = json!(now_iso());
    e.v = p.clone();
    super::ok(super::entity(
        ctx,
        &set("assignmentPolicies"),
        &expand_policy(t, p, &[]),
    ))
}

pub fn policy_delete(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    _: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    delete_from(ctx, st, POLICIES, &args[0])
}

// ------------------------------------------------------------ assignments (read-only)

pub fn assignment_list(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    _: &[String],
) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    let rules = super::service_rules(
        "microsoft.graph.accessPackageAssignment",
        &[
            "id",
            "state",
            "status",
            "accessPackage",
            "target",
            "assignmentPolicy",
        ],
    );
    super::list(
        ctx,
        req,
        super::visible_items(t, ASSIGNMENTS, ctx.now, None),
        &rules,
        &set("assignments"),
    )
}

pub fn assignment_get(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    super::get_one(
        ctx,
        req,
        &set("assignments"),
        "microsoft.graph.accessPackageAssignment",
        &super::visible(t, ASSIGNMENTS, &args[0], ctx.now)?.v,
    )
}
