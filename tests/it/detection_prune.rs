//! Pruning a custom detection rule removed from the library entirely: the manifests no longer
//! name it, but its `[<prefix>] ` mark says it is the tool's, so it is a pruning candidate like
//! any owned object no longer declared; a hand-made rule never is.

use reqwest::Method;
use serde_json::{Value, json};

use super::detection_rules::{edit, encoded_powershell_is_only_prunable, library_dir};
use super::support::{ALPHA, World, changes};

const RULES: &str = "security/rules/detectionRules";

fn names(rules: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = rules
        .iter()
        .map(|r| r["displayName"].as_str().unwrap_or_default().to_string())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_removed_from_the_library_is_pruned_only_with_allow_delete() {
    let w = World::in_dir(library_dir(), |_| {}).await;
    let hand = json!({
        "id": "hand-made-1", "displayName": "Hand-made: RDP from the internet", "status": "enabled",
        "queryCondition": {"queryText": "DeviceLogonEvents | where LogonType == \"RemoteInteractive\""},
        "schedule": {"frequency": "P1D"},
    });
    w.graph(ALPHA, Method::POST, RULES, Some(hand))
        .await
        .expect("hand-made rule");
    w.apply().await;
    assert_eq!(
        names(&w.objects(ALPHA, "detectionRules").await),
        [
            "Hand-made: RDP from the internet",
            "[tsoc] Encoded PowerShell from Office",
            "[tsoc] LSASS memory read"
        ]
    );

    // The rule leaves the library altogether: no manifest names it any more.
    let provider = std::fs::read_to_string(w.path().join("provider.yaml")).expect("provider");
    let start = provider
        .find("    - name: encoded-powershell\n")
        .expect("rule");
    let end = provider
        .find("    - name: lsass-access\n")
        .expect("next rule");
    let removed = provider[start..end].to_string();
    edit(&w.path(), "provider.yaml", &removed, "");

    let p = encoded_powershell_is_only_prunable(&w).await;
    assert!(changes(&p, "beta").is_empty(), "{:?}", changes(&p, "beta"));

    w.apply_with(
        mssp::apply::ApplyOptions {
            allow_delete: true,
            replication_deadline: std::time::Duration::from_secs(30),
            ..mssp::apply::ApplyOptions::default()
        },
        true,
    )
    .await;
    let rules = w.objects(ALPHA, "detectionRules").await;
    assert_eq!(
        names(&rules),
        [
            "Hand-made: RDP from the internet",
            "[tsoc] LSASS memory read"
        ]
    );
    let hand = rules
        .iter()
        .find(|r| r["id"] == "hand-made-1")
        .expect("hand-made");
    assert_eq!(hand["createdDateTime"], hand["lastModifiedDateTime"]);
    let p = w.plan_with(true, &[]).await;
    assert!(
        p.tenants
            .iter()
            .all(|t| !t.has_changes() && t.not_pruned.is_empty()),
        "not converged"
    );
}
