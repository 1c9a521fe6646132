//! GDAP in the access report and the portal links: the MSSP (partner) tenant's delegated admin
//! relationships per customer tenant, with their roles by name, status, end date,
//! auto-extension and access assignments (which of the MSSP's groups holds which roles), read
//! live with the plan's reads of the MSSP tenant plus each live relationship's assignments.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::graph::{Service, TenantGraph, Version};
use crate::kinds::Spec;
use crate::kinds::gdap_relationship::{LIST_KEY, is_gone, roles_of, status};
use crate::model::DesiredTenant;
use crate::model::observe::str_of;
use crate::plan::read::TenantState;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GdapEntry {
    pub display_name: String,
    pub id: String,
    /// As Graph returns it (`approvalPending`, `active`, `terminated`, …).
    pub status: String,
    /// Role names (the role template id where the tool does not know the role).
    pub roles: Vec<String>,
    /// End of the relationship, once it is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends: Option<String>,
    /// `autoExtendDuration` (`P180D`), or `no` when it does not extend.
    pub auto_extend: String,
    /// Active, not auto-extending, and ending within the provider's `gdap.expiryWarning`.
    pub expiring: bool,
    /// Where the customer's Global Administrator approves it, while it waits for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_link: Option<String>,
    pub assignments: Vec<GdapAssignmentEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GdapAssignmentEntry {
    /// The MSSP tenant's group (by name where it is a GDAP tier group).
    pub group: String,
    pub roles: Vec<String>,
    pub status: String,
}

/// Relationships per customer tenant id (lowercase), each customer's sorted by name.
pub type GdapByTenant = BTreeMap<String, Vec<GdapEntry>>;

fn role_names(v: &Value) -> Vec<String> {
    roles_of(v)
        .into_iter()
        .map(|r| crate::gdap::role_name(&r).map_or(r, str::to_string))
        .collect()
}

/// Every relationship the MSSP tenant's read found, with the assignments of the live ones.
/// `provider` is `expand::provider_tenant` and `state` its read.
pub(crate) async fn relationships(
    tg: &TenantGraph,
    provider: &DesiredTenant,
    state: &TenantState,
    now: jiff::Timestamp,
    warning_days: i64,
) -> Result<GdapByTenant, crate::graph::GraphError> {
    let groups: Vec<(String, String)> = provider
        .resources
        .iter()
        .filter_map(|r| match &r.spec {
            Spec::Group(g) => Some((
                state.ids.of(&r.address)?.to_string(),
                g.display_name.clone(),
            )),
            _ => None,
        })
        .collect();
    let group_name = |id: &str| {
        groups
            .iter()
            .find(|(g, _)| g.eq_ignore_ascii_case(id))
            .map_or_else(|| format!("group {id}"), |(_, n)| n.clone())
    };
    let warn_before = now
        .checked_add(jiff::SignedDuration::from_hours(
            warning_days.saturating_mul(24),
        ))
        .ok();
    let mut out = GdapByTenant::new();
    for v in state.snapshot.items(LIST_KEY).unwrap_or_default() {
        let id = str_of(v, "id").to_string();
        let mut assignments = Vec::new();
        if !is_gone(v) && status(v) != "created" && status(v) != "approvalPending" {
            let path =
                format!("tenantRelationships/delegatedAdminRelationships/{id}/accessAssignments");
            for a in tg.list(Service::Graph(Version::V1), &path).await? {
                if matches!(str_of(&a, "status"), "deleting" | "deleted") {
                    continue;
                }
                assignments.push(GdapAssignmentEntry {
                    group: group_name(
                        a.pointer("/accessContainer/accessContainerId")
                            .and_then(Value::as_str)
                            .unwrap_or_default(),
                    ),
                    roles: role_names(&a),
                    status: str_of(&a, "status").to_string(),
                });
            }
            assignments.sort_by(|a, b| a.group.cmp(&b.group));
        }
        let auto = str_of(v, "autoExtendDuration");
        let extends = crate::gdap::extends(auto);
        let active = status(v) == "active";
        let end = str_of(v, "endDateTime");
        let expiring = active
            && !extends
            && end
                .parse::<jiff::Timestamp>()
                .ok()
                .zip(warn_before)
                .is_some_and(|(e, w)| e <= w);
        let entry = GdapEntry {
            display_name: str_of(v, "displayName").to_string(),
            status: status(v).to_string(),
            roles: role_names(v),
            // Before activation the end date is only what it would be.
            ends: (active || is_gone(v) || status(v) == "expiring")
                .then(|| end.to_string())
                .filter(|e| !e.is_empty()),
            auto_extend: if extends {
                auto.to_string()
            } else {
                "no".into()
            },
            expiring,
            approval_link: (status(v) == "approvalPending")
                .then(|| crate::gdap::approval_link(&id)),
            id,
            assignments,
        };
        let tenant = v
            .pointer("/customer/tenantId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase();
        out.entry(tenant).or_default().push(entry);
    }
    for list in out.values_mut() {
        list.sort_by(|a, b| a.display_name.cmp(&b.display_name));
    }
    Ok(out)
}
