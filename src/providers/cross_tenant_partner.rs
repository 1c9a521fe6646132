//! Cross-tenant access partner configuration for the MSSP tenant (trust MSSP MFA).

use serde::Serialize;

/// Natural key: the partner tenant id.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CrossTenantPartnerSpec {
    pub tenant_id: String,
    pub is_mfa_accepted: bool,
    pub is_compliant_device_accepted: bool,
}

impl CrossTenantPartnerSpec {
    pub const FIELDS: &'static [&'static str] = &["inboundTrust"];
}

use serde_json::{Value, json};

use super::graph_map::{Observed, Read, Snapshot, str_of};
use crate::graph::Version;

fn key(spec: &CrossTenantPartnerSpec) -> String {
    format!("partner:{}", spec.tenant_id)
}

pub fn reads(spec: &CrossTenantPartnerSpec) -> Vec<Read> {
    vec![Read::keyed(
        key(spec),
        Version::V1,
        format!(
            "/policies/crossTenantAccessPolicy/partners/{}",
            spec.tenant_id
        ),
    )]
}

pub fn observe(spec: &CrossTenantPartnerSpec, snap: &Snapshot) -> Observed {
    match snap.object(&key(spec)) {
        None => Observed::Unknown,
        Some(None) => Observed::Absent,
        Some(Some(v)) => {
            let trust = v.get("inboundTrust").cloned().unwrap_or(Value::Null);
            // A null inboundTrust inherits the tenant default, which trusts nothing.
            let flag = |k: &str| trust.get(k).and_then(Value::as_bool).unwrap_or(false);
            Observed::Present {
                id: str_of(v, "tenantId").to_string(),
                view: json!({"inboundTrust": {
                    "isMfaAccepted": flag("isMfaAccepted"),
                    "isCompliantDeviceAccepted": flag("isCompliantDeviceAccepted"),
                }}),
            }
        }
    }
}

pub fn view(spec: &CrossTenantPartnerSpec) -> Value {
    json!({"inboundTrust": {
        "isMfaAccepted": spec.is_mfa_accepted,
        "isCompliantDeviceAccepted": spec.is_compliant_device_accepted,
    }})
}

pub fn create_body(spec: &CrossTenantPartnerSpec) -> Value {
    let mut v = view(spec);
    v["tenantId"] = json!(spec.tenant_id);
    v
}

use crate::apply::writer::{ApplyError, Writer, graph_err, outcome_unknown};
use crate::graph::Service;
use reqwest::Method;

const PARTNERS: &str = "policies/crossTenantAccessPolicy/partners";

pub async fn create(
    spec: &CrossTenantPartnerSpec,
    at: &super::Address,
    w: &Writer<'_>,
) -> Result<(), ApplyError> {
    match w
        .call(
            at,
            Service::Graph(Version::V1),
            Method::POST,
            PARTNERS,
            Some(&create_body(spec)),
            &[],
        )
        .await
    {
        Ok(_) => {}
        // Keyed by tenant id: if it exists after all (lost answer, race), update it instead.
        Err(e) if e.status() == Some(409) || outcome_unknown(&e) => update(spec, at, w).await?,
        Err(e) => return Err(graph_err(at)(e)),
    }
    w.set_id(at, &spec.tenant_id);
    Ok(())
}

pub async fn update(
    spec: &CrossTenantPartnerSpec,
    at: &super::Address,
    w: &Writer<'_>,
) -> Result<(), ApplyError> {
    super::patch_path(
        w,
        at,
        Version::V1,
        &format!("{PARTNERS}/{}", spec.tenant_id),
        &view(spec),
    )
    .await
}

pub async fn delete(
    tenant_id: &str,
    at: &super::Address,
    w: &Writer<'_>,
) -> Result<(), ApplyError> {
    super::delete_path(w, at, Version::V1, &format!("{PARTNERS}/{tenant_id}")).await
}
