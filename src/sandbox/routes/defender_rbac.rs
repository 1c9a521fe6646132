//! Beta `/roleManagement/defender/{roleDefinitions,roleAssignments}` (Defender XDR unified RBAC).
//! The service normalises role permissions: an action covered by a wildcard action of the same role
//! is dropped, so what is read back can differ from what was written. An assignment that names a
//! group or role definition created within the replication delay is refused with the 400s real
//! tenants send then (`PrincipalNotFound`, "does not reference an existing role definition").

use serde_json::{Value, json};

use super::{ApiRequest, Ctx, Resp, Result};
use crate::sandbox::csdl::{self, Mode};
use crate::sandbox::errors::GraphError;
use crate::sandbox::state::{
    DEFENDER_ASSIGNMENTS, DEFENDER_ROLES, Entry, GROUPS, SERVICE_PRINCIPALS, State, new_id,
};

fn kind(k: &str) -> Result<(&'static str, &'static str, &'static str)> {
    match k {
        "roleDefinitions" => Ok((
            DEFENDER_ROLES,
            "microsoft.graph.unifiedRoleDefinition",
            "roleManagement/defender/roleDefinitions",
        )),
        "roleAssignments" => Ok((
            DEFENDER_ASSIGNMENTS,
            "microsoft.graph.unifiedRoleAssignmentMultiple",
            "roleManagement/defender/roleAssignments",
        )),
        other => Err(GraphError::new(
            400,
            "BadRequest",
            format!("Resource not found for the segment '{other}'."),
        )),
    }
}

/// `*` matches any run of characters (including `/`), as in `microsoft.xdr/secops/*/read`.
pub fn wildcard_matches(pattern: &str, action: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern.eq_ignore_ascii_case(action);
    }
    let (p, a) = (pattern.to_lowercase(), action.to_lowercase());
    let parts: Vec<&str> = p.split('*').collect();
    let mut rest = a.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(pos) = rest.find(part) else {
                return false;
            };
            rest = &rest[pos + part.len()..];
        }
    }
    true
}

/// Drops actions covered by another (wildcard) action of the same permission set.
pub fn normalise_actions(actions: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in actions {
        let covered = actions
            .iter()
            .any(|w| w != a && w.contains('*') && wildcard_matches(w, a));
        if !covered && !out.iter().any(|o| o.eq_ignore_ascii_case(a)) {
            out.push(a.clone());
        }
    }
    out
}

fn normalise_role(v: &mut Value) {
    if let Some(Value::Array(perms)) = v.get_mut("rolePermissions") {
        for p in perms.iter_mut() {
            let actions: Vec<String> = p
                .get("allowedResourceActions")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            p["allowedResourceActions"] = json!(normalise_actions(&actions));
        }
    }
}

pub fn list(ctx: &Ctx, st: &mut State, req: &ApiRequest, args: &[String]) -> Result<Resp> {
    let (coll, ty, set) = kind(&args[0])?;
    let t = super::tenant(st, ctx)?;
    let rules = super::service_rules(
        ty,
        &[
            "id",
            "displayName",
            "roleDefinitionId",
            "isBuiltIn",
            "principalIds/any",
        ],
    );
    super::list(
        ctx,
        req,
        super::visible_items(t, coll, ctx.now, None),
        &rules,
        set,
    )
}

pub fn get(ctx: &Ctx, st: &mut State, req: &ApiRequest, args: &[String]) -> Result<Resp> {
    let (coll, ty, set) = kind(&args[0])?;
    let t = super::tenant(st, ctx)?;
    super::get_one(
        ctx,
        req,
        set,
        ty,
        &super::visible(t, coll, &args[1], ctx.now)?.v,
    )
}

fn check_assignment(st: &State, ctx: &Ctx, body: &Value, create: bool) -> Result<()> {
    if create {
        super::require(
            body,
            &["roleDefinitionId", "principalIds"],
            "UnifiedRoleAssignmentMultiple",
        )?;
        let scopes = |k: &str| {
            body.get(k)
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
        };
        if !scopes("directoryScopeIds") && !scopes("appScopeIds") {
            return Err(GraphError::bad_request(
                "You must provide either directoryScopeIds or appScopeIds.",
            ));
        }
    }
    // References to objects still replicating answer like references to nothing: the service
    // cannot tell them apart, and clients wait both out (api-contract §5.5).
    let t = super::tenant(st, ctx)?;
    if let Some(rd) = body.get("roleDefinitionId").and_then(Value::as_str)
        && t.find(DEFENDER_ROLES, rd)
            .filter(|e| e.visible(ctx.now))
            .is_none()
    {
        return Err(GraphError::new(
            400,
            "BadRequest",
            format!("roleDefinitionId '{rd}' does not reference an existing role definition."),
        ));
    }
    for p in body
        .get("principalIds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let id = p.as_str().unwrap_or_default();
        let found = [GROUPS, SERVICE_PRINCIPALS]
            .iter()
            .any(|c| t.find(c, id).is_some_and(|e| e.visible(ctx.now)));
        if !found {
            return Err(GraphError::new(
                400,
                "PrincipalNotFound",
                format!("Principal '{id}' was not found in the directory."),
            ));
        }
    }
    Ok(())
}

/// A role may only allow actions the tenant offers: the tool's documented list
/// (`kinds::defender_role::DOCUMENTED_ACTIONS`), or wildcards covering some of them.
fn check_role_actions(body: &Value) -> Result<()> {
    let actions = body
        .get("rolePermissions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("allowedResourceActions").and_then(Value::as_array))
        .flatten();
    for a in actions {
        let a = a.as_str().unwrap_or_default();
        if crate::kinds::defender_role::check_action(a).is_err() {
            return Err(GraphError::new(
                400,
                "BadRequest",
                format!("The resource action '{a}' is not supported by the Defender provider."),
            ));
        }
    }
    Ok(())
}

pub fn create(ctx: &Ctx, st: &mut State, req: &ApiRequest, args: &[String]) -> Result<Resp> {
    let (coll, ty, set) = kind(&args[0])?;
    let body = req.body();
    csdl::validate(ty, &body, Mode::Create)?;
    let mut v = if coll == DEFENDER_ROLES {
        super::require(
            &body,
            &["displayName", "rolePermissions"],
            "UnifiedRoleDefinition",
        )?;
        check_role_actions(&body)?;
        json!({"id": new_id(), "description": null, "isBuiltIn": false, "isEnabled": true, "templateId": null, "version": null, "rolePermissions": []})
    } else {
        check_assignment(st, ctx, &body, true)?;
        json!({"id": new_id(), "displayName": null, "description": null, "directoryScopeIds": [], "appScopeIds": [], "principalIds": []})
    };
    super::merge(&mut v, &body);
    normalise_role(&mut v);
    let t = super::tenant_mut(st, ctx)?;
    t.insert(
        coll,
        Entry {
            v: v.clone(),
            visible_at_ms: ctx.visible_at(),
            parent: None,
            origin: None,
        },
    );
    super::created(super::entity(ctx, set, &v))
}

pub fn patch(ctx: &Ctx, st: &mut State, req: &ApiRequest, args: &[String]) -> Result<Resp> {
    let (coll, ty, _) = kind(&args[0])?;
    let body = req.body();
    csdl::validate(ty, &body, Mode::Update)?;
    if coll == DEFENDER_ASSIGNMENTS {
        check_assignment(st, ctx, &body, false)?;
    } else {
        check_role_actions(&body)?;
    }
    let t = super::tenant_mut(st, ctx)?;
    let e = super::visible_mut(t, coll, &args[1], ctx.now)?;
    if e.v.get("isBuiltIn") == Some(&Value::Bool(true)) {
        return Err(GraphError::bad_request(
            "Built-in roles cannot be modified.",
        ));
    }
    super::merge(&mut e.v, &body);
    normalise_role(&mut e.v);
    super::no_content()
}

pub fn delete(ctx: &Ctx, st: &mut State, _: &ApiRequest, args: &[String]) -> Result<Resp> {
    let (coll, _, _) = kind(&args[0])?;
    let t = super::tenant_mut(st, ctx)?;
    super::visible(t, coll, &args[1], ctx.now)?;
    if coll == DEFENDER_ROLES
        && t.list(DEFENDER_ASSIGNMENTS)
            .iter()
            .any(|a| a.str("roleDefinitionId") == Some(args[1].as_str()))
    {
        return Err(GraphError::bad_request(
            "The role definition cannot be deleted while role assignments reference it.",
        ));
    }
    t.remove(coll, &args[1]);
    super::no_content()
}
