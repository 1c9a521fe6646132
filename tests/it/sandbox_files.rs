//! The sandbox's files on disk: the state file holds the client secret and the CA's private
//! key, so it and its folders are private to their owner.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use mssp::sandbox::{Sandbox, SandboxOptions};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("exists").permissions().mode() & 0o777
}

#[tokio::test]
async fn state_file_is_private_and_its_folders_too() {
    let dir = tempfile::tempdir().unwrap();
    let v = crate::support::load(Path::new("tests/fixtures/world"));
    let state_dir = dir.path().join("state").join("nested");
    let state = state_dir.join("state.json");
    let ca_dir = dir.path().join("ca");
    let opts = SandboxOptions {
        state_file: Some(state.clone()),
        ca_dir: ca_dir.clone(),
        retry_after_secs: 0,
        ..Default::default()
    };
    let sb = Sandbox::start(opts.clone(), mssp::commands::sandbox::seed_from(&v))
        .await
        .expect("sandbox starts");
    let secret = sb.client_secret.clone();
    assert_eq!(mode(&state), 0o600, "state file");
    assert_eq!(mode(&ca_dir), 0o700, "--ca-dir");
    assert_eq!(
        mode(&dir.path().join("state")),
        0o700,
        "created state folder"
    );
    assert!(
        std::fs::read_to_string(&state).unwrap().contains(&secret),
        "the state file is the one holding the secret"
    );
    sb.shutdown().await.unwrap();
    assert_eq!(mode(&state), 0o600, "state file after the last flush");

    // A state file left world-readable by an older version is private once rewritten, and a
    // leftover temporary file from a crashed run does not lend it its mode.
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(state_dir.join("state.tmp"), "stale").unwrap();
    std::fs::set_permissions(
        state_dir.join("state.tmp"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let sb = Sandbox::start(opts, mssp::commands::sandbox::seed_from(&v))
        .await
        .expect("sandbox restarts");
    assert_eq!(sb.client_secret, secret, "same world");
    assert_eq!(mode(&state), 0o600, "rewritten state file");
    sb.shutdown().await.unwrap();
}
