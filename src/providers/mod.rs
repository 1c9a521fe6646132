//! Resource kinds: the desired state of each kind of object the tool manages, one module per
//! kind. A kind's module holds everything about that kind (its spec, and — as the plan and
//! apply stages land — how it maps to and from Graph JSON); this file only registers them.

pub mod access_package;
pub mod app_role_grant;
pub mod application;
pub mod assignment_policy;
pub mod catalog;
pub mod catalog_resource;
pub mod connected_organization;
pub mod cross_tenant_partner;
pub mod defender_role;
pub mod defender_role_assignment;
pub mod graph_map;
pub mod group;
pub mod manual;
pub mod role_scope;
pub mod service_principal;

use std::fmt;

use serde::{Serialize, Serializer};

use crate::cloud::Cloud;

/// Every kind of resource, in the order a plan lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Application,
    FederatedCredential,
    KeyCredential,
    PasswordCredential,
    Group,
    ConnectedOrganization,
    Catalog,
    CatalogResource,
    AccessPackage,
    RoleScope,
    AssignmentPolicy,
    CrossTenantPartner,
    DefenderRole,
    DefenderRoleAssignment,
    ServicePrincipal,
    AppRoleGrant,
    Manual,
}

impl Kind {
    pub const ALL: [Kind; 17] = [
        Kind::Application,
        Kind::FederatedCredential,
        Kind::KeyCredential,
        Kind::PasswordCredential,
        Kind::Group,
        Kind::ConnectedOrganization,
        Kind::Catalog,
        Kind::CatalogResource,
        Kind::AccessPackage,
        Kind::RoleScope,
        Kind::AssignmentPolicy,
        Kind::CrossTenantPartner,
        Kind::DefenderRole,
        Kind::DefenderRoleAssignment,
        Kind::ServicePrincipal,
        Kind::AppRoleGrant,
        Kind::Manual,
    ];

    /// The kind's name in addresses (`group/tier1`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Application => "application",
            Kind::FederatedCredential => "federated-credential",
            Kind::KeyCredential => "key-credential",
            Kind::PasswordCredential => "password-credential",
            Kind::Group => "group",
            Kind::ConnectedOrganization => "connected-organization",
            Kind::Catalog => "catalog",
            Kind::CatalogResource => "catalog-resource",
            Kind::AccessPackage => "access-package",
            Kind::RoleScope => "role-scope",
            Kind::AssignmentPolicy => "assignment-policy",
            Kind::CrossTenantPartner => "cross-tenant-partner",
            Kind::DefenderRole => "defender-role",
            Kind::DefenderRoleAssignment => "defender-role-assignment",
            Kind::ServicePrincipal => "service-principal",
            Kind::AppRoleGrant => "app-role-grant",
            Kind::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Protected kinds are access grants and the SIEM app: deleting them needs the explicit
    /// flag and the customer's consent in its manifest, every time.
    pub fn is_protected(self) -> bool {
        matches!(
            self,
            Kind::ConnectedOrganization
                | Kind::AccessPackage
                | Kind::AssignmentPolicy
                | Kind::Application
                | Kind::ServicePrincipal
                | Kind::AppRoleGrant
        )
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resource's stable name within its tenant: `kind/name`, derived from the manifests.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    pub kind: Kind,
    pub name: String,
}

impl Address {
    pub fn new(kind: Kind, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
        }
    }

    /// Parses `kind/name`; the name may itself contain `/`.
    pub fn parse(s: &str) -> Option<Address> {
        let (kind, name) = s.split_once('/')?;
        if name.is_empty() {
            return None;
        }
        Some(Address::new(Kind::parse(kind)?, name))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The desired state of one resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Spec {
    Application(application::ApplicationSpec),
    FederatedCredential(application::FederatedCredentialSpec),
    KeyCredential(application::KeyCredentialSpec),
    PasswordCredential(application::PasswordCredentialSpec),
    Group(group::GroupSpec),
    ConnectedOrganization(connected_organization::ConnectedOrganizationSpec),
    Catalog(catalog::CatalogSpec),
    CatalogResource(catalog_resource::CatalogResourceSpec),
    AccessPackage(access_package::AccessPackageSpec),
    RoleScope(role_scope::RoleScopeSpec),
    AssignmentPolicy(assignment_policy::AssignmentPolicySpec),
    CrossTenantPartner(cross_tenant_partner::CrossTenantPartnerSpec),
    DefenderRole(defender_role::DefenderRoleSpec),
    DefenderRoleAssignment(defender_role_assignment::DefenderRoleAssignmentSpec),
    ServicePrincipal(service_principal::ServicePrincipalSpec),
    AppRoleGrant(app_role_grant::AppRoleGrantSpec),
    Manual(manual::ManualSpec),
}

impl Spec {
    pub fn kind(&self) -> Kind {
        match self {
            Spec::Application(_) => Kind::Application,
            Spec::FederatedCredential(_) => Kind::FederatedCredential,
            Spec::KeyCredential(_) => Kind::KeyCredential,
            Spec::PasswordCredential(_) => Kind::PasswordCredential,
            Spec::Group(_) => Kind::Group,
            Spec::ConnectedOrganization(_) => Kind::ConnectedOrganization,
            Spec::Catalog(_) => Kind::Catalog,
            Spec::CatalogResource(_) => Kind::CatalogResource,
            Spec::AccessPackage(_) => Kind::AccessPackage,
            Spec::RoleScope(_) => Kind::RoleScope,
            Spec::AssignmentPolicy(_) => Kind::AssignmentPolicy,
            Spec::CrossTenantPartner(_) => Kind::CrossTenantPartner,
            Spec::DefenderRole(_) => Kind::DefenderRole,
            Spec::DefenderRoleAssignment(_) => Kind::DefenderRoleAssignment,
            Spec::ServicePrincipal(_) => Kind::ServicePrincipal,
            Spec::AppRoleGrant(_) => Kind::AppRoleGrant,
            Spec::Manual(_) => Kind::Manual,
        }
    }

    /// The Graph fields the plan compares for this kind (what drift exceptions may name).
    pub fn fields(&self) -> &'static [&'static str] {
        match self {
            Spec::Application(_) => application::ApplicationSpec::FIELDS,
            Spec::FederatedCredential(_) => application::FederatedCredentialSpec::FIELDS,
            Spec::KeyCredential(_) => application::KeyCredentialSpec::FIELDS,
            Spec::PasswordCredential(_) => application::PasswordCredentialSpec::FIELDS,
            Spec::Group(_) => group::GroupSpec::FIELDS,
            Spec::ConnectedOrganization(_) => {
                connected_organization::ConnectedOrganizationSpec::FIELDS
            }
            Spec::Catalog(_) => catalog::CatalogSpec::FIELDS,
            Spec::CatalogResource(_) => catalog_resource::CatalogResourceSpec::FIELDS,
            Spec::AccessPackage(_) => access_package::AccessPackageSpec::FIELDS,
            Spec::RoleScope(_) => role_scope::RoleScopeSpec::FIELDS,
            Spec::AssignmentPolicy(_) => assignment_policy::AssignmentPolicySpec::FIELDS,
            Spec::CrossTenantPartner(_) => cross_tenant_partner::CrossTenantPartnerSpec::FIELDS,
            Spec::DefenderRole(_) => defender_role::DefenderRoleSpec::FIELDS,
            Spec::DefenderRoleAssignment(_) => {
                defender_role_assignment::DefenderRoleAssignmentSpec::FIELDS
            }
            Spec::ServicePrincipal(_) => service_principal::ServicePrincipalSpec::FIELDS,
            Spec::AppRoleGrant(_) => app_role_grant::AppRoleGrantSpec::FIELDS,
            Spec::Manual(_) => manual::ManualSpec::FIELDS,
        }
    }

    pub fn is_manual(&self) -> bool {
        matches!(self, Spec::Manual(_))
    }
}

/// One desired resource of a tenant.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredResource {
    pub address: Address,
    /// Resources that must exist before this one can be created.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Address>,
    pub spec: Spec,
}

/// Which tenant a [`DesiredTenant`] is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum TenantRole {
    /// The MSSP's own tenant (the SIEM application lives here).
    Provider,
    /// A customer tenant.
    Customer,
}

/// Everything the manifests want in one tenant: the typed list the plan diffs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredTenant {
    /// The manifest's `metadata.name`.
    pub name: String,
    pub role: TenantRole,
    pub tenant_id: String,
    pub domain: String,
    pub display_name: String,
    pub cloud: Cloud,
    /// `https://security.microsoft.com/?tid=…` for this tenant's cloud.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub portal_link: Option<String>,
    /// The manifest's `metadata.labels` (region, contract, …), carried into plans.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
    pub resources: Vec<DesiredResource>,
}

impl DesiredTenant {
    /// Finds a resource by its printed address.
    pub fn find(&self, address: &str) -> Option<&DesiredResource> {
        let a = Address::parse(address)?;
        self.resources.iter().find(|r| r.address == a)
    }
}

use graph_map::{Ids, Observed, Read, Snapshot};

/// A read problem that makes a resource's state untrustworthy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObserveError {
    #[error(transparent)]
    Ambiguous(#[from] graph_map::Ambiguous),
    #[error("{0}")]
    Local(String),
}

/// An object pinned by `spec.adopt` that does not exist (any more): never silently created
/// again, the user removes the entry.
pub fn adopted_missing(what: &str, id: &str) -> ObserveError {
    ObserveError::Local(format!(
        "{what} {id} named in `spec.adopt` does not exist; remove the entry to create it instead"
    ))
}

/// The reads a desired resource needs, given the ids known so far.
pub fn reads(r: &DesiredResource, ids: &Ids) -> Vec<Read> {
    match &r.spec {
        Spec::Application(s) => application::reads(s),
        Spec::FederatedCredential(s) => application::fic_reads(s, ids),
        // Key and password credentials are part of the application object.
        Spec::KeyCredential(_) | Spec::PasswordCredential(_) | Spec::Manual(_) => vec![],
        Spec::Group(s) => group::reads(s),
        Spec::ConnectedOrganization(s) => connected_organization::reads(s),
        Spec::Catalog(s) => catalog::reads(s),
        Spec::CatalogResource(s) => catalog_resource::reads(s, ids),
        Spec::AccessPackage(s) => access_package::reads(s),
        Spec::RoleScope(s) => role_scope::reads(s, ids),
        Spec::AssignmentPolicy(s) => assignment_policy::reads(s),
        Spec::CrossTenantPartner(s) => cross_tenant_partner::reads(s),
        Spec::DefenderRole(s) => defender_role::reads(s),
        Spec::DefenderRoleAssignment(s) => defender_role_assignment::reads(s),
        Spec::ServicePrincipal(s) => service_principal::reads(s, ids),
        Spec::AppRoleGrant(s) => app_role_grant::reads(s, ids),
    }
}

/// What exists in the tenant for a desired resource.
pub fn observe(
    r: &DesiredResource,
    tenant: &DesiredTenant,
    snap: &Snapshot,
    ids: &Ids,
    base_dir: &std::path::Path,
) -> Result<Observed, ObserveError> {
    let app_object = || {
        tenant.resources.iter().find_map(|x| match &x.spec {
            Spec::Application(a) => application::object(a, snap),
            _ => None,
        })
    };
    Ok(match &r.spec {
        Spec::Application(s) => application::observe(s, snap),
        Spec::FederatedCredential(s) => application::fic_observe(s, snap, ids),
        Spec::KeyCredential(s) => {
            application::key_observe(s, app_object(), base_dir).map_err(ObserveError::Local)?
        }
        Spec::PasswordCredential(s) => {
            let held = application::password_held(s, app_object(), tenant.role, base_dir)
                .map_err(ObserveError::Local)?;
            application::password_observe(s, app_object(), &held)
        }
        Spec::Group(s) => group::observe(s, snap)?,
        Spec::ConnectedOrganization(s) => connected_organization::observe(s, snap)?,
        Spec::Catalog(s) => catalog::observe(s, snap)?,
        Spec::CatalogResource(s) => catalog_resource::observe(s, snap, ids),
        Spec::AccessPackage(s) => access_package::observe(s, snap, ids)?,
        Spec::RoleScope(s) => role_scope::observe(s, snap, ids),
        Spec::AssignmentPolicy(s) => assignment_policy::observe(s, snap, ids)?,
        Spec::CrossTenantPartner(s) => cross_tenant_partner::observe(s, snap),
        Spec::DefenderRole(s) => defender_role::observe(s, snap)?,
        Spec::DefenderRoleAssignment(s) => defender_role_assignment::observe(s, snap)?,
        Spec::ServicePrincipal(s) => service_principal::observe(s, snap, ids),
        Spec::AppRoleGrant(s) => app_role_grant::observe(s, snap, ids),
        Spec::Manual(_) => Observed::Absent,
    })
}

/// The desired values of the compared fields, in the same shape as [`Observed::Present`].
pub fn view(r: &DesiredResource, ids: &Ids) -> serde_json::Value {
    match &r.spec {
        Spec::Application(s) => application::view(s),
        Spec::FederatedCredential(s) => application::fic_view(s),
        Spec::Group(s) => group::view(s),
        Spec::ConnectedOrganization(s) => connected_organization::view(s),
        Spec::Catalog(s) => catalog::view(s),
        Spec::CatalogResource(s) => catalog_resource::view(s),
        Spec::AccessPackage(s) => access_package::view(s),
        Spec::RoleScope(s) => role_scope::view(s),
        Spec::AssignmentPolicy(s) => assignment_policy::view(s, ids),
        Spec::CrossTenantPartner(s) => cross_tenant_partner::view(s),
        Spec::DefenderRole(s) => defender_role::view(s),
        Spec::DefenderRoleAssignment(s) => defender_role_assignment::view(s, ids),
        Spec::ServicePrincipal(s) => service_principal::view(s),
        Spec::AppRoleGrant(s) => app_role_grant::view(s),
        Spec::PasswordCredential(s) => application::password_view(s),
        Spec::KeyCredential(_) | Spec::Manual(_) => serde_json::json!({}),
    }
}

/// Fields whose change cannot be applied in place (the object is replaced).
pub fn immutable_fields(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::DefenderRoleAssignment => defender_role_assignment::IMMUTABLE,
        // A secret whose value its sink lost cannot be repaired, only replaced.
        Kind::PasswordCredential => &["sink"],
        _ => &[],
    }
}

use crate::apply::writer::{ApplyError, Writer, created_id, graph_err, outcome_unknown};
use crate::graph::{Service, Version};

/// POSTs a create; if the answer is lost, re-reads the natural key (`find`) before trying
/// again, so a create is never duplicated.
pub async fn create_recovering<F, Fut>(
    w: &Writer<'_>,
    at: &Address,
    version: Version,
    path: &str,
    body: &serde_json::Value,
    find: F,
) -> Result<String, ApplyError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Option<String>, crate::graph::GraphError>>,
{
    for _ in 0..3 {
        match w
            .call(
                at,
                Service::Graph(version),
                reqwest::Method::POST,
                path,
                Some(body),
                &[],
            )
            .await
        {
            Ok(a) => return created_id(at, &a),
            // A lost answer (the create may have happened), or a conflict (it exists, perhaps
            // from a run whose answer was lost, but list queries may not show it yet): look for
            // it for as long as replication can take before deciding.
            Err(e) if outcome_unknown(&e) || is_conflict(&e) => {
                tracing::info!(address = %at, error = %e, "create not confirmed; re-reading the natural key");
                let started = std::time::Instant::now();
                let mut delay = std::time::Duration::from_millis(100);
                loop {
                    if let Some(id) = find().await.map_err(graph_err(at))? {
                        return Ok(id);
                    }
                    if started.elapsed() >= w.recovery_window {
                        break;
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(5));
                }
                if is_conflict(&e) {
                    return Err(graph_err(at)(e));
                }
            }
            Err(e) => return Err(graph_err(at)(e)),
        }
    }
    Err(ApplyError::new(
        at,
        "the create kept losing its answer; giving up",
    ))
}

/// Upserts by an alternate key (`groups(uniqueName=…)`, `servicePrincipals(appId=…)`,
/// `applications(uniqueName=…)`) with `Prefer: create-if-missing`. Idempotent, so a lost
/// answer is simply sent again. Returns the object's id: from the 201 body, or read back after
/// a 204.
pub async fn upsert_keyed(
    w: &Writer<'_>,
    at: &Address,
    path: &str,
    body: &serde_json::Value,
) -> Result<String, crate::graph::GraphError> {
    let mut tries = 0;
    let answer = loop {
        tries += 1;
        match w
            .call(
                at,
                Service::Graph(Version::V1),
                reqwest::Method::PATCH,
                path,
                Some(body),
                &[("Prefer", "create-if-missing")],
            )
            .await
        {
            Err(e) if outcome_unknown(&e) && tries < 3 => continue,
            other => break other?,
        }
    };
    if let Some(id) = answer
        .body
        .as_ref()
        .and_then(|b| b.get("id"))
        .and_then(serde_json::Value::as_str)
    {
        return Ok(id.to_string());
    }
    let v = w
        .get(
            at,
            Service::Graph(Version::V1),
            &format!("{path}?$select=id"),
        )
        .await?;
    Ok(graph_map::str_of(&v, "id").to_string())
}

/// A PATCH update of one object (Graph answers 204, or 202 for connected organizations).
pub async fn patch_path(
    w: &Writer<'_>,
    at: &Address,
    version: Version,
    path: &str,
    body: &serde_json::Value,
) -> Result<(), ApplyError> {
    w.call(
        at,
        Service::Graph(version),
        reqwest::Method::PATCH,
        path,
        Some(body),
        &[],
    )
    .await
    .map_err(graph_err(at))?;
    Ok(())
}

/// Graph's ways of saying "an object with this key already exists".
fn is_conflict(e: &crate::graph::GraphError) -> bool {
    e.status() == Some(409)
        || (e.status() == Some(400)
            && match &e.kind {
                crate::graph::GraphErrorKind::Status { message, .. } => {
                    message.contains("already exist")
                }
                _ => false,
            })
}

/// DELETE that treats "already gone" as done.
pub async fn delete_path(
    w: &Writer<'_>,
    at: &Address,
    version: Version,
    path: &str,
) -> Result<(), ApplyError> {
    match w
        .tg
        .send(
            Service::Graph(version),
            reqwest::Method::DELETE,
            path,
            None,
            &[],
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(graph_err(at)(e)),
    }
}

/// Creates a desired resource (upserts where Graph offers them).
pub async fn create(r: &DesiredResource, w: &Writer<'_>) -> Result<(), ApplyError> {
    let at = &r.address;
    match &r.spec {
        Spec::Application(s) => application::upsert(s, at, w).await,
        Spec::FederatedCredential(s) => application::fic_create(s, at, w).await,
        Spec::KeyCredential(s) => application::key_create(s, at, w).await,
        Spec::PasswordCredential(s) => application::password_create(s, at, w).await.map(|_| ()),
        Spec::Group(s) => group::upsert(s, at, w).await,
        Spec::ConnectedOrganization(s) => connected_organization::create(s, at, w).await,
        Spec::Catalog(s) => catalog::create(s, at, w).await,
        Spec::CatalogResource(s) => {
            let name = w
                .tenant
                .resources
                .iter()
                .find_map(|x| match &x.spec {
                    Spec::Group(g) if x.address == s.group => Some(g.display_name.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            catalog_resource::create(s, at, w, &name).await
        }
        Spec::AccessPackage(s) => access_package::create(s, at, w).await,
        Spec::RoleScope(s) => role_scope::create(s, at, w).await,
        Spec::AssignmentPolicy(s) => assignment_policy::create(s, at, w).await,
        Spec::CrossTenantPartner(s) => cross_tenant_partner::create(s, at, w).await,
        Spec::DefenderRole(s) => defender_role::create(s, at, w).await,
        Spec::DefenderRoleAssignment(s) => defender_role_assignment::create(s, at, w).await,
        Spec::ServicePrincipal(s) => service_principal::upsert(s, at, w).await,
        Spec::AppRoleGrant(s) => app_role_grant::create(s, at, w).await,
        Spec::Manual(_) => Ok(()),
    }
}

/// Updates an existing object in place.
pub async fn update(r: &DesiredResource, id: &str, w: &Writer<'_>) -> Result<(), ApplyError> {
    let at = &r.address;
    match &r.spec {
        Spec::Application(s) => application::upsert(s, at, w).await,
        Spec::FederatedCredential(s) => application::fic_update(s, id, at, w).await,
        Spec::Group(s) => group::update(s, id, at, w).await,
        Spec::ConnectedOrganization(s) => connected_organization::update(s, id, at, w).await,
        Spec::Catalog(s) => catalog::update(s, id, at, w).await,
        Spec::AccessPackage(s) => access_package::update(s, id, at, w).await,
        Spec::AssignmentPolicy(s) => assignment_policy::update(s, id, at, w).await,
        Spec::CrossTenantPartner(s) => cross_tenant_partner::update(s, at, w).await,
        Spec::DefenderRole(s) => defender_role::update(s, id, at, w).await,
        Spec::DefenderRoleAssignment(s) => defender_role_assignment::update(s, id, at, w).await,
        Spec::ServicePrincipal(s) => service_principal::upsert(s, at, w).await,
        Spec::PasswordCredential(s) => application::password_rotate(s, at, w).await,
        // Kinds without comparable fields never plan an update.
        _ => Ok(()),
    }
}

/// Deletes an owned object.
pub async fn delete(r: &DesiredResource, id: &str, w: &Writer<'_>) -> Result<(), ApplyError> {
    let at = &r.address;
    match &r.spec {
        Spec::Application(_) => application::delete(id, at, w).await,
        Spec::Group(_) => group::delete(id, at, w).await,
        Spec::ConnectedOrganization(_) => connected_organization::delete(id, at, w).await,
        Spec::Catalog(_) => catalog::delete(id, at, w).await,
        Spec::CatalogResource(s) => catalog_resource::delete(s, at, w).await,
        Spec::AccessPackage(_) => access_package::delete(id, at, w).await,
        Spec::RoleScope(s) => role_scope::delete(s, id, at, w).await,
        Spec::AssignmentPolicy(_) => assignment_policy::delete(id, at, w).await,
        Spec::CrossTenantPartner(s) => cross_tenant_partner::delete(&s.tenant_id, at, w).await,
        Spec::DefenderRole(_) => defender_role::delete(id, at, w).await,
        Spec::DefenderRoleAssignment(_) => defender_role_assignment::delete(id, at, w).await,
        Spec::ServicePrincipal(_) => service_principal::delete(id, at, w).await,
        Spec::AppRoleGrant(s) => app_role_grant::delete(s, id, at, w).await,
        Spec::FederatedCredential(_)
        | Spec::KeyCredential(_)
        | Spec::PasswordCredential(_)
        | Spec::Manual(_) => Ok(()),
    }
}
