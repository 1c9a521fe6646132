//! Cross-tenant access partners (`/policies/crossTenantAccessPolicy/partners`, keyed by tenantId:
//! POST 201, duplicate 409, PATCH 204, DELETE 204) and `findTenantInformationByTenantId`, which
//! knows every sandbox tenant.

use serde_json::json;
use uuid::Uuid;

use super::{ApiRequest, Ctx, Resp, Result};
use crate::sandbox::csdl::{self, Mode};
use crate::sandbox::errors::GraphError;
use crate::sandbox::state::{Entry, PARTNERS, render};
use crate::sandbox::world::Scope;

const TYPE: &str = "microsoft.graph.crossTenantAccessPolicyConfigurationPartner";
const SET: &str = "policies/crossTenantAccessPolicy/partners";

/// `GET /tenantRelationships/findTenantInformationByTenantId(tenantId='…')`.
pub fn find_tenant(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, _: &[String]) -> Result<Resp> {
    let key = req.keys.first().cloned().unwrap_or_default();
    let t = Uuid::parse_str(&key)
        .ok()
        .and_then(|id| st.world.info(&id))
        .ok_or_else(|| GraphError::not_found(&key))?;
    super::ok(json!({
        "@odata.context": ctx.context("microsoft.graph.tenantInformation"),
        "tenantId": t.id.to_string(), "federationBrandName": null, "displayName": t.display_name, "defaultDomainName": t.domain
    }))
}

fn partner<'a>(st: &'a Scope<'_>, ctx: &Ctx, tid: &str) -> Result<&'a Entry> {
    super::tenant(st, ctx)?
        .find_by(PARTNERS, "tenantId", tid)
        .filter(|e| e.visible(ctx.now))
        .ok_or_else(|| {
            GraphError::new(
                404,
                "ResourceNotFound",
                format!("Partner policy for tenant '{tid}' was not found."),
            )
        })
}

pub fn list(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, _: &[String]) -> Result<Resp> {
    let t = super::tenant(st, ctx)?;
    let rules = super::service_rules(TYPE, &["tenantId", "isServiceProvider"]);
    super::list(
        ctx,
        req,
        super::visible_items(t, PARTNERS, ctx.now, None),
        &rules,
        SET,
    )
}

pub fn get(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, args: &[String]) -> Result<Resp> {
    let e = partner(st, ctx, &args[0])?;
    super::get_one(ctx, req, SET, TYPE, &e.v)
}

pub fn create(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, _: &[String]) -> Result<Resp> {
    let body = req.body();
    csdl::validate(TYPE, &body, Mode::Create)?;
    super::require(
        &body,
        &["tenantId"],
        "CrossTenantAccessPolicyConfigurationPartner",
    )?;
    let tid = body["tenantId"].as_str().unwrap_or_default().to_string();
    if Uuid::parse_str(&tid).is_err() {
        return Err(GraphError::bad_request(
            "Invalid value specified for property 'tenantId'.",
        ));
    }
    let t = super::tenant_mut(st, ctx)?;
    if t.find_by(PARTNERS, "tenantId", &tid).is_some() {
        return Err(GraphError::new(
            409,
            "Request_MultipleObjectsWithSameKeyValue",
            format!("A partner configuration for tenant '{tid}' already exists."),
        ));
    }
    let mut p = json!({"tenantId": tid, "isServiceProvider": false, "isInMultiTenantOrganization": false, "inboundTrust": null,
        "b2bCollaborationOutbound": null, "b2bCollaborationInbound": null, "b2bDirectConnectOutbound": null, "b2bDirectConnectInbound": null,
        "tenantRestrictions": null, "automaticUserConsentSettings": {"inboundAllowed": false, "outboundAllowed": false}});
    super::merge(&mut p, &body);
    t.insert(
        PARTNERS,
        Entry {
            v: p.clone(),
            visible_at_ms: ctx.visible_at(),
            parent: None,
            origin: None,
        },
    );
    super::created(super::entity(ctx, SET, &render(&p)))
}

pub fn patch(ctx: &Ctx, st: &mut Scope<'_>, req: &ApiRequest, args: &[String]) -> Result<Resp> {
    let body = req.body();
    csdl::validate(TYPE, &body, Mode::Update)?;
    partner(st, ctx, &args[0])?;
    let t = super::tenant_mut(st, ctx)?;
    if let Some(e) = t.list_mut(PARTNERS).iter_mut().find(|e| {
        e.str("tenantId")
            .is_some_and(|x| x.eq_ignore_ascii_case(&args[0]))
    }) {
        super::merge(&mut e.v, &body);
    }
    super::no_content()
}

pub fn delete(ctx: &Ctx, st: &mut Scope<'_>, _: &ApiRequest, args: &[String]) -> Result<Resp> {
    partner(st, ctx, &args[0])?;
    let t = super::tenant_mut(st, ctx)?;
    t.list_mut(PARTNERS).retain(|e| {
        !e.str("tenantId")
            .is_some_and(|x| x.eq_ignore_ascii_case(&args[0]))
    });
    super::no_content()
}
