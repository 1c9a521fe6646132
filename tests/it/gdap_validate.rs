//! GDAP manifest rules (`mssp validate`): duration bounds, auto-extension with Global
//! Administrator, role ids against the built-in table, and tier roles outside the relationship,
//! each reported at `file:line:col`.

use assert_cmd::Command;

fn validate(args: &[&str]) -> (i32, String) {
    let out = Command::cargo_bin("mssp")
        .expect("binary built")
        .arg("validate")
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const PROVIDER: &str = "tests/fixtures/gdap/provider.yaml";

#[test]
fn gdap_customer_opting_in_with_tiers_is_valid() {
    let (code, stderr) = validate(&[PROVIDER, "tests/fixtures/gdap/customer-ok.yaml"]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn gdap_provider_limits_are_reported_where_they_are_written() {
    let (code, stderr) = validate(&["tests/fixtures/gdap/provider-bad.yaml"]);
    assert_eq!(code, 1, "{stderr}");
    for line in [
        "tests/fixtures/gdap/provider-bad.yaml:10:15: error: GDAP duration `P800D` is 800 days",
        "tests/fixtures/gdap/provider-bad.yaml:11:17: error: GDAP relationships with Global Administrator cannot auto-extend, and tier `admins` requests it",
        "tests/fixtures/gdap/provider-bad.yaml:20:13: error: `00000000-0000-4000-8000-000000000001` is not a documented Entra built-in role the tool knows",
    ] {
        assert!(
            stderr.lines().any(|l| l == line),
            "expected\n  {line}\nin\n{stderr}"
        );
    }
}

#[test]
fn gdap_tier_roles_outside_the_pinned_relationship_roles_are_errors() {
    let (code, stderr) = validate(&[PROVIDER, "tests/fixtures/gdap/customer-bad.yaml"]);
    assert_eq!(code, 1, "{stderr}");
    for line in [
        "tests/fixtures/gdap/customer-bad.yaml:11:22: error: tier `tier2` assigns Security Operator `5f2222b1-57c3-48ba-8ad5-d4759f1fde6f`, which is not among the relationship's roles",
        "tests/fixtures/gdap/customer-bad.yaml:11:29: error: tier `nogdap` defines no GDAP roles",
    ] {
        assert!(
            stderr.lines().any(|l| l == line),
            "expected\n  {line}\nin\n{stderr}"
        );
    }
    assert!(
        !stderr.contains("tier `tier1` assigns"),
        "tier1's role is pinned: {stderr}"
    );
}
