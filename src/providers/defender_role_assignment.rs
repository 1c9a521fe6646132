//! Assignments of unified RBAC roles to tier groups (Graph beta).

use serde::Serialize;

use super::Address;

/// Natural key: `displayName`, owned by the tool.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DefenderRoleAssignmentSpec {
    pub display_name: String,
    pub role: Address,
    pub principals: Vec<Address>,
    pub directory_scope_ids: Vec<String>,
}

impl DefenderRoleAssignmentSpec {
    pub const FIELDS: &'static [&'static str] = &["principalIds", "directoryScopeIds"];
}
