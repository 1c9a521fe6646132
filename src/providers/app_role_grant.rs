//! Admin consent for an application permission (`appRoleAssignedTo`).

use serde::Serialize;

use super::Address;

/// Natural key: (principal, resource, appRoleId); the role id is resolved at run time from the
/// resource service principal's `appRoles`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRoleGrantSpec {
    pub principal: Address,
    pub resource_app_id: String,
    pub resource_name: String,
    pub app_role: String,
}

impl AppRoleGrantSpec {
    pub const FIELDS: &'static [&'static str] = &[];
}
