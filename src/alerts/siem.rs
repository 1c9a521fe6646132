//! Signing in as the SIEM application itself — never as the tool — in each customer tenant.
//!
//! The SIEM is a different workload from the provisioning tool and must prove that *its own*
//! credentials and grants work, so its client id is the SIEM app's `appId` (read from the tenant
//! that registers it, or given as `MSSP_SIEM_CLIENT_ID`) and its credential comes from
//! `MSSP_SIEM_CLIENT_SECRET`, `MSSP_SIEM_CERTIFICATE_PATH` or `MSSP_SIEM_FEDERATED_TOKEN_FILE`.
//! Under `--sandbox` a short-lived secret is added to the app with `addPassword`, used in
//! memory only, and removed again when the run ends.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use azure_core::credentials::Secret;
use reqwest::Method;
use serde_json::{Value, json};

use super::AlertsError;
use crate::auth::{AuthConfig, AuthMethod, Tokens};
use crate::cloud::{Cloud, CloudProfile};
use crate::graph::{Graph, GraphErrorKind, RetryPolicy, Service, TenantGraph, Version};
use crate::manifest::{NotificationRule, SiemApp, SiemVariant};
use crate::plan::Endpoints;
use crate::session::Session;
use crate::validate::Validated;

/// One SIEM-enabled customer.
#[derive(Debug, Clone)]
pub struct Target {
    /// Manifest name (`metadata.name`).
    pub name: String,
    /// Organization name as customers see it.
    pub display_name: String,
    pub tenant_id: String,
    pub cloud: Cloud,
    pub profile: CloudProfile,
    pub rules: Vec<NotificationRule>,
}

/// The SIEM-enabled customers (optionally only those named), in name order.
pub(crate) fn targets(
    v: &Validated,
    endpoints: &Endpoints,
    only: &[String],
) -> Result<Vec<Target>, AlertsError> {
    let p = &v.provider.doc.spec;
    if p.siem.is_none() {
        return Err(AlertsError::NoSiem);
    }
    for name in only {
        if v.customer(name).is_none() {
            let mut known: Vec<String> = v
                .customers
                .iter()
                .map(|c| c.doc.metadata.name.value.clone())
                .collect();
            known.sort();
            return Err(AlertsError::UnknownCustomer {
                name: name.clone(),
                known: known.join(", "),
            });
        }
    }
    let mut out: Vec<Target> = v
        .customers
        .iter()
        .map(|c| &c.doc)
        .filter(|c| only.is_empty() || only.contains(&c.metadata.name.value))
        .filter(|c| {
            c.spec.siem.enabled && c.spec.lifecycle.state == crate::manifest::LifecycleState::Active
        })
        .map(|c| {
            let cloud = c.spec.cloud.as_ref().map_or(p.cloud, |x| x.value);
            Target {
                name: c.metadata.name.value.clone(),
                display_name: c.spec.display_name.clone(),
                tenant_id: c.spec.tenant_id.value.to_ascii_lowercase(),
                cloud,
                profile: endpoints.profile(cloud),
                rules: c.spec.notifications.clone(),
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The SIEM's credential, from the environment.
#[derive(Debug, Clone)]
pub enum SiemCredential {
    Secret(Secret),
    Certificate(PathBuf),
    Federated(PathBuf),
}

impl SiemCredential {
    /// For the per-customer variant, `MSSP_SIEM_CLIENT_SECRET_<CUSTOMER>` (upper case, `-` → `_`)
    /// is looked at first: each customer's app has its own secret.
    pub(crate) fn from_env(customer: Option<&str>) -> Option<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(c) = customer {
            let suffix = c.to_ascii_uppercase().replace(['-', '.'], "_");
            if let Some(s) = var(&format!("MSSP_SIEM_CLIENT_SECRET_{suffix}")) {
                return Some(Self::Secret(Secret::new(s)));
            }
        }
        if let Some(s) = var("MSSP_SIEM_CLIENT_SECRET") {
            return Some(Self::Secret(Secret::new(s)));
        }
        if let Some(p) = var("MSSP_SIEM_CERTIFICATE_PATH") {
            return Some(Self::Certificate(p.into()));
        }
        var("MSSP_SIEM_FEDERATED_TOKEN_FILE").map(|p| Self::Federated(p.into()))
    }

    fn config(&self, client_id: &str) -> AuthConfig {
        let mut c = AuthConfig {
            client_id: Some(client_id.to_string()),
            ..AuthConfig::default()
        };
        match self {
            Self::Secret(s) => {
                c.method = AuthMethod::Secret;
                c.client_secret = Some(s.clone());
            }
            Self::Certificate(p) => {
                c.method = AuthMethod::Certificate;
                c.certificate_path = Some(p.clone());
            }
            Self::Federated(p) => {
                c.method = AuthMethod::WorkloadIdentity;
                c.federated_token_file = Some(p.clone());
            }
        }
        c
    }
}

/// A temporary secret added under `--sandbox`, removed at the end of the run.
struct Temporary {
    home: TenantGraph,
    app_object_id: String,
    key_id: String,
}

/// Signs in as the SIEM app, once per registering tenant (one for the multi-tenant variant,
/// one per customer for the per-customer variant).
pub struct SiemSignIn<'a> {
    siem: SiemApp,
    provider_tenant: String,
    provider_cloud: Cloud,
    endpoints: Endpoints,
    http: reqwest::Client,
    tool: Option<&'a Session>,
    sandbox: bool,
    retry: RetryPolicy,
    cache: HashMap<String, (Arc<Graph>, String)>,
    temporary: Vec<Temporary>,
}

impl<'a> SiemSignIn<'a> {
    /// `tool` is the provisioning session (needed to look the app up, and under `--sandbox` to
    /// add the temporary secret); without it `MSSP_SIEM_CLIENT_ID` must name the app.
    pub fn new(
        v: &Validated,
        endpoints: Endpoints,
        http: reqwest::Client,
        tool: Option<&'a Session>,
        sandbox: bool,
    ) -> Result<Self, AlertsError> {
        let p = &v.provider.doc.spec;
        let siem = p.siem.clone().ok_or(AlertsError::NoSiem)?;
        Ok(Self {
            siem,
            provider_tenant: p.tenant_id.value.to_ascii_lowercase(),
            provider_cloud: p.cloud,
            endpoints,
            http,
            tool,
            sandbox,
            retry: RetryPolicy::default(),
            cache: HashMap::new(),
            temporary: Vec::new(),
        })
    }

    pub fn variant(&self) -> SiemVariant {
        self.siem.variant
    }

    /// The SIEM app's client id in the tenant that registers it for `t`.
    pub fn client_id(&self, t: &Target) -> Option<&str> {
        self.cache
            .get(&self.home_of(t).0)
            .map(|(_, id)| id.as_str())
    }

    fn home_of(&self, t: &Target) -> (String, Cloud) {
        match self.siem.variant {
            SiemVariant::MultiTenant => (self.provider_tenant.clone(), self.provider_cloud),
            SiemVariant::PerCustomer => (t.tenant_id.clone(), t.cloud),
        }
    }

    /// A client for `t`'s tenant authenticated as the SIEM app.
    pub async fn tenant(&mut self, t: &Target) -> Result<TenantGraph, AlertsError> {
        let (home, cloud) = self.home_of(t);
        if !self.cache.contains_key(&home) {
            let built = self.build(t, &home, cloud).await?;
            self.cache.insert(home.clone(), built);
        }
        let (graph, _) = self
            .cache
            .get(&home)
            .ok_or_else(|| AlertsError::Internal("sign-in cache".into()))?;
        Ok(graph.tenant(&t.tenant_id, t.profile.clone()))
    }

    async fn build(
        &mut self,
        t: &Target,
        home: &str,
        cloud: Cloud,
    ) -> Result<(Arc<Graph>, String), AlertsError> {
        let per_customer = self.siem.variant == SiemVariant::PerCustomer;
        let env_id = std::env::var("MSSP_SIEM_CLIENT_ID")
            .ok()
            .filter(|v| !v.is_empty() && !per_customer && !self.sandbox);
        let home_tg = self
            .tool
            .map(|s| s.graph.tenant(home, self.endpoints.profile(cloud)));
        let (object_id, client_id) = match (env_id, &home_tg) {
            (Some(id), _) => (None, id),
            (None, Some(tg)) => {
                let path = format!(
                    "applications(uniqueName='{}')?$select=id,appId",
                    self.siem.unique_name.value
                );
                let app = tg
                    .get_opt(Service::Graph(Version::V1), &path)
                    .await
                    .map_err(|e| AlertsError::graph(&t.name, e))?
                    .ok_or_else(|| AlertsError::AppMissing {
                        unique_name: self.siem.unique_name.value.clone(),
                        tenant: home.to_string(),
                    })?;
                let s = |k: &str| app.get(k).and_then(Value::as_str).map(str::to_string);
                match (s("id"), s("appId")) {
                    (Some(id), Some(app_id)) => (Some(id), app_id),
                    _ => return Err(AlertsError::Internal("application without appId".into())),
                }
            }
            (None, None) => return Err(AlertsError::NoClientId),
        };
        let credential = if self.sandbox {
            let (Some(tg), Some(oid)) = (home_tg, object_id) else {
                return Err(AlertsError::Internal(
                    "the sandbox needs the tool's session".into(),
                ));
            };
            let secret = self.temporary_secret(tg, &oid, &t.name).await?;
            SiemCredential::Secret(secret)
        } else {
            SiemCredential::from_env(per_customer.then_some(t.name.as_str()))
                .ok_or(AlertsError::NoCredential)?
        };
        let tokens = Arc::new(Tokens::new(
            credential.config(&client_id),
            self.http.clone(),
        ));
        Ok((
            Arc::new(Graph::new(self.http.clone(), tokens, self.retry.clone())),
            client_id,
        ))
    }

    async fn temporary_secret(
        &mut self,
        home: TenantGraph,
        app_object_id: &str,
        customer: &str,
    ) -> Result<Secret, AlertsError> {
        let end = jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_hours(1))
            .map_err(|e| AlertsError::Internal(e.to_string()))?;
        let body = json!({"passwordCredential": {
            "displayName": "mssp alerts (sandbox, temporary)", "endDateTime": end.to_string()}});
        let answer = home
            .send(
                Service::Graph(Version::V1),
                Method::POST,
                &format!("applications/{app_object_id}/addPassword"),
                Some(&body),
                &[],
            )
            .await
            .map_err(|e| AlertsError::graph(customer, e))?;
        let body = answer.body.unwrap_or(Value::Null);
        let secret = body
            .get("secretText")
            .and_then(Value::as_str)
            .ok_or_else(|| AlertsError::Internal("addPassword answered without a secret".into()))?;
        let key_id = body
            .get("keyId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        self.temporary.push(Temporary {
            home,
            app_object_id: app_object_id.to_string(),
            key_id,
        });
        Ok(Secret::new(secret.to_string()))
    }

    /// Removes the temporary sandbox secrets (best effort: they expire within the hour anyway).
    pub async fn finish(self) {
        for t in self.temporary {
            let body = json!({"keyId": t.key_id});
            if let Err(e) = t
                .home
                .send(
                    Service::Graph(Version::V1),
                    Method::POST,
                    &format!("applications/{}/removePassword", t.app_object_id),
                    Some(&body),
                    &[],
                )
                .await
            {
                tracing::warn!(error = %e, "could not remove the temporary SIEM secret");
            }
        }
    }
}

/// Turns a failure of the SIEM's own request into an error that names what is missing.
pub fn explain(
    customer: &str,
    tenant: &str,
    role: &str,
    e: crate::graph::GraphError,
) -> AlertsError {
    match &e.kind {
        GraphErrorKind::Status { status: 403, .. } => AlertsError::MissingGrant {
            role: role.to_string(),
            customer: customer.to_string(),
            tenant: tenant.to_string(),
            detail: e.to_string(),
        },
        GraphErrorKind::Auth(msg) if msg.contains("7000229") => AlertsError::NoConsent {
            customer: customer.to_string(),
            tenant: tenant.to_string(),
            detail: msg.clone(),
        },
        GraphErrorKind::Auth(msg) if msg.contains("500011") => AlertsError::NoDefender {
            customer: customer.to_string(),
            tenant: tenant.to_string(),
        },
        _ => AlertsError::graph(customer, e),
    }
}
