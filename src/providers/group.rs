//! Security groups, one per tier (`/groups`, upsert by `uniqueName`).

use serde::Serialize;

/// A security group in a customer tenant. Natural key: `uniqueName`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupSpec {
    pub unique_name: String,
    pub display_name: String,
    pub description: String,
    pub mail_nickname: String,
}

impl GroupSpec {
    pub const FIELDS: &'static [&'static str] = &["displayName", "description"];
}
