//! Defender XDR unified RBAC roles applied without failing halfway: replication errors on role
//! assignments are waited out, and actions no tenant offers are refused before anything is written.

use std::time::Duration;

use mssp::apply::{ApplyOptions, Outcome};

use super::support::World;

const TIER1_ROLE: &str = "      defender:
        unifiedRole:
          displayName: Test Tier 1 role
          actions:
            - microsoft.xdr/secops/securitydata/read
            - microsoft.xdr/secops/securitydata/alerts/manage
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_assignments_wait_out_replication_of_their_role_definition() {
    // The customers are onboarded without Defender roles…
    let w = World::new("world", |_| {}).await;
    let provider = w.path().join("provider.yaml");
    let text = std::fs::read_to_string(&provider).unwrap();
    assert!(text.contains(TIER1_ROLE));
    std::fs::write(&provider, text.replace(TIER1_ROLE, "")).unwrap();
    w.apply().await;
    // …then tier 1 gains one, in tenants where each new object stays invisible to references
    // for 1.5 s: the assignment right after its role definition is refused until then.
    std::fs::write(&provider, &text).unwrap();
    w.control(
        reqwest::Method::PUT,
        "faults",
        Some(serde_json::json!({"replication_delay_ms": 1500})),
    )
    .await;
    let out = w
        .apply_with(
            ApplyOptions {
                replication_deadline: Duration::from_secs(30),
                ..ApplyOptions::default()
            },
            false,
        )
        .await;
    for o in &out {
        assert!(
            o.failed.is_empty() && o.skipped.is_empty(),
            "{}: failed {:?} skipped {:?}",
            o.name,
            o.failed.iter().map(ToString::to_string).collect::<Vec<_>>(),
            o.skipped
        );
        assert_ne!(o.outcome, Outcome::Failed, "{}", o.name);
    }
    // The output says where it waited, and why.
    let waits: Vec<(&str, Duration, &str)> = out
        .iter()
        .flat_map(|o| &o.waits)
        .filter(|w| w.address.starts_with("defender-role-assignment/"))
        .map(|w| (w.address.as_str(), w.waited, w.reason.as_str()))
        .collect();
    assert!(
        !waits.is_empty(),
        "no wait reported for a Defender role assignment"
    );
    assert!(
        waits
            .iter()
            .all(|(_, d, r)| *d >= Duration::from_millis(500) && r.contains("replicating")),
        "{waits:?}"
    );
    // Every customer with unified RBAC holds its assignment: once replicated, a plan is empty.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let p = w.plan().await;
    for t in &p.tenants {
        assert!(!t.has_changes(), "{} not converged", t.name);
    }
}

#[tokio::test]
async fn the_sandbox_refuses_assignments_to_objects_still_replicating() {
    use super::sandbox::{GRAPH, group_body, start_with};
    use reqwest::Method;
    use serde_json::json;

    let env = start_with(
        |o| o.replication_delay = Duration::from_millis(400),
        super::sandbox::seed(),
    )
    .await;
    let tok = env.token(env.customer, GRAPH).await;
    let role = json!({"displayName": "L1", "rolePermissions": [{"allowedResourceActions": ["microsoft.xdr/secops/securitydata/read"]}]});
    let (s, role) = env
        .call(
            &tok,
            Method::POST,
            "/beta/roleManagement/defender/roleDefinitions",
            Some(role),
        )
        .await;
    assert_eq!(s, 201, "{role}");
    let (s, group) = env
        .call(
            &tok,
            Method::POST,
            "/v1.0/groups",
            Some(group_body("L1 analysts")),
        )
        .await;
    assert_eq!(s, 201, "{group}");
    let assign = json!({"displayName": "L1", "roleDefinitionId": role["id"], "principalIds": [group["id"]], "directoryScopeIds": ["/"]});
    let post = |body: serde_json::Value| {
        let (env, tok) = (&env, &tok);
        async move {
            env.call(
                tok,
                Method::POST,
                "/beta/roleManagement/defender/roleAssignments",
                Some(body),
            )
            .await
        }
    };
    let (s, e) = post(assign.clone()).await;
    assert_eq!(s, 400, "{e}");
    assert_eq!(
        e["error"]["message"],
        format!(
            "roleDefinitionId '{}' does not reference an existing role definition.",
            role["id"].as_str().unwrap()
        )
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    // The role has replicated; a group created now has not.
    let (_, fresh) = env
        .call(
            &tok,
            Method::POST,
            "/v1.0/groups",
            Some(group_body("L1 fresh")),
        )
        .await;
    let mut to_fresh = assign.clone();
    to_fresh["principalIds"] = json!([fresh["id"]]);
    let (s, e) = post(to_fresh.clone()).await;
    assert_eq!(
        (s, e["error"]["code"].clone()),
        (400, json!("PrincipalNotFound")),
        "{e}"
    );
    assert!(e["error"]["innerError"]["request-id"].is_string(), "{e}");
    let (s, ok) = post(assign).await;
    assert_eq!(s, 201, "{ok}");
    tokio::time::sleep(Duration::from_millis(450)).await;
    let (s, ok) = post(to_fresh).await;
    assert_eq!(s, 201, "{ok}");
}
