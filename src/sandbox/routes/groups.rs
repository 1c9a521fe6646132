//! `/groups`: create (201), list/get, PATCH (204), DELETE (204; security groups are gone for good,
//! Microsoft 365 groups go to deletedItems), and the `groups(uniqueName='…')` upsert.

use serde_json::{Value, json};

use super::{ApiRequest, Ctx, Resp, Result};
use crate::sandbox::csdl::{self, Mode};
use crate::sandbox::errors::GraphError;
use crate::sandbox::state::{DELETED, Entry, GROUPS, Tenant, new_id, now_iso};
use crate::sandbox::world::Scope;

const TYPE: &str = "microsoft.graph.group";
const FILTERABLE: &[&str] = &[
    "id",
    "displayName",
    "uniqueName",
    "mailNickname",
    "securityEnabled",
    "mailEnabled",
    "groupTypes/any",
    "createdDateTime",
];

pub fn list(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, _: &[String]) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    let items = super::visible_items(t, GROUPS, ctx.now, None);
    super::list(
        ctx,
        req,
        items,
        &super::directory_rules(TYPE, FILTERABLE),
        "groups",
    )
}

pub fn get(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, args: &[String]) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    let e = super::visible(t, GROUPS, &args[0], ctx.now)?;
    super::get_one(ctx, req, "groups", TYPE, &e.v)
}

fn unique_taken(t: &Tenant, unique: &str, except: Option<&str>) -> bool {
    t.list(GROUPS).iter().any(|e| {
        e.str("uniqueName")
            .is_some_and(|u| u.eq_ignore_ascii_case(unique))
            && Some(e.id()) != except
    })
}

fn new_group(ctx: &Ctx, t: &mut Tenant, body: &Value) -> Result<Value> {
    csdl::validate(TYPE, body, Mode::Create)?;
    super::require(
        body,
        &[
            "displayName",
            "mailEnabled",
            "mailNickname",
            "securityEnabled",
        ],
        "Group",
    )?;
    if let Some(u) = body.get("uniqueName").and_then(Value::as_str)
        && unique_taken(t, u, None)
    {
        return Err(GraphError::bad_request(
            "Another object with the same value for property uniqueName already exists.",
        ));
    }
    let mut g = json!({
        "id": new_id(), "deletedDateTime": null, "classification": null, "createdDateTime": now_iso(), "description": null,
        "displayName": null, "expirationDateTime": null, "groupTypes": [], "isAssignableToRole": null, "mail": null,
        "mailEnabled": false, "mailNickname": null, "membershipRule": null, "membershipRuleProcessingState": null,
        "onPremisesSyncEnabled": null, "proxyAddresses": [], "renewedDateTime": now_iso(), "securityEnabled": true,
        "securityIdentifier": format!("S-1-12-1-{}", rand::random::<u32>()), "uniqueName": null, "visibility": null
    });
    super::merge(&mut g, body);
    t.insert(
        GROUPS,
        Entry {
            v: g.clone(),
            visible_at_ms: ctx.visible_at(),
            parent: None,
            origin: None,
        },
    );
    Ok(g)
}

pub fn create(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, _: &[String]) -> Result<Resp> {
    let t = super::tenant_mut(st, ctx)?;
    let g = new_group(ctx, t, &req.body())?;
    super::created(super::entity(ctx, "groups", &g))
}

fn update(ctx: &Ctx, e: &mut Entry, body: &Value) -> Result<()> {
    csdl::validate(TYPE, body, Mode::Update)?;
    // Graph documents uniqueName as "Immutable. Read-only.": only the create (or the
    // create-if-missing upsert) sets it; an update may repeat the current value, no more.
    if let Some(new) = body.get("uniqueName").and_then(Value::as_str)
        && e.str("uniqueName") != Some(new)
    {
        return Err(GraphError::bad_request(
            "Property 'uniqueName' is read-only and cannot be set.",
        ));
    }
    let _ = ctx;
    super::merge(&mut e.v, body);
    Ok(())
}

pub fn patch(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, args: &[String]) -> Result<Resp> {
    let body = req.body();
    let t = super::tenant_mut(st, ctx)?;
    if let Some(u) = body.get("uniqueName").and_then(Value::as_str)
        && unique_taken(t, u, Some(&args[0]))
    {
        return Err(GraphError::bad_request(
            "Another object with the same value for property uniqueName already exists.",
        ));
    }
    let e = super::visible_mut(t, GROUPS, &args[0], ctx.now)?;
    update(ctx, e, &body)?;
    super::no_content()
}

/// `PATCH /groups(uniqueName='…')`: 204 when it exists, 201 when created with `Prefer: create-if-missing`, else 404.
pub fn upsert(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, _: &[String]) -> Result<Resp> {
    let key = req.keys.first().cloned().unwrap_or_default();
    let body = req.body();
    let t = super::tenant_mut(st, ctx)?;
    let existing = t.list(GROUPS).iter().position(|e| {
        e.str("uniqueName")
            .is_some_and(|u| u.eq_ignore_ascii_case(&key))
    });
    if let Some(pos) = existing {
        let e = &mut t.list_mut(GROUPS)[pos];
        update(ctx, e, &body)?;
        return super::no_content();
    }
    if !req.prefer_create_if_missing {
        return Err(GraphError::not_found(&key));
    }
    let mut body = body;
    body["uniqueName"] = json!(key);
    let g = new_group(ctx, t, &body)?;
    super::created(super::entity(ctx, "groups", &g))
}

pub fn delete(ctx: &Ctx, st: &mut Scope<'_>, _: &ApiRequest, args: &[String]) -> Result<Resp> {
    let t = super::tenant_mut(st, ctx)?;
    super::visible(t, GROUPS, &args[0], ctx.now)?;
    let Some(mut e) = t.remove(GROUPS, &args[0]) else {
        return Err(GraphError::not_found(&args[0]));
    };
    let unified =
        e.v.get("groupTypes")
            .and_then(Value::as_array)
            .is_some_and(|g| g.iter().any(|x| x == "Unified"));
    if unified {
        // Only Microsoft 365 groups are restorable; security groups are deleted permanently.
        e.v["deletedDateTime"] = json!(now_iso());
        e.v["@odata.type"] = json!("#microsoft.graph.group");
        e.origin = Some(GROUPS.into());
        t.insert(DELETED, e);
    }
    super::no_content()
}
