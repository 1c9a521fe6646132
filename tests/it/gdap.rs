//! GDAP through the engine (issue 18): the partner's service principal and one relationship
//! per customer in the provider tenant, the customer's approval as a manual item, expiry
//! warnings and the permission preflight, against the sandbox.

use reqwest::Method;
use serde_json::Value;

use crate::support::{World, changes};
use mssp::plan::{Op, Plan};

pub(crate) const PROVIDER: &str = "gdap-soc";
pub(crate) const PROVIDER_TID: &str = "11111111-1111-4111-8111-111111111111";
pub(crate) const REL: &str = "tenantRelationships/delegatedAdminRelationships";

pub(crate) async fn relationships(w: &World) -> Vec<Value> {
    w.objects(PROVIDER_TID, "delegatedAdminRelationships").await
}

pub(crate) fn rel_action(p: &Plan) -> &mssp::plan::Action {
    p.tenants
        .iter()
        .filter(|t| t.name == PROVIDER)
        .flat_map(|t| t.actions.iter())
        .find(|a| a.address == "gdap-relationship/contoso")
        .unwrap_or_else(|| panic!("no relationship action: {:?}", changes(p, PROVIDER)))
}

pub(crate) async fn wait_status(w: &World, id: &str, want: &str) {
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
            "create group/gdap-tier1",
            "create group/gdap-tier2",
            "create service-principal/partner-cda"
        ]
    );
    let waiting = p
        .tenants
        .iter()
        .flat_map(|t| t.actions.iter())
        .find(|a| a.address == "gdap-access-assignment/contoso.tier1")
        .expect("assignment listed");
    assert!(
        waiting.op == Op::NoOp && waiting.note.as_deref().unwrap_or("").contains("approved"),
        "{waiting:?}"
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
    assert_eq!(
        changes(&p, PROVIDER),
        vec![
            "create gdap-access-assignment/contoso.tier1",
            "create gdap-access-assignment/contoso.tier2"
        ]
    );
    w.apply().await;
    let assignments = assignments(&w, &id).await;
    assert_eq!(assignments.len(), 2, "{assignments:?}");
    let groups = w.objects(PROVIDER_TID, "groups").await;
    let tier1 = groups
        .iter()
        .find(|g| g["uniqueName"] == "mssp-gdap-tier1")
        .expect("tier1 GDAP group in the MSSP tenant");
    let a1 = assignments
        .iter()
        .find(|a| a["accessContainer"]["accessContainerId"] == tier1["id"])
        .expect("tier1's assignment");
    assert_eq!(
        a1["accessDetails"]["unifiedRoles"],
        serde_json::json!([{"roleDefinitionId": SECURITY_READER}])
    );
    let p = empty_plan(&w).await;
    assert!(p.tenants.iter().all(|t| t.warnings.is_empty()));
}

pub(crate) const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";
pub(crate) const SECURITY_OPERATOR: &str = "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f";

pub(crate) async fn assignments(w: &World, rel: &str) -> Vec<Value> {
    w.graph(
        PROVIDER_TID,
        Method::GET,
        &format!("{REL}/{rel}/accessAssignments"),
        None,
    )
    .await
    .expect("list assignments")["value"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Plans until the provider has nothing to do (writes take a moment to show in lists).
pub(crate) async fn empty_plan(w: &World) -> Plan {
    for _ in 0..30 {
        let p = w.plan().await;
        if changes(&p, PROVIDER).is_empty() {
            return p;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let p = w.plan().await;
    panic!("plan never empty: {:?}", changes(&p, PROVIDER));
}

/// An active relationship with its assignments, for the tests that start there.
pub(crate) async fn onboarded(w: &World) -> String {
    w.apply().await;
    let id = relationships(w).await[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    w.control(Method::POST, &format!("gdap/{id}/approve"), None)
        .await;
    wait_status(w, &id, "active").await;
    w.apply().await;
    empty_plan(w).await;
    // Graph provisions an assignment asynchronously; it cannot be edited until active.
    for _ in 0..50 {
        if assignments(w, &id)
            .await
            .iter()
            .all(|a| a["status"] == "active")
        {
            return id;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("assignments never became active");
}

#[tokio::test]
async fn gdap_assignment_changed_behind_the_tools_back_is_reported_not_overwritten() {
    let w = World::new("gdap-world", |_| {}).await;
    let rel = onboarded(&w).await;
    // Tier 1 now also holds Security Operator (already among the relationship's roles).
    let path = w.path().join("provider.yaml");
    let yaml = std::fs::read_to_string(&path).expect("read");
    let yaml = yaml.replacen(
        &format!("          - {SECURITY_READER} # Security Reader"),
        &format!("          - {SECURITY_READER}\n          - {SECURITY_OPERATOR}"),
        1,
    );
    std::fs::write(&path, yaml).expect("write");
    let v = w.manifests();
    let p = w.plan().await;
    assert_eq!(
        changes(&p, PROVIDER),
        vec!["update gdap-access-assignment/contoso.tier1"]
    );
    let states = mssp::engine::check_fresh(&v, &w.session, &p, 4)
        .await
        .unwrap_or_else(|_| panic!("fresh"));

    // Someone edits the assignment in Partner Center between the re-read and the write.
    let tier1 = w
        .objects(PROVIDER_TID, "groups")
        .await
        .into_iter()
        .find(|g| g["uniqueName"] == "mssp-gdap-tier1")
        .expect("group");
    let a = assignments(&w, &rel)
        .await
        .into_iter()
        .find(|a| a["accessContainer"]["accessContainerId"] == tier1["id"])
        .expect("assignment");
    let a_path = format!(
        "{REL}/{rel}/accessAssignments/{}",
        a["id"].as_str().expect("id")
    );
    let tg = w.session.graph.tenant(
        PROVIDER_TID,
        w.session.endpoints.profile(mssp::cloud::Cloud::Public),
    );
    let etag = a["@odata.etag"].as_str().expect("etag").to_string();
    tg.send(
        mssp::graph::Service::Graph(mssp::graph::Version::V1),
        Method::PATCH,
        &a_path,
        Some(&serde_json::json!({"accessDetails": {"unifiedRoles": [{"roleDefinitionId": SECURITY_OPERATOR}]}})),
        &[("If-Match", etag.as_str())],
    )
    .await
    .expect("out-of-band change");
    let mut changed = false;
    for _ in 0..50 {
        let now = w
            .graph(PROVIDER_TID, Method::GET, &a_path, None)
            .await
            .expect("read");
        if now["@odata.etag"] != etag.as_str() {
            changed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(changed, "the out-of-band change landed");

    let out = mssp::apply::apply(
        &v,
        &w.session,
        &p,
        states,
        &mssp::apply::ApplyOptions::default(),
        None,
        &indicatif::ProgressBar::hidden(),
    )
    .await;
    let failed: Vec<String> = out
        .iter()
        .flat_map(|o| o.failed.iter().map(ToString::to_string))
        .collect();
    assert!(
        failed.len() == 1
            && failed[0].contains("changed since the plan read it")
            && failed[0].contains(SECURITY_OPERATOR),
        "{failed:?}"
    );
    let now = w
        .graph(PROVIDER_TID, Method::GET, &a_path, None)
        .await
        .expect("read");
    assert_eq!(
        now["accessDetails"]["unifiedRoles"],
        serde_json::json!([{"roleDefinitionId": SECURITY_OPERATOR}]),
        "the out-of-band change is kept"
    );
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

#[tokio::test]
async fn gdap_ended_relationship_is_drift_planned_again_with_its_reason() {
    let w = World::new("gdap-world", |_| {}).await;
    w.apply().await;
    let old = relationships(&w).await[0].clone();
    let id = old["id"].as_str().expect("id").to_string();
    let name = old["displayName"].as_str().expect("name").to_string();
    w.control(Method::POST, &format!("gdap/{id}/approve"), None)
        .await;
    wait_status(&w, &id, "active").await;
    w.control(Method::POST, &format!("gdap/{id}/terminate"), None)
        .await;
    wait_status(&w, &id, "terminated").await;
    w.session.recent.take_waits();
    let p = w.plan().await;
    // The lists show the ended relationship this machine created: nothing to wait for (the
    // plan used to wait out the whole visibility window, 30 s, for it to "appear").
    assert_eq!(w.session.recent.take_waits(), vec![]);
    let a = rel_action(&p);
    assert_eq!(a.op, Op::Create, "{a:?}");
    let note = a.note.as_deref().unwrap_or("");
    let successor = format!("{name}-2");
    assert!(
        note.contains(&format!("`{name}` is terminated")) && note.contains(&successor),
        "{a:?}"
    );
    // Graph keeps the ended one's name: the new relationship is its next generation.
    w.apply().await;
    let rels = relationships(&w).await;
    assert_eq!(rels.len(), 2, "{rels:?}");
    let new = rels
        .iter()
        .find(|r| r["displayName"] == successor.as_str())
        .unwrap_or_else(|| panic!("no {successor}: {rels:?}"));
    assert_eq!(new["status"], "approvalPending", "created and locked");
    let p = w.plan().await;
    assert_eq!(rel_action(&p).op, Op::Manual);
}
