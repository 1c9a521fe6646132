//! Terraform-like polish (issue 17): `mssp show`, Ctrl-C during apply, colour only on a
//! terminal, and exported manifests that start with the editor's schema line.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use crate::support::{World, copy_dir};

fn mssp_in(dir: &Path, args: &[&str]) -> Output {
    assert_cmd::Command::cargo_bin("mssp")
        .expect("binary")
        .current_dir(dir)
        .args(args)
        .env_remove("AZURE_CLIENT_ID")
        .env_remove("MSSP_LOG")
        .env_remove("NO_COLOR")
        .output()
        .expect("runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn examples() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(Path::new("examples"), &dir.path().join("examples"));
    dir
}

/// `mssp show plan.json` renders a saved plan in every format without reading a tenant: the
/// same text `plan` printed, the same JSON that was saved.
#[test]
fn show_renders_a_saved_plan_in_any_format() {
    let dir = examples();
    let planned = mssp_in(
        dir.path(),
        &["plan", "--sandbox", "--out", "plan.json", "examples/"],
    );
    assert_eq!(planned.status.code(), Some(0), "{}", text(&planned.stderr));
    // The sandbox is gone: show must not need it (nor credentials).
    std::fs::remove_dir_all(dir.path().join(".mssp-sandbox")).expect("rm");

    let human = mssp_in(dir.path(), &["show", "plan.json"]);
    assert_eq!(human.status.code(), Some(0), "{}", text(&human.stderr));
    assert_eq!(text(&human.stdout), text(&planned.stdout));

    let json = mssp_in(dir.path(), &["show", "--format", "json", "plan.json"]);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("plan.json")).expect("read"))
            .expect("json");
    let shown: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(shown, saved);

    let md = mssp_in(dir.path(), &["show", "--format", "markdown", "plan.json"]);
    assert!(
        text(&md.stdout).contains("| contoso |"),
        "{}",
        text(&md.stdout)
    );

    let missing = mssp_in(dir.path(), &["show", "nosuch.json"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).starts_with("error: nosuch.json"));
}

/// Log lines on a stderr that is a pipe or a file carry no ANSI escape codes.
#[test]
fn no_colour_codes_on_a_piped_stderr() {
    let dir = examples();
    let out = mssp_in(dir.path(), &["--log", "info", "validate", "examples/"]);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("mssp starting"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

/// `export` writes a manifest that starts with the `$schema` line the committed manifests
/// have, pointing from where it is written at the repository's `schemas/` folder.
#[test]
fn exported_manifests_start_with_the_schema_modeline() {
    let dir = examples();
    std::fs::create_dir(dir.path().join(".git")).expect("a repository root");
    let out = mssp_in(
        dir.path(),
        &["apply", "--sandbox", "--auto-approve", "examples/"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The manifest is lost; the tenant is still set up.
    std::fs::remove_file(dir.path().join("examples/customers/contoso.yaml")).expect("rm");
    let export = |extra: &[&str]| {
        let mut args = vec![
            "export",
            "--sandbox",
            "--customer-tenant",
            "7d3c9f10-2b4a-4c5d-9e6f-a1b2c3d4e5f6",
            "--domain",
            "contoso.onmicrosoft.com",
            "--display-name",
            "Contoso Ltd",
            "--name",
            "contoso",
        ];
        args.extend_from_slice(extra);
        args.push("examples/");
        mssp_in(dir.path(), &args)
    };
    let out = export(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).lines().next(),
        Some("# yaml-language-server: $schema=schemas/customer.schema.json")
    );
    let out = export(&["--out", "examples/customers/contoso.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let written =
        std::fs::read_to_string(dir.path().join("examples/customers/contoso.yaml")).expect("read");
    assert!(
        written.starts_with("# yaml-language-server: $schema=../../schemas/customer.schema.json\n"),
        "{written}"
    );
    // It is still a manifest that validates.
    let out = mssp_in(dir.path(), &["validate", "examples/"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// The first Ctrl-C during an apply lets the writes in flight finish and journals them,
/// starts no new one, and exits 130. Every journaled write is in the tenants, and what was not
/// started is still planned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_finishes_the_writes_in_flight_and_exits_130() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(Path::new("examples"), dir.path());
    let w = World::in_dir(dir, |o| o.latency = Duration::from_millis(150)).await;
    let env = [
        ("AZURE_AUTHORITY_HOST", w.sb.url.clone()),
        ("MSSP_GRAPH_URL", w.sb.url.clone()),
        ("MSSP_DEFENDER_URL", w.sb.url.clone()),
        ("AZURE_CLIENT_ID", w.sb.client_id.clone()),
        ("AZURE_CLIENT_SECRET", w.sb.client_secret.clone()),
        ("MSSP_CA_BUNDLE", w.sb.ca_cert_path.display().to_string()),
    ];
    let journal = w.path().join("journal.jsonl");
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("mssp"))
        .args([
            "apply",
            "--auto-approve",
            "--parallelism",
            "1",
            "--journal",
            "journal.jsonl",
            ".",
        ])
        .envs(env)
        .env_remove("AZURE_CLIENT_CERTIFICATE_PATH")
        .env_remove("AZURE_FEDERATED_TOKEN_FILE")
        .current_dir(w.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawns");
    // Interrupt once a few writes are journaled.
    let start = Instant::now();
    loop {
        let lines = std::fs::read_to_string(&journal)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if lines >= 3 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no write journaled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("waits");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("not started (interrupted)"), "{stderr}");
    assert!(
        !stderr.contains("verified:"),
        "no verification after Ctrl-C: {stderr}"
    );

    // Every create journaled as done is in the tenants (a new plan does not create it again),
    // and what was not started is still planned.
    let journaled: Vec<(String, String)> = std::fs::read_to_string(&journal)
        .expect("journal")
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|j| j["method"] == "POST" && j["status"].as_u64().is_some_and(|s| s < 300))
        .map(|j| {
            (
                j["tenant"].as_str().unwrap_or_default().to_string(),
                j["address"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(!journaled.is_empty());
    let plan = w.plan().await;
    assert!(
        plan.summary.create > 0,
        "the interrupted apply left work to do"
    );
    for t in &plan.tenants {
        for a in t.actions.iter().filter(|a| a.op == mssp::plan::Op::Create) {
            assert!(
                !journaled.contains(&(t.tenant_id.to_string(), a.address.clone())),
                "{} {} was journaled as created, yet is planned again",
                t.name,
                a.address
            );
        }
    }
}
