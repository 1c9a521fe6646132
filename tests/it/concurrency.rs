//! Concurrent applies of the same manifests (two CI runs, a laptop and CI): the real binary,
//! several processes at once against one sandbox, then every natural key is counted in the
//! sandbox's state. None may exist twice, and every run either applied or stopped on the lease.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::support::{World, copy_dir};

const LEASE_HELD: i32 = 4;

async fn examples_world() -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(Path::new("examples"), dir.path());
    World::in_dir(dir, |o| o.replication_delay = Duration::from_millis(400)).await
}

fn env(w: &World) -> Vec<(&'static str, String)> {
    vec![
        ("AZURE_AUTHORITY_HOST", w.sb.url.clone()),
        ("MSSP_GRAPH_URL", w.sb.url.clone()),
        ("MSSP_DEFENDER_URL", w.sb.url.clone()),
        ("AZURE_CLIENT_ID", w.sb.client_id.clone()),
        ("AZURE_CLIENT_SECRET", w.sb.client_secret.clone()),
        ("MSSP_CA_BUNDLE", w.sb.ca_cert_path.display().to_string()),
    ]
}

/// Runs `mssp ARGS` against the world's sandbox, off the async runtime.
pub async fn mssp(w: &World, args: Vec<String>) -> std::process::Output {
    let env = env(w);
    let cwd = w.path();
    tokio::task::spawn_blocking(move || {
        assert_cmd::Command::cargo_bin("mssp")
            .expect("binary")
            .args(args)
            .envs(env)
            .current_dir(cwd)
            .env_remove("AZURE_CLIENT_CERTIFICATE_PATH")
            .env_remove("AZURE_FEDERATED_TOKEN_FILE")
            .env("NO_COLOR", "1")
            .output()
            .expect("runs")
    })
    .await
    .expect("join")
}

/// Every object's natural key (the keys the plan matches on), counted per tenant.
pub async fn natural_keys(w: &World) -> BTreeMap<String, usize> {
    let st = w.control(reqwest::Method::GET, "state", None).await;
    let mut counts = BTreeMap::new();
    let tenants = st
        .get("tenants")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (tid, t) in tenants {
        let collections = t
            .get("collections")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (coll, entries) in collections {
            for e in entries.as_array().into_iter().flatten() {
                let v = &e["v"];
                let parent = e.get("parent").and_then(Value::as_str).unwrap_or("");
                let s = |k: &str| v.get(k).map(ToString::to_string).unwrap_or_default();
                let key = match coll.as_str() {
                    "groups" | "applications" if !v["uniqueName"].is_null() => s("uniqueName"),
                    "servicePrincipals" => s("appId"),
                    "connectedOrganizations"
                    | "catalogs"
                    | "defenderRoleDefinitions"
                    | "defenderRoleAssignments" => s("displayName"),
                    "accessPackages" => format!("{}/{}", s("catalogId"), s("displayName")),
                    "assignmentPolicies" => {
                        format!("{}/{}", s("accessPackageId"), s("displayName"))
                    }
                    "partners" => s("tenantId"),
                    "appRoleAssignments" => {
                        format!(
                            "{}/{}/{}",
                            s("principalId"),
                            s("resourceId"),
                            s("appRoleId")
                        )
                    }
                    _ => continue,
                };
                *counts
                    .entry(format!("{tid} {coll} {parent} {key}"))
                    .or_insert(0) += 1;
            }
            if coll == "applications" {
                // One SIEM client secret per application (a second apply must not add one).
                for e in entries.as_array().into_iter().flatten() {
                    let n = e["v"]["passwordCredentials"].as_array().map_or(0, Vec::len);
                    if n > 0 {
                        counts.insert(format!("{tid} secrets of {}", e["v"]["uniqueName"]), n);
                    }
                }
            }
        }
    }
    counts
}

pub fn twins(counts: &BTreeMap<String, usize>) -> Vec<String> {
    counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, n)| format!("{k} ×{n}"))
        .collect()
}

/// `n` applies at once; then no natural key is taken twice and a new plan creates nothing.
async fn simultaneous_applies(n: usize) -> Vec<i32> {
    simultaneous_applies_with(n, &[]).await
}

async fn simultaneous_applies_with(n: usize, extra: &[&str]) -> Vec<i32> {
    let w = examples_world().await;
    let dir = w.path().display().to_string();
    let runs = (0..n).map(|_| {
        let mut args: Vec<String> = vec![
            "apply".into(),
            "--auto-approve".into(),
            "--replication-timeout".into(),
            "30".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(dir.clone());
        mssp(&w, args)
    });
    let outs = futures::future::join_all(runs).await;
    let mut codes = Vec::new();
    for out in &outs {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code().unwrap_or(-1);
        assert!(
            code == 0
                || (code == LEASE_HELD && stderr.contains("another apply holds the apply lease")),
            "exit {code}:\n{stderr}"
        );
        codes.push(code);
    }
    assert!(codes.contains(&0), "no run applied: {codes:?}");
    // Let the last writes replicate before counting and planning.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let dups = twins(&natural_keys(&w).await);
    assert!(
        dups.is_empty(),
        "twins after {n} simultaneous applies: {dups:#?}"
    );
    assert!(
        !w.objects(super::support::PROVIDER, "groups")
            .await
            .iter()
            .any(|g| g["uniqueName"]
                .as_str()
                .is_some_and(|u| u.ends_with("-apply-lease"))),
        "a lease was left behind"
    );
    let out = mssp(
        &w,
        vec!["plan".into(), "--format".into(), "json".into(), dir],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Value = serde_json::from_slice(&out.stdout).expect("plan json");
    let creates: Vec<String> = plan["tenants"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t["actions"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["op"] == "create")
        .map(|a| a["address"].to_string())
        .collect();
    assert!(creates.is_empty(), "a final plan still creates {creates:?}");
    codes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_simultaneous_applies_create_no_twins() {
    simultaneous_applies(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_simultaneous_applies_create_no_twins() {
    simultaneous_applies(4).await;
}

/// Queued with `--lease-wait`, every apply succeeds: the later ones read after the first
/// released the lease, which it does only once its creates are listed, so they find nothing
/// left to create.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queued_applies_all_succeed_without_twins() {
    let codes = simultaneous_applies_with(3, &["--lease-wait", "2m"]).await;
    assert_eq!(codes, vec![0, 0, 0]);
}

/// The 5-run figures: `cargo test --test it concurrency::five_rounds -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark-style: 5 rounds of 2 and of 4 simultaneous applies (about a minute)"]
async fn five_rounds_of_two_and_four_simultaneous_applies() {
    for n in [2, 4] {
        for round in 1..=5 {
            let started = std::time::Instant::now();
            let codes = simultaneous_applies(n).await;
            println!(
                "{n} applies, round {round}: exit codes {codes:?}, 0 twins, {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
}

/// Plants a lease group as another run would leave it.
async fn plant_lease(w: &World, expires: &str) -> String {
    let description = serde_json::json!({
        "holder": "GitHub run 4242 on runner-7 by ci (pid 99)",
        "acquiredAt": "2026-11-29T08:00:00Z",
        "expiresAt": expires,
        "nonce": "other",
    })
    .to_string();
    let g = w
        .graph(
            super::support::PROVIDER,
            reqwest::Method::POST,
            "groups",
            Some(serde_json::json!({
                "displayName": "mssp apply lease (tsoc)", "description": description,
                "mailEnabled": false, "mailNickname": "tsoc-apply-lease",
                "securityEnabled": true, "uniqueName": "tsoc-apply-lease"
            })),
        )
        .await
        .expect("lease planted");
    // The planted lease is readable once it has replicated.
    tokio::time::sleep(Duration::from_millis(
        3 * crate::support::TEST_REPLICATION_DELAY_MS,
    ))
    .await;
    g["id"].as_str().expect("id").to_string()
}

/// A live lease: apply stops before any write naming the holder (exit 4); `lease show` names
/// it, `lease break --yes` removes it, and the next apply goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lease_stops_apply_before_any_write_until_it_is_broken() {
    let w = World::new("world", |_| {}).await;
    plant_lease(&w, "2999-01-01T00:00:00Z").await;
    let dir = w.path().display().to_string();
    let apply = vec!["apply".to_string(), "--auto-approve".into(), dir.clone()];
    let out = mssp(&w, apply.clone()).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(LEASE_HELD), "{stderr}");
    assert!(
        stderr.contains("another apply holds the apply lease: GitHub run 4242 on runner-7 by ci (pid 99) since 2026-11-29T08:00:00Z"),
        "{stderr}"
    );
    assert!(
        w.objects(super::support::ALPHA, "groups").await.is_empty(),
        "a write happened"
    );

    let out = mssp(&w, vec!["lease".into(), "show".into(), dir.clone()]).await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("held by GitHub run 4242"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = mssp(&w, vec!["lease".into(), "break".into(), dir.clone()]).await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "break without --yes must refuse"
    );
    let out = mssp(
        &w,
        vec!["lease".into(), "break".into(), "--yes".into(), dir],
    )
    .await;
    assert_eq!(out.status.code(), Some(0));

    let out = mssp(&w, apply).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!w.objects(super::support::ALPHA, "groups").await.is_empty());
}

/// A lease left by a killed run is taken over once it has expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_lease_is_taken_over() {
    let w = World::new("world", |_| {}).await;
    let dead = plant_lease(&w, "2026-01-01T00:00:00Z").await;
    let out = mssp(
        &w,
        vec![
            "apply".into(),
            "--auto-approve".into(),
            w.path().display().to_string(),
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("taking over an expired apply lease"),
        "{stderr}"
    );
    let groups = w.objects(super::support::PROVIDER, "groups").await;
    assert!(
        !groups
            .iter()
            .any(|g| g["id"] == dead.as_str() || g["uniqueName"] == "tsoc-apply-lease")
    );
}

/// A run whose lease cannot be renewed stops writing before the lease could expire (another
/// apply may take it over then): every renewal is refused, the TTL is short and requests are
/// slow, so the lease runs out before the writes. (Slow enough that even writes started as
/// soon as their dependencies are done, many at once, cannot all finish within the TTL.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_stop_when_the_lease_cannot_be_renewed() {
    let w = World::new("world", |o| o.latency = Duration::from_millis(400)).await;
    w.control(
        reqwest::Method::PUT,
        "faults",
        Some(serde_json::json!({"one_shot": {
            "method": "PATCH", "path_prefix": "/v1.0/groups/",
            "tenant": super::support::PROVIDER, "status": 403, "count": 1000
        }})),
    )
    .await;
    let out = mssp(
        &w,
        vec![
            "apply".into(),
            "--auto-approve".into(),
            "--lease-ttl".into(),
            "2s".into(),
            w.path().display().to_string(),
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "the apply lease could not be renewed and is about to expire; writes stopped"
        ),
        "{stderr}"
    );
    // No write reached a customer tenant after the lease expired: the tool's lease clock starts
    // when it sends the create, so "expired" is the create's arrival + TTL at the latest. The
    // arrival times are compared, not the answers', so the latency and a busy machine's slowness
    // in answering cannot push a write that started in time past the line.
    let log = w.control(reqwest::Method::GET, "requests", None).await;
    let entries = log.as_array().cloned().unwrap_or_default();
    let received = |e: &Value| -> jiff::Timestamp {
        e["received"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .expect("received")
    };
    let leased = entries
        .iter()
        .find(|e| e["method"] == "POST" && e["path"] == "/v1.0/groups" && e["status"] == 201)
        .map(received)
        .expect("the lease was created");
    let until = leased + jiff::SignedDuration::from_millis(2000);
    let late: Vec<&Value> = entries
        .iter()
        .filter(|e| e["tenant"] != super::support::PROVIDER && e["method"] != "GET")
        .filter(|e| {
            e["status"].as_u64().is_some_and(|s| s < 400)
                && !e["path"].as_str().unwrap_or("").ends_with("$batch")
        })
        .filter(|e| received(e) > until)
        .collect();
    assert!(late.is_empty(), "writes after the lease ran out: {late:?}");
    assert!(
        stderr.contains("FAILED"),
        "some writes should have been stopped: {stderr}"
    );
}
