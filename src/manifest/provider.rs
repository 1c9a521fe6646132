//! The `Provider` manifest: the MSSP itself, defined once and referenced by every customer.
//!
//! Tiers, access-package rules, Defender roles and the SIEM application live here so that a
//! change to a tier reaches every customer that uses it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Loc, Metadata};
use crate::cloud::Cloud;

/// A `kind: Provider` document.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "mssp Provider manifest")]
pub struct ProviderManifest {
    /// Always `mssp.io/v1`.
    #[schemars(extend("const" = "mssp.io/v1"))]
    pub api_version: Loc<String>,
    /// Always `Provider`.
    #[schemars(extend("const" = "Provider"))]
    pub kind: Loc<String>,
    pub metadata: Metadata,
    pub spec: ProviderSpec,
}

/// The MSSP: its own tenant, its SOC tiers and its SIEM application.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderSpec {
    /// The MSSP's Entra tenant id (GUID). Customers trust this tenant.
    #[schemars(regex(pattern = super::GUID_PATTERN))]
    pub tenant_id: Loc<String>,
    /// The MSSP tenant's primary domain, e.g. `fabrikam.onmicrosoft.com`.
    pub domain: Loc<String>,
    /// The MSSP's name as customers see it (connected organization, group descriptions).
    pub display_name: String,
    /// The cloud the MSSP tenant lives in; also the default for customers.
    #[serde(default)]
    pub cloud: Cloud,
    /// How the tool names the objects it creates.
    #[serde(default)]
    pub naming: Naming,
    /// The access-package catalog created in every customer tenant.
    #[serde(default)]
    pub catalog: CatalogSettings,
    /// The SOC tiers (and the approvers tier). Customers pick tiers by `name`.
    pub tiers: Vec<Tier>,
    /// The SIEM application the MSSP uses to fetch every customer's alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub siem: Option<SiemApp>,
    /// Where `mssp alerts notify` delivers the customers' notification rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    /// The MSSP's custom detection rules, distributed to customers by tier or label
    /// (docs/detection-rules.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detections: Vec<super::DetectionRule>,
    /// GDAP (CSP partners): how long relationships last and whether they auto-extend. The roles
    /// are per tier (`tiers[].gdap`); customers opt in with `access.gdap`. docs/gdap.md.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gdap: Option<GdapSettings>,
}

/// Relationship settings shared by every GDAP customer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GdapSettings {
    /// How long a relationship lasts once approved: ISO 8601 days, `P1D` to `P730D` (two years).
    #[serde(default = "default_gdap_duration")]
    pub duration: Loc<String>,
    /// `P180D` extends a relationship by six months whenever it reaches its end; `PT0S` (or `P0D`)
    /// lets it expire. Not allowed when a relationship includes Global Administrator.
    #[serde(default = "default_auto_extend")]
    pub auto_extend: Loc<String>,
    /// The plan warns about relationships ending within this window (ISO 8601 days).
    #[serde(default = "default_gdap_warning")]
    pub expiry_warning: Loc<String>,
}

impl Default for GdapSettings {
    fn default() -> Self {
        Self {
            duration: default_gdap_duration(),
            auto_extend: default_auto_extend(),
            expiry_warning: default_gdap_warning(),
        }
    }
}

fn default_gdap_duration() -> Loc<String> {
    Loc::synthetic("P730D".into())
}

fn default_auto_extend() -> Loc<String> {
    Loc::synthetic("PT0S".into())
}

fn default_gdap_warning() -> Loc<String> {
    Loc::synthetic("P30D".into())
}

/// What a tier's analysts hold in GDAP customers: Entra built-in roles, granted through a
/// security group of the MSSP tenant the tool creates for the tier (`<prefix>-gdap-<tier>`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TierGdap {
    /// Entra built-in role template ids, e.g. `5d6b6bb7-de71-4623-b4af-96380a352509` (Security
    /// Reader). docs/manifest.md lists the ids the tool knows.
    pub roles: Vec<Loc<String>>,
    /// Display name of the tier's group in the MSSP tenant; defaults to `<group displayName> (GDAP)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_display_name: Option<Loc<String>>,
}

/// Naming of tool-owned objects.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Naming {
    /// Prefix of every derived `uniqueName` (`<prefix>-<tier>`). Lowercase letters, digits and
    /// `-`; the derived names must fit Graph's 64-character `mailNickname` limit.
    #[serde(default = "default_prefix")]
    #[schemars(regex(pattern = r"^[a-z][a-z0-9-]*$"))]
    pub prefix: Loc<String>,
}

impl Default for Naming {
    fn default() -> Self {
        Self {
            prefix: Loc::synthetic(default_prefix_str()),
        }
    }
}

fn default_prefix_str() -> String {
    "mssp".into()
}

fn default_prefix() -> Loc<String> {
    Loc::synthetic(default_prefix_str())
}

/// The access-package catalog.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CatalogSettings {
    /// Catalog display name; the tool owns the catalog with this name (two matches = error).
    #[serde(default = "default_catalog_name")]
    pub display_name: Loc<String>,
    /// Catalog description.
    #[serde(default = "default_catalog_description")]
    pub description: String,
}

impl Default for CatalogSettings {
    fn default() -> Self {
        Self {
            display_name: default_catalog_name(),
            description: default_catalog_description(),
        }
    }
}

fn default_catalog_name() -> Loc<String> {
    Loc::synthetic("MSSP Accesses".into())
}

fn default_catalog_description() -> String {
    "Access packages for the managed security service provider's analysts. Managed by mssp.".into()
}

/// One SOC tier: a security group in each customer tenant, the access package that fills it,
/// and the Defender permissions it carries.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tier {
    /// Short key customers refer to (`tier1`, `approvers`). Lowercase letters, digits, `-`.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9-]*$"))]
    pub name: Loc<String>,
    /// The security group created in each customer tenant.
    pub group: GroupSettings,
    /// The access package analysts request to join the group.
    #[serde(default)]
    pub access_package: AccessPackageSettings,
    /// What members of the tier may do in Microsoft Defender.
    #[serde(default)]
    pub defender: DefenderPermissions,
    /// Entra roles the tier holds in customers reached through GDAP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gdap: Option<TierGdap>,
}

/// A tier's security group.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupSettings {
    /// Group display name (max 256 characters), e.g. `Tier 1 Analyst`.
    pub display_name: Loc<String>,
    /// Group description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Access-package settings of a tier.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessPackageSettings {
    /// Package display name; defaults to the group's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<Loc<String>>,
    /// Package description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Hide the package from the My Access catalog (analysts then need the direct link).
    #[serde(default)]
    pub hidden: bool,
    /// How long an assignment lasts, as an ISO 8601 duration (`P365D`).
    #[serde(default = "default_expiry")]
    pub expiry: Loc<String>,
    /// Approval of requests.
    #[serde(default)]
    pub approval: Approval,
    /// Recurring access reviews of the assignments; none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_review: Option<AccessReview>,
}

impl Default for AccessPackageSettings {
    fn default() -> Self {
        Self {
            display_name: None,
            description: None,
            hidden: false,
            expiry: default_expiry(),
            approval: Approval::default(),
            access_review: None,
        }
    }
}

fn default_expiry() -> Loc<String> {
    Loc::synthetic("P365D".into())
}

/// Who approves requests, and how.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Approval {
    /// Whether a request needs approval at all.
    #[serde(default = "yes")]
    pub required: bool,
    /// The approvers. Usually `[{tier: approvers}]`: members of the approvers tier's group.
    #[serde(default)]
    pub approvers: Vec<Loc<Subject>>,
    /// Whether approvers must justify their decision.
    #[serde(default = "yes")]
    pub approver_justification_required: bool,
    /// Whether requestors must give a business justification.
    #[serde(default = "yes")]
    pub requestor_justification_required: bool,
    /// A request nobody decides on is denied after this ISO 8601 duration.
    #[serde(default = "default_auto_deny")]
    pub auto_deny_after: Loc<String>,
}

impl Default for Approval {
    fn default() -> Self {
        Self {
            required: true,
            approvers: Vec::new(),
            approver_justification_required: true,
            requestor_justification_required: true,
            auto_deny_after: default_auto_deny(),
        }
    }
}

fn yes() -> bool {
    true
}

fn default_auto_deny() -> Loc<String> {
    Loc::synthetic("P14D".into())
}

/// A person or set of people in the customer tenant (approvers, reviewers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Subject {
    /// Members of another tier's group, by tier name (usually `approvers`).
    Tier(String),
    /// A single user, by object id in the customer tenant.
    User(String),
    /// Members of an existing group, by object id in the customer tenant.
    Group(String),
    /// The customer's internal sponsors of the connected organization.
    InternalSponsors,
    /// The MSSP-side external sponsors of the connected organization.
    ExternalSponsors,
}

/// Recurring access reviews.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessReview {
    /// How often reviews recur.
    #[serde(default)]
    pub recurrence: Recurrence,
    /// How long each review stays open (ISO 8601 duration).
    #[serde(default = "default_auto_deny")]
    pub duration: Loc<String>,
    /// Who reviews; defaults to the tier's approvers.
    #[serde(default)]
    pub reviewers: Vec<Loc<Subject>>,
    /// What happens to access nobody reviewed.
    #[serde(default)]
    pub when_not_reviewed: NotReviewed,
    /// First review date (`YYYY-MM-DD`); defaults to 2025-01-01 so plans are reproducible.
    #[serde(default = "default_review_start")]
    pub start_date: Loc<String>,
}

fn default_review_start() -> Loc<String> {
    Loc::synthetic("2025-01-01".into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Recurrence {
    Monthly,
    Quarterly,
    SemiAnnual,
    #[default]
    Annual,
}

impl Recurrence {
    /// Interval in months, for Graph's `absoluteMonthly` pattern.
    pub fn months(self) -> u32 {
        match self {
            Recurrence::Monthly => 1,
            Recurrence::Quarterly => 3,
            Recurrence::SemiAnnual => 6,
            Recurrence::Annual => 12,
        }
    }
}

/// Graph's `expirationBehavior` of access reviews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum NotReviewed {
    KeepAccess,
    #[default]
    RemoveAccess,
    AcceptAccessRecommendation,
}

impl NotReviewed {
    pub(crate) fn graph_value(self) -> &'static str {
        match self {
            NotReviewed::KeepAccess => "keepAccess",
            NotReviewed::RemoveAccess => "removeAccess",
            NotReviewed::AcceptAccessRecommendation => "acceptAccessRecommendation",
        }
    }
}

/// Defender permissions of a tier, in both permission models.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DefenderPermissions {
    /// Defender XDR unified RBAC role (Graph beta API), used for customers with
    /// `defenderRbac: unified`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unified_role: Option<UnifiedRole>,
    /// Legacy Defender for Endpoint role, which has no API: for customers with
    /// `defenderRbac: legacy` the plan lists it as a manual step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_role: Option<LegacyRole>,
}

/// A Defender XDR unified RBAC custom role.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnifiedRole {
    /// Role display name; the tool owns roles with this name (two matches = error).
    pub display_name: Loc<String>,
    /// Role description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Allowed resource actions, e.g. `microsoft.xdr/secops/securitydata/read`. Wildcards such as
    /// `microsoft.xdr/secops/*/read` are allowed; actions a wildcard already covers are redundant.
    pub actions: Vec<Loc<String>>,
}

/// A legacy Defender for Endpoint RBAC role (Settings > Endpoints > Roles).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LegacyRole {
    /// Role name as entered in the portal.
    pub name: String,
    /// Permissions to tick.
    pub permissions: Vec<LegacyPermission>,
    /// Device groups the role may see; empty means all devices.
    #[serde(default)]
    pub device_groups: Vec<String>,
}

/// The permission check boxes of a legacy Defender for Endpoint role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum LegacyPermission {
    ViewData,
    AlertsInvestigation,
    ActiveRemediation,
    LiveResponseBasic,
    LiveResponseAdvanced,
    ManageSecuritySettings,
    ManagePortalSettings,
}

impl LegacyPermission {
    /// The label shown in the Defender portal.
    pub(crate) fn portal_label(self) -> &'static str {
        match self {
            LegacyPermission::ViewData => "View data",
            LegacyPermission::AlertsInvestigation => "Alerts investigation",
            LegacyPermission::ActiveRemediation => "Active remediation actions",
            LegacyPermission::LiveResponseBasic => "Live response capabilities: Basic",
            LegacyPermission::LiveResponseAdvanced => "Live response capabilities: Advanced",
            LegacyPermission::ManageSecuritySettings => {
                "Manage security settings in Security Center"
            }
            LegacyPermission::ManagePortalSettings => "Manage portal system settings",
        }
    }
}

/// The MSSP's SIEM application.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SiemApp {
    /// The application's `uniqueName` (its natural key in the MSSP tenant).
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"))]
    pub unique_name: Loc<String>,
    /// The application's display name.
    pub display_name: String,
    /// `multiTenant` (one app in the MSSP tenant, a service principal per customer) or
    /// `perCustomer` (a single-tenant app registered in each customer tenant).
    #[serde(default)]
    pub variant: SiemVariant,
    /// Application permissions granted (admin consent) in each SIEM-enabled customer tenant.
    #[serde(default)]
    pub permissions: SiemPermissions,
    /// How the SIEM authenticates. Prefer certificates and federated credentials.
    #[serde(default)]
    pub credentials: Vec<Loc<Credential>>,
    /// The plan warns about credentials expiring within this ISO 8601 duration.
    #[serde(default = "default_expiry_warning")]
    pub expiry_warning: Loc<String>,
}

fn default_expiry_warning() -> Loc<String> {
    Loc::synthetic("P30D".into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SiemVariant {
    #[default]
    MultiTenant,
    PerCustomer,
}

/// App-role values, resolved to ids at run time from each resource's service principal.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SiemPermissions {
    /// Microsoft Graph application permissions.
    #[serde(default = "default_graph_permissions")]
    pub graph: Vec<Loc<String>>,
    /// WindowsDefenderATP (Defender for Endpoint API) application permissions.
    #[serde(default = "default_defender_permissions")]
    pub defender: Vec<Loc<String>>,
}

impl Default for SiemPermissions {
    fn default() -> Self {
        Self {
            graph: default_graph_permissions(),
            defender: default_defender_permissions(),
        }
    }
}

fn default_graph_permissions() -> Vec<Loc<String>> {
    ["SecurityAlert.Read.All", "SecurityIncident.Read.All"]
        .into_iter()
        .map(|s| Loc::synthetic(s.to_string()))
        .collect()
}

fn default_defender_permissions() -> Vec<Loc<String>> {
    vec![Loc::synthetic("Alert.Read.All".to_string())]
}

/// One credential of the SIEM application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Credential {
    /// A certificate whose public key (PEM or DER file, path relative to the manifest) is
    /// uploaded to the application. The private key never leaves the SIEM.
    Certificate(CertificateCredential),
    /// A federated identity credential: the SIEM's workload identity token is trusted.
    Federated(FederatedCredential),
    /// A client secret (last resort). Its value goes only to `sink`.
    Secret(SecretCredential),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertificateCredential {
    /// Path of the certificate file, relative to the manifest.
    pub path: Loc<String>,
    /// Display name of the key credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FederatedCredential {
    /// Credential name: unique per application, immutable, at most 120 characters.
    pub name: Loc<String>,
    /// Token issuer, e.g. `https://token.actions.githubusercontent.com`.
    pub issuer: Loc<String>,
    /// Token subject, e.g. `repo:fabrikam/soc:environment:prod`.
    pub subject: Loc<String>,
    /// Token audience.
    #[serde(default = "default_audience")]
    pub audience: String,
}

fn default_audience() -> String {
    "api://AzureADTokenExchange".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretCredential {
    /// Display name of the password credential (its identity across runs).
    pub display_name: Loc<String>,
    /// Lifetime of a new secret (ISO 8601 duration).
    #[serde(default = "default_secret_validity")]
    pub validity: Loc<String>,
    /// Where a newly created secret value is written. It is never printed.
    pub sink: SecretSink,
    /// Rotate when the secret ends within this ISO 8601 duration (e.g. `P30D`): apply adds a new
    /// secret with the same display name, writes it to `sink`, and only then removes the old one
    /// (by `keyId`). Must be shorter than `validity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotate_before: Option<Loc<String>>,
}

fn default_secret_validity() -> Loc<String> {
    Loc::synthetic("P180D".into())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SecretSink {
    /// A file written with mode 0600 (path relative to the manifest).
    File(String),
    /// An Azure Key Vault secret.
    KeyVault(KeyVaultSink),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyVaultSink {
    /// Vault URL, e.g. `https://fabrikam-soc.vault.azure.net`.
    pub vault_url: Loc<String>,
    /// Secret name in the vault.
    pub secret_name: String,
}

/// Notification delivery used by `mssp alerts notify`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Delivery {
    /// SMTP relay for e-mail notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<SmtpDelivery>,
    /// Webhooks that receive each notification as JSON, by name. A Teams or Slack webhook URL is
    /// a bearer credential: give `urlEnv` (the environment variable holding the URL); a literal
    /// URL still works but validation warns.
    #[serde(default)]
    pub webhooks: BTreeMap<String, Loc<Webhook>>,
}

/// Where a webhook's URL comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Webhook {
    /// The URL is read from an environment variable when notifying.
    Env(WebhookEnv),
    /// A literal URL in the manifest (deprecated: anyone who reads the manifest can post).
    Url(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookEnv {
    /// Environment variable holding the webhook URL (the value never appears in manifests).
    pub url_env: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SmtpDelivery {
    /// Relay host.
    pub host: String,
    /// Relay port.
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// Sender address.
    pub from: Loc<String>,
    /// Use STARTTLS.
    #[serde(default = "yes")]
    pub starttls: bool,
    /// Environment variable holding the relay password (the value never appears in manifests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// Relay user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

fn default_smtp_port() -> u16 {
    587
}
