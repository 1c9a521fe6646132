//! The MSSP tenant as a connected organization (entitlement management).

use serde::Serialize;
use serde_json::{Value, json};

use crate::graph::Version;
use crate::graph::write::{Collection, WriteError, Writer};
use crate::kinds::{ObserveContext, Permissions, ResourceKind, perms, present};
use crate::model::observe::{ENTITLEMENT, Ids, Observed, Read, enc, project, single};
use crate::model::{Address, ObserveError};

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

const COMPARED: &[&str] = &["displayName", "description", "state"];
const ORGANIZATIONS: Collection = Collection::new(
    Version::V1,
    "/identityGovernance/entitlementManagement/connectedOrganizations",
);

impl ConnectedOrganizationSpec {
    fn key(&self) -> String {
        format!("connected-organization:{}", self.tenant_id)
    }

    /// The organizations whose identity source is the MSSP tenant: the natural key.
    fn list_url(&self) -> String {
        let filter = format!(
            "identitySources/any(is:is/microsoft.graph.azureActiveDirectoryTenant/tenantId eq '{}')",
            self.tenant_id
        );
        format!(
            "{ENTITLEMENT}/connectedOrganizations?$filter={}",
            enc(&filter)
        )
    }
}

impl ResourceKind for ConnectedOrganizationSpec {
    const NAME: &'static str = "connected-organization";
    const READ_PERMISSIONS: Permissions = perms::EM_READ;
    const WRITE_PERMISSIONS: Permissions = perms::EM_WRITE;
    const FIELDS: &'static [&'static str] = COMPARED;
    const PROTECTED: bool = true;

    fn read_by_id(id: &str) -> Option<(Version, String)> {
        ORGANIZATIONS.read_by_id(id)
    }

    fn reads(&self, _ids: &Ids) -> Vec<Read> {
        vec![Read::list(self.key(), Version::V1, self.list_url())]
    }

    fn observe(&self, cx: &ObserveContext<'_>) -> Result<Observed, ObserveError> {
        let Some(items) = cx.snap.items(&self.key()) else {
            return Ok(Observed::Unknown);
        };
        let what = format!("connected organization for tenant {}", self.tenant_id);
        Ok(present(single(what, items)?, |v| project(v, COMPARED)))
    }

    fn view(&self, _ids: &Ids) -> Value {
        json!({"displayName": self.display_name, "description": self.description, "state": self.state})
    }

    async fn create(&self, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        // The service turns the domain source into the tenant's identity source.
        let body = json!({
            "displayName": self.display_name,
            "description": self.description,
            "identitySources": [{
                "@odata.type": "#microsoft.graph.domainIdentitySource",
                "domainName": self.domain,
                "displayName": self.domain,
            }],
            "state": self.state,
        });
        // The listing is already filtered to the key; two answers are no answer.
        ORGANIZATIONS
            .create(w, at, &body, &self.list_url(), |items| {
                single("", items).ok().flatten()
            })
            .await
    }

    async fn update(&self, id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        // Documented to answer 202 Accepted with a body.
        ORGANIZATIONS.patch(w, at, id, &self.view(&w.ids())).await
    }

    async fn delete(&self, id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        ORGANIZATIONS.delete(w, at, id).await
    }
}
