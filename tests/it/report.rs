//! `mssp report`: the live access picture per customer, pinned as Markdown, escaped as HTML.

use mssp::report::{self, Report, ReportOptions};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{ALPHA, BETA, PROVIDER, World};

pub(crate) async fn package_id(w: &World, name: &str) -> String {
    w.objects(ALPHA, "accessPackages")
        .await
        .into_iter()
        .find(|p| p["displayName"] == name)
        .and_then(|p| p["id"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("package {name}"))
}

pub(crate) fn assignment(package: &str, who: &str, email: &str, end: Option<&str>) -> Value {
    json!({
        "state": "delivered",
        "status": "Delivered",
        "accessPackage": {"id": package},
        "target": {"displayName": who, "email": email, "principalName": email,
                   "objectId": "9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"},
        "schedule": {
            "startDateTime": "2026-11-01T09:00:00Z",
            "expiration": match end {
                Some(e) => json!({"type": "afterDateTime", "endDateTime": e}),
                None => json!({"type": "noExpiration"}),
            },
        },
    })
}

/// A world with two assignments in alpha (one ending, one not), one in another package, and a
/// SIEM secret ending in ten days.
pub(crate) async fn world() -> World {
    let w = World::new("world", |_| {}).await;
    w.apply().await;
    let tier1 = package_id(&w, "Test Tier 1").await;
    let tier2 = package_id(&w, "Test Tier 2").await;
    for body in [
        assignment(
            &tier1,
            "Ann Analyst",
            "ann@testsoc.example",
            Some("2027-05-22T00:00:00Z"),
        ),
        assignment(&tier1, "Bob Builder", "bob@testsoc.example", None),
        assignment(
            &tier2,
            "Cleo Senior",
            "cleo@testsoc.example",
            Some("2027-02-01T00:00:00Z"),
        ),
    ] {
        w.control(
            Method::POST,
            &format!("tenants/{ALPHA}/assignments"),
            Some(body),
        )
        .await;
    }
    let app = w
        .objects(PROVIDER, "applications")
        .await
        .into_iter()
        .find(|a| a["uniqueName"] == "tsoc-siem")
        .expect("SIEM app");
    let soon = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(24 * 10))
        .expect("date");
    w.graph(
        PROVIDER,
        Method::POST,
        &format!("applications/{}/addPassword", app["id"].as_str().expect("id")),
        Some(json!({"passwordCredential": {"displayName": "legacy-connector", "endDateTime": soon.to_string()}})),
    )
    .await
    .expect("addPassword");
    w
}

pub(crate) async fn make(w: &World, customers: &[&str]) -> Report {
    report::report(
        &w.manifests(),
        w.session.graph.clone(),
        &w.session.endpoints,
        &ReportOptions {
            customers: customers.iter().map(|s| s.to_string()).collect(),
            parallelism: 4,
            now: jiff::Timestamp::now(),
        },
    )
    .await
}

#[tokio::test]
async fn the_report_lists_live_assignments_and_the_expiring_credential() {
    let w = world().await;
    let r = make(&w, &[]).await;
    let alpha = r
        .customers
        .iter()
        .find(|c| c.name == "alpha")
        .expect("alpha");
    assert!(alpha.error.is_none(), "{:?}", alpha.error);
    let who: Vec<(&str, &str, &str)> = alpha
        .assignments
        .iter()
        .map(|a| (a.package.as_str(), a.principal.as_str(), a.until.as_str()))
        .collect();
    assert_eq!(
        who,
        [
            ("Test Tier 1", "Ann Analyst", "2027-05-22T00:00:00Z"),
            ("Test Tier 1", "Bob Builder", "no end"),
            ("Test Tier 2", "Cleo Senior", "2027-02-01T00:00:00Z"),
        ]
    );
    let legacy = alpha
        .siem
        .credentials
        .iter()
        .find(|c| c.name == "legacy-connector")
        .expect("the added secret is listed");
    assert!(legacy.expiring && legacy.kind == "secret");
    assert!(
        alpha
            .siem
            .credentials
            .iter()
            .any(|c| c.name == "ci-main" && c.kind == "federated")
    );
    let tier1 = alpha
        .access_packages
        .iter()
        .find(|p| p.tier == "tier1")
        .expect("tier1");
    assert_eq!(tier1.expiry.as_deref(), Some("P365D"));
    assert_eq!(tier1.approvers, ["members of Test Approvers"]);
    assert!(
        tier1
            .review
            .as_deref()
            .is_some_and(|r| r.starts_with("every 3 months"))
    );
    let role = &alpha.defender_roles[0];
    assert_eq!(role.assigned_to, ["Test Tier 1"]);
    assert!(
        alpha
            .manual_items
            .iter()
            .any(|m| m.attested.as_deref() == Some("ops@testsoc.example on 2026-01-15"))
    );
    // Beta uses tier 1 only: nobody holds access there.
    let beta = r.customers.iter().find(|c| c.name == "beta").expect("beta");
    assert!(beta.assignments.is_empty());
    assert!(beta.trust.is_none(), "beta does not trust the MSSP's MFA");

    // The Markdown a customer receives, pinned (ids and times vary per run).
    let md = report::markdown(&r).expect("markdown");
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[id]",
    );
    settings.add_filter(r"Generated \S+\.", "Generated [time].");
    settings.add_filter(
        r"legacy-connector \| secret \| \S+",
        "legacy-connector | secret | [soon]",
    );
    settings.add_filter(
        r"siem-secret \| secret \| \S+",
        "siem-secret | secret | [in 90 days]",
    );
    settings.bind(|| insta::assert_snapshot!("report_markdown", md));

    // JSON is versioned and sorted; a second report of an unchanged world is the same
    // apart from the time it was made.
    let again = make(&w, &[]).await;
    let strip = |r: &Report| {
        let mut v = serde_json::to_value(r).expect("json");
        v["generatedAt"] = Value::Null;
        v
    };
    assert_eq!(strip(&r), strip(&again));
    assert_eq!(serde_json::to_value(&r).expect("json")["formatVersion"], 1);
}

#[tokio::test]
async fn a_tenant_that_cannot_be_read_is_reported_as_such() {
    let w = world().await;
    w.control(
        Method::PUT,
        "faults",
        // 403 (consent withdrawn) rather than a 5xx: not retried, so the test stays quick.
        Some(json!({"one_shot": {"path_prefix": "/v1.0/$batch", "tenant": BETA, "status": 403, "count": 1000}})),
    )
    .await;
    let r = make(&w, &[]).await;
    let beta = r.customers.iter().find(|c| c.name == "beta").expect("beta");
    assert!(
        beta.error.as_deref().is_some_and(|e| e.contains("403")),
        "{:?}",
        beta.error
    );
    assert!(beta.groups.is_empty() && beta.assignments.is_empty());
    assert_eq!(
        r.failed().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["beta"]
    );
    let md = report::markdown(&r).expect("markdown");
    assert!(md.contains("**Could not be read:**"));
}

#[tokio::test]
async fn html_escapes_what_tenants_and_manifests_say() {
    let w = world().await;
    let mut r = make(&w, &["alpha"]).await;
    r.customers[0].display_name = "<script>alert(1)</script>".into();
    r.customers[0].assignments[0].principal = "Eve <img src=x onerror=alert(2)>".into();
    let html = report::html(&r).expect("html");
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.starts_with("<!DOCTYPE html>"));
    let md = report::markdown(&r).expect("markdown");
    assert!(!md.contains("<script>") && !md.contains("<img"));
}

/// The command line: `--format json --out`, no secret in the output, exit 1 on unknown names.
#[test]
fn the_cli_writes_the_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = dir.path().join(".sb").display().to_string();
    let out = dir.path().join("report.json");
    let run = |args: &[&str]| {
        assert_cmd::Command::cargo_bin("mssp")
            .expect("binary")
            .args(args)
            .output()
            .expect("runs")
    };
    let o = run(&[
        "apply",
        "--sandbox",
        "--sandbox-dir",
        &sandbox,
        "--auto-approve",
        "examples/",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(&[
        "report",
        "--sandbox",
        "--sandbox-dir",
        &sandbox,
        "--format",
        "json",
        "--out",
        &out.display().to_string(),
        "examples/",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(&out).expect("report written");
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["customers"].as_array().map(Vec::len), Some(4));
    // The sandbox's client secret is the one secret in play: it never reaches a report.
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(".sb/state.json")).expect("state"),
    )
    .expect("state json");
    let secret = state["provisioning"]["client_secret"]
        .as_str()
        .expect("secret");
    assert!(!text.contains(secret));
    let o = run(&[
        "report",
        "--sandbox",
        "--sandbox-dir",
        &sandbox,
        "--customer",
        "nobody",
        "examples/",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no customer named `nobody`"));
}
