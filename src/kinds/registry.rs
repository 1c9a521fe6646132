//! The list of kinds: the only place that matches on the kind. Each line names a kind and the
//! spec type implementing [`ResourceKind`] for it; the macro generates [`Kind`] (in plan
//! order), [`Spec`] and the dispatch from both to the kinds' trait methods.

use serde::Serialize;
use serde_json::Value;

use super::{
    ObserveContext, Permissions, ResourceKind, access_package, app_role_grant, application,
    assignment_policy, catalog, catalog_resource, connected_organization, cross_tenant_partner,
    defender_role, defender_role_assignment, detection_rule, federated_credential,
    gdap_access_assignment, gdap_relationship, gdap_termination, group, key_credential, manual,
    password_credential, role_scope, service_principal,
};
use crate::graph::Version;
use crate::graph::write::{WriteError, Writer};
use crate::model::{Address, Ids, ObserveError, Observed, Read, Snapshot};

macro_rules! kinds {
    ($($variant:ident => $ty:ty,)*) => {
        /// Every kind of resource, in the order a plan lists them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind {
            $($variant,)*
        }

        const COUNT: usize = [$(Kind::$variant),*].len();

        impl Kind {
            pub const ALL: [Kind; COUNT] = [$(Kind::$variant),*];

            /// The kind's name in addresses (`group/tier1`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$variant => <$ty as ResourceKind>::NAME,)*
                }
            }

            /// See [`ResourceKind::PROTECTED`].
            pub(crate) fn is_protected(self) -> bool {
                match self {
                    $(Kind::$variant => <$ty as ResourceKind>::PROTECTED,)*
                }
            }

            /// See [`ResourceKind::ADOPTABLE`].
            pub(crate) fn is_adoptable(self) -> bool {
                match self {
                    $(Kind::$variant => <$ty as ResourceKind>::ADOPTABLE,)*
                }
            }

            /// See [`ResourceKind::IMMUTABLE`].
            pub(crate) fn immutable_fields(self) -> &'static [&'static str] {
                match self {
                    $(Kind::$variant => <$ty as ResourceKind>::IMMUTABLE,)*
                }
            }

            /// See [`ResourceKind::READ_PERMISSIONS`].
            pub(crate) fn read_permissions(self) -> Permissions {
                match self {
                    $(Kind::$variant => <$ty as ResourceKind>::READ_PERMISSIONS,)*
                }
            }

            /// See [`ResourceKind::WRITE_PERMISSIONS`].
            pub(crate) fn write_permissions(self) -> Permissions {
                match self {
                    $(Kind::$variant => <$ty as ResourceKind>::WRITE_PERMISSIONS,)*
                }
            }

            /// See [`ResourceKind::read_by_id`].
            pub(crate) fn read_by_id(self, id: &str) -> Option<(Version, String)> {
                match self {
                    $(Kind::$variant => <$ty as ResourceKind>::read_by_id(id),)*
                }
            }
        }

        /// Owned objects no manifest names any more, of every kind (see
        /// [`ResourceKind::leftovers`]), as resources to prune.
        pub(crate) fn leftovers(
            universe: &crate::model::DesiredTenant,
            snap: &Snapshot,
        ) -> Vec<crate::model::DesiredResource> {
            let mut out = Vec::new();
            $(
                let ours: Vec<&$ty> = universe
                    .resources
                    .iter()
                    .filter_map(|r| match &r.spec {
                        Spec::$variant(s) => Some(s),
                        _ => None,
                    })
                    .collect();
                out.extend(<$ty as ResourceKind>::leftovers(&ours, snap).into_iter().map(
                    |(name, spec)| crate::model::DesiredResource {
                        address: Address::new(Kind::$variant, name),
                        depends_on: vec![],
                        spec: Spec::$variant(spec),
                    },
                ));
            )*
            out
        }

        /// The desired state of one resource.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(untagged)]
        pub enum Spec {
            $($variant($ty),)*
        }

        impl Spec {
            pub fn kind(&self) -> Kind {
                match self {
                    $(Spec::$variant(_) => Kind::$variant,)*
                }
            }

            /// See [`ResourceKind::FIELDS`].
            pub fn fields(&self) -> &'static [&'static str] {
                match self {
                    $(Spec::$variant(_) => <$ty as ResourceKind>::FIELDS,)*
                }
            }

            /// See [`ResourceKind::reads`].
            pub fn reads(&self, ids: &Ids) -> Vec<Read> {
                match self {
                    $(Spec::$variant(s) => s.reads(ids),)*
                }
            }

            /// See [`ResourceKind::observe`].
            pub(crate) fn observe(&self, cx: &ObserveContext<'_>) -> Result<Observed, ObserveError> {
                match self {
                    $(Spec::$variant(s) => s.observe(cx),)*
                }
            }

            /// See [`ResourceKind::view`].
            pub fn view(&self, ids: &Ids) -> Value {
                match self {
                    $(Spec::$variant(s) => s.view(ids),)*
                }
            }

            /// See [`ResourceKind::prunable`].
            pub(crate) fn prunable(&self) -> bool {
                match self {
                    $(Spec::$variant(s) => s.prunable(),)*
                }
            }

            /// See [`ResourceKind::adoption_hint`].
            pub(crate) fn adoption_hint(&self, address: &str, snap: &Snapshot) -> Option<String> {
                match self {
                    $(Spec::$variant(s) => s.adoption_hint(address, snap),)*
                }
            }

            /// See [`ResourceKind::manual_step`].
            pub fn manual_step(&self, observed: &Observed) -> Option<super::manual::ManualSpec> {
                match self {
                    $(Spec::$variant(s) => s.manual_step(observed),)*
                }
            }

            /// See [`ResourceKind::waiting`].
            pub fn waiting(&self, snap: &Snapshot) -> Option<String> {
                match self {
                    $(Spec::$variant(s) => s.waiting(snap),)*
                }
            }

            /// See [`ResourceKind::warnings`].
            pub fn warnings(&self, observed: &Observed) -> Vec<String> {
                match self {
                    $(Spec::$variant(s) => s.warnings(observed),)*
                }
            }

            /// See [`ResourceKind::create`].
            pub async fn create(&self, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
                match self {
                    $(Spec::$variant(s) => s.create(at, w).await,)*
                }
            }

            /// See [`ResourceKind::update`].
            pub async fn update(
                &self,
                id: &str,
                at: &Address,
                w: &Writer<'_>,
            ) -> Result<(), WriteError> {
                match self {
                    $(Spec::$variant(s) => s.update(id, at, w).await,)*
                }
            }

            /// See [`ResourceKind::delete`].
            pub async fn delete(
                &self,
                id: &str,
                at: &Address,
                w: &Writer<'_>,
            ) -> Result<(), WriteError> {
                match self {
                    $(Spec::$variant(s) => s.delete(id, at, w).await,)*
                }
            }
        }
    };
}

kinds! {
    Application => application::ApplicationSpec,
    FederatedCredential => federated_credential::FederatedCredentialSpec,
    KeyCredential => key_credential::KeyCredentialSpec,
    PasswordCredential => password_credential::PasswordCredentialSpec,
    Group => group::GroupSpec,
    ConnectedOrganization => connected_organization::ConnectedOrganizationSpec,
    Catalog => catalog::CatalogSpec,
    CatalogResource => catalog_resource::CatalogResourceSpec,
    AccessPackage => access_package::AccessPackageSpec,
    RoleScope => role_scope::RoleScopeSpec,
    AssignmentPolicy => assignment_policy::AssignmentPolicySpec,
    CrossTenantPartner => cross_tenant_partner::CrossTenantPartnerSpec,
    DefenderRole => defender_role::DefenderRoleSpec,
    DefenderRoleAssignment => defender_role_assignment::DefenderRoleAssignmentSpec,
    DetectionRule => detection_rule::DetectionRuleSpec,
    ServicePrincipal => service_principal::ServicePrincipalSpec,
    GdapRelationship => gdap_relationship::GdapRelationshipSpec,
    GdapAccessAssignment => gdap_access_assignment::GdapAccessAssignmentSpec,
    GdapTermination => gdap_termination::GdapTerminationSpec,
    AppRoleGrant => app_role_grant::AppRoleGrantSpec,
    Manual => manual::ManualSpec,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Spec {
    pub fn is_manual(&self) -> bool {
        self.kind() == Kind::Manual
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_name_that_parses_back() {
        let mut names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Kind::ALL.len(), "two kinds share a name");
    }

    #[test]
    fn every_kind_that_is_read_declares_how() {
        // The sandbox grants exactly the declared permissions, so a kind that forgot them
        // would fail every test that reads it; this names the culprit directly.
        for k in Kind::ALL.into_iter().filter(|k| *k != Kind::Manual) {
            assert!(
                !k.read_permissions().is_empty(),
                "{k} declares no read permission"
            );
            assert!(
                !k.write_permissions().is_empty(),
                "{k} declares no write permission"
            );
        }
    }
}
