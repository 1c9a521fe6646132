//! The plan as data: what will change in each tenant. Serialised as the versioned JSON of
//! `--format json` and of saved plans (docs/plan-format.md). Never holds a secret value.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cloud::Cloud;
use crate::kinds::TenantRole;
use crate::kinds::manual::ManualSpec;

/// Version of the JSON plan format; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// A plan of changes, as printed by `mssp plan --format json` and saved by `--out`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(title = "mssp plan (format version 1)")]
pub struct Plan {
    pub format_version: u32,
    pub tool_version: String,
    pub created_at: String,
    /// SHA-256 over the manifests' paths and contents: `apply` refuses a plan whose
    /// manifests changed since.
    pub manifests_digest: String,
    /// The manifest paths the plan was made from (what `apply PLAN` loads again).
    pub manifest_paths: Vec<String>,
    /// Whether deletions of owned, no longer declared objects were planned.
    pub prune: bool,
    pub tenants: Vec<TenantPlan>,
    pub summary: Counts,
    /// The changes grouped by kind, across tenants: the overview of a nightly drift run.
    #[serde(default)]
    pub drift: Vec<DriftGroup>,
    /// Set on the output of `--shard K/N`: the plan lists only that shard's tenants (the MSSP
    /// tenant only in shard 1). `mssp merge` joins the shards into the whole plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::shard::Shard>,
    /// The customers `--customer` or `--label` selected; absent: all. The MSSP tenant's GDAP
    /// items are those of these customers only, and `apply PLAN` re-reads and applies the
    /// same ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub customers: Vec<String>,
}

/// One kind of change (an operation on a resource kind, for updates the fields changed) and
/// the tenants it occurs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftGroup {
    /// `create`, `update`, …; `blocked` for tenants that could not be read, `expiredException`
    /// for drift exceptions past their date, `expiringException` for ones ending within 14 days.
    pub change: String,
    /// The resource kind (`access-package`), empty for tenant-level groups.
    pub kind: String,
    /// Fields changed (updates and replaces), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// Tenants (by manifest name), sorted.
    pub tenants: Vec<String>,
    /// Actions (or exceptions) in the group, over all its tenants.
    pub count: usize,
}

/// (change, kind, fields) of a drift group.
type GroupKey = (String, String, Vec<String>);

/// Groups every change of `tenants` by kind of change. Blocked tenants and expired drift
/// exceptions are groups of their own, so the overview can never hide them.
pub fn drift(tenants: &[TenantPlan]) -> Vec<DriftGroup> {
    let mut groups: BTreeMap<GroupKey, (std::collections::BTreeSet<String>, usize)> =
        BTreeMap::new();
    let mut add = |change: &str, kind: &str, fields: Vec<String>, tenant: &str| {
        let e = groups
            .entry((change.to_string(), kind.to_string(), fields))
            .or_default();
        e.0.insert(tenant.to_string());
        e.1 += 1;
    };
    for t in tenants {
        if t.status == TenantStatus::Blocked {
            add("blocked", "", vec![], &t.name);
        }
        for w in t.warnings.iter().filter(|w| w.starts_with("exception on ")) {
            let kind = w
                .trim_start_matches("exception on ")
                .split('/')
                .next()
                .unwrap_or("");
            let change = if w.contains(" expired on ") {
                "expiredException"
            } else {
                "expiringException"
            };
            add(change, kind, vec![], &t.name);
        }
        for a in t.actions.iter().filter(|a| a.op.is_change()) {
            let kind = a.address.split('/').next().unwrap_or("");
            let mut fields: Vec<String> = match a.op {
                Op::Update | Op::Replace => a.changes.iter().map(|c| c.field.clone()).collect(),
                _ => vec![],
            };
            fields.sort();
            fields.dedup();
            add(a.op.verb(), kind, fields, &t.name);
        }
    }
    groups
        .into_iter()
        .map(|((change, kind, fields), (tenants, count))| DriftGroup {
            change,
            kind,
            fields,
            tenants: tenants.into_iter().collect(),
            count,
        })
        .collect()
}

impl Plan {
    /// Whether anything would change (manual items awaiting attestation count as changes).
    pub fn has_changes(&self) -> bool {
        self.tenants.iter().any(TenantPlan::has_changes)
    }

    pub fn blocked(&self) -> impl Iterator<Item = &TenantPlan> {
        self.tenants
            .iter()
            .filter(|t| t.status == TenantStatus::Blocked)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum TenantStatus {
    /// Every object was read; the actions are complete.
    Complete,
    /// A read failed: the tenant's state is unknown and nothing is planned for it.
    Blocked,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantPlan {
    pub name: String,
    pub role: TenantRole,
    pub tenant_id: String,
    pub display_name: String,
    pub cloud: Cloud,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal_link: Option<String>,
    /// The manifest's `metadata.labels`, for grouping and filtering plans downstream.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub status: TenantStatus,
    /// Why the tenant is blocked (the failed read, with Graph's code and request id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_reason: Option<String>,
    pub actions: Vec<Action>,
    /// Owned objects no longer declared, left alone because pruning was not asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_pruned: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Fingerprint of every object read, by address (`absent` for missing ones).
    pub fingerprints: BTreeMap<String, String>,
    /// HTTP requests the read took (retries included, token requests excluded).
    pub requests: u64,
    pub counts: Counts,
}

impl TenantPlan {
    pub fn has_changes(&self) -> bool {
        self.actions.iter().any(|a| a.op.is_change())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Op {
    Create,
    Update,
    Replace,
    Delete,
    NoOp,
    /// No API: done by hand in the portal, then attested in the manifest.
    Manual,
}

impl Op {
    pub fn is_change(self) -> bool {
        !matches!(self, Op::NoOp)
    }

    /// Terraform-style marker.
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Op::Create => "+",
            Op::Update => "~",
            Op::Replace => "-/+",
            Op::Delete => "-",
            Op::NoOp => " ",
            Op::Manual => "!",
        }
    }

    pub fn verb(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Update => "update",
            Op::Replace => "replace",
            Op::Delete => "delete",
            Op::NoOp => "no-op",
            Op::Manual => "manual",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    pub address: String,
    pub op: Op,
    /// The object's id in the tenant, when it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Field-level changes (updates and replaces); for creates, the declared values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// Differences suppressed by a drift exception from the manifest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excepted: Vec<ExceptedChange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Access grants and the SIEM app: deleting them needs explicit consent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protected: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<ManualSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub field: String,
    /// Current value; null for creates.
    pub before: Value,
    pub after: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExceptedChange {
    pub field: String,
    pub before: Value,
    pub after: Value,
    pub reason: String,
    pub owner: String,
    pub expires: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub manual: usize,
    pub unchanged: usize,
    pub excepted: usize,
    pub blocked: usize,
}

impl Counts {
    pub fn of(actions: &[Action]) -> Self {
        let mut c = Counts::default();
        for a in actions {
            match a.op {
                Op::Create => c.create += 1,
                Op::Update => c.update += 1,
                Op::Replace => c.replace += 1,
                Op::Delete => c.delete += 1,
                Op::Manual => c.manual += 1,
                Op::NoOp => c.unchanged += 1,
            }
            if !a.excepted.is_empty() {
                c.excepted += 1;
            }
        }
        c
    }

    pub fn add(&mut self, o: &Counts) {
        self.create += o.create;
        self.update += o.update;
        self.replace += o.replace;
        self.delete += o.delete;
        self.manual += o.manual;
        self.unchanged += o.unchanged;
        self.excepted += o.excepted;
        self.blocked += o.blocked;
    }
}
