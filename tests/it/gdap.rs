//! GDAP through the engine (issue 18): the partner's service principal and one relationship
//! per customer in the provider tenant, the customer's approval as a manual item, expiry
//! warnings and the permission preflight, against the sandbox.

use reqwest::Method;
use serde_json::Value;

use crate::support::{World, changes};
use mssp::plan::{Op, Plan};

const PROVIDER: &str = "gdap-soc";
const PROVIDER_TID: &str = "11111111-1111-4111-8111-111111111111";
const REL: &str = "tenantRelationships/delegatedAdminRelationships";

async fn relationships(w: &World) -> Vec<Value> {
    w.objects(PROVIDER_TID, "delegatedAdminRelationships").await
}

fn rel_action(p: &Plan) -> &mssp::plan::Action {
    p.tenants
        .iter()
        .filter(|t| t.name == PROVIDER)
        .flat_map(|t| t.actions.iter())
        .find(|a| a.address == "gdap-relationship/contoso")
        .unwrap_or_else(|| panic!("no relationship action: {:?}", changes(p, PROVIDER)))
}

async fn wait_status(w: &World, id: &str, want: &str) {
    for _ in 0..50 {
        let v = w
            .graph(PROVIDER_TID, Method::GET, &format!("{REL}/{id}"), None)
            .await
            .expect("read relationship");
        if v["status"] == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("relationship {id} never became {want}");
}

#[tokio::test]
async fn gdap_customer_is_created_locked_approved_then_plans_empty() {
    let w = World::new("gdap-world", |_| {}).await;
    let p = w.plan().await;
    assert_eq!(
        changes(&p, PROVIDER),
        vec![
            "create gdap-relationship/contoso",
            "create service-principal/partner-cda"
        ]
    );
    w.apply().await;
    let rels = relationships(&w).await;
    assert_eq!(rels.len(), 1, "{rels:?}");
    let rel = &rels[0];
    assert_eq!(rel["status"], "approvalPending", "created and locked");
    assert_eq!(
        rel.pointer("/customer/tenantId").and_then(Value::as_str),
        Some("22222222-2222-4222-8222-222222222222")
    );
    let id = rel["id"].as_str().expect("id").to_string();
    let roles: Vec<&str> = rel["accessDetails"]["unifiedRoles"]
        .as_array()
        .expect("roles")
        .iter()
        .filter_map(|r| r["roleDefinitionId"].as_str())
        .collect();
    assert_eq!(roles.len(), 2, "union of tier1 and tier2 roles: {roles:?}");

    // Waiting for the customer: a manual item with the approval link, nothing to apply.
    let p = w.plan().await;
    let a = rel_action(&p);
    assert_eq!(a.op, Op::Manual);
    let m = a.manual.as_ref().expect("manual item");
    assert_eq!(
        m.link.as_deref(),
        Some(mssp::gdap::approval_link(&id).as_str())
    );
    assert!(m.reason.contains("Global Administrator"), "{m:?}");
    assert_eq!(
        changes(&p, PROVIDER),
        vec!["manual gdap-relationship/contoso"]
    );
    w.apply().await;
    assert_eq!(relationships(&w).await.len(), 1, "no second relationship");

    w.control(Method::POST, &format!("gdap/{id}/approve"), None)
        .await;
    wait_status(&w, &id, "active").await;
    let p = w.plan().await;
    assert!(
        changes(&p, PROVIDER).is_empty(),
        "{:?}",
        changes(&p, PROVIDER)
    );
    assert!(p.tenants.iter().all(|t| t.warnings.is_empty()));
}

#[tokio::test]
async fn gdap_relationship_ending_soon_without_auto_extension_is_a_plan_warning() {
    let w = World::new("gdap-world", |_| {}).await;
    let path = w.path().join("provider.yaml");
    let yaml = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, yaml.replace("autoExtend: P180D", "autoExtend: PT0S")).expect("write");
    w.apply().await;
    let id = relationships(&w).await[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    w.control(Method::POST, &format!("gdap/{id}/approve"), None)
        .await;
    wait_status(&w, &id, "active").await;
    let p = w.plan().await;
    assert!(
        p.tenants.iter().all(|t| t.warnings.is_empty()),
        "two years left"
    );

    let end = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 10 + 12);
    w.control(
        Method::POST,
        &format!("gdap/{id}/end"),
        Some(serde_json::json!({"endDateTime": end.to_string()})),
    )
    .await;
    let p = w.plan().await;
    let warnings: Vec<&String> = p.tenants.iter().flat_map(|t| t.warnings.iter()).collect();
    assert!(
        warnings.len() == 1
            && warnings[0].contains("ends in 10 day(s)")
            && warnings[0].contains("does not auto-extend")
            && warnings[0].contains("contoso"),
        "{warnings:?}"
    );
}

#[tokio::test]
async fn gdap_without_its_permission_is_refused_before_any_write() {
    let w = World::with_seed(
        "gdap-world",
        |_| {},
        |seed| {
            for roles in seed.tenant_roles.values_mut() {
                roles.retain(|r| !r.starts_with("DelegatedAdminRelationship"));
            }
        },
    )
    .await;
    let needs = mssp::permissions::needs(&w.manifests(), &[]);
    let short = mssp::permissions::preflight(&w.session, &needs)
        .await
        .expect("preflight runs");
    assert_eq!(short.len(), 1, "{short:?}");
    assert_eq!(short[0].tenant, PROVIDER);
    assert_eq!(
        short[0].missing,
        vec!["DelegatedAdminRelationship.ReadWrite.All"]
    );
    assert!(relationships(&w).await.is_empty());
}
