//! The access report: per customer, what access the MSSP holds there right now — tier groups,
//! access packages with approvers, expiry and reviews, current assignments (who, until when),
//! Defender roles and who holds them, the SIEM app's grants and credential expiry, and manual
//! items with their attestations. Read live (the plan's reads plus the assignments), so it can
//! be handed to a customer and kept: entries are sorted and the JSON is versioned, so two
//! reports diff cleanly.

mod gdap;
mod render;

use std::path::Path;
use std::sync::Arc;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use gdap::{GdapAssignmentEntry, GdapEntry};
pub use render::{html, markdown};

use crate::cloud::Cloud;
use crate::expand;
use crate::graph::{Graph, Service, Version};
use crate::kinds::{self, Address, DesiredTenant, Kind, Spec};
use crate::manifest::DefenderRbac;
use crate::model::observe::{ENTITLEMENT, Ids, Observed, Snapshot, enc, str_of};
use crate::plan::{Endpoints, read};
use crate::validate::Validated;

/// Version of the JSON report; bumped on any incompatible change.
pub(crate) const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub format_version: u32,
    pub generated_at: String,
    /// The MSSP (provider manifest's display name).
    pub provider: String,
    pub customers: Vec<CustomerReport>,
    /// Set on the output of `--shard K/N`, which lists only that shard's customers; `mssp
    /// merge` joins the shards into one report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::shard::Shard>,
    /// With `shard`: the digest of the whole manifest set (as in plans), so shards of
    /// different manifests are not merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifests_digest: Option<String>,
}

impl Report {
    /// Customers whose tenant could not be read completely.
    pub fn failed(&self) -> impl Iterator<Item = &CustomerReport> {
        self.customers.iter().filter(|c| c.error.is_some())
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerReport {
    pub name: String,
    pub display_name: String,
    pub tenant_id: String,
    pub cloud: Cloud,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub portal_link: Option<String>,
    /// Why the tenant could not be read; the sections below are then empty, never guessed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub groups: Vec<GroupEntry>,
    pub access_packages: Vec<PackageEntry>,
    /// Who holds access through the MSSP's packages now.
    pub assignments: Vec<AssignmentEntry>,
    /// Whether the MSSP tenant's MFA and compliant-device claims are trusted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust: Option<Trust>,
    pub defender_model: String,
    pub defender_roles: Vec<RoleEntry>,
    pub siem: SiemEntry,
    pub manual_items: Vec<ManualEntry>,
    /// Custom detection rules the tool owns here (display name with the provider's prefix).
    /// Omitted when there are none, so reports of tenants without rules keep their shape.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detection_rules: Vec<DetectionRuleEntry>,
    /// GDAP relationships of the MSSP (partner) tenant with this customer, and their access
    /// assignments. Omitted when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gdap: Vec<GdapEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectionRuleEntry {
    pub display_name: String,
    pub id: String,
    /// As Graph returns it: `enabled`, `disabled` or `autoDisabled` (Defender turned it off
    /// after repeated failures). Graph v1.0 gives no last-run details.
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupEntry {
    pub tier: String,
    pub display_name: String,
    /// Absent when the group does not exist in the tenant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageEntry {
    pub tier: String,
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Where analysts request it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_link: Option<String>,
    /// How long an assignment lasts (`P90D`), or `no expiry`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
    pub approval_required: bool,
    pub approvers: Vec<String>,
    /// `every 3 months, 7 days to complete`, when reviews are on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentEntry {
    pub package: String,
    pub principal: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// End of the assignment, or `no end`.
    pub until: String,
    /// Ends within the warning window (the provider's `siem.expiryWarning`, 30 days by default).
    pub expiring: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Trust {
    pub mfa: bool,
    pub compliant_devices: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleEntry {
    pub tier: String,
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub actions: Vec<String>,
    /// Groups (by name where they are tier groups) the role is assigned to.
    pub assigned_to: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SiemEntry {
    /// Whether the manifest grants the SIEM app access here.
    pub enabled: bool,
    /// The SIEM app's service principal in this tenant (absent: not consented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_principal: Option<String>,
    /// Application permissions granted to it: `Microsoft Graph: SecurityAlert.Read.All`.
    pub grants: Vec<String>,
    pub credentials: Vec<CredentialEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialEntry {
    pub name: String,
    /// `secret`, `certificate` or `federated`.
    pub kind: String,
    /// End of validity; federated credentials have none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends: Option<String>,
    /// Ends within the provider's `siem.expiryWarning`.
    pub expiring: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManualEntry {
    pub address: String,
    pub title: String,
    /// `by on (note)`, or absent when not attested yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attested: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Limit to these customers (all when empty).
    pub customers: Vec<String>,
    pub parallelism: usize,
    pub now: jiff::Timestamp,
}

/// Reads every selected customer tenant and reports on it. Never fails as a whole: a tenant
/// that cannot be read is in the report with its error.
pub async fn report(
    v: &Validated,
    graph: Arc<Graph>,
    endpoints: &Endpoints,
    opts: &ReportOptions,
) -> Report {
    let p = &v.provider.doc;
    let base_dir = v.base_dir();
    let window = v.siem_expiry_window();

    // The SIEM app and its credentials live in the MSSP tenant (multi-tenant variant), and so
    // do the GDAP relationships.
    let provider = expand::provider_tenant(v);
    let ptg = graph.tenant(&provider.tenant_id, endpoints.profile(provider.cloud));
    let provider_state = read::read_tenant(&ptg, &provider, Ids::default(), &base_dir).await;
    let gdap = match &provider_state {
        Ok(s) => gdap::relationships(&ptg, &provider, s, opts.now, gdap_warning_days(v))
            .await
            .map_err(|e| format!("the MSSP tenant's GDAP relationships could not be read: {e}")),
        Err(e) => Err(format!("the MSSP tenant could not be read: {e}")),
    };
    let (siem_app_id, provider_credentials) = match &provider_state {
        Ok(s) => (
            s.ids.siem_app_id.clone(),
            Ok(credentials(&provider, s, opts.now, window)),
        ),
        Err(e) => (None, Err(format!("the MSSP tenant could not be read: {e}"))),
    };

    let mut selected: Vec<&crate::manifest::CustomerManifest> = v
        .customers
        .iter()
        .map(|c| &c.doc)
        .filter(|c| opts.customers.is_empty() || opts.customers.contains(&c.metadata.name.value))
        .collect();
    selected.sort_by(|a, b| a.metadata.name.value.cmp(&b.metadata.name.value));
    let mut customers: Vec<CustomerReport> = futures::stream::iter(selected.into_iter().map(|c| {
        let graph = Arc::clone(&graph);
        let desired = expand::expand_customer(&v.provider, c);
        let ids = Ids {
            siem_app_id: siem_app_id.clone(),
            ..Ids::default()
        };
        let base_dir = base_dir.clone();
        let provider_credentials = provider_credentials.clone();
        let model = c.spec.access.defender_rbac;
        let prefix = p.spec.naming.prefix.value.as_str();
        let siem_enabled = p.spec.siem.is_some() && c.spec.siem.enabled;
        let tenant = c.spec.tenant_id.value.to_ascii_lowercase();
        // Only a customer reached through GDAP is incomplete without the MSSP tenant's read.
        let gdap = match &gdap {
            Ok(all) => Ok(all.get(&tenant).cloned().unwrap_or_default()),
            Err(e) if c.spec.access.gdap.is_some() => Err(e.clone()),
            Err(_) => Ok(vec![]),
        };
        async move {
            let tg = graph.tenant(&desired.tenant_id, endpoints.profile(desired.cloud));
            let mut r = header(&desired, model, siem_enabled);
            match gather(&tg, &desired, ids, &base_dir).await {
                Ok((state, assignments)) => {
                    fill(
                        &mut r,
                        &desired,
                        &state,
                        assignments,
                        warn_before(opts.now, window),
                    );
                    r.detection_rules = detection_rules(&state.snapshot, prefix);
                    match gdap {
                        Ok(g) => r.gdap = g,
                        Err(e) => r.error = Some(e),
                    }
                    // A per-customer SIEM app lives here; the multi-tenant one in the MSSP tenant.
                    let local = credentials(&desired, &state, opts.now, window);
                    r.siem.credentials = if !local.is_empty() {
                        local
                    } else if siem_enabled {
                        match provider_credentials {
                            Ok(c) => c,
                            Err(e) => {
                                r.error = Some(e);
                                vec![]
                            }
                        }
                    } else {
                        vec![]
                    };
                }
                Err(e) => r.error = Some(e.to_string()),
            }
            r
        }
    }))
    .buffer_unordered(opts.parallelism.max(1))
    .collect()
    .await;
    customers.sort_by(|a, b| a.name.cmp(&b.name));
    Report {
        format_version: FORMAT_VERSION,
        generated_at: opts.now.to_string(),
        provider: p.spec.display_name.clone(),
        customers,
        shard: None,
        manifests_digest: None,
    }
}

/// The provider's `gdap.expiryWarning` in days.
fn gdap_warning_days(v: &Validated) -> i64 {
    let settings = v.provider.doc.spec.gdap.clone().unwrap_or_default();
    crate::gdap::duration_days(&settings.expiry_warning.value).unwrap_or(0)
}

fn header(t: &DesiredTenant, model: DefenderRbac, siem: bool) -> CustomerReport {
    CustomerReport {
        name: t.name.clone(),
        display_name: t.display_name.clone(),
        tenant_id: t.tenant_id.clone(),
        cloud: t.cloud,
        portal_link: t.portal_link.clone(),
        defender_model: match model {
            DefenderRbac::Unified => "unified".into(),
            DefenderRbac::Legacy => "legacy".into(),
        },
        siem: SiemEntry {
            enabled: siem,
            ..SiemEntry::default()
        },
        ..CustomerReport::default()
    }
}

/// The plan's reads of the tenant, then the current assignments of each tier package.
async fn gather(
    tg: &crate::graph::TenantGraph,
    desired: &DesiredTenant,
    ids: Ids,
    base_dir: &Path,
) -> Result<(read::TenantState, Vec<Value>), read::ReadError> {
    let state = read::read_tenant(tg, desired, ids, base_dir).await?;
    let mut assignments = Vec::new();
    for r in desired
        .resources
        .iter()
        .filter(|r| r.address.kind == Kind::AccessPackage)
    {
        let Some(id) = state.ids.of(&r.address) else {
            continue;
        };
        // Documented form (entitlementmanagement-list-assignments): filter by package.
        let filter = enc(&format!("accessPackage/id eq '{id}'"));
        let items = tg
            .list(
                Service::Graph(Version::V1),
                &format!("{ENTITLEMENT}/assignments?$filter={filter}&$expand=target,accessPackage"),
            )
            .await?;
        assignments.extend(items);
    }
    Ok((state, assignments))
}

/// The instant before which an end date counts as expiring.
fn warn_before(
    now: jiff::Timestamp,
    window: Option<std::time::Duration>,
) -> Option<jiff::Timestamp> {
    now.checked_add(window.unwrap_or(DEFAULT_WARNING)).ok()
}

/// The warning window when the provider sets none (the default of `siem.expiryWarning`).
const DEFAULT_WARNING: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

fn fill(
    r: &mut CustomerReport,
    t: &DesiredTenant,
    state: &read::TenantState,
    assignments: Vec<Value>,
    warn_before: Option<jiff::Timestamp>,
) {
    let snap = &state.snapshot;
    let id_of = |a: &Address| state.ids.of(a).map(str::to_string);
    let group_names: Vec<(String, String)> = t
        .resources
        .iter()
        .filter_map(|x| match &x.spec {
            Spec::Group(g) => Some((id_of(&x.address)?, g.display_name.clone())),
            _ => None,
        })
        .collect();
    let name_of_group = |id: &str| {
        group_names
            .iter()
            .find(|(g, _)| g.eq_ignore_ascii_case(id))
            .map_or_else(|| format!("group {id}"), |(_, n)| n.clone())
    };
    let myaccess = t.cloud.profile().myaccess_link(&t.domain);
    let mut package_names: Vec<(String, String)> = Vec::new();
    for x in &t.resources {
        let tier = x.address.name.clone();
        match &x.spec {
            Spec::Group(g) => r.groups.push(GroupEntry {
                tier,
                display_name: g.display_name.clone(),
                id: id_of(&x.address),
            }),
            Spec::AccessPackage(pkg) => {
                let id = id_of(&x.address);
                let policy = id_of(&Address::new(Kind::AssignmentPolicy, &tier))
                    .and_then(|pid| policy_object(snap, &pid));
                if let Some(id) = &id {
                    package_names.push((id.clone(), pkg.display_name.clone()));
                }
                r.access_packages.push(PackageEntry {
                    tier,
                    display_name: pkg.display_name.clone(),
                    request_link: id.as_ref().and_then(|i| {
                        myaccess
                            .as_ref()
                            .map(|m| format!("{m}#/access-packages/{i}"))
                    }),
                    id,
                    expiry: policy.map(expiry),
                    approval_required: policy.is_some_and(|p| {
                        p["requestApprovalSettings"]["isApprovalRequiredForAdd"]
                            .as_bool()
                            .unwrap_or(false)
                    }),
                    approvers: policy.map_or_else(Vec::new, |p| approvers(p, &name_of_group)),
                    review: policy.and_then(review),
                });
            }
            Spec::DefenderRole(role) => {
                let id = id_of(&x.address);
                let live = id.as_deref().and_then(|i| {
                    snap.items(kinds::defender_role::KEY)
                        .unwrap_or_default()
                        .iter()
                        .find(|v| str_of(v, "id").eq_ignore_ascii_case(i))
                });
                let mut actions = live
                    .map(kinds::defender_role::actions_of)
                    .unwrap_or_default();
                actions.sort();
                let mut assigned_to: Vec<String> = id
                    .as_deref()
                    .map(|i| kinds::defender_role_assignment::principals_of(snap, i))
                    .unwrap_or_default()
                    .iter()
                    .map(|g| name_of_group(g))
                    .collect();
                assigned_to.sort();
                r.defender_roles.push(RoleEntry {
                    tier,
                    display_name: role.display_name.clone(),
                    id,
                    actions,
                    assigned_to,
                });
            }
            Spec::CrossTenantPartner(_) => {
                if let Some(Observed::Present { view, .. }) = state.observed.get(&x.address) {
                    let flag = |k: &str| view["inboundTrust"][k].as_bool().unwrap_or(false);
                    r.trust = Some(Trust {
                        mfa: flag("isMfaAccepted"),
                        compliant_devices: flag("isCompliantDeviceAccepted"),
                    });
                }
            }
            Spec::ServicePrincipal(_) if x.address.name == "siem" => {
                r.siem.service_principal = id_of(&x.address);
            }
            Spec::Manual(m) => r.manual_items.push(ManualEntry {
                address: x.address.to_string(),
                title: m.title.clone(),
                attested: m.attested.as_ref().map(|a| match &a.note {
                    Some(n) => format!("{} on {} ({n})", a.by, a.on),
                    None => format!("{} on {}", a.by, a.on),
                }),
            }),
            _ => {}
        }
    }
    if let Some(sp) = &r.siem.service_principal {
        let mut grants: Vec<String> = snap
            .items(&format!("app-role-assignments:{sp}"))
            .unwrap_or_default()
            .iter()
            .map(|g| {
                let role = read::role_value(snap, str_of(g, "resourceId"), str_of(g, "appRoleId"))
                    .map(str::to_string)
                    .unwrap_or_else(|| str_of(g, "appRoleId").to_string());
                format!("{}: {role}", str_of(g, "resourceDisplayName"))
            })
            .collect();
        grants.sort();
        r.siem.grants = grants;
    }
    let mut entries: Vec<AssignmentEntry> = assignments
        .iter()
        .map(|a| {
            let target = a.get("target").cloned().unwrap_or(Value::Null);
            let package_id = a
                .get("accessPackage")
                .map_or("", |p| str_of(p, "id"))
                .to_string();
            AssignmentEntry {
                package: package_names
                    .iter()
                    .find(|(id, _)| id.eq_ignore_ascii_case(&package_id))
                    .map_or(package_id.clone(), |(_, n)| n.clone()),
                principal: [
                    str_of(&target, "displayName"),
                    str_of(&target, "principalName"),
                    str_of(&target, "objectId"),
                ]
                .into_iter()
                .find(|s| !s.is_empty())
                .unwrap_or("(unknown)")
                .to_string(),
                email: target
                    .get("email")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
                state: str_of(a, "state").to_string(),
                since: a["schedule"]["startDateTime"].as_str().map(str::to_string),
                until: a["schedule"]["expiration"]["endDateTime"]
                    .as_str()
                    .map_or_else(|| "no end".to_string(), str::to_string),
                expiring: a["schedule"]["expiration"]["endDateTime"]
                    .as_str()
                    .and_then(|e| e.parse::<jiff::Timestamp>().ok())
                    .zip(warn_before)
                    .is_some_and(|(end, limit)| end <= limit),
            }
        })
        .collect();
    entries.sort_by(|a, b| (&a.package, &a.principal).cmp(&(&b.package, &b.principal)));
    r.assignments = entries;
}

/// The tool's rules among those the plan read (read only when the customer gets rules, so a
/// tenant without any costs no extra request).
fn detection_rules(snap: &Snapshot, prefix: &str) -> Vec<DetectionRuleEntry> {
    let mark = crate::validate::detections::rule_display_name(prefix, "");
    let mut out: Vec<DetectionRuleEntry> = snap
        .items(kinds::detection_rule::KEY)
        .unwrap_or_default()
        .iter()
        .filter(|v| str_of(v, "displayName").starts_with(&mark))
        .map(|v| DetectionRuleEntry {
            display_name: str_of(v, "displayName").to_string(),
            id: str_of(v, "id").to_string(),
            status: str_of(v, "status").to_string(),
        })
        .collect();
    out.sort_by(|a, b| (&a.display_name, &a.id).cmp(&(&b.display_name, &b.id)));
    out
}

fn policy_object<'a>(snap: &'a Snapshot, id: &str) -> Option<&'a Value> {
    snap.items(kinds::assignment_policy::KEY)
        .unwrap_or_default()
        .iter()
        .find(|p| str_of(p, "id").eq_ignore_ascii_case(id))
}

fn expiry(p: &Value) -> String {
    let e = &p["expiration"];
    match str_of(e, "type") {
        "noExpiration" => "no expiry".into(),
        "afterDateTime" => format!("until {}", str_of(e, "endDateTime")),
        _ => str_of(e, "duration").to_string(),
    }
}

fn approvers(p: &Value, name_of_group: &dyn Fn(&str) -> String) -> Vec<String> {
    let mut out: Vec<String> = p["requestApprovalSettings"]["stages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["primaryApprovers"].as_array().into_iter().flatten())
        .map(
            |a| match str_of(a, "@odata.type").trim_start_matches("#microsoft.graph.") {
                "groupMembers" => format!("members of {}", name_of_group(str_of(a, "groupId"))),
                "singleUser" => format!("user {}", str_of(a, "userId")),
                "externalSponsors" => "the requestor's external sponsors".into(),
                "internalSponsors" => "the requestor's internal sponsors".into(),
                "requestorManager" => "the requestor's manager".into(),
                other => other.to_string(),
            },
        )
        .collect();
    out.sort();
    out.dedup();
    out
}

fn review(p: &Value) -> Option<String> {
    let r = &p["reviewSettings"];
    if !r["isEnabled"].as_bool().unwrap_or(false) {
        return None;
    }
    let months = r["schedule"]["recurrence"]["pattern"]["interval"]
        .as_u64()
        .unwrap_or(0);
    let duration = str_of(&r["schedule"]["expiration"], "duration");
    Some(format!(
        "every {months} month{}, {duration} to complete",
        if months == 1 { "" } else { "s" }
    ))
}

/// The SIEM application's credentials in `t`, if the app lives there.
fn credentials(
    t: &DesiredTenant,
    state: &read::TenantState,
    now: jiff::Timestamp,
    window: Option<std::time::Duration>,
) -> Vec<CredentialEntry> {
    let Some(app) = t.resources.iter().find_map(|r| match &r.spec {
        Spec::Application(a) => kinds::application::object(a, &state.snapshot),
        _ => None,
    }) else {
        return vec![];
    };
    let limit = window.and_then(|w| now.checked_add(w).ok());
    let mut out: Vec<CredentialEntry> = [
        ("passwordCredentials", "secret"),
        ("keyCredentials", "certificate"),
    ]
    .iter()
    .flat_map(|(k, kind)| {
        app.get(*k)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(move |c| (c, *kind))
    })
    .map(|(c, kind)| {
        let ends = c
            .get("endDateTime")
            .and_then(Value::as_str)
            .map(str::to_string);
        let expiring = match (&ends, limit) {
            (Some(e), Some(limit)) => e.parse::<jiff::Timestamp>().is_ok_and(|end| end <= limit),
            _ => false,
        };
        CredentialEntry {
            name: c
                .get("displayName")
                .and_then(Value::as_str)
                .unwrap_or("(unnamed)")
                .to_string(),
            kind: kind.to_string(),
            ends,
            expiring,
        }
    })
    .collect();
    let app_address = t
        .resources
        .iter()
        .find(|r| matches!(r.spec, Spec::Application(_)))
        .map(|r| r.address.clone());
    for r in &t.resources {
        if let Spec::FederatedCredential(f) = &r.spec
            && Some(&f.application) == app_address.as_ref()
            && matches!(
                state.observed.get(&r.address),
                Some(Observed::Present { .. })
            )
        {
            out.push(CredentialEntry {
                name: f.name.clone(),
                kind: "federated".into(),
                ends: None,
                expiring: false,
            });
        }
    }
    out.sort_by(|a, b| (&a.kind, &a.name, &a.ends).cmp(&(&b.kind, &b.name, &b.ends)));
    out
}
