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

use serde_json::{Value, json};

use crate::graph::Version;
use crate::model::observe::{Observed, Read, Snapshot, str_of};

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

use crate::graph::Service;
use crate::graph::write::{WriteError, Writer, graph_err, outcome_unknown};
use reqwest::Method;

const PARTNERS: &str = "policies/crossTenantAccessPolicy/partners";

pub async fn create(
    spec: &CrossTenantPartnerSpec,
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
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
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    crate::graph::write::patch_path(
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
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    crate::graph::write::delete_path(w, at, Version::V1, &format!("{PARTNERS}/{tenant_id}")).await
}

impl crate::kinds::ResourceKind for CrossTenantPartnerSpec {
    const NAME: &'static str = "cross-tenant-partner";
    const READ_PERMISSIONS: crate::kinds::Permissions =
        &[&["Policy.Read.All", "Policy.ReadWrite.CrossTenantAccess"]];
    const WRITE_PERMISSIONS: crate::kinds::Permissions = &[&["Policy.ReadWrite.CrossTenantAccess"]];
    const FIELDS: &'static [&'static str] = &["inboundTrust"];
    // GET policies/crossTenantAccessPolicy/partners/{id}: Policy.Read.All.

    fn reads(&self, _ids: &crate::model::Ids) -> Vec<crate::model::Read> {
        reads(self)
    }
    fn observe(
        &self,
        cx: &crate::kinds::ObserveContext<'_>,
    ) -> Result<crate::model::Observed, crate::model::ObserveError> {
        Ok(observe(self, cx.snap))
    }
    fn view(&self, _ids: &crate::model::Ids) -> serde_json::Value {
        view(self)
    }
    async fn create(
        &self,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        create(self, at, w).await
    }
    async fn update(
        &self,
        _id: &str,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        update(self, at, w).await
    }
    async fn delete(
        &self,
        _id: &str,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        delete(&self.tenant_id, at, w).await
    }
}
