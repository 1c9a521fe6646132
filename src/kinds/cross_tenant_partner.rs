//! Cross-tenant access partner configuration for the MSSP tenant (trust MSSP MFA).

use serde::Serialize;
use serde_json::{Value, json};

use crate::graph::write::{WriteError, Writer, graph_err, outcome_unknown};
use crate::graph::{Service, Version};
use crate::kinds::{ObserveContext, Permissions, ResourceKind};
use crate::model::observe::{Ids, Observed, Read, str_of};
use crate::model::{Address, ObserveError};
use reqwest::Method;

/// Natural key: the partner tenant id.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CrossTenantPartnerSpec {
    pub tenant_id: String,
    pub is_mfa_accepted: bool,
    pub is_compliant_device_accepted: bool,
}

const PARTNERS: &str = "policies/crossTenantAccessPolicy/partners";

impl CrossTenantPartnerSpec {
    fn key(&self) -> String {
        format!("partner:{}", self.tenant_id)
    }
}

impl ResourceKind for CrossTenantPartnerSpec {
    const NAME: &'static str = "cross-tenant-partner";
    // GET policies/crossTenantAccessPolicy/partners/{id}: Policy.Read.All.
    const READ_PERMISSIONS: Permissions =
        &[&["Policy.Read.All", "Policy.ReadWrite.CrossTenantAccess"]];
    const WRITE_PERMISSIONS: Permissions = &[&["Policy.ReadWrite.CrossTenantAccess"]];
    const FIELDS: &'static [&'static str] = &["inboundTrust"];

    fn reads(&self, _ids: &Ids) -> Vec<Read> {
        vec![Read::keyed(
            self.key(),
            Version::V1,
            format!(
                "/policies/crossTenantAccessPolicy/partners/{}",
                self.tenant_id
            ),
        )]
    }

    fn observe(&self, cx: &ObserveContext<'_>) -> Result<Observed, ObserveError> {
        Ok(match cx.snap.object(&self.key()) {
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
        })
    }

    fn view(&self, _ids: &Ids) -> Value {
        json!({"inboundTrust": {
            "isMfaAccepted": self.is_mfa_accepted,
            "isCompliantDeviceAccepted": self.is_compliant_device_accepted,
        }})
    }

    async fn create(&self, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        let mut body = self.view(&w.ids());
        body["tenantId"] = json!(self.tenant_id);
        match w
            .call(
                at,
                Service::Graph(Version::V1),
                Method::POST,
                PARTNERS,
                Some(&body),
                &[],
            )
            .await
        {
            Ok(_) => {}
            // Keyed by tenant id: if it exists after all (lost answer, race), update it instead.
            Err(e) if e.status() == Some(409) || outcome_unknown(&e) => {
                self.update(&self.tenant_id, at, w).await?;
            }
            Err(e) => return Err(graph_err(at)(e)),
        }
        w.set_id(at, &self.tenant_id);
        Ok(())
    }

    async fn update(&self, _id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        let path = format!("{PARTNERS}/{}", self.tenant_id);
        crate::graph::write::patch_path(w, at, Version::V1, &path, &self.view(&w.ids())).await
    }

    async fn delete(&self, _id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        let path = format!("{PARTNERS}/{}", self.tenant_id);
        crate::graph::write::delete_path(w, at, Version::V1, &path).await
    }
}
