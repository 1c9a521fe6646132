//! Export: an existing, hand-configured customer tenant → a Customer manifest whose plan is
//! empty, so an MSSP can adopt a customer without re-creating anything.
//!
//! The tenant is read as if the customer used every tier of the provider (the same reads a
//! plan makes); what is found decides the tiers, MFA trust, Defender permission model and SIEM
//! grant. Groups made by hand lack the `uniqueName` key and are pinned by id (`spec.adopt`).
//! The draft is then validated and planned like any manifest: live values that differ from the
//! provider's standard become drift exceptions (with an owner and an expiry, so they are
//! reviewed, not forgotten) when `--owner` is given, and are listed otherwise. Objects the
//! manifest cannot express are listed, never dropped silently. Hand-made custom detection rules
//! go into the Provider's library ([`detections`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::cloud::Cloud;
use crate::diagnostics::SourceFile;
use crate::expand;
use crate::graph::{Graph, GraphError, Service, Version};
use crate::kinds::{self, Address, DesiredTenant, Kind, Spec};
use crate::manifest::{
    self, Access, CustomerManifest, CustomerSiem, DefenderRbac, Lifecycle, Loc, Metadata,
};
use crate::model::observe::{Ids, Observed, Snapshot, str_of};
use crate::plan::{self, Endpoints, Op, PlanOptions, TenantJob, TenantPlan, read};
use crate::validate::{self, Validated};

pub mod detections;

#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub tenant_id: String,
    /// The manifest's `metadata.name`; derived from the tenant's name when absent.
    pub name: Option<String>,
    /// Domain and display name; looked up in the tenant when absent.
    pub domain: Option<String>,
    pub display_name: Option<String>,
    /// The customer's cloud, when it differs from the provider's.
    pub cloud: Option<Cloud>,
    /// Who owns the drift exceptions written for live values that differ from the standard.
    /// Without it, differences are listed and the first apply converges them.
    pub owner: Option<String>,
    /// How long those exceptions last.
    pub keep_days: i64,
    pub today: jiff::civil::Date,
    /// Detection library entries loaded from the fragment of earlier exports, not yet pasted
    /// into the Provider ([`detections::load_for_export`]).
    pub pending_detections: std::collections::BTreeSet<String>,
}

/// What `export` found and wrote.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Export {
    pub name: String,
    /// The Customer manifest (YAML).
    pub manifest: String,
    pub tiers: Vec<String>,
    /// Groups pinned by id because they have no `uniqueName`.
    pub adopted: Vec<Adopted>,
    /// Live values kept as drift exceptions.
    pub excepted: Vec<String>,
    /// What the first plan of the exported manifest still contains (empty: adoption complete).
    pub remaining: Vec<String>,
    /// Objects found in the tenant that the manifest cannot express.
    pub unplaceable: Vec<String>,
    /// Things export cannot read at all (no API).
    pub notes: Vec<String>,
    /// Hand-made custom detection rules taken into the library.
    pub detections: Vec<detections::AdoptedRule>,
    /// Library files to write beside the Provider (new `.kql` files, the entries' fragment).
    pub library_files: Vec<detections::LibraryFile>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Adopted {
    pub resource: String,
    pub id: String,
    pub display_name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("tenant {0} is the provider's own tenant")]
    ProviderTenant(String),
    #[error("tenant {tenant} is already managed by customer `{name}` ({path})")]
    AlreadyManaged {
        tenant: String,
        name: String,
        path: String,
    },
    #[error("`{0}` is not a tenant id (GUID)")]
    BadTenant(String),
    #[error(
        "cannot look up the name and domain of tenant {tenant}: {source}\n  help: pass --domain and --display-name, or grant CrossTenantInformation.ReadBasic.All"
    )]
    TenantInfo { tenant: String, source: GraphError },
    #[error("cannot read the provider tenant: {0}")]
    Provider(String),
    #[error("cannot read tenant {tenant}: {reason}")]
    Read { tenant: String, reason: String },
    #[error("the exported manifest does not validate (a defect in mssp, please report it):\n{0}")]
    Invalid(String),
}

/// Reads the tenant and writes its manifest.
pub async fn export(
    v: &Validated,
    graph: Arc<Graph>,
    endpoints: &Endpoints,
    opts: &ExportOptions,
) -> Result<Export, ExportError> {
    let tenant_id = opts.tenant_id.to_ascii_lowercase();
    check_new_tenant(v, &tenant_id)?;
    let p = &v.provider.doc;
    let base_dir = v.base_dir();
    let cloud = opts.cloud.unwrap_or(p.spec.cloud);
    let tg = graph.tenant(&tenant_id, endpoints.profile(cloud));

    let (domain, display_name) = match (&opts.domain, &opts.display_name) {
        (Some(d), Some(n)) => (d.clone(), n.clone()),
        _ => {
            let info = tg
                .get(
                    Service::Graph(Version::V1),
                    &format!(
                        "/tenantRelationships/findTenantInformationByTenantId(tenantId='{tenant_id}')"
                    ),
                )
                .await
                .map_err(|source| ExportError::TenantInfo {
                    tenant: tenant_id.clone(),
                    source,
                })?;
            (
                opts.domain
                    .clone()
                    .unwrap_or_else(|| str_of(&info, "defaultDomainName").to_string()),
                opts.display_name
                    .clone()
                    .unwrap_or_else(|| str_of(&info, "displayName").to_string()),
            )
        }
    };
    let name = opts
        .name
        .clone()
        .unwrap_or_else(|| name_from(&display_name, &domain));

    // The SIEM app's id: its service principal is how the SIEM grant is found.
    let provider = expand::expand_provider(&v.provider);
    let provider_tg = graph.tenant(&provider.tenant_id, endpoints.profile(provider.cloud));
    let provider_state = read::read_tenant(&provider_tg, &provider, Ids::default(), &base_dir)
        .await
        .map_err(|e| ExportError::Provider(e.to_string()))?;

    let mut draft = Draft {
        name,
        tenant_id: tenant_id.clone(),
        domain,
        display_name,
        cloud: opts.cloud.filter(|c| *c != p.spec.cloud),
        tiers: p.spec.tiers.iter().map(|t| t.name.value.clone()).collect(),
        trust_mfa: true,
        trust_compliant_devices: false,
        defender_rbac: DefenderRbac::Unified,
        siem: p.spec.siem.is_some(),
        adopt: vec![],
        labels: BTreeMap::new(),
        library: vec![],
        gdap: None,
        exceptions: vec![],
        owner: opts.owner.clone(),
        expires: opts
            .today
            .checked_add(jiff::Span::new().days(opts.keep_days))
            .unwrap_or(opts.today),
        today: opts.today,
    };
    let ids = Ids {
        siem_app_id: provider_state.ids.siem_app_id.clone(),
        ..Ids::default()
    };
    // Hand-made objects are found step by step (a group, then the catalog of the package
    // that grants it, then that package's policy, …): adopt what is found, read again with
    // it, until nothing new turns up.
    let mut adopted: Vec<Adopted> = Vec::new();
    let mut rounds = 0;
    let (universe, state, unplaceable) = loop {
        rounds += 1;
        draft.adopt = adopted
            .iter()
            .map(|a| (a.resource.clone(), a.id.clone()))
            .collect();
        let universe = expand::universe_customer(&v.provider, &draft.manifest());
        let state = read::read_tenant(&tg, &universe, ids.clone(), &base_dir)
            .await
            .map_err(|e| ExportError::Read {
                tenant: tenant_id.clone(),
                reason: e.to_string(),
            })?;
        let mut unplaceable = Vec::new();
        let found = discover(p, &universe, &state, &adopted, &mut unplaceable);
        // Each round adopts at least one more object of a bounded set, so this ends; the
        // bound only guards against a defect.
        if found.is_empty() || rounds > 8 {
            break (universe, state, unplaceable);
        }
        adopted.extend(found);
    };
    let mut unplaceable = unplaceable;
    decide(&mut draft, p, &universe, &state);
    let mut gdap_notes = Vec::new();
    draft.gdap = gdap_access(p, &provider_tg, &tenant_id, &draft.name, &mut gdap_notes).await;
    unplaceable.extend(foreign_objects(p, &universe, &state));
    // Custom detections exist in the global service only.
    let rules = if cloud == Cloud::Public {
        detections::adopt(
            &tg,
            &v.provider.sourced(),
            &opts.pending_detections,
            &draft.manifest(),
        )
        .await
    } else {
        detections::Adoption::default()
    };
    draft.labels.extend(rules.labels.clone());
    draft.adopt.extend(rules.pins.iter().cloned());
    draft.library.clone_from(&rules.entries);
    unplaceable.extend(rules.unplaceable.iter().cloned());

    // Plan the draft like any manifest; keep differing live values as exceptions if asked.
    let plan_opts = PlanOptions {
        prune: false,
        parallelism: 1,
        customers: vec![],
        today: opts.today,
        manifest_paths: vec![],
        recent: None,
        visibility_wait: std::time::Duration::ZERO,
    };
    let mut tp = plan_draft(v, &draft, &graph, endpoints, &ids, &plan_opts, &base_dir).await?;
    let mut excepted = Vec::new();
    if draft.owner.is_some() {
        for a in tp
            .actions
            .iter()
            .filter(|a| matches!(a.op, Op::Update | Op::Replace))
        {
            for c in &a.changes {
                let Some(value) = detections::kept(&a.address, &c.field, &c.before) else {
                    continue;
                };
                excepted.push(format!("{} {}: keeps {}", a.address, c.field, c.before));
                draft.exceptions.push(DraftException {
                    resource: a.address.clone(),
                    field: c.field.clone(),
                    live: c.before.clone(),
                    value,
                });
            }
        }
        if !draft.exceptions.is_empty() {
            tp = plan_draft(v, &draft, &graph, endpoints, &ids, &plan_opts, &base_dir).await?;
        }
    }
    let remaining = tp
        .actions
        .iter()
        .filter(|a| a.op.is_change())
        .map(|a| {
            detections::remaining_note(a).unwrap_or_else(|| match a.op {
                Op::Update | Op::Replace => format!(
                    "{} {}: {} (pass --owner to keep the live values as accepted drift)",
                    a.op.verb(),
                    a.address,
                    a.changes
                        .iter()
                        .map(|c| format!("{} {} → {}", c.field, c.before, c.after))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                Op::Manual => format!(
                    "manual {}: do it, then attest it in the manifest",
                    a.address
                ),
                _ => format!("{} {}", a.op.verb(), a.address),
            })
        })
        .collect();
    let mut notes = vec![
        "Defender e-mail notification rules have no API and were not read: declare them under spec.notifications and attest them".to_string(),
    ];
    notes.extend(rules.notes.iter().cloned());
    if draft.tiers.is_empty() {
        notes.push("no tier of the provider was found in this tenant".to_string());
    }
    notes.extend(gdap_notes);
    Ok(Export {
        manifest: draft.yaml(),
        name: draft.name.clone(),
        tiers: draft.tiers.clone(),
        adopted,
        excepted,
        remaining,
        unplaceable,
        notes,
        detections: rules.rules,
        library_files: rules.files,
    })
}

/// The customer's GDAP relationship with the MSSP tenant, adopted as `access.gdap`: the
/// provider tiers whose GDAP groups hold an access assignment in it (all tiers whose roles it
/// holds while it has none), and its roles pinned when they are not the union of those tiers'
/// roles, so the relationship's name, which carries a digest of its roles, stays the same.
/// What cannot be adopted is said in `notes`, never guessed.
async fn gdap_access(
    p: &manifest::ProviderManifest,
    tg: &crate::graph::TenantGraph,
    tenant_id: &str,
    name: &str,
    notes: &mut Vec<String>,
) -> Option<(Vec<String>, Option<Vec<String>>)> {
    use crate::kinds::gdap_relationship::{is_gone, roles_of, status};
    const RELATIONSHIPS: &str = "tenantRelationships/delegatedAdminRelationships";
    let tiers: Vec<&manifest::Tier> = p.spec.tiers.iter().filter(|t| t.gdap.is_some()).collect();
    if tiers.is_empty() {
        return None;
    }
    let all = match tg.list(Service::Graph(Version::V1), RELATIONSHIPS).await {
        Ok(all) => all,
        Err(e) => {
            notes.push(format!(
                "GDAP relationships were not read (the MSSP tenant needs the Partner Customer Delegated Administration service principal and DelegatedAdminRelationship.Read.All): {e}"
            ));
            return None;
        }
    };
    let mut live: Vec<&Value> = all
        .iter()
        .filter(|r| {
            !is_gone(r)
                && r.pointer("/customer/tenantId")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case(tenant_id))
        })
        .collect();
    // The active one is what grants access; a newer one may still wait for approval.
    live.sort_by_key(|r| (status(r) != "active", str_of(r, "displayName").to_string()));
    let rel = *live.first()?;
    let roles = roles_of(rel);
    let tier_roles = |t: &manifest::Tier| -> Vec<String> {
        let mut r: Vec<String> = t
            .gdap
            .as_ref()
            .map(|g| {
                g.roles
                    .iter()
                    .map(|x| x.value.to_ascii_lowercase())
                    .collect()
            })
            .unwrap_or_default();
        r.sort();
        r.dedup();
        r
    };
    let within = |t: &manifest::Tier| tier_roles(t).iter().all(|r| roles.contains(r));
    let path = format!("{RELATIONSHIPS}/{}/accessAssignments", str_of(rel, "id"));
    let containers: Vec<String> = if status(rel) == "active" {
        match tg.list(Service::Graph(Version::V1), &path).await {
            Ok(a) => a
                .iter()
                .filter(|a| !matches!(str_of(a, "status"), "deleting" | "deleted"))
                .filter_map(|a| a.pointer("/accessContainer/accessContainerId"))
                .filter_map(Value::as_str)
                .map(str::to_ascii_lowercase)
                .collect(),
            Err(e) => {
                notes.push(format!(
                    "the access assignments of GDAP relationship `{}` were not read: {e}",
                    str_of(rel, "displayName")
                ));
                return None;
            }
        }
    } else {
        vec![]
    };
    let prefix = &p.spec.naming.prefix.value;
    let mut chosen = Vec::new();
    for t in tiers.iter().filter(|t| within(t)) {
        if containers.is_empty() {
            chosen.push(t.name.value.clone());
            continue;
        }
        let key = format!(
            "groups(uniqueName='{}')?$select=id",
            crate::model::names::gdap_group_unique_name(prefix, &t.name.value)
        );
        if let Ok(Some(g)) = tg.get_opt(Service::Graph(Version::V1), &key).await
            && containers.contains(&str_of(&g, "id").to_ascii_lowercase())
        {
            chosen.push(t.name.value.clone());
        }
    }
    if chosen.is_empty() {
        notes.push(format!(
            "GDAP relationship `{}` holds no provider tier's roles with the tier's group: not adopted",
            str_of(rel, "displayName")
        ));
        return None;
    }
    let mut union: Vec<String> = tiers
        .iter()
        .filter(|t| chosen.contains(&t.name.value))
        .flat_map(|t| tier_roles(t))
        .collect();
    union.sort();
    union.dedup();
    let pinned = (union != roles).then(|| roles.clone());
    let rel_name = str_of(rel, "displayName");
    if !crate::gdap::is_tool_name(prefix, name, &roles, rel_name) {
        notes.push(format!(
            "GDAP relationship `{rel_name}` was not named by mssp: the plan creates `{}` with the same roles for the customer's approval; terminate `{rel_name}` in Partner Center once that one is active",
            crate::gdap::relationship_name(prefix, name, &roles)
        ));
    }
    Some((chosen, pinned))
}

fn check_new_tenant(v: &Validated, tenant_id: &str) -> Result<(), ExportError> {
    if !validate::is_guid(tenant_id) {
        return Err(ExportError::BadTenant(tenant_id.to_string()));
    }
    if v.provider
        .doc
        .spec
        .tenant_id
        .value
        .eq_ignore_ascii_case(tenant_id)
    {
        return Err(ExportError::ProviderTenant(tenant_id.to_string()));
    }
    if let Some(c) = v
        .customers
        .iter()
        .find(|c| c.doc.spec.tenant_id.value.eq_ignore_ascii_case(tenant_id))
    {
        return Err(ExportError::AlreadyManaged {
            tenant: tenant_id.to_string(),
            name: c.doc.metadata.name.value.clone(),
            path: c.file.path.display().to_string(),
        });
    }
    Ok(())
}

/// A manifest name from the organization's name (or its domain's first label).
fn name_from(display_name: &str, domain: &str) -> String {
    let mut s = expand::slug(display_name);
    if s.is_empty() {
        s = expand::slug(domain.split('.').next().unwrap_or(""));
    }
    if s.is_empty() {
        s = "customer".into();
    }
    s.chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

/// Chooses tiers, trust, permission model and SIEM from what exists (adopted objects
/// included: the last read was made with them pinned).
fn decide(
    d: &mut Draft,
    p: &manifest::ProviderManifest,
    universe: &DesiredTenant,
    state: &read::TenantState,
) {
    let present = |kind: Kind, name: &str| {
        matches!(
            state.observed.get(&Address::new(kind, name)),
            Some(Observed::Present { .. })
        )
    };
    let mut tiers = Vec::new();
    let mut unified = false;
    for tier in &p.spec.tiers {
        let t = tier.name.value.as_str();
        let found = present(Kind::Group, t)
            || present(Kind::AccessPackage, t)
            || present(Kind::AssignmentPolicy, t)
            || present(Kind::DefenderRole, t);
        if found {
            tiers.push(t.to_string());
            unified |= present(Kind::DefenderRole, t);
        }
    }
    let legacy_only = !unified
        && p.spec.tiers.iter().any(|t| {
            tiers.contains(&t.name.value)
                && t.defender.legacy_role.is_some()
                && t.defender.unified_role.is_none()
        });
    d.defender_rbac = if legacy_only {
        DefenderRbac::Legacy
    } else {
        DefenderRbac::Unified
    };
    d.tiers = tiers;
    let partner = universe
        .resources
        .iter()
        .find(|r| r.address.kind == Kind::CrossTenantPartner)
        .and_then(|r| state.observed.get(&r.address));
    (d.trust_mfa, d.trust_compliant_devices) = match partner {
        Some(Observed::Present { view, .. }) => {
            let flag = |k: &str| view["inboundTrust"][k].as_bool().unwrap_or(false);
            (flag("isMfaAccepted"), flag("isCompliantDeviceAccepted"))
        }
        _ => (false, false),
    };
    d.siem = d.siem && present(Kind::ServicePrincipal, "siem");
}

/// Hand-made objects not found by the tool's keys that can be tied to a tier by what they
/// are: a same-named group without `uniqueName`, the catalog holding the package that grants
/// a tier group, the one policy of a tier package, the role and role assignment given to a
/// tier group. Only what is not adopted yet is returned; ambiguity is listed, never guessed.
fn discover(
    p: &manifest::ProviderManifest,
    universe: &DesiredTenant,
    state: &read::TenantState,
    known: &[Adopted],
    unplaceable: &mut Vec<String>,
) -> Vec<Adopted> {
    let absent = |a: &Address| matches!(state.observed.get(a), Some(Observed::Absent));
    let is_known = |a: &Address| known.iter().any(|k| k.resource == a.to_string());
    let mut out: Vec<Adopted> = Vec::new();
    let catalog = Address::new(Kind::Catalog, p.spec.naming.prefix.value.clone());
    let org_id = universe
        .resources
        .iter()
        .find(|r| r.address.kind == Kind::ConnectedOrganization)
        .and_then(|r| state.ids.of(&r.address));
    let mut catalogs: Vec<(String, String)> = Vec::new();
    for tier in &p.spec.tiers {
        let t = tier.name.value.as_str();
        let group = Address::new(Kind::Group, t);
        if absent(&group)
            && !is_known(&group)
            && let Some(a) = adoptable_group(universe, state, t, unplaceable)
        {
            out.push(a);
        }
        let group_id = state.ids.of(&group).map(str::to_string).or_else(|| {
            known
                .iter()
                .chain(&out)
                .find(|a| a.resource == group.to_string())
                .map(|a| a.id.clone())
        });
        let Some(group_id) = group_id else { continue };
        if absent(&catalog) && !is_known(&catalog) {
            for pkg in packages_granting(&state.snapshot, &group_id) {
                if let Some(c) = pkg.get("catalog") {
                    let entry = (
                        str_of(c, "id").to_string(),
                        str_of(c, "displayName").to_string(),
                    );
                    if !catalogs.contains(&entry) {
                        catalogs.push(entry);
                    }
                }
            }
        }
        let policy = Address::new(Kind::AssignmentPolicy, t);
        if let Some(pkg) = state.ids.of(&Address::new(Kind::AccessPackage, t))
            && absent(&policy)
            && !is_known(&policy)
        {
            let policies = kinds::assignment_policy::on_package(&state.snapshot, pkg, org_id);
            match policies.as_slice() {
                [one] => out.push(adoption(&policy, one)),
                [] => {}
                many => {
                    unplaceable.push(ambiguous(&policy, "policies on the tier's package", many))
                }
            }
        }
        let role = Address::new(Kind::DefenderRole, t);
        if tier.defender.unified_role.is_some() && absent(&role) && !is_known(&role) {
            let roles = kinds::defender_role::assigned_to(&state.snapshot, &group_id);
            match roles.as_slice() {
                [one] => out.push(adoption(&role, one)),
                [] => {}
                many => {
                    unplaceable.push(ambiguous(&role, "roles assigned to the tier group", many))
                }
            }
        }
        if let Some(a) = adoptable_assignment(state, t, &group_id, unplaceable) {
            out.push(a);
        }
    }
    match catalogs.as_slice() {
        [(id, name)] => out.push(Adopted {
            resource: catalog.to_string(),
            id: id.clone(),
            display_name: name.clone(),
        }),
        [] => {}
        many => unplaceable.push(format!(
            "{catalog}: the tier packages are in {} catalogs ({}); adopt the right one with spec.adopt",
            many.len(),
            many.iter().map(|(id, n)| format!("{id} \"{n}\"")).collect::<Vec<_>>().join(", ")
        )),
    }
    out.retain(|a| !known.iter().any(|k| k.resource == a.resource));
    out
}

fn adoption(address: &Address, v: &Value) -> Adopted {
    Adopted {
        resource: address.to_string(),
        id: str_of(v, "id").to_string(),
        display_name: str_of(v, "displayName").to_string(),
    }
}

fn ambiguous(address: &Address, what: &str, many: &[&Value]) -> String {
    format!(
        "{address}: {} {what} ({}); adopt the right one with spec.adopt",
        many.len(),
        many.iter()
            .map(|v| format!("{} \"{}\"", str_of(v, "id"), str_of(v, "displayName")))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Every access package (in any catalog) that grants membership of the group.
fn packages_granting<'a>(snap: &'a Snapshot, group_id: &str) -> Vec<&'a Value> {
    snap.items(kinds::access_package::KEY)
        .unwrap_or_default()
        .iter()
        .filter(|p| kinds::access_package::grants_group(p, group_id))
        .collect()
}

/// A tier group made by hand: the one group its access package grants, else the only
/// same-named group without `uniqueName`. Several candidates are listed, not guessed.
fn adoptable_group(
    universe: &DesiredTenant,
    state: &read::TenantState,
    tier: &str,
    unplaceable: &mut Vec<String>,
) -> Option<Adopted> {
    let address = Address::new(Kind::Group, tier);
    let Spec::Group(g) = &universe
        .resources
        .iter()
        .find(|r| r.address == address)?
        .spec
    else {
        return None;
    };
    let candidates = kinds::group::adoption_candidates(g, &state.snapshot);
    let package = state.observed.get(&Address::new(Kind::AccessPackage, tier));
    let granted: Vec<&Value> = match package {
        Some(Observed::Present { id, .. }) => candidates
            .iter()
            .filter(|c| package_grants(&state.snapshot, id, str_of(c, "id")))
            .copied()
            .collect(),
        _ => vec![],
    };
    let pick = match (granted.as_slice(), candidates.as_slice()) {
        ([one], _) | ([], [one]) => Some(*one),
        (_, []) => None,
        _ => {
            unplaceable.push(format!(
                "{address}: {} groups named \"{}\" without uniqueName ({}); adopt the right one with spec.adopt",
                candidates.len(),
                g.display_name,
                candidates
                    .iter()
                    .map(|c| str_of(c, "id"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            None
        }
    }?;
    Some(Adopted {
        resource: address.to_string(),
        id: str_of(pick, "id").to_string(),
        display_name: g.display_name.clone(),
    })
}

/// A hand-made assignment of the tier's Defender role to the tier's group, under another
/// name than the tool's.
fn adoptable_assignment(
    state: &read::TenantState,
    tier: &str,
    group_id: &str,
    unplaceable: &mut Vec<String>,
) -> Option<Adopted> {
    let address = Address::new(Kind::DefenderRoleAssignment, tier);
    if !matches!(state.observed.get(&address), Some(Observed::Absent)) {
        return None;
    }
    let role_id = state.ids.of(&Address::new(Kind::DefenderRole, tier))?;
    let found = kinds::defender_role_assignment::assigning(&state.snapshot, role_id, group_id);
    match found.as_slice() {
        [one] => Some(adoption(&address, one)),
        [] => None,
        many => {
            unplaceable.push(ambiguous(
                &address,
                "assignments of the tier role to the tier group",
                many,
            ));
            None
        }
    }
}

fn package_grants(snap: &Snapshot, package_id: &str, group_id: &str) -> bool {
    snap.items(kinds::access_package::KEY)
        .unwrap_or_default()
        .iter()
        .find(|p| str_of(p, "id") == package_id)
        .is_some_and(|p| kinds::access_package::grants_group(p, group_id))
}

/// MSSP-related objects with no place in the manifest: other packages in the MSSP's catalog,
/// and app roles granted to the SIEM app beyond the provider's `siem.permissions`.
fn foreign_objects(
    p: &manifest::ProviderManifest,
    universe: &DesiredTenant,
    state: &read::TenantState,
) -> Vec<String> {
    let mut out = Vec::new();
    let catalog = Address::new(Kind::Catalog, p.spec.naming.prefix.value.clone());
    if let Some(cat) = state.ids.of(&catalog) {
        // Tier packages are known by id: a renamed one was found through the group it grants.
        let known: Vec<&str> = universe
            .resources
            .iter()
            .filter(|r| r.address.kind == Kind::AccessPackage)
            .filter_map(|r| state.ids.of(&r.address))
            .collect();
        for pkg in state
            .snapshot
            .items(kinds::access_package::KEY)
            .unwrap_or_default()
        {
            let in_catalog = pkg.get("catalog").is_some_and(|c| str_of(c, "id") == cat);
            if in_catalog && !known.contains(&str_of(pkg, "id")) {
                out.push(format!(
                    "access package \"{}\" ({}) in catalog \"{}\" is not a tier of the provider; left out",
                    str_of(pkg, "displayName"),
                    str_of(pkg, "id"),
                    pkg.get("catalog")
                        .map_or("", |c| str_of(c, "displayName"))
                ));
            }
        }
    }
    let sp = Address::new(Kind::ServicePrincipal, "siem");
    if let Some(sp_id) = state.ids.of(&sp) {
        let declared: Vec<(String, String)> = universe
            .resources
            .iter()
            .filter_map(|r| match &r.spec {
                Spec::AppRoleGrant(g) => {
                    let (res, role) = kinds::app_role_grant::resolve(g, &state.snapshot);
                    Some((res?, role?))
                }
                _ => None,
            })
            .collect();
        for grant in state
            .snapshot
            .items(&format!("app-role-assignments:{sp_id}"))
            .unwrap_or_default()
        {
            let key = (
                str_of(grant, "resourceId").to_string(),
                str_of(grant, "appRoleId").to_string(),
            );
            if !declared.contains(&key) {
                out.push(format!(
                    "app role {} of {} granted to the SIEM app is not in the provider's siem.permissions; left out",
                    read::role_value(&state.snapshot, &key.0, &key.1).unwrap_or(&key.1),
                    grant
                        .get("resourceDisplayName")
                        .and_then(Value::as_str)
                        .unwrap_or(&key.0)
                ));
            }
        }
    }
    out
}

/// Validates the draft with the provider and plans it against the tenant.
async fn plan_draft(
    v: &Validated,
    d: &Draft,
    graph: &Arc<Graph>,
    endpoints: &Endpoints,
    ids: &Ids,
    opts: &PlanOptions,
    base_dir: &Path,
) -> Result<TenantPlan, ExportError> {
    let checked = d.validate(v)?;
    let c = &checked.customers[0];
    let p = &checked.provider;
    let desired = expand::expand_customer(p, &c.doc);
    let universe = expand::universe_customer(p, &c.doc);
    let (tp, _) = plan::plan_tenant(
        graph,
        endpoints,
        TenantJob {
            desired: &desired,
            universe: &universe,
            exceptions: plan::exception_rules(c, opts.today),
            allow_protected: false,
            ids: ids.clone(),
            expiry_window: None,
        },
        opts,
        base_dir,
    )
    .await;
    if let Some(reason) = &tp.blocked_reason {
        return Err(ExportError::Read {
            tenant: d.tenant_id.clone(),
            reason: reason.clone(),
        });
    }
    Ok(tp)
}

/// The manifest being written.
struct Draft {
    name: String,
    tenant_id: String,
    domain: String,
    display_name: String,
    cloud: Option<Cloud>,
    tiers: Vec<String>,
    trust_mfa: bool,
    trust_compliant_devices: bool,
    defender_rbac: DefenderRbac,
    siem: bool,
    adopt: Vec<(String, String)>,
    /// `metadata.labels`: the adopted detection rules' selection.
    labels: BTreeMap<String, String>,
    /// Detection library entries the Provider does not hold yet (adopted by this or an earlier
    /// export): the draft is validated and planned as if they were pasted in.
    library: Vec<manifest::DetectionRule>,
    /// `access.gdap`: tiers and, when they differ from the tiers' union, the roles.
    gdap: Option<(Vec<String>, Option<Vec<String>>)>,
    exceptions: Vec<DraftException>,
    owner: Option<String>,
    expires: jiff::civil::Date,
    today: jiff::civil::Date,
}

struct DraftException {
    resource: String,
    field: String,
    live: Value,
    /// A detection rule's override (`status`, `severity`): the live value, kept by the rule.
    value: Option<String>,
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

impl Draft {
    /// The draft as a manifest value, for expansion before any YAML exists.
    fn manifest(&self) -> CustomerManifest {
        let s = |v: &str| Loc::synthetic(v.to_string());
        CustomerManifest {
            api_version: s("mssp.io/v1"),
            kind: s("Customer"),
            metadata: Metadata {
                name: s(&self.name),
                labels: self.labels.clone(),
            },
            spec: manifest::CustomerSpec {
                tenant_id: s(&self.tenant_id),
                domain: s(&self.domain),
                display_name: self.display_name.clone(),
                cloud: self.cloud.map(Loc::synthetic),
                access: Access {
                    tiers: self.tiers.iter().map(|t| s(t)).collect(),
                    trust_mfa: self.trust_mfa,
                    trust_compliant_devices: self.trust_compliant_devices,
                    defender_rbac: self.defender_rbac,
                    gdap: self
                        .gdap
                        .as_ref()
                        .map(|(tiers, roles)| manifest::CustomerGdap {
                            tiers: tiers.iter().map(|t| s(t)).collect(),
                            roles: roles.as_ref().map(|r| r.iter().map(|x| s(x)).collect()),
                        }),
                },
                notifications: vec![],
                siem: CustomerSiem { enabled: self.siem },
                exceptions: vec![],
                attestations: vec![],
                lifecycle: Lifecycle::default(),
                adopt: self
                    .adopt
                    .iter()
                    .map(|(resource, id)| manifest::Adoption {
                        resource: s(resource),
                        id: s(id),
                    })
                    .collect(),
            },
        }
    }

    fn yaml(&self) -> String {
        let mut y = String::new();
        y.push_str(&format!(
            "# Exported by `mssp export` on {} from tenant {}.\n# Review it, commit it, then run `mssp plan`: it should show no changes.\n",
            self.today, self.tenant_id
        ));
        y.push_str("apiVersion: mssp.io/v1\nkind: Customer\nmetadata:\n");
        y.push_str(&format!("  name: {}\n", q(&self.name)));
        if !self.labels.is_empty() {
            y.push_str("  # Selects the detection rules adopted from this tenant.\n  labels:\n");
            for (k, v) in &self.labels {
                y.push_str(&format!("    {}: {}\n", q(k), q(v)));
            }
        }
        y.push_str("spec:\n");
        y.push_str(&format!("  tenantId: {}\n", q(&self.tenant_id)));
        y.push_str(&format!("  domain: {}\n", q(&self.domain)));
        y.push_str(&format!("  displayName: {}\n", q(&self.display_name)));
        if let Some(c) = self.cloud
            && let Ok(Value::String(c)) = serde_json::to_value(c)
        {
            y.push_str(&format!("  cloud: {c}\n"));
        }
        y.push_str("  access:\n");
        let tiers: Vec<String> = self.tiers.iter().map(|t| q(t)).collect();
        y.push_str(&format!("    tiers: [{}]\n", tiers.join(", ")));
        y.push_str(&format!("    trustMfa: {}\n", self.trust_mfa));
        y.push_str(&format!(
            "    trustCompliantDevices: {}\n",
            self.trust_compliant_devices
        ));
        y.push_str(&format!(
            "    defenderRbac: {}\n",
            match self.defender_rbac {
                DefenderRbac::Unified => "unified",
                DefenderRbac::Legacy => "legacy",
            }
        ));
        if let Some((tiers, roles)) = &self.gdap {
            let tiers: Vec<String> = tiers.iter().map(|t| q(t)).collect();
            y.push_str(&format!("    gdap:\n      tiers: [{}]\n", tiers.join(", ")));
            if let Some(roles) = roles {
                y.push_str("      roles:\n");
                for r in roles {
                    let name = crate::gdap::role_name(r).unwrap_or("unknown role");
                    y.push_str(&format!("        - {} # {name}\n", q(r)));
                }
            }
        }
        y.push_str(&format!("  siem:\n    enabled: {}\n", self.siem));
        if !self.adopt.is_empty() {
            y.push_str("  # Made by hand, these lack the key the tool finds its objects by: pinned by id.\n  adopt:\n");
            for (resource, id) in &self.adopt {
                y.push_str(&format!(
                    "    - resource: {resource}\n      id: {}\n",
                    q(id)
                ));
            }
        }
        if let Some(owner) = &self.owner
            && !self.exceptions.is_empty()
        {
            y.push_str("  # Live values that differ from the provider's standard, kept as found.\n  # Remove an entry to converge it on the next apply.\n  exceptions:\n");
            for e in &self.exceptions {
                y.push_str(&format!(
                    "    - resource: {}\n      field: {}\n      reason: {}\n      owner: {}\n      expires: {}\n",
                    e.resource,
                    e.field,
                    q(&format!(
                        "kept as found by mssp export on {}: {}",
                        self.today,
                        truncate(&e.live.to_string(), 200)
                    )),
                    q(owner),
                    self.expires
                ));
                if let Some(v) = &e.value {
                    y.push_str(&format!("      value: {}\n", q(v)));
                }
            }
        }
        y
    }

    /// Parses the YAML back and validates it with the provider: the export is only ever
    /// written if it is a valid manifest.
    fn validate(&self, v: &Validated) -> Result<Validated, ExportError> {
        let file = SourceFile::new(format!("{}.yaml", self.name), self.yaml());
        let mut out = manifest::LoadOutcome::default();
        manifest::parse_source(&file, true, &mut out);
        let mut set = out.set;
        let mut provider = v.provider.sourced();
        provider
            .doc
            .spec
            .detections
            .extend(self.library.iter().cloned());
        set.providers.push(provider);
        let (checked, diags) = validate::validate(&set, self.today);
        let mut diags_all = out.diagnostics;
        diags_all.extend(diags);
        match checked {
            Some(c) if !diags_all.has_errors() && c.customers.len() == 1 => Ok(c),
            _ => Err(ExportError::Invalid(diags_all.render())),
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}
