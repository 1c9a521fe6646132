//! A saved plan is bound to its manifests: `mssp apply plan.json` runs what the manifests and
//! the freshly read tenants give, and refuses (exit 3, nothing written) a plan file whose
//! actions or tenants were edited.

use reqwest::Method;
use serde_json::{Value, json};

use super::alerts::{World, edit};

const CONTOSO: &str = "7d3c9f10-2b4a-4c5d-9e6f-a1b2c3d4e5f6";
const TAILSPIN: &str = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d";
const STALE_PLAN: i32 = 3;

/// Every tenant's objects, as the sandbox holds them.
async fn tenants(w: &World) -> Value {
    let st: Value = w
        .http
        .get(format!("{}/_sandbox/state", w.sb.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    st["tenants"].clone()
}

fn read_plan(w: &World) -> Value {
    serde_json::from_str(&std::fs::read_to_string(w.path("plan.json")).unwrap()).unwrap()
}

fn write_plan(w: &World, plan: &Value) {
    std::fs::write(
        w.path("plan.json"),
        serde_json::to_string_pretty(plan).unwrap(),
    )
    .unwrap();
}

fn tenant_mut<'a>(plan: &'a mut Value, name: &str) -> &'a mut Value {
    plan["tenants"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|t| t["name"] == name)
        .unwrap()
}

fn action_mut<'a>(plan: &'a mut Value, tenant: &str, address: &str) -> &'a mut Value {
    tenant_mut(plan, tenant)["actions"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|a| a["address"] == address)
        .unwrap()
}

async fn save_plan(w: &World, extra: &[&str]) {
    let m = w.manifests();
    let mut args = vec!["plan", "--out", "plan.json"];
    args.extend_from_slice(extra);
    args.push(m.to_str().unwrap());
    let r = w.run(&args).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Applies plan.json, expecting the refusal `message` and not a single write.
async fn refused(w: &World, flags: &[&str], message: &str) {
    let before = tenants(w).await;
    let mut args = vec!["apply"];
    args.extend_from_slice(flags);
    args.push("plan.json");
    let r = w.run(&args).await;
    assert_eq!(r.code, STALE_PLAN, "{}", r.stderr);
    assert!(r.stderr.contains(message), "{}", r.stderr);
    assert!(!r.stderr.contains("applied ("), "{}", r.stderr);
    assert_eq!(tenants(w).await, before, "the refused plan wrote something");
}

/// The id of contoso's tier 1 group and a description an admin changed by hand, so a plan
/// has an update for it.
async fn drift_contoso_group(w: &World) -> String {
    save_plan(w, &[]).await;
    let mut plan = read_plan(w);
    let id = action_mut(&mut plan, "contoso", "group/tier1")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, body) = w
        .graph(
            CONTOSO,
            Method::PATCH,
            &format!("groups/{id}"),
            Some(json!({"description": "changed by hand"})),
        )
        .await;
    assert!(s < 300, "{s} {body}");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_op_edited_into_a_delete_is_refused_and_nothing_is_deleted() {
    let w = World::new(|_| {}).await;
    w.apply().await;
    save_plan(&w, &[]).await;
    let mut plan = read_plan(&w);
    action_mut(&mut plan, "contoso", "group/tier1")["op"] = json!("delete");
    write_plan(&w, &plan);
    refused(
        &w,
        &["--allow-delete"],
        "plan.json says delete group/tier1 in contoso; the manifests and the tenant say no-op: the plan file was edited or is stale",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protected_delete_with_its_protection_cleared_is_refused() {
    let w = World::new(|_| {}).await;
    w.apply().await;
    // Wingtip drops tier 2 but never allowed protected deletes: its access package must stay.
    edit(
        &w.manifests(),
        "customers/small-business.yaml",
        "    tiers: [tier1, tier2]\n",
        "    tiers: [tier1]\n",
    );
    save_plan(&w, &["--prune"]).await;
    let mut plan = read_plan(&w);
    let a = action_mut(&mut plan, "wingtip", "access-package/tier2");
    assert_eq!(a["op"], "delete");
    assert_eq!(a["protected"], true);
    let a = a.as_object_mut().unwrap();
    a.remove("protected");
    a.remove("note");
    write_plan(&w, &plan);
    refused(
        &w,
        &["--allow-delete"],
        "plan.json says delete access-package/tier2 in wingtip; the manifests and the tenant say delete (protected): the plan file was edited or is stale",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_redirected_to_another_tenant_is_refused() {
    let w = World::new(|_| {}).await;
    w.apply().await;
    drift_contoso_group(&w).await;
    save_plan(&w, &[]).await;
    let mut plan = read_plan(&w);
    assert_eq!(
        action_mut(&mut plan, "contoso", "group/tier1")["op"],
        "update"
    );
    tenant_mut(&mut plan, "contoso")["tenantId"] = json!(TAILSPIN);
    write_plan(&w, &plan);
    refused(
        &w,
        &[],
        &format!(
            "plan.json says tenant id {TAILSPIN} for contoso; the manifests say {CONTOSO}: the plan file was edited or is stale"
        ),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untampered_saved_plan_applies() {
    let w = World::new(|_| {}).await;
    w.apply().await;
    let id = drift_contoso_group(&w).await;
    save_plan(&w, &[]).await;
    let r = w.run(&["apply", "plan.json"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("contoso: applied"), "{}", r.stderr);
    let (_, group) = w
        .graph(CONTOSO, Method::GET, &format!("groups/{id}"), None)
        .await;
    assert_eq!(
        group["description"],
        "Fabrikam SOC tier 1 analysts (triage). Managed by mssp."
    );
}
