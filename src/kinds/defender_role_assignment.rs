//! Assignments of unified RBAC roles to tier groups (Graph beta).

use serde::Serialize;
use serde_json::{Value, json};

use crate::graph::Version;
use crate::graph::write::{Collection, WriteError, Writer};
use crate::kinds::{ObserveContext, Permissions, ResourceKind, named_or_adopted, perms, present};
use crate::model::observe::{Ids, Observed, Read, Snapshot, str_of};
use crate::model::{Address, ObserveError};

/// Natural key: `displayName`, owned by the tool. One made by hand under another name is
/// adopted by id (`spec.adopt`), like a hand-made group.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DefenderRoleAssignmentSpec {
    pub display_name: String,
    pub role: Address,
    pub principals: Vec<Address>,
    pub directory_scope_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adopt_id: Option<String>,
}

const KEY: &str = "defender-role-assignments";
const ASSIGNMENTS: Collection =
    Collection::new(Version::Beta, "roleManagement/defender/roleAssignments");

fn sorted(v: Option<&Value>) -> Vec<String> {
    let mut out: Vec<String> = v
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_ascii_lowercase)
        .collect();
    out.sort();
    out
}

/// The principals a role definition is assigned to (all its assignments).
pub(crate) fn principals_of(snap: &Snapshot, role_id: &str) -> Vec<String> {
    let mut out: Vec<String> = snap
        .items(KEY)
        .unwrap_or_default()
        .iter()
        .filter(|a| str_of(a, "roleDefinitionId").eq_ignore_ascii_case(role_id))
        .flat_map(|a| sorted(a.get("principalIds")))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The role definition ids assigned to a principal.
pub(crate) fn of_principal(snap: &Snapshot, principal_id: &str) -> Vec<String> {
    let principal = principal_id.to_ascii_lowercase();
    let mut out: Vec<String> = snap
        .items(KEY)
        .unwrap_or_default()
        .iter()
        .filter(|a| sorted(a.get("principalIds")).contains(&principal))
        .map(|a| str_of(a, "roleDefinitionId").to_ascii_lowercase())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Assignments of `role_id` to `group_id`, whatever their name: what a hand-made one is.
pub(crate) fn assigning<'a>(snap: &'a Snapshot, role_id: &str, group_id: &str) -> Vec<&'a Value> {
    snap.items(KEY)
        .unwrap_or_default()
        .iter()
        .filter(|a| {
            str_of(a, "roleDefinitionId").eq_ignore_ascii_case(role_id)
                && sorted(a.get("principalIds")).contains(&group_id.to_ascii_lowercase())
        })
        .collect()
}

impl DefenderRoleAssignmentSpec {
    fn body(&self, ids: &Ids) -> Value {
        let mut v = self.view(ids);
        v["displayName"] = json!(self.display_name);
        v
    }
}

impl ResourceKind for DefenderRoleAssignmentSpec {
    const NAME: &'static str = "defender-role-assignment";
    const READ_PERMISSIONS: Permissions = perms::DEFENDER_READ;
    const WRITE_PERMISSIONS: Permissions = perms::DEFENDER_WRITE;
    const FIELDS: &'static [&'static str] =
        &["roleDefinitionId", "principalIds", "directoryScopeIds"];
    /// The role an assignment points at cannot be changed in place: such a change is a replace.
    const IMMUTABLE: &'static [&'static str] = &["roleDefinitionId"];
    const ADOPTABLE: bool = true;

    fn read_by_id(id: &str) -> Option<(Version, String)> {
        ASSIGNMENTS.read_by_id(id)
    }

    fn reads(&self, _ids: &Ids) -> Vec<Read> {
        vec![ASSIGNMENTS.read_all(KEY)]
    }

    fn observe(&self, cx: &ObserveContext<'_>) -> Result<Observed, ObserveError> {
        let Some(items) = cx.snap.items(KEY) else {
            return Ok(Observed::Unknown);
        };
        let found = named_or_adopted(
            "Defender role assignment",
            &self.display_name,
            self.adopt_id.as_deref(),
            items,
        )?;
        Ok(present(found, |v| {
            json!({
                "roleDefinitionId": str_of(v, "roleDefinitionId").to_ascii_lowercase(),
                "principalIds": sorted(v.get("principalIds")),
                "directoryScopeIds": sorted(v.get("directoryScopeIds")),
            })
        }))
    }

    fn view(&self, ids: &Ids) -> Value {
        let mut principals: Vec<String> = self.principals.iter().map(|p| ids.or_later(p)).collect();
        principals.sort();
        json!({
            "roleDefinitionId": ids.or_later(&self.role),
            "principalIds": principals,
            "directoryScopeIds": self.directory_scope_ids,
        })
    }

    async fn create(&self, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        w.id_of(at, &self.role)?;
        let body = self.body(&w.ids());
        ASSIGNMENTS
            .create(w, at, &body, ASSIGNMENTS.path, |items| {
                items
                    .iter()
                    .find(|r| str_of(r, "displayName") == self.display_name)
            })
            .await
    }

    async fn update(&self, id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        ASSIGNMENTS.patch(w, at, id, &self.body(&w.ids())).await
    }

    async fn delete(&self, id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        ASSIGNMENTS.delete(w, at, id).await
    }
}
