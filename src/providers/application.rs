//! The SIEM application registration (upsert by `uniqueName`) and its credentials.

use serde::Serialize;

use super::Address;

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

impl ApplicationSpec {
    pub const FIELDS: &'static [&'static str] =
        &["displayName", "signInAudience", "requiredResourceAccess"];
}

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
    pub const FIELDS: &'static [&'static str] = &["issuer", "subject", "audiences"];
}

/// A certificate's public key. Natural key: (application, certificate thumbprint).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyCredentialSpec {
    pub application: Address,
    pub path: std::path::PathBuf,
    pub display_name: String,
}

impl KeyCredentialSpec {
    pub const FIELDS: &'static [&'static str] = &[];
}

/// A client secret. Natural key: (application, `displayName`). Its value only goes to `sink`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordCredentialSpec {
    pub application: Address,
    pub display_name: String,
    pub validity: String,
    pub sink: crate::manifest::SecretSink,
}

impl PasswordCredentialSpec {
    pub const FIELDS: &'static [&'static str] = &[];
}
