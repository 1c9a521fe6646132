//! Issue 15, memory at 10,000 tenants: the plan `mssp plan` makes for its human and Markdown
//! output holds only what they show (no entry per unchanged resource, no fingerprints), renders
//! exactly like the full plan, and each customer's credential is gone once its plan is made.

use reqwest::Method;
use serde_json::json;

use crate::support::{ALPHA, World};
use mssp::plan::{self, Keep, Op, Plan, PlanOptions};

/// An applied world with one active drift exception that hides a real difference (an unchanged
/// resource the outputs still list) and one out-of-band change.
async fn converged_with_drift() -> World {
    let w = World::new("world", |_| {}).await;
    w.apply().await;
    let customers = w.path().join("customers.yaml");
    let text = std::fs::read_to_string(&customers).expect("read");
    let exception = "  exceptions:\n    - resource: group/tier1\n      field: description\n      reason: kept while the wording is reviewed\n      owner: a@testsoc.example\n      expires: 2027-06-30\n  attestations:\n";
    std::fs::write(&customers, text.replacen("  attestations:\n", exception, 1)).expect("write");
    for (unique, description) in [
        ("tsoc-tier1", "edited in the portal"),
        ("tsoc-tier2", "also edited in the portal"),
    ] {
        let group = w
            .objects(ALPHA, "groups")
            .await
            .into_iter()
            .find(|g| g["uniqueName"] == unique)
            .expect("group");
        w.graph(
            ALPHA,
            Method::PATCH,
            &format!("groups/{}", group["id"].as_str().expect("id")),
            Some(json!({ "description": description })),
        )
        .await
        .expect("patch");
    }
    w
}

async fn plan_keeping(w: &World, keep: Keep) -> Plan {
    let opts = PlanOptions {
        prune: false,
        parallelism: 8,
        customers: vec![],
        today: jiff::civil::date(2026, 11, 23),
        manifest_paths: vec![w.path().display().to_string()],
        recent: Some(std::sync::Arc::clone(&w.session.recent)),
        visibility_wait: plan::VISIBILITY_WAIT,
    };
    plan::plan_keeping(
        &w.manifests(),
        w.session.graph.clone(),
        &w.session.endpoints,
        &opts,
        &indicatif::ProgressBar::hidden(),
        keep,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_for_human_output_keeps_only_changes_and_renders_the_same() {
    let w = converged_with_drift().await;
    let full = plan_keeping(&w, Keep::for_plan_command(true)).await;
    let lean = plan_keeping(&w, Keep::for_plan_command(false)).await;

    // The full plan (saved, or printed as JSON) still lists everything.
    let alpha_full = full
        .tenants
        .iter()
        .find(|t| t.tenant_id == ALPHA)
        .expect("alpha");
    assert!(
        alpha_full
            .actions
            .iter()
            .any(|a| a.op == Op::NoOp && a.excepted.is_empty())
    );
    assert!(!alpha_full.fingerprints.is_empty());
    assert!(alpha_full.counts.unchanged > 0);

    for t in &lean.tenants {
        let kept: Vec<&str> = t
            .actions
            .iter()
            .filter(|a| a.op == Op::NoOp && a.excepted.is_empty())
            .map(|a| a.address.as_str())
            .collect();
        assert!(
            kept.is_empty(),
            "{}: unchanged entries kept: {kept:?}",
            t.name
        );
        assert!(t.fingerprints.is_empty(), "{}: fingerprints kept", t.name);
    }
    let alpha = lean
        .tenants
        .iter()
        .find(|t| t.tenant_id == ALPHA)
        .expect("alpha");
    assert_eq!(alpha.counts, alpha_full.counts);
    // The unchanged resource with accepted drift is still shown, and so is the change.
    assert!(
        alpha
            .actions
            .iter()
            .any(|a| a.address == "group/tier1" && a.op == Op::NoOp && !a.excepted.is_empty())
    );
    assert!(
        alpha
            .actions
            .iter()
            .any(|a| a.address == "group/tier2" && a.op == Op::Update)
    );

    // What a user sees is the same, to the character.
    let style = mssp::render::human::Style { color: false };
    assert_eq!(
        mssp::render::human::render(&lean, style),
        mssp::render::human::render(&full, style)
    );
    assert_eq!(
        mssp::render::markdown::render(&lean).expect("markdown"),
        mssp::render::markdown::render(&full).expect("markdown")
    );
    assert_eq!(lean.summary, full.summary);
    assert_eq!(lean.drift, full.drift);
    assert_eq!(lean.has_changes(), full.has_changes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mssp_plan_drops_each_customer_credential_once_its_plan_is_made() {
    let w = converged_with_drift().await;
    let tokens = w.session.graph.tokens();
    plan_keeping(&w, Keep::for_plan_command(false)).await;
    // Only the MSSP tenant's credential is left, whichever output the plan is made for.
    assert_eq!(tokens.held().await, 1);
    plan_keeping(&w, Keep::for_plan_command(true)).await;
    assert_eq!(tokens.held().await, 1);
    // A plain library plan keeps them (an apply follows and writes with them).
    plan_keeping(&w, Keep::default()).await;
    assert_eq!(tokens.held().await, 3);
}
