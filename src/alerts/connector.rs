//! `mssp siem config`: per-customer connector configuration for common SIEMs, rendered from
//! tera templates (`src/alerts/templates/siem/`, overridable with `--templates DIR`).
//!
//! Endpoints come from the customer's cloud ([`crate::cloud`]); the credential appears only as
//! a *reference* (an environment variable placeholder or a Key Vault secret URI), never a value:
//! the tool does not know the value, and a config file is the wrong place for it anyway.

use std::path::Path;

use serde_json::{Value, json};

use super::AlertsError;
use super::siem::Target;
use crate::manifest::{Credential, SecretSink, SiemApp, SiemVariant};

/// The SIEM products a configuration can be rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Splunk Add-on for Microsoft Security (`inputs.conf`-style account and inputs).
    Splunk,
    /// Filebeat `httpjson` input polling alerts_v2.
    Elastic,
    /// Microsoft Sentinel codeless connector (RestApiPoller) definition.
    Sentinel,
    /// A neutral JSON description (client id, tenant, endpoints, scopes, secret reference).
    Generic,
}

impl Format {
    pub fn template(self) -> &'static str {
        match self {
            Format::Splunk => "splunk.conf",
            Format::Elastic => "elastic.yml",
            Format::Sentinel => "sentinel.json",
            Format::Generic => "generic.json",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Splunk => "conf",
            Format::Elastic => "yml",
            Format::Sentinel | Format::Generic => "json",
        }
    }
}

const BUILTIN: &[(&str, &str)] = &[
    (
        "splunk.conf",
        include_str!("templates/siem/splunk.conf.tera"),
    ),
    (
        "elastic.yml",
        include_str!("templates/siem/elastic.yml.tera"),
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

/// How the SIEM authenticates, as a reference: the first credential of the manifest wins.
fn credential(siem: &SiemApp, customer: &str) -> Value {
    let per_customer = siem.variant == SiemVariant::PerCustomer;
    let secret_env = if per_customer {
        format!(
            "${{MSSP_SIEM_CLIENT_SECRET_{}}}",
            customer.to_ascii_uppercase().replace(['-', '.'], "_")
        )
    } else {
        "${MSSP_SIEM_CLIENT_SECRET}".to_string()
    };
    match siem.credentials.first().map(|c| &c.value) {
        Some(Credential::Certificate(_)) => json!({
            "kind": "certificate", "reference": "${MSSP_SIEM_CERTIFICATE_PATH}"}),
        Some(Credential::Federated(_)) => json!({
            "kind": "federated", "reference": "${MSSP_SIEM_FEDERATED_TOKEN_FILE}"}),
        Some(Credential::Secret(s)) => match &s.sink {
            SecretSink::KeyVault(kv) => json!({
                "kind": "secret", "reference": secret_env,
                "key_vault_secret_uri": format!("{}/secrets/{}", kv.vault_url.value.trim_end_matches('/'), kv.secret_name),
            }),
            SecretSink::File(_) => json!({"kind": "secret", "reference": secret_env}),
        },
        None => json!({"kind": "secret", "reference": secret_env}),
    }
}

/// The template context of one customer.
pub fn context(siem: &SiemApp, t: &Target, client_id: &str) -> Value {
    // The documented hosts of the customer's cloud: the SIEM talks to Microsoft, not to
    // whatever endpoint override this run uses.
    let p = t.cloud.profile();
    let graph_scope = format!("{}/.default", p.graph_audience);
    json!({
        "customer": {"name": t.name, "display_name": t.display_name, "tenant_id": t.tenant_id, "cloud": t.cloud.name()},
        "app": {"client_id": client_id, "unique_name": siem.unique_name.value, "display_name": siem.display_name,
                "variant": match siem.variant { SiemVariant::MultiTenant => "multiTenant", SiemVariant::PerCustomer => "perCustomer" }},
        "credential": credential(siem, &t.name),
        "endpoints": {
            "login": p.login,
            "token_url": format!("{}/{}/oauth2/v2.0/token", p.login, t.tenant_id),
            "graph": p.graph,
            "graph_scope": graph_scope,
            "alerts_url": format!("{}/v1.0/security/alerts_v2", p.graph),
            "incidents_url": siem.permissions.graph.iter().any(|r| r.value.starts_with("SecurityIncident."))
                .then(|| format!("{}/v1.0/security/incidents", p.graph)),
            "defender": p.defender,
            "defender_scope": p.defender_audience.as_ref().map(|a| format!("{a}/.default")),
            "defender_alerts_url": p.defender.as_ref().map(|d| format!("{d}/api/alerts")),
            "portal": p.portal_link(&t.tenant_id),
        },
        "index": "mssp_alerts",
    })
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
            let text = super::templates::render(&tera, format.template(), &context(siem, t, id))?;
            if matches!(format, Format::Sentinel | Format::Generic) {
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
