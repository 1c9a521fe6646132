//! The group's Member role inside an access package (`resourceRoleScopes`).

use serde::Serialize;

use crate::model::Address;

/// Natural key: (package, group). Create and delete only.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleScopeSpec {
    pub package: Address,
    pub group: Address,
    pub catalog_resource: Address,
    pub role: String,
}

use serde_json::{Value, json};

use crate::model::observe::{ENTITLEMENT, Ids, Observed, Read, Snapshot, str_of};

use crate::graph::Version;

/// Role scopes come with the access-package list (see `access_package::reads`).
pub fn reads(_spec: &RoleScopeSpec, _ids: &Ids) -> Vec<Read> {
    vec![]
}

pub fn observe(spec: &RoleScopeSpec, snap: &Snapshot, ids: &Ids) -> Observed {
    let (Some(pkg), Some(group)) = (ids.of(&spec.package), ids.of(&spec.group)) else {
        return Observed::Absent;
    };
    let Some(items) = snap.items(super::access_package::KEY) else {
        return Observed::Unknown;
    };
    let Some(package) = items
        .iter()
        .find(|p| str_of(p, "id").eq_ignore_ascii_case(pkg))
    else {
        return Observed::Absent;
    };
    let origin = format!("{}_{group}", spec.role);
    let found = package
        .get("resourceRoleScopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|s| {
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

use crate::graph::Service;
use crate::graph::write::{WriteError, Writer, graph_err, outcome_unknown};

async fn existing(
    w: &Writer<'_>,
    at: &crate::model::Address,
    pkg: &str,
    origin: &str,
) -> Result<Option<String>, crate::graph::GraphError> {
    let p = w
        .get(
            at,
            Service::Graph(Version::V1),
            &format!(
                "{ENTITLEMENT}/accessPackages/{pkg}?$expand=resourceRoleScopes($expand=role,scope)"
            ),
        )
        .await?;
    Ok(p.get("resourceRoleScopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|s| {
            s.get("role")
                .is_some_and(|r| str_of(r, "originId").eq_ignore_ascii_case(origin))
        })
        .map(|s| str_of(s, "id").to_string()))
}

pub async fn create(
    spec: &RoleScopeSpec,
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    let pkg = w.id_of(at, &spec.package)?;
    // The group must be in the catalog before it can be given a role in a package.
    w.id_of(at, &spec.catalog_resource)?;
    let group = w.id_of(at, &spec.group)?;
    let origin = format!("{}_{group}", spec.role);
    // The resource with its roles and scopes, from the catalog the package lives in.
    let catalog_id = w
        .tenant
        .resources
        .iter()
        .find_map(|r| match &r.spec {
            crate::model::Spec::CatalogResource(c) if c.group == spec.group => {
                w.ids().of(&c.catalog).map(str::to_string)
            }
            _ => None,
        })
        .ok_or_else(|| WriteError::new(at, "the catalog of this group is unknown"))?;
    let resource = super::catalog_resource::lookup(w, at, &catalog_id, &group)
        .await
        .map_err(graph_err(at))?
        .ok_or_else(|| WriteError::new(at, "the group is not in the catalog yet"))?;
    let role = resource
        .get("roles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|r| str_of(r, "originId").eq_ignore_ascii_case(&origin))
        .cloned()
        .ok_or_else(|| {
            WriteError::new(
                at,
                format!("the catalog resource has no {} role", spec.role),
            )
        })?;
    let scope = resource
        .get("scopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|s| {
            s.get("isRootScope")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        })
        .cloned()
        .ok_or_else(|| WriteError::new(at, "the catalog resource has no root scope"))?;
    let res =
        json!({"id": resource["id"], "originId": resource["originId"], "originSystem": "AadGroup"});
    let body = json!({
        "role": {"id": role["id"], "displayName": role["displayName"], "originSystem": "AadGroup",
                 "originId": role["originId"], "resource": res},
        "scope": {"id": scope["id"], "originId": scope["originId"], "originSystem": "AadGroup", "isRootScope": true},
    });
    let path = format!("{ENTITLEMENT}/accessPackages/{pkg}/resourceRoleScopes");
    let id = match w
        .call(
            at,
            Service::Graph(Version::V1),
            reqwest::Method::POST,
            &path,
            Some(&body),
            &[],
        )
        .await
    {
        Ok(a) => crate::graph::write::created_id(at, &a)?,
        Err(e) if outcome_unknown(&e) || e.status() == Some(409) => existing(w, at, &pkg, &origin)
            .await
            .map_err(graph_err(at))?
            .ok_or_else(|| WriteError::new(at, e.to_string()))?,
        Err(e) => return Err(graph_err(at)(e)),
    };
    w.set_id(at, &id);
    Ok(())
}

pub async fn delete(
    spec: &RoleScopeSpec,
    id: &str,
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    let Some(pkg) = w.ids().of(&spec.package).map(str::to_string) else {
        return Ok(());
    };
    crate::graph::write::delete_path(
        w,
        at,
        Version::V1,
        &format!("{ENTITLEMENT}/accessPackages/{pkg}/resourceRoleScopes/{id}"),
    )
    .await
}

impl crate::kinds::ResourceKind for RoleScopeSpec {
    const NAME: &'static str = "role-scope";
    const READ_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::EM_READ;
    const WRITE_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::EM_WRITE;

    fn reads(&self, ids: &crate::model::Ids) -> Vec<crate::model::Read> {
        reads(self, ids)
    }
    fn observe(
        &self,
        cx: &crate::kinds::ObserveContext<'_>,
    ) -> Result<crate::model::Observed, crate::model::ObserveError> {
        Ok(observe(self, cx.snap, cx.ids))
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
    async fn delete(
        &self,
        id: &str,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        delete(self, id, at, w).await
    }
}
