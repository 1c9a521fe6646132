//! Service principals: the SIEM app's in each customer, first-party APIs where missing.

use serde::Serialize;

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

use serde_json::{Value, json};

use crate::graph::Version;
use crate::model::observe::{Ids, Observed, Read, Snapshot, str_of};

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
pub fn read_for(app_id: &str) -> Read {
    Read::keyed(
        key(app_id),
        Version::V1,
        format!("/servicePrincipals(appId='{app_id}')?$select=id,appId,displayName,appRoles"),
    )
}

pub fn reads(spec: &ServicePrincipalSpec, ids: &Ids) -> Vec<Read> {
    app_id(spec, ids).map(read_for).into_iter().collect()
}

pub fn observe(spec: &ServicePrincipalSpec, snap: &Snapshot, ids: &Ids) -> Observed {
    let Some(app) = app_id(spec, ids) else {
        // The MSSP application does not exist yet: nor can its service principal.
        return Observed::Absent;
    };
    match snap.object(&key(app)) {
        None => Observed::Unknown,
        Some(None) => Observed::Absent,
        Some(Some(v)) => Observed::Present {
            id: str_of(v, "id").to_string(),
            view: json!({}),
        },
    }
}

pub fn view(_spec: &ServicePrincipalSpec) -> Value {
    json!({})
}

use crate::graph::write::{WriteError, Writer, graph_err};

/// Upsert by appId. Right after the application is created, Graph answers
/// `NoBackingApplicationObject` for a while; the writer waits that out.
pub async fn upsert(
    spec: &ServicePrincipalSpec,
    at: &crate::model::Address,
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

pub async fn delete(
    id: &str,
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    crate::graph::write::delete_path(w, at, Version::V1, &format!("servicePrincipals/{id}")).await
}

impl crate::kinds::ResourceKind for ServicePrincipalSpec {
    const NAME: &'static str = "service-principal";
    const READ_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::APP_READ;
    const WRITE_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::APP_WRITE;
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
    /// First-party service principals (WindowsDefenderATP) are never deleted.
    fn prunable(&self) -> bool {
        matches!(self.app, AppRef::Managed { .. })
    }
    async fn create(
        &self,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        upsert(self, at, w).await
    }
    async fn update(
        &self,
        _id: &str,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        upsert(self, at, w).await
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
