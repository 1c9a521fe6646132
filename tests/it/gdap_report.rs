//! GDAP in `mssp report` and `mssp portal` (issue 18): each customer's relationships with the
//! MSSP tenant (status, roles by name, end, auto-extension, approval link while pending) and
//! their access assignments, in JSON, Markdown and HTML; the portal prints the approval link.

use reqwest::Method;

use crate::gdap::{relationships, wait_status};
use crate::report::make;
use crate::support::World;

#[tokio::test]
async fn the_report_lists_gdap_relationships_with_roles_expiry_and_assignments() {
    let w = World::new("gdap-world", |_| {}).await;
    w.apply().await;
    let id = relationships(&w).await[0]["id"]
        .as_str()
        .expect("id")
        .to_string();

    // Waiting for the customer: the report says so, with the link to send.
    let r = make(&w, &[]).await;
    let contoso = &r.customers[0];
    assert!(contoso.error.is_none(), "{:?}", contoso.error);
    assert_eq!(contoso.gdap.len(), 1, "{:?}", contoso.gdap);
    let g = &contoso.gdap[0];
    assert_eq!(g.status, "approvalPending");
    assert_eq!(
        g.approval_link.as_deref(),
        Some(mssp::gdap::approval_link(&id).as_str())
    );
    assert_eq!(g.roles, vec!["Security Reader", "Security Operator"]);
    assert!(g.ends.is_none() && g.assignments.is_empty(), "{g:?}");

    w.control(Method::POST, &format!("gdap/{id}/approve"), None)
        .await;
    wait_status(&w, &id, "active").await;
    w.apply().await;
    let r = make(&w, &[]).await;
    let g = &r.customers[0].gdap[0];
    assert_eq!(g.status, "active");
    assert!(g.approval_link.is_none());
    assert_eq!(g.auto_extend, "P180D");
    assert!(!g.expiring, "two years left and auto-extending");
    let ends: jiff::Timestamp = g.ends.as_deref().expect("end date").parse().expect("date");
    let left = ends.as_second() - jiff::Timestamp::now().as_second();
    assert!((729 * 86_400..=730 * 86_400).contains(&left), "{ends}");
    let held: Vec<(&str, Vec<&str>)> = g
        .assignments
        .iter()
        .map(|a| {
            (
                a.group.as_str(),
                a.roles.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        held,
        vec![
            ("Tier 1 Analyst (GDAP)", vec!["Security Reader"]),
            (
                "Tier 2 Analyst (GDAP)",
                vec!["Security Reader", "Security Operator"]
            ),
        ]
    );

    let md = mssp::report::markdown(&r).expect("markdown");
    assert!(md.contains("### GDAP relationships"), "{md}");
    assert!(
        md.contains(r"| Tier 2 Analyst \(GDAP\) | Security Reader, Security Operator |"),
        "{md}"
    );
    let html = mssp::report::html(&r).expect("html");
    assert!(html.contains("<h3>GDAP relationships</h3>"), "{html}");
    assert!(html.contains("Tier 1 Analyst (GDAP)"), "{html}");
    let json = serde_json::to_value(&r).expect("json");
    assert_eq!(
        json.pointer("/customers/0/gdap/0/autoExtend")
            .and_then(serde_json::Value::as_str),
        Some("P180D")
    );
}

/// `mssp portal --sandbox` after an apply: the relationship waits for the customer, so the
/// portal prints its approval link.
#[test]
fn the_portal_prints_the_gdap_approval_link_while_pending() {
    let dir = tempfile::tempdir().expect("tempdir");
    crate::support::copy_dir(
        std::path::Path::new("tests/fixtures/gdap-world"),
        dir.path(),
    );
    let sandbox = dir.path().join(".sandbox").display().to_string();
    let manifests = dir.path().display().to_string();
    let mssp = |args: &[&str]| {
        assert_cmd::Command::cargo_bin("mssp")
            .expect("binary")
            .args(args)
            .output()
            .expect("runs")
    };
    let portal = || {
        let out = mssp(&[
            "portal",
            "--sandbox",
            "--sandbox-dir",
            &sandbox,
            "--manifests",
            &manifests,
            "contoso",
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let before = portal();
    assert!(
        !before.contains("GDAP approval"),
        "nothing created yet: {before}"
    );
    let out = mssp(&[
        "apply",
        "--sandbox",
        "--sandbox-dir",
        &sandbox,
        "--auto-approve",
        &manifests,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = portal();
    let link = format!(
        "{}22222222-2222-4222-8222-222222222222-",
        mssp::gdap::approval_link("")
    );
    assert!(
        after.contains("GDAP approval (for a Global Administrator of the customer tenant")
            && after.contains(&link),
        "{after}"
    );
}
