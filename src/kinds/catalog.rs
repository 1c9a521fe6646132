//! The access-package catalog (entitlement management).

use serde::Serialize;
use serde_json::{Value, json};

use crate::graph::Version;
use crate::graph::write::{Collection, WriteError, Writer};
use crate::kinds::{ObserveContext, Permissions, ResourceKind, perms, present};
use crate::model::observe::{
    ENTITLEMENT, Ids, Observed, Read, enc, odata_str, project, single, str_of,
};
use crate::model::{Address, ObserveError};

/// Natural key: `displayName`, owned by the tool; two matches are an error.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogSpec {
    pub display_name: String,
    pub description: String,
    pub is_externally_visible: bool,
    pub state: String,
    /// The id of a hand-made object under another name to take over (`spec.adopt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adopt_id: Option<String>,
}

const COMPARED: &[&str] = &["description", "isExternallyVisible", "state"];
const CATALOGS: Collection = Collection::new(
    Version::V1,
    "/identityGovernance/entitlementManagement/catalogs",
);

impl CatalogSpec {
    fn key(&self) -> String {
        format!("catalog:{}", self.display_name)
    }

    /// The catalogs with this display name.
    fn list_url(&self) -> String {
        let filter = format!("displayName eq {}", odata_str(&self.display_name));
        format!("{ENTITLEMENT}/catalogs?$filter={}", enc(&filter))
    }
}

impl ResourceKind for CatalogSpec {
    const NAME: &'static str = "catalog";
    const READ_PERMISSIONS: Permissions = perms::EM_READ;
    const WRITE_PERMISSIONS: Permissions = perms::EM_WRITE;
    const FIELDS: &'static [&'static str] = COMPARED;
    const ADOPTABLE: bool = true;

    fn read_by_id(id: &str) -> Option<(Version, String)> {
        CATALOGS.read_by_id(id)
    }

    fn reads(&self, _ids: &Ids) -> Vec<Read> {
        let mut out = vec![Read::list(self.key(), Version::V1, self.list_url())];
        if let Some(id) = &self.adopt_id {
            out.push(Read::keyed(
                format!("catalog-id:{id}"),
                Version::V1,
                format!("{ENTITLEMENT}/catalogs/{id}"),
            ));
        }
        out
    }

    fn observe(&self, cx: &ObserveContext<'_>) -> Result<Observed, ObserveError> {
        let Some(items) = cx.snap.items(&self.key()) else {
            return Ok(Observed::Unknown);
        };
        let by_name = items
            .iter()
            .filter(|v| str_of(v, "displayName") == self.display_name);
        let what = format!("catalog \"{}\"", self.display_name);
        let found = single(what, by_name)?;
        // A hand-made catalog under another name, pinned by `spec.adopt`.
        let pinned = match &self.adopt_id {
            Some(id) if found.is_none() => match cx.snap.object(&format!("catalog-id:{id}")) {
                None => return Ok(Observed::Unknown),
                Some(None) => return Err(crate::model::adopted_missing("catalog", id)),
                Some(Some(v)) => Some(v),
            },
            _ => None,
        };
        Ok(present(found.or(pinned), |v| project(v, COMPARED)))
    }

    fn view(&self, _ids: &Ids) -> Value {
        json!({
            "description": self.description,
            "isExternallyVisible": self.is_externally_visible,
            "state": self.state,
        })
    }

    async fn create(&self, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        let body = json!({
            "displayName": self.display_name,
            "description": self.description,
            "isExternallyVisible": self.is_externally_visible,
            "state": self.state,
        });
        CATALOGS
            .create(w, at, &body, &self.list_url(), |items| {
                items
                    .iter()
                    .find(|v| str_of(v, "displayName") == self.display_name)
            })
            .await
    }

    async fn update(&self, id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        CATALOGS.patch(w, at, id, &self.view(&w.ids())).await
    }

    async fn delete(&self, id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        CATALOGS.delete(w, at, id).await
    }
}
