//! Diff: desired resources against what was observed, into actions.
//!
//! Only declared fields are compared (each kind's view), drift exceptions move differences
//! aside until they expire, and owned objects that are no longer declared become deletions
//! only when pruning was asked for.

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::{Action, Change, ExceptedChange, Op};
use super::read::TenantState;
use crate::model::{Address, DesiredTenant, Observed, Spec};

/// A drift exception from a customer manifest.
#[derive(Debug, Clone)]
pub struct ExceptionRule {
    pub address: String,
    pub field: Option<String>,
    pub reason: String,
    pub owner: String,
    pub expires: String,
    /// False once the expiry date has passed.
    pub active: bool,
    /// Still active, but ending within [`EXPIRY_NOTICE_DAYS`]: the plan says so in advance.
    pub ending_soon: bool,
}

/// How many days before its end an exception is announced in every plan.
pub(crate) const EXPIRY_NOTICE_DAYS: i32 = 14;

impl ExceptionRule {
    fn covers(&self, address: &str, field: &str) -> bool {
        self.active && self.address == address && self.field.as_deref().is_none_or(|f| f == field)
    }
}

pub struct DiffInput<'a> {
    pub desired: &'a DesiredTenant,
    pub universe: &'a DesiredTenant,
    pub state: &'a TenantState,
    pub exceptions: &'a [ExceptionRule],
    pub prune: bool,
    pub allow_protected_deletes: bool,
}

pub struct DiffOutput {
    pub actions: Vec<Action>,
    pub not_pruned: Vec<String>,
    pub warnings: Vec<String>,
}

/// A resource whose state is still unknown after reading is a defect, never a guess.
#[derive(Debug, thiserror::Error)]
#[error("the state of {0} could not be determined")]
pub struct Undetermined(pub Address);

pub(crate) fn diff(input: &DiffInput<'_>) -> Result<DiffOutput, Undetermined> {
    let mut actions = Vec::new();
    let mut warnings = Vec::new();
    for e in input.exceptions.iter().filter(|e| !e.active) {
        warnings.push(format!(
            "exception on {}{} expired on {}; its drift is planned again",
            e.address,
            e.field
                .as_deref()
                .map(|f| format!(" ({f})"))
                .unwrap_or_default(),
            e.expires
        ));
    }
    for e in input
        .exceptions
        .iter()
        .filter(|e| e.active && e.ending_soon)
    {
        warnings.push(format!(
            "exception on {}{} expires on {}; renew or remove it",
            e.address,
            e.field
                .as_deref()
                .map(|f| format!(" ({f})"))
                .unwrap_or_default(),
            e.expires
        ));
    }
    for r in &input.desired.resources {
        if let Some(o) = input.state.observed.get(&r.address) {
            warnings.extend(r.spec.warnings(o));
        }
        actions.push(action_for(r, input)?);
    }
    let desired: Vec<&Address> = input.desired.resources.iter().map(|r| &r.address).collect();
    let mut not_pruned = Vec::new();
    for r in input
        .universe
        .resources
        .iter()
        .chain(&input.state.leftovers)
    {
        if desired.contains(&&r.address) || !r.spec.prunable() {
            continue;
        }
        let Some(Observed::Present { id, .. }) = input.state.observed.get(&r.address) else {
            continue;
        };
        if !input.prune {
            not_pruned.push(r.address.to_string());
            continue;
        }
        let protected = r.address.kind.is_protected();
        actions.push(Action {
            address: r.address.to_string(),
            op: Op::Delete,
            id: Some(id.clone()),
            changes: vec![],
            excepted: vec![],
            depends_on: vec![],
            protected,
            manual: None,
            note: (protected && !input.allow_protected_deletes).then(|| {
                "protected: apply also needs `lifecycle.allowProtectedDeletes: true` in this customer's manifest".to_string()
            }),
        });
    }
    Ok(DiffOutput {
        actions,
        not_pruned,
        warnings,
    })
}

fn action_for(
    r: &crate::model::DesiredResource,
    input: &DiffInput<'_>,
) -> Result<Action, Undetermined> {
    let address = r.address.to_string();
    let mut action = Action {
        address: address.clone(),
        op: Op::NoOp,
        id: None,
        changes: vec![],
        excepted: vec![],
        depends_on: r.depends_on.iter().map(ToString::to_string).collect(),
        protected: r.address.kind.is_protected(),
        manual: None,
        note: None,
    };
    if let Spec::Manual(m) = &r.spec {
        match &m.attested {
            Some(a) => action.note = Some(format!("attested by {} on {}", a.by, a.on)),
            None => action.op = Op::Manual,
        }
        action.manual = Some(m.clone());
        return Ok(action);
    }
    if let Some(why) = r.spec.waiting(&input.state.snapshot) {
        action.note = Some(why);
        return Ok(action);
    }
    let desired = r.spec.view(&input.state.ids);
    let observed = input
        .state
        .observed
        .get(&r.address)
        .ok_or_else(|| Undetermined(r.address.clone()))?;
    let whole = |field: &str| input.exceptions.iter().find(|e| e.covers(&address, field));
    match observed {
        Observed::Unknown => return Err(Undetermined(r.address.clone())),
        Observed::Absent => {
            let changes = fields(&desired)
                .map(|(f, v)| Change {
                    field: f.clone(),
                    before: Value::Null,
                    after: v.clone(),
                })
                .collect();
            match input
                .exceptions
                .iter()
                .find(|e| e.active && e.address == address && e.field.is_none())
            {
                Some(e) => {
                    action.note = Some(format!(
                        "missing, but accepted by an exception until {} ({})",
                        e.expires, e.reason
                    ));
                }
                None => {
                    action.op = Op::Create;
                    action.changes = changes;
                    action.note = r.spec.adoption_hint(&address, &input.state.snapshot);
                }
            }
        }
        Observed::Present { id, view } => {
            // A kind that stands for an absence (a GDAP termination with nothing left to
            // terminate) has no object, hence no id: the plan leaves it out, never `""`.
            action.id = Some(id.clone()).filter(|id| !id.is_empty());
            let mut immutable = false;
            for (field, after) in fields(&desired) {
                let before = view.get(field).cloned().unwrap_or(Value::Null);
                if &before == after {
                    continue;
                }
                if let Some(e) = whole(field) {
                    action.excepted.push(ExceptedChange {
                        field: field.clone(),
                        before,
                        after: after.clone(),
                        reason: e.reason.clone(),
                        owner: e.owner.clone(),
                        expires: e.expires.clone(),
                    });
                    continue;
                }
                immutable |= r.address.kind.immutable_fields().contains(&field.as_str());
                action.changes.push(Change {
                    field: field.clone(),
                    before,
                    after: after.clone(),
                });
            }
            if !action.changes.is_empty() {
                action.op = if immutable { Op::Replace } else { Op::Update };
            } else if let Some(m) = r.spec.manual_step(observed) {
                action.op = Op::Manual;
                action.manual = Some(m);
            }
        }
    }
    Ok(action)
}

fn fields(v: &Value) -> impl Iterator<Item = (&String, &Value)> {
    static EMPTY: std::sync::OnceLock<serde_json::Map<String, Value>> = std::sync::OnceLock::new();
    v.as_object()
        .unwrap_or_else(|| EMPTY.get_or_init(serde_json::Map::new))
        .iter()
}

/// Fingerprints of everything read, by printed address.
pub(crate) fn fingerprints(state: &TenantState) -> BTreeMap<String, String> {
    state
        .observed
        .iter()
        .map(|(a, o)| (a.to_string(), super::read::fingerprint(o)))
        .collect()
}
