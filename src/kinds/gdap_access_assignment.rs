//! GDAP access assignments: per customer and GDAP tier, the tier's security group in the MSSP
//! (partner) tenant gets a subset of the relationship's roles. Graph accepts them only on an
//! `active` relationship, so until the customer approves, the plan says it waits. Updates and
//! deletes send the observed ETag: a change made since the plan read is reported, never
//! overwritten.

use serde::Serialize;
use serde_json::{Value, json};

use super::gdap_relationship::{RELATIONSHIPS, roles_of};
use crate::graph::write::{WriteError, Writer, graph_err};
use crate::graph::{Service, Version};
use crate::model::observe::{Observed, Read, Snapshot, str_of};
use crate::model::{Address, Ids};

/// Natural key: the relationship and the group (`accessContainerId`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GdapAccessAssignmentSpec {
    pub relationship: Address,
    /// The relationship's first-generation `displayName`, to read its status.
    pub relationship_name: String,
    pub group: Address,
    /// The group's `uniqueName`, to find its assignment before ids are known.
    pub group_unique_name: String,
    /// Entra role template ids, lowercase and sorted.
    pub roles: Vec<String>,
}

/// Statuses of an assignment on its way out: a new one may be created for the same group.
const GONE: [&str; 2] = ["deleting", "deleted"];

fn key(rel_id: &str) -> String {
    format!("gdap-assignments:{rel_id}")
}

impl GdapAccessAssignmentSpec {
    fn body(&self) -> Value {
        json!({"unifiedRoles": self.roles.iter()
            .map(|r| json!({"roleDefinitionId": r})).collect::<Vec<_>>()})
    }

    /// The relationship's current name and status as the plan read it.
    fn relationship_status<'a>(&self, snap: &'a Snapshot) -> (String, Option<&'a str>) {
        let (_, name) = super::gdap_relationship::current_name(&self.relationship_name, snap);
        let status = super::gdap_relationship::named(&name, snap).map(|v| str_of(v, "status"));
        (name, status)
    }

    fn current<'a>(&self, snap: &'a Snapshot, ids: &Ids) -> Option<&'a Value> {
        let rel = ids.of(&self.relationship)?;
        let group = ids.of(&self.group)?;
        snap.items(&key(rel))?.iter().find(|v| {
            v.pointer("/accessContainer/accessContainerId")
                .and_then(Value::as_str)
                == Some(group)
                && !GONE.contains(&str_of(v, "status"))
        })
    }

    /// While Graph still provisions the assignment (`pending`), it refuses updates: a change of
    /// roles waits for the next plan after it is `active` rather than fail.
    fn provisioning(&self, relationship: &str, snap: &Snapshot) -> Option<String> {
        let rel = super::gdap_relationship::named(relationship, snap)?;
        let group = super::group::id_by_unique_name(&self.group_unique_name, snap)?;
        let current = snap.items(&key(str_of(rel, "id")))?.iter().find(|v| {
            v.pointer("/accessContainer/accessContainerId")
                .and_then(Value::as_str)
                .is_some_and(|g| g.eq_ignore_ascii_case(group))
                && !GONE.contains(&str_of(v, "status"))
        })?;
        (str_of(current, "status") == "pending" && roles_of(current) != self.roles).then(|| {
            "waits for Graph to finish provisioning the access assignment (status pending): its roles can change once it is active".to_string()
        })
    }

    /// A relationship's access assignments.
    fn assignments(relationship_id: &str) -> String {
        format!("{}/accessAssignments", RELATIONSHIPS.item(relationship_id))
    }

    /// Sends `method` with the ETag the plan read; on 412, re-reads and reports what is there.
    async fn conditional(
        &self,
        id: &str,
        at: &Address,
        w: &Writer<'_>,
        method: reqwest::Method,
        body: Option<&Value>,
    ) -> Result<(), WriteError> {
        let rel = w.id_of(at, &self.relationship)?;
        let etag = w
            .snap
            .items(&key(&rel))
            .and_then(|items| items.iter().find(|v| str_of(v, "id") == id))
            .map(|v| str_of(v, "@odata.etag").to_string())
            .unwrap_or_default();
        let path = format!("{}/{id}", Self::assignments(&rel));
        match w
            .call(
                at,
                Service::Graph(Version::V1),
                method,
                &path,
                body,
                &[("If-Match", etag.as_str())],
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.status() == Some(404) => Ok(()),
            Err(e) if e.status() == Some(412) => {
                let now = w
                    .get(at, Service::Graph(Version::V1), &path)
                    .await
                    .map(|v| roles_of(&v).join(", "))
                    .unwrap_or_else(|e| format!("unreadable ({e})"));
                Err(WriteError::new(
                    at,
                    format!(
                        "the access assignment changed since the plan read it (roles now: {now}); nothing was overwritten: plan again and review"
                    ),
                ))
            }
            Err(e) => Err(graph_err(at)(e)),
        }
    }
}

impl crate::kinds::ResourceKind for GdapAccessAssignmentSpec {
    const NAME: &'static str = "gdap-access-assignment";
    const READ_PERMISSIONS: crate::kinds::Permissions =
        <super::gdap_relationship::GdapRelationshipSpec as crate::kinds::ResourceKind>::READ_PERMISSIONS;
    const WRITE_PERMISSIONS: crate::kinds::Permissions =
        <super::gdap_relationship::GdapRelationshipSpec as crate::kinds::ResourceKind>::WRITE_PERMISSIONS;
    const FIELDS: &'static [&'static str] = &["roles"];

    fn reads(&self, ids: &Ids) -> Vec<Read> {
        ids.of(&self.relationship)
            .map(|rel| {
                Read::list(
                    key(rel),
                    Version::V1,
                    format!("/{}", Self::assignments(rel)),
                )
            })
            .into_iter()
            .collect()
    }

    fn observe(
        &self,
        cx: &crate::kinds::ObserveContext<'_>,
    ) -> Result<Observed, crate::model::ObserveError> {
        let Some(rel) = cx.ids.of(&self.relationship) else {
            return Ok(Observed::Absent);
        };
        if cx.snap.items(&key(rel)).is_none() {
            return Ok(Observed::Unknown);
        }
        Ok(match self.current(cx.snap, cx.ids) {
            None => Observed::Absent,
            Some(v) => Observed::Present {
                id: str_of(v, "id").to_string(),
                view: json!({"roles": roles_of(v)}),
            },
        })
    }

    fn view(&self, _ids: &Ids) -> Value {
        json!({"roles": self.roles})
    }

    fn waiting(&self, snap: &Snapshot) -> Option<String> {
        match self.relationship_status(snap) {
            (name, Some("active")) => self.provisioning(&name, snap),
            (name, Some(s)) => Some(format!(
                "waits for the relationship `{name}` to be approved by the customer (now {s})"
            )),
            (name, None) => Some(format!(
                "waits for the relationship `{name}` to be created and approved by the customer"
            )),
        }
    }

    async fn create(&self, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        let rel = w.id_of(at, &self.relationship)?;
        let group = w.id_of(at, &self.group)?;
        let body = json!({
            "accessContainer": {"accessContainerId": group, "accessContainerType": "securityGroup"},
            "accessDetails": self.body(),
        });
        let a = w
            .call(
                at,
                Service::Graph(Version::V1),
                reqwest::Method::POST,
                &Self::assignments(&rel),
                Some(&body),
                &[],
            )
            .await
            .map_err(graph_err(at))?;
        if let Some(id) = a
            .body
            .as_ref()
            .and_then(|b| b.get("id"))
            .and_then(Value::as_str)
        {
            w.set_id(at, id);
        }
        Ok(())
    }

    async fn update(&self, id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        let body = json!({"accessDetails": self.body()});
        self.conditional(id, at, w, reqwest::Method::PATCH, Some(&body))
            .await
    }

    async fn delete(&self, id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        self.conditional(id, at, w, reqwest::Method::DELETE, None)
            .await
    }
}
