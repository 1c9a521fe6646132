//! The MSSP tenant as a connected organization (entitlement management).

use serde::Serialize;

/// Natural key: the MSSP tenant id in `identitySources`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectedOrganizationSpec {
    pub tenant_id: String,
    pub domain: String,
    pub display_name: String,
    pub description: String,
    pub state: String,
}

impl ConnectedOrganizationSpec {
    pub const FIELDS: &'static [&'static str] = &["displayName", "description", "state"];
}
