//! The SIEM application registration (upsert by `uniqueName`); its credentials are kinds of
//! their own (`federated_credential`, `key_credential`, `password_credential`).

use serde::Serialize;
use serde_json::{Value, json};

use super::service_principal;
use crate::graph::write::{WriteError, Writer, graph_err};
use crate::graph::{Service, Version};
use crate::kinds::{ObserveContext, Permissions, ResourceKind, perms};
use crate::model::observe::{Ids, Observed, Read, Snapshot, str_of};
use crate::model::{Address, ObserveError};
use reqwest::Method;

/// Natural key: `uniqueName`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSpec {
    pub unique_name: String,
    pub display_name: String,
    pub sign_in_audience: String,
    pub required_resource_access: Vec<ResourceAccessSpec>,
}

/// Application permissions requested from one API, by app-role value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceAccessSpec {
    pub resource_app_id: String,
    pub resource_name: String,
    pub roles: Vec<String>,
}

/// Where a credential kind's listing of its application is kept in the snapshot.
pub(crate) fn app_key(application: &Address, ids: &Ids) -> Option<String> {
    ids.of(application).map(|id| format!("application-id:{id}"))
}

/// The application object as read, for credential checks.
pub fn object<'a>(spec: &ApplicationSpec, snap: &'a Snapshot) -> Option<&'a Value> {
    snap.object(&spec.key()).flatten()
}

/// Role ids of `requiredResourceAccess` turned back into role values (via each resource
/// service principal's `appRoles`), sorted, so the comparison is by meaning.
fn actual_access(app: &Value, snap: &Snapshot) -> Value {
    let mut out: Vec<Value> = app
        .get("requiredResourceAccess")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| {
            let resource = str_of(r, "resourceAppId").to_ascii_lowercase();
            let roles_of_sp = snap
                .object(&service_principal::key(&resource))
                .flatten()
                .and_then(|sp| sp.get("appRoles"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut roles: Vec<String> = r
                .get("resourceAccess")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|a| str_of(a, "type") == "Role")
                .map(|a| {
                    let id = str_of(a, "id");
                    roles_of_sp
                        .iter()
                        .find(|x| str_of(x, "id").eq_ignore_ascii_case(id))
                        .map_or_else(|| id.to_string(), |x| str_of(x, "value").to_string())
                })
                .collect();
            roles.sort();
            json!({"resourceAppId": resource, "roles": roles})
        })
        .collect();
    out.sort_by(|a, b| str_of(a, "resourceAppId").cmp(str_of(b, "resourceAppId")));
    json!(out)
}

/// Role ids for the upsert body, resolved from the resource service principals' `appRoles`.
pub(crate) fn upsert_body(spec: &ApplicationSpec, snap: &Snapshot) -> Value {
    let access: Vec<Value> = spec
        .required_resource_access
        .iter()
        .map(|r| {
            let sp = snap
                .object(&service_principal::key(&r.resource_app_id))
                .flatten();
            let roles: Vec<Value> = r
                .roles
                .iter()
                .map(|value| {
                    let id = sp
                        .and_then(|sp| sp.get("appRoles"))
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .find(|x| str_of(x, "value") == value)
                        .map_or_else(
                            || crate::model::observe::KNOWN_AFTER_APPLY.to_string(),
                            |x| str_of(x, "id").to_string(),
                        );
                    json!({"id": id, "type": "Role"})
                })
                .collect();
            json!({"resourceAppId": r.resource_app_id, "resourceAccess": roles})
        })
        .collect();
    json!({
        "displayName": spec.display_name,
        "signInAudience": spec.sign_in_audience,
        "requiredResourceAccess": access,
    })
}

/// Credentials of the application object ending within `window` of `now`.
pub fn expiring(
    app: &Value,
    now: jiff::Timestamp,
    window: std::time::Duration,
) -> Vec<(String, String)> {
    let limit = now.checked_add(window).unwrap_or(now);
    ["passwordCredentials", "keyCredentials"]
        .iter()
        .flat_map(|k| app.get(*k).and_then(Value::as_array).into_iter().flatten())
        .filter_map(|c| {
            let end: jiff::Timestamp = str_of(c, "endDateTime").parse().ok()?;
            (end <= limit).then(|| {
                (
                    c.get("displayName")
                        .and_then(Value::as_str)
                        .unwrap_or("(unnamed)")
                        .to_string(),
                    end.to_string(),
                )
            })
        })
        .collect()
}

/// Upsert by uniqueName (idempotent); then records the appId customers' service principals need.
pub(crate) async fn upsert(
    spec: &ApplicationSpec,
    at: &Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    // Role ids come from the resource service principals read in this tenant.
    let body = upsert_body(spec, w.snap);
    if body
        .to_string()
        .contains(crate::model::observe::KNOWN_AFTER_APPLY)
    {
        return Err(WriteError::new(
            at,
            "an application permission could not be resolved to a role id in the MSSP tenant",
        ));
    }
    let path = format!("applications(uniqueName='{}')", spec.unique_name);
    let mut tries = 0;
    loop {
        tries += 1;
        match w
            .call(
                at,
                Service::Graph(Version::V1),
                Method::PATCH,
                &path,
                Some(&body),
                &[("Prefer", "create-if-missing")],
            )
            .await
        {
            Err(e)
                if crate::graph::write::outcome_unknown(&e)
                    && tries < crate::graph::write::LOST_ANSWER_TRIES =>
            {
                continue;
            }
            other => {
                other.map_err(graph_err(at))?;
                break;
            }
        }
    }
    let v = w
        .get(
            at,
            Service::Graph(Version::V1),
            &format!("{path}?$select=id,appId"),
        )
        .await
        .map_err(graph_err(at))?;
    w.set_id(at, str_of(&v, "id"));
    w.set_siem_app_id(str_of(&v, "appId"));
    Ok(())
}

impl ApplicationSpec {
    fn key(&self) -> String {
        format!("application:{}", self.unique_name)
    }
}

impl ResourceKind for ApplicationSpec {
    const NAME: &'static str = "application";
    const READ_PERMISSIONS: Permissions = perms::APP_READ;
    const WRITE_PERMISSIONS: Permissions = perms::APP_WRITE;
    const FIELDS: &'static [&'static str] =
        &["displayName", "signInAudience", "requiredResourceAccess"];
    const PROTECTED: bool = true;

    fn reads(&self, _ids: &Ids) -> Vec<Read> {
        let mut out = vec![Read::keyed(
            self.key(),
            Version::V1,
            format!(
                "/applications(uniqueName='{}')?$select=id,appId,displayName,signInAudience,requiredResourceAccess,keyCredentials,passwordCredentials",
                self.unique_name
            ),
        )];
        out.extend(
            self.required_resource_access
                .iter()
                .map(|r| service_principal::read_for(&r.resource_app_id)),
        );
        out
    }

    fn observe(&self, cx: &ObserveContext<'_>) -> Result<Observed, ObserveError> {
        let snap = cx.snap;
        Ok(match snap.object(&self.key()) {
            None => Observed::Unknown,
            Some(None) => Observed::Absent,
            Some(Some(v)) => Observed::Present {
                id: str_of(v, "id").to_string(),
                view: json!({
                    "displayName": v.get("displayName").cloned().unwrap_or(Value::Null),
                    "signInAudience": v.get("signInAudience").cloned().unwrap_or(Value::Null),
                    "requiredResourceAccess": actual_access(v, snap),
                }),
            },
        })
    }

    fn view(&self, _ids: &Ids) -> Value {
        let mut access: Vec<Value> = self
            .required_resource_access
            .iter()
            .map(|r| {
                let mut roles = r.roles.clone();
                roles.sort();
                json!({"resourceAppId": r.resource_app_id.to_ascii_lowercase(), "roles": roles})
            })
            .collect();
        access.sort_by(|a, b| str_of(a, "resourceAppId").cmp(str_of(b, "resourceAppId")));
        json!({
            "displayName": self.display_name,
            "signInAudience": self.sign_in_audience,
            "requiredResourceAccess": access,
        })
    }

    async fn create(&self, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        upsert(self, at, w).await
    }

    /// The same idempotent upsert as the create.
    async fn update(&self, _id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        upsert(self, at, w).await
    }

    async fn delete(&self, id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        crate::graph::write::delete_path(w, at, Version::V1, &format!("applications/{id}")).await
    }
}

/// The application object a credential belongs to (the tenant declares at most one).
pub(crate) fn app_object<'a>(cx: &ObserveContext<'a>) -> Option<&'a Value> {
    cx.tenant.resources.iter().find_map(|x| match &x.spec {
        crate::model::Spec::Application(a) => object(a, cx.snap),
        _ => None,
    })
}
