//! Service principals: the SIEM app's in each customer, first-party APIs where missing.

use serde::Serialize;
use serde_json::{Value, json};

use crate::graph::Version;
use crate::graph::write::{WriteError, Writer, graph_err};
use crate::kinds::{ObserveContext, Permissions, ResourceKind, perms};
use crate::model::observe::{Ids, Observed, Read, str_of};
use crate::model::{Address, ObserveError};

/// Natural key: `appId` (one service principal per application per tenant).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipalSpec {
    pub app: AppRef,
}

/// Which application a service principal instantiates.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AppRef {
    /// The MSSP's own application; its `appId` is read from the MSSP tenant at run time.
    Managed { unique_name: String },
    /// A Microsoft first-party API such as WindowsDefenderATP.
    FirstParty { app_id: String, name: String },
}

/// The appId this service principal instantiates, if known yet.
pub fn app_id<'a>(spec: &'a ServicePrincipalSpec, ids: &'a Ids) -> Option<&'a str> {
    match &spec.app {
        AppRef::Managed { .. } => ids.siem_app_id.as_deref(),
        AppRef::FirstParty { app_id, .. } => Some(app_id),
    }
}

pub fn key(app_id: &str) -> String {
    format!("service-principal:{}", app_id.to_ascii_lowercase())
}

/// Reads a service principal by appId, with its app roles (to resolve role ids).
pub(crate) fn read_for(app_id: &str) -> Read {
    Read::keyed(
        key(app_id),
        Version::V1,
        format!("/servicePrincipals(appId='{app_id}')?$select=id,appId,displayName,appRoles"),
    )
}

/// Upsert by appId. Right after the application is created, Graph answers
/// `NoBackingApplicationObject` for a while; the writer waits that out.
pub(crate) async fn upsert(
    spec: &ServicePrincipalSpec,
    at: &Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    let ids = w.ids();
    let app = app_id(spec, &ids).map(str::to_string).ok_or_else(|| {
        WriteError::new(
            at,
            "the SIEM application does not exist in the MSSP tenant yet",
        )
    })?;
    let path = format!("servicePrincipals(appId='{app}')");
    let id = crate::graph::write::upsert_keyed(w, at, &path, &json!({}))
        .await
        .map_err(|e| match (&spec.app, e.status()) {
            (AppRef::FirstParty { name, .. }, Some(400)) => WriteError::new(
                at,
                format!("{name} cannot be added to this tenant ({e}); does the tenant have a Microsoft Defender for Endpoint licence?"),
            ),
            _ => graph_err(at)(e),
        })?;
    w.set_id(at, &id);
    Ok(())
}

impl ResourceKind for ServicePrincipalSpec {
    const NAME: &'static str = "service-principal";
    const READ_PERMISSIONS: Permissions = perms::APP_READ;
    const WRITE_PERMISSIONS: Permissions = perms::APP_WRITE;
    const PROTECTED: bool = true;

    fn reads(&self, ids: &Ids) -> Vec<Read> {
        app_id(self, ids).map(read_for).into_iter().collect()
    }

    fn observe(&self, cx: &ObserveContext<'_>) -> Result<Observed, ObserveError> {
        let Some(app) = app_id(self, cx.ids) else {
            // The MSSP application does not exist yet: nor can its service principal.
            return Ok(Observed::Absent);
        };
        Ok(match cx.snap.object(&key(app)) {
            None => Observed::Unknown,
            Some(None) => Observed::Absent,
            Some(Some(v)) => Observed::Present {
                id: str_of(v, "id").to_string(),
                view: json!({}),
            },
        })
    }

    fn view(&self, _ids: &Ids) -> Value {
        json!({})
    }

    /// First-party service principals (WindowsDefenderATP) are never deleted.
    fn prunable(&self) -> bool {
        matches!(self.app, AppRef::Managed { .. })
    }

    async fn create(&self, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        upsert(self, at, w).await
    }

    /// The same idempotent upsert as the create.
    async fn update(&self, _id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        upsert(self, at, w).await
    }

    async fn delete(&self, id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        crate::graph::write::delete_path(w, at, Version::V1, &format!("servicePrincipals/{id}"))
            .await
    }
}
