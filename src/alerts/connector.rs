//! `mssp siem config`: per-customer connector configuration in the format each SIEM's own
//! Microsoft integration accepts, rendered from tera templates (`src/alerts/templates/siem/`,
//! overridable with `--templates DIR`):
//!
//! - Splunk: `inputs.conf` stanzas of the Splunk Add-on for Microsoft Security
//!   (`Splunk_TA_MS_Security`), plus the account values to enter on its Configuration page;
//! - Elastic: a Fleet package policy (simplified API format) for the `m365_defender` integration;
//! - Sentinel: an ARM template deploying a Codeless Connector Framework connector (custom table,
//!   data collection endpoint and rule, connector definition, `RestApiPoller` connection);
//! - generic: a neutral JSON description.
//!
//! Endpoints come from the customer's cloud ([`crate::cloud`]); the credential appears only as
//! a *reference* (an environment variable name, an ARM `securestring` parameter, a Key Vault
//! secret URI), never a value: the tool does not know the value, and a config file is the wrong
//! place for it anyway. A SIEM that cannot use any of the app's credential kinds (all three
//! integrations take a client secret only) is refused, naming what it accepts.

use std::path::Path;

use serde_json::{Value, json};

use super::AlertsError;
use super::siem::Target;
use crate::cloud::Cloud;
use crate::manifest::{Credential, SecretSink, SiemApp, SiemVariant};

/// The SIEM products a configuration can be rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Splunk Add-on for Microsoft Security: `inputs.conf` stanzas and the account to create.
    Splunk,
    /// Elastic `m365_defender` integration: Fleet package policy JSON.
    Elastic,
    /// Microsoft Sentinel Codeless Connector Framework: ARM template (table, DCE, DCR,
    /// connector definition, RestApiPoller).
    Sentinel,
    /// A neutral JSON description (client id, tenant, endpoints, scopes, secret reference).
    Generic,
}

/// The `m365_defender` package version whose variables the Elastic policy was checked against
/// (elastic/integrations `packages/m365_defender/manifest.yml`).
pub(crate) const ELASTIC_PACKAGE_VERSION: &str = "2.14.2";

impl Format {
    pub fn template(self) -> &'static str {
        match self {
            Format::Splunk => "splunk.conf",
            Format::Elastic => "elastic.json",
            Format::Sentinel => "sentinel.json",
            Format::Generic => "generic.json",
        }
    }

    pub(crate) fn extension(self) -> &'static str {
        match self {
            Format::Splunk => "conf",
            Format::Elastic | Format::Sentinel | Format::Generic => "json",
        }
    }

    fn product(self) -> &'static str {
        match self {
            Format::Splunk => "Splunk (Splunk Add-on for Microsoft Security)",
            Format::Elastic => "Elastic (m365_defender integration)",
            Format::Sentinel => "Microsoft Sentinel (Codeless Connector Framework, OAuth2)",
            Format::Generic => "generic",
        }
    }

    /// Whether the SIEM's integration can authenticate with this kind of credential.
    fn accepts(self, kind: Kind) -> bool {
        match self {
            // The add-on's account, the package's `client_secret` variable and the CCF's OAuth2
            // `ClientSecret` are all client-secret only ("CCF OAuth2 implementation doesn't
            // support client certificate credentials", RestApiPoller reference).
            Format::Splunk | Format::Elastic | Format::Sentinel => kind == Kind::Secret,
            Format::Generic => true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Secret,
    Certificate,
    Federated,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Secret => "secret",
            Kind::Certificate => "certificate",
            Kind::Federated => "federated",
        }
    }
}

fn kind(c: &Credential) -> Kind {
    match c {
        Credential::Certificate(_) => Kind::Certificate,
        Credential::Federated(_) => Kind::Federated,
        Credential::Secret(_) => Kind::Secret,
    }
}

const BUILTIN: &[(&str, &str)] = &[
    (
        "splunk.conf",
        include_str!("templates/siem/splunk.conf.tera"),
    ),
    (
        "elastic.json",
        include_str!("templates/siem/elastic.json.tera"),
    ),
    (
        "sentinel.json",
        include_str!("templates/siem/sentinel.json.tera"),
    ),
    (
        "generic.json",
        include_str!("templates/siem/generic.json.tera"),
    ),
];

/// The environment variable holding the SIEM app's secret for `customer`.
fn secret_env(siem: &SiemApp, customer: &str) -> String {
    if siem.variant == SiemVariant::PerCustomer {
        format!(
            "MSSP_SIEM_CLIENT_SECRET_{}",
            customer.to_ascii_uppercase().replace(['-', '.'], "_")
        )
    } else {
        "MSSP_SIEM_CLIENT_SECRET".to_string()
    }
}

/// How the SIEM authenticates, as a reference: the first credential of the manifest that the
/// SIEM can use. Without any credential in the manifest (a secret added by hand) a secret is
/// assumed, as `mssp alerts` does.
fn credential(siem: &SiemApp, customer: &str, format: Format) -> Result<Value, AlertsError> {
    let env = secret_env(siem, customer);
    let secret = |c: Option<&Credential>| {
        let mut v = json!({"kind": "secret", "env": env, "reference": format!("${{{env}}}")});
        if let Some(Credential::Secret(s)) = c
            && let SecretSink::KeyVault(kv) = &s.sink
        {
            v["key_vault_secret_uri"] = json!(format!(
                "{}/secrets/{}",
                kv.vault_url.value.trim_end_matches('/'),
                kv.secret_name
            ));
        }
        v
    };
    if siem.credentials.is_empty() {
        return Ok(secret(None));
    }
    let usable = siem
        .credentials
        .iter()
        .map(|c| &c.value)
        .find(|c| format.accepts(kind(c)));
    match usable {
        Some(c @ Credential::Secret(_)) => Ok(secret(Some(c))),
        Some(Credential::Certificate(_)) => Ok(json!({
            "kind": "certificate", "env": "MSSP_SIEM_CERTIFICATE_PATH",
            "reference": "${MSSP_SIEM_CERTIFICATE_PATH}"})),
        Some(Credential::Federated(_)) => Ok(json!({
            "kind": "federated", "env": "MSSP_SIEM_FEDERATED_TOKEN_FILE",
            "reference": "${MSSP_SIEM_FEDERATED_TOKEN_FILE}"})),
        None => {
            let mut have: Vec<&str> = siem
                .credentials
                .iter()
                .map(|c| kind(&c.value).name())
                .collect();
            have.dedup();
            Err(AlertsError::CredentialNotAccepted {
                siem: format.product(),
                have: have.join(", "),
                accepts: "a client secret",
            })
        }
    }
}

/// The add-on's `environment` value for Graph-based inputs in `cloud` (Splunk_TA_MS_Security,
/// `urls_by_environment`: `commercial-graph-api` serves commercial and GCC, `gcc-high-graph-api`
/// GCC High; there is none for DoD or 21Vianet).
fn splunk_environment(cloud: Cloud) -> Option<&'static str> {
    match cloud {
        Cloud::Public | Cloud::Gcc => Some("commercial-graph-api"),
        Cloud::GccHigh => Some("gcc-high-graph-api"),
        Cloud::Dod | Cloud::China => None,
    }
}

/// The add-on's `location` value for the Defender for Endpoint alerts input: the host of the
/// cloud's Defender API, when the add-on knows it (`urls_by_location`).
fn splunk_location(cloud: Cloud) -> Option<&'static str> {
    match cloud {
        Cloud::Public => Some("api.securitycenter.microsoft.com"),
        Cloud::Gcc => Some("api-gcc.securitycenter.microsoft.us"),
        Cloud::GccHigh => Some("api-gov.securitycenter.microsoft.us"),
        Cloud::Dod | Cloud::China => None,
    }
}

/// Refuses what a SIEM cannot collect for this customer, so no half-working file is written.
fn check(siem: &SiemApp, t: &Target, format: Format) -> Result<(), AlertsError> {
    let incidents = has_incidents(siem);
    let defender_alerts = siem
        .permissions
        .defender
        .iter()
        .any(|r| r.value == "Alert.Read.All" || r.value == "Alert.ReadWrite.All");
    match format {
        Format::Splunk => {
            if splunk_environment(t.cloud).is_none() {
                return Err(AlertsError::CloudNotSupported {
                    siem: format.product(),
                    customer: t.name.clone(),
                    cloud: t.cloud.name(),
                    supported: "public, gcc, gccHigh",
                });
            }
            if !incidents && !defender_alerts {
                return Err(AlertsError::NothingToCollect {
                    siem: format.product(),
                    why: "its inputs read incidents with their alerts (Graph SecurityIncident.Read.All) or Defender for Endpoint alerts (WindowsDefenderATP Alert.Read.All); add one to siem.permissions".into(),
                });
            }
        }
        Format::Elastic | Format::Sentinel | Format::Generic => {}
    }
    Ok(())
}

fn has_incidents(siem: &SiemApp) -> bool {
    siem.permissions
        .graph
        .iter()
        .any(|r| r.value.starts_with("SecurityIncident."))
}

/// A name usable in identifiers of the SIEM: letters, digits and `_` only (Elastic namespaces
/// and Sentinel resource names each forbid some of `-`, `.`).
fn ident(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The template context of one customer.
pub(crate) fn context(
    siem: &SiemApp,
    t: &Target,
    client_id: &str,
    format: Format,
) -> Result<Value, AlertsError> {
    check(siem, t, format)?;
    // The documented hosts of the customer's cloud: the SIEM talks to Microsoft, not to
    // whatever endpoint override this run uses.
    let p = t.cloud.profile();
    let graph_scope = format!("{}/.default", p.graph_audience);
    let per_customer = siem.variant == SiemVariant::PerCustomer;
    let defender_alerts = siem
        .permissions
        .defender
        .iter()
        .any(|r| r.value == "Alert.Read.All" || r.value == "Alert.ReadWrite.All");
    Ok(json!({
        "customer": {"name": t.name, "display_name": t.display_name, "tenant_id": t.tenant_id,
                     "cloud": t.cloud.name(), "ident": ident(&t.name)},
        "app": {"client_id": client_id, "unique_name": siem.unique_name.value, "display_name": siem.display_name,
                "variant": if per_customer { "perCustomer" } else { "multiTenant" }},
        "credential": credential(siem, &t.name, format)?,
        "endpoints": {
            "login": p.login,
            "token_url": format!("{}/{}/oauth2/v2.0/token", p.login, t.tenant_id),
            "graph": p.graph,
            "graph_scope": graph_scope,
            "alerts_url": format!("{}/v1.0/security/alerts_v2", p.graph),
            "incidents_url": has_incidents(siem).then(|| format!("{}/v1.0/security/incidents", p.graph)),
            "defender": p.defender,
            "defender_scope": p.defender_audience.as_ref().map(|a| format!("{a}/.default")),
            "defender_alerts_url": p.defender.as_ref().map(|d| format!("{d}/api/alerts")),
            "portal": p.portal_link(&t.tenant_id),
        },
        "splunk": {
            // One add-on account per app: the multi-tenant app serves every customer.
            "account": if per_customer { format!("{}-{}", siem.unique_name.value, t.name) } else { siem.unique_name.value.clone() },
            "environment": splunk_environment(t.cloud),
            "incidents": has_incidents(siem),
            "atp_location": if defender_alerts { splunk_location(t.cloud) } else { None },
        },
        "elastic": {"package_version": ELASTIC_PACKAGE_VERSION, "incidents": has_incidents(siem)},
        "index": "mssp_alerts",
    }))
}

/// Renders `format` for each `(target, client id)`.
pub fn render(
    siem: &SiemApp,
    targets: &[(Target, String)],
    format: Format,
    overrides: Option<&Path>,
) -> Result<Vec<(String, String)>, AlertsError> {
    let tera = super::templates::load(BUILTIN, overrides)?;
    targets
        .iter()
        .map(|(t, id)| {
            let ctx = context(siem, t, id, format)?;
            let text = super::templates::render(&tera, format.template(), &ctx)?;
            if format.extension() == "json" {
                // A template edit that breaks the JSON should fail here, not in the SIEM.
                serde_json::from_str::<Value>(&text).map_err(|e| AlertsError::Template {
                    name: format.template().into(),
                    why: format!("did not render valid JSON for {}: {e}", t.name),
                })?;
            }
            Ok((t.name.clone(), text))
        })
        .collect()
}
