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

use serde_json::{Value, json};

use super::graph_map::{ENTITLEMENT, Ids, Observed, Read, Snapshot, str_of};
use crate::graph::Version;

fn key(package_id: &str) -> String {
    format!("package-scopes:{package_id}")
}

pub fn reads(spec: &RoleScopeSpec, ids: &Ids) -> Vec<Read> {
    let Some(pkg) = ids.of(&spec.package) else {
        return vec![];
    };
    vec![Read::keyed(
        key(pkg),
        Version::V1,
        format!(
            "{ENTITLEMENT}/accessPackages/{pkg}?$expand=resourceRoleScopes($expand=role,scope)"
        ),
    )]
}

pub fn observe(spec: &RoleScopeSpec, snap: &Snapshot, ids: &Ids) -> Observed {
    let (Some(pkg), Some(group)) = (ids.of(&spec.package), ids.of(&spec.group)) else {
        return Observed::Absent;
    };
    let Some(obj) = snap.object(&key(pkg)) else {
        return Observed::Unknown;
    };
    let Some(package) = obj else {
        return Observed::Absent;
    };
    let origin = format!("{}_{group}", spec.role);
    let scopes = package
        .get("resourceRoleScopes")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let found = scopes.iter().find(|s| {
        s.get("role")
            .is_some_and(|r| str_of(r, "originId").eq_ignore_ascii_case(&origin))
    });
    match found {
        Some(s) => Observed::Present {
            id: str_of(s, "id").to_string(),
            view: json!({}),
        },
        None => Observed::Absent,
    }
}

pub fn view(_spec: &RoleScopeSpec) -> Value {
    json!({})
}
