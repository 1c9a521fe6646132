//! Defender XDR unified RBAC role definitions (Graph beta).

use serde::Serialize;

/// Natural key: `displayName`, owned by the tool.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DefenderRoleSpec {
    pub display_name: String,
    pub description: String,
    pub actions: Vec<String>,
}

impl DefenderRoleSpec {
    pub const FIELDS: &'static [&'static str] = &["description", "allowedResourceActions"];
}
