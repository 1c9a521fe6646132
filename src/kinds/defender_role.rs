//! Defender XDR unified RBAC role definitions (Graph beta).

use serde::Serialize;
use serde_json::{Value, json};

use crate::graph::Version;
use crate::graph::write::{Collection, WriteError, Writer};
use crate::kinds::{ObserveContext, Permissions, ResourceKind, named_or_adopted, perms, present};
use crate::model::observe::{Ids, Observed, Read, Snapshot, str_of};
use crate::model::{Address, ObserveError};
use crate::validate::action_covers;

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
pub(crate) const DOCUMENTED_ACTIONS: &[&str] = &[
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
pub(crate) const ACTIONS_SOURCE: &str =
    "https://learn.microsoft.com/defender-xdr/compare-rbac-roles";

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
pub(crate) fn check_action(action: &str) -> Result<(), UnknownAction> {
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

pub const KEY: &str = "defender-role-definitions";
const ROLES: Collection = Collection::new(Version::Beta, "roleManagement/defender/roleDefinitions");

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

/// The compared view of a role read back: its description and its actions as Defender keeps
/// them.
fn observed_view(v: &Value) -> Value {
    json!({
        "description": v.get("description").cloned().unwrap_or(Value::Null),
        "allowedResourceActions": normalise_actions(&actions_of(v)),
    })
}

/// The actions a role definition read from Graph allows, as Defender returned them.
pub(crate) fn actions_of(role: &Value) -> Vec<String> {
    role.get("rolePermissions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("allowedResourceActions").and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

impl DefenderRoleSpec {
    fn body(&self) -> Value {
        json!({
            "displayName": self.display_name,
            "description": self.description,
            "rolePermissions": [{"allowedResourceActions": self.actions}],
        })
    }
}

/// Defender drops actions that a wildcard in the same role covers; compare on that set,
/// sorted, or every plan would show the same update forever.
pub(crate) fn normalise_actions(actions: &[String]) -> Vec<String> {
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

impl ResourceKind for DefenderRoleSpec {
    const NAME: &'static str = "defender-role";
    const READ_PERMISSIONS: Permissions = perms::DEFENDER_READ;
    const WRITE_PERMISSIONS: Permissions = perms::DEFENDER_WRITE;
    const FIELDS: &'static [&'static str] = &["description", "allowedResourceActions"];
    const ADOPTABLE: bool = true;

    fn read_by_id(id: &str) -> Option<(Version, String)> {
        ROLES.read_by_id(id)
    }

    fn reads(&self, _ids: &Ids) -> Vec<Read> {
        vec![ROLES.read_all(KEY)]
    }

    fn observe(&self, cx: &ObserveContext<'_>) -> Result<Observed, ObserveError> {
        let Some(items) = cx.snap.items(KEY) else {
            return Ok(Observed::Unknown);
        };
        let found = named_or_adopted(
            "Defender role",
            &self.display_name,
            self.adopt_id.as_deref(),
            items,
        )?;
        Ok(present(found, observed_view))
    }

    fn view(&self, _ids: &Ids) -> Value {
        json!({
            "description": self.description,
            "allowedResourceActions": normalise_actions(&self.actions),
        })
    }

    async fn create(&self, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        ROLES
            .create(w, at, &self.body(), ROLES.path, |items| {
                items
                    .iter()
                    .find(|r| str_of(r, "displayName") == self.display_name)
            })
            .await
    }

    async fn update(&self, id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        ROLES.patch(w, at, id, &self.body()).await
    }

    async fn delete(&self, id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        ROLES.delete(w, at, id).await
    }
}
