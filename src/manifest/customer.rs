//! The `Customer` manifest: one per customer tenant, referring to the provider's tiers by name.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Loc, Metadata};
use crate::cloud::Cloud;

/// A `kind: Customer` document.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "mssp Customer manifest")]
pub struct CustomerManifest {
    /// Always `mssp.io/v1`.
    #[schemars(extend("const" = "mssp.io/v1"))]
    pub api_version: Loc<String>,
    /// Always `Customer`.
    #[schemars(extend("const" = "Customer"))]
    pub kind: Loc<String>,
    pub metadata: Metadata,
    pub spec: CustomerSpec,
}

/// One customer tenant and what the MSSP manages there.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerSpec {
    /// The customer's Entra tenant id (GUID).
    #[schemars(regex(pattern = super::GUID_PATTERN))]
    pub tenant_id: Loc<String>,
    /// The customer's primary domain (used in My Access links).
    pub domain: Loc<String>,
    /// The customer's organization name, as it appears in notifications and reports.
    pub display_name: String,
    /// The customer's cloud; defaults to the provider's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<Loc<Cloud>>,
    /// Access the MSSP's analysts get in this tenant.
    #[serde(default)]
    pub access: Access,
    /// Alert notification rules for the MSSP.
    #[serde(default)]
    pub notifications: Vec<NotificationRule>,
    /// Whether the MSSP's SIEM reads this tenant's alerts.
    #[serde(default)]
    pub siem: CustomerSiem,
    /// Accepted drift: differences the plan shows but does not act on, until they expire.
    #[serde(default)]
    pub exceptions: Vec<Exception>,
    /// Confirmations that manual items (things with no API) were done.
    #[serde(default)]
    pub attestations: Vec<Attestation>,
    /// Onboarding state and what deletions this customer allows.
    #[serde(default)]
    pub lifecycle: Lifecycle,
    /// Existing objects to take over by id, once, because they lack the natural key the tool
    /// finds them by (a group made in the portal has no `uniqueName`). `mssp export` writes
    /// these; the plan shows the adoption as an update that sets the key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adopt: Vec<Adoption>,
}

/// An existing object the tool takes over (see `spec.adopt`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Adoption {
    /// The resource address, e.g. `group/tier1`: a group, the catalog, an assignment
    /// policy, a Defender role or role assignment, a detection rule. Every other kind is found
    /// by a key Graph already holds (tenant id, app id) or through an adopted object (a
    /// package by the group it grants).
    pub resource: Loc<String>,
    /// The existing object's id: a GUID, except for a detection rule (the id Defender gave it).
    pub id: Loc<String>,
}

/// Access granted to the MSSP in this tenant.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Access {
    /// Provider tiers to set up here. Tiers they name as approvers or reviewers are included too.
    #[serde(default)]
    pub tiers: Vec<Loc<String>>,
    /// Trust multifactor authentication done in the MSSP tenant (cross-tenant access policy).
    #[serde(default = "yes")]
    pub trust_mfa: bool,
    /// Trust compliant-device claims from the MSSP tenant.
    #[serde(default)]
    pub trust_compliant_devices: bool,
    /// Which Defender permission model this tenant uses.
    #[serde(default)]
    pub defender_rbac: DefenderRbac,
    /// Reach this customer through GDAP (the MSSP is its CSP partner): a delegated admin
    /// relationship from the MSSP tenant, approved by the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gdap: Option<CustomerGdap>,
}

impl Default for Access {
    fn default() -> Self {
        Self {
            tiers: Vec::new(),
            trust_mfa: true,
            trust_compliant_devices: false,
            defender_rbac: DefenderRbac::default(),
            gdap: None,
        }
    }
}

/// A customer's GDAP relationship.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerGdap {
    /// Provider tiers (with `gdap.roles`) whose groups get access; each becomes an access
    /// assignment of the tier's roles.
    pub tiers: Vec<Loc<String>>,
    /// The relationship's roles, when they must differ from the union of the tiers' roles (e.g.
    /// to keep an approved relationship while the provider adds a role: roles cannot change
    /// without a new relationship and a new approval). Every tier role must be among them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<Loc<String>>>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum DefenderRbac {
    /// Defender XDR unified RBAC: roles are applied through Graph (beta).
    #[default]
    Unified,
    /// Legacy Defender for Endpoint roles: no API, listed as manual items.
    Legacy,
}

/// An alert e-mail notification rule.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotificationRule {
    /// Rule name (unique within the customer).
    pub name: Loc<String>,
    /// Alert severities that trigger the rule: `high`, `medium`, `low`, `informational`.
    pub severities: Vec<Loc<String>>,
    /// E-mail recipients.
    pub recipients: Vec<Loc<String>>,
    /// Include the customer's organization name.
    #[serde(default = "yes")]
    pub include_organization_name: bool,
    /// Include the tenant-specific portal link (`?tid=`).
    #[serde(default = "yes")]
    pub include_portal_link: bool,
    /// Include device information.
    #[serde(default)]
    pub include_device_info: bool,
    /// Device groups the rule covers; empty means all devices.
    #[serde(default)]
    pub device_groups: Vec<String>,
    /// Webhook names (from the provider's `delivery.webhooks`) that also receive the alerts.
    #[serde(default)]
    pub webhooks: Vec<Loc<String>>,
}

/// SIEM settings of a customer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerSiem {
    /// Grant the provider's SIEM application access to this tenant's alerts.
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl Default for CustomerSiem {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// Accepted drift on one resource (or one field of it) until a date.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Exception {
    /// The resource address as `mssp validate --explain` prints it, e.g. `access-package/tier1`.
    pub resource: Loc<String>,
    /// One field of the resource; the whole resource when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<Loc<String>>,
    /// Why the drift is accepted.
    pub reason: String,
    /// Who accepted it (e-mail).
    pub owner: Loc<String>,
    /// Last day the exception applies (`YYYY-MM-DD`).
    pub expires: Loc<String>,
    /// An override instead of accepted drift: the value the field takes in this customer until
    /// the exception expires. Detection rules only: `field: status` with `disabled` or
    /// `enabled`, or `field: severity` with an alert severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Loc<String>>,
}

/// Confirmation that a manual item was done.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Attestation {
    /// The manual item's address, e.g. `manual/notification-rule/soc-high`.
    pub item: Loc<String>,
    /// Who did it (e-mail).
    pub by: Loc<String>,
    /// When (`YYYY-MM-DD`).
    pub on: Loc<String>,
    /// Free text, e.g. a ticket number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Onboarding state.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Lifecycle {
    /// `active`, or `offboarding` to revoke everything the tool created in this tenant.
    #[serde(default)]
    pub state: LifecycleState,
    /// Allow deleting protected kinds (connected organization, access packages, assignment
    /// policies, the SIEM application, service principal and grants) here when
    /// `--allow-delete` is also given.
    #[serde(default)]
    pub allow_protected_deletes: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum LifecycleState {
    #[default]
    Active,
    Offboarding,
}
