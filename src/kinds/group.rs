//! Security groups, one per tier (`/groups`, upsert by `uniqueName`).
//!
//! A group made by hand has no `uniqueName`, and Graph documents `uniqueName` as immutable and
//! read-only outside the create-if-missing upsert, so such a group can never get the key. It
//! is *adopted* instead: the customer manifest pins its id (`spec.adopt`, reviewed in Git like
//! any change) and the plan reads it by id. When a group would be created while a same-named
//! group without `uniqueName` exists, the plan says so and offers that adoption step rather
//! than silently binding to a display name.

use serde::Serialize;
use serde_json::{Value, json};

use crate::graph::Version;
use crate::graph::write::{WriteError, Writer, graph_err};
use crate::kinds::{ObserveContext, Permissions, ResourceKind, perms};
use crate::model::observe::{Ids, Observed, Read, Snapshot, enc, odata_str, project, str_of};
use crate::model::{Address, ObserveError};

/// A security group in a customer tenant. Natural key: `uniqueName`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupSpec {
    pub unique_name: String,
    pub display_name: String,
    pub description: String,
    pub mail_nickname: String,
    /// The id of an existing group without `uniqueName` to take over (`spec.adopt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adopt_id: Option<String>,
}

const COMPARED: &[&str] = &["displayName", "description"];
const SELECT: &str = "$select=id,displayName,description,uniqueName";

fn key(spec: &GroupSpec) -> String {
    unique_key(&spec.unique_name)
}

fn unique_key(unique_name: &str) -> String {
    format!("group:{unique_name}")
}

fn adopt_key(id: &str) -> String {
    format!("group-id:{id}")
}

fn named_key(spec: &GroupSpec) -> String {
    format!("groups-named:{}", spec.display_name)
}

/// Groups named like `spec` that have no `uniqueName`: what a hand-made tier group looks like.
pub(crate) fn adoption_candidates<'a>(spec: &GroupSpec, snap: &'a Snapshot) -> Vec<&'a Value> {
    snap.items(&named_key(spec))
        .unwrap_or_default()
        .iter()
        .filter(|g| {
            g.get("uniqueName")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        })
        .collect()
}

/// The id of the group with this `uniqueName`, as the plan's keyed read found it.
pub(crate) fn id_by_unique_name<'a>(unique_name: &str, snap: &'a Snapshot) -> Option<&'a str> {
    snap.object(&unique_key(unique_name))
        .flatten()
        .map(|v| str_of(v, "id"))
}

/// Body of the upsert `PATCH /groups(uniqueName='…')` with `Prefer: create-if-missing`.
pub(crate) fn upsert_body(spec: &GroupSpec) -> Value {
    json!({
        "displayName": spec.display_name,
        "description": spec.description,
        "mailEnabled": false,
        "mailNickname": spec.mail_nickname,
        "securityEnabled": true,
    })
}

/// Create and update are the same idempotent upsert: a lost answer is simply retried.
pub(crate) async fn upsert(
    spec: &GroupSpec,
    at: &Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    let path = format!("groups(uniqueName='{}')", spec.unique_name);
    let id = crate::graph::write::upsert_keyed(w, at, &path, &upsert_body(spec))
        .await
        .map_err(graph_err(at))?;
    w.set_id(at, &id);
    Ok(())
}

impl ResourceKind for GroupSpec {
    const NAME: &'static str = "group";
    const READ_PERMISSIONS: Permissions = perms::GROUP_READ;
    const WRITE_PERMISSIONS: Permissions = perms::GROUP_WRITE;
    const FIELDS: &'static [&'static str] = COMPARED;
    const ADOPTABLE: bool = true;

    fn reads(&self, _ids: &Ids) -> Vec<Read> {
        let mut out = vec![Read::keyed(
            key(self),
            Version::V1,
            format!("/groups(uniqueName='{}')?{SELECT}", self.unique_name),
        )];
        match &self.adopt_id {
            Some(id) => out.push(Read::keyed(
                adopt_key(id),
                Version::V1,
                format!("/groups/{id}?{SELECT}"),
            )),
            // Same-named groups: only to offer adoption when the keyed read finds nothing. It
            // rides in the same batch, so it costs no extra round trip.
            None => out.push(Read::list(
                named_key(self),
                Version::V1,
                format!(
                    "/groups?$filter={}&{SELECT}",
                    enc(&format!("displayName eq {}", odata_str(&self.display_name)))
                ),
            )),
        }
        out
    }

    fn observe(&self, cx: &ObserveContext<'_>) -> Result<Observed, ObserveError> {
        let snap = cx.snap;
        let present = |v: &Value| Observed::Present {
            id: str_of(v, "id").to_string(),
            view: project(v, COMPARED),
        };
        match snap.object(&key(self)) {
            None => Ok(Observed::Unknown),
            Some(Some(v)) => Ok(present(v)),
            Some(None) => {
                let Some(id) = &self.adopt_id else {
                    return Ok(Observed::Absent);
                };
                match snap.object(&adopt_key(id)) {
                    None => Ok(Observed::Unknown),
                    Some(None) => Err(crate::model::adopted_missing("group", id)),
                    Some(Some(v)) => match v.get("uniqueName").and_then(Value::as_str) {
                        None | Some("") => Ok(present(v)),
                        Some(other) => Err(ObserveError::Local(format!(
                            "group {id} named in `self.adopt` has uniqueName \"{other}\", not \"{}\": it belongs to something else",
                            self.unique_name
                        ))),
                    },
                }
            }
        }
    }

    fn view(&self, _ids: &Ids) -> Value {
        json!({"displayName": self.display_name, "description": self.description})
    }

    /// The plan's note on a group it would create although a hand-made twin exists.
    fn adoption_hint(&self, address: &str, snap: &Snapshot) -> Option<String> {
        let ids: Vec<&str> = adoption_candidates(self, snap)
            .into_iter()
            .map(|g| str_of(g, "id"))
            .collect();
        match ids.as_slice() {
            [] => None,
            [id] => Some(format!(
                "a group named \"{}\" without uniqueName exists ({id}); to adopt it instead of creating another, add `adopt: [{{resource: {address}, id: {id}}}]` to the customer's self (`mssp export` writes this)",
                self.display_name
            )),
            many => Some(format!(
                "{} groups named \"{}\" without uniqueName exist ({}); adopt the right one with `self.adopt` or rename the others",
                many.len(),
                self.display_name,
                many.join(", ")
            )),
        }
    }

    async fn create(&self, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        upsert(self, at, w).await
    }

    /// An update: the upsert, except for an adopted group, which is not reachable by its key:
    /// it is patched by its pinned id (an upsert would create a twin).
    async fn update(&self, id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        if self.adopt_id.as_deref() != Some(id) {
            return upsert(self, at, w).await;
        }
        let body = json!({"displayName": self.display_name, "description": self.description});
        crate::graph::write::patch_path(w, at, Version::V1, &format!("groups/{id}"), &body).await?;
        w.set_id(at, id);
        Ok(())
    }

    async fn delete(&self, id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        crate::graph::write::delete_path(w, at, Version::V1, &format!("groups/{id}")).await
    }
}
