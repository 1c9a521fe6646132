//! The access-package catalog (entitlement management).

use serde::Serialize;

/// Natural key: `displayName`, owned by the tool; two matches are an error.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogSpec {
    pub display_name: String,
    pub description: String,
    pub is_externally_visible: bool,
    pub state: String,
}

impl CatalogSpec {
    pub const FIELDS: &'static [&'static str] = &["description", "isExternallyVisible", "state"];
}
