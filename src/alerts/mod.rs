//! Alerts through the SIEM application: `mssp alerts fetch` (NDJSON for a SIEM), `mssp alerts
//! notify` (the manifests' notification rules delivered by SMTP or webhook), connector
//! configurations for common SIEMs, and the post-apply check that the SIEM app really reads
//! alerts in every customer tenant.
//!
//! Everything here authenticates as the SIEM app ([`siem`]), never as the provisioning tool:
//! the point is to prove that the grants the tool applied are the ones the SIEM needs.
//! Positions are kept in a state file ([`state`]) so runs resume without loss or duplicates.

pub mod connector;
pub mod fetch;
pub mod notify;
pub mod output;
pub mod siem;
pub mod state;
pub mod templates;
pub mod verify;

use std::path::PathBuf;

/// What can go wrong fetching or delivering alerts, with the context to act on it.
#[derive(Debug, thiserror::Error)]
pub enum AlertsError {
    #[error(
        "the provider manifest has no `siem` block: there is no SIEM application to sign in as"
    )]
    NoSiem,
    #[error("unknown customer {name:?}; the manifests define: {known}")]
    UnknownCustomer { name: String, known: String },
    #[error(
        "the SIEM application {unique_name:?} does not exist in tenant {tenant}: run `mssp apply` first"
    )]
    AppMissing { unique_name: String, tenant: String },
    #[error(
        "the SIEM application's client id is unknown: set MSSP_SIEM_CLIENT_ID, or provide the tool's credentials (AZURE_*) so it can be read from the MSSP tenant"
    )]
    NoClientId,
    #[error(
        "no SIEM credential: set MSSP_SIEM_CLIENT_SECRET, MSSP_SIEM_CERTIFICATE_PATH or MSSP_SIEM_FEDERATED_TOKEN_FILE (the SIEM app's own credential, not the tool's)"
    )]
    NoCredential,
    #[error(
        "{customer}: {role} not granted in tenant {tenant} (admin consent missing for the SIEM app; run `mssp apply`): {detail}"
    )]
    MissingGrant {
        role: String,
        customer: String,
        tenant: String,
        detail: String,
    },
    #[error(
        "{customer}: the SIEM app has no service principal in tenant {tenant} (not consented there; run `mssp apply`): {detail}"
    )]
    NoConsent {
        customer: String,
        tenant: String,
        detail: String,
    },
    #[error(
        "{customer}: tenant {tenant} has no WindowsDefenderATP service principal (no Defender for Endpoint licence?); the Defender API cannot be read there"
    )]
    NoDefender { customer: String, tenant: String },
    #[error("{customer}: {source}")]
    Graph {
        customer: String,
        #[source]
        source: crate::graph::GraphError,
    },
    #[error("state file {path}: {why}")]
    State { path: PathBuf, why: String },
    #[error(
        "state file {path} is in use by another `mssp alerts` run (lock {path}.lock); nothing was fetched or sent. Let that run finish, or give this one its own --state"
    )]
    StateLocked { path: PathBuf },
    #[error("output {path}: {why}")]
    Output { path: PathBuf, why: String },
    #[error("template {name}: {why}")]
    Template { name: String, why: String },
    #[error("{0}")]
    Delivery(String),
    #[error("--since {value:?} is not an RFC 3339 timestamp: {why}")]
    Since { value: String, why: String },
    #[error(
        "{customer}: the service sent a paging link to {host:?}, not to the host the request went to; it was not followed (the SIEM app's token only goes to the service it was issued for)"
    )]
    ForeignLink { customer: String, host: String },
    #[error(
        "{customer}: {stream}: still full pages after {pages} requests; stopped without moving the position (the next run resumes)"
    )]
    TooManyPages {
        customer: String,
        stream: &'static str,
        pages: usize,
    },
    #[error(
        "{siem} cannot use the SIEM app's credentials ({have}): it accepts {accepts} only; add a `secret` credential to the provider's siem.credentials (its value goes to the sink), or use --format generic"
    )]
    CredentialNotAccepted {
        siem: &'static str,
        have: String,
        accepts: &'static str,
    },
    #[error(
        "{siem} has no endpoint setting for customer {customer}'s cloud {cloud}; it supports: {supported}"
    )]
    CloudNotSupported {
        siem: &'static str,
        customer: String,
        cloud: &'static str,
        supported: &'static str,
    },
    #[error("{siem} would collect nothing: {why}")]
    NothingToCollect { siem: &'static str, why: String },
    #[error("internal error: {0}")]
    Internal(String),
}

impl AlertsError {
    pub fn graph(customer: &str, source: crate::graph::GraphError) -> Self {
        Self::Graph {
            customer: customer.to_string(),
            source,
        }
    }
}
