//! `mssp twins`: twins made by raw Graph calls (what concurrent applies used to leave) are
//! listed, the newer ones removed with their children on consent, and the plan unblocks.

use reqwest::Method;
use serde_json::{Value, json};

use super::concurrency::mssp;
use super::support::{ALPHA, World};

const EM: &str = "identityGovernance/entitlementManagement";

fn created_id(v: Result<Value, mssp::graph::GraphError>) -> String {
    v.expect("created")["id"].as_str().expect("id").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twins_are_listed_then_the_newer_removed_and_the_plan_unblocks() {
    // The twins are made by chained raw calls, the way a person clicks: no lag.
    let w = World::new("world", |o| {
        o.replication_delay = std::time::Duration::ZERO;
    })
    .await;
    w.apply().await;
    let catalog = w.objects(ALPHA, "catalogs").await.remove(0);
    let package = w.objects(ALPHA, "accessPackages").await.remove(0);
    let role = w.objects(ALPHA, "defenderRoleDefinitions").await.remove(0);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let twin_catalog = created_id(
        w.graph(
            ALPHA,
            Method::POST,
            &format!("{EM}/catalogs"),
            Some(json!({"displayName": catalog["displayName"], "description": "twin"})),
        )
        .await,
    );
    let twin_package = created_id(
        w.graph(
            ALPHA,
            Method::POST,
            &format!("{EM}/accessPackages"),
            Some(json!({"displayName": package["displayName"], "catalog": {"id": twin_catalog}})),
        )
        .await,
    );
    let twin_role = created_id(
        w.graph(
            ALPHA,
            Method::POST,
            "beta/roleManagement/defender/roleDefinitions",
            Some(json!({"displayName": role["displayName"], "rolePermissions": role["rolePermissions"]})),
        )
        .await,
    );
    assert!(
        w.plan().await.blocked().any(|t| t.tenant_id == ALPHA),
        "the twins should block the plan"
    );

    let dir = w.path().display().to_string();
    let out = mssp(&w, vec!["twins".into(), dir.clone()]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(5),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keep = format!("keep   {}", catalog["id"].as_str().expect("id"));
    assert!(stdout.contains(&keep), "{stdout}");
    assert!(
        stdout.contains(&format!("newer  {twin_catalog}")),
        "{stdout}"
    );
    assert_eq!(
        w.objects(ALPHA, "catalogs").await.len(),
        2,
        "listing removed something"
    );

    let out = mssp(
        &w,
        vec!["twins".into(), "--remove-newer".into(), "--yes".into(), dir],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids = |objs: Vec<Value>| -> Vec<String> {
        objs.iter()
            .map(|o| o["id"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let catalogs = ids(w.objects(ALPHA, "catalogs").await);
    assert_eq!(
        catalogs,
        vec![catalog["id"].as_str().expect("id").to_string()]
    );
    let packages = ids(w.objects(ALPHA, "accessPackages").await);
    assert!(
        !packages.contains(&twin_package)
            && packages.contains(&package["id"].as_str().expect("id").to_string())
    );
    let roles = ids(w.objects(ALPHA, "defenderRoleDefinitions").await);
    assert!(
        !roles.contains(&twin_role)
            && roles.contains(&role["id"].as_str().expect("id").to_string()),
        "{roles:?} {role} {twin_role}\n{stdout}"
    );

    let plan = w.plan().await;
    assert!(plan.blocked().next().is_none(), "still blocked");
    assert!(
        super::support::changes(&plan, "alpha")
            .iter()
            .all(|c| !c.starts_with("create")),
        "{:?}",
        super::support::changes(&plan, "alpha")
    );
}
