//! Microsoft's Python clients (MSAL + msgraph-sdk) against the sandbox. Needs `.venv-test`
//! (created by scripts/test-deps.sh); skipped with a notice when it is absent.

use std::path::PathBuf;

use super::sandbox::{seed, start_with};

#[tokio::test]
async fn msal_and_msgraph_sdk_work_against_the_sandbox() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv-test/bin/python");
    if !python.exists() {
        crate::skips::skipped(&format!(
            "{} missing (run scripts/test-deps.sh); skipping the msgraph-sdk test",
            python.display()
        ));
        return;
    }
    let env = start_with(|o| o.page_size = 2, seed()).await;
    let mut cmd = std::process::Command::new(&python);
    cmd.arg(root.join("tests/python/test_msgraph_sdk.py"))
        .env("SANDBOX_URL", &env.sb.url)
        .env("SANDBOX_CA", &env.sb.ca_cert_path)
        // requests lets these variables override a session's `verify`; point them at the sandbox CA.
        .env("REQUESTS_CA_BUNDLE", &env.sb.ca_cert_path)
        .env("CURL_CA_BUNDLE", &env.sb.ca_cert_path)
        .env("SANDBOX_CLIENT_ID", &env.sb.client_id)
        .env("SANDBOX_CLIENT_SECRET", &env.sb.client_secret)
        .env("SANDBOX_TENANT", env.customer.to_string());
    // The sandbox runs on this runtime; the blocking child must not stall it.
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "python client test failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("ok: 3 groups"), "{stdout}");
}
