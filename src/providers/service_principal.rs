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

impl ServicePrincipalSpec {
    pub const FIELDS: &'static [&'static str] = &[];
}

use serde_json::{Value, json};

use super::graph_map::{Ids, Observed, Read, Snapshot, str_of};
use crate::graph::Version;

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

use crate::apply::writer::{ApplyError, Writer, graph_err};

/// Upsert by appId. Right after the application is created, Graph answers
/// `NoBackingApplicationObject` for a while; the writer waits that out.
pub async fn upsert(
    spec: &ServicePrincipalSpec,
    at: &super::Address,
    w: &Writer<'_>,
) -> Result<(), ApplyError> {
    let ids = w.ids();
    let app = app_id(spec, &ids).map(str::to_string).ok_or_else(|| {
        ApplyError::new(
            at,
            "the SIEM application does not exist in the MSSP tenant yet",
        )
    })?;
    let path = format!("servicePrincipals(appId='{app}')");
    let id = super::upsert_keyed(w, at, &path, &json!({}))
        .await
        .map_err(|e| match (&spec.app, e.status()) {
            (AppRef::FirstParty { name, .. }, Some(400)) => ApplyError::new(
                at,
                format!("{name} cannot be added to this tenant ({e}); does the tenant have a Microsoft Defender for Endpoint licence?"),
            ),
            _ => graph_err(at)(e),
        })?;
    w.set_id(at, &id);
    Ok(())
}

pub async fn delete(id: &str, at: &super::Address, w: &Writer<'_>) -> Result<(), ApplyError> {
    super::delete_path(w, at, Version::V1, &format!("servicePrincipals/{id}")).await
}
