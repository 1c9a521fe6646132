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

use serde_json::{Value, json};

use super::graph_map::{
    Ambiguous, ENTITLEMENT, Observed, Read, Snapshot, enc, odata_str, project, single, str_of,
};
use crate::graph::Version;

const COMPARED: &[&str] = &["description", "isExternallyVisible", "state"];

fn key(spec: &CatalogSpec) -> String {
    format!("catalog:{}", spec.display_name)
}

pub fn reads(spec: &CatalogSpec) -> Vec<Read> {
    let filter = format!("displayName eq {}", odata_str(&spec.display_name));
    vec![Read::list(
        key(spec),
        Version::V1,
        format!("{ENTITLEMENT}/catalogs?$filter={}", enc(&filter)),
    )]
}

pub fn observe(spec: &CatalogSpec, snap: &Snapshot) -> Result<Observed, Ambiguous> {
    let Some(items) = snap.items(&key(spec)) else {
        return Ok(Observed::Unknown);
    };
    let matching = items
        .iter()
        .filter(|v| str_of(v, "displayName") == spec.display_name);
    let what = format!("catalog \"{}\"", spec.display_name);
    Ok(match single(what, matching)? {
        None => Observed::Absent,
        Some(v) => Observed::Present {
            id: str_of(v, "id").to_string(),
            view: project(v, COMPARED),
        },
    })
}

pub fn view(spec: &CatalogSpec) -> Value {
    json!({
        "description": spec.description,
        "isExternallyVisible": spec.is_externally_visible,
        "state": spec.state,
    })
}

pub fn create_body(spec: &CatalogSpec) -> Value {
    json!({
        "displayName": spec.display_name,
        "description": spec.description,
        "isExternallyVisible": spec.is_externally_visible,
        "state": spec.state,
    })
}

use crate::apply::writer::{ApplyError, Writer};
use crate::graph::Service;

pub async fn create(
    spec: &CatalogSpec,
    at: &super::Address,
    w: &Writer<'_>,
) -> Result<(), ApplyError> {
    let id = super::create_recovering(
        w,
        at,
        Version::V1,
        &format!("{ENTITLEMENT}/catalogs"),
        &create_body(spec),
        || async {
            let items = w
                .list(at, Service::Graph(Version::V1), &reads(spec)[0].url)
                .await?;
            Ok(items
                .iter()
                .find(|v| str_of(v, "displayName") == spec.display_name)
                .map(|v| str_of(v, "id").to_string()))
        },
    )
    .await?;
    w.set_id(at, &id);
    Ok(())
}

pub async fn update(
    spec: &CatalogSpec,
    id: &str,
    at: &super::Address,
    w: &Writer<'_>,
) -> Result<(), ApplyError> {
    super::patch_path(
        w,
        at,
        Version::V1,
        &format!("{ENTITLEMENT}/catalogs/{id}"),
        &view(spec),
    )
    .await
}

pub async fn delete(id: &str, at: &super::Address, w: &Writer<'_>) -> Result<(), ApplyError> {
    super::delete_path(w, at, Version::V1, &format!("{ENTITLEMENT}/catalogs/{id}")).await
}
