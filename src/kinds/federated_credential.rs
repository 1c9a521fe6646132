//! Federated identity credentials of the SIEM application (workload identity federation).

use serde::Serialize;
use serde_json::{Value, json};

use super::application::app_key;
use crate::graph::Version;
use crate::graph::write::{WriteError, Writer};
use crate::kinds::{ObserveContext, Permissions, ResourceKind, perms, present};
use crate::model::observe::{Ids, Observed, Read, str_of};
use crate::model::{Address, ObserveError};

/// A federated identity credential. Natural key: (application, `name`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FederatedCredentialSpec {
    pub application: Address,
    pub name: String,
    pub issuer: String,
    pub subject: String,
    pub audiences: Vec<String>,
}

impl FederatedCredentialSpec {
    fn body(&self) -> Value {
        let mut v = self.view(&Ids::default());
        v["name"] = json!(self.name);
        v
    }
}

impl ResourceKind for FederatedCredentialSpec {
    const NAME: &'static str = "federated-credential";
    const READ_PERMISSIONS: Permissions = perms::APP_READ;
    const WRITE_PERMISSIONS: Permissions = perms::APP_WRITE;
    const FIELDS: &'static [&'static str] = &["issuer", "subject", "audiences"];

    fn reads(&self, ids: &Ids) -> Vec<Read> {
        let (Some(app), Some(k)) = (ids.of(&self.application), app_key(&self.application, ids))
        else {
            return vec![];
        };
        vec![Read::list(
            k,
            Version::V1,
            format!("/applications/{app}/federatedIdentityCredentials"),
        )]
    }

    fn observe(&self, cx: &ObserveContext<'_>) -> Result<Observed, ObserveError> {
        let Some(k) = app_key(&self.application, cx.ids) else {
            return Ok(Observed::Absent);
        };
        let Some(items) = cx.snap.items(&k) else {
            return Ok(Observed::Unknown);
        };
        let found = items.iter().find(|f| str_of(f, "name") == self.name);
        Ok(present(found, |f| {
            json!({
                "issuer": f.get("issuer").cloned().unwrap_or(Value::Null),
                "subject": f.get("subject").cloned().unwrap_or(Value::Null),
                "audiences": f.get("audiences").cloned().unwrap_or(Value::Null),
            })
        }))
    }

    fn view(&self, _ids: &Ids) -> Value {
        json!({"issuer": self.issuer, "subject": self.subject, "audiences": self.audiences})
    }

    async fn create(&self, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        let app = w.id_of(at, &self.application)?;
        let path = format!("applications/{app}/federatedIdentityCredentials");
        let id = crate::graph::write::create_recovering(
            w,
            at,
            Version::V1,
            &path,
            &self.body(),
            || async {
                let items = w
                    .list(at, crate::graph::Service::Graph(Version::V1), &path)
                    .await?;
                Ok(items
                    .iter()
                    .find(|f| str_of(f, "name") == self.name)
                    .map(|f| str_of(f, "id").to_string()))
            },
        )
        .await?;
        w.set_id(at, &id);
        Ok(())
    }

    async fn update(&self, id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        let app = w.id_of(at, &self.application)?;
        crate::graph::write::patch_path(
            w,
            at,
            Version::V1,
            &format!("applications/{app}/federatedIdentityCredentials/{id}"),
            &self.view(&w.ids()),
        )
        .await
    }
}
