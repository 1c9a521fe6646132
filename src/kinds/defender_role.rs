//! Defender XDR unified RBAC role definitions (Graph beta).

use serde::Serialize;

/// Natural key: `displayName`, owned by the tool.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DefenderRoleSpec {
    pub display_name: String,
    pub description: String,
    pub actions: Vec<String>,
    /// The id of a hand-made object under another name to take over (`spec.adopt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adopt_id: Option<String>,
}

/// The Defender XDR unified RBAC action strings Microsoft documents. `mssp validate` refuses any
/// other (a role with an action the tenant does not offer fails its write with 400 after other
/// objects were created), and the sandbox answers them the same way. Sources:
/// - <https://learn.microsoft.com/defender-xdr/compare-rbac-roles> (Entra roles → unified RBAC
///   permissions: `secops/securitydata/{basics/read,alerts/manage,response/manage}`,
///   `configuration/{authorization,security,system}/{read,manage}`);
/// - <https://learn.microsoft.com/defender-for-identity/role-groups> (`secops/securitydata/read`);
/// - <https://learn.microsoft.com/graph/api/rbacapplication-post-roledefinitions?view=graph-rest-beta>,
///   example 3, the Defender provider (`securityposture/read`).
///
/// The Defender portal offers more permissions (live response, file collection, email
/// quarantine, …: <https://learn.microsoft.com/defender-xdr/custom-permissions-details>), but
/// Microsoft publishes no action string for them; the tenant lists its own under
/// `GET /beta/roleManagement/defender/resourceNamespaces`, whose `resourceActions` Microsoft does
/// not document for this provider.
pub const DOCUMENTED_ACTIONS: &[&str] = &[
    "microsoft.xdr/secops/securitydata/read",
    "microsoft.xdr/secops/securitydata/basics/read",
    "microsoft.xdr/secops/securitydata/alerts/manage",
    "microsoft.xdr/secops/securitydata/response/manage",
    "microsoft.xdr/securityposture/read",
    "microsoft.xdr/configuration/authorization/read",
    "microsoft.xdr/configuration/authorization/manage",
    "microsoft.xdr/configuration/security/read",
    "microsoft.xdr/configuration/security/manage",
    "microsoft.xdr/configuration/system/read",
    "microsoft.xdr/configuration/system/manage",
];

/// Where [`DOCUMENTED_ACTIONS`] come from, for messages.
pub const ACTIONS_SOURCE: &str = "https://learn.microsoft.com/defender-xdr/compare-rbac-roles";

/// Why an action string is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnknownAction {
    #[error("`{action}` is not a Defender XDR action Microsoft documents")]
    Undocumented {
        action: String,
        /// The documented action it most likely misspells.
        suggestion: Option<&'static str>,
    },
    #[error("wildcard `{action}` covers no Defender XDR action Microsoft documents")]
    EmptyWildcard { action: String },
}

/// Accepts a documented action, or a wildcard that covers at least one.
pub fn check_action(action: &str) -> Result<(), UnknownAction> {
    let a = action.to_ascii_lowercase();
    if a.contains('*') {
        if DOCUMENTED_ACTIONS.iter().any(|d| action_covers(&a, d)) {
            return Ok(());
        }
        return Err(UnknownAction::EmptyWildcard {
            action: action.to_string(),
        });
    }
    if DOCUMENTED_ACTIONS.contains(&a.as_str()) {
        return Ok(());
    }
    let suggestion = DOCUMENTED_ACTIONS
        .iter()
        .map(|d| (strsim::damerau_levenshtein(&a, d), *d))
        .filter(|(dist, d)| *dist <= 2.max(d.len() / 16))
        .min_by_key(|(dist, _)| *dist)
        .map(|(_, d)| d);
    Err(UnknownAction::Undocumented {
        action: action.to_string(),
        suggestion,
    })
}

use serde_json::{Value, json};

use crate::graph::Version;
use crate::model::observe::{Observed, Read, Snapshot, single, str_of};
use crate::validate::action_covers;

pub const KEY: &str = "defender-role-definitions";

pub fn reads(_spec: &DefenderRoleSpec) -> Vec<Read> {
    vec![Read::list(
        KEY,
        Version::Beta,
        "/roleManagement/defender/roleDefinitions",
    )]
}

pub fn observe(
    spec: &DefenderRoleSpec,
    snap: &Snapshot,
) -> Result<Observed, crate::model::ObserveError> {
    let Some(items) = snap.items(KEY) else {
        return Ok(Observed::Unknown);
    };
    let matching = items.iter().filter(|r| {
        str_of(r, "displayName") == spec.display_name
            || spec
                .adopt_id
                .as_deref()
                .is_some_and(|id| str_of(r, "id").eq_ignore_ascii_case(id))
    });
    let what = format!("Defender role \"{}\"", spec.display_name);
    Ok(match single(what, matching)? {
        None if spec.adopt_id.is_some() => {
            return Err(crate::model::adopted_missing(
                "Defender role",
                spec.adopt_id.as_deref().unwrap_or_default(),
            ));
        }
        None => Observed::Absent,
        Some(v) => {
            let actions: Vec<String> = v
                .get("rolePermissions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| p.get("allowedResourceActions").and_then(Value::as_array))
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            Observed::Present {
                id: str_of(v, "id").to_string(),
                view: json!({
                    "description": v.get("description").cloned().unwrap_or(Value::Null),
                    "allowedResourceActions": normalise_actions(&actions),
                }),
            }
        }
    })
}

/// Custom role definitions assigned to a group (for adopting a hand-made tier role).
pub fn assigned_to<'a>(snap: &'a Snapshot, group_id: &str) -> Vec<&'a Value> {
    let role_ids: Vec<String> = super::defender_role_assignment::of_principal(snap, group_id);
    snap.items(KEY)
        .unwrap_or_default()
        .iter()
        .filter(|r| !r.get("isBuiltIn").and_then(Value::as_bool).unwrap_or(false))
        .filter(|r| {
            role_ids
                .iter()
                .any(|id| id.eq_ignore_ascii_case(str_of(r, "id")))
        })
        .collect()
}

pub fn view(spec: &DefenderRoleSpec) -> Value {
    json!({
        "description": spec.description,
        "allowedResourceActions": normalise_actions(&spec.actions),
    })
}

pub fn body(spec: &DefenderRoleSpec) -> Value {
    json!({
        "displayName": spec.display_name,
        "description": spec.description,
        "rolePermissions": [{"allowedResourceActions": spec.actions}],
    })
}

/// Defender drops actions that a wildcard in the same role covers; compare on that set,
/// sorted, or every plan would show the same update forever.
pub fn normalise_actions(actions: &[String]) -> Vec<String> {
    let mut out: Vec<String> = actions
        .iter()
        .filter(|a| {
            !actions
                .iter()
                .any(|w| w != *a && w.contains('*') && action_covers(w, a))
        })
        .map(|a| a.to_ascii_lowercase())
        .collect();
    out.sort();
    out.dedup();
    out
}

use crate::graph::Service;
use crate::graph::write::{WriteError, Writer};

const ROLES: &str = "roleManagement/defender/roleDefinitions";

pub async fn create(
    spec: &DefenderRoleSpec,
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    let id = crate::graph::write::create_recovering(
        w,
        at,
        Version::Beta,
        ROLES,
        &body(spec),
        || async {
            let items = w.list(at, Service::Graph(Version::Beta), ROLES).await?;
            Ok(items
                .iter()
                .find(|r| str_of(r, "displayName") == spec.display_name)
                .map(|r| str_of(r, "id").to_string()))
        },
    )
    .await?;
    w.set_id(at, &id);
    Ok(())
}

pub async fn update(
    spec: &DefenderRoleSpec,
    id: &str,
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    crate::graph::write::patch_path(w, at, Version::Beta, &format!("{ROLES}/{id}"), &body(spec))
        .await
}

pub async fn delete(
    id: &str,
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    crate::graph::write::delete_path(w, at, Version::Beta, &format!("{ROLES}/{id}")).await
}

impl crate::kinds::ResourceKind for DefenderRoleSpec {
    const NAME: &'static str = "defender-role";
    const READ_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::DEFENDER_READ;
    const WRITE_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::DEFENDER_WRITE;
    const FIELDS: &'static [&'static str] = &["description", "allowedResourceActions"];
    const ADOPTABLE: bool = true;

    fn read_by_id(id: &str) -> Option<(crate::graph::Version, String)> {
        let id = crate::model::observe::enc(id);
        Some((
            crate::graph::Version::Beta,
            format!("roleManagement/defender/roleDefinitions/{id}"),
        ))
    }
    fn reads(&self, _ids: &crate::model::Ids) -> Vec<crate::model::Read> {
        reads(self)
    }
    fn observe(
        &self,
        cx: &crate::kinds::ObserveContext<'_>,
    ) -> Result<crate::model::Observed, crate::model::ObserveError> {
        observe(self, cx.snap)
    }
    fn view(&self, _ids: &crate::model::Ids) -> serde_json::Value {
        view(self)
    }
    async fn create(
        &self,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        create(self, at, w).await
    }
    async fn update(
        &self,
        id: &str,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        update(self, id, at, w).await
    }
    async fn delete(
        &self,
        id: &str,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        delete(id, at, w).await
    }
}
