//! The application permissions the tool itself needs, per tenant role. This is the documented
//! set (docs/permissions.md); the sandbox grants exactly this set to the tool's app, so the
//! tests prove it is sufficient.

/// Microsoft Graph application permissions of the provisioning app in customer tenants.
pub const CUSTOMER_GRAPH_ROLES: &[&str] = &[
    "Group.ReadWrite.All",
    "EntitlementManagement.ReadWrite.All",
    "Policy.ReadWrite.CrossTenantAccess",
    "RoleManagement.ReadWrite.Defender",
    "Application.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
];

/// Microsoft Graph application permissions of the provisioning app in the MSSP tenant.
pub const PROVIDER_GRAPH_ROLES: &[&str] = &["Application.ReadWrite.All"];

/// Every Graph role the app needs somewhere (what the sandbox grants it in every tenant).
pub fn all_graph_roles() -> Vec<String> {
    let mut v: Vec<String> = CUSTOMER_GRAPH_ROLES
        .iter()
        .chain(PROVIDER_GRAPH_ROLES)
        .map(|s| s.to_string())
        .collect();
    v.sort();
    v.dedup();
    v
}
