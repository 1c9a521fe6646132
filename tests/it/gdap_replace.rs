//! A GDAP role change as a replace (issue 18): the new relationship is created and sent for
//! approval while the old one keeps granting access; once the new one is active, one apply
//! creates its access assignments and then terminates the old one.

use reqwest::Method;
use serde_json::json;

use crate::gdap::{
    PROVIDER, REL, SECURITY_OPERATOR, SECURITY_READER, assignments, empty_plan, onboarded,
    rel_action, relationships, wait_status,
};
use crate::support::{World, changes};
use mssp::plan::{Op, Plan};

const SECURITY_ADMINISTRATOR: &str = "194ae4cb-b126-40b2-bd5b-6091b380977d";

fn action<'a>(p: &'a Plan, address: &str) -> &'a mssp::plan::Action {
    p.tenants
        .iter()
        .flat_map(|t| t.actions.iter())
        .find(|a| a.address == address)
        .unwrap_or_else(|| panic!("no {address}: {:?}", changes(p, PROVIDER)))
}

async fn status_of(w: &World, id: &str) -> String {
    w.graph(
        crate::gdap::PROVIDER_TID,
        Method::GET,
        &format!("{REL}/{id}"),
        None,
    )
    .await
    .expect("read relationship")["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn gdap_role_change_replaces_the_relationship_and_terminates_the_old_one_once_the_new_is_active()
 {
    let w = World::new("gdap-world", |_| {}).await;
    let old_id = onboarded(&w).await;
    let old_name = relationships(&w).await[0]["displayName"]
        .as_str()
        .expect("name")
        .to_string();

    // Tier 2 now also needs Security Administrator: a role the relationship does not hold.
    let path = w.path().join("provider.yaml");
    let yaml = std::fs::read_to_string(&path).expect("read");
    let yaml = yaml.replacen(
        &format!("          - {SECURITY_OPERATOR} # Security Operator"),
        &format!("          - {SECURITY_OPERATOR}\n          - {SECURITY_ADMINISTRATOR}"),
        1,
    );
    std::fs::write(&path, yaml).expect("write");

    let p = w.plan().await;
    assert_eq!(
        changes(&p, PROVIDER),
        vec!["replace gdap-relationship/contoso"]
    );
    let rel = rel_action(&p);
    let roles = rel
        .changes
        .iter()
        .find(|c| c.field == "roles")
        .expect("the roles change");
    let mut before = vec![SECURITY_READER, SECURITY_OPERATOR];
    before.sort();
    let mut after = vec![SECURITY_READER, SECURITY_OPERATOR, SECURITY_ADMINISTRATOR];
    after.sort();
    assert_eq!(
        (&roles.before, &roles.after),
        (&json!(before), &json!(after))
    );
    let termination = action(&p, "gdap-termination/contoso");
    let note = termination.note.as_deref().unwrap_or("");
    assert!(
        termination.op == Op::NoOp
            && note.starts_with(&format!(
                "replace: terminate old relationship `{old_name}` after `"
            ))
            && note.contains("is active"),
        "{termination:?}"
    );
    // The text plan lists no no-ops: the replace under way is also a warning it shows.
    let warnings: Vec<&String> = p.tenants.iter().flat_map(|t| t.warnings.iter()).collect();
    assert!(warnings.iter().any(|w| **w == note), "{warnings:?}");
    assert!(
        mssp::render::human::render(&p, mssp::render::human::Style { color: false }).contains(note),
        "the text plan shows it"
    );

    // Apply creates the new relationship and sends it for approval; the old one stays.
    w.apply().await;
    let rels = relationships(&w).await;
    assert_eq!(rels.len(), 2, "{rels:?}");
    let new = rels
        .iter()
        .find(|r| r["id"] != old_id.as_str())
        .expect("the new relationship");
    let new_id = new["id"].as_str().expect("id").to_string();
    let new_name = new["displayName"].as_str().expect("name").to_string();
    assert_eq!(new["status"], "approvalPending");
    assert_eq!(status_of(&w, &old_id).await, "active");

    // Waiting for the customer: the approval link of the new one; nothing is terminated.
    let p = w.plan().await;
    assert_eq!(
        changes(&p, PROVIDER),
        vec!["manual gdap-relationship/contoso"]
    );
    assert_eq!(
        rel_action(&p)
            .manual
            .as_ref()
            .and_then(|m| m.link.as_deref()),
        Some(mssp::gdap::approval_link(&new_id).as_str())
    );
    let note = action(&p, "gdap-termination/contoso")
        .note
        .clone()
        .unwrap_or_default();
    assert!(
        note.contains(&format!(
            "`{old_name}` after `{new_name}` is active (now approvalPending)"
        )),
        "{note}"
    );
    w.apply().await;
    assert_eq!(status_of(&w, &old_id).await, "active");

    // The customer approves: one apply creates the assignments, then terminates the old one.
    w.control(Method::POST, &format!("gdap/{new_id}/approve"), None)
        .await;
    wait_status(&w, &new_id, "active").await;
    let p = w.plan().await;
    assert_eq!(
        changes(&p, PROVIDER),
        vec![
            "create gdap-access-assignment/contoso.tier1",
            "create gdap-access-assignment/contoso.tier2",
            "update gdap-termination/contoso"
        ]
    );
    assert_eq!(status_of(&w, &old_id).await, "active");
    w.apply().await;
    let new_assignments = assignments(&w, &new_id).await;
    assert_eq!(new_assignments.len(), 2, "{new_assignments:?}");
    assert!(
        new_assignments.iter().all(|a| a["status"] == "active"),
        "the old one goes only once the new assignments are provisioned: {new_assignments:?}"
    );
    let old_status = status_of(&w, &old_id).await;
    assert!(
        old_status == "terminationRequested" || old_status == "terminated",
        "{old_status}"
    );
    let tier2 = new_assignments
        .iter()
        .filter_map(|a| a["accessDetails"]["unifiedRoles"].as_array())
        .find(|r| r.len() == 3)
        .expect("tier2 holds its three roles");
    assert!(
        tier2
            .iter()
            .any(|r| r["roleDefinitionId"] == SECURITY_ADMINISTRATOR),
        "{tier2:?}"
    );
    let p = empty_plan(&w).await;
    assert!(
        p.tenants.iter().all(|t| t.warnings.is_empty()),
        "{:?}",
        p.tenants.iter().map(|t| &t.warnings).collect::<Vec<_>>()
    );
    let rels = relationships(&w).await;
    assert_eq!(rels.len(), 2, "no third relationship: {rels:?}");
}

/// Graph refuses to update an access assignment it is still provisioning (`pending`): a role
/// change planned then waits, and is made by the first plan after it is active.
#[tokio::test]
async fn gdap_assignment_still_pending_waits_for_its_role_change() {
    // A slow world: assignments stay `pending` for the replication delay.
    let w = World::new("gdap-world", |o| {
        o.replication_delay = std::time::Duration::from_secs(4);
    })
    .await;
    w.apply().await;
    let rel = relationships(&w).await[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    w.control(Method::POST, &format!("gdap/{rel}/approve"), None)
        .await;
    wait_status(&w, &rel, "active").await;
    w.apply().await;
    assert!(
        assignments(&w, &rel)
            .await
            .iter()
            .any(|a| a["status"] == "pending"),
        "the test needs a pending assignment"
    );

    // Tier 1 now also holds Security Operator (among the relationship's roles).
    let path = w.path().join("provider.yaml");
    let yaml = std::fs::read_to_string(&path).expect("read");
    let yaml = yaml.replacen(
        &format!("          - {SECURITY_READER} # Security Reader"),
        &format!("          - {SECURITY_READER}\n          - {SECURITY_OPERATOR}"),
        1,
    );
    std::fs::write(&path, yaml).expect("write");
    let p = w.plan().await;
    let tier1 = action(&p, "gdap-access-assignment/contoso.tier1");
    let pending = assignments(&w, &rel)
        .await
        .iter()
        .any(|a| a["status"] == "pending");
    // Statuses only move from pending to active: still pending now, so pending when read.
    assert!(pending, "the plan took longer than the provisioning window");
    assert!(
        tier1.op == Op::NoOp
            && tier1
                .note
                .as_deref()
                .unwrap_or("")
                .contains("status pending"),
        "{tier1:?}"
    );
    // Nothing to apply yet, so nothing fails (Graph would answer 400 to an update).
    w.apply().await;

    let mut updated = false;
    for _ in 0..60 {
        if assignments(&w, &rel)
            .await
            .iter()
            .all(|a| a["status"] == "active")
        {
            updated = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(updated, "assignments never became active");
    let p = w.plan().await;
    assert_eq!(
        changes(&p, PROVIDER),
        vec!["update gdap-access-assignment/contoso.tier1"]
    );
    w.apply().await;
}
