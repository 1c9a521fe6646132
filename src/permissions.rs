//! The application permissions the tool itself needs, per tenant: to **write** what the
//! manifests declare there and to **read** everything the plan looks at (which is more: a
//! customer without SIEM is still read for a SIEM service principal to prune, one without MFA
//! trust for a partner policy). This is the documented set (docs/permissions.md); the sandbox
//! grants exactly this set per tenant to the tool's app, so the tests prove it is sufficient.

use std::collections::BTreeSet;

use base64::Engine as _;

use crate::cloud::Cloud;
use crate::model::{DesiredTenant, Kind, TenantRole};
use crate::validate::Validated;

/// Microsoft Graph application permissions of the provisioning app in customer tenants that
/// use every feature (SIEM, MFA trust, Defender roles).
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
pub(crate) const PROVIDER_GRAPH_ROLES: &[&str] =
    &["Application.ReadWrite.All", "Group.ReadWrite.All"];

/// Every Graph role the app may need somewhere: the least privileged permission of every
/// read and write requirement (what the sandbox offers for consent).
pub(crate) fn all_graph_roles() -> Vec<String> {
    let mut v: Vec<String> = CUSTOMER_GRAPH_ROLES
        .iter()
        .chain(PROVIDER_GRAPH_ROLES)
        .copied()
        .chain(
            Kind::ALL
                .iter()
                .flat_map(|k| for_reading(*k).iter().chain(for_writing(*k)))
                .filter_map(|any_of| any_of.first().copied()),
        )
        .map(str::to_string)
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Application permissions that allow reading one kind the way the plan reads it; the first
/// is the least privileged (Microsoft Graph permissions reference, per API page). Each inner
/// list is "any of"; every list must be satisfied. Declared by each kind
/// ([`crate::kinds::ResourceKind::READ_PERMISSIONS`]).
pub(crate) fn for_reading(kind: Kind) -> &'static [&'static [&'static str]] {
    kind.read_permissions()
}

/// Application permissions that allow writing one kind; the first is the least privileged.
/// Each inner list is "any of"; every list must be satisfied. Declared by each kind
/// ([`crate::kinds::ResourceKind::WRITE_PERMISSIONS`]).
pub(crate) fn for_writing(kind: Kind) -> &'static [&'static [&'static str]] {
    kind.write_permissions()
}

/// What one tenant needs: the kinds the manifests write there and the kinds a plan reads.
#[derive(Debug, Clone)]
pub struct TenantNeeds {
    pub name: String,
    pub tenant_id: String,
    pub cloud: Cloud,
    pub role: TenantRole,
    pub writes: BTreeSet<Kind>,
    pub reads: BTreeSet<Kind>,
}

impl TenantNeeds {
    /// `desired` is what the manifests declare; `universe` everything a plan reads there.
    pub fn of(desired: &DesiredTenant, universe: &DesiredTenant) -> Self {
        Self {
            name: desired.name.clone(),
            tenant_id: desired.tenant_id.clone(),
            cloud: desired.cloud,
            role: desired.role,
            writes: desired.resources.iter().map(|r| r.address.kind).collect(),
            reads: universe
                .resources
                .iter()
                .chain(&desired.resources)
                .map(|r| r.address.kind)
                .collect(),
        }
    }

    /// Every "any of" requirement: writes first, then reads.
    fn requirements(&self) -> impl Iterator<Item = &'static [&'static str]> + '_ {
        self.writes
            .iter()
            .flat_map(|k| for_writing(*k).iter().copied())
            .chain(
                self.reads
                    .iter()
                    .flat_map(|k| for_reading(*k).iter().copied()),
            )
    }

    /// The least privileged set that satisfies every requirement: a write permission that
    /// also covers a read makes the read permission unnecessary.
    pub fn needed(&self) -> BTreeSet<&'static str> {
        let mut set = BTreeSet::new();
        for any_of in self.requirements() {
            if !any_of.iter().any(|r| set.contains(r))
                && let Some(first) = any_of.first()
            {
                set.insert(*first);
            }
        }
        set
    }

    /// The permissions from [`TenantNeeds::needed`] whose requirement `granted` leaves unmet.
    pub fn missing(&self, granted: &BTreeSet<String>) -> BTreeSet<&'static str> {
        let needed = self.needed();
        self.requirements()
            .filter(|any_of| !any_of.iter().any(|r| granted.contains(*r)))
            .filter_map(|any_of| {
                any_of
                    .iter()
                    .find(|r| needed.contains(*r))
                    .or(any_of.first())
                    .copied()
            })
            .collect()
    }
}

impl TenantNeeds {
    /// [`TenantNeeds::of`], plus what the tool itself does in the MSSP tenant.
    pub fn for_tenant(desired: &DesiredTenant, universe: &DesiredTenant) -> Self {
        let mut needs = Self::of(desired, universe);
        if desired.role == TenantRole::Provider {
            // The apply lease is a group in the MSSP tenant (`apply::lease`).
            needs.writes.insert(Kind::Group);
            needs.reads.insert(Kind::Group);
        }
        needs
    }
}

/// What every tenant of the manifests needs (the provider first), limited to `customers`
/// when not empty (the MSSP tenant's GDAP items too, as the plan limits them).
pub fn needs(v: &Validated, customers: &[String]) -> Vec<TenantNeeds> {
    let provider = crate::expand::provider_tenant_for(v, customers);
    let mut out = vec![TenantNeeds::for_tenant(&provider, &provider)];
    let mut cs: Vec<&crate::manifest::CustomerManifest> = v
        .customers
        .iter()
        .map(|c| &c.doc)
        .filter(|c| customers.is_empty() || customers.contains(&c.metadata.name.value))
        .collect();
    cs.sort_by(|a, b| a.metadata.name.value.cmp(&b.metadata.name.value));
    for c in cs {
        let desired = crate::expand::expand_customer(&v.provider, c);
        let universe = crate::expand::universe_customer(&v.provider, c);
        out.push(TenantNeeds::of(&desired, &universe));
    }
    out
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

/// The permission preflight could not check a tenant: its token could not be fetched.
#[derive(Debug, thiserror::Error)]
#[error("tenant {tenant} ({tenant_id}): {source}")]
pub struct PreflightError {
    pub tenant: String,
    pub tenant_id: String,
    pub source: crate::auth::AuthError,
}

/// How many tokens [`preflight`] fetches at once (apply passes its `--parallelism` instead).
pub const PREFLIGHT_CONCURRENCY: usize = 16;

/// Checks that the token in every tenant carries the application permissions needed to read
/// what a plan reads there and to write what the manifests declare, fetching
/// [`PREFLIGHT_CONCURRENCY`] tokens at once.
pub async fn preflight(
    session: &crate::session::Session,
    tenants: &[TenantNeeds],
) -> Result<Vec<Shortfall>, PreflightError> {
    preflight_with(session, tenants, PREFLIGHT_CONCURRENCY).await
}

/// [`preflight`] fetching tokens `concurrency` at once.
///
/// Tokens are fetched `concurrency` at once (apply passes its `--parallelism`), never one
/// after another: with a thousand tenants that is a thousand Entra round trips before the
/// first write. Those not cached yet are fetched here, on the first use of each tenant.
pub async fn preflight_with(
    session: &crate::session::Session,
    tenants: &[TenantNeeds],
    concurrency: usize,
) -> Result<Vec<Shortfall>, PreflightError> {
    use futures::StreamExt as _;
    // The answer keeps the tenants' order.
    let checks = tenants
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.needed().is_empty())
        .map(|(i, t)| async move {
            let profile = session.endpoints.profile(t.cloud);
            Ok::<_, PreflightError>((i, shortfall(&session.tokens, &profile, t).await?))
        });
    let mut found: Vec<(usize, Option<Shortfall>)> = futures::stream::iter(checks)
        .buffer_unordered(concurrency.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    found.sort_by_key(|(i, _)| *i);
    Ok(found.into_iter().filter_map(|(_, s)| s).collect())
}

/// What one tenant lacks, from its token (a cached one costs no request).
async fn shortfall(
    tokens: &crate::auth::Tokens,
    profile: &crate::cloud::CloudProfile,
    t: &TenantNeeds,
) -> Result<Option<Shortfall>, PreflightError> {
    let token = tokens
        .token(&profile.login, &t.tenant_id, &profile.graph_audience)
        .await
        .map_err(|source| PreflightError {
            tenant: t.name.clone(),
            tenant_id: t.tenant_id.clone(),
            source,
        })?;
    let missing = t.missing(&token_roles(token.secret()));
    Ok((!missing.is_empty()).then(|| Shortfall {
        tenant: t.name.clone(),
        tenant_id: t.tenant_id.clone(),
        missing: missing.into_iter().collect(),
        consent_url: profile
            .admin_consent_url(&t.tenant_id, tokens.client_id().unwrap_or("<client id>")),
    }))
}

/// The preflight as a plan warning: a plan made with a token that could not read or apply it
/// says so in each tenant concerned, with the permission and the consent link, before anyone
/// tries. The token is the one the tenant's reads just fetched, so this costs no request; it
/// is checked while the plan is made, so the tenant's credential can be dropped right after.
pub(crate) async fn note_shortfall(
    plan: &mut crate::plan::TenantPlan,
    needs: &TenantNeeds,
    tokens: &crate::auth::Tokens,
    profile: &crate::cloud::CloudProfile,
) {
    if needs.needed().is_empty() {
        return;
    }
    match shortfall(tokens, profile, needs).await {
        Ok(None) => {}
        Ok(Some(s)) => {
            let text = format!(
                "the tool's application lacks {} here, so apply would stop before writing; grant admin consent: {}",
                s.missing.join(", "),
                s.consent_url
            );
            // A blocked tenant shows only its reason: the likely cause belongs there.
            if let Some(reason) = plan.blocked_reason.as_mut() {
                reason.push_str("; ");
                reason.push_str(&text);
            }
            plan.warnings.push(text);
        }
        // No token for the tenant: its reads failed too, and the plan already says why.
        Err(e) => tracing::debug!(error = %e, "permission preflight skipped"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs(writes: &[Kind], reads: &[Kind]) -> TenantNeeds {
        TenantNeeds {
            name: "t".into(),
            tenant_id: "t".into(),
            cloud: Cloud::Public,
            role: TenantRole::Customer,
            writes: writes.iter().copied().collect(),
            reads: reads.iter().chain(writes).copied().collect(),
        }
    }

    fn granted(roles: &[&str]) -> BTreeSet<String> {
        roles.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn higher_privileges_satisfy_lower_ones() {
        let t = needs(&[Kind::Group, Kind::CatalogResource], &[]);
        let all = granted(&[
            "EntitlementManagement.ReadWrite.All",
            "Directory.ReadWrite.All",
        ]);
        assert!(t.missing(&all).is_empty());
        let em = granted(&["EntitlementManagement.ReadWrite.All"]);
        assert_eq!(t.missing(&em), ["Group.ReadWrite.All"].into());
    }

    #[test]
    fn what_is_only_read_needs_the_read_permission() {
        // A customer without SIEM and without MFA trust is still read for both.
        let t = needs(
            &[Kind::Group],
            &[
                Kind::ServicePrincipal,
                Kind::AppRoleGrant,
                Kind::CrossTenantPartner,
            ],
        );
        assert_eq!(
            t.needed(),
            [
                "Application.Read.All",
                "Group.ReadWrite.All",
                "Policy.Read.All"
            ]
            .into()
        );
        assert_eq!(
            t.missing(&granted(&["Group.ReadWrite.All"])),
            ["Application.Read.All", "Policy.Read.All"].into()
        );
        // A write permission covers the read of the same kind: listed once.
        let t = needs(&[Kind::CrossTenantPartner], &[Kind::CrossTenantPartner]);
        assert_eq!(t.needed(), ["Policy.ReadWrite.CrossTenantAccess"].into());
        assert_eq!(
            t.missing(&BTreeSet::new()),
            ["Policy.ReadWrite.CrossTenantAccess"].into()
        );
    }

    #[test]
    fn every_documented_role_is_needed_by_some_kind() {
        for role in CUSTOMER_GRAPH_ROLES.iter().chain(PROVIDER_GRAPH_ROLES) {
            assert!(
                crate::model::Kind::ALL
                    .iter()
                    .any(|k| for_writing(*k).iter().any(|any| any.first() == Some(role))),
                "{role} is documented but never required"
            );
        }
    }
}
