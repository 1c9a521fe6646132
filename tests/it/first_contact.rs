//! First contact with real tenants: the sandbox as strict as Microsoft documents (least
//! privilege per tenant, replication lag, small pages) and the tool surviving it.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::support::{World, copy_dir};

/// `mssp permissions DIR` parsed: tenant id → the permissions listed for it.
fn listed_permissions(dir: &Path) -> BTreeMap<uuid::Uuid, Vec<String>> {
    let out = assert_cmd::Command::cargo_bin("mssp")
        .expect("binary")
        .args(["permissions", &dir.display().to_string()])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut map = BTreeMap::new();
    let mut current: Option<uuid::Uuid> = None;
    for line in text.lines() {
        if !line.starts_with(' ') {
            // `name (role, tenant id, cloud)`
            current = line
                .split(", ")
                .find_map(|part| part.parse::<uuid::Uuid>().ok());
            if let Some(id) = current {
                map.insert(id, Vec::new());
            }
        } else if let (Some(id), Some(p)) = (
            current,
            line.trim()
                .strip_prefix("Microsoft Graph application permission: "),
        ) {
            map.entry(id).or_insert_with(Vec::new).push(p.to_string());
        }
    }
    map
}

/// The examples, in a temporary directory, with a sandbox that grants the tool's app in each
/// tenant exactly what `mssp permissions` lists there, lists that lag 1 s behind writes and
/// pages of 3 (issue: two of three example customers could not even be planned).
async fn strict_examples(lag_ms: u64) -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(Path::new("examples"), dir.path());
    let listed = listed_permissions(dir.path());
    assert!(listed.len() >= 4, "{listed:?}");
    World::start(
        dir,
        |o| {
            o.replication_delay = std::time::Duration::from_millis(lag_ms);
            o.page_size = 3;
        },
        |seed| seed.tenant_roles = listed,
    )
    .await
}

fn env(w: &World) -> Vec<(&'static str, String)> {
    vec![
        ("AZURE_AUTHORITY_HOST", w.sb.url.clone()),
        ("MSSP_GRAPH_URL", w.sb.url.clone()),
        ("MSSP_DEFENDER_URL", w.sb.url.clone()),
        ("AZURE_CLIENT_ID", w.sb.client_id.clone()),
        ("AZURE_CLIENT_SECRET", w.sb.client_secret.clone()),
        ("MSSP_CA_BUNDLE", w.sb.ca_cert_path.display().to_string()),
        (
            "MSSP_STATE_DIR",
            w.path().join(".state").display().to_string(),
        ),
        ("NO_COLOR", "1".to_string()),
    ]
}

async fn run(w: &World, args: &[&str]) -> std::process::Output {
    let env = env(w);
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        assert_cmd::Command::cargo_bin("mssp")
            .expect("binary")
            .args(args)
            .envs(env)
            .env_remove("AZURE_CLIENT_CERTIFICATE_PATH")
            .env_remove("AZURE_FEDERATED_TOKEN_FILE")
            .output()
            .expect("runs")
    })
    .await
    .expect("join")
}

/// Findings 1 and 2: with exactly the listed permissions, the examples plan and apply, the
/// apply's verification waits for lists to catch up (and says so) instead of failing, and
/// a plan afterwards has nothing left to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listed_permissions_suffice_and_a_lagging_apply_verifies() {
    let w = strict_examples(1000).await;
    let dir = w.path().display().to_string();
    let out = run(&w, &["apply", "--auto-approve", &dir]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("verified:"), "{stderr}");
    assert!(!stderr.contains("BLOCKED"), "{stderr}");
    let plan = w.plan().await;
    for t in &plan.tenants {
        assert!(
            t.blocked_reason.is_none(),
            "{}: {:?}",
            t.name,
            t.blocked_reason
        );
        let left: Vec<String> = t
            .actions
            .iter()
            .filter(|a| a.op.is_change() && a.op != mssp::plan::Op::Manual)
            .map(|a| format!("{} {}", a.op.verb(), a.address))
            .collect();
        assert!(left.is_empty(), "{}: {left:?}", t.name);
    }
}

/// Finding 1, second half: a plan names a missing permission (a read one too) where the
/// tenant is blocked, with the consent link, instead of only a raw 403.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_plan_names_the_missing_permission() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(Path::new("examples"), dir.path());
    let mut listed = listed_permissions(dir.path());
    let contoso: uuid::Uuid = "7d3c9f10-2b4a-4c5d-9e6f-a1b2c3d4e5f6"
        .parse()
        .expect("uuid");
    listed
        .get_mut(&contoso)
        .expect("contoso listed")
        .retain(|p| !p.starts_with("EntitlementManagement."));
    let w = World::start(dir, |_| {}, |seed| seed.tenant_roles = listed).await;
    let out = run(&w, &["plan", &w.path().display().to_string()]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let blocked = stdout
        .lines()
        .find(|l| l.contains("BLOCKED"))
        .unwrap_or_else(|| panic!("no blocked tenant:\n{stdout}"));
    assert!(
        blocked.contains("lacks EntitlementManagement.ReadWrite.All")
            && blocked.contains(&format!("/{contoso}/adminconsent?client_id=")),
        "{blocked}"
    );
}

/// Issue 13, finding 6: a plan made moments after an apply, while lists still lag, sees what
/// the apply created (from the local record of created ids) instead of planning twins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_right_after_an_apply_does_not_plan_twins() {
    // The lists must still lag when the next plan runs. On a busy machine the apply and the
    // blind plan can outlast a short replication delay, so the scenario is set up again with a
    // longer one rather than run without its point (a quiet machine needs the first only).
    let mut setup = None;
    for delay_ms in [4_000, 12_000, 30_000] {
        let w = World::new("world", |o| {
            o.replication_delay = std::time::Duration::from_millis(delay_ms);
        })
        .await;
        let record = w.path().join("recent.jsonl");
        let opts = mssp::apply::ApplyOptions {
            replication_deadline: std::time::Duration::from_millis((delay_ms * 3).max(30_000)),
            recent: Some(std::sync::Arc::new(
                mssp::plan::recent::RecentCreates::open(&record),
            )),
            ..Default::default()
        };
        w.apply_with(opts, false).await;
        // A new process: only the file carries what the apply created. Without it, the lists
        // that still lag would make the plan create twins (checked first, so the test keeps
        // its point).
        let v = w.manifests();
        let blind = mssp::plan::PlanOptions {
            prune: false,
            parallelism: 8,
            customers: vec![],
            today: jiff::civil::date(2026, 11, 23),
            manifest_paths: vec![],
            recent: None,
            visibility_wait: mssp::plan::VISIBILITY_WAIT,
        };
        let hidden = mssp::plan::plan(
            &v,
            w.session.graph.clone(),
            &w.session.endpoints,
            &blind,
            &indicatif::ProgressBar::hidden(),
        )
        .await;
        if hidden
            .tenants
            .iter()
            .any(|t| t.actions.iter().any(|a| a.op == mssp::plan::Op::Create))
        {
            setup = Some((w, record, v));
            break;
        }
    }
    let (w, record, v) =
        setup.expect("lists caught up before the plan each time: the test lost its point");
    let recent = std::sync::Arc::new(mssp::plan::recent::RecentCreates::open(&record));
    let plan_opts = mssp::plan::PlanOptions {
        prune: false,
        parallelism: 8,
        customers: vec![],
        today: jiff::civil::date(2026, 11, 23),
        manifest_paths: vec![],
        recent: Some(std::sync::Arc::clone(&recent)),
        visibility_wait: mssp::plan::VISIBILITY_WAIT,
    };
    let plan = mssp::plan::plan(
        &v,
        w.session.graph.clone(),
        &w.session.endpoints,
        &plan_opts,
        &indicatif::ProgressBar::hidden(),
    )
    .await;
    for t in &plan.tenants {
        assert!(
            t.blocked_reason.is_none(),
            "{}: {:?}",
            t.name,
            t.blocked_reason
        );
        let creates: Vec<&str> = t
            .actions
            .iter()
            .filter(|a| a.op == mssp::plan::Op::Create)
            .map(|a| a.address.as_str())
            .collect();
        assert!(
            creates.is_empty(),
            "{}: would create twins of {creates:?}",
            t.name
        );
    }
    assert!(
        !recent.take_waits().is_empty(),
        "the plan did not have to wait: the test lost its point"
    );
    let st = w.control(reqwest::Method::GET, "state", None).await;
    let groups = st
        .pointer(&format!(
            "/tenants/{}/collections/groups",
            crate::support::ALPHA
        ))
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    assert!(groups > 0);
}

/// A sandbox state seeded before the manifests needed more (here: the MSSP tenant without the
/// apply lease's `Group.ReadWrite.All`) gains exactly the missing grants when it is started
/// again from the manifests, and says so; nothing else changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_sandbox_state_gains_what_the_manifests_now_need() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(Path::new("examples"), dir.path());
    let v = crate::support::load(dir.path());
    let provider: uuid::Uuid = v.provider.doc.spec.tenant_id.value.parse().expect("uuid");
    let opts = || mssp::sandbox::SandboxOptions {
        state_file: Some(dir.path().join("state.json")),
        ca_dir: dir.path().join("ca"),
        ..Default::default()
    };
    let roles = |sb: &mssp::sandbox::Sandbox| {
        let session = mssp::session::Session::with_secret(
            mssp::plan::Endpoints {
                login: Some(sb.url.clone()),
                graph: Some(sb.url.clone()),
                defender: Some(sb.url.clone()),
            },
            &sb.client_id,
            &sb.client_secret,
            Some(sb.ca_pem.as_bytes()),
        )
        .expect("session");
        async move {
            let profile = session.endpoints.profile(mssp::cloud::Cloud::Public);
            let token = session
                .tokens
                .token(
                    &profile.login,
                    &provider.to_string(),
                    &profile.graph_audience,
                )
                .await
                .expect("token");
            mssp::permissions::token_roles(token.secret())
        }
    };
    std::fs::create_dir_all(dir.path().join("ca")).expect("ca dir");
    let mut old = mssp::commands::sandbox::seed_from(&v);
    old.tenant_roles
        .get_mut(&provider)
        .expect("provider seeded")
        .retain(|r| r != "Group.ReadWrite.All");
    let sb = mssp::sandbox::Sandbox::start(opts(), old)
        .await
        .expect("starts");
    let before = roles(&sb).await;
    assert!(!before.contains("Group.ReadWrite.All"), "{before:?}");
    sb.shutdown().await.expect("shutdown");
    let sb = mssp::sandbox::Sandbox::start(opts(), mssp::commands::sandbox::seed_from(&v))
        .await
        .expect("starts again");
    let mut after = roles(&sb).await;
    assert!(after.remove("Group.ReadWrite.All"), "{after:?}");
    assert_eq!(after, before, "only the missing grant was added");
    sb.shutdown().await.expect("shutdown");
}
