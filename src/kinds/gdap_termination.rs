//! The second half of a GDAP role change: terminating a customer's old relationship once its
//! replacement is active and the replacement's access assignments are in place, so the MSSP's
//! analysts never lose access in between. One per GDAP customer, in the partner tenant; it
//! depends on the customer's relationship and access assignments, so within one apply it runs
//! after them. "Old" means a live relationship of the customer whose name is one the tool gives
//! (another role set or generation, see `gdap::is_tool_name`): hand-made ones are never touched.

use serde::Serialize;
use serde_json::{Value, json};

use super::gdap_relationship::{
    LIST_KEY, RELATIONSHIPS, current_name, named, predecessors, relationship_reads, request,
    roles_of, sp_address, status,
};
use crate::graph::write::{WriteError, Writer, graph_err};
use crate::graph::{Service, Version};
use crate::model::observe::{Observed, Read, Snapshot, str_of};
use crate::model::{Address, Ids};

/// One per customer reached through GDAP.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GdapTerminationSpec {
    pub customer: String,
    pub customer_tenant_id: String,
    pub prefix: String,
    /// The current relationship's first-generation name (`GdapRelationshipSpec::display_name`).
    pub relationship_name: String,
}

/// Old relationships in this status are terminated; Graph accepts `terminate` on no other.
const TERMINABLE: &str = "active";

impl GdapTerminationSpec {
    fn current(&self, snap: &Snapshot) -> String {
        current_name(&self.relationship_name, snap).1
    }

    fn old<'a>(&self, snap: &'a Snapshot) -> Vec<&'a Value> {
        predecessors(
            &self.prefix,
            &self.customer,
            &self.customer_tenant_id,
            &self.current(snap),
            snap,
        )
    }

    /// While the new relationship is not active: what follows for the old ones.
    fn pending_note(&self, snap: &Snapshot) -> Option<String> {
        let old = self.old(snap);
        if old.is_empty() {
            return None;
        }
        let current = self.current(snap);
        let now = named(&current, snap).map_or("not created yet", status);
        (now != "active").then(|| {
            format!(
                "replace: terminate old relationship {} after `{current}` is active (now {now}) and its access assignments are in place",
                Self::names(&old)
            )
        })
    }

    fn names(items: &[&Value]) -> String {
        items
            .iter()
            .map(|v| format!("`{}`", str_of(v, "displayName")))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Waits until none of the new relationship's access assignments is still being
    /// provisioned: terminating the old one before would leave the analysts without access.
    async fn await_assignments(
        &self,
        new_id: &str,
        at: &Address,
        w: &Writer<'_>,
    ) -> Result<(), WriteError> {
        let path = format!("{}/accessAssignments", RELATIONSHIPS.item(new_id));
        w.await_visible(
            at,
            "the new relationship's access assignments to become active",
            || async {
                let items = w.list(at, Service::Graph(Version::V1), &path).await?;
                Ok(items
                    .iter()
                    .all(|a| str_of(a, "status") != "pending")
                    .then(String::new))
            },
        )
        .await?;
        let items = w
            .list(at, Service::Graph(Version::V1), &path)
            .await
            .map_err(graph_err(at))?;
        if let Some(bad) = items.iter().find(|a| str_of(a, "status") == "error") {
            return Err(WriteError::new(
                at,
                format!(
                    "an access assignment of the new relationship is in error (roles {}); the old relationship was not terminated",
                    roles_of(bad).join(", ")
                ),
            ));
        }
        Ok(())
    }
}

impl crate::kinds::ResourceKind for GdapTerminationSpec {
    const NAME: &'static str = "gdap-termination";
    const READ_PERMISSIONS: crate::kinds::Permissions =
        <super::gdap_relationship::GdapRelationshipSpec as crate::kinds::ResourceKind>::READ_PERMISSIONS;
    const WRITE_PERMISSIONS: crate::kinds::Permissions =
        <super::gdap_relationship::GdapRelationshipSpec as crate::kinds::ResourceKind>::WRITE_PERMISSIONS;
    /// The customer's old relationships still active: none once the replacement took over.
    const FIELDS: &'static [&'static str] = &["oldRelationships"];

    fn reads(&self, ids: &Ids) -> Vec<Read> {
        relationship_reads(ids)
    }

    fn observe(
        &self,
        cx: &crate::kinds::ObserveContext<'_>,
    ) -> Result<Observed, crate::model::ObserveError> {
        let note = self.pending_note(cx.snap);
        let old = if cx.ids.of(&sp_address()).is_none() {
            // No service principal yet: the partner has no relationship the tool could read.
            vec![]
        } else if cx.snap.items(LIST_KEY).is_none() {
            return Ok(Observed::Unknown);
        } else {
            self.old(cx.snap)
        };
        let active: Vec<&str> = old
            .iter()
            .filter(|v| status(v) == TERMINABLE)
            .map(|v| str_of(v, "displayName"))
            .collect();
        let waiting: Vec<String> = old
            .iter()
            .filter(|v| status(v) != TERMINABLE)
            .map(|v| format!("{} ({})", str_of(v, "displayName"), status(v)))
            .collect();
        Ok(Observed::Present {
            id: old
                .iter()
                .find(|v| status(v) == TERMINABLE)
                .map(|v| str_of(v, "id").to_string())
                .unwrap_or_default(),
            view: json!({"oldRelationships": active, "notTerminable": waiting, "note": note}),
        })
    }

    fn view(&self, _ids: &Ids) -> Value {
        json!({"oldRelationships": []})
    }

    /// Old relationships stay until the new one is active; the plan says what follows.
    fn waiting(&self, snap: &Snapshot) -> Option<String> {
        self.pending_note(snap)
    }

    /// The replace under way (also the no-op's note, which the text plan does not show), and
    /// old relationships that cannot be terminated.
    fn warnings(&self, observed: &Observed) -> Vec<String> {
        let Observed::Present { view, .. } = observed else {
            return vec![];
        };
        let note = view.get("note").and_then(Value::as_str).map(str::to_string);
        note.into_iter().chain(view.get("notTerminable")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|old| {
                format!(
                    "GDAP relationship {old} of customer {} is replaced by a newer one but cannot be terminated until it is active: ask the customer not to approve it (an unapproved request lapses after 90 days)",
                    self.customer
                )
            }))
            .collect()
    }

    /// Nothing to create: the resource is the absence of old relationships.
    async fn create(&self, _at: &Address, _w: &Writer<'_>) -> Result<(), WriteError> {
        Ok(())
    }

    /// Terminates every old relationship still active, once the new relationship is active and
    /// its access assignments are provisioned.
    async fn update(&self, _id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        let current = self.current(w.snap);
        let Some(new) = named(&current, w.snap).filter(|v| status(v) == "active") else {
            return Err(WriteError::new(
                at,
                format!(
                    "the new relationship `{current}` is not active; the old one was not terminated"
                ),
            ));
        };
        self.await_assignments(str_of(new, "id"), at, w).await?;
        for old in self
            .old(w.snap)
            .into_iter()
            .filter(|v| status(v) == TERMINABLE)
        {
            request(w, at, str_of(old, "id"), "terminate").await?;
        }
        Ok(())
    }

    /// Never deleted: it owns no object.
    fn prunable(&self) -> bool {
        false
    }
}
