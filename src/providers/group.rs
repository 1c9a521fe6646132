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

use serde_json::{Value, json};

use super::graph_map::{Observed, Read, Snapshot, project, str_of};
use crate::graph::Version;

const COMPARED: &[&str] = &["displayName", "description"];

fn key(spec: &GroupSpec) -> String {
    format!("group:{}", spec.unique_name)
}

pub fn reads(spec: &GroupSpec) -> Vec<Read> {
    vec![Read::keyed(
        key(spec),
        Version::V1,
        format!(
            "/groups(uniqueName='{}')?$select=id,displayName,description,uniqueName",
            spec.unique_name
        ),
    )]
}

pub fn observe(spec: &GroupSpec, snap: &Snapshot) -> Observed {
    match snap.object(&key(spec)) {
        None => Observed::Unknown,
        Some(None) => Observed::Absent,
        Some(Some(v)) => Observed::Present {
            id: str_of(v, "id").to_string(),
            view: project(v, COMPARED),
        },
    }
}

pub fn view(spec: &GroupSpec) -> Value {
    json!({"displayName": spec.display_name, "description": spec.description})
}

/// Body of the upsert `PATCH /groups(uniqueName='…')` with `Prefer: create-if-missing`.
pub fn upsert_body(spec: &GroupSpec) -> Value {
    json!({
        "displayName": spec.display_name,
        "description": spec.description,
        "mailEnabled": false,
        "mailNickname": spec.mail_nickname,
        "securityEnabled": true,
    })
}

use crate::apply::writer::{ApplyError, Writer, graph_err};

/// Create and update are the same idempotent upsert: a lost answer is simply retried.
pub async fn upsert(
    spec: &GroupSpec,
    at: &super::Address,
    w: &Writer<'_>,
) -> Result<(), ApplyError> {
    let path = format!("groups(uniqueName='{}')", spec.unique_name);
    let id = super::upsert_keyed(w, at, &path, &upsert_body(spec))
        .await
        .map_err(graph_err(at))?;
    w.set_id(at, &id);
    Ok(())
}

pub async fn delete(id: &str, at: &super::Address, w: &Writer<'_>) -> Result<(), ApplyError> {
    super::delete_path(w, at, Version::V1, &format!("groups/{id}")).await
}
