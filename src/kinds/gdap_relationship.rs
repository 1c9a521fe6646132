//! GDAP relationships: one per customer reached through GDAP, in the provider (partner) tenant,
//! named by `gdap::relationship_name` (the name carries a digest of the roles, which cannot
//! change after creation). Created then locked for approval; a Global Administrator of the
//! customer approves it by hand, so while it waits the plan lists a manual item with the link.
//!
//! A role change is a replace: while the new relationship does not exist, the customer's live
//! relationship of another role set is observed in its place (the plan shows `-/+` with both
//! role sets); apply creates the new one and leaves the old one alone. `gdap_termination`
//! terminates the old one once the new one is active. An ended relationship's name stays taken
//! in Graph, so its successor is the next generation of the name (`<name>-2`).

use serde::Serialize;
use serde_json::{Value, json};

use crate::gdap;
use crate::graph::write::{Collection, WriteError, Writer, graph_err};
use crate::graph::{Service, Version};
use crate::kinds::manual::ManualSpec;
use crate::model::observe::{Observed, Read, Snapshot, enc, odata_str, str_of};

/// Natural key: `displayName` (unique across all of the partner's relationships).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GdapRelationshipSpec {
    /// The customer's manifest name.
    pub customer: String,
    pub customer_tenant_id: String,
    /// The first generation's name ([`gdap::relationship_name`]); see [`current_name`].
    pub display_name: String,
    /// The provider's naming prefix (to recognise the tool's relationships by name).
    pub prefix: String,
    /// Entra role template ids.
    pub roles: Vec<String>,
    pub duration: String,
    pub auto_extend: String,
    /// The plan warns when the relationship ends within this many days.
    pub expiry_warning_days: i64,
}

/// The partner's relationships (access assignments and termination live under them too).
pub(crate) const RELATIONSHIPS: Collection = Collection::new(
    Version::V1,
    "tenantRelationships/delegatedAdminRelationships",
);
/// One read of every relationship the partner has, shared by all customers.
pub(crate) const LIST_KEY: &str = "gdap-relationships";
/// Statuses in which a relationship no longer grants anything: its customer needs a new one.
pub(crate) const GONE: [&str; 3] = ["terminated", "terminationRequested", "expired"];
/// Generations of a name tried before giving up (each one an ended relationship).
const MAX_GENERATIONS: u32 = 99;

/// Whether a relationship no longer grants anything.
pub(crate) fn is_gone(v: &Value) -> bool {
    GONE.contains(&status(v))
}

/// The generation and name the customer's relationship has now: the first generation of
/// `base` that is not an ended relationship (Graph keeps the names of ended ones).
pub(crate) fn current_name(base: &str, snap: &Snapshot) -> (u32, String) {
    let items = snap.items(LIST_KEY).unwrap_or_default();
    for g in 1..MAX_GENERATIONS {
        let name = gdap::generation_name(base, g);
        match items.iter().find(|v| str_of(v, "displayName") == name) {
            Some(v) if is_gone(v) => continue,
            _ => return (g, name),
        }
    }
    (
        MAX_GENERATIONS,
        gdap::generation_name(base, MAX_GENERATIONS),
    )
}

/// The relationship named `name`, as read.
pub(crate) fn named<'a>(name: &str, snap: &'a Snapshot) -> Option<&'a Value> {
    snap.items(LIST_KEY)?
        .iter()
        .find(|v| str_of(v, "displayName") == name)
}

/// Role template ids of a relationship (or assignment), lowercase and sorted.
pub(crate) fn roles_of(v: &Value) -> Vec<String> {
    let mut r: Vec<String> = v
        .pointer("/accessDetails/unifiedRoles")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| r.get("roleDefinitionId").and_then(Value::as_str))
                .map(str::to_ascii_lowercase)
                .collect()
        })
        .unwrap_or_default();
    r.sort();
    r.dedup();
    r
}

/// The customer's relationships the tool made earlier (another role set or generation, by
/// their name) that still grant or may still grant access: what its current one replaces.
/// Sorted by name.
pub(crate) fn predecessors<'a>(
    prefix: &str,
    customer: &str,
    customer_tenant_id: &str,
    current: &str,
    snap: &'a Snapshot,
) -> Vec<&'a Value> {
    let mut out: Vec<&Value> = snap
        .items(LIST_KEY)
        .unwrap_or_default()
        .iter()
        .filter(|v| {
            let name = str_of(v, "displayName");
            name != current
                && !is_gone(v)
                && v.pointer("/customer/tenantId")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case(customer_tenant_id))
                && gdap::is_tool_name(prefix, customer, &roles_of(v), name)
        })
        .collect();
    out.sort_by(|a, b| str_of(a, "displayName").cmp(str_of(b, "displayName")));
    out
}

/// The partner's Customer Delegated Administration service principal's address: GDAP reads
/// fail without it, so the relationship is read only once it exists.
pub(crate) fn sp_address() -> crate::model::Address {
    crate::model::Address::new(crate::model::Kind::ServicePrincipal, "partner-cda")
}

pub(crate) fn status(v: &Value) -> &str {
    str_of(v, "status")
}

/// What the plan compares (and shows) of a relationship read.
fn observed_view(v: &Value) -> Value {
    json!({
        "lockedForApproval": status(v) != "created",
        "roles": roles_of(v),
        "status": status(v),
        "endDateTime": str_of(v, "endDateTime"),
        "displayName": str_of(v, "displayName"),
    })
}

/// Whole days from now until `endDateTime`, when it parses.
fn days_left(v: &Value) -> Option<i64> {
    let end: jiff::Timestamp = str_of(v, "endDateTime").parse().ok()?;
    let secs = end.as_second() - jiff::Timestamp::now().as_second();
    Some(secs.div_euclid(86_400))
}

impl GdapRelationshipSpec {
    fn create_body(&self, name: &str) -> Value {
        json!({
            "displayName": name,
            "duration": self.duration,
            "customer": {"tenantId": self.customer_tenant_id},
            "accessDetails": {"unifiedRoles": self.roles.iter()
                .map(|r| json!({"roleDefinitionId": r})).collect::<Vec<_>>()},
            "autoExtendDuration": self.auto_extend,
        })
    }

    /// The roles as the plan compares them: lowercase, sorted.
    fn sorted_roles(&self) -> Vec<String> {
        let mut r: Vec<String> = self.roles.iter().map(|r| r.to_ascii_lowercase()).collect();
        r.sort();
        r.dedup();
        r
    }

    /// The relationship the customer has now under its current name, when it still grants
    /// (or will grant) access.
    fn live<'a>(&self, snap: &'a Snapshot) -> Option<&'a Value> {
        let (_, name) = current_name(&self.display_name, snap);
        named(&name, snap).filter(|v| !is_gone(v))
    }

    /// The earlier relationship a role change replaces: an active one first.
    fn replaced<'a>(&self, snap: &'a Snapshot) -> Option<&'a Value> {
        let (_, name) = current_name(&self.display_name, snap);
        let old = predecessors(
            &self.prefix,
            &self.customer,
            &self.customer_tenant_id,
            &name,
            snap,
        );
        old.iter()
            .find(|v| status(v) == "active")
            .or_else(|| old.first())
            .copied()
    }
}

/// The read of the partner's relationships, once the partner's service principal exists (the
/// API refuses every call before).
pub(crate) fn relationship_reads(ids: &crate::model::Ids) -> Vec<Read> {
    if ids.of(&sp_address()).is_none() {
        return vec![];
    }
    vec![RELATIONSHIPS.read_all(LIST_KEY)]
}

/// Asks for a step of a relationship's life (`lockForApproval`, `terminate`): a
/// `delegatedAdminRelationshipRequest`.
pub(crate) async fn request(
    w: &Writer<'_>,
    at: &crate::model::Address,
    id: &str,
    action: &str,
) -> Result<(), WriteError> {
    w.call(
        at,
        Service::Graph(Version::V1),
        reqwest::Method::POST,
        &format!("{}/requests", RELATIONSHIPS.item(id)),
        Some(&json!({ "action": action })),
        &[],
    )
    .await
    .map_err(graph_err(at))?;
    Ok(())
}

impl crate::kinds::ResourceKind for GdapRelationshipSpec {
    const NAME: &'static str = "gdap-relationship";
    const READ_PERMISSIONS: crate::kinds::Permissions = &[&[
        "DelegatedAdminRelationship.Read.All",
        "DelegatedAdminRelationship.ReadWrite.All",
    ]];
    const WRITE_PERMISSIONS: crate::kinds::Permissions =
        &[&["DelegatedAdminRelationship.ReadWrite.All"]];
    /// `lockedForApproval`: a relationship created but not yet sent to the customer; `roles`:
    /// a relationship's roles never change, so a new role set replaces it.
    const FIELDS: &'static [&'static str] = &["lockedForApproval", "roles"];
    const IMMUTABLE: &'static [&'static str] = &["roles"];

    fn reads(&self, ids: &crate::model::Ids) -> Vec<Read> {
        relationship_reads(ids)
    }

    fn observe(
        &self,
        cx: &crate::kinds::ObserveContext<'_>,
    ) -> Result<Observed, crate::model::ObserveError> {
        if cx.ids.of(&sp_address()).is_none() {
            // Without the service principal the API answers nothing: it is created first.
            return Ok(Observed::Absent);
        }
        if cx.snap.items(LIST_KEY).is_none() {
            return Ok(Observed::Unknown);
        }
        // Until the new relationship exists, the one it replaces stands in its place: its
        // other roles make the plan a replace.
        Ok(
            match self.live(cx.snap).or_else(|| self.replaced(cx.snap)) {
                None => Observed::Absent,
                Some(v) => Observed::Present {
                    id: str_of(v, "id").to_string(),
                    view: observed_view(v),
                },
            },
        )
    }

    fn view(&self, _ids: &crate::model::Ids) -> Value {
        json!({"lockedForApproval": true, "roles": self.sorted_roles()})
    }

    fn adoption_hint(&self, _address: &str, snap: &Snapshot) -> Option<String> {
        let (generation, name) = current_name(&self.display_name, snap);
        let ended = named(
            &gdap::generation_name(&self.display_name, generation.checked_sub(1)?),
            snap,
        )?;
        Some(format!(
            "the relationship `{}` is {}; Graph keeps its name, so the new one is `{name}`, for the customer to approve",
            str_of(ended, "displayName"),
            status(ended)
        ))
    }

    fn manual_step(&self, observed: &Observed) -> Option<ManualSpec> {
        let Observed::Present { id, view } = observed else {
            return None;
        };
        (view.get("status").and_then(Value::as_str) == Some("approvalPending")).then(|| ManualSpec {
            title: format!("Approve the GDAP relationship `{}`", str_of(view, "displayName")),
            reason: "Only a Global Administrator of the customer tenant can approve a GDAP relationship, in the Microsoft 365 admin center.".into(),
            steps: vec![
                format!(
                    "Send the link to a Global Administrator of customer `{}` (tenant {}).",
                    self.customer, self.customer_tenant_id
                ),
                "They sign in, review the roles and select Approve.".into(),
                "Run `mssp plan` again: once the relationship is active the access assignments follow.".into(),
            ],
            link: Some(gdap::approval_link(id)),
            attested: None,
        })
    }

    fn warnings(&self, observed: &Observed) -> Vec<String> {
        let Observed::Present { view, .. } = observed else {
            return vec![];
        };
        if view.get("status").and_then(Value::as_str) != Some("active")
            || gdap::extends(&self.auto_extend)
        {
            return vec![];
        }
        match days_left(view) {
            Some(d) if d <= self.expiry_warning_days => vec![format!(
                "GDAP relationship `{}` (customer {}) ends in {d} day(s), on {}; it does not auto-extend: a new relationship needs the customer's approval again",
                str_of(view, "displayName"),
                self.customer,
                str_of(view, "endDateTime")
            )],
            _ => vec![],
        }
    }

    async fn create(&self, at: &crate::model::Address, w: &Writer<'_>) -> Result<(), WriteError> {
        // The name as the plan read it: past ended relationships that keep theirs.
        let (_, name) = current_name(&self.display_name, w.snap);
        // The API refuses every call until the partner's service principal, created just
        // before in the same apply, has replicated: wait for the API to answer first.
        w.await_visible(
            at,
            "the Partner Customer Delegated Administration service principal",
            || async {
                match w
                    .get(
                        at,
                        Service::Graph(Version::V1),
                        &format!("{}?$top=1", RELATIONSHIPS.path),
                    )
                    .await
                {
                    Ok(_) => Ok(Some(String::new())),
                    Err(e)
                        if e.status() == Some(403)
                            && e.to_string().contains(gdap::PARTNER_CDA_APP_ID) =>
                    {
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            },
        )
        .await?;
        let filter = format!(
            "{}?$filter={}",
            RELATIONSHIPS.path,
            enc(&format!("displayName eq {}", odata_str(&name)))
        );
        RELATIONSHIPS
            .create(w, at, &self.create_body(&name), &filter, |items| {
                items.first()
            })
            .await?;
        // The id the create just recorded.
        let id = w.id_of(at, at)?;
        // A new relationship is "invalid" to its own requests until it has replicated.
        let path = RELATIONSHIPS.item(&id);
        w.await_visible(at, "the new relationship", || async {
            match w.get(at, Service::Graph(Version::V1), &path).await {
                Ok(_) => Ok(Some(String::new())),
                Err(e) if matches!(e.status(), Some(400 | 404)) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await?;
        request(w, at, &id, "lockForApproval").await
    }

    /// The only in-place change: locking a relationship a previous run created but could not
    /// lock.
    async fn update(
        &self,
        id: &str,
        at: &crate::model::Address,
        w: &Writer<'_>,
    ) -> Result<(), WriteError> {
        request(w, at, id, "lockForApproval").await
    }

    /// Never deletes: an approved relationship is terminated, never deleted.
    fn prunable(&self) -> bool {
        false
    }

    /// A replace sends no delete: the old relationship keeps granting access until its
    /// successor is active, then `gdap_termination` terminates it.
    async fn delete(
        &self,
        _id: &str,
        _at: &crate::model::Address,
        _w: &Writer<'_>,
    ) -> Result<(), WriteError> {
        Ok(())
    }
}
