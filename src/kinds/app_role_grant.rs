//! Admin consent for an application permission (`appRoleAssignedTo`).

use serde::Serialize;
use serde_json::{Value, json};

use super::service_principal;
use crate::graph::write::{WriteError, Writer, create_listed, delete_path, graph_err};
use crate::graph::{Service, Version};
use crate::kinds::{ObserveContext, Permissions, ResourceKind, perms, present};
use crate::model::observe::{Ids, Observed, Read, Snapshot, str_of};
use crate::model::{Address, ObserveError};

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

fn key(principal_id: &str) -> String {
    format!("app-role-assignments:{principal_id}")
}

/// The principal's role assignments (where the plan and a lost answer look for the grant).
fn assignments_url(principal_id: &str) -> String {
    format!("servicePrincipals/{principal_id}/appRoleAssignments")
}

/// The id of the app role whose `value` is `app_role` in a resource service principal.
fn role_id(resource: &Value, app_role: &str) -> Option<String> {
    resource
        .get("appRoles")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|r| str_of(r, "value") == app_role)
        .map(|r| str_of(r, "id").to_string())
}

/// The grant among a principal's role assignments: the natural key (resource, role).
fn grant_in<'a>(items: &'a [Value], resource: &str, role: &str) -> Option<&'a Value> {
    items.iter().find(|a| {
        str_of(a, "resourceId").eq_ignore_ascii_case(resource)
            && str_of(a, "appRoleId").eq_ignore_ascii_case(role)
    })
}

/// The resource service principal's id and the app role's id, resolved from its `appRoles`.
pub(crate) fn resolve(
    spec: &AppRoleGrantSpec,
    snap: &Snapshot,
) -> (Option<String>, Option<String>) {
    let Some(Some(resource)) = snap.object(&service_principal::key(&spec.resource_app_id)) else {
        return (None, None);
    };
    let role = role_id(resource, &spec.app_role);
    (Some(str_of(resource, "id").to_string()), role)
}

impl AppRoleGrantSpec {
    /// The resource service principal (id and `appRoles`): from the plan's read when it found
    /// it, otherwise fetched once per tenant per run and shared by every grant on the same API.
    async fn resource_principal(&self, at: &Address, w: &Writer<'_>) -> Result<Value, WriteError> {
        let key = service_principal::key(&self.resource_app_id);
        if let Some(Some(sp)) = w.snap.object(&key) {
            return Ok(sp.clone());
        }
        w.resolve_once(&key, || async {
            w.get(
                at,
                Service::Graph(Version::V1),
                &format!(
                    "servicePrincipals(appId='{}')?$select=id,appRoles",
                    self.resource_app_id
                ),
            )
            .await
        })
        .await
        .map_err(graph_err(at))
    }
}

impl ResourceKind for AppRoleGrantSpec {
    const NAME: &'static str = "app-role-grant";
    const READ_PERMISSIONS: Permissions = perms::APP_READ;
    const WRITE_PERMISSIONS: Permissions =
        &[&["AppRoleAssignment.ReadWrite.All"], perms::APP_WRITE[0]];
    const PROTECTED: bool = true;

    fn reads(&self, ids: &Ids) -> Vec<Read> {
        let mut out = vec![service_principal::read_for(&self.resource_app_id)];
        if let Some(sp) = ids.of(&self.principal) {
            out.push(Read::list(
                key(sp),
                Version::V1,
                format!("/{}", assignments_url(sp)),
            ));
        }
        out
    }

    fn observe(&self, cx: &ObserveContext<'_>) -> Result<Observed, ObserveError> {
        let Some(sp) = cx.ids.of(&self.principal) else {
            return Ok(Observed::Absent);
        };
        let Some(items) = cx.snap.items(&key(sp)) else {
            return Ok(Observed::Unknown);
        };
        let (Some(resource), Some(role)) = resolve(self, cx.snap) else {
            return Ok(Observed::Absent);
        };
        Ok(present(grant_in(items, &resource, &role), |_| json!({})))
    }

    /// Grants the role (admin consent). The resource service principal and role id are
    /// resolved in this tenant at run time; a duplicate answer means it is already granted.
    async fn create(&self, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        let principal = w.id_of(at, &self.principal)?;
        let sp = self.resource_principal(at, w).await?;
        let resource = str_of(&sp, "id").to_string();
        let role = role_id(&sp, &self.app_role).ok_or_else(|| {
            WriteError::new(
                at,
                format!(
                    "{} has no application permission {}",
                    self.resource_name, self.app_role
                ),
            )
        })?;
        let body = json!({"principalId": principal, "resourceId": resource, "appRoleId": role});
        let path = format!("servicePrincipals/{resource}/appRoleAssignedTo");
        create_listed(
            w,
            at,
            Version::V1,
            &path,
            &body,
            &assignments_url(&principal),
            |items| grant_in(items, &resource, &role),
        )
        .await
    }

    async fn delete(&self, id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        let (Some(resource), _) = resolve(self, w.snap) else {
            return Ok(());
        };
        let path = format!("servicePrincipals/{resource}/appRoleAssignedTo/{id}");
        delete_path(w, at, Version::V1, &path).await
    }
}
