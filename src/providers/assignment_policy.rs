//! Assignment policies: who may request a package, approvals, expiry, reviews. Updated by PUT.

use serde::Serialize;

use super::Address;

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
    pub start_date: String,
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

impl AssignmentPolicySpec {
    pub const FIELDS: &'static [&'static str] = &[
        "description",
        "allowedTargetScope",
        "expiration",
        "requestorSettings",
        "requestApprovalSettings",
        "reviewSettings",
    ];
}
