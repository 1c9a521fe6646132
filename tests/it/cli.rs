//! Command-line conventions shared by all binaries.

use assert_cmd::Command;

#[test]
fn plan_and_apply_without_credentials_say_how_to_get_them() {
    for bin in ["mssp-plan", "mssp-apply"] {
        let out = Command::cargo_bin(bin)
            .expect("binary")
            .arg("examples/")
            .env_remove("AZURE_CLIENT_ID")
            .env_remove("AZURE_CLIENT_SECRET")
            .env_remove("AZURE_CLIENT_CERTIFICATE_PATH")
            .env_remove("AZURE_FEDERATED_TOKEN_FILE")
            .env("PATH", "/nonexistent")
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(1), "{bin}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("no credentials") && err.contains("--sandbox"),
            "{bin}: {err}"
        );
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
