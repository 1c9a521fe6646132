//! Plan binding: `apply PLAN` never executes the file's actions. It derives them again from the
//! manifests and the tenants it has just re-read, and refuses a saved plan that says anything
//! else, so an edited (or stale) plan file can neither delete nor redirect a write.

use std::collections::BTreeMap;

use crate::kinds::TenantRole;
use crate::plan::{self, Action, Plan, PlanOptions, TenantPlan, TenantStates, TenantStatus};
use crate::validate::Validated;

const SUFFIX: &str = "the plan file was edited or is stale";

/// A saved plan that differs from what the manifests and the tenants give.
#[derive(Debug, thiserror::Error)]
#[error("{file} does not match what the manifests and the tenants give; nothing was applied")]
pub struct Unbound {
    pub file: String,
    /// One line per difference, each naming the tenant and, for actions, the address.
    pub differences: Vec<String>,
}

impl Unbound {
    /// The refusal as printed on stderr.
    pub fn report(&self) -> String {
        let mut out = format!("error: {self}:\n");
        for d in &self.differences {
            out.push_str(&format!("  {d}\n"));
        }
        out.push_str("  = help: make a new plan and review it\n");
        out
    }
}

/// The plan to run for `saved`: recomputed from the manifests and `states` (the fresh reads of
/// `engine::check_fresh`) with only the options that are the user's own — `prune` and which
/// customers were planned — taken from the file. Any difference between the two refuses it.
pub fn bind(
    v: &Validated,
    saved: &Plan,
    states: &TenantStates,
    parallelism: usize,
    file: &std::path::Path,
) -> Result<Plan, Unbound> {
    // Messages name the file as users call it ("plan.json says …").
    let file = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let file = file.as_str();
    let mut differences = Vec::new();
    let provider = &v.provider.doc.metadata.name.value;
    let mut customers: Vec<String> = Vec::new();
    for t in saved.tenants.iter().filter(|t| &t.name != provider) {
        if v.customer(&t.name).is_none() {
            differences.push(format!(
                "{file} names tenant {}, which the manifests do not declare: {SUFFIX}",
                t.name
            ));
        } else if customers.contains(&t.name) {
            differences.push(format!("{file} lists {} twice: {SUFFIX}", t.name));
        } else {
            customers.push(t.name.clone());
        }
    }
    let opts = PlanOptions {
        prune: saved.prune,
        parallelism,
        customers,
        today: jiff::ZonedDateTime::now().date(),
        manifest_paths: saved.manifest_paths.clone(),
        // The states were read by `check_fresh`; nothing is read again here.
        recent: None,
        visibility_wait: std::time::Duration::ZERO,
    };
    let mut fresh = plan::plan_from_states(v, states, &opts, &saved.customers);
    if let Some(shard) = saved.shard {
        // A shard's plan holds the MSSP tenant only in shard 1: the others must not write it,
        // and their customers may need what shard 1 still has to create there.
        if !shard.owns_provider()
            && let Some(t) = crate::shard::provider_writes(&fresh)
        {
            differences.push(format!(
                "{file} is shard {shard}, but the MSSP tenant {} has changes that only shard 1 applies: apply shard 1 first",
                t.name
            ));
        }
        crate::shard::finish_plan(&mut fresh, shard, &saved.manifests_digest);
    }
    for t in &mut fresh.tenants {
        // A tenant blocked when the plan was made had nothing reviewed: it stays skipped.
        if saved
            .tenants
            .iter()
            .any(|s| s.name == t.name && s.status == TenantStatus::Blocked)
        {
            t.status = TenantStatus::Blocked;
            t.blocked_reason = Some("blocked when the plan was made".into());
            t.actions.clear();
            t.counts = plan::Counts {
                blocked: 1,
                ..plan::Counts::default()
            };
        }
    }
    for t in &fresh.tenants {
        match saved.tenants.iter().find(|s| s.name == t.name) {
            Some(s) => compare_tenant(file, s, t, &mut differences),
            None => differences.push(format!(
                "{file} lacks tenant {}, which the manifests declare: {SUFFIX}",
                t.name
            )),
        }
    }
    if differences.is_empty() {
        Ok(fresh)
    } else {
        Err(Unbound {
            file: file.to_string(),
            differences,
        })
    }
}

fn compare_tenant(file: &str, saved: &TenantPlan, fresh: &TenantPlan, out: &mut Vec<String>) {
    let name = &fresh.name;
    let mut field = |what: &str, was: String, is: String| {
        if was != is {
            out.push(format!(
                "{file} says {what} {was} for {name}; the manifests say {is}: {SUFFIX}"
            ));
        }
    };
    field(
        "tenant id",
        saved.tenant_id.clone(),
        fresh.tenant_id.clone(),
    );
    field("role", role(saved.role).into(), role(fresh.role).into());
    field(
        "cloud",
        format!("{:?}", saved.cloud),
        format!("{:?}", fresh.cloud),
    );
    field(
        "display name",
        saved.display_name.clone(),
        fresh.display_name.clone(),
    );
    // Blocked either way: nothing is applied to the tenant, so there are no actions to bind.
    if saved.status == TenantStatus::Blocked || fresh.status == TenantStatus::Blocked {
        return;
    }
    let by_address = |t: &TenantPlan| -> BTreeMap<String, Vec<Action>> {
        let mut m: BTreeMap<String, Vec<Action>> = BTreeMap::new();
        for a in &t.actions {
            m.entry(a.address.clone()).or_default().push(a.clone());
        }
        m
    };
    let (was, is) = (by_address(saved), by_address(fresh));
    for address in was
        .keys()
        .chain(is.keys().filter(|k| !was.contains_key(*k)))
    {
        match (was.get(address), is.get(address)) {
            (Some(w), Some(i)) if w.len() == 1 && i.len() == 1 => {
                compare_action(file, name, &w[0], &i[0], out);
            }
            (Some(w), None) => out.push(format!(
                "{file} says {} in {name}; the manifests and the tenant plan nothing for it: {SUFFIX}",
                describe(&w[0])
            )),
            (None, Some(i)) => out.push(format!(
                "{file} lacks {address} in {name}; the manifests and the tenant say {}: {SUFFIX}",
                describe(&i[0])
            )),
            _ => out.push(format!(
                "{file} lists {address} in {name} more than once: {SUFFIX}"
            )),
        }
    }
}

fn compare_action(file: &str, tenant: &str, was: &Action, is: &Action, out: &mut Vec<String>) {
    let address = &is.address;
    if was.op != is.op || was.protected != is.protected {
        out.push(format!(
            "{file} says {} in {tenant}; the manifests and the tenant say {}{}: {SUFFIX}",
            describe(was),
            is.op.verb(),
            if is.protected { " (protected)" } else { "" }
        ));
        return;
    }
    let mut differs = Vec::new();
    if was.id != is.id {
        differs.push(format!(
            "object id {} where the tenant has {}",
            was.id.as_deref().unwrap_or("(none)"),
            is.id.as_deref().unwrap_or("(none)")
        ));
    }
    if was.changes != is.changes {
        differs.push("different field changes".into());
    }
    if was.excepted != is.excepted {
        differs.push("different excepted drift".into());
    }
    if was.depends_on != is.depends_on {
        differs.push("different dependencies".into());
    }
    if !differs.is_empty() {
        out.push(format!(
            "{file} says {} in {tenant} with {}; the manifests and the tenant disagree: {SUFFIX}",
            was.op.verb().to_string() + " " + address,
            differs.join(", ")
        ));
    }
}

/// `delete access-package/tier2 (protected)`.
fn describe(a: &Action) -> String {
    format!(
        "{} {}{}",
        a.op.verb(),
        a.address,
        if a.protected { " (protected)" } else { "" }
    )
}

fn role(r: TenantRole) -> &'static str {
    match r {
        TenantRole::Provider => "provider",
        TenantRole::Customer => "customer",
    }
}
