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
/// Group.ReadWrite.All: the apply lease (a security group, `<prefix>-apply-lease`).
pub const PROVIDER_GRAPH_ROLES: &[&str] = &["Application.ReadWrite.All", "Group.ReadWrite.All"];

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

use std::collections::BTreeSet;

use base64::Engine as _;

use crate::providers::Kind;

/// Application permissions that allow writing one kind; the first is the least privileged.
/// Each inner list is "any of"; every list must be satisfied.
pub fn for_writing(kind: Kind) -> &'static [&'static [&'static str]] {
    const GROUP: &[&str] = &["Group.ReadWrite.All", "Directory.ReadWrite.All"];
    const EM: &[&str] = &["EntitlementManagement.ReadWrite.All"];
    const APP: &[&str] = &["Application.ReadWrite.All", "Directory.ReadWrite.All"];
    match kind {
        Kind::Group => &[GROUP],
        // Adding a group to a catalog with application permissions also needs group rights.
        Kind::CatalogResource => &[EM, GROUP],
        Kind::ConnectedOrganization
        | Kind::Catalog
        | Kind::AccessPackage
        | Kind::RoleScope
        | Kind::AssignmentPolicy => &[EM],
        Kind::CrossTenantPartner => &[&["Policy.ReadWrite.CrossTenantAccess"]],
        Kind::DefenderRole | Kind::DefenderRoleAssignment => {
            &[&["RoleManagement.ReadWrite.Defender"]]
        }
        Kind::Application
        | Kind::FederatedCredential
        | Kind::KeyCredential
        | Kind::PasswordCredential
        | Kind::ServicePrincipal => &[APP],
        Kind::AppRoleGrant => &[&["AppRoleAssignment.ReadWrite.All"], APP],
        Kind::Manual => &[],
    }
}

/// The permissions missing from `granted` to write `kinds`, least privileged names first.
pub fn missing(kinds: &BTreeSet<Kind>, granted: &BTreeSet<String>) -> BTreeSet<&'static str> {
    kinds
        .iter()
        .flat_map(|k| for_writing(*k).iter())
        .filter(|any_of| !any_of.iter().any(|r| granted.contains(*r)))
        .filter_map(|any_of| any_of.first().copied())
        .collect()
}

/// The `roles` claim of an access token (application permissions granted in its tenant).
/// The token is only decoded, not verified: the service verifies it; this is a preflight.
pub fn token_roles(token: &str) -> BTreeSet<String> {
    let payload = token.split('.').nth(1).unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .unwrap_or_default();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    v.get("roles")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(serde_json::Value::as_str)
        .map(str::to_string)
        .collect()
}

/// What one tenant lacks for the planned writes.
#[derive(Debug, Clone)]
pub struct Shortfall {
    pub tenant: String,
    pub tenant_id: String,
    pub missing: Vec<&'static str>,
    pub consent_url: String,
}

/// Checks, before anything is read or written, that the token in every tenant carries the
/// application permissions needed to manage what the manifests declare there.
pub async fn preflight(
    session: &crate::session::Session,
    tenants: &[crate::providers::DesiredTenant],
) -> Result<Vec<Shortfall>, String> {
    let mut out = Vec::new();
    for t in tenants {
        let kinds: BTreeSet<Kind> = t.resources.iter().map(|r| r.address.kind).collect();
        if kinds.iter().all(|k| for_writing(*k).is_empty()) {
            continue;
        }
        let profile = session.endpoints.profile(t.cloud);
        let token = session
            .tokens
            .token(&profile.login, &t.tenant_id, &profile.graph_audience)
            .await
            .map_err(|e| format!("tenant {} ({}): {e}", t.name, t.tenant_id))?;
        let missing = missing(&kinds, &token_roles(token.secret()));
        if !missing.is_empty() {
            out.push(Shortfall {
                tenant: t.name.clone(),
                tenant_id: t.tenant_id.clone(),
                missing: missing.into_iter().collect(),
                consent_url: profile.admin_consent_url(
                    &t.tenant_id,
                    session.tokens.client_id().unwrap_or("<client id>"),
                ),
            });
        }
    }
    Ok(out)
}

/// The preflight as plan warnings: a plan made with a token that could not apply it says so in
/// each tenant concerned, with the permission and the consent link, before anyone tries.
/// Tokens are the ones the plan's reads fetched, so this costs no request.
pub async fn annotate(
    plan: &mut crate::plan::Plan,
    session: &crate::session::Session,
    tenants: &[crate::providers::DesiredTenant],
) {
    let planned: Vec<crate::providers::DesiredTenant> = tenants
        .iter()
        .filter(|t| plan.tenants.iter().any(|p| p.name == t.name))
        .cloned()
        .collect();
    match preflight(session, &planned).await {
        Ok(short) => {
            for s in short {
                if let Some(t) = plan.tenants.iter_mut().find(|t| t.name == s.tenant) {
                    t.warnings.push(format!(
                        "the tool's application lacks {} here, so apply would stop before writing; grant admin consent: {}",
                        s.missing.join(", "),
                        s.consent_url
                    ));
                }
            }
        }
        // No token for a tenant: its reads failed too, and the plan already says why.
        Err(e) => tracing::debug!(error = %e, "permission preflight skipped"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_privileges_satisfy_lower_ones() {
        let kinds: BTreeSet<Kind> = [Kind::Group, Kind::CatalogResource].into_iter().collect();
        let granted: BTreeSet<String> = [
            "EntitlementManagement.ReadWrite.All",
            "Directory.ReadWrite.All",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert!(missing(&kinds, &granted).is_empty());
        let granted: BTreeSet<String> = ["EntitlementManagement.ReadWrite.All".to_string()].into();
        assert_eq!(missing(&kinds, &granted), ["Group.ReadWrite.All"].into());
    }

    #[test]
    fn every_documented_role_is_needed_by_some_kind() {
        for role in CUSTOMER_GRAPH_ROLES.iter().chain(PROVIDER_GRAPH_ROLES) {
            assert!(
                crate::providers::Kind::ALL
                    .iter()
                    .any(|k| for_writing(*k).iter().any(|any| any.first() == Some(role))),
                "{role} is documented but never required"
            );
        }
    }
}
