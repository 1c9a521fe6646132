//! A library rule's device groups (`detectionAction.organizationalScope.deviceGroups`, Graph
//! v1.0): sent at creation, compared as a set, and cleared explicitly when the library drops
//! them (a PATCH would otherwise leave the old scope in place).

use serde_json::Value;

use super::detection_rules::{edit, library_dir};
use super::support::{ALPHA, BETA, World, changes};

fn scope_of(rules: &[Value], id: &str) -> Value {
    rules
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("rule {id}"))["detectionAction"]["organizationalScope"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_groups_are_applied_compared_and_cleared() {
    let dir = library_dir();
    edit(
        dir.path(),
        "provider.yaml",
        "      queryFile: detections/lsass.kql\n",
        "      queryFile: detections/lsass.kql\n      deviceGroups: [Tier0 servers, Domain controllers]\n",
    );
    let w = World::in_dir(dir, |_| {}).await;
    w.apply().await;
    for tenant in [ALPHA, BETA] {
        let rules = w.objects(tenant, "detectionRules").await;
        assert_eq!(
            scope_of(&rules, "tsoc-lsass-access")["deviceGroups"],
            serde_json::json!(["Tier0 servers", "Domain controllers"])
        );
    }
    let p = w.plan().await;
    assert!(p.tenants.iter().all(|t| !t.has_changes()), "not converged");

    // Dropping the groups is a change, applied by clearing the scope.
    edit(
        &w.path(),
        "provider.yaml",
        "      deviceGroups: [Tier0 servers, Domain controllers]\n",
        "",
    );
    let p = w.plan().await;
    for t in ["alpha", "beta"] {
        assert_eq!(changes(&p, t), ["update detection-rule/lsass-access"]);
        let a = p
            .tenants
            .iter()
            .find(|x| x.name == t)
            .and_then(|x| {
                x.actions
                    .iter()
                    .find(|a| a.address == "detection-rule/lsass-access")
            })
            .expect("action");
        let fields: Vec<&str> = a.changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["deviceGroups"]);
    }
    w.apply().await;
    let rules = w.objects(ALPHA, "detectionRules").await;
    assert!(scope_of(&rules, "tsoc-lsass-access").is_null());
    let p = w.plan().await;
    assert!(p.tenants.iter().all(|t| !t.has_changes()), "not converged");
}
