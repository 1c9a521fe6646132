//! GDAP's last rough edges (issue 18): what a termination with nothing to terminate shows in
//! a JSON plan, and a tier name that would take a GDAP tier group's name.

use assert_cmd::Command;

use crate::gdap::PROVIDER;
use crate::support::World;

/// Nothing to terminate is an absence, not an object: the no-op has no `id` (never `""`).
#[tokio::test]
async fn gdap_termination_with_nothing_to_terminate_has_no_id_in_the_json_plan() {
    let w = World::new("gdap-world", |_| {}).await;
    let plan = serde_json::to_value(w.plan().await).expect("json");
    let actions = plan["tenants"]
        .as_array()
        .expect("tenants")
        .iter()
        .find(|t| t["name"] == PROVIDER)
        .and_then(|t| t["actions"].as_array())
        .expect("provider actions");
    let termination = actions
        .iter()
        .find(|a| a["address"] == "gdap-termination/contoso")
        .expect("the termination is listed");
    assert_eq!(termination["op"], "noOp", "{termination}");
    assert!(termination.get("id").is_none(), "{termination}");
}

/// A tier named `gdap-tier1` would give its group `mssp-gdap-tier1`, GDAP tier `tier1`'s
/// group in the MSSP tenant: validation refuses it at the tier's name.
#[test]
fn a_tier_named_like_a_gdap_tier_group_is_refused_at_its_name() {
    let fixture =
        std::fs::read_to_string("tests/fixtures/gdap-world/provider.yaml").expect("fixture");
    assert!(fixture.contains("    - name: nogdap\n"), "fixture changed");
    let provider = fixture.replace("    - name: nogdap\n", "    - name: gdap-tier1\n");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("provider.yaml");
    std::fs::write(&path, provider).expect("write");

    let out = Command::cargo_bin("mssp")
        .expect("binary built")
        .arg("validate")
        .arg(&path)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let line = fixture
        .lines()
        .position(|l| l == "    - name: nogdap")
        .expect("tier line")
        + 1;
    let expected = format!(
        "{}:{line}:13: error: tier name `gdap-tier1` gives its group the uniqueName `mssp-gdap-tier1`, which GDAP tier groups use",
        path.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}
