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

use serde_json::{Value, json};

use crate::graph::Version;
use crate::model::observe::{
    Ambiguous, ENTITLEMENT, Observed, Read, Snapshot, enc, project, single, str_of,
};

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

use crate::graph::Service;
use crate::graph::write::{WriteError, Writer};

pub async fn create(
    spec: &ConnectedOrganizationSpec,
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    let path = format!("{ENTITLEMENT}/connectedOrganizations");
    let body = create_body(spec);
    let id = crate::graph::write::create_recovering(w, at, Version::V1, &path, &body, || async {
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
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    // Documented to answer 202 Accepted with a body.
    crate::graph::write::patch_path(
        w,
        at,
        Version::V1,
        &format!("{ENTITLEMENT}/connectedOrganizations/{id}"),
        &view(spec),
    )
    .await
}

pub async fn delete(
    id: &str,
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    crate::graph::write::delete_path(
        w,
        at,
        Version::V1,
        &format!("{ENTITLEMENT}/connectedOrganizations/{id}"),
    )
    .await
}

impl crate::kinds::ResourceKind for ConnectedOrganizationSpec {
    const NAME: &'static str = "connected-organization";
    const READ_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::EM_READ;
    const WRITE_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::EM_WRITE;
    const FIELDS: &'static [&'static str] = &["displayName", "description", "state"];
    const PROTECTED: bool = true;

    fn read_by_id(id: &str) -> Option<(crate::graph::Version, String)> {
        let id = crate::model::observe::enc(id);
        Some((
            crate::graph::Version::V1,
            format!("identityGovernance/entitlementManagement/connectedOrganizations/{id}"),
        ))
    }
    fn reads(&self, _ids: &crate::model::Ids) -> Vec<crate::model::Read> {
        reads(self)
    }
    fn observe(
        &self,
        cx: &crate::kinds::ObserveContext<'_>,
    ) -> Result<crate::model::Observed, crate::model::ObserveError> {
        Ok(observe(self, cx.snap)?)
    }
    fn view(&self, _ids: &crate::model::Ids) -> serde_json::Value {
        view(self)
    }
    async fn create(
        &self,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        create(self, at, w).await
    }
    async fn update(
        &self,
        id: &str,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        update(self, id, at, w).await
    }
    async fn delete(
        &self,
        id: &str,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        delete(id, at, w).await
    }
}
