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
