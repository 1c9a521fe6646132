//! `mssp validate` on the examples and on invalid fixtures: exit codes and exact locations.

use assert_cmd::Command;

fn mssp() -> Command {
    Command::cargo_bin("mssp").expect("binary built")
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn validate(args: &[&str]) -> Run {
    let out = mssp().arg("validate").args(args).output().expect("runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const PROVIDER: &str = "tests/fixtures/provider.yaml";

#[test]
fn examples_are_valid() {
    let r = validate(&["examples/"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .starts_with("ok: 1 provider and 4 customers in 4 files are valid"),
        "{}",
        r.stdout
    );
    assert!(!r.stderr.contains("error"), "{}", r.stderr);
}

/// Each invalid fixture fails with exit 1 and the exact `path:line:col: error: message`.
#[test]
fn invalid_fixtures_report_exact_locations() {
    let cases: &[(&[&str], &str)] = &[
        (
            &[PROVIDER, "tests/fixtures/invalid/yaml-syntax.yaml"],
            "tests/fixtures/invalid/yaml-syntax.yaml:10:12: error: unclosed bracket '['",
        ),
        (
            &[PROVIDER, "tests/fixtures/invalid/unknown-field.yaml"],
            "tests/fixtures/invalid/unknown-field.yaml:9:3: error: unknown field `acess`",
        ),
        (
            &[PROVIDER, "tests/fixtures/invalid/bad-guid.yaml"],
            "tests/fixtures/invalid/bad-guid.yaml:6:13: error: customer tenantId `2222-not-a-guid` is not a GUID",
        ),
        (
            &[PROVIDER, "tests/fixtures/invalid/unknown-tier.yaml"],
            "tests/fixtures/invalid/unknown-tier.yaml:10:20: error: unknown tier `tier9`",
        ),
        (
            &[PROVIDER, "tests/fixtures/invalid/duplicate-tenant.yaml"],
            "tests/fixtures/invalid/duplicate-tenant.yaml:15:13: error: tenant id `22222222-2222-4222-8222-222222222222` is used by two customers",
        ),
        (
            &["tests/fixtures/invalid/bad-duration.yaml"],
            "tests/fixtures/invalid/bad-duration.yaml:13:17: error: access package expiry `365 days` is not an ISO 8601 duration",
        ),
        (
            &[PROVIDER, "tests/fixtures/invalid/bad-email.yaml"],
            "tests/fixtures/invalid/bad-email.yaml:12:42: error: recipient `soc-at-fabrikam` is not a valid e-mail address",
        ),
        (
            &[PROVIDER, "tests/fixtures/invalid/two-providers.yaml"],
            "tests/fixtures/invalid/two-providers.yaml:2:7: error: more than one Provider manifest",
        ),
        (
            &["tests/fixtures/invalid/missing-provider.yaml"],
            "error: no Provider manifest found",
        ),
    ];
    for (args, expected) in cases {
        let r = validate(args);
        assert_eq!(r.code, 1, "{args:?} should fail:\n{}", r.stderr);
        assert!(
            r.stderr.lines().any(|l| l == *expected),
            "{args:?}: expected line\n  {expected}\nin stderr:\n{}",
            r.stderr
        );
        assert!(
            r.stdout.is_empty(),
            "{args:?}: nothing on stdout on failure"
        );
    }
}

#[test]
fn the_offending_line_is_shown_with_a_caret() {
    let r = validate(&[PROVIDER, "tests/fixtures/invalid/unknown-tier.yaml"]);
    assert!(
        r.stderr.contains(
            "10 |     tiers: [tier1, tier9]\n   |                    ^^^^^ not defined in the Provider"
        ),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("= help: tiers defined in tests/fixtures/provider.yaml: approvers, tier1"),
        "{}",
        r.stderr
    );
}

#[test]
fn misspelt_fields_get_a_suggestion() {
    let r = validate(&[PROVIDER, "tests/fixtures/invalid/unknown-field.yaml"]);
    assert!(
        r.stderr
            .contains("= help: did you mean `access`? expected one of: tenantId, domain,"),
        "{}",
        r.stderr
    );
}

#[test]
fn every_problem_is_reported_in_one_run() {
    let r = validate(&[PROVIDER, "tests/fixtures/invalid/many-problems.yaml"]);
    assert_eq!(r.code, 1);
    let f = "tests/fixtures/invalid/many-problems.yaml";
    for expected in [
        format!("{f}:4:9: error: name `Many_Problems` is not valid"),
        format!("{f}:6:13: error: customer tenantId `nope` is not a GUID"),
        format!("{f}:7:11: error: customer domain `many` is not a DNS domain name"),
        format!("{f}:10:13: error: unknown tier `tier7`"),
        format!("{f}:13:20: error: `critical` is not a Defender alert severity"),
        format!("{f}:14:20: error: recipient `soc` is not a valid e-mail address"),
        format!("{f}:19:16: warning: exception expired on 2001-01-01"),
    ] {
        assert!(
            r.stderr.lines().any(|l| l == expected),
            "missing `{expected}` in:\n{}",
            r.stderr
        );
    }
    assert!(
        r.stderr
            .ends_with("error: 6 errors and 1 warning in 2 files\n"),
        "{}",
        r.stderr
    );
}

#[test]
fn warnings_do_not_fail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let customer = dir.path().join("c.yaml");
    std::fs::write(
        &customer,
        "apiVersion: mssp.io/v1\nkind: Customer\nmetadata: {name: c}\nspec:\n  tenantId: 22222222-2222-4222-8222-222222222222\n  domain: c.onmicrosoft.com\n  displayName: C\n  access: {tiers: [tier1, tier1]}\n",
    )
    .expect("write");
    let r = validate(&[PROVIDER, customer.to_str().expect("utf8")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("warning: tier `tier1` is listed twice"));
    assert!(r.stdout.contains("(1 warning)"), "{}", r.stdout);
}

#[test]
fn directories_skip_foreign_yaml_but_named_files_do_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(PROVIDER, dir.path().join("provider.yaml")).expect("copy");
    let ci = dir.path().join("workflow.yml");
    std::fs::write(&ci, "name: ci\non: [push]\njobs: {}\n").expect("write");
    let r = validate(&[dir.path().to_str().expect("utf8")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = validate(&[PROVIDER, ci.to_str().expect("utf8")]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("workflow.yml:1:1: error: document has no `kind`"),
        "{}",
        r.stderr
    );
}

#[test]
fn missing_path_is_an_error() {
    let r = validate(&["does/not/exist"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("error: does/not/exist: no such file or directory")
    );
}

#[test]
fn explain_lists_the_desired_resources() {
    let r = validate(&["--explain", "contoso", "examples/"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = &r.stdout;
    assert!(out.starts_with(
        "customer contoso — Contoso Ltd (tenant 7d3c9f10-2b4a-4c5d-9e6f-a1b2c3d4e5f6, public cloud)\nportal: https://security.microsoft.com/?tid=7d3c9f10-2b4a-4c5d-9e6f-a1b2c3d4e5f6\n"
    ));
    for address in [
        "group/tier1",
        "group/approvers",
        "connected-organization/fabrikam-soc",
        "catalog/fabrikam-soc",
        "catalog-resource/tier2",
        "access-package/tier2",
        "role-scope/tier1",
        "assignment-policy/tier1",
        "cross-tenant-partner/fabrikam-soc",
        "defender-role/tier2",
        "defender-role-assignment/tier2",
        "service-principal/siem",
        "service-principal/windows-defender-atp",
        "app-role-grant/graph/SecurityAlert.Read.All",
        "app-role-grant/defender/Alert.Read.All",
        "manual/notification-rule/mssp-high-and-medium",
    ] {
        assert!(
            out.lines().any(|l| l == format!("  {address}")),
            "missing {address}:\n{out}"
        );
    }
    assert!(out.contains("attested by alice@fabrikam.example on 2026-10-02"));
}

#[test]
fn explain_json_is_machine_readable() {
    let r = validate(&[
        "--explain",
        "northwind-gov",
        "--format",
        "json",
        "examples/",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["cloud"], "gccHigh");
    assert_eq!(
        v["portalLink"],
        "https://security.microsoft.us/?tid=3e8a1c2d-4f5b-4a6c-8d7e-9f0a1b2c3d4e"
    );
    let addresses: Vec<&str> = v["resources"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|r| r["address"].as_str())
        .collect();
    assert!(addresses.contains(&"manual/mde-role/tier1"));
    assert!(!addresses.iter().any(|a| a.starts_with("defender-role/")));
}

#[test]
fn explain_unknown_customer_names_the_known_ones() {
    let r = validate(&["--explain", "nobody", "examples/"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no customer or provider named `nobody`"));
    assert!(r.stderr.contains("contoso"));
}
