//! The shortest apply path: writes start when their own dependencies are done, a failure skips
//! only its dependents, shared lookups happen once per tenant, tokens are fetched at once, and
//! the journal names each tenant's critical path.

use std::sync::Arc;
use std::time::Duration;

use mssp::apply::{self, ApplyOptions, TenantOutcome};
use mssp::model::{Address, Kind};
use mssp::plan::{self, Plan, PlanOptions};
use serde_json::{Value, json};

use crate::support::{ALPHA, World};

/// The sandbox's request log.
async fn log(w: &World) -> Vec<Value> {
    let log = w.control(reqwest::Method::GET, "requests", None).await;
    log.as_array().cloned().unwrap_or_default()
}

fn time(e: &Value) -> jiff::Timestamp {
    e["time"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("log time")
}

fn in_alpha(e: &Value) -> bool {
    e["tenant"] == ALPHA
}

/// Plans and applies every tenant with the plan's own reads (`apply --auto-approve DIR`),
/// clearing the sandbox's log in between so it holds the apply's requests only.
async fn plan_then_apply(
    w: &World,
    journal: Option<&apply::journal::Journal>,
) -> (Plan, Vec<TenantOutcome>) {
    let v = w.manifests();
    let opts = PlanOptions {
        prune: false,
        parallelism: 8,
        customers: vec![],
        today: jiff::civil::date(2026, 11, 23),
        manifest_paths: vec![w.path().display().to_string()],
        recent: Some(Arc::clone(&w.session.recent)),
        visibility_wait: plan::VISIBILITY_WAIT,
    };
    let (p, states) = plan::plan_with_states(
        &v,
        w.session.graph.clone(),
        &w.session.endpoints,
        &opts,
        &indicatif::ProgressBar::hidden(),
    )
    .await;
    w.control(reqwest::Method::POST, "reset-log", None).await;
    let out = apply::apply(
        &v,
        &w.session,
        &p,
        states,
        &ApplyOptions {
            replication_deadline: Duration::from_secs(30),
            recent: Some(Arc::clone(&w.session.recent)),
            ..ApplyOptions::default()
        },
        journal,
        &indicatif::ProgressBar::hidden(),
    )
    .await;
    (p, out)
}

fn outcome<'a>(out: &'a [TenantOutcome], name: &str) -> &'a TenantOutcome {
    out.iter().find(|o| o.name == name).expect("tenant outcome")
}

fn journal_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("journal")
        .lines()
        .map(|l| serde_json::from_str(l).expect("journal line is JSON"))
        .collect()
}

/// A write whose dependencies are done starts although an unrelated write of the same level
/// (here the cross-tenant partner, slowed down by 3 s) is still running: the catalog resource
/// and the role scope (levels 1 and 2) are answered before it. The journal names the slow
/// write as the tenant's critical path.
#[tokio::test(flavor = "multi_thread")]
async fn writes_start_when_their_own_dependencies_are_done() {
    let w = World::new("world", |_| {}).await;
    w.control(
        reqwest::Method::PUT,
        "faults",
        Some(json!({"delay": {
            "method": "POST",
            "path_prefix": "/v1.0/policies/crossTenantAccessPolicy/partners",
            "tenant": ALPHA,
            "delay_ms": 3000,
            "count": 1,
        }})),
    )
    .await;
    let journal_path = w.path().join("journal.jsonl");
    let journal = apply::journal::Journal::open(&journal_path, "test").expect("journal");
    let (_, out) = plan_then_apply(&w, Some(&journal)).await;
    let alpha = outcome(&out, "alpha");
    assert!(
        alpha.failed.is_empty() && alpha.skipped.is_empty(),
        "{:?} {:?}",
        alpha.failed,
        alpha.skipped
    );

    let log = log(&w).await;
    let slow = log
        .iter()
        .find(|e| {
            in_alpha(e)
                && e["method"] == "POST"
                && e["path"] == "/v1.0/policies/crossTenantAccessPolicy/partners"
        })
        .map(time)
        .expect("the partner was created");
    let answered = |suffix: &str| -> Vec<jiff::Timestamp> {
        log.iter()
            .filter(|e| {
                in_alpha(e)
                    && e["method"] == "POST"
                    && e["path"].as_str().is_some_and(|p| p.ends_with(suffix))
                    && e["status"].as_u64().is_some_and(|s| s < 300)
            })
            .map(time)
            .collect()
    };
    let requests = answered("/resourceRequests");
    let scopes = answered("/resourceRoleScopes");
    assert!(!requests.is_empty() && !scopes.is_empty());
    assert!(
        requests.iter().chain(&scopes).all(|t| *t < slow),
        "catalog resources {requests:?} and role scopes {scopes:?} waited for the partner ({slow})"
    );

    let path = journal_lines(&journal_path)
        .into_iter()
        .find(|l| l["event"] == "criticalPath" && l["tenant"] == ALPHA)
        .expect("alpha's critical path is journaled");
    let partner = Address::new(Kind::CrossTenantPartner, "testsoc").to_string();
    assert_eq!(path["address"], partner.as_str(), "{path}");
    assert_eq!(path["path"].as_array().map(Vec::len), Some(1), "{path}");
    assert!(
        path["durationMs"].as_u64().is_some_and(|d| d >= 3000),
        "{path}"
    );
    assert_eq!(path["roundTrips"], 1, "{path}");
    assert_eq!(alpha.critical_path.len(), 1);
    assert_eq!(alpha.critical_path[0].address, partner);
}

/// A failed write skips what depends on it, directly or not, with the failure named, and
/// nothing else: the catalog's refusal skips catalog resources, packages, role scopes and
/// policies; groups and the partner are still written.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_write_skips_only_its_dependents() {
    let w = World::new("world", |_| {}).await;
    w.control(
        reqwest::Method::PUT,
        "faults",
        Some(json!({"one_shot": {
            "method": "POST",
            "path_prefix": "/v1.0/identityGovernance/entitlementManagement/catalogs",
            "tenant": ALPHA,
            "status": 403,
            "count": 1,
        }})),
    )
    .await;
    let (_, out) = plan_then_apply(&w, None).await;
    let alpha = outcome(&out, "alpha");
    let catalog = Address::new(Kind::Catalog, "tsoc").to_string();
    assert_eq!(
        alpha
            .failed
            .iter()
            .map(|e| e.address.as_str())
            .collect::<Vec<_>>(),
        [catalog.as_str()],
        "{:?}",
        alpha.failed
    );
    let skipped = |what: &str, because: &str| {
        alpha
            .skipped
            .iter()
            .any(|s| s.starts_with(&format!("{what}: skipped: {because} failed")))
    };
    for t in ["tier1", "tier2"] {
        let resource = Address::new(Kind::CatalogResource, t).to_string();
        let package = Address::new(Kind::AccessPackage, t).to_string();
        assert!(skipped(&resource, &catalog), "{:?}", alpha.skipped);
        assert!(skipped(&package, &catalog), "{:?}", alpha.skipped);
        // Transitively: what depends on a skipped write is skipped too.
        let scope = Address::new(Kind::RoleScope, t).to_string();
        assert!(
            alpha
                .skipped
                .iter()
                .any(|s| s.starts_with(&format!("{scope}: skipped:"))),
            "{:?}",
            alpha.skipped
        );
        let group = Address::new(Kind::Group, t).to_string();
        assert!(alpha.done.contains(&group), "{:?}", alpha.done);
    }
    let partner = Address::new(Kind::CrossTenantPartner, "testsoc").to_string();
    assert!(alpha.done.contains(&partner), "{:?}", alpha.done);
    // Nothing skipped reached the tenant.
    assert!(
        !log(&w).await.iter().any(|e| in_alpha(e)
            && e["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/resourceRequests"))),
        "a skipped catalog resource was requested"
    );
    // The other customer is untouched by alpha's failure.
    let beta = outcome(&out, "beta");
    assert!(beta.failed.is_empty() && beta.skipped.is_empty());
}

/// App-role grants do not fetch the resource service principal per grant: the plan read it
/// (Microsoft Graph's and WindowsDefenderATP's), so the apply phase asks for none of them more
/// than once, and the role scopes reuse the catalog resource the catalog-resource write found
/// (one catalog listing per group added, not three). With no replication lag, the critical
/// path is at most the dependency depth plus two round trips.
#[tokio::test(flavor = "multi_thread")]
async fn shared_lookups_are_made_once_per_tenant() {
    let w = World::new("world", |o| o.replication_delay = Duration::ZERO).await;
    let journal_path = w.path().join("journal.jsonl");
    let journal = apply::journal::Journal::open(&journal_path, "test").expect("journal");
    let (p, out) = plan_then_apply(&w, Some(&journal)).await;
    let alpha = outcome(&out, "alpha");
    assert!(
        alpha.failed.is_empty() && alpha.skipped.is_empty(),
        "{:?}",
        alpha.failed
    );
    let log = log(&w).await;
    let alpha_gets: Vec<&str> = log
        .iter()
        .filter(|e| in_alpha(e) && e["method"] == "GET")
        .filter_map(|e| e["path"].as_str())
        .collect();
    for app in [mssp::expand::GRAPH_APP_ID, mssp::expand::DEFENDER_APP_ID] {
        let fetched = alpha_gets
            .iter()
            .filter(|p| p.contains("servicePrincipals(appId=") && p.contains(app))
            .count();
        assert!(
            fetched <= 1,
            "{app} fetched {fetched} times: {alpha_gets:?}"
        );
    }
    let added = p
        .tenants
        .iter()
        .filter(|t| t.name == "alpha")
        .flat_map(|t| &t.actions)
        .filter(|a| a.address.starts_with("catalog-resource/") && a.op.is_change())
        .count();
    assert!(added >= 2);
    let listings = alpha_gets
        .iter()
        .filter(|p| p.contains("/catalogs/") && p.ends_with("/resources"))
        .count();
    assert_eq!(listings, added, "{alpha_gets:?}");

    let v = w.manifests();
    let desired =
        mssp::expand::expand_customer(&v.provider, &v.customer("alpha").expect("alpha").doc);
    let mut depth = std::collections::BTreeMap::new();
    for r in &desired.resources {
        let d = r
            .depends_on
            .iter()
            .filter_map(|x| depth.get(x))
            .max()
            .map_or(1, |d: &usize| d + 1);
        depth.insert(r.address.clone(), d);
    }
    let depth = depth.values().max().copied().unwrap_or(0) as u64;
    let path = journal_lines(&journal_path)
        .into_iter()
        .find(|l| l["event"] == "criticalPath" && l["tenant"] == ALPHA)
        .expect("alpha's critical path is journaled");
    let trips = path["roundTrips"].as_u64().expect("round trips");
    assert!(
        trips <= depth + 2,
        "{trips} round trips, depth {depth}: {path}"
    );
}

/// The permission preflight fetches tokens concurrently, at most `concurrency` at once: with
/// every token request held 400 ms by the sandbox, two are answered together, never three
/// (one after another, no two would be).
#[tokio::test(flavor = "multi_thread")]
async fn the_preflight_fetches_tokens_concurrently_and_bounded() {
    const HOLD_MS: i64 = 400;
    let w = World::new("world", |_| {}).await;
    let v = w.manifests();
    let tenants = mssp::permissions::needs(&v, &[]);
    assert_eq!(tenants.len(), 3);
    w.control(
        reqwest::Method::PUT,
        "faults",
        Some(json!({"delay": {
            "method": "POST",
            "path_prefix": "/",
            "delay_ms": HOLD_MS,
            "count": 3,
        }})),
    )
    .await;
    let short = mssp::permissions::preflight_with(&w.session, &tenants, 2)
        .await
        .expect("preflight");
    assert!(short.is_empty(), "{short:?}");
    let answered: Vec<jiff::Timestamp> = log(&w)
        .await
        .iter()
        .filter(|e| {
            e["method"] == "POST"
                && e["path"]
                    .as_str()
                    .is_some_and(|p| p.ends_with("/oauth2/v2.0/token"))
        })
        .map(time)
        .collect();
    assert_eq!(answered.len(), 3, "{answered:?}");
    // Each request was held HOLD_MS: answers closer together than that were in flight together.
    let together = answered
        .iter()
        .map(|a| {
            answered
                .iter()
                .filter(|b| b.duration_since(*a).as_millis().abs() < i128::from(HOLD_MS))
                .count()
        })
        .max()
        .unwrap_or(0);
    assert_eq!(together, 2, "token answers at {answered:?}");
}
