//! Expansion: a pure function from validated manifests to the desired resources of each tenant.
//!
//! This is where the MSSP procedure Microsoft documents as portal clicks becomes a typed list:
//! per customer, the tier groups, the connected organization for the MSSP tenant, the catalog,
//! catalog resources, access packages, role scopes, assignment policies, the cross-tenant
//! partner, Defender roles, the SIEM service principal and its grants, and the manual items
//! that have no API. No I/O happens here; ids Graph assigns are resolved by the plan.

use crate::cloud::Cloud;
use crate::kinds::access_package::AccessPackageSpec;
use crate::kinds::app_role_grant::AppRoleGrantSpec;
use crate::kinds::application::{ApplicationSpec, ResourceAccessSpec};
use crate::kinds::assignment_policy::{ApprovalSpec, AssignmentPolicySpec, ReviewSpec, SubjectRef};
use crate::kinds::catalog::CatalogSpec;
use crate::kinds::catalog_resource::CatalogResourceSpec;
use crate::kinds::connected_organization::ConnectedOrganizationSpec;
use crate::kinds::cross_tenant_partner::CrossTenantPartnerSpec;
use crate::kinds::defender_role::DefenderRoleSpec;
use crate::kinds::defender_role_assignment::DefenderRoleAssignmentSpec;
use crate::kinds::detection_rule::DetectionRuleSpec;
use crate::kinds::federated_credential::FederatedCredentialSpec;
use crate::kinds::group::GroupSpec;
use crate::kinds::key_credential::KeyCredentialSpec;
use crate::kinds::manual::{AttestationInfo, ManualSpec};
use crate::kinds::password_credential::PasswordCredentialSpec;
use crate::kinds::role_scope::RoleScopeSpec;
use crate::kinds::service_principal::{AppRef, ServicePrincipalSpec};
use crate::kinds::{Address, DesiredResource, DesiredTenant, Kind, Spec, TenantRole};
use crate::manifest::{CustomerManifest, DefenderRbac, LifecycleState, Loc, Subject, Tier};
use crate::model::names;
use crate::validate::{ValidCredential, ValidProvider, ValidTier, Validated};

/// Microsoft Graph's application id (the same in every cloud).
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// WindowsDefenderATP, the Defender for Endpoint API.
pub const DEFENDER_APP_ID: &str = "fc780465-2017-40d4-a0c5-307022471b92";
/// Marker the tool writes into descriptions of objects it owns.
pub(crate) const OWNERSHIP_MARKER: &str = "Managed by mssp.";

/// Address name of the SIEM app and its service principals.
const SIEM: &str = "siem";

/// Every tenant the manifests describe: the provider's first, then customers in name order.
pub fn expand_all(v: &Validated) -> Vec<DesiredTenant> {
    let mut customers: Vec<&CustomerManifest> = v.customers.iter().map(|c| &c.doc).collect();
    customers.sort_by(|a, b| a.metadata.name.value.cmp(&b.metadata.name.value));
    let mut out = vec![provider_tenant(v)];
    out.extend(
        customers
            .into_iter()
            .map(|c| expand_customer(&v.provider, c)),
    );
    out
}

/// The MSSP tenant with everything the customers need there: [`expand_provider`], then the
/// GDAP relationships of the customers that opt in (in name order), all of them even when `v`
/// is one shard's customers: the MSSP tenant is the same in every shard.
pub fn provider_tenant(v: &Validated) -> DesiredTenant {
    provider_tenant_for(v, &[])
}

/// [`provider_tenant`] with the GDAP items (relationships, assignments, terminations, the
/// tier groups and the partner service principal they need) of the `selected` customers
/// only; empty: every GDAP customer. A run limited with `--customer` or `--label` must
/// neither show nor apply other customers' relationships, whose pending approvals would
/// otherwise make every customer's plan look changed. `--shard` selects no one here: shard 1
/// owns the MSSP tenant whole.
pub fn provider_tenant_for(v: &Validated, selected: &[String]) -> DesiredTenant {
    let mut customers: Vec<&CustomerManifest> = v
        .gdap_customers
        .iter()
        .filter(|c| selected.is_empty() || selected.contains(&c.metadata.name.value))
        .collect();
    customers.sort_by(|a, b| a.metadata.name.value.cmp(&b.metadata.name.value));
    let mut provider = expand_provider(&v.provider);
    push_gdap(&mut provider.resources, &v.provider.doc, &customers);
    provider
}

/// The MSSP tenant: the multi-tenant SIEM application, its credentials and service principal.
pub(crate) fn expand_provider(p: &ValidProvider) -> DesiredTenant {
    let s = &p.doc.spec;
    let mut resources = Vec::new();
    if let Some(siem) = &s.siem
        && siem.variant == crate::manifest::SiemVariant::MultiTenant
    {
        push_application(&mut resources, p, "AzureADMultipleOrgs");
        resources.push(DesiredResource {
            address: Address::new(Kind::ServicePrincipal, SIEM),
            depends_on: vec![Address::new(Kind::Application, SIEM)],
            spec: Spec::ServicePrincipal(ServicePrincipalSpec {
                app: AppRef::Managed {
                    unique_name: siem.unique_name.value.clone(),
                },
            }),
        });
    }
    DesiredTenant {
        name: p.doc.metadata.name.value.clone(),
        role: TenantRole::Provider,
        tenant_id: s.tenant_id.value.to_ascii_lowercase(),
        domain: s.domain.value.clone(),
        display_name: s.display_name.clone(),
        cloud: s.cloud,
        portal_link: s
            .cloud
            .profile()
            .portal_link(&s.tenant_id.value.to_ascii_lowercase()),
        labels: p.doc.metadata.labels.clone(),
        resources,
    }
}

/// GDAP lives in the partner (provider) tenant: the Partner Customer Delegated Administration
/// service principal the API needs, then one relationship per customer opting in.
fn push_gdap(
    out: &mut Vec<DesiredResource>,
    p: &crate::manifest::ProviderManifest,
    customers: &[&CustomerManifest],
) {
    let settings = p.spec.gdap.clone().unwrap_or_default();
    let gdap_customers: Vec<_> = customers
        .iter()
        .filter_map(|c| Some((*c, c.spec.access.gdap.as_ref()?)))
        .filter(|(c, _)| c.spec.lifecycle.state != LifecycleState::Offboarding)
        .collect();
    if gdap_customers.is_empty() {
        return;
    }
    let sp = crate::kinds::gdap_relationship::sp_address();
    out.push(DesiredResource {
        address: sp.clone(),
        depends_on: vec![],
        spec: Spec::ServicePrincipal(ServicePrincipalSpec {
            app: AppRef::FirstParty {
                app_id: crate::gdap::PARTNER_CDA_APP_ID.into(),
                name: "Partner Customer Delegated Administration".into(),
            },
        }),
    });
    let prefix = &p.spec.naming.prefix.value;
    // Each GDAP tier's group in the MSSP tenant, once, for the tiers some customer uses.
    let gdap_tiers: Vec<&Tier> = p
        .spec
        .tiers
        .iter()
        .filter(|t| t.gdap.is_some())
        .filter(|t| {
            gdap_customers
                .iter()
                .any(|(_, g)| g.tiers.iter().any(|n| n.value == t.name.value))
        })
        .collect();
    let group_of = |t: &Tier| Address::new(Kind::Group, format!("gdap-{}", t.name.value));
    for t in &gdap_tiers {
        let unique = crate::model::names::gdap_group_unique_name(prefix, &t.name.value);
        let display = t
            .gdap
            .as_ref()
            .and_then(|g| g.group_display_name.as_ref())
            .map_or_else(
                || format!("{} (GDAP)", t.group.display_name.value),
                |n| n.value.clone(),
            );
        out.push(DesiredResource {
            address: group_of(t),
            depends_on: vec![],
            spec: Spec::Group(GroupSpec {
                adopt_id: None,
                mail_nickname: unique.clone(),
                unique_name: unique,
                description: owned(&format!(
                    "{display}: holds tier {}'s roles in GDAP customers ({}).",
                    t.name.value, p.spec.display_name
                )),
                display_name: display,
            }),
        });
    }
    let days = |l: &Loc<String>| crate::gdap::duration_days(&l.value).unwrap_or(0);
    for (c, g) in gdap_customers {
        let roles: Vec<String> = match &g.roles {
            Some(r) => values(r),
            None => {
                let mut all: Vec<String> = p
                    .spec
                    .tiers
                    .iter()
                    .filter(|t| g.tiers.iter().any(|n| n.value == t.name.value))
                    .filter_map(|t| t.gdap.as_ref())
                    .flat_map(|t| values(&t.roles))
                    .map(|r| r.to_ascii_lowercase())
                    .collect();
                all.sort();
                all.dedup();
                all
            }
        };
        let name = &c.metadata.name.value;
        let rel_name = crate::gdap::relationship_name(prefix, name, &roles);
        out.push(DesiredResource {
            address: Address::new(Kind::GdapRelationship, name),
            depends_on: vec![sp.clone()],
            spec: Spec::GdapRelationship(crate::kinds::gdap_relationship::GdapRelationshipSpec {
                customer: name.clone(),
                customer_tenant_id: c.spec.tenant_id.value.to_ascii_lowercase(),
                display_name: rel_name.clone(),
                prefix: prefix.clone(),
                roles,
                duration: settings.duration.value.clone(),
                auto_extend: settings.auto_extend.value.clone(),
                expiry_warning_days: days(&settings.expiry_warning),
            }),
        });
        let rel = Address::new(Kind::GdapRelationship, name);
        let mut assignments = Vec::new();
        for t in gdap_tiers
            .iter()
            .filter(|t| g.tiers.iter().any(|n| n.value == t.name.value))
        {
            let mut tier_roles: Vec<String> = t
                .gdap
                .as_ref()
                .map(|x| values(&x.roles))
                .unwrap_or_default()
                .into_iter()
                .map(|r| r.to_ascii_lowercase())
                .collect();
            tier_roles.sort();
            tier_roles.dedup();
            let address = Address::new(
                Kind::GdapAccessAssignment,
                format!("{name}.{}", t.name.value),
            );
            assignments.push(address.clone());
            out.push(DesiredResource {
                address,
                depends_on: vec![rel.clone(), group_of(t)],
                spec: Spec::GdapAccessAssignment(
                    crate::kinds::gdap_access_assignment::GdapAccessAssignmentSpec {
                        relationship: rel.clone(),
                        relationship_name: rel_name.clone(),
                        group: group_of(t),
                        group_unique_name: crate::model::names::gdap_group_unique_name(
                            prefix,
                            &t.name.value,
                        ),
                        roles: tier_roles,
                    },
                ),
            });
        }
        // After a role change the old relationship goes only once the new one and its
        // assignments are in place: it depends on all of them.
        let mut depends_on = vec![rel.clone()];
        depends_on.extend(assignments);
        out.push(DesiredResource {
            address: Address::new(Kind::GdapTermination, name),
            depends_on,
            spec: Spec::GdapTermination(crate::kinds::gdap_termination::GdapTerminationSpec {
                customer: name.clone(),
                customer_tenant_id: c.spec.tenant_id.value.to_ascii_lowercase(),
                prefix: prefix.clone(),
                relationship_name: rel_name.clone(),
            }),
        });
    }
}

/// The SIEM application and its credentials, in whichever tenant registers it.
fn push_application(out: &mut Vec<DesiredResource>, p: &ValidProvider, audience: &str) {
    let (Some(siem), Some(valid)) = (&p.doc.spec.siem, &p.siem) else {
        return;
    };
    let app = Address::new(Kind::Application, SIEM);
    let mut access = Vec::new();
    if !siem.permissions.graph.is_empty() {
        access.push(ResourceAccessSpec {
            resource_app_id: GRAPH_APP_ID.into(),
            resource_name: "Microsoft Graph".into(),
            roles: values(&siem.permissions.graph),
        });
    }
    if !siem.permissions.defender.is_empty() {
        access.push(ResourceAccessSpec {
            resource_app_id: DEFENDER_APP_ID.into(),
            resource_name: "WindowsDefenderATP".into(),
            roles: values(&siem.permissions.defender),
        });
    }
    out.push(DesiredResource {
        address: app.clone(),
        depends_on: vec![],
        spec: Spec::Application(ApplicationSpec {
            unique_name: siem.unique_name.value.clone(),
            display_name: siem.display_name.clone(),
            sign_in_audience: audience.into(),
            required_resource_access: access,
        }),
    });
    for cred in &valid.credentials {
        let (address, spec) = match cred {
            ValidCredential::Federated(f) => (
                Address::new(Kind::FederatedCredential, f.name.value.clone()),
                Spec::FederatedCredential(FederatedCredentialSpec {
                    application: app.clone(),
                    name: f.name.value.clone(),
                    issuer: f.issuer.value.clone(),
                    subject: f.subject.value.clone(),
                    audiences: vec![f.audience.clone()],
                }),
            ),
            ValidCredential::Certificate(c) => {
                let name = c
                    .display_name
                    .clone()
                    .unwrap_or_else(|| c.path.value.clone());
                (
                    Address::new(Kind::KeyCredential, name.clone()),
                    Spec::KeyCredential(KeyCredentialSpec {
                        application: app.clone(),
                        path: c.path.value.clone().into(),
                        display_name: name,
                    }),
                )
            }
            ValidCredential::Secret(s) => (
                Address::new(Kind::PasswordCredential, s.display_name.clone()),
                Spec::PasswordCredential(PasswordCredentialSpec {
                    application: app.clone(),
                    display_name: s.display_name.clone(),
                    validity: s.validity.clone(),
                    sink: s.sink.clone(),
                    rotate_before: s.rotate_before.clone(),
                }),
            ),
        };
        out.push(DesiredResource {
            address,
            depends_on: vec![app.clone()],
            spec,
        });
    }
}

fn values(v: &[Loc<String>]) -> Vec<String> {
    v.iter().map(|x| x.value.clone()).collect()
}

/// One customer tenant.
pub fn expand_customer(p: &ValidProvider, c: &CustomerManifest) -> DesiredTenant {
    let ps = &p.doc.spec;
    let cs = &c.spec;
    let cloud: Cloud = cs.cloud.as_ref().map_or(ps.cloud, |c| c.value);
    let tenant_id = cs.tenant_id.value.to_ascii_lowercase();
    let portal_link = cloud.profile().portal_link(&tenant_id);
    let mut b = Builder::default();

    // An offboarding customer wants nothing: every object the tool created there is revoked.
    let offboarding = cs.lifecycle.state == LifecycleState::Offboarding;
    let tiers = if offboarding {
        Vec::new()
    } else {
        included_tiers(p, c)
    };
    let prefix = &ps.naming.prefix.value;
    let conn_org = Address::new(
        Kind::ConnectedOrganization,
        p.doc.metadata.name.value.clone(),
    );
    let catalog = Address::new(Kind::Catalog, prefix.clone());

    if !tiers.is_empty() {
        b.push(
            conn_org.clone(),
            vec![],
            Spec::ConnectedOrganization(ConnectedOrganizationSpec {
                tenant_id: ps.tenant_id.value.to_ascii_lowercase(),
                domain: ps.domain.value.clone(),
                display_name: ps.display_name.clone(),
                description: format!(
                    "{} (managed security service provider). {OWNERSHIP_MARKER}",
                    ps.display_name
                ),
                state: "configured".into(),
            }),
        );
        b.push(
            catalog.clone(),
            vec![],
            Spec::Catalog(CatalogSpec {
                adopt_id: adopted(c, &catalog),
                display_name: ps.catalog.display_name.value.clone(),
                description: owned(&ps.catalog.description),
                is_externally_visible: true,
                state: "published".into(),
            }),
        );
    }

    if !tiers.is_empty() && cs.access.defender_rbac == DefenderRbac::Legacy {
        b.manual(
            c,
            "mde-roles-enabled",
            ManualSpec {
                title: "Turn on Defender for Endpoint role-based access control".into(),
                reason: "Defender for Endpoint roles have no public API.".into(),
                steps: vec![
                    format!(
                        "Open {} and sign in to the customer tenant.",
                        link_or_portal(&portal_link)
                    ),
                    "Go to Settings > Endpoints > Permissions > Roles.".into(),
                    "Select \"Turn on roles\" (skip if roles are already on).".into(),
                ],
                link: portal_link.clone(),
                attested: None,
            },
        );
    }

    for valid in &tiers {
        let tier = &valid.tier;
        let t = tier.name.value.as_str();
        let group = Address::new(Kind::Group, t);
        b.push(
            group.clone(),
            vec![],
            Spec::Group(GroupSpec {
                adopt_id: adopted(c, &group),
                mail_nickname: valid.unique_name.clone(),
                unique_name: valid.unique_name.clone(),
                display_name: tier.group.display_name.value.clone(),
                description: owned(tier.group.description.as_deref().unwrap_or(&format!(
                    "{} ({}).",
                    tier.group.display_name.value, ps.display_name
                ))),
            }),
        );
        let resource = Address::new(Kind::CatalogResource, t);
        b.push(
            resource.clone(),
            vec![catalog.clone(), group.clone()],
            Spec::CatalogResource(CatalogResourceSpec {
                catalog: catalog.clone(),
                group: group.clone(),
            }),
        );
        let ap = &tier.access_package;
        let package = Address::new(Kind::AccessPackage, t);
        b.push(
            package.clone(),
            vec![catalog.clone()],
            Spec::AccessPackage(AccessPackageSpec {
                catalog: catalog.clone(),
                group: group.clone(),
                display_name: valid.package_display_name.clone(),
                description: owned(ap.description.as_deref().unwrap_or(&format!(
                    "Membership of {} for analysts of {}.",
                    tier.group.display_name.value, ps.display_name
                ))),
                is_hidden: ap.hidden,
            }),
        );
        b.push(
            Address::new(Kind::RoleScope, t),
            vec![package.clone(), resource.clone()],
            Spec::RoleScope(RoleScopeSpec {
                package: package.clone(),
                group: group.clone(),
                catalog_resource: resource,
                role: "Member".into(),
            }),
        );
        let approvers = subjects(&ap.approval.approvers);
        let review = valid.review.as_ref().map(|r| ReviewSpec {
            recurrence_months: r.review.recurrence.months(),
            duration: r.review.duration.value.clone(),
            reviewers: if r.review.reviewers.is_empty() {
                approvers.clone()
            } else {
                subjects(&r.review.reviewers)
            },
            expiration_behavior: r.review.when_not_reviewed.graph_value().into(),
            start_date: r.start_date,
        });
        let mut deps = vec![package.clone(), conn_org.clone()];
        for s in approvers
            .iter()
            .chain(review.iter().flat_map(|r| r.reviewers.iter()))
        {
            if let SubjectRef::GroupMembers(g) = s
                && !deps.contains(g)
            {
                deps.push(g.clone());
            }
        }
        b.push(
            Address::new(Kind::AssignmentPolicy, t),
            deps,
            Spec::AssignmentPolicy(AssignmentPolicySpec {
                adopt_id: adopted(c, &Address::new(Kind::AssignmentPolicy, t)),
                package,
                display_name: names::policy_display_name(t),
                description: owned(&format!(
                    "Requests by users of {} ({}).",
                    ps.display_name, ps.domain.value
                )),
                connected_organization: conn_org.clone(),
                expiration: ap.expiry.value.clone(),
                approval: ApprovalSpec {
                    required: ap.approval.required,
                    approvers,
                    approver_justification_required: ap.approval.approver_justification_required,
                    requestor_justification_required: ap.approval.requestor_justification_required,
                    auto_deny_after: ap.approval.auto_deny_after.value.clone(),
                },
                review,
            }),
        );
        let role_ctx = RoleContext {
            model: cs.access.defender_rbac,
            group: &group,
            group_unique_name: &valid.unique_name,
            portal_link: &portal_link,
        };
        push_defender_role(&mut b, tier, c, &role_ctx);
    }

    // Trust only matters where the MSSP's analysts have access.
    if !tiers.is_empty() && (cs.access.trust_mfa || cs.access.trust_compliant_devices) {
        b.push(
            Address::new(Kind::CrossTenantPartner, p.doc.metadata.name.value.clone()),
            vec![],
            Spec::CrossTenantPartner(CrossTenantPartnerSpec {
                tenant_id: ps.tenant_id.value.to_ascii_lowercase(),
                is_mfa_accepted: cs.access.trust_mfa,
                is_compliant_device_accepted: cs.access.trust_compliant_devices,
            }),
        );
    }

    if let Some(siem) = &ps.siem
        && cs.siem.enabled
        && !offboarding
    {
        let sp = Address::new(Kind::ServicePrincipal, SIEM);
        let mut sp_deps = vec![];
        if siem.variant == crate::manifest::SiemVariant::PerCustomer {
            push_application(&mut b.resources, p, "AzureADMyOrg");
            sp_deps.push(Address::new(Kind::Application, SIEM));
        }
        b.push(
            sp.clone(),
            sp_deps,
            Spec::ServicePrincipal(ServicePrincipalSpec {
                app: AppRef::Managed {
                    unique_name: siem.unique_name.value.clone(),
                },
            }),
        );
        for role in &siem.permissions.graph {
            b.push(
                Address::new(Kind::AppRoleGrant, format!("graph/{}", role.value)),
                vec![sp.clone()],
                Spec::AppRoleGrant(AppRoleGrantSpec {
                    principal: sp.clone(),
                    resource_app_id: GRAPH_APP_ID.into(),
                    resource_name: "Microsoft Graph".into(),
                    app_role: role.value.clone(),
                }),
            );
        }
        if !siem.permissions.defender.is_empty() {
            let atp = Address::new(Kind::ServicePrincipal, "windows-defender-atp");
            b.push(
                atp.clone(),
                vec![],
                Spec::ServicePrincipal(ServicePrincipalSpec {
                    app: AppRef::FirstParty {
                        app_id: DEFENDER_APP_ID.into(),
                        name: "WindowsDefenderATP".into(),
                    },
                }),
            );
            for role in &siem.permissions.defender {
                b.push(
                    Address::new(Kind::AppRoleGrant, format!("defender/{}", role.value)),
                    vec![sp.clone(), atp.clone()],
                    Spec::AppRoleGrant(AppRoleGrantSpec {
                        principal: sp.clone(),
                        resource_app_id: DEFENDER_APP_ID.into(),
                        resource_name: "WindowsDefenderATP".into(),
                        app_role: role.value.clone(),
                    }),
                );
            }
        }
    }

    for rule in cs.notifications.iter().filter(|_| !offboarding) {
        b.manual(
            c,
            &format!("notification-rule/{}", slug(&rule.name.value)),
            notification_steps(rule, &portal_link),
        );
    }

    // Custom detections exist in the global service only (validation refuses the others).
    if !offboarding && cloud == Cloud::Public {
        for r in crate::detections::desired(&p.doc, c, detection_day()) {
            push_detection_rule(&mut b, c, r);
        }
    }

    DesiredTenant {
        name: c.metadata.name.value.clone(),
        role: TenantRole::Customer,
        tenant_id,
        domain: cs.domain.value.clone(),
        display_name: cs.display_name.clone(),
        cloud,
        portal_link,
        labels: c.metadata.labels.clone(),
        resources: b.resources,
    }
}

struct RoleContext<'a> {
    model: DefenderRbac,
    group: &'a Address,
    group_unique_name: &'a str,
    portal_link: &'a Option<String>,
}

fn push_defender_role(b: &mut Builder, tier: &Tier, c: &CustomerManifest, cx: &RoleContext<'_>) {
    let t = tier.name.value.as_str();
    let group = cx.group;
    match cx.model {
        DefenderRbac::Unified => {
            let Some(role) = &tier.defender.unified_role else {
                return;
            };
            let role_addr = Address::new(Kind::DefenderRole, t);
            b.push(
                role_addr.clone(),
                vec![],
                Spec::DefenderRole(DefenderRoleSpec {
                    adopt_id: adopted(c, &role_addr),
                    display_name: role.display_name.value.clone(),
                    description: owned(role.description.as_deref().unwrap_or("")),
                    actions: values(&role.actions),
                }),
            );
            b.push(
                Address::new(Kind::DefenderRoleAssignment, t),
                vec![role_addr.clone(), group.clone()],
                Spec::DefenderRoleAssignment(DefenderRoleAssignmentSpec {
                    adopt_id: adopted(c, &Address::new(Kind::DefenderRoleAssignment, t)),
                    display_name: cx.group_unique_name.to_string(),
                    role: role_addr,
                    principals: vec![group.clone()],
                    directory_scope_ids: vec!["/".into()],
                }),
            );
        }
        DefenderRbac::Legacy => {
            let Some(role) = &tier.defender.legacy_role else {
                return;
            };
            let link = cx.portal_link.clone();
            let perms: Vec<&str> = role.permissions.iter().map(|p| p.portal_label()).collect();
            let devices = if role.device_groups.is_empty() {
                "all device groups".to_string()
            } else {
                role.device_groups.join(", ")
            };
            b.manual(
                c,
                &format!("mde-role/{t}"),
                ManualSpec {
                    title: format!("Defender for Endpoint role \"{}\"", role.name),
                    reason: "Defender for Endpoint roles and device groups have no public API."
                        .into(),
                    steps: vec![
                        format!(
                            "Open {} and sign in to the customer tenant.",
                            link_or_portal(&link)
                        ),
                        "Go to Settings > Endpoints > Permissions > Roles and select \"Add item\"."
                            .into(),
                        format!("Role name: {}", role.name),
                        format!("Permissions: {}", perms.join("; ")),
                        format!(
                            "Assigned user groups: add the Entra group \"{}\" (uniqueName {}).",
                            tier.group.display_name.value, cx.group_unique_name
                        ),
                        format!("Device groups: {devices}."),
                        "Save.".into(),
                    ],
                    link,
                    attested: None,
                },
            );
        }
    }
}

fn notification_steps(
    rule: &crate::manifest::NotificationRule,
    portal_link: &Option<String>,
) -> ManualSpec {
    let yes_no = |b: bool| if b { "on" } else { "off" };
    let sev: Vec<String> = rule
        .severities
        .iter()
        .map(|s| capitalise(&s.value))
        .collect();
    let recipients: Vec<&str> = rule.recipients.iter().map(|r| r.value.as_str()).collect();
    let devices = if rule.device_groups.is_empty() {
        "All devices (needs Global Administrator)".to_string()
    } else {
        format!("Selected device groups: {}", rule.device_groups.join(", "))
    };
    ManualSpec {
        title: format!("E-mail notification rule \"{}\"", rule.name.value),
        reason: "Defender e-mail notification rules have no public API; `mssp alerts notify` delivers the same rule through alerts_v2.".into(),
        steps: vec![
            format!("Open {} and sign in to the customer tenant.", link_or_portal(portal_link)),
            "Go to Settings > Endpoints > General > Email notifications > Alerts, select \"Add item\".".into(),
            format!("Rule name: {}", rule.name.value),
            format!("Include organization name: {}", yes_no(rule.include_organization_name)),
            format!("Include tenant-specific portal link: {}", yes_no(rule.include_portal_link)),
            format!("Include device information: {}", yes_no(rule.include_device_info)),
            format!("Devices: {devices}"),
            format!("Alert severity: {}", sev.join(", ")),
            format!("Recipients: {}", recipients.join(", ")),
            "Send a test e-mail, then save.".into(),
        ],
        link: portal_link.clone(),
        attested: None,
    }
}

fn link_or_portal(link: &Option<String>) -> String {
    link.clone()
        .unwrap_or_else(|| "the customer's Defender portal".into())
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Customer tiers plus tiers they name as approvers or reviewers, in provider order.
fn included_tiers<'a>(p: &'a ValidProvider, c: &CustomerManifest) -> Vec<&'a ValidTier> {
    let mut wanted: Vec<String> = c
        .spec
        .access
        .tiers
        .iter()
        .map(|t| t.value.clone())
        .collect();
    let mut i = 0;
    while i < wanted.len() {
        if let Some(tier) = p.doc.spec.tiers.iter().find(|t| t.name.value == wanted[i]) {
            let ap = &tier.access_package;
            let refs = ap
                .approval
                .approvers
                .iter()
                .chain(ap.access_review.iter().flat_map(|r| r.reviewers.iter()));
            for s in refs {
                if let Subject::Tier(name) = &s.value
                    && !wanted.contains(name)
                {
                    wanted.push(name.clone());
                }
            }
        }
        i += 1;
    }
    p.tiers
        .iter()
        .filter(|t| wanted.contains(&t.tier.name.value))
        .collect()
}

fn subjects(list: &[Loc<Subject>]) -> Vec<SubjectRef> {
    list.iter()
        .map(|s| match &s.value {
            Subject::Tier(t) => SubjectRef::GroupMembers(Address::new(Kind::Group, t.clone())),
            Subject::Group(id) => SubjectRef::ExistingGroup(id.to_ascii_lowercase()),
            Subject::User(id) => SubjectRef::User(id.to_ascii_lowercase()),
            Subject::InternalSponsors => SubjectRef::InternalSponsors,
            Subject::ExternalSponsors => SubjectRef::ExternalSponsors,
        })
        .collect()
}

/// The id `spec.adopt` pins for a resource.
fn adopted(c: &CustomerManifest, address: &Address) -> Option<String> {
    let printed = address.to_string();
    c.spec
        .adopt
        .iter()
        .find(|a| a.resource.value == printed)
        .map(|a| a.id.value.to_ascii_lowercase())
}

/// A description carrying the ownership marker exactly once.
fn owned(description: &str) -> String {
    let d = description.trim();
    if d.contains(OWNERSHIP_MARKER) {
        d.to_string()
    } else if d.is_empty() {
        OWNERSHIP_MARKER.to_string()
    } else {
        format!("{d} {OWNERSHIP_MARKER}")
    }
}

/// Lowercase, alphanumerics and single dashes: a stable address segment from free text.
pub(crate) fn slug(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

#[derive(Default)]
struct Builder {
    resources: Vec<DesiredResource>,
}

impl Builder {
    fn push(&mut self, address: Address, depends_on: Vec<Address>, spec: Spec) {
        self.resources.push(DesiredResource {
            address,
            depends_on,
            spec,
        });
    }

    /// A manual item, with the customer's attestation attached when there is one.
    fn manual(&mut self, c: &CustomerManifest, name: &str, mut spec: ManualSpec) {
        let address = Address::new(Kind::Manual, name);
        let printed = address.to_string();
        spec.attested = c
            .spec
            .attestations
            .iter()
            .find(|a| a.item.value == printed)
            .map(|a| AttestationInfo {
                by: a.by.value.clone(),
                on: a.on.value.clone(),
                note: a.note.clone(),
            });
        self.push(address, vec![], Spec::Manual(spec));
    }
}

/// The day detection-rule overrides are judged on: today (an override ends after its
/// `expires` day, and the plan shows the library's value coming back).
fn detection_day() -> jiff::civil::Date {
    jiff::ZonedDateTime::now().date()
}

fn push_detection_rule(b: &mut Builder, c: &CustomerManifest, r: crate::detections::DesiredRule) {
    let address = Address::new(Kind::DetectionRule, r.name);
    let adopt_id = adopted(c, &address);
    b.push(
        address,
        vec![],
        Spec::DetectionRule(DetectionRuleSpec {
            id: r.id,
            display_name: r.display_name,
            body: r.body,
            adopt_id,
        }),
    );
}

/// Everything the tool could own in a customer tenant under these manifests: the customer
/// as if it used every provider tier, the SIEM and MFA trust. Objects of this universe that
/// exist but are not desired are the candidates for pruning (natural keys derived from the
/// manifests, so nothing the tool did not create is ever considered).
pub(crate) fn universe_customer(p: &ValidProvider, c: &CustomerManifest) -> DesiredTenant {
    let mut all = c.clone();
    all.spec.access.tiers = p
        .doc
        .spec
        .tiers
        .iter()
        .map(|t| Loc::synthetic(t.name.value.clone()))
        .collect();
    all.spec.access.trust_mfa = true;
    all.spec.siem.enabled = true;
    all.spec.lifecycle.state = LifecycleState::Active;
    all.spec.notifications.clear();
    let mut universe = expand_customer(p, &all);
    // Every rule of the library, whichever customers it selects: a rule a customer no longer
    // gets is pruned (with `--allow-delete`) like any other owned object.
    if universe.cloud == Cloud::Public {
        let mut b = Builder {
            resources: std::mem::take(&mut universe.resources),
        };
        for r in crate::detections::all_rules(&p.doc, &all, detection_day()) {
            let known = b
                .resources
                .iter()
                .any(|x| x.address.kind == Kind::DetectionRule && x.address.name == r.name);
            if !known {
                push_detection_rule(&mut b, c, r);
            }
        }
        universe.resources = b.resources;
    }
    universe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_stable() {
        assert_eq!(slug("MSSP high and medium"), "mssp-high-and-medium");
        assert_eq!(slug("  SOC: P1/P2 "), "soc-p1-p2");
    }
}
