//! A group added to the catalog (`resourceRequests` adminAdd / adminRemove).

use serde::Serialize;

use super::Address;

/// Natural key: (catalog, group object id).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogResourceSpec {
    pub catalog: Address,
    pub group: Address,
}

impl CatalogResourceSpec {
    pub const FIELDS: &'static [&'static str] = &[];
}
