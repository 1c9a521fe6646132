//! Tier names that would collide with a name the tool keeps for itself.

use assert_cmd::Command;

/// A provider fixture with the tier `from` renamed `to`, validated by the binary.
struct Renamed {
    code: Option<i32>,
    stderr: String,
    path: std::path::PathBuf,
    /// The line of the renamed tier's `- name:`.
    line: usize,
    _dir: tempfile::TempDir,
}

fn validate_renamed(fixture: &str, from: &str, to: &str) -> Renamed {
    let text = std::fs::read_to_string(fixture).expect("fixture");
    let tier = format!("    - name: {from}");
    assert!(text.contains(&format!("{tier}\n")), "fixture changed");
    let provider = text.replace(&format!("{tier}\n"), &format!("    - name: {to}\n"));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("provider.yaml");
    std::fs::write(&path, provider).expect("write");

    let out = Command::cargo_bin("mssp")
        .expect("binary built")
        .arg("validate")
        .arg(&path)
        .output()
        .expect("runs");
    let line = text.lines().position(|l| l == tier).expect("tier line") + 1;
    Renamed {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        path,
        line,
        _dir: dir,
    }
}

/// A tier named `apply-lease` would give its group `<prefix>-apply-lease`, the apply lease
/// group's uniqueName: validation refuses it at the tier's name.
#[test]
fn a_tier_named_apply_lease_is_refused_at_its_name() {
    let r = validate_renamed("tests/fixtures/provider.yaml", "tier1", "apply-lease");
    let stderr = &r.stderr;
    assert_eq!(r.code, Some(1), "{stderr}");
    let expected = format!(
        "{}:{}:13: error: tier name `apply-lease` gives its group the uniqueName `mssp-apply-lease` of the apply lease group",
        r.path.display(),
        r.line
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

/// A tier whose name merely contains the words keeps validating.
#[test]
fn a_tier_named_like_the_lease_but_not_it_is_accepted() {
    let r = validate_renamed("tests/fixtures/provider.yaml", "tier1", "apply-lease-2");
    assert_eq!(r.code, Some(0), "{}", r.stderr);
}

/// A tier named `gdap-tier1` would give its group `mssp-gdap-tier1`, GDAP tier `tier1`'s
/// group in the MSSP tenant: validation refuses it at the tier's name.
#[test]
fn a_tier_named_like_a_gdap_tier_group_is_refused_at_its_name() {
    let r = validate_renamed(
        "tests/fixtures/gdap-world/provider.yaml",
        "nogdap",
        "gdap-tier1",
    );
    let stderr = &r.stderr;
    assert_eq!(r.code, Some(1), "{stderr}");
    let expected = format!(
        "{}:{}:13: error: tier name `gdap-tier1` gives its group the uniqueName `mssp-gdap-tier1`, which GDAP tier groups use",
        r.path.display(),
        r.line
    );
    assert!(stderr.contains(&expected), "{stderr}");
}
