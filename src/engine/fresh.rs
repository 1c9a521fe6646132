//! Freshness of a saved plan: its format version, the digest of the manifests it was made
//! from, and the fingerprint of every object it read. Any mismatch refuses the apply.

use std::path::Path;

use crate::expand;
use crate::model::{DesiredTenant, Ids, TenantRole};
use crate::plan::read::TenantState;
use crate::plan::{FORMAT_VERSION, Plan, TenantStates, TenantStatus};
use crate::session::Session;
use crate::validate::Validated;

use super::{EngineError, PlanFileError, Stale};

/// Reads a saved plan (`plan --out`), refusing another format version.
pub fn load_plan(path: &Path) -> Result<Plan, PlanFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| PlanFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let plan: Plan = serde_json::from_str(&text).map_err(|source| PlanFileError::NotAPlan {
        path: path.to_path_buf(),
        source,
    })?;
    if plan.format_version != FORMAT_VERSION {
        return Err(PlanFileError::Format {
            path: path.to_path_buf(),
            found: plan.format_version,
        });
    }
    Ok(plan)
}

/// The manifests are the ones the plan was made from (same digest).
pub fn check_manifests(plan: &Plan, v: &Validated) -> Result<(), EngineError> {
    if plan.manifests_digest == crate::plan::manifests_digest(v) {
        Ok(())
    } else {
        Err(EngineError::ManifestsChanged(
            plan.manifest_paths.join(", "),
        ))
    }
}

/// Re-reads every tenant of the plan and compares fingerprints: what was read when nothing
/// changed, or what changed.
pub async fn check_fresh(
    v: &Validated,
    session: &Session,
    plan: &Plan,
    parallelism: usize,
) -> Result<TenantStates, Stale> {
    let provider = expand::provider_tenant_for(v, &plan.customers);
    let base = v.base_dir();
    let customers: Vec<(String, DesiredTenant)> = plan
        .tenants
        .iter()
        .filter(|t| t.role == TenantRole::Customer)
        .filter_map(|t| {
            v.customer(&t.name).map(|c| {
                (
                    t.name.clone(),
                    expand::universe_customer(&v.provider, &c.doc),
                )
            })
        })
        .collect();
    let (ps, results) = crate::plan::provider_first(
        read_state(session, &provider, Ids::default(), &base),
        customers,
        parallelism,
        |ps, (name, universe)| {
            let ids = Ids {
                siem_app_id: ps.as_ref().ok().and_then(|s| s.ids.siem_app_id.clone()),
                ..Ids::default()
            };
            let base = base.clone();
            async move {
                let state = read_state(session, &universe, ids, &base).await;
                (name, state)
            }
        },
    )
    .await;
    let mut states = TenantStates::new();
    states.insert(provider.name.clone(), ps);
    states.extend(results);
    let mut changes = Vec::new();
    for t in &plan.tenants {
        if t.status == TenantStatus::Blocked {
            continue;
        }
        let Some(Ok(state)) = states.get(&t.name) else {
            continue;
        };
        let now = crate::plan::diff::fingerprints(state);
        for (address, before) in &t.fingerprints {
            let after = now.get(address).map_or("unread", String::as_str);
            if before != after {
                changes.push(format!("{}: {address} changed since the plan", t.name));
            }
        }
    }
    if changes.is_empty() {
        Ok(states)
    } else {
        Err(Stale { changes })
    }
}

async fn read_state(
    session: &Session,
    universe: &DesiredTenant,
    ids: Ids,
    base: &Path,
) -> Result<TenantState, crate::plan::read::ReadError> {
    let tg = session.graph.tenant(
        &universe.tenant_id,
        session.endpoints.profile(universe.cloud),
    );
    crate::plan::read::read_tenant(&tg, universe, ids, base).await
}
