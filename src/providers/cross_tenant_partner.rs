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
