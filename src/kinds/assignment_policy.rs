//! Assignment policies: who may request a package, approvals, expiry, reviews. Updated by PUT.

use serde::Serialize;
use serde_json::{Value, json};

use crate::graph::Version;
use crate::graph::write::{Collection, WriteError, Writer};
use crate::kinds::{ObserveContext, Permissions, ResourceKind, keyed_or_adopted, perms, present};
use crate::model::observe::{ENTITLEMENT, Ids, Observed, Read, Snapshot, str_of};
use crate::model::{Address, ObserveError};

/// Natural key: (package, `displayName`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentPolicySpec {
    pub package: Address,
    pub display_name: String,
    pub description: String,
    /// Requests are limited to users of this connected organization.
    pub connected_organization: Address,
    /// ISO 8601 duration of an assignment.
    pub expiration: String,
    pub approval: ApprovalSpec,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<ReviewSpec>,
    /// The id of a hand-made object under another name to take over (`spec.adopt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adopt_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalSpec {
    pub required: bool,
    pub approvers: Vec<SubjectRef>,
    pub approver_justification_required: bool,
    pub requestor_justification_required: bool,
    pub auto_deny_after: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewSpec {
    pub recurrence_months: u32,
    pub duration: String,
    pub reviewers: Vec<SubjectRef>,
    pub expiration_behavior: String,
    pub start_date: jiff::civil::Date,
}

/// An approver or reviewer, with tiers resolved to the group resource they stand for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SubjectRef {
    GroupMembers(Address),
    ExistingGroup(String),
    User(String),
    InternalSponsors,
    ExternalSponsors,
}

pub const KEY: &str = "assignment-policies";
const POLICIES: Collection = Collection::new(
    Version::V1,
    "/identityGovernance/entitlementManagement/assignmentPolicies",
);

/// Every policy with its package: policies are found by (package, name).
fn list_url() -> String {
    format!("{ENTITLEMENT}/assignmentPolicies?$expand=accessPackage")
}

/// Policies of an access package (for adopting a hand-made one). With the MSSP's connected
/// organization known, only policies that let its users request count.
pub(crate) fn on_package<'a>(
    snap: &'a Snapshot,
    package_id: &str,
    org_id: Option<&str>,
) -> Vec<&'a Value> {
    snap.items(KEY)
        .unwrap_or_default()
        .iter()
        .filter(|p| {
            p.get("accessPackage")
                .is_some_and(|a| str_of(a, "id").eq_ignore_ascii_case(package_id))
        })
        .filter(|p| {
            org_id.is_none_or(|org| {
                p.get("specificAllowedTargets")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .any(|t| str_of(t, "connectedOrganizationId").eq_ignore_ascii_case(org))
            })
        })
        .collect()
}

fn subject(s: &SubjectRef, ids: &Ids) -> Value {
    match s {
        SubjectRef::GroupMembers(a) => json!({
            "@odata.type": "#microsoft.graph.groupMembers", "groupId": ids.or_later(a)
        }),
        SubjectRef::ExistingGroup(id) => {
            json!({"@odata.type": "#microsoft.graph.groupMembers", "groupId": id})
        }
        SubjectRef::User(id) => json!({"@odata.type": "#microsoft.graph.singleUser", "userId": id}),
        SubjectRef::InternalSponsors => json!({"@odata.type": "#microsoft.graph.internalSponsors"}),
        SubjectRef::ExternalSponsors => json!({"@odata.type": "#microsoft.graph.externalSponsors"}),
    }
}

impl AssignmentPolicySpec {
    /// The natural key: this display name on our access package.
    fn is_key(&self, p: &Value, package_id: &str) -> bool {
        str_of(p, "displayName") == self.display_name
            && p.get("accessPackage")
                .is_some_and(|a| str_of(a, "id").eq_ignore_ascii_case(package_id))
    }

    /// The full policy body: create is POST, update is a PUT of this whole body (omitted
    /// nested settings would be reset by the service).
    fn body(&self, ids: &Ids) -> Value {
        let approvers: Vec<Value> = self
            .approval
            .approvers
            .iter()
            .map(|s| subject(s, ids))
            .collect();
        let stages = if self.approval.required {
            json!([{
                "durationBeforeAutomaticDenial": self.approval.auto_deny_after,
                "isApproverJustificationRequired": self.approval.approver_justification_required,
                "isEscalationEnabled": false,
                "durationBeforeEscalation": "PT0S",
                "primaryApprovers": approvers,
                "fallbackPrimaryApprovers": [],
                "escalationApprovers": [],
                "fallbackEscalationApprovers": [],
            }])
        } else {
            json!([])
        };
        let review = match &self.review {
            None => json!({"isEnabled": false}),
            Some(r) => json!({
                "isEnabled": true,
                "expirationBehavior": r.expiration_behavior,
                "isRecommendationEnabled": true,
                "isReviewerJustificationRequired": true,
                "isSelfReview": false,
                "schedule": {
                    "startDateTime": format!("{}T00:00:00Z", r.start_date),
                    "expiration": {"type": "afterDuration", "duration": r.duration},
                    "recurrence": {
                        "pattern": {"type": "absoluteMonthly", "interval": r.recurrence_months,
                                    "month": 0, "dayOfMonth": 0, "daysOfWeek": []},
                        "range": {"type": "noEnd", "numberOfOccurrences": 0},
                    },
                },
                "primaryReviewers": r.reviewers.iter().map(|s| subject(s, ids)).collect::<Vec<_>>(),
                "fallbackReviewers": [],
            }),
        };
        json!({
            "displayName": self.display_name,
            "description": self.description,
            "allowedTargetScope": "specificConnectedOrganizationUsers",
            "specificAllowedTargets": [{
                "@odata.type": "#microsoft.graph.connectedOrganizationMembers",
                "connectedOrganizationId": ids.or_later(&self.connected_organization),
            }],
            "expiration": {"type": "afterDuration", "duration": self.expiration},
            "requestorSettings": {
                "enableTargetsToSelfAddAccess": true,
                "enableTargetsToSelfUpdateAccess": true,
                "enableTargetsToSelfRemoveAccess": true,
                "allowCustomAssignmentSchedule": false,
                "enableOnBehalfRequestorsToAddAccess": false,
                "enableOnBehalfRequestorsToUpdateAccess": false,
                "enableOnBehalfRequestorsToRemoveAccess": false,
                "onBehalfRequestors": [],
            },
            "requestApprovalSettings": {
                "isApprovalRequiredForAdd": self.approval.required,
                "isApprovalRequiredForUpdate": self.approval.required,
                "isRequestorJustificationRequired": self.approval.requestor_justification_required,
                "stages": stages,
            },
            "reviewSettings": review,
            "accessPackage": {"id": ids.or_later(&self.package)},
        })
    }
}

/// The compared view of a policy: the fields the tool declares, with server defaults and
/// ordering normalised so a policy read back equals the one sent.
pub(crate) fn normalise(p: &Value) -> Value {
    let get = |path: &[&str]| -> Value {
        let mut cur = p;
        for k in path {
            match cur.get(*k) {
                Some(v) => cur = v,
                None => return Value::Null,
            }
        }
        cur.clone()
    };
    let subjects = |v: Value| -> Value {
        let mut keys: Vec<String> = v
            .as_array()
            .map(|a| a.iter().map(subject_key).collect())
            .unwrap_or_default();
        keys.sort();
        json!(keys)
    };
    let targets = {
        let mut t: Vec<String> = get(&["specificAllowedTargets"])
            .as_array()
            .map(|a| a.iter().map(subject_key).collect())
            .unwrap_or_default();
        t.sort();
        t
    };
    let stages: Vec<Value> = get(&["requestApprovalSettings", "stages"])
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    json!({
                        "durationBeforeAutomaticDenial": duration(s.get("durationBeforeAutomaticDenial")),
                        "isApproverJustificationRequired": s.get("isApproverJustificationRequired").cloned().unwrap_or(Value::Bool(false)),
                        "primaryApprovers": subjects(s.get("primaryApprovers").cloned().unwrap_or(Value::Null)),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let review_enabled = get(&["reviewSettings", "isEnabled"])
        .as_bool()
        .unwrap_or(false);
    let review = if review_enabled {
        json!({
            "isEnabled": true,
            "expirationBehavior": get(&["reviewSettings", "expirationBehavior"]),
            "duration": duration(Some(&get(&["reviewSettings", "schedule", "expiration", "duration"]))),
            "intervalMonths": get(&["reviewSettings", "schedule", "recurrence", "pattern", "interval"]),
            "primaryReviewers": subjects(get(&["reviewSettings", "primaryReviewers"])),
        })
    } else {
        json!({"isEnabled": false})
    };
    json!({
        "description": get(&["description"]),
        "allowedTargetScope": get(&["allowedTargetScope"]),
        "specificAllowedTargets": targets,
        "expiration": {
            "type": get(&["expiration", "type"]),
            "duration": duration(Some(&get(&["expiration", "duration"]))),
        },
        "requestorSettings": {
            "enableTargetsToSelfAddAccess": get(&["requestorSettings", "enableTargetsToSelfAddAccess"]),
            "enableTargetsToSelfUpdateAccess": get(&["requestorSettings", "enableTargetsToSelfUpdateAccess"]),
            "enableTargetsToSelfRemoveAccess": get(&["requestorSettings", "enableTargetsToSelfRemoveAccess"]),
        },
        "requestApprovalSettings": {
            "isApprovalRequiredForAdd": get(&["requestApprovalSettings", "isApprovalRequiredForAdd"]),
            "isRequestorJustificationRequired": get(&["requestApprovalSettings", "isRequestorJustificationRequired"]),
            "stages": stages,
        },
        "reviewSettings": review,
    })
}

/// A subject set as a sortable key: `groupMembers:<id>`, `externalSponsors`, …
fn subject_key(s: &Value) -> String {
    let t = str_of(s, "@odata.type").trim_start_matches("#microsoft.graph.");
    let id = [
        "groupId",
        "userId",
        "connectedOrganizationId",
        "managerLevel",
    ]
    .iter()
    .find_map(|k| s.get(*k))
    .map(|v| match v {
        Value::String(x) => x.to_ascii_lowercase(),
        other => other.to_string(),
    });
    match id {
        Some(id) => format!("{t}:{id}"),
        None => t.to_string(),
    }
}

/// Durations compare by value: `P14D` and `P2W` are the same fortnight.
fn duration(v: Option<&Value>) -> Value {
    let Some(s) = v.and_then(Value::as_str) else {
        return Value::Null;
    };
    match s.parse::<jiff::Span>() {
        Ok(span) if span.get_years() == 0 && span.get_months() == 0 => {
            let days = span.get_weeks() * 7 + span.get_days();
            let rest = jiff::Span::new()
                .hours(span.get_hours())
                .minutes(span.get_minutes())
                .seconds(span.get_seconds());
            if rest.is_zero() {
                json!(format!("P{days}D"))
            } else {
                json!(s.to_ascii_uppercase())
            }
        }
        _ => json!(s.to_ascii_uppercase()),
    }
}

impl ResourceKind for AssignmentPolicySpec {
    const NAME: &'static str = "assignment-policy";
    const READ_PERMISSIONS: Permissions = perms::EM_READ;
    const WRITE_PERMISSIONS: Permissions = perms::EM_WRITE;
    const FIELDS: &'static [&'static str] = &[
        "description",
        "allowedTargetScope",
        "specificAllowedTargets",
        "expiration",
        "requestorSettings",
        "requestApprovalSettings",
        "reviewSettings",
    ];
    const PROTECTED: bool = true;
    const ADOPTABLE: bool = true;

    fn read_by_id(id: &str) -> Option<(Version, String)> {
        POLICIES.read_by_id(id)
    }

    fn reads(&self, _ids: &Ids) -> Vec<Read> {
        vec![Read::list(KEY, Version::V1, list_url())]
    }

    fn observe(&self, cx: &ObserveContext<'_>) -> Result<Observed, ObserveError> {
        let Some(pkg) = cx.ids.of(&self.package) else {
            return Ok(Observed::Absent);
        };
        let Some(items) = cx.snap.items(KEY) else {
            return Ok(Observed::Unknown);
        };
        let found = keyed_or_adopted(
            "assignment policy",
            &self.display_name,
            self.adopt_id.as_deref(),
            items,
            |p| self.is_key(p, pkg),
        )?;
        Ok(present(found, normalise))
    }

    fn view(&self, ids: &Ids) -> Value {
        normalise(&self.body(ids))
    }

    async fn create(&self, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        let pkg = w.id_of(at, &self.package)?;
        let body = self.body(&w.ids());
        POLICIES
            .create(w, at, &body, &list_url(), |items| {
                items.iter().find(|p| self.is_key(p, &pkg))
            })
            .await
    }

    /// Update is a PUT of the complete policy (the service resets whatever is left out).
    async fn update(&self, id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        let mut body = self.body(&w.ids());
        body["id"] = json!(id);
        POLICIES.put(w, at, id, &body).await
    }

    async fn delete(&self, id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        POLICIES.delete(w, at, id).await
    }
}
