//! The group's Member role inside an access package (`resourceRoleScopes`).

use serde::Serialize;

use super::Address;

/// Natural key: (package, group). Create and delete only.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleScopeSpec {
    pub package: Address,
    pub group: Address,
    pub catalog_resource: Address,
    pub role: String,
}

impl RoleScopeSpec {
    pub const FIELDS: &'static [&'static str] = &[];
}
