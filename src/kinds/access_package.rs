//! Access packages, one per tier.

use serde::Serialize;
use serde_json::{Value, json};

use crate::graph::Version;
use crate::graph::write::{Collection, WriteError, Writer};
use crate::kinds::{ObserveContext, Permissions, ResourceKind, perms, present};
use crate::model::observe::{ENTITLEMENT, Ids, Observed, Read, project, single, str_of};
use crate::model::{Address, ObserveError};

/// Natural key: (catalog, `displayName`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessPackageSpec {
    pub catalog: Address,
    /// The tier group the package grants: finds the package again after a rename.
    pub group: Address,
    pub display_name: String,
    pub description: String,
    pub is_hidden: bool,
}

const COMPARED: &[&str] = &["displayName", "description", "isHidden"];
pub const KEY: &str = "access-packages";
const PACKAGES: Collection = Collection::new(
    Version::V1,
    "/identityGovernance/entitlementManagement/accessPackages",
);

/// All packages with their catalog and role scopes: one read serves packages and role scopes.
fn list_url() -> String {
    format!("{ENTITLEMENT}/accessPackages?$expand=catalog,resourceRoleScopes($expand=role,scope)")
}

/// Whether a package grants the Member role of `group_id`.
pub(crate) fn grants_group(package: &Value, group_id: &str) -> bool {
    let origin = format!("Member_{group_id}");
    package
        .get("resourceRoleScopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|s| {
            s.get("role")
                .is_some_and(|r| str_of(r, "originId").eq_ignore_ascii_case(&origin))
        })
}

fn in_catalog(p: &Value, catalog_id: &str) -> bool {
    p.get("catalog")
        .is_some_and(|c| str_of(c, "id").eq_ignore_ascii_case(catalog_id))
}

impl AccessPackageSpec {
    /// The natural key: this display name in our catalog.
    fn is_key(&self, p: &Value, catalog_id: &str) -> bool {
        str_of(p, "displayName") == self.display_name && in_catalog(p, catalog_id)
    }
}

impl ResourceKind for AccessPackageSpec {
    const NAME: &'static str = "access-package";
    const READ_PERMISSIONS: Permissions = perms::EM_READ;
    const WRITE_PERMISSIONS: Permissions = perms::EM_WRITE;
    const FIELDS: &'static [&'static str] = COMPARED;
    const PROTECTED: bool = true;

    fn read_by_id(id: &str) -> Option<(Version, String)> {
        PACKAGES.read_by_id(id)
    }

    fn reads(&self, _ids: &Ids) -> Vec<Read> {
        vec![Read::list(KEY, Version::V1, list_url())]
    }

    fn observe(&self, cx: &ObserveContext<'_>) -> Result<Observed, ObserveError> {
        let Some(cat) = cx.ids.of(&self.catalog) else {
            return Ok(Observed::Absent);
        };
        let Some(items) = cx.snap.items(KEY) else {
            return Ok(Observed::Unknown);
        };
        let what = format!("access package \"{}\"", self.display_name);
        let mut found = single(what.clone(), items.iter().filter(|p| self.is_key(p, cat)))?;
        // Renamed (e.g. the tier's group got a new display name): the package that grants the
        // tier's group in our catalog is the same package, to be updated, not replaced.
        if found.is_none()
            && let Some(group) = cx.ids.of(&self.group)
        {
            found = single(
                what,
                items
                    .iter()
                    .filter(|p| in_catalog(p, cat))
                    .filter(|p| grants_group(p, group)),
            )?;
        }
        Ok(present(found, |v| project(v, COMPARED)))
    }

    fn view(&self, _ids: &Ids) -> Value {
        json!({"displayName": self.display_name, "description": self.description, "isHidden": self.is_hidden})
    }

    async fn create(&self, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        let cat = w.id_of(at, &self.catalog)?;
        let body = json!({
            "displayName": self.display_name,
            "description": self.description,
            "isHidden": self.is_hidden,
            "catalog": {"id": w.ids().or_later(&self.catalog)},
        });
        PACKAGES
            .create(w, at, &body, &list_url(), |items| {
                items.iter().find(|p| self.is_key(p, &cat))
            })
            .await
    }

    async fn update(&self, id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        PACKAGES.patch(w, at, id, &self.view(&w.ids())).await
    }

    async fn delete(&self, id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        PACKAGES.delete(w, at, id).await
    }
}
