//! Planning: read the selected tenants and diff them against the manifests.

use std::path::PathBuf;
use std::sync::Arc;

use crate::plan::{self, Keep, Plan, PlanOptions, TenantStates};
use crate::session::Session;
use crate::validate::Validated;

use super::EngineError;

/// What a plan covers and how it reads.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    /// The manifest paths as given (recorded in a saved plan so `apply PLAN` loads the same).
    pub paths: Vec<PathBuf>,
    /// Customers to plan; empty: all.
    pub customers: Vec<String>,
    pub parallelism: usize,
    pub prune: bool,
    /// How long to wait for objects created moments ago to show up in lists.
    pub visibility_wait: std::time::Duration,
}

/// `customers` narrowed by labels (`KEY=VALUE`, all must match): an empty answer means every
/// customer; labels that match none are an error.
pub(crate) fn select_customers(
    v: &Validated,
    customers: &[String],
    labels: &[(String, String)],
) -> Result<Vec<String>, EngineError> {
    super::check_customers(v, customers)?;
    if labels.is_empty() {
        return Ok(customers.to_vec());
    }
    let matching: Vec<String> = v
        .customers
        .iter()
        .map(|c| &c.doc.metadata)
        .filter(|m| customers.is_empty() || customers.contains(&m.name.value))
        .filter(|m| {
            labels
                .iter()
                .all(|(k, val)| m.labels.get(k).is_some_and(|x| x == val))
        })
        .map(|m| m.name.value.clone())
        .collect();
    if matching.is_empty() {
        let wanted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        return Err(EngineError::NoCustomerWithLabels(wanted.join(", ")));
    }
    Ok(matching)
}

/// Plans the requested tenants (a progress spinner on stderr while they are read).
pub async fn make_plan(req: &PlanRequest, v: &Validated, session: &Session) -> Plan {
    make_plan_keeping(req, v, session, Keep::default()).await
}

/// [`make_plan`], keeping only what `keep` says (what the output that follows needs).
pub async fn make_plan_keeping(
    req: &PlanRequest,
    v: &Validated,
    session: &Session,
    keep: Keep,
) -> Plan {
    plan_inner(req, v, session, false, keep).await.0
}

/// The plan and what each tenant was read as (for an apply that follows at once).
pub(crate) async fn make_plan_with_states(
    req: &PlanRequest,
    v: &Validated,
    session: &Session,
) -> (Plan, TenantStates) {
    plan_inner(req, v, session, true, Keep::default()).await
}

/// `keep_states`: also return what was read (then the whole plan is kept: `keep` is unused).
async fn plan_inner(
    req: &PlanRequest,
    v: &Validated,
    session: &Session,
    keep_states: bool,
    keep: Keep,
) -> (Plan, TenantStates) {
    let selected = if req.customers.is_empty() {
        v.customers.len()
    } else {
        req.customers.len()
    };
    let progress = indicatif::ProgressBar::new(u64::try_from(selected + 1).unwrap_or(u64::MAX));
    progress.set_style(
        indicatif::ProgressStyle::with_template("{spinner} reading tenants {pos}/{len} {wide_bar}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let opts = PlanOptions {
        prune: req.prune,
        parallelism: req.parallelism,
        customers: req.customers.clone(),
        today: jiff::ZonedDateTime::now().date(),
        manifest_paths: crate::manifest::resolve_paths(&req.paths)
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        recent: Some(Arc::clone(&session.recent)),
        visibility_wait: req.visibility_wait,
    };
    let planned = if keep_states {
        plan::plan_with_states(
            v,
            Arc::clone(&session.graph),
            &session.endpoints,
            &opts,
            &progress,
        )
        .await
    } else {
        let p = plan::plan_keeping(
            v,
            Arc::clone(&session.graph),
            &session.endpoints,
            &opts,
            &progress,
            keep,
        )
        .await;
        (p, TenantStates::new())
    };
    progress.finish_and_clear();
    planned
}
