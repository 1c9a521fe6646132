//! Assignments of unified RBAC roles to tier groups (Graph beta).

use serde::Serialize;

use crate::model::Address;

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

use serde_json::{Value, json};

use crate::graph::Version;
use crate::model::observe::{Ids, Observed, Read, Snapshot, single, str_of};

const KEY: &str = "defender-role-assignments";

pub fn reads(_spec: &DefenderRoleAssignmentSpec) -> Vec<Read> {
    vec![Read::list(
        KEY,
        Version::Beta,
        "/roleManagement/defender/roleAssignments",
    )]
}

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

pub fn observe(
    spec: &DefenderRoleAssignmentSpec,
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
    let what = format!("Defender role assignment \"{}\"", spec.display_name);
    Ok(match single(what, matching)? {
        None if spec.adopt_id.is_some() => {
            return Err(crate::model::adopted_missing(
                "Defender role assignment",
                spec.adopt_id.as_deref().unwrap_or_default(),
            ));
        }
        None => Observed::Absent,
        Some(v) => Observed::Present {
            id: str_of(v, "id").to_string(),
            view: json!({
                "roleDefinitionId": str_of(v, "roleDefinitionId").to_ascii_lowercase(),
                "principalIds": sorted(v.get("principalIds")),
                "directoryScopeIds": sorted(v.get("directoryScopeIds")),
            }),
        },
    })
}

/// The principals a role definition is assigned to (all its assignments).
pub fn principals_of(snap: &Snapshot, role_id: &str) -> Vec<String> {
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
pub fn of_principal(snap: &Snapshot, principal_id: &str) -> Vec<String> {
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
pub fn assigning<'a>(snap: &'a Snapshot, role_id: &str, group_id: &str) -> Vec<&'a Value> {
    snap.items(KEY)
        .unwrap_or_default()
        .iter()
        .filter(|a| {
            str_of(a, "roleDefinitionId").eq_ignore_ascii_case(role_id)
                && sorted(a.get("principalIds")).contains(&group_id.to_ascii_lowercase())
        })
        .collect()
}

pub fn view(spec: &DefenderRoleAssignmentSpec, ids: &Ids) -> Value {
    let mut principals: Vec<String> = spec.principals.iter().map(|p| ids.or_later(p)).collect();
    principals.sort();
    json!({
        "roleDefinitionId": ids.or_later(&spec.role),
        "principalIds": principals,
        "directoryScopeIds": spec.directory_scope_ids,
    })
}

pub fn body(spec: &DefenderRoleAssignmentSpec, ids: &Ids) -> Value {
    let mut v = view(spec, ids);
    v["displayName"] = json!(spec.display_name);
    v
}

/// The role an assignment points at cannot be changed in place: such a change is a replace.
pub const IMMUTABLE: &[&str] = &["roleDefinitionId"];

use crate::graph::Service;
use crate::graph::write::{WriteError, Writer};

const ASSIGNMENTS: &str = "roleManagement/defender/roleAssignments";

pub async fn create(
    spec: &DefenderRoleAssignmentSpec,
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    w.id_of(at, &spec.role)?;
    let body = body(spec, &w.ids());
    let id = crate::graph::write::create_recovering(
        w,
        at,
        Version::Beta,
        ASSIGNMENTS,
        &body,
        || async {
            let items = w
                .list(at, Service::Graph(Version::Beta), ASSIGNMENTS)
                .await?;
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

pub async fn delete(
    id: &str,
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    crate::graph::write::delete_path(w, at, Version::Beta, &format!("{ASSIGNMENTS}/{id}")).await
}

pub async fn update(
    spec: &DefenderRoleAssignmentSpec,
    id: &str,
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    let body = body(spec, &w.ids());
    crate::graph::write::patch_path(w, at, Version::Beta, &format!("{ASSIGNMENTS}/{id}"), &body)
        .await
}

impl crate::kinds::ResourceKind for DefenderRoleAssignmentSpec {
    const NAME: &'static str = "defender-role-assignment";
    const READ_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::DEFENDER_READ;
    const WRITE_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::DEFENDER_WRITE;
    const FIELDS: &'static [&'static str] =
        &["roleDefinitionId", "principalIds", "directoryScopeIds"];
    const IMMUTABLE: &'static [&'static str] = IMMUTABLE;
    const ADOPTABLE: bool = true;

    fn read_by_id(id: &str) -> Option<(crate::graph::Version, String)> {
        let id = crate::model::observe::enc(id);
        Some((
            crate::graph::Version::Beta,
            format!("roleManagement/defender/roleAssignments/{id}"),
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
    fn view(&self, ids: &crate::model::Ids) -> serde_json::Value {
        view(self, ids)
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
