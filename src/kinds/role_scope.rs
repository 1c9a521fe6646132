//! The group's Member role inside an access package (`resourceRoleScopes`).

use serde::Serialize;
use serde_json::{Value, json};

use crate::graph::write::{WriteError, Writer, create_recovering, delete_path};
use crate::graph::{GraphError, Service, Version};
use crate::kinds::catalog_resource::{self, CatalogResourceSpec};
use crate::kinds::{ObserveContext, Permissions, ResourceKind, perms, present};
use crate::model::observe::{ENTITLEMENT, Observed, str_of};
use crate::model::{Address, ObserveError, Spec};

/// Natural key: (package, group). Create and delete only.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleScopeSpec {
    pub package: Address,
    pub group: Address,
    pub catalog_resource: Address,
    pub role: String,
}

/// The role scope of an access package (as Graph returns it with `resourceRoleScopes`
/// expanded) whose role is `origin`: the natural key, for the plan and for a lost answer.
fn scope_in<'a>(package: &'a Value, origin: &str) -> Option<&'a Value> {
    package
        .get("resourceRoleScopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|s| {
            s.get("role")
                .is_some_and(|r| str_of(r, "originId").eq_ignore_ascii_case(origin))
        })
}

/// The first element of `list` (roles or scopes of a catalog resource) that `pick` accepts.
fn first_of<'a>(
    resource: &'a Value,
    list: &str,
    pick: impl Fn(&Value) -> bool,
) -> Option<&'a Value> {
    resource
        .get(list)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|v| pick(v))
}

impl RoleScopeSpec {
    /// The role's `originId` in the catalog: `{role}_{group id}`.
    fn origin(&self, group_id: &str) -> String {
        format!("{}_{group_id}", self.role)
    }

    /// This group's catalog resource in the tenant's desired resources.
    fn catalog_entry<'a>(&self, w: &'a Writer<'_>) -> Option<&'a CatalogResourceSpec> {
        w.tenant.resources.iter().find_map(|r| match &r.spec {
            Spec::CatalogResource(c) if c.group == self.group => Some(c),
            _ => None,
        })
    }

    /// The group's resource in the catalog, with its roles and scopes: as the catalog-resource
    /// write of this run found it, else as the plan read it, else looked up (waiting while the
    /// catalog's list does not show it yet, which Graph documents as asynchronous).
    async fn catalog_resource(
        &self,
        at: &Address,
        w: &Writer<'_>,
        catalog_id: &str,
        group: &str,
    ) -> Result<Value, WriteError> {
        let key = catalog_resource::resolved_key(catalog_id, group);
        if let Some(r) = w.resolved.recall(&key) {
            return Ok(r);
        }
        let read = CatalogResourceSpec {
            catalog: self
                .catalog_entry(w)
                .map(|c| c.catalog.clone())
                .unwrap_or_else(|| self.catalog_resource.clone()),
            group: self.group.clone(),
        };
        if let Some(r) = read.find(w.snap, &w.ids()) {
            return Ok(r.clone());
        }
        w.await_visible(at, "the group to appear in the catalog", || async {
            let r = catalog_resource::lookup(w, at, catalog_id, group).await?;
            Ok(r.map(|r| {
                let id = str_of(&r, "id").to_string();
                w.resolved.remember(&key, r);
                id
            }))
        })
        .await?;
        w.resolved
            .recall(&key)
            .ok_or_else(|| WriteError::new(at, "the group is not in the catalog yet"))
    }
}

impl ResourceKind for RoleScopeSpec {
    const NAME: &'static str = "role-scope";
    const READ_PERMISSIONS: Permissions = perms::EM_READ;
    const WRITE_PERMISSIONS: Permissions = perms::EM_WRITE;

    // Role scopes come with the access-package list (see `access_package`): no reads of their own.

    fn observe(&self, cx: &ObserveContext<'_>) -> Result<Observed, ObserveError> {
        let (Some(pkg), Some(group)) = (cx.ids.of(&self.package), cx.ids.of(&self.group)) else {
            return Ok(Observed::Absent);
        };
        let Some(items) = cx.snap.items(super::access_package::KEY) else {
            return Ok(Observed::Unknown);
        };
        let package = items
            .iter()
            .find(|p| str_of(p, "id").eq_ignore_ascii_case(pkg));
        let found = package.and_then(|p| scope_in(p, &self.origin(group)));
        Ok(present(found, |_| json!({})))
    }

    async fn create(&self, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        let pkg = w.id_of(at, &self.package)?;
        // The group must be in the catalog before it can be given a role in a package.
        w.id_of(at, &self.catalog_resource)?;
        let group = w.id_of(at, &self.group)?;
        let origin = self.origin(&group);
        // The resource with its roles and scopes, from the catalog the package lives in.
        let catalog_id = self
            .catalog_entry(w)
            .and_then(|c| w.ids().of(&c.catalog).map(str::to_string))
            .ok_or_else(|| WriteError::new(at, "the catalog of this group is unknown"))?;
        let resource = self.catalog_resource(at, w, &catalog_id, &group).await?;
        let role = first_of(&resource, "roles", |r| {
            str_of(r, "originId").eq_ignore_ascii_case(&origin)
        })
        .ok_or_else(|| {
            WriteError::new(
                at,
                format!("the catalog resource has no {} role", self.role),
            )
        })?;
        let scope = first_of(&resource, "scopes", |s| {
            s.get("isRootScope")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        })
        .ok_or_else(|| WriteError::new(at, "the catalog resource has no root scope"))?;
        let res = json!({"id": resource["id"], "originId": resource["originId"], "originSystem": "AadGroup"});
        let body = json!({
            "role": {"id": role["id"], "displayName": role["displayName"], "originSystem": "AadGroup",
                     "originId": role["originId"], "resource": res},
            "scope": {"id": scope["id"], "originId": scope["originId"], "originSystem": "AadGroup", "isRootScope": true},
        });
        let path = format!("{ENTITLEMENT}/accessPackages/{pkg}/resourceRoleScopes");
        let find = || async {
            let p = w
                .get(
                    at,
                    Service::Graph(Version::V1),
                    &format!(
                        "{ENTITLEMENT}/accessPackages/{pkg}?$expand=resourceRoleScopes($expand=role,scope)"
                    ),
                )
                .await?;
            Ok::<_, GraphError>(scope_in(&p, &origin).map(|s| str_of(s, "id").to_string()))
        };
        let id = create_recovering(w, at, Version::V1, &path, &body, find).await?;
        w.set_id(at, &id);
        Ok(())
    }

    async fn delete(&self, id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        let Some(pkg) = w.ids().of(&self.package).map(str::to_string) else {
            return Ok(());
        };
        let path = format!("{ENTITLEMENT}/accessPackages/{pkg}/resourceRoleScopes/{id}");
        delete_path(w, at, Version::V1, &path).await
    }
}
