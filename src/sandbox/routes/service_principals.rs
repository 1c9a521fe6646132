//! `/servicePrincipals`: create from an appId (NoBackingApplicationObject while the app is missing,
//! not yet replicated, or single-tenant in another tenant; conflict on a second SP for the same
//! appId), upsert by `servicePrincipals(appId='…')`, app role assignments (admin consent) in both
//! directions, and `/directory/deletedItems` (soft-deleted apps and SPs, restore 200, purge 204).

use serde_json::{Value, json};

use super::{ApiRequest, Ctx, Resp, Result};
use crate::sandbox::csdl::{self, Mode};
use crate::sandbox::errors::GraphError;
use crate::sandbox::state::{
    self, APP_ROLE_ASSIGNMENTS, APPLICATIONS, DEFENDER_APP_ID, DELETED, Entry, GRAPH_APP_ID,
    MICROSOFT_SERVICES_TENANT, PARTNER_CDA_APP_ID, PARTNER_CDA_NAME, SERVICE_PRINCIPALS, new_id,
    now_iso, opaque_id,
};
use crate::sandbox::world::Scope;

const TYPE: &str = "microsoft.graph.servicePrincipal";
const FILTERABLE: &[&str] = &[
    "id",
    "appId",
    "displayName",
    "servicePrincipalNames/any",
    "tags/any",
    "accountEnabled",
    "servicePrincipalType",
    "appOwnerOrganizationId",
];
const ASSIGNMENT_TYPE: &str = "microsoft.graph.appRoleAssignment";

pub fn list(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, _: &[String]) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    let items = super::visible_items(t, SERVICE_PRINCIPALS, ctx.now, None);
    super::list(
        ctx,
        req,
        items,
        &super::directory_rules(TYPE, FILTERABLE),
        "servicePrincipals",
    )
}

pub fn get(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, args: &[String]) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    let e = super::visible(t, SERVICE_PRINCIPALS, &args[0], ctx.now)?;
    super::get_one(ctx, req, "servicePrincipals", TYPE, &e.v)
}

fn no_backing_app(app_id: &str) -> GraphError {
    GraphError::bad_request(format!("The appId '{app_id}' of the service principal does not reference a valid application object."))
        .with_details(json!([{"code": "NoBackingApplicationObject", "target": "appId"}]))
}

/// The application an SP for `app_id` may be instantiated from, as seen from `ctx.tenant`.
fn backing_app(ctx: &Ctx, st: &Scope<'_>, app_id: &str) -> Result<(String, Value)> {
    let (home, app) = st
        .home_app(app_id)
        .filter(|(_, a)| a.visible(ctx.now))
        .ok_or_else(|| no_backing_app(app_id))?;
    let multi = matches!(
        app.str("signInAudience"),
        Some("AzureADMultipleOrgs" | "AzureADandPersonalMicrosoftAccount")
    );
    if home != ctx.tenant && !multi {
        return Err(no_backing_app(app_id));
    }
    Ok((home.to_string(), app.v.clone()))
}

fn new_sp(ctx: &Ctx, st: &mut Scope<'_>, body: &Value) -> Result<Value> {
    csdl::validate(TYPE, body, Mode::Create)?;
    super::require(body, &["appId"], "ServicePrincipal")?;
    let app_id = body["appId"].as_str().unwrap_or_default().to_string();
    if super::tenant(st, ctx)?.sp_by_app_id(&app_id).is_some() {
        return Err(GraphError::conflict(
            "Another object with the same value for property servicePrincipalNames already exists.",
        ));
    }
    if app_id.eq_ignore_ascii_case(GRAPH_APP_ID) || app_id.eq_ignore_ascii_case(DEFENDER_APP_ID) {
        // Present from the start where licensed; WindowsDefenderATP cannot be instantiated without MDE.
        return Err(no_backing_app(&app_id));
    }
    // Microsoft's first-party apps have no application object a sandbox tenant could see; the
    // one the tool instantiates itself (GDAP's prerequisite) is known by its appId.
    let (owner, app) = if app_id.eq_ignore_ascii_case(PARTNER_CDA_APP_ID) {
        (
            MICROSOFT_SERVICES_TENANT.to_string(),
            json!({"displayName": PARTNER_CDA_NAME, "signInAudience": "AzureADMultipleOrgs", "appRoles": []}),
        )
    } else {
        backing_app(ctx, st, &app_id)?
    };
    let name = app.get("displayName").cloned().unwrap_or(Value::Null);
    let mut names = vec![json!(app_id)];
    names.extend(
        app.get("identifierUris")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    );
    let mut sp = json!({
        "id": new_id(), "deletedDateTime": null, "accountEnabled": true, "appDisplayName": name, "appId": app_id,
        "appOwnerOrganizationId": owner, "appRoleAssignmentRequired": false, "displayName": name, "description": null,
        "servicePrincipalNames": names, "servicePrincipalType": "Application", "signInAudience": app.get("signInAudience"),
        "tags": [], "appRoles": app.get("appRoles").cloned().unwrap_or(json!([])), "keyCredentials": [], "passwordCredentials": [],
        "notes": null, "homepage": null, "replyUrls": []
    });
    super::merge(&mut sp, body);
    let t = super::tenant_mut(st, ctx)?;
    t.insert(
        SERVICE_PRINCIPALS,
        Entry {
            v: sp.clone(),
            visible_at_ms: ctx.visible_at(),
            parent: None,
            origin: None,
        },
    );
    Ok(sp)
}

pub fn create(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, _: &[String]) -> Result<Resp> {
    let sp = new_sp(ctx, st, &req.body())?;
    super::created(super::entity(ctx, "servicePrincipals", &sp))
}

pub fn patch(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, args: &[String]) -> Result<Resp> {
    let body = req.body();
    csdl::validate(TYPE, &body, Mode::Update)?;
    let t = super::tenant_mut(st, ctx)?;
    let e = super::visible_mut(t, SERVICE_PRINCIPALS, &args[0], ctx.now)?;
    if body
        .get("appId")
        .and_then(Value::as_str)
        .is_some_and(|a| Some(a) != e.str("appId"))
    {
        return Err(GraphError::bad_request(
            "Property 'appId' is read-only and cannot be set.",
        ));
    }
    super::merge(&mut e.v, &body);
    super::no_content()
}

/// `PATCH /servicePrincipals(appId='…')` upsert.
pub fn upsert(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, _: &[String]) -> Result<Resp> {
    let key = req.keys.first().cloned().unwrap_or_default();
    let body = req.body();
    let existing = super::tenant(st, ctx)?
        .sp_by_app_id(&key)
        .map(|e| e.id().to_string());
    if let Some(id) = existing {
        csdl::validate(TYPE, &body, Mode::Update)?;
        if let Some(e) = super::tenant_mut(st, ctx)?.find_mut(SERVICE_PRINCIPALS, &id) {
            super::merge(&mut e.v, &body);
        }
        return super::no_content();
    }
    if !req.prefer_create_if_missing {
        return Err(GraphError::not_found(&key));
    }
    let mut body = body;
    body["appId"] = json!(key);
    let sp = new_sp(ctx, st, &body)?;
    super::created(super::entity(ctx, "servicePrincipals", &sp))
}

pub fn delete(ctx: &Ctx, st: &mut Scope<'_>, _: &ApiRequest, args: &[String]) -> Result<Resp> {
    let t = super::tenant_mut(st, ctx)?;
    super::visible(t, SERVICE_PRINCIPALS, &args[0], ctx.now)?;
    if let Some(mut e) = t.remove(SERVICE_PRINCIPALS, &args[0]) {
        e.v["deletedDateTime"] = json!(now_iso());
        e.v["@odata.type"] = json!("#microsoft.graph.servicePrincipal");
        e.origin = Some(SERVICE_PRINCIPALS.into());
        t.insert(DELETED, e);
    }
    super::no_content()
}

// ------------------------------------------------------------ app role assignments

pub fn assigned_to_list(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    assignments_where(ctx, st, req, &args[0], "resourceId", "appRoleAssignedTo")
}

pub fn assignments_list(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    assignments_where(ctx, st, req, &args[0], "principalId", "appRoleAssignments")
}

fn assignments_where(
    ctx: &Ctx,
    st: &Scope<'_>,
    req: &ApiRequest,
    sp: &str,
    field: &str,
    nav: &str,
) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    super::visible(t, SERVICE_PRINCIPALS, sp, ctx.now)?;
    let items: Vec<Value> = super::visible_items(t, APP_ROLE_ASSIGNMENTS, ctx.now, None)
        .into_iter()
        .filter(|a| {
            a.get(field)
                .and_then(Value::as_str)
                .is_some_and(|x| x.eq_ignore_ascii_case(sp))
        })
        .collect();
    let rules = super::directory_rules(
        ASSIGNMENT_TYPE,
        &["principalId", "resourceId", "appRoleId", "id"],
    );
    super::list(
        ctx,
        req,
        items,
        &rules,
        &format!("servicePrincipals('{sp}')/{nav}"),
    )
}

/// POST on either side (resource's appRoleAssignedTo or principal's appRoleAssignments).
pub fn assign(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, args: &[String]) -> Result<Resp> {
    let body = req.body();
    csdl::validate(ASSIGNMENT_TYPE, &body, Mode::Create)?;
    super::require(
        &body,
        &["principalId", "resourceId", "appRoleId"],
        "AppRoleAssignment",
    )?;
    let s = |k: &str| body[k].as_str().unwrap_or_default().to_string();
    let (principal_id, resource_id, role_id) = (s("principalId"), s("resourceId"), s("appRoleId"));
    if !args[0].eq_ignore_ascii_case(&resource_id) && !args[0].eq_ignore_ascii_case(&principal_id) {
        return Err(GraphError::bad_request(
            "The resourceId or principalId of the assignment must match the service principal in the request URL.",
        ));
    }
    let t = super::tenant_mut(st, ctx)?;
    let principal = super::visible(t, SERVICE_PRINCIPALS, &principal_id, ctx.now)?.clone();
    let resource = super::visible(t, SERVICE_PRINCIPALS, &resource_id, ctx.now)?.clone();
    if state::role_value(&resource.v, &role_id).is_none() {
        return Err(GraphError::bad_request(
            "Permission being assigned was not found on application",
        )
        .with_details(json!([{"code": "InvalidAppRoleId", "target": "appRoleId"}])));
    }
    let duplicate = t.list(APP_ROLE_ASSIGNMENTS).iter().any(|a| {
        a.str("principalId") == Some(principal.id())
            && a.str("resourceId") == Some(resource.id())
            && a.str("appRoleId")
                .is_some_and(|r| r.eq_ignore_ascii_case(&role_id))
    });
    if duplicate {
        return Err(GraphError::bad_request(
            "Permission being assigned already exists on the object",
        ));
    }
    let a = json!({"id": opaque_id(), "deletedDateTime": null, "appRoleId": role_id, "createdDateTime": now_iso(),
        "principalDisplayName": principal.str("displayName"), "principalId": principal.id(), "principalType": "ServicePrincipal",
        "resourceDisplayName": resource.str("displayName"), "resourceId": resource.id()});
    t.insert(
        APP_ROLE_ASSIGNMENTS,
        Entry {
            v: a.clone(),
            visible_at_ms: ctx.visible_at(),
            parent: None,
            origin: None,
        },
    );
    super::created(super::entity(
        ctx,
        &format!("servicePrincipals('{}')/appRoleAssignedTo", args[0]),
        &a,
    ))
}

pub fn unassign(ctx: &Ctx, st: &mut Scope<'_>, _: &ApiRequest, args: &[String]) -> Result<Resp> {
    let t = super::tenant_mut(st, ctx)?;
    let a = super::visible(t, APP_ROLE_ASSIGNMENTS, &args[1], ctx.now)?;
    let on_sp = [a.str("principalId"), a.str("resourceId")]
        .iter()
        .flatten()
        .any(|x| x.eq_ignore_ascii_case(&args[0]));
    if !on_sp {
        return Err(GraphError::not_found(&args[1]));
    }
    t.remove(APP_ROLE_ASSIGNMENTS, &args[1]);
    super::no_content()
}

// ------------------------------------------------------------ deleted items

pub fn deleted_list(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let kind = args[0].trim_start_matches("microsoft.graph.");
    let origin = match kind {
        "application" => APPLICATIONS,
        "servicePrincipal" => SERVICE_PRINCIPALS,
        "group" => state::GROUPS,
        other => {
            return Err(GraphError::bad_request(format!(
                "Resource not found for the segment 'microsoft.graph.{other}'."
            )));
        }
    };
    let t = super::tenant(st, ctx)?;
    let items: Vec<Value> = t
        .list(DELETED)
        .iter()
        .filter(|e| e.origin.as_deref() == Some(origin))
        .map(|e| state::render(&e.v))
        .collect();
    let rules = super::directory_rules(
        "microsoft.graph.directoryObject",
        &["id", "displayName", "appId", "uniqueName"],
    );
    super::list(
        ctx,
        req,
        items,
        &rules,
        &format!("directory/deletedItems/microsoft.graph.{kind}"),
    )
}

pub fn deleted_get(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    let e = t
        .find(DELETED, &args[0])
        .ok_or_else(|| GraphError::not_found(&args[0]))?;
    super::ok(super::odata_select(
        &super::entity(ctx, "directory/deletedItems", &e.v),
        req,
    ))
}

pub fn deleted_restore(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    _: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let t = super::tenant_mut(st, ctx)?;
    let Some(mut e) = t.remove(DELETED, &args[0]) else {
        return Err(GraphError::not_found(&args[0]));
    };
    let origin = e.origin.take().unwrap_or_else(|| APPLICATIONS.to_string());
    e.v["deletedDateTime"] = Value::Null;
    let body = super::entity(ctx, "directoryObjects", &e.v);
    t.insert(&origin, e);
    super::ok(body)
}

pub fn deleted_purge(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    _: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let t = super::tenant_mut(st, ctx)?;
    let e = t
        .remove(DELETED, &args[0])
        .ok_or_else(|| GraphError::not_found(&args[0]))?;
    if e.origin.as_deref() == Some(APPLICATIONS) {
        // Purging an app removes its federated identity credentials for good.
        t.list_mut(state::FICS)
            .retain(|f| f.parent.as_deref() != Some(e.id()));
    }
    super::no_content()
}
