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

use serde_json::{Value, json};

use super::graph_map::{ENTITLEMENT, Ids, Observed, Read, Snapshot, str_of};
use crate::graph::Version;

fn key(catalog_id: &str) -> String {
    format!("catalog-resources:{catalog_id}")
}

pub fn reads(spec: &CatalogResourceSpec, ids: &Ids) -> Vec<Read> {
    let Some(cat) = ids.of(&spec.catalog) else {
        return vec![];
    };
    vec![Read::list(
        key(cat),
        Version::V1,
        format!("{ENTITLEMENT}/catalogs/{cat}/resources?$expand=roles,scopes"),
    )]
}

/// The catalog resource of the group, if the group is in the catalog.
pub fn find<'a>(spec: &CatalogResourceSpec, snap: &'a Snapshot, ids: &Ids) -> Option<&'a Value> {
    let cat = ids.of(&spec.catalog)?;
    let group = ids.of(&spec.group)?;
    snap.items(&key(cat))?.iter().find(|r| {
        str_of(r, "originId").eq_ignore_ascii_case(group) && str_of(r, "originSystem") == "AadGroup"
    })
}

pub fn observe(spec: &CatalogResourceSpec, snap: &Snapshot, ids: &Ids) -> Observed {
    // A catalog or group that does not exist yet has no resources in it.
    let (Some(cat), Some(_)) = (ids.of(&spec.catalog), ids.of(&spec.group)) else {
        return Observed::Absent;
    };
    if snap.items(&key(cat)).is_none() {
        return Observed::Unknown;
    }
    match find(spec, snap, ids) {
        Some(r) => Observed::Present {
            id: str_of(r, "id").to_string(),
            view: json!({}),
        },
        None => Observed::Absent,
    }
}

pub fn view(_spec: &CatalogResourceSpec) -> Value {
    json!({})
}

/// `POST resourceRequests` adding the group to the catalog.
pub fn add_request(spec: &CatalogResourceSpec, ids: &Ids, group_name: &str) -> Value {
    json!({
        "requestType": "adminAdd",
        "resource": {
            "originId": ids.or_later(&spec.group),
            "originSystem": "AadGroup",
            "displayName": group_name,
        },
        "catalog": {"id": ids.or_later(&spec.catalog)},
    })
}
