//! Graph and Defender routes: the routing table (path pattern → permission area → handler) and the
//! small response helpers every handler shares. Handlers are synchronous functions over the locked
//! tenant ([`Scope`]); the HTTP layer ([`super::api`]) does authentication, faults and latency around them,
//! and `$batch` re-enters [`dispatch`] for each inner request.

pub mod applications;
pub mod batch;
pub mod control;
pub mod cross_tenant;
pub mod defender_rbac;
pub mod detection_rules;
pub mod entitlement;
pub mod gdap;
pub mod groups;
pub mod mde;
pub mod security;
pub mod service_principals;

use serde_json::{Value, json};
use uuid::Uuid;

use super::errors::GraphError;
use super::odata::{self, CollectionRules, Query};
use super::permissions::{self, Access, Area};
use super::state::{self, Entry, Tenant};
use super::world::Scope;

/// Per-request context.
pub struct Ctx {
    pub tenant: Uuid,
    pub roles: Vec<String>,
    /// `v1.0` or `beta`.
    pub version: String,
    pub base: String,
    pub now: i64,
    pub replication_delay_ms: i64,
    pub page_size: usize,
}

impl Ctx {
    /// When a new object becomes visible to reads and references.
    pub(crate) fn visible_at(&self) -> i64 {
        self.now + self.replication_delay_ms
    }
    pub(crate) fn context(&self, fragment: &str) -> String {
        format!("{}/{}/$metadata#{fragment}", self.base, self.version)
    }
}

/// One API request after HTTP parsing.
pub struct ApiRequest {
    pub method: String,
    /// Path below the version, already split and percent-decoded.
    pub segments: Vec<String>,
    pub query: Query,
    pub body: Option<Value>,
    pub prefer_create_if_missing: bool,
    pub eventual: bool,
    /// Values of alternate-key segments (`groups(uniqueName='x')` → `x`), in path order.
    pub keys: Vec<String>,
    /// The `If-Match` header (GDAP updates and deletes require the object's ETag).
    pub if_match: Option<String>,
}

impl ApiRequest {
    pub fn body(&self) -> Value {
        self.body.clone().unwrap_or_else(|| json!({}))
    }
    /// The request URL without query, for nextLinks.
    pub(crate) fn self_url(&self, ctx: &Ctx) -> String {
        format!("{}/{}/{}", ctx.base, ctx.version, self.segments.join("/"))
    }
}

/// A handler's answer.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

pub type Result<T> = std::result::Result<T, GraphError>;

pub fn ok(body: Value) -> Result<Resp> {
    Ok(Resp {
        status: 200,
        headers: vec![],
        body: Some(body),
    })
}
pub fn created(body: Value) -> Result<Resp> {
    Ok(Resp {
        status: 201,
        headers: vec![],
        body: Some(body),
    })
}
pub(crate) fn no_content() -> Result<Resp> {
    Ok(Resp {
        status: 204,
        headers: vec![],
        body: None,
    })
}

/// An object as returned by a single-entity read or create.
pub(crate) fn entity(ctx: &Ctx, set: &str, v: &Value) -> Value {
    let mut out = json!({"@odata.context": ctx.context(&format!("{set}/$entity"))});
    if let (Some(o), Value::Object(src)) = (out.as_object_mut(), state::render(v)) {
        o.extend(src);
    }
    out
}

/// The request's tenant (the scope holds the tenant of `ctx`, locked).
pub fn tenant<'a>(st: &'a Scope<'_>, ctx: &Ctx) -> Result<&'a Tenant> {
    st.tenant
        .as_deref()
        .filter(|t| t.id == ctx.tenant)
        .ok_or_else(|| GraphError::unauthenticated("The tenant of the token is unknown."))
}
pub fn tenant_mut<'a>(st: &'a mut Scope<'_>, ctx: &Ctx) -> Result<&'a mut Tenant> {
    st.tenant
        .as_deref_mut()
        .filter(|t| t.id == ctx.tenant)
        .ok_or_else(|| GraphError::unauthenticated("The tenant of the token is unknown."))
}

/// A visible object or the directory 404.
pub fn visible<'a>(t: &'a Tenant, coll: &str, id: &str, now: i64) -> Result<&'a Entry> {
    t.find(coll, id)
        .filter(|e| e.visible(now))
        .ok_or_else(|| GraphError::not_found(id))
}

pub(crate) fn visible_mut<'a>(
    t: &'a mut Tenant,
    coll: &str,
    id: &str,
    now: i64,
) -> Result<&'a mut Entry> {
    t.find_mut(coll, id)
        .filter(|e| e.visible(now))
        .ok_or_else(|| GraphError::not_found(id))
}

/// Visible objects of a collection (optionally only children of `parent`), rendered.
pub(crate) fn visible_items(t: &Tenant, coll: &str, now: i64, parent: Option<&str>) -> Vec<Value> {
    t.list(coll)
        .iter()
        .filter(|e| {
            e.visible(now)
                && parent.is_none_or(|p| {
                    e.parent
                        .as_deref()
                        .is_some_and(|x| x.eq_ignore_ascii_case(p))
                })
        })
        .map(|e| state::render(&e.v))
        .collect()
}

/// Directory-object list rules.
pub(crate) fn directory_rules(
    type_name: &'static str,
    filterable: &'static [&'static str],
) -> CollectionRules {
    CollectionRules {
        filterable,
        directory: true,
        skip_paging: false,
        max_top: 999,
        type_name,
    }
}

/// Non-directory (entitlement management, policies, RBAC) list rules.
pub(crate) fn service_rules(
    type_name: &'static str,
    filterable: &'static [&'static str],
) -> CollectionRules {
    CollectionRules {
        filterable,
        directory: false,
        skip_paging: false,
        max_top: 999,
        type_name,
    }
}

/// Pages `items` per the request and builds the collection response.
pub fn list(
    ctx: &Ctx,
    req: &ApiRequest,
    items: Vec<Value>,
    rules: &CollectionRules,
    set: &str,
) -> Result<Resp> {
    check_select(&req.query, rules.type_name)?;
    let page = odata::page(items, &req.query, rules, ctx.page_size, req.eventual)?;
    ok(odata::collection_body(
        &ctx.context(set),
        page,
        &req.query,
        rules,
        &req.self_url(ctx),
    ))
}

/// Rejects `$select` of properties the type does not have.
pub(crate) fn check_select(q: &Query, type_name: &str) -> Result<()> {
    let props = super::csdl::properties(type_name);
    if props.is_empty() {
        return Ok(());
    }
    for f in q.select.iter().flatten() {
        if !props.keys().any(|k| k.eq_ignore_ascii_case(f)) {
            return Err(GraphError::bad_request(format!(
                "Could not find a property named '{f}' on type '{type_name}'."
            )));
        }
    }
    Ok(())
}

/// A single-entity GET answer honouring `$select`.
pub(crate) fn get_one(
    ctx: &Ctx,
    req: &ApiRequest,
    set: &str,
    type_name: &str,
    v: &Value,
) -> Result<Resp> {
    check_select(&req.query, type_name)?;
    ok(odata::select(&entity(ctx, set, v), &req.query.select))
}

/// Top-level PATCH merge: each given property replaces the stored one (Graph semantics).
pub fn merge(target: &mut Value, patch: &Value) {
    if let (Some(t), Some(p)) = (target.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            if !k.starts_with('@') {
                t.insert(k.clone(), v.clone());
            }
        }
    }
}

pub(crate) fn require(body: &Value, fields: &[&str], type_label: &str) -> Result<()> {
    for f in fields {
        if body.get(*f).is_none_or(Value::is_null) {
            return Err(GraphError::bad_request(format!(
                "Invalid value specified for property '{f}' of resource '{type_label}'."
            )));
        }
    }
    Ok(())
}

type Handler = fn(&Ctx, &mut Scope<'_>, &ApiRequest, &[String]) -> Result<Resp>;

/// A matched route.
pub struct Route {
    pub area: Area,
    pub access: Access,
    pub handler: Handler,
    pub args: Vec<String>,
}

fn r(area: Area, access: Access, handler: Handler, args: &[&str]) -> Option<Route> {
    Some(Route {
        area,
        access,
        handler,
        args: args.iter().map(|s| s.to_string()).collect(),
    })
}

/// The routing table. `toks` are path segments with alternate keys folded (`groups(uniqueName)`)
/// and the entitlement-management prefix shortened to `em`.
pub fn route(method: &str, toks: &[&str], beta: bool) -> Option<Route> {
    use Access::*;
    use Area::*;
    match (method, toks) {
        ("GET", ["groups"]) => r(Groups, Read, groups::list, &[]),
        ("POST", ["groups"]) => r(Groups, Write, groups::create, &[]),
        ("PATCH", ["groups(uniqueName)"]) => r(Groups, Write, groups::upsert, &[]),
        ("GET", ["groups", id]) => r(Groups, Read, groups::get, &[id]),
        ("PATCH", ["groups", id]) => r(Groups, Write, groups::patch, &[id]),
        ("DELETE", ["groups", id]) => r(Groups, Write, groups::delete, &[id]),

        ("GET", ["applications"]) => r(Applications, Read, applications::list, &[]),
        ("POST", ["applications"]) => r(Applications, Write, applications::create, &[]),
        ("PATCH", ["applications(uniqueName)"]) => {
            r(Applications, Write, applications::upsert, &[])
        }
        ("GET", ["applications", id]) => r(Applications, Read, applications::get, &[id]),
        ("PATCH", ["applications", id]) => r(Applications, Write, applications::patch, &[id]),
        ("DELETE", ["applications", id]) => r(Applications, Write, applications::delete, &[id]),
        ("POST", ["applications", id, "addPassword"]) => {
            r(Applications, Write, applications::add_password, &[id])
        }
        ("POST", ["applications", id, "removePassword"]) => {
            r(Applications, Write, applications::remove_password, &[id])
        }
        ("GET", ["applications", id, "federatedIdentityCredentials"]) => {
            r(Applications, Read, applications::fic_list, &[id])
        }
        ("POST", ["applications", id, "federatedIdentityCredentials"]) => {
            r(Applications, Write, applications::fic_create, &[id])
        }
        ("GET", ["applications", id, "federatedIdentityCredentials", f]) => {
            r(Applications, Read, applications::fic_get, &[id, f])
        }
        ("PATCH", ["applications", id, "federatedIdentityCredentials", f]) => {
            r(Applications, Write, applications::fic_patch, &[id, f])
        }
        ("DELETE", ["applications", id, "federatedIdentityCredentials", f]) => {
            r(Applications, Write, applications::fic_delete, &[id, f])
        }

        ("GET", ["servicePrincipals"]) => r(ServicePrincipals, Read, service_principals::list, &[]),
        ("POST", ["servicePrincipals"]) => {
            r(ServicePrincipals, Write, service_principals::create, &[])
        }
        ("PATCH", ["servicePrincipals(appId)"]) => {
            r(ServicePrincipals, Write, service_principals::upsert, &[])
        }
        ("GET", ["servicePrincipals", id]) => {
            r(ServicePrincipals, Read, service_principals::get, &[id])
        }
        ("PATCH", ["servicePrincipals", id]) => {
            r(ServicePrincipals, Write, service_principals::patch, &[id])
        }
        ("DELETE", ["servicePrincipals", id]) => {
            r(ServicePrincipals, Write, service_principals::delete, &[id])
        }
        ("GET", ["servicePrincipals", id, "appRoleAssignedTo"]) => r(
            AppRoleAssignments,
            Read,
            service_principals::assigned_to_list,
            &[id],
        ),
        ("POST", ["servicePrincipals", id, "appRoleAssignedTo"]) => {
            r(AppRoleAssignments, Write, service_principals::assign, &[id])
        }
        ("DELETE", ["servicePrincipals", id, "appRoleAssignedTo", a]) => r(
            AppRoleAssignments,
            Write,
            service_principals::unassign,
            &[id, a],
        ),
        ("GET", ["servicePrincipals", id, "appRoleAssignments"]) => r(
            AppRoleAssignments,
            Read,
            service_principals::assignments_list,
            &[id],
        ),
        ("POST", ["servicePrincipals", id, "appRoleAssignments"]) => {
            r(AppRoleAssignments, Write, service_principals::assign, &[id])
        }
        ("DELETE", ["servicePrincipals", id, "appRoleAssignments", a]) => r(
            AppRoleAssignments,
            Write,
            service_principals::unassign,
            &[id, a],
        ),

        ("GET", ["directory", "deletedItems", kind]) if kind.starts_with("microsoft.graph.") => r(
            DeletedItems,
            Read,
            service_principals::deleted_list,
            &[kind],
        ),
        ("GET", ["directory", "deletedItems", id]) => {
            r(DeletedItems, Read, service_principals::deleted_get, &[id])
        }
        ("POST", ["directory", "deletedItems", id, "restore"]) => r(
            DeletedItems,
            Write,
            service_principals::deleted_restore,
            &[id],
        ),
        ("DELETE", ["directory", "deletedItems", id]) => r(
            DeletedItems,
            Write,
            service_principals::deleted_purge,
            &[id],
        ),

        (
            "GET",
            [
                "tenantRelationships",
                "findTenantInformationByTenantId(tenantId)",
            ],
        ) => r(TenantInformation, Read, cross_tenant::find_tenant, &[]),
        ("GET", ["policies", "crossTenantAccessPolicy", "partners"]) => {
            r(CrossTenantAccess, Read, cross_tenant::list, &[])
        }
        ("POST", ["policies", "crossTenantAccessPolicy", "partners"]) => {
            r(CrossTenantAccess, Write, cross_tenant::create, &[])
        }
        ("GET", ["policies", "crossTenantAccessPolicy", "partners", t]) => {
            r(CrossTenantAccess, Read, cross_tenant::get, &[t])
        }
        ("PATCH", ["policies", "crossTenantAccessPolicy", "partners", t]) => {
            r(CrossTenantAccess, Write, cross_tenant::patch, &[t])
        }
        ("DELETE", ["policies", "crossTenantAccessPolicy", "partners", t]) => {
            r(CrossTenantAccess, Write, cross_tenant::delete, &[t])
        }

        ("GET", ["roleManagement", "defender", kind]) if beta => {
            r(DefenderRbac, Read, defender_rbac::list, &[kind])
        }
        ("POST", ["roleManagement", "defender", kind]) if beta => {
            r(DefenderRbac, Write, defender_rbac::create, &[kind])
        }
        ("GET", ["roleManagement", "defender", kind, id]) if beta => {
            r(DefenderRbac, Read, defender_rbac::get, &[kind, id])
        }
        ("PATCH", ["roleManagement", "defender", kind, id]) if beta => {
            r(DefenderRbac, Write, defender_rbac::patch, &[kind, id])
        }
        ("DELETE", ["roleManagement", "defender", kind, id]) if beta => {
            r(DefenderRbac, Write, defender_rbac::delete, &[kind, id])
        }

        ("GET", ["security", "alerts_v2"]) => r(SecurityAlerts, Read, security::alerts, &[]),
        ("GET", ["security", "alerts_v2", id]) => r(SecurityAlerts, Read, security::alert, &[id]),
        ("GET", ["security", "incidents"]) => r(SecurityIncidents, Read, security::incidents, &[]),
        ("GET", ["security", "incidents", id]) => {
            r(SecurityIncidents, Read, security::incident, &[id])
        }

        ("GET", ["security", "rules", "detectionRules"]) => {
            r(CustomDetections, Read, detection_rules::list, &[])
        }
        ("POST", ["security", "rules", "detectionRules"]) => {
            r(CustomDetections, Write, detection_rules::create, &[])
        }
        ("GET", ["security", "rules", "detectionRules", id]) => {
            r(CustomDetections, Read, detection_rules::get, &[id])
        }
        ("PATCH", ["security", "rules", "detectionRules", id]) => {
            r(CustomDetections, Write, detection_rules::patch, &[id])
        }
        ("DELETE", ["security", "rules", "detectionRules", id]) => {
            r(CustomDetections, Write, detection_rules::delete, &[id])
        }
        (_, ["tenantRelationships", "delegatedAdminRelationships", ..]) => {
            gdap_route(method, &toks[2..])
        }

        (_, ["em", ..]) => entitlement::route(method, &toks[1..]),
        _ => None,
    }
}

/// Routes below `/tenantRelationships/delegatedAdminRelationships`.
fn gdap_route(method: &str, toks: &[&str]) -> Option<Route> {
    use Access::*;
    use Area::DelegatedAdmin as A;
    match (method, toks) {
        ("GET", []) => r(A, Read, gdap::list, &[]),
        ("POST", []) => r(A, Write, gdap::create, &[]),
        ("GET", [id]) => r(A, Read, gdap::get, &[id]),
        ("PATCH", [id]) => r(A, Write, gdap::patch, &[id]),
        ("DELETE", [id]) => r(A, Write, gdap::delete, &[id]),
        ("GET", [id, "requests"]) => r(A, Read, gdap::requests_list, &[id]),
        ("POST", [id, "requests"]) => r(A, Write, gdap::request_create, &[id]),
        ("GET", [id, "requests", q]) => r(A, Read, gdap::request_get, &[id, q]),
        ("GET", [id, "accessAssignments"]) => r(A, Read, gdap::assignments_list, &[id]),
        ("POST", [id, "accessAssignments"]) => r(A, Write, gdap::assignment_create, &[id]),
        ("GET", [id, "accessAssignments", a]) => r(A, Read, gdap::assignment_get, &[id, a]),
        ("PATCH", [id, "accessAssignments", a]) => r(A, Write, gdap::assignment_patch, &[id, a]),
        ("DELETE", [id, "accessAssignments", a]) => r(A, Write, gdap::assignment_delete, &[id, a]),
        ("GET", [id, "operations"]) => r(A, Read, gdap::operations_list, &[id]),
        ("GET", [id, "operations", o]) => r(A, Read, gdap::operation_get, &[id, o]),
        _ => None,
    }
}

/// Folds alternate-key segments: `groups(uniqueName='x')` → token `groups(uniqueName)` + key `x`.
pub(crate) fn fold_keys(segments: &[String]) -> (Vec<String>, Vec<String>) {
    let mut toks = Vec::new();
    let mut keys = Vec::new();
    for s in segments {
        match s.find('(') {
            Some(open) if s.ends_with(')') => {
                let inner = &s[open + 1..s.len() - 1];
                let (name, value) = inner.split_once('=').unwrap_or(("", inner));
                let value = value.trim().trim_matches('\'').replace("''", "'");
                toks.push(format!("{}({})", &s[..open], name.trim()));
                keys.push(value);
            }
            _ => toks.push(s.clone()),
        }
    }
    if toks.len() >= 2 && toks[0] == "identityGovernance" && toks[1] == "entitlementManagement" {
        toks.splice(0..2, ["em".to_string()]);
    }
    (toks, keys)
}

/// Resolves addressing by alternate key (`applications(appId='…')/addPassword`) to the object id,
/// except for the upsert form (PATCH on the keyed segment alone), which handlers treat specially.
fn resolve_alternate_keys(
    ctx: &Ctx,
    st: &Scope<'_>,
    method: &str,
    toks: &mut Vec<String>,
    keys: &[String],
) -> Result<()> {
    let Some(first) = toks.first().cloned() else {
        return Ok(());
    };
    let (coll, prop) = match first.as_str() {
        "groups(uniqueName)" => (state::GROUPS, "uniqueName"),
        "applications(uniqueName)" => (state::APPLICATIONS, "uniqueName"),
        "applications(appId)" => (state::APPLICATIONS, "appId"),
        "servicePrincipals(appId)" => (state::SERVICE_PRINCIPALS, "appId"),
        _ => return Ok(()),
    };
    let upsert = method == "PATCH" && toks.len() == 1 && first != "applications(appId)";
    if upsert {
        return Ok(());
    }
    let key = keys.first().cloned().unwrap_or_default();
    let t = tenant(st, ctx)?;
    let id = t
        .find_by(coll, prop, &key)
        .filter(|e| e.visible(ctx.now))
        .map(|e| e.id().to_string())
        .ok_or_else(|| GraphError::not_found(&key))?;
    toks.splice(0..1, [coll.to_string(), id]);
    Ok(())
}

/// Runs one Graph request (also used for each `$batch` item).
pub(crate) fn dispatch(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest) -> Result<Resp> {
    let (mut toks, keys) = fold_keys(&req.segments);
    resolve_alternate_keys(ctx, st, &req.method, &mut toks, &keys)?;
    let refs: Vec<&str> = toks.iter().map(String::as_str).collect();
    let Some(route) = route(&req.method, &refs, ctx.version == "beta") else {
        return Err(unknown_route(&req.method, &refs, ctx.version == "beta"));
    };
    if !permissions::permits(&ctx.roles, route.area, route.access) {
        return Err(GraphError::forbidden());
    }
    let req = ApiRequest {
        keys,
        ..clone_req(req)
    };
    (route.handler)(ctx, st, &req, &route.args)
}

fn clone_req(req: &ApiRequest) -> ApiRequest {
    ApiRequest {
        method: req.method.clone(),
        segments: req.segments.clone(),
        query: req.query.clone(),
        body: req.body.clone(),
        prefer_create_if_missing: req.prefer_create_if_missing,
        eventual: req.eventual,
        keys: req.keys.clone(),
        if_match: req.if_match.clone(),
    }
}

/// The answer Graph gives for a path it does not serve (or a verb it does not allow).
fn unknown_route(method: &str, toks: &[&str], beta: bool) -> GraphError {
    for m in ["GET", "POST", "PATCH", "PUT", "DELETE"] {
        if m != method && route(m, toks, beta).is_some() {
            return GraphError::new(
                405,
                "Request_BadRequest",
                format!("The HTTP method '{method}' is not allowed for this resource."),
            );
        }
    }
    let seg = toks.iter().find(|t| !t.is_empty()).copied().unwrap_or("");
    let seg = if !beta && toks.starts_with(&["roleManagement", "defender"]) {
        "defender"
    } else {
        seg
    };
    GraphError::new(
        400,
        "BadRequest",
        format!("Resource not found for the segment '{seg}'."),
    )
}

/// `$select` on an already rendered entity.
pub(crate) fn odata_select(v: &Value, req: &ApiRequest) -> Value {
    odata::select(v, &req.query.select)
}
