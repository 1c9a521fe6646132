//! Admin consent for an application permission (`appRoleAssignedTo`).

use serde::Serialize;

use crate::model::Address;

/// Natural key: (principal, resource, appRoleId); the role id is resolved at run time from the
/// resource service principal's `appRoles`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRoleGrantSpec {
    pub principal: Address,
    pub resource_app_id: String,
    pub resource_name: String,
    pub app_role: String,
}

use serde_json::{Value, json};

use super::service_principal;
use crate::graph::Version;
use crate::model::observe::{Ids, KNOWN_AFTER_APPLY, Observed, Read, Snapshot, str_of};

fn key(principal_id: &str) -> String {
    format!("app-role-assignments:{principal_id}")
}

pub fn reads(spec: &AppRoleGrantSpec, ids: &Ids) -> Vec<Read> {
    let mut out = vec![service_principal::read_for(&spec.resource_app_id)];
    if let Some(sp) = ids.of(&spec.principal) {
        out.push(Read::list(
            key(sp),
            Version::V1,
            format!("/servicePrincipals/{sp}/appRoleAssignments"),
        ));
    }
    out
}

/// The resource service principal's id and the app role's id, resolved from its `appRoles`.
pub fn resolve(spec: &AppRoleGrantSpec, snap: &Snapshot) -> (Option<String>, Option<String>) {
    let Some(Some(resource)) = snap.object(&service_principal::key(&spec.resource_app_id)) else {
        return (None, None);
    };
    let role = resource
        .get("appRoles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|r| str_of(r, "value") == spec.app_role)
        .map(|r| str_of(r, "id").to_string());
    (Some(str_of(resource, "id").to_string()), role)
}

pub fn observe(spec: &AppRoleGrantSpec, snap: &Snapshot, ids: &Ids) -> Observed {
    let Some(sp) = ids.of(&spec.principal) else {
        return Observed::Absent;
    };
    let Some(items) = snap.items(&key(sp)) else {
        return Observed::Unknown;
    };
    let (resource, role) = resolve(spec, snap);
    let (Some(resource), Some(role)) = (resource, role) else {
        return Observed::Absent;
    };
    let found = items.iter().find(|a| {
        str_of(a, "resourceId").eq_ignore_ascii_case(&resource)
            && str_of(a, "appRoleId").eq_ignore_ascii_case(&role)
    });
    match found {
        Some(a) => Observed::Present {
            id: str_of(a, "id").to_string(),
            view: json!({}),
        },
        None => Observed::Absent,
    }
}

pub fn view(_spec: &AppRoleGrantSpec) -> Value {
    json!({})
}

/// `POST /servicePrincipals/{resource}/appRoleAssignedTo` body.
pub fn body(spec: &AppRoleGrantSpec, snap: &Snapshot, ids: &Ids) -> Value {
    let (resource, role) = resolve(spec, snap);
    json!({
        "principalId": ids.or_later(&spec.principal),
        "resourceId": resource.unwrap_or_else(|| KNOWN_AFTER_APPLY.into()),
        "appRoleId": role.unwrap_or_else(|| KNOWN_AFTER_APPLY.into()),
    })
}

use crate::graph::Service;
use crate::graph::write::{WriteError, Writer, graph_err};

/// Grants the role (admin consent). The resource service principal and role id are resolved
/// in this tenant at run time; a duplicate answer means it is already granted.
pub async fn create(
    spec: &AppRoleGrantSpec,
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    let principal = w.id_of(at, &spec.principal)?;
    let sp = w
        .get(
            at,
            Service::Graph(Version::V1),
            &format!(
                "servicePrincipals(appId='{}')?$select=id,appRoles",
                spec.resource_app_id
            ),
        )
        .await
        .map_err(graph_err(at))?;
    let resource = str_of(&sp, "id").to_string();
    let role = sp
        .get("appRoles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|r| str_of(r, "value") == spec.app_role)
        .map(|r| str_of(r, "id").to_string())
        .ok_or_else(|| {
            WriteError::new(
                at,
                format!(
                    "{} has no application permission {}",
                    spec.resource_name, spec.app_role
                ),
            )
        })?;
    let body = json!({"principalId": principal, "resourceId": resource, "appRoleId": role});
    let path = format!("servicePrincipals/{resource}/appRoleAssignedTo");
    let find = || async {
        let items = w
            .list(
                at,
                Service::Graph(Version::V1),
                &format!("servicePrincipals/{principal}/appRoleAssignments"),
            )
            .await?;
        Ok::<_, crate::graph::GraphError>(
            items
                .iter()
                .find(|a| {
                    str_of(a, "resourceId").eq_ignore_ascii_case(&resource)
                        && str_of(a, "appRoleId").eq_ignore_ascii_case(&role)
                })
                .map(|a| str_of(a, "id").to_string()),
        )
    };
    let id = crate::graph::write::create_recovering(w, at, Version::V1, &path, &body, find).await?;
    w.set_id(at, &id);
    Ok(())
}

pub async fn delete(
    spec: &AppRoleGrantSpec,
    id: &str,
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    let (resource, _) = resolve(spec, w.snap);
    let Some(resource) = resource else {
        return Ok(());
    };
    crate::graph::write::delete_path(
        w,
        at,
        Version::V1,
        &format!("servicePrincipals/{resource}/appRoleAssignedTo/{id}"),
    )
    .await
}

impl crate::kinds::ResourceKind for AppRoleGrantSpec {
    const NAME: &'static str = "app-role-grant";
    const READ_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::APP_READ;
    const WRITE_PERMISSIONS: crate::kinds::Permissions = &[
        &["AppRoleAssignment.ReadWrite.All"],
        crate::kinds::perms::APP_WRITE[0],
    ];
    const PROTECTED: bool = true;

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
