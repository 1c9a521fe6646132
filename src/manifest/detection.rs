//! The provider's detection library: custom detection rules (KQL in `.kql` files beside the
//! manifest) and which customers get each one.

use std::collections::BTreeMap;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Loc;

/// One custom detection rule of the library.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DetectionRule {
    /// Key of the rule in the library (lowercase letters, digits, `-`). Exceptions name it as
    /// `detection-rule/<name>`; the rule's id in each tenant is `<prefix>-<name>`.
    pub name: Loc<String>,
    /// The rule's name in Defender; the tool writes it as `[<prefix>] <displayName>`, which is
    /// how it recognises its own rules (rules without the prefix are never touched).
    pub display_name: Loc<String>,
    /// What the rule looks for, shown in the Defender portal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The KQL query: a `.kql` file, relative to this manifest file.
    pub query_file: Loc<String>,
    /// How often the rule runs: `PT0S` (continuous, near real time), `PT1H`, `PT3H`, `PT12H`
    /// or `P1D`.
    pub frequency: Loc<String>,
    /// Whether the rule runs. A customer can turn one rule off with a dated exception.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The alert each match raises.
    pub alert: DetectionAlert,
    /// Device groups (Defender for Endpoint) the rule applies to
    /// (`detectionAction.organizationalScope.deviceGroups`); every device when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_groups: Vec<Loc<String>>,
    /// Automated response actions on what the query returns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ResponseAction>,
    /// Which customers get the rule; every customer when empty.
    #[serde(default)]
    pub select: DetectionSelect,
    /// The query text, read from `queryFile` once by validation (never by later stages).
    #[serde(skip)]
    #[schemars(skip)]
    pub query: Option<Arc<str>>,
}

fn yes() -> bool {
    true
}

/// The alert template of a rule.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DetectionAlert {
    /// Alert title.
    pub title: Loc<String>,
    /// Alert description.
    pub description: String,
    /// `informational`, `low`, `medium` or `high`. A customer can change it with a dated
    /// exception.
    pub severity: Loc<String>,
    /// What responders should do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommended_actions: Option<String>,
    /// MITRE ATT&CK tactics and techniques, e.g. `Execution: [T1059.001]`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mitre: BTreeMap<String, Vec<Loc<String>>>,
}

/// An automated response action and the query column(s) that name its target.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResponseAction {
    /// `isolateDevices`, `collectInvestigationPackages`, `runAntivirusScans`,
    /// `initiateInvestigations`, `restrictAppExecutions`, `stopAndQuarantineFiles`,
    /// `disableUsers`, `forceUserPasswordResets` or `markUsersAsCompromised`.
    pub action: Loc<String>,
    /// Column holding the device id (device and quarantine actions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id_column: Option<String>,
    /// Column holding the file's SHA-1 (`stopAndQuarantineFiles`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1_column: Option<String>,
    /// Column holding the account SID (`disableUsers`, `forceUserPasswordResets`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_sid_column: Option<String>,
    /// Column holding the Entra object id (`markUsersAsCompromised`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_object_id_column: Option<String>,
    /// `full` or `selective` (`isolateDevices` only; default `full`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation_type: Option<String>,
}

impl ResponseAction {
    /// The column named by one of Graph's column properties (`deviceIdColumn`, …).
    pub fn column(&self, property: &str) -> Option<&str> {
        match property {
            "deviceIdColumn" => self.device_id_column.as_deref(),
            "sha1Column" => self.sha1_column.as_deref(),
            "accountSidColumn" => self.account_sid_column.as_deref(),
            "accountObjectIdColumn" => self.account_object_id_column.as_deref(),
            _ => None,
        }
    }
}

/// Customers a rule goes to: those with one of `tiers`, and those whose `metadata.labels`
/// hold every pair of `labels`. Both empty: every customer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DetectionSelect {
    /// Provider tiers; a customer with any of them gets the rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<Loc<String>>,
    /// Labels a customer must all carry (`metadata.labels`) to get the rule.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}
