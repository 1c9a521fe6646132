//! Access packages, one per tier.

use serde::Serialize;

use super::Address;

/// Natural key: (catalog, `displayName`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessPackageSpec {
    pub catalog: Address,
    pub display_name: String,
    pub description: String,
    pub is_hidden: bool,
}

impl AccessPackageSpec {
    pub const FIELDS: &'static [&'static str] = &["description", "isHidden"];
}
