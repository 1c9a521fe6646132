//! Shared set-up for plan and apply tests: a copy of a manifest directory, an in-process
//! sandbox seeded from it, and a session talking to that sandbox like the CLI does.

use std::path::{Path, PathBuf};

use mssp::apply::{self, ApplyOptions, TenantOutcome};
use mssp::plan::{self, Endpoints, Plan, PlanOptions};
use mssp::sandbox::{Sandbox, SandboxOptions};
use mssp::session::Session;
use mssp::validate::Validated;
use serde_json::Value;

pub struct World {
    pub sb: Sandbox,
    pub session: Session,
    pub dir: tempfile::TempDir,
}

/// Copies `src` (a directory of manifests) into a temporary directory.
pub fn copy_dir(src: &Path, dst: &Path) {
    for entry in std::fs::read_dir(src).expect("read fixture dir") {
        let entry = entry.expect("entry");
        let to = dst.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&to).expect("mkdir");
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).expect("copy");
        }
    }
}

pub fn load(dir: &Path) -> Validated {
    let (v, diags, _) = mssp::engine::load_and_validate(&[dir.to_path_buf()]);
    v.unwrap_or_else(|| panic!("fixture invalid:\n{}", diags.render()))
}

impl World {
    /// A world from a fixture directory under tests/fixtures.
    pub async fn new(fixture: &str, tweak: impl FnOnce(&mut SandboxOptions)) -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_dir(&Path::new("tests/fixtures").join(fixture), dir.path());
        Self::in_dir(dir, tweak).await
    }

    /// A world whose sandbox seed is adjusted (e.g. a permission withheld).
    pub async fn with_seed(
        fixture: &str,
        tweak: impl FnOnce(&mut SandboxOptions),
        seed: impl FnOnce(&mut mssp::sandbox::Seed),
    ) -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_dir(&Path::new("tests/fixtures").join(fixture), dir.path());
        Self::start(dir, tweak, seed).await
    }

    pub async fn in_dir(dir: tempfile::TempDir, tweak: impl FnOnce(&mut SandboxOptions)) -> World {
        Self::start(dir, tweak, |_| {}).await
    }

    /// A world of the manifests in `dir` with an adjusted sandbox and seed.
    pub async fn start(
        dir: tempfile::TempDir,
        tweak: impl FnOnce(&mut SandboxOptions),
        adjust: impl FnOnce(&mut mssp::sandbox::Seed),
    ) -> World {
        let v = load(dir.path());
        // Strict like the sandbox's defaults (lag, small pages, least privilege per tenant),
        // with a shorter lag so the suite stays quick.
        let mut opts = SandboxOptions {
            ca_dir: dir.path().join(".sandbox"),
            retry_after_secs: 0,
            replication_delay: std::time::Duration::from_millis(TEST_REPLICATION_DELAY_MS),
            page_size: 4,
            ..Default::default()
        };
        tweak(&mut opts);
        std::fs::create_dir_all(&opts.ca_dir).expect("ca dir");
        let mut seed = mssp::commands::sandbox::seed_from(&v);
        adjust(&mut seed);
        let sb = Sandbox::start(opts, seed).await.expect("sandbox starts");
        let session = Session::with_secret(
            Endpoints {
                login: Some(sb.url.clone()),
                graph: Some(sb.url.clone()),
                defender: Some(sb.url.clone()),
            },
            &sb.client_id,
            &sb.client_secret,
            Some(sb.ca_pem.as_bytes()),
        )
        .expect("session");
        World { sb, session, dir }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn manifests(&self) -> Validated {
        load(self.dir.path())
    }

    pub async fn plan_with(&self, prune: bool, customers: &[&str]) -> Plan {
        let v = self.manifests();
        let opts = PlanOptions {
            prune,
            parallelism: 8,
            customers: customers.iter().map(|s| s.to_string()).collect(),
            today: jiff::civil::date(2026, 11, 23),
            manifest_paths: vec![self.path().display().to_string()],
            recent: Some(std::sync::Arc::clone(&self.session.recent)),
            visibility_wait: plan::VISIBILITY_WAIT,
        };
        plan::plan(
            &v,
            self.session.graph.clone(),
            &self.session.endpoints,
            &opts,
            &indicatif::ProgressBar::hidden(),
        )
        .await
    }

    pub async fn plan(&self) -> Plan {
        self.plan_with(false, &[]).await
    }

    /// Plans and applies everything (like `mssp apply --auto-approve`). Under replication
    /// delay a plan made right after an apply can see objects appear between its read and
    /// the apply's re-read (a stale plan); like a user, plan again.
    pub async fn apply_with(&self, mut opts: ApplyOptions, prune: bool) -> Vec<TenantOutcome> {
        let v = self.manifests();
        if opts.recent.is_none() {
            opts.recent = Some(std::sync::Arc::clone(&self.session.recent));
        }
        let mut tries = 0;
        loop {
            tries += 1;
            let p = self.plan_with(prune, &[]).await;
            let (states, stale) =
                match mssp::engine::check_fresh(&v, &self.session, &p, opts.parallelism).await {
                    Ok(states) => (states, vec![]),
                    Err(s) => (Default::default(), s.changes),
                };
            if !stale.is_empty() && tries < 5 {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
            assert!(
                stale.is_empty(),
                "plan still stale after {tries} tries: {stale:?}"
            );
            // MSSP_DEBUG_JOURNAL=FILE keeps a journal of every write, for diagnosing tests.
            let journal = std::env::var_os("MSSP_DEBUG_JOURNAL").and_then(|p| {
                mssp::apply::journal::Journal::open(std::path::Path::new(&p), "test").ok()
            });
            return apply::apply(
                &v,
                &self.session,
                &p,
                states,
                &opts,
                journal.as_ref(),
                &indicatif::ProgressBar::hidden(),
            )
            .await;
        }
    }

    pub async fn apply(&self) -> Vec<TenantOutcome> {
        let out = self
            .apply_with(
                ApplyOptions {
                    replication_deadline: std::time::Duration::from_secs(30),
                    ..ApplyOptions::default()
                },
                false,
            )
            .await;
        for o in &out {
            assert!(
                o.failed.is_empty() && o.skipped.is_empty(),
                "{}: failed {:?} skipped {:?}",
                o.name,
                o.failed.iter().map(ToString::to_string).collect::<Vec<_>>(),
                o.skipped
            );
        }
        out
    }

    /// A raw Graph call as the tool's app, in a tenant (for out-of-band changes).
    pub async fn graph(
        &self,
        tenant: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, mssp::graph::GraphError> {
        let tg = self.session.graph.tenant(
            tenant,
            self.session.endpoints.profile(mssp::cloud::Cloud::Public),
        );
        let version = if path.starts_with("beta/") {
            mssp::graph::Version::Beta
        } else {
            mssp::graph::Version::V1
        };
        let path = path.trim_start_matches("beta/");
        tg.send(
            mssp::graph::Service::Graph(version),
            method,
            path,
            body.as_ref(),
            &[],
        )
        .await
        .map(|a| a.body.unwrap_or(Value::Null))
    }

    /// The sandbox's control endpoints.
    pub async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let http = mssp::graph::http_client(Some(self.sb.ca_pem.as_bytes())).expect("client");
        let mut req = http.request(method, format!("{}/_sandbox/{path}", self.sb.url));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("control call");
        assert!(
            resp.status().is_success(),
            "control {path}: {}",
            resp.status()
        );
        resp.json().await.unwrap_or(Value::Null)
    }

    /// Objects of one collection in one tenant, from the sandbox's state dump.
    pub async fn objects(&self, tenant: &str, collection: &str) -> Vec<Value> {
        let st = self.control(reqwest::Method::GET, "state", None).await;
        st.pointer(&format!("/tenants/{tenant}/collections/{collection}"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|e| e.get("v").cloned().unwrap_or(Value::Null))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The lag of every test world unless a test sets its own.
pub const TEST_REPLICATION_DELAY_MS: u64 = 150;

pub const ALPHA: &str = "0a000000-0000-4000-8000-0000000000a1";
pub const BETA: &str = "0a000000-0000-4000-8000-0000000000b2";
pub const PROVIDER: &str = "0a000000-0000-4000-8000-000000000001";

/// Actions other than no-ops (and manual items), as `op address` strings, sorted.
pub fn changes(p: &Plan, tenant: &str) -> Vec<String> {
    let mut v: Vec<String> = p
        .tenants
        .iter()
        .filter(|t| t.name == tenant)
        .flat_map(|t| t.actions.iter())
        .filter(|a| a.op.is_change())
        .map(|a| format!("{} {}", a.op.verb(), a.address))
        .collect();
    v.sort();
    v
}
