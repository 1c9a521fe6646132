//! The MSSP tenant as a connected organization (entitlement management).

use serde::Serialize;

/// Natural key: the MSSP tenant id in `identitySources`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectedOrganizationSpec {
    pub tenant_id: String,
    pub domain: String,
    pub display_name: String,
    pub description: String,
    pub state: String,
}

impl ConnectedOrganizationSpec {
    pub const FIELDS: &'static [&'static str] = &["displayName", "description", "state"];
}

use serde_json::{Value, json};

use super::graph_map::{
    Ambiguous, ENTITLEMENT, Observed, Read, Snapshot, enc, project, single, str_of,
};
use crate::graph::Version;

const COMPARED: &[&str] = &["displayName", "description", "state"];

fn key(spec: &ConnectedOrganizationSpec) -> String {
    format!("connected-organization:{}", spec.tenant_id)
}

pub fn reads(spec: &ConnectedOrganizationSpec) -> Vec<Read> {
    let filter = format!(
        "identitySources/any(is:is/microsoft.graph.azureActiveDirectoryTenant/tenantId eq '{}')",
        spec.tenant_id
    );
    vec![Read::list(
        key(spec),
        Version::V1,
        format!(
            "{ENTITLEMENT}/connectedOrganizations?$filter={}",
            enc(&filter)
        ),
    )]
}

pub fn observe(spec: &ConnectedOrganizationSpec, snap: &Snapshot) -> Result<Observed, Ambiguous> {
    let Some(items) = snap.items(&key(spec)) else {
        return Ok(Observed::Unknown);
    };
    let what = format!("connected organization for tenant {}", spec.tenant_id);
    Ok(match single(what, items)? {
        None => Observed::Absent,
        Some(v) => Observed::Present {
            id: str_of(v, "id").to_string(),
            view: project(v, COMPARED),
        },
    })
}

pub fn view(spec: &ConnectedOrganizationSpec) -> Value {
    json!({"displayName": spec.display_name, "description": spec.description, "state": spec.state})
}

/// Create body: the service turns the domain source into the tenant's identity source.
pub fn create_body(spec: &ConnectedOrganizationSpec) -> Value {
    json!({
        "displayName": spec.display_name,
        "description": spec.description,
        "identitySources": [{
            "@odata.type": "#microsoft.graph.domainIdentitySource",
            "domainName": spec.domain,
            "displayName": spec.domain,
        }],
        "state": spec.state,
    })
}

use crate::apply::writer::{ApplyError, Writer};
use crate::graph::Service;

pub async fn create(
    spec: &ConnectedOrganizationSpec,
    at: &super::Address,
    w: &Writer<'_>,
) -> Result<(), ApplyError> {
    let path = format!("{ENTITLEMENT}/connectedOrganizations");
    let body = create_body(spec);
    let id = super::create_recovering(w, at, Version::V1, &path, &body, || async {
        let read = &reads(spec)[0];
        let items = w.list(at, Service::Graph(Version::V1), &read.url).await?;
        Ok(single("", items.iter())
            .ok()
            .flatten()
            .map(|v| str_of(v, "id").to_string()))
    })
    .await?;
    w.set_id(at, &id);
    Ok(())
}

pub async fn update(
    spec: &ConnectedOrganizationSpec,
    id: &str,
    at: &super::Address,
    w: &Writer<'_>,
) -> Result<(), ApplyError> {
    // Documented to answer 202 Accepted with a body.
    super::patch_path(
        w,
        at,
        Version::V1,
        &format!("{ENTITLEMENT}/connectedOrganizations/{id}"),
        &view(spec),
    )
    .await
}

pub async fn delete(id: &str, at: &super::Address, w: &Writer<'_>) -> Result<(), ApplyError> {
    super::delete_path(
        w,
        at,
        Version::V1,
        &format!("{ENTITLEMENT}/connectedOrganizations/{id}"),
    )
    .await
}
