//! Tier names that would collide with a name the tool keeps for itself.

use assert_cmd::Command;

/// A tier named `apply-lease` would give its group `<prefix>-apply-lease`, the apply lease
/// group's uniqueName: validation refuses it at the tier's name.
#[test]
fn a_tier_named_apply_lease_is_refused_at_its_name() {
    let fixture = std::fs::read_to_string("tests/fixtures/provider.yaml").expect("fixture");
    assert!(fixture.contains("    - name: tier1\n"), "fixture changed");
    let provider = fixture.replace("    - name: tier1\n", "    - name: apply-lease\n");
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
        .position(|l| l == "    - name: tier1")
        .expect("tier line")
        + 1;
    let expected = format!(
        "{}:{line}:13: error: tier name `apply-lease` gives its group the uniqueName `mssp-apply-lease` of the apply lease group",
        path.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

/// A tier whose name merely contains the words keeps validating.
#[test]
fn a_tier_named_like_the_lease_but_not_it_is_accepted() {
    let fixture = std::fs::read_to_string("tests/fixtures/provider.yaml").expect("fixture");
    let provider = fixture.replace("    - name: tier1\n", "    - name: apply-lease-2\n");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("provider.yaml");
    std::fs::write(&path, provider).expect("write");

    let out = Command::cargo_bin("mssp")
        .expect("binary built")
        .arg("validate")
        .arg(&path)
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
