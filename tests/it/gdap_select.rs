//! A run limited to some customers (`--customer`, `--label`) and the MSSP tenant's GDAP items
//! (issue 18): the plan, the re-read of a saved plan, the apply and the permission preflight
//! all cover the selected customers' relationships only.

use std::cell::RefCell;
use std::path::Path;

use reqwest::Method;
use serde_json::Value;

use crate::gdap::{PROVIDER, PROVIDER_TID, relationships, wait_status};
use crate::support::{World, changes, copy_dir};
use mssp::apply::TenantOutcome;
use mssp::engine::{self, ApplyRequest, ApplyUi, EngineError, PlanRequest};
use mssp::plan::Plan;

const CONTOSO_TID: &str = "22222222-2222-4222-8222-222222222222";

const FABRIKAM: &str = "apiVersion: mssp.io/v1
kind: Customer
metadata:
  name: fabrikam
spec:
  tenantId: 33333333-3333-4333-8333-333333333333
  domain: fabrikam.onmicrosoft.com
  displayName: Fabrikam
  access:
    gdap:
      tiers: [tier1]
";

const PLAIN: &str = "apiVersion: mssp.io/v1
kind: Customer
metadata:
  name: plain
spec:
  tenantId: 44444444-4444-4444-8444-444444444444
  domain: plain.onmicrosoft.com
  displayName: Plain
  access:
    tiers: [tier1]
";

/// The GDAP world with a second GDAP customer (fabrikam) and one without GDAP (plain).
fn manifests() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&Path::new("tests/fixtures").join("gdap-world"), dir.path());
    std::fs::write(dir.path().join("fabrikam.yaml"), FABRIKAM).expect("write");
    std::fs::write(dir.path().join("plain.yaml"), PLAIN).expect("write");
    dir
}

fn provider_addresses(p: &Plan) -> Vec<&str> {
    p.tenants
        .iter()
        .filter(|t| t.name == PROVIDER)
        .flat_map(|t| t.actions.iter())
        .map(|a| a.address.as_str())
        .collect()
}

fn request(w: &World, customers: &[&str], saved: Option<Plan>) -> ApplyRequest {
    ApplyRequest {
        paths: vec![w.path()],
        saved: saved.map(|p| (w.path().join("plan.json"), p)),
        customers: customers.iter().map(ToString::to_string).collect(),
        shard: None,
        parallelism: 4,
        allow_delete: false,
        auto_approve: true,
        journal: None,
        replication_timeout: std::time::Duration::from_secs(30),
        lease_wait: std::time::Duration::ZERO,
        lease_ttl: std::time::Duration::from_secs(300),
        sandbox: true,
    }
}

#[derive(Default)]
struct Notes(RefCell<Vec<String>>);

impl ApplyUi for Notes {
    fn planned(&self, _: &Plan) {}
    fn confirm(&self) -> Result<bool, EngineError> {
        Ok(true)
    }
    fn note(&self, line: &str) {
        self.0.borrow_mut().push(line.to_string());
    }
    fn outcomes(&self, _: &[TenantOutcome]) {}
}

/// Fabrikam's pending approval is a change of fabrikam's, not of contoso's run: a plan for
/// contoso alone shows nothing to do (`--detailed-exitcode` 0) and no fabrikam item.
#[tokio::test]
async fn gdap_plan_for_one_customer_leaves_out_other_customers_relationships() {
    let w = World::in_dir(manifests(), |_| {}).await;
    w.apply().await;
    let rels = relationships(&w).await;
    assert_eq!(rels.len(), 2, "both GDAP customers: {rels:?}");
    let contoso = rels
        .iter()
        .find(|r| r.pointer("/customer/tenantId").and_then(Value::as_str) == Some(CONTOSO_TID))
        .and_then(|r| r["id"].as_str())
        .expect("contoso's relationship")
        .to_string();
    w.control(Method::POST, &format!("gdap/{contoso}/approve"), None)
        .await;
    wait_status(&w, &contoso, "active").await;
    w.apply().await;

    let whole = w.plan().await;
    assert_eq!(
        changes(&whole, PROVIDER),
        vec!["manual gdap-relationship/fabrikam"]
    );
    let mut p = w.plan_with(false, &["contoso"]).await;
    for _ in 0..30 {
        if !p.has_changes() {
            break;
        }
        // The assignments just created may take a moment to show in Graph's lists.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        p = w.plan_with(false, &["contoso"]).await;
    }
    assert!(!p.has_changes(), "{:?}", changes(&p, PROVIDER));
    let addresses = provider_addresses(&p);
    assert!(
        addresses.contains(&"gdap-relationship/contoso"),
        "{addresses:?}"
    );
    assert!(
        addresses.iter().all(|a| !a.contains("fabrikam")),
        "{addresses:?}"
    );
    assert_eq!(p.customers, vec!["contoso"]);

    let p = w.plan_with(false, &["plain"]).await;
    let addresses = provider_addresses(&p);
    assert!(
        addresses.iter().all(|a| !a.starts_with("gdap-")),
        "no GDAP item for a customer without GDAP: {addresses:?}"
    );
}

/// A saved plan for contoso, applied as `mssp apply plan.json`: its re-read, binding, writes
/// and verification cover contoso's relationship only.
#[tokio::test]
async fn gdap_saved_plan_for_one_customer_applies_only_its_relationship() {
    let w = World::in_dir(manifests(), |_| {}).await;
    let v = w.manifests();
    let req = PlanRequest {
        paths: vec![w.path()],
        customers: vec!["contoso".into()],
        parallelism: 4,
        prune: false,
        visibility_wait: mssp::plan::VISIBILITY_WAIT,
    };
    let saved = engine::make_plan(&req, &v, &w.session).await;
    // Through JSON, as `--out` saves it and `apply PLAN` loads it.
    let saved: Plan =
        serde_json::from_str(&serde_json::to_string(&saved).expect("json")).expect("plan");
    let ui = Notes::default();
    engine::apply(&request(&w, &[], Some(saved)), &v, &w.session, &ui)
        .await
        .unwrap_or_else(|e| panic!("apply: {e}; {:?}", ui.0.borrow()));
    assert!(
        ui.0.borrow().iter().any(|n| n.starts_with("verified:")),
        "{:?}",
        ui.0.borrow()
    );
    let rels = relationships(&w).await;
    let customers: Vec<&str> = rels
        .iter()
        .filter_map(|r| r.pointer("/customer/tenantId").and_then(Value::as_str))
        .collect();
    assert_eq!(customers, vec![CONTOSO_TID], "{rels:?}");
}

/// Applying a customer without GDAP needs no GDAP permission in the MSSP tenant.
#[tokio::test]
async fn gdap_permission_is_not_needed_by_a_run_for_a_customer_without_gdap() {
    let w = World::start(
        manifests(),
        |_| {},
        |seed| {
            for roles in seed.tenant_roles.values_mut() {
                roles.retain(|r| !r.starts_with("DelegatedAdminRelationship"));
            }
        },
    )
    .await;
    let v = w.manifests();
    let ui = Notes::default();
    engine::apply(&request(&w, &["plain"], None), &v, &w.session, &ui)
        .await
        .unwrap_or_else(|e| panic!("apply: {e}; {:?}", ui.0.borrow()));
    // The whole set still needs it, and says so before any write.
    let short = mssp::permissions::preflight(&w.session, &mssp::permissions::needs(&v, &[]))
        .await
        .expect("preflight runs");
    assert_eq!(short.len(), 1, "{short:?}");
    assert!(
        w.objects(PROVIDER_TID, "delegatedAdminRelationships")
            .await
            .is_empty()
    );
}
