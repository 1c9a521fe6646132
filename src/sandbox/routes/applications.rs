//! `/applications`: create/list/get/PATCH/DELETE (soft delete), the `applications(uniqueName='…')`
//! upsert, client secrets (addPassword → 200 with `secretText` exactly once; removePassword → 204),
//! certificate keyCredentials (PATCH replaces the array) and federated identity credentials
//! (≤ 20 per app, unique immutable `name`, unique issuer+subject, exactly one audience).

use serde_json::{Value, json};

use super::{ApiRequest, Ctx, Resp, Result};
use crate::sandbox::csdl::{self, Mode};
use crate::sandbox::errors::GraphError;
use crate::sandbox::state::{
    APPLICATIONS, DELETED, Entry, FICS, Tenant, iso, new_id, now_iso, random_secret, sha256_hex,
};
use crate::sandbox::world::Scope;

const TYPE: &str = "microsoft.graph.application";
const FILTERABLE: &[&str] = &[
    "id",
    "appId",
    "displayName",
    "uniqueName",
    "identifierUris/any",
    "tags/any",
    "signInAudience",
    "publisherDomain",
    "createdDateTime",
];
const MAX_FICS: usize = 20;

pub fn list(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, _: &[String]) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    let items = super::visible_items(t, APPLICATIONS, ctx.now, None);
    super::list(
        ctx,
        req,
        items,
        &super::directory_rules(TYPE, FILTERABLE),
        "applications",
    )
}

pub fn get(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, args: &[String]) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    let e = super::visible(t, APPLICATIONS, &args[0], ctx.now)?;
    super::get_one(ctx, req, "applications", TYPE, &e.v)
}

fn conflict(prop: &str) -> GraphError {
    GraphError::bad_request(format!(
        "Another object with the same value for property {prop} already exists."
    ))
    .with_details(json!([
        {"code": "ObjectConflict", "target": prop}
    ]))
}

/// identifierUris and uniqueName are unique across live and soft-deleted apps (a deleted app keeps its URIs).
fn check_unique(t: &Tenant, body: &Value, except: Option<&str>) -> Result<()> {
    let others = t.list(APPLICATIONS).iter().chain(
        t.list(DELETED)
            .iter()
            .filter(|e| e.origin.as_deref() == Some(APPLICATIONS)),
    );
    let others: Vec<&Entry> = others.filter(|e| Some(e.id()) != except).collect();
    if let Some(u) = body.get("uniqueName").and_then(Value::as_str)
        && others.iter().any(|e| {
            e.str("uniqueName")
                .is_some_and(|x| x.eq_ignore_ascii_case(u))
        })
    {
        return Err(conflict("uniqueName"));
    }
    for uri in body
        .get("identifierUris")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let taken = others.iter().any(|e| {
            e.v.get("identifierUris")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(uri)))
        });
        if taken {
            return Err(conflict("identifierUris"));
        }
    }
    Ok(())
}

/// Gives every certificate credential a keyId and keeps its public key (hidden on reads).
fn normalise_key_credentials(body: &mut Value) {
    if let Some(Value::Array(creds)) = body.get_mut("keyCredentials") {
        for c in creds.iter_mut() {
            if c.get("keyId").is_none_or(Value::is_null) {
                c["keyId"] = json!(new_id());
            }
        }
    }
}

fn new_app(ctx: &Ctx, t: &mut Tenant, body: &Value) -> Result<Value> {
    csdl::validate(TYPE, body, Mode::Create)?;
    super::require(body, &["displayName"], "Application")?;
    check_unique(t, body, None)?;
    let mut app = json!({
        "id": new_id(), "appId": new_id(), "deletedDateTime": null, "createdDateTime": now_iso(), "displayName": null,
        "description": null, "uniqueName": null, "signInAudience": "AzureADandPersonalMicrosoftAccount", "identifierUris": [],
        "keyCredentials": [], "passwordCredentials": [], "requiredResourceAccess": [], "tags": [], "appRoles": [],
        "publisherDomain": t.domain, "web": {"redirectUris": [], "homePageUrl": null, "logoutUrl": null,
            "implicitGrantSettings": {"enableIdTokenIssuance": false, "enableAccessTokenIssuance": false}},
        "api": {"requestedAccessTokenVersion": 2, "acceptMappedClaims": null, "knownClientApplications": [], "oauth2PermissionScopes": [], "preAuthorizedApplications": []},
        "_secrets": []
    });
    let mut body = body.clone();
    normalise_key_credentials(&mut body);
    super::merge(&mut app, &body);
    t.insert(
        APPLICATIONS,
        Entry {
            v: app.clone(),
            visible_at_ms: ctx.visible_at(),
            parent: None,
            origin: None,
        },
    );
    Ok(app)
}

pub fn create(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, _: &[String]) -> Result<Resp> {
    let t = super::tenant_mut(st, ctx)?;
    let app = new_app(ctx, t, &req.body())?;
    super::created(super::entity(ctx, "applications", &app))
}

fn update(t: &mut Tenant, id: &str, body: &Value, now: i64) -> Result<()> {
    csdl::validate(TYPE, body, Mode::Update)?;
    check_unique(t, body, Some(id))?;
    let e = super::visible_mut(t, APPLICATIONS, id, now)?;
    // "Immutable. Read-only." (application resource): an update may repeat the current
    // value, never set one.
    if let Some(new) = body.get("uniqueName").and_then(Value::as_str)
        && !e
            .str("uniqueName")
            .is_some_and(|old| old.eq_ignore_ascii_case(new))
    {
        return Err(GraphError::bad_request(
            "Property 'uniqueName' is read-only and cannot be set.",
        ));
    }
    let mut body = body.clone();
    normalise_key_credentials(&mut body);
    super::merge(&mut e.v, &body);
    Ok(())
}

pub fn patch(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, args: &[String]) -> Result<Resp> {
    let t = super::tenant_mut(st, ctx)?;
    update(t, &args[0], &req.body(), ctx.now)?;
    super::no_content()
}

/// `PATCH /applications(uniqueName='…')` upsert.
pub fn upsert(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, _: &[String]) -> Result<Resp> {
    let key = req.keys.first().cloned().unwrap_or_default();
    let t = super::tenant_mut(st, ctx)?;
    let existing = t
        .find_by(APPLICATIONS, "uniqueName", &key)
        .map(|e| e.id().to_string());
    if let Some(id) = existing {
        // An object not yet replicated is still "there" for the upsert: it must not be created twice.
        let now = i64::MAX;
        update(t, &id, &req.body(), now)?;
        return super::no_content();
    }
    if !req.prefer_create_if_missing {
        return Err(GraphError::not_found(&key));
    }
    let mut body = req.body();
    body["uniqueName"] = json!(key);
    let app = new_app(ctx, t, &body)?;
    super::created(super::entity(ctx, "applications", &app))
}

pub fn delete(ctx: &Ctx, st: &mut Scope<'_>, _: &ApiRequest, args: &[String]) -> Result<Resp> {
    let t = super::tenant_mut(st, ctx)?;
    super::visible(t, APPLICATIONS, &args[0], ctx.now)?;
    if let Some(mut e) = t.remove(APPLICATIONS, &args[0]) {
        e.v["deletedDateTime"] = json!(now_iso());
        e.v["@odata.type"] = json!("#microsoft.graph.application");
        e.origin = Some(APPLICATIONS.into());
        t.insert(DELETED, e);
    }
    super::no_content()
}

pub fn add_password(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let body = req.body();
    let requested = body
        .get("passwordCredential")
        .cloned()
        .unwrap_or_else(|| json!({}));
    if let Some(extra) = body
        .as_object()
        .and_then(|o| o.keys().find(|k| *k != "passwordCredential"))
    {
        return Err(GraphError::bad_request(format!(
            "Property '{extra}' does not exist as a declared property or extension property."
        )));
    }
    csdl::validate(
        "microsoft.graph.passwordCredential",
        &requested,
        Mode::Create,
    )?;
    let t = super::tenant_mut(st, ctx)?;
    let e = super::visible_mut(t, APPLICATIONS, &args[0], ctx.now)?;
    let secret = random_secret();
    let start = requested
        .get("startDateTime")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(now_iso);
    let two_years = 2 * 365 * 24 * 3600 * 1000;
    let end = requested
        .get("endDateTime")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| iso(ctx.now + two_years));
    let key_id = new_id();
    let cred = json!({"customKeyIdentifier": null, "displayName": requested.get("displayName").cloned().unwrap_or(Value::Null),
        "endDateTime": end, "hint": secret.chars().take(3).collect::<String>(), "keyId": key_id, "secretText": null, "startDateTime": start});
    push(&mut e.v, "passwordCredentials", cred.clone());
    push(
        &mut e.v,
        "_secrets",
        json!({"keyId": key_id, "sha256": sha256_hex(&secret)}),
    );
    let mut answer = cred;
    answer["secretText"] = json!(secret);
    answer["@odata.context"] = json!(ctx.context("microsoft.graph.passwordCredential"));
    super::ok(answer)
}

fn push(v: &mut Value, key: &str, item: Value) {
    match v.get_mut(key) {
        Some(Value::Array(a)) => a.push(item),
        _ => v[key] = json!([item]),
    }
}

pub fn remove_password(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let key_id = req
        .body()
        .get("keyId")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            GraphError::bad_request(
                "Invalid value specified for property 'keyId' of resource 'PasswordCredential'.",
            )
        })?;
    let t = super::tenant_mut(st, ctx)?;
    let e = super::visible_mut(t, APPLICATIONS, &args[0], ctx.now)?;
    let before =
        e.v.get("passwordCredentials")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
    for key in ["passwordCredentials", "_secrets"] {
        if let Some(Value::Array(a)) = e.v.get_mut(key) {
            a.retain(|c| {
                !c.get("keyId")
                    .and_then(Value::as_str)
                    .is_some_and(|k| k.eq_ignore_ascii_case(&key_id))
            });
        }
    }
    let after =
        e.v.get("passwordCredentials")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
    if before == after {
        return Err(GraphError::bad_request(format!(
            "No password credential with keyId '{key_id}' exists on the application."
        )));
    }
    super::no_content()
}

// ------------------------------------------------------------ federated identity credentials

const FIC_TYPE: &str = "microsoft.graph.federatedIdentityCredential";

fn fic_set(_: &Ctx, app: &str) -> String {
    format!("applications('{app}')/federatedIdentityCredentials")
}

fn find_fic<'a>(t: &'a Tenant, app: &str, key: &str) -> Option<&'a Entry> {
    t.list(FICS).iter().find(|f| {
        f.parent.as_deref() == Some(app)
            && (f.id().eq_ignore_ascii_case(key) || f.str("name") == Some(key))
    })
}

pub fn fic_list(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, args: &[String]) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    super::visible(t, APPLICATIONS, &args[0], ctx.now)?;
    let items = super::visible_items(t, FICS, ctx.now, Some(&args[0]));
    let rules = super::service_rules(
        FIC_TYPE,
        &["name", "issuer", "subject", "audiences/any", "id"],
    );
    super::list(ctx, req, items, &rules, &fic_set(ctx, &args[0]))
}

fn check_fic(body: &Value, create: bool) -> Result<()> {
    let s = |k: &str| body.get(k).and_then(Value::as_str);
    if create {
        super::require(
            body,
            &["name", "issuer", "subject", "audiences"],
            "FederatedIdentityCredential",
        )?;
    }
    if let Some(n) = s("name")
        && (n.is_empty()
            || n.len() > 120
            || !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        return Err(GraphError::bad_request(
            "Invalid value specified for property 'name' of resource 'FederatedIdentityCredential': 1-120 URL-friendly characters (letters, digits, '-', '_').",
        ));
    }
    for k in ["issuer", "subject"] {
        if s(k).is_some_and(|v| v.is_empty() || v.len() > 600) {
            return Err(GraphError::bad_request(format!(
                "Invalid value specified for property '{k}' of resource 'FederatedIdentityCredential': 1-600 characters."
            )));
        }
    }
    if let Some(a) = body.get("audiences")
        && a.as_array().is_none_or(|a| a.len() != 1)
    {
        return Err(GraphError::bad_request(
            "Invalid value specified for property 'audiences' of resource 'FederatedIdentityCredential': exactly one audience is required.",
        ));
    }
    Ok(())
}

fn issuer_subject_taken(
    t: &Tenant,
    app: &str,
    issuer: &str,
    subject: &str,
    except: Option<&str>,
) -> bool {
    t.list(FICS).iter().any(|f| {
        f.parent.as_deref() == Some(app)
            && Some(f.id()) != except
            && f.str("issuer") == Some(issuer)
            && f.str("subject") == Some(subject)
    })
}

pub fn fic_create(
    ctx: &Ctx,
    st: &mut Scope<'_>,
    req: &ApiRequest,
    args: &[String],
) -> Result<Resp> {
    let body = req.body();
    csdl::validate(FIC_TYPE, &body, Mode::Create)?;
    check_fic(&body, true)?;
    let t = super::tenant_mut(st, ctx)?;
    let app = super::visible(t, APPLICATIONS, &args[0], ctx.now)?
        .id()
        .to_string();
    let siblings = t
        .list(FICS)
        .iter()
        .filter(|f| f.parent.as_deref() == Some(app.as_str()))
        .count();
    if siblings >= MAX_FICS {
        return Err(GraphError::bad_request(format!(
            "The application already has the maximum of {MAX_FICS} federated identity credentials."
        )));
    }
    let name = body.get("name").and_then(Value::as_str).unwrap_or_default();
    if find_fic(t, &app, name).is_some() {
        return Err(GraphError::new(
            409,
            "Request_MultipleObjectsWithSameKeyValue",
            format!("FederatedIdentityCredential with name {name} already exists."),
        ));
    }
    let (iss, sub) = (
        body["issuer"].as_str().unwrap_or_default(),
        body["subject"].as_str().unwrap_or_default(),
    );
    if issuer_subject_taken(t, &app, iss, sub, None) {
        return Err(GraphError::bad_request(
            "A federated identity credential with the same issuer and subject already exists on the application.",
        ));
    }
    let mut fic = json!({"id": new_id(), "name": null, "issuer": null, "subject": null, "description": null, "audiences": []});
    super::merge(&mut fic, &body);
    t.insert(
        FICS,
        Entry {
            v: fic.clone(),
            visible_at_ms: ctx.visible_at(),
            parent: Some(app.clone()),
            origin: None,
        },
    );
    super::created(super::entity(ctx, &fic_set(ctx, &app), &fic))
}

pub fn fic_get(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, args: &[String]) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    let f = find_fic(t, &args[0], &args[1])
        .filter(|f| f.visible(ctx.now))
        .ok_or_else(|| GraphError::not_found(&args[1]))?;
    super::get_one(ctx, req, &fic_set(ctx, &args[0]), FIC_TYPE, &f.v)
}

pub fn fic_patch(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, args: &[String]) -> Result<Resp> {
    let body = req.body();
    csdl::validate(FIC_TYPE, &body, Mode::Update)?;
    check_fic(&body, false)?;
    let t = super::tenant_mut(st, ctx)?;
    let f = find_fic(t, &args[0], &args[1])
        .filter(|f| f.visible(ctx.now))
        .ok_or_else(|| GraphError::not_found(&args[1]))?;
    let id = f.id().to_string();
    if body
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|n| Some(n) != f.str("name"))
    {
        return Err(GraphError::bad_request(
            "Property 'name' is read-only and cannot be set.",
        ));
    }
    let iss = body
        .get("issuer")
        .and_then(Value::as_str)
        .or(f.str("issuer"))
        .unwrap_or_default()
        .to_string();
    let sub = body
        .get("subject")
        .and_then(Value::as_str)
        .or(f.str("subject"))
        .unwrap_or_default()
        .to_string();
    if issuer_subject_taken(t, &args[0], &iss, &sub, Some(&id)) {
        return Err(GraphError::bad_request(
            "A federated identity credential with the same issuer and subject already exists on the application.",
        ));
    }
    if let Some(f) = t.find_mut(FICS, &id) {
        super::merge(&mut f.v, &body);
    }
    super::no_content()
}

pub fn fic_delete(ctx: &Ctx, st: &mut Scope<'_>, _: &ApiRequest, args: &[String]) -> Result<Resp> {
    let t = super::tenant_mut(st, ctx)?;
    let id = find_fic(t, &args[0], &args[1])
        .filter(|f| f.visible(ctx.now))
        .map(|f| f.id().to_string())
        .ok_or_else(|| GraphError::not_found(&args[1]))?;
    t.remove(FICS, &id);
    super::no_content()
}
