//! GDAP relationships: one per customer reached through GDAP, in the provider (partner) tenant,
//! named by `gdap::relationship_name` (the name carries a digest of the roles, which cannot
//! change after creation). Created then locked for approval; a Global Administrator of the
//! customer approves it by hand, so while it waits the plan lists a manual item with the link.

use serde::Serialize;
use serde_json::{Value, json};

use crate::gdap;
use crate::graph::write::{WriteError, Writer, create_recovering, graph_err};
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
    pub display_name: String,
    /// Entra role template ids.
    pub roles: Vec<String>,
    pub duration: String,
    pub auto_extend: String,
    /// The plan warns when the relationship ends within this many days.
    pub expiry_warning_days: i64,
}

const RELATIONSHIPS: &str = "tenantRelationships/delegatedAdminRelationships";
/// One read of every relationship the partner has, shared by all customers.
pub const LIST_KEY: &str = "gdap-relationships";
/// Statuses in which a relationship no longer grants anything: its customer needs a new one.
const GONE: [&str; 3] = ["terminated", "terminationRequested", "expired"];

fn find<'a>(spec: &GdapRelationshipSpec, snap: &'a Snapshot) -> Option<Option<&'a Value>> {
    snap.items(LIST_KEY).map(|items| {
        items
            .iter()
            .find(|v| str_of(v, "displayName") == spec.display_name)
    })
}

/// The partner's Customer Delegated Administration service principal's address: GDAP reads
/// fail without it, so the relationship is read only once it exists.
pub fn sp_address() -> crate::model::Address {
    crate::model::Address::new(crate::model::Kind::ServicePrincipal, "partner-cda")
}

fn status(v: &Value) -> &str {
    str_of(v, "status")
}

/// Whole days from now until `endDateTime`, when it parses.
fn days_left(v: &Value) -> Option<i64> {
    let end: jiff::Timestamp = str_of(v, "endDateTime").parse().ok()?;
    let secs = end.as_second() - jiff::Timestamp::now().as_second();
    Some(secs.div_euclid(86_400))
}

impl GdapRelationshipSpec {
    fn create_body(&self) -> Value {
        json!({
            "displayName": self.display_name,
            "duration": self.duration,
            "customer": {"tenantId": self.customer_tenant_id},
            "accessDetails": {"unifiedRoles": self.roles.iter()
                .map(|r| json!({"roleDefinitionId": r})).collect::<Vec<_>>()},
            "autoExtendDuration": self.auto_extend,
        })
    }

    /// The observed relationship, when it exists and still grants (or will grant) access.
    fn live<'a>(&self, snap: &'a Snapshot) -> Option<&'a Value> {
        find(self, snap)
            .flatten()
            .filter(|v| !GONE.contains(&status(v)))
    }

    async fn lock(
        &self,
        id: &str,
        at: &crate::model::Address,
        w: &Writer<'_>,
    ) -> Result<(), WriteError> {
        w.call(
            at,
            Service::Graph(Version::V1),
            reqwest::Method::POST,
            &format!("{RELATIONSHIPS}/{id}/requests"),
            Some(&json!({"action": "lockForApproval"})),
            &[],
        )
        .await
        .map_err(graph_err(at))?;
        Ok(())
    }
}

impl crate::kinds::ResourceKind for GdapRelationshipSpec {
    const NAME: &'static str = "gdap-relationship";
    const READ_PERMISSIONS: crate::kinds::Permissions = &[&[
        "DelegatedAdminRelationship.Read.All",
        "DelegatedAdminRelationship.ReadWrite.All",
    ]];
    const WRITE_PERMISSIONS: crate::kinds::Permissions =
        &[&["DelegatedAdminRelationship.ReadWrite.All"]];
    /// `lockedForApproval`: a relationship created but not yet sent to the customer.
    const FIELDS: &'static [&'static str] = &["lockedForApproval"];

    fn reads(&self, ids: &crate::model::Ids) -> Vec<Read> {
        if ids.of(&sp_address()).is_none() {
            return vec![];
        }
        vec![Read::list(
            LIST_KEY,
            Version::V1,
            format!("/{RELATIONSHIPS}"),
        )]
    }

    fn observe(
        &self,
        cx: &crate::kinds::ObserveContext<'_>,
    ) -> Result<Observed, crate::model::ObserveError> {
        if cx.ids.of(&sp_address()).is_none() {
            // Without the service principal the API answers nothing: it is created first.
            return Ok(Observed::Absent);
        }
        if find(self, cx.snap).is_none() {
            return Ok(Observed::Unknown);
        }
        Ok(match self.live(cx.snap) {
            None => Observed::Absent,
            Some(v) => Observed::Present {
                id: str_of(v, "id").to_string(),
                view: json!({
                    "lockedForApproval": status(v) != "created",
                    "status": status(v),
                    "endDateTime": str_of(v, "endDateTime"),
                }),
            },
        })
    }

    fn view(&self, _ids: &crate::model::Ids) -> Value {
        json!({"lockedForApproval": true})
    }

    fn adoption_hint(&self, _address: &str, snap: &Snapshot) -> Option<String> {
        let gone = find(self, snap).flatten()?;
        Some(format!(
            "the relationship `{}` is {}; the customer must approve a new one (a new name is needed: Graph keeps names of ended relationships)",
            self.display_name,
            status(gone)
        ))
    }

    fn manual_step(&self, observed: &Observed) -> Option<ManualSpec> {
        let Observed::Present { id, view } = observed else {
            return None;
        };
        (view.get("status").and_then(Value::as_str) == Some("approvalPending")).then(|| ManualSpec {
            title: format!("Approve the GDAP relationship `{}`", self.display_name),
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
                self.display_name,
                self.customer,
                str_of(view, "endDateTime")
            )],
            _ => vec![],
        }
    }

    async fn create(&self, at: &crate::model::Address, w: &Writer<'_>) -> Result<(), WriteError> {
        if let Some(gone) = find(self, w.snap).flatten() {
            // Graph keeps the names of ended relationships: a create would only conflict.
            return Err(WriteError::new(
                at,
                format!(
                    "the relationship `{}` is {}, and Graph keeps that name; the tool cannot create a new relationship under it (docs/gdap.md: an ended relationship)",
                    self.display_name,
                    status(gone)
                ),
            ));
        }
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
                        &format!("{RELATIONSHIPS}?$top=1"),
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
            "{RELATIONSHIPS}?$filter={}",
            enc(&format!("displayName eq {}", odata_str(&self.display_name)))
        );
        let id = create_recovering(
            w,
            at,
            Version::V1,
            RELATIONSHIPS,
            &self.create_body(),
            || async {
                let v = w.get(at, Service::Graph(Version::V1), &filter).await?;
                Ok(v.get("value")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                    .map(|r| str_of(r, "id").to_string()))
            },
        )
        .await?;
        w.set_id(at, &id);
        // A new relationship is "invalid" to its own requests until it has replicated.
        let path = format!("{RELATIONSHIPS}/{id}");
        w.await_visible(at, "the new relationship", || async {
            match w.get(at, Service::Graph(Version::V1), &path).await {
                Ok(_) => Ok(Some(String::new())),
                Err(e) if matches!(e.status(), Some(400 | 404)) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await?;
        self.lock(&id, at, w).await
    }

    /// The only in-place change: locking a relationship a previous run created but could not
    /// lock.
    async fn update(
        &self,
        id: &str,
        at: &crate::model::Address,
        w: &Writer<'_>,
    ) -> Result<(), WriteError> {
        self.lock(id, at, w).await
    }

    /// Never deletes: an approved relationship is terminated, never deleted.
    fn prunable(&self) -> bool {
        false
    }
}
