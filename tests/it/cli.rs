//! Command-line conventions shared by all binaries.

use assert_cmd::Command;

#[test]
fn plan_and_apply_say_not_yet_implemented() {
    for bin in ["mssp-plan", "mssp-apply"] {
        let out = Command::cargo_bin(bin)
            .expect("binary")
            .arg("examples/")
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(1), "{bin}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not yet implemented"), "{bin}: {err}");
    }
}

#[test]
fn usage_errors_have_their_own_exit_code() {
    let out = Command::cargo_bin("mssp")
        .expect("binary")
        .args(["validate", "--no-such-flag"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn help_has_examples() {
    for sub in ["validate", "plan", "apply", "schema"] {
        let out = Command::cargo_bin("mssp")
            .expect("binary")
            .args([sub, "--help"])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Example"), "{sub} --help lacks an example");
    }
}
