//! Assignment policies: who may request a package, approvals, expiry, reviews. Updated by PUT.

use serde::Serialize;

use crate::model::Address;

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

use serde_json::{Value, json};

use crate::graph::Version;
use crate::model::observe::{ENTITLEMENT, Ids, Observed, Read, Snapshot, single, str_of};

pub const KEY: &str = "assignment-policies";

pub fn reads(_spec: &AssignmentPolicySpec) -> Vec<Read> {
    vec![Read::list(
        KEY,
        Version::V1,
        format!("{ENTITLEMENT}/assignmentPolicies?$expand=accessPackage"),
    )]
}

pub(crate) fn observe(
    spec: &AssignmentPolicySpec,
    snap: &Snapshot,
    ids: &Ids,
) -> Result<Observed, crate::model::ObserveError> {
    let Some(pkg) = ids.of(&spec.package) else {
        return Ok(Observed::Absent);
    };
    let Some(items) = snap.items(KEY) else {
        return Ok(Observed::Unknown);
    };
    let pinned = |p: &Value| {
        spec.adopt_id
            .as_deref()
            .is_some_and(|id| str_of(p, "id").eq_ignore_ascii_case(id))
    };
    let matching = items.iter().filter(|p| is_key(p, spec, pkg) || pinned(p));
    let what = format!("assignment policy \"{}\"", spec.display_name);
    Ok(match single(what, matching)? {
        None if spec.adopt_id.is_some() => {
            return Err(crate::model::adopted_missing(
                "assignment policy",
                spec.adopt_id.as_deref().unwrap_or_default(),
            ));
        }
        None => Observed::Absent,
        Some(v) => Observed::Present {
            id: str_of(v, "id").to_string(),
            view: normalise(v),
        },
    })
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

/// The natural key: this display name on our access package.
fn is_key(p: &Value, spec: &AssignmentPolicySpec, package_id: &str) -> bool {
    str_of(p, "displayName") == spec.display_name
        && p.get("accessPackage")
            .is_some_and(|a| str_of(a, "id").eq_ignore_ascii_case(package_id))
}

pub fn view(spec: &AssignmentPolicySpec, ids: &Ids) -> Value {
    normalise(&body(spec, ids))
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

/// The full policy body: create is POST, update is a PUT of this whole body (omitted nested
/// settings would be reset by the service).
pub fn body(spec: &AssignmentPolicySpec, ids: &Ids) -> Value {
    let approvers: Vec<Value> = spec
        .approval
        .approvers
        .iter()
        .map(|s| subject(s, ids))
        .collect();
    let stages = if spec.approval.required {
        json!([{
            "durationBeforeAutomaticDenial": spec.approval.auto_deny_after,
            "isApproverJustificationRequired": spec.approval.approver_justification_required,
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
    let review = match &spec.review {
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
        "displayName": spec.display_name,
        "description": spec.description,
        "allowedTargetScope": "specificConnectedOrganizationUsers",
        "specificAllowedTargets": [{
            "@odata.type": "#microsoft.graph.connectedOrganizationMembers",
            "connectedOrganizationId": ids.or_later(&spec.connected_organization),
        }],
        "expiration": {"type": "afterDuration", "duration": spec.expiration},
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
            "isApprovalRequiredForAdd": spec.approval.required,
            "isApprovalRequiredForUpdate": spec.approval.required,
            "isRequestorJustificationRequired": spec.approval.requestor_justification_required,
            "stages": stages,
        },
        "reviewSettings": review,
        "accessPackage": {"id": ids.or_later(&spec.package)},
    })
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

use crate::graph::Service;
use crate::graph::write::{WriteError, Writer, graph_err};

pub async fn create(
    spec: &AssignmentPolicySpec,
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    let pkg = w.id_of(at, &spec.package)?;
    let body = body(spec, &w.ids());
    crate::graph::write::create_listed(
        w,
        at,
        &format!("{ENTITLEMENT}/assignmentPolicies"),
        &body,
        &reads(spec)[0].url,
        |p| is_key(p, spec, &pkg),
    )
    .await
}

/// Update is a PUT of the complete policy (the service resets whatever is left out).
pub async fn update(
    spec: &AssignmentPolicySpec,
    id: &str,
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    let mut b = body(spec, &w.ids());
    b["id"] = json!(id);
    w.call(
        at,
        Service::Graph(Version::V1),
        reqwest::Method::PUT,
        &format!("{ENTITLEMENT}/assignmentPolicies/{id}"),
        Some(&b),
        &[],
    )
    .await
    .map_err(graph_err(at))?;
    Ok(())
}

pub async fn delete(
    id: &str,
    at: &crate::model::Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    crate::graph::write::delete_path(
        w,
        at,
        Version::V1,
        &format!("{ENTITLEMENT}/assignmentPolicies/{id}"),
    )
    .await
}

impl crate::kinds::ResourceKind for AssignmentPolicySpec {
    const NAME: &'static str = "assignment-policy";
    const READ_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::EM_READ;
    const WRITE_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::EM_WRITE;
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

    fn read_by_id(id: &str) -> Option<(crate::graph::Version, String)> {
        let id = crate::model::observe::enc(id);
        Some((
            crate::graph::Version::V1,
            format!("identityGovernance/entitlementManagement/assignmentPolicies/{id}"),
        ))
    }
    fn reads(&self, _ids: &crate::model::Ids) -> Vec<crate::model::Read> {
        reads(self)
    }
    fn observe(
        &self,
        cx: &crate::kinds::ObserveContext<'_>,
    ) -> Result<crate::model::Observed, crate::model::ObserveError> {
        observe(self, cx.snap, cx.ids)
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
