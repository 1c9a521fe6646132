//! Benchmarks against the in-process sandbox with injected latency (not tests: they assert
//! nothing about time and print figures for docs/performance.md).
//!
//! `cargo bench --bench tenants` — set `MSSP_BENCH_TENANTS` (default 1000) and
//! `MSSP_BENCH_LATENCY_MS` (default 50).
//! 1. No-op plan over N converged tenants: requests per tenant, wall time versus
//!    requests × latency / parallelism, peak RSS.
//! 2. Fresh apply of one customer (plan, then apply with the plan's reads): round trips on the
//!    critical path versus dependency depth.
//! 3. Fresh apply of 100 customers: wall time.

use std::path::Path;
use std::time::{Duration, Instant};

use mssp::apply::{self, ApplyOptions};
use mssp::plan::{self, Endpoints, PlanOptions};
use mssp::sandbox::{Sandbox, SandboxOptions};
use mssp::session::Session;

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn write_world(dir: &Path, n: usize) {
    let provider = std::fs::read_to_string("tests/fixtures/world/provider.yaml").expect("fixture");
    std::fs::write(dir.join("provider.yaml"), provider).expect("write");
    let docs: Vec<String> = (0..n)
        .map(|i| format!(
            "apiVersion: mssp.io/v1\nkind: Customer\nmetadata: {{name: c{i:04}}}\nspec:\n  tenantId: 0c000000-0000-4000-8000-{i:012}\n  domain: c{i}.onmicrosoft.com\n  displayName: Customer {i}\n  access: {{tiers: [tier1]}}\n"
        ))
        .collect();
    std::fs::write(dir.join("customers.yaml"), docs.join("---\n")).expect("write");
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn world(
    dir: &Path,
    n: usize,
    latency: Duration,
) -> (Sandbox, Session, mssp::validate::Validated) {
    write_world(dir, n);
    let (v, d, _) = mssp::commands::load_and_validate(&[dir.to_path_buf()]);
    let v = v.unwrap_or_else(|| panic!("{}", d.render()));
    let sb = Sandbox::start(
        SandboxOptions {
            ca_dir: dir.join(".sb"),
            latency,
            retry_after_secs: 0,
            // The benchmark measures the tool's speed, not replication waits.
            replication_delay: std::time::Duration::ZERO,
            ..Default::default()
        },
        mssp::commands::sandbox::seed_from(&v),
    )
    .await
    .expect("sandbox");
    let session = Session::with_secret(
        Endpoints {
            login: Some(sb.url.clone()),
            graph: Some(sb.url.clone()),
            defender: Some(sb.url.clone()),
        },
        &sb.client_id,
        &sb.client_secret,
        Some(sb.ca_pem.as_bytes()),
    )
    .expect("session");
    (sb, session, v)
}

fn plan_opts(dir: &Path, parallelism: usize, customers: Vec<String>) -> PlanOptions {
    PlanOptions {
        prune: false,
        parallelism,
        customers,
        today: jiff::civil::date(2026, 11, 23),
        manifest_paths: vec![dir.display().to_string()],
        recent: None,
        visibility_wait: std::time::Duration::ZERO,
    }
}

async fn apply_all(
    session: &Session,
    v: &mssp::validate::Validated,
    dir: &Path,
    parallelism: usize,
    customers: Vec<String>,
) -> Duration {
    let started = Instant::now();
    // As `mssp apply --auto-approve DIR` does: the plan's own reads feed the apply.
    let (p, states) = plan::plan_with_states(
        v,
        session.graph.clone(),
        &session.endpoints,
        &plan_opts(dir, parallelism, customers),
        &indicatif::ProgressBar::hidden(),
    )
    .await;
    let opts = ApplyOptions {
        parallelism,
        ..ApplyOptions::default()
    };
    let out = apply::apply(
        v,
        session,
        &p,
        states,
        &opts,
        None,
        &indicatif::ProgressBar::hidden(),
    )
    .await;
    assert!(out.iter().all(|o| o.failed.is_empty()), "apply failed");
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let n = env_usize("MSSP_BENCH_TENANTS", 1000);
    let latency_ms = env_usize("MSSP_BENCH_LATENCY_MS", 50) as u64;
    let latency = Duration::from_millis(latency_ms);
    let parallelism = 8;

    // 2. One customer, fresh: critical path in round trips.
    {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_sb, session, v) = world(dir.path(), 1, latency).await;
        // The MSSP tenant first (the SIEM app), so the customer is measured alone.
        apply_all(&session, &v, dir.path(), parallelism, vec!["none".into()]).await;
        let desired = mssp::expand::expand_customer(&v.provider.doc, &v.customers[0].doc);
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
        let max_depth = depth.values().max().copied().unwrap_or(0);
        let t = apply_all(&session, &v, dir.path(), parallelism, vec!["c0000".into()]).await;
        let trips = t.as_secs_f64() / latency.as_secs_f64();
        println!(
            "fresh apply of one customer at {latency_ms} ms: {:.2} s = {trips:.1} round trips on the critical path (plan + apply, as `apply --auto-approve DIR`); dependency depth {max_depth}",
            t.as_secs_f64()
        );
    }

    // 3. 100 customers, fresh.
    {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_sb, session, v) = world(dir.path(), 100, latency).await;
        let t = apply_all(&session, &v, dir.path(), 16, vec![]).await;
        println!(
            "fresh apply of 100 customers at {latency_ms} ms, parallelism 16: {:.1} s",
            t.as_secs_f64()
        );
    }

    // 1. No-op plan over n converged tenants.
    let dir = tempfile::tempdir().expect("tempdir");
    let (_sb, session, v) = world(dir.path(), n, latency).await;
    let t = apply_all(&session, &v, dir.path(), 64, vec![]).await;
    println!("(setup: converged {n} tenants in {:.1} s)", t.as_secs_f64());
    let started = Instant::now();
    let p = plan::plan(
        &v,
        session.graph.clone(),
        &session.endpoints,
        &plan_opts(dir.path(), parallelism, vec![]),
        &indicatif::ProgressBar::hidden(),
    )
    .await;
    let wall = started.elapsed();
    assert!(!p.has_changes(), "the tenants should be converged");
    let customers: Vec<_> = p
        .tenants
        .iter()
        .filter(|t| t.role == mssp::kinds::TenantRole::Customer)
        .collect();
    let requests: u64 = customers.iter().map(|t| t.requests).sum();
    let per_tenant = requests as f64 / customers.len() as f64;
    // Token requests are made once per tenant (cached for the hour): count them too.
    let bound =
        (requests + customers.len() as u64) as f64 * latency.as_secs_f64() / parallelism as f64;
    println!(
        "no-op plan of {} tenants at {latency_ms} ms, parallelism {parallelism}: {:.1} s wall; {per_tenant:.2} Graph requests per tenant (+1 token request); bound requests x latency / parallelism = {bound:.1} s ({:.2}x); peak RSS {:.0} MB",
        customers.len(),
        wall.as_secs_f64(),
        wall.as_secs_f64() / bound,
        peak_rss_mb()
    );
}
