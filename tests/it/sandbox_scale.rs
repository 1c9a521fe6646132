//! The sandbox locks per tenant: a slow request in one tenant does not hold up another tenant,
//! requests to the same tenant still take turns, and concurrent writes (and the state file
//! written from them) stay consistent.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::sandbox::{GRAPH, group_body, seed, start, start_with};

#[tokio::test]
async fn a_busy_tenant_does_not_hold_up_another_and_its_own_requests_wait() {
    let env = start().await;
    let customer_tok = env.token(env.customer, GRAPH).await;
    let provider_tok = env.token(env.provider, GRAPH).await;
    let hold = Duration::from_millis(2500);
    env.control(
        Method::PUT,
        "faults",
        Some(
            json!({"one_shot": {"method": "GET", "path_prefix": "/v1.0/groups",
            "tenant": env.customer, "hold_ms": hold.as_millis() as u64, "count": 1}}),
        ),
    )
    .await;
    let started = Instant::now();
    let slow = env.call(&customer_tok, Method::GET, "/v1.0/groups", None);
    let others = async {
        // Let the slow request take its tenant first.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let other_tenant = async {
            let (s, _) = env
                .call(&provider_tok, Method::GET, "/v1.0/groups", None)
                .await;
            (s, started.elapsed())
        };
        let same_tenant = async {
            let (s, _) = env
                .call(&customer_tok, Method::GET, "/v1.0/servicePrincipals", None)
                .await;
            (s, started.elapsed())
        };
        tokio::join!(other_tenant, same_tenant)
    };
    let ((slow_status, _), ((other_status, other_done), (same_status, same_done))) =
        tokio::join!(slow, others);
    let slow_done = started.elapsed();
    assert_eq!((slow_status, other_status, same_status), (200, 200, 200));
    assert!(
        other_done < Duration::from_millis(1500),
        "another tenant's request waited {other_done:?} for a held tenant"
    );
    assert!(
        same_done >= hold,
        "a request to the held tenant was served after {same_done:?}, during the hold"
    );
    assert!(slow_done >= hold);
}

fn count_by(items: &[Value], key: &str, value: &str) -> usize {
    items
        .iter()
        .filter(|g| g[key].as_str() == Some(value))
        .count()
}

#[tokio::test]
async fn concurrent_writes_to_one_tenant_stay_consistent_and_reach_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let s = seed();
    let env = start_with(|o| o.state_file = Some(state.clone()), s.clone()).await;
    let tok = env.token(env.customer, GRAPH).await;
    let provider_tok = env.token(env.provider, GRAPH).await;
    let prefer = [("Prefer", "create-if-missing")];
    let upsert = "/v1.0/groups(uniqueName='mssp-contoso-shared')";
    let creates = (0..24).map(|i| {
        let tok = if i % 4 == 0 { &provider_tok } else { &tok };
        env.call(
            tok,
            Method::POST,
            "/v1.0/groups",
            Some(group_body(&format!("g{i:02}"))),
        )
    });
    let upserts =
        (0..8).map(|_| env.call_with(&tok, Method::PATCH, upsert, Some(group_body("s")), &prefer));
    let (created, upserted) = tokio::join!(
        futures::future::join_all(creates),
        futures::future::join_all(upserts)
    );
    assert!(created.iter().all(|(s, _)| *s == 201), "{created:?}");
    let mut upsert_statuses: Vec<u16> = upserted.iter().map(|(s, _, _)| *s).collect();
    upsert_statuses.sort();
    // One upsert creates, the others find it: never two groups with one uniqueName.
    assert_eq!(upsert_statuses, [vec![201], vec![204; 7]].concat());

    let (_, listed) = env
        .call(&tok, Method::GET, "/v1.0/groups?$top=999", None)
        .await;
    let listed = listed["value"].as_array().cloned().unwrap_or_default();
    assert_eq!(count_by(&listed, "uniqueName", "mssp-contoso-shared"), 1);
    assert_eq!(
        listed.len(),
        1 + 18,
        "the customer's groups: 18 creates and one upsert"
    );
    env.sb.shutdown().await.unwrap();

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&state).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = start_with(|o| o.state_file = Some(state.clone()), s).await;
    let tok = again.token(again.customer, GRAPH).await;
    let (_, listed) = again
        .call(&tok, Method::GET, "/v1.0/groups?$top=999", None)
        .await;
    let listed = listed["value"].as_array().cloned().unwrap_or_default();
    assert_eq!(listed.len(), 19);
    let tok = again.token(again.provider, GRAPH).await;
    let (_, listed) = again
        .call(&tok, Method::GET, "/v1.0/groups?$top=999", None)
        .await;
    assert_eq!(listed["value"].as_array().map(Vec::len), Some(6));
}

/// Rewriting a 10,000-tenant state file at every start cost minutes: an unchanged world is
/// loaded and left as it is; a world the seed adds to is written at once.
#[cfg(unix)]
#[tokio::test]
async fn an_unchanged_state_file_is_not_rewritten_on_start() {
    use std::os::unix::fs::MetadataExt as _;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let s = seed();
    let env = start_with(|o| o.state_file = Some(state.clone()), s.clone()).await;
    env.sb.shutdown().await.unwrap();
    let inode = std::fs::metadata(&state).unwrap().ino();

    let again = start_with(|o| o.state_file = Some(state.clone()), s.clone()).await;
    assert_eq!(
        std::fs::metadata(&state).unwrap().ino(),
        inode,
        "the file was rewritten"
    );
    again.sb.shutdown().await.unwrap();

    let mut grown = s;
    grown.customers.push(mssp::sandbox::TenantSeed {
        tenant_id: uuid::Uuid::new_v4(),
        domain: "northwind.onmicrosoft.com".into(),
        display_name: "northwind".into(),
        defender_licensed: false,
        alerts: 0,
    });
    let added = grown.customers[2].tenant_id.to_string();
    let third = start_with(|o| o.state_file = Some(state.clone()), grown).await;
    assert!(std::fs::read_to_string(&state).unwrap().contains(&added));
    third.sb.shutdown().await.unwrap();
}
