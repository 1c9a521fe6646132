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

/// `(line, column)` (1-based) of the first occurrence of `needle` in `text`.
fn position(text: &str, needle: &str) -> (usize, usize) {
    let at = text.find(needle).expect("needle present");
    let line = text[..at].matches('\n').count() + 1;
    let col = at - text[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

#[test]
fn undocumented_actions_are_refused_at_their_location_before_any_write() {
    let dir = tempfile::tempdir().unwrap();
    super::support::copy_dir(std::path::Path::new("examples"), dir.path());
    let provider = dir.path().join("provider.yaml");
    let text = std::fs::read_to_string(&provider)
        .unwrap()
        // Tier 2: live response, which Microsoft publishes no action string for.
        .replacen(
            "- microsoft.xdr/secops/*/read",
            "- microsoft.xdr/secops/securitydata/liveresponse/manage",
            1,
        )
        // Tier 1: a typo.
        .replacen(
            "- microsoft.xdr/secops/securitydata/alerts/manage",
            "- microsoft.xdr/secops/securitydata/alerts/mange",
            1,
        )
        // A wildcard that covers nothing Microsoft documents.
        .replacen(
            "- microsoft.xdr/secops/securitydata/read",
            "- microsoft.xdr/dataops/*/manage",
            1,
        );
    std::fs::write(&provider, &text).unwrap();
    let out = assert_cmd::Command::cargo_bin("mssp")
        .unwrap()
        .arg("validate")
        .arg(&provider)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let at = |needle: &str| {
        let (l, c) = position(&text, needle);
        format!("{}:{l}:{c}: error: ", provider.display())
    };
    let live = "microsoft.xdr/secops/securitydata/liveresponse/manage";
    assert!(
        stderr.contains(&format!(
            "{}`{live}` is not a Defender XDR action Microsoft documents",
            at(live)
        )),
        "{stderr}"
    );
    let typo = "microsoft.xdr/secops/securitydata/alerts/mange";
    assert!(
        stderr.contains(&format!(
            "{}`{typo}` is not a Defender XDR action Microsoft documents",
            at(typo)
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("did you mean `microsoft.xdr/secops/securitydata/alerts/manage`?"),
        "{stderr}"
    );
    let wild = "microsoft.xdr/dataops/*/manage";
    assert!(
        stderr.contains(&format!(
            "{}wildcard `{wild}` covers no Defender XDR action Microsoft documents",
            at(wild)
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("https://learn.microsoft.com/defender-xdr/compare-rbac-roles"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_sandbox_refuses_roles_with_actions_the_tenant_does_not_offer() {
    use super::sandbox::{GRAPH, start};
    use reqwest::Method;
    use serde_json::json;

    let env = start().await;
    let tok = env.token(env.customer, GRAPH).await;
    let role = |actions: serde_json::Value| json!({"displayName": "L2", "rolePermissions": [{"allowedResourceActions": actions}]});
    let path = "/beta/roleManagement/defender/roleDefinitions";
    let live = "microsoft.xdr/secops/securitydata/liveresponse/manage";
    let (s, e) = env
        .call(&tok, Method::POST, path, Some(role(json!([live]))))
        .await;
    assert_eq!(s, 400, "{e}");
    assert_eq!(
        e["error"]["message"],
        format!("The resource action '{live}' is not supported by the Defender provider.")
    );
    let (s, created) = env
        .call(
            &tok,
            Method::POST,
            path,
            Some(role(json!(["microsoft.xdr/secops/*/read"]))),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let one = format!("{path}/{}", created["id"].as_str().unwrap());
    let patch = json!({"rolePermissions": [{"allowedResourceActions": [live]}]});
    let (s, e) = env.call(&tok, Method::PATCH, &one, Some(patch)).await;
    assert_eq!(s, 400, "{e}");
}
