//! `mssp alerts` and `mssp siem config` end to end: the manifests in examples/ are applied to an
//! in-process sandbox by the real binary, then the binary fetches and notifies as the SIEM app
//! (its own client id and secret), against a real SMTP server and webhook receiver on loopback.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mssp::sandbox::{Sandbox, SandboxOptions};
use reqwest::Method;
use serde_json::{Value, json};

const PROVIDER: &str = "9b1f2a4e-5c6d-4e7f-8a9b-0c1d2e3f4a5b";
const CONTOSO: &str = "7d3c9f10-2b4a-4c5d-9e6f-a1b2c3d4e5f6";
const NORTHWIND: &str = "3e8a1c2d-4f5b-4a6c-8d7e-9f0a1b2c3d4e";
const SIEM_UNIQUE_NAME: &str = "fabrikam-soc-siem-connector";
const GRAPH_APP: &str = "00000003-0000-0000-c000-000000000000";

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub struct World {
    pub sb: Sandbox,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    pub siem_secret: Option<String>,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Replaces `from` by `to` in a manifest of the copy (which must contain it).
pub fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let p = dir.join(file);
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "{file} has no {from:?}");
    std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
}

impl World {
    /// A copy of examples/ (edited by `f`) seeded into a fresh sandbox.
    pub async fn new(f: impl FnOnce(&Path)) -> World {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("m");
        copy_dir(
            &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples"),
            &m,
        );
        f(&m);
        let (v, diags, _) = mssp::engine::load_and_validate(std::slice::from_ref(&m));
        let v = v.unwrap_or_else(|| panic!("fixture manifests invalid:\n{}", diags.render()));
        let opts = SandboxOptions {
            ca_dir: dir.path().join("ca"),
            retry_after_secs: 0,
            // One behaviour at a time: the lag has tests of its own.
            replication_delay: std::time::Duration::ZERO,
            ..Default::default()
        };
        let sb = Sandbox::start(opts, mssp::commands::sandbox::seed_from(&v))
            .await
            .unwrap();
        let ca = reqwest::Certificate::from_pem(sb.ca_pem.as_bytes()).unwrap();
        let http = reqwest::Client::builder()
            .tls_certs_only([ca])
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        World {
            sb,
            http,
            dir,
            siem_secret: None,
        }
    }

    pub fn manifests(&self) -> PathBuf {
        self.dir.path().join("m")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The binary with the tool's credentials and every endpoint pointing at the sandbox.
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("mssp"));
        for k in [
            "MSSP_SIEM_CLIENT_ID",
            "MSSP_SIEM_CLIENT_SECRET",
            "MSSP_SIEM_CERTIFICATE_PATH",
            "MSSP_SIEM_FEDERATED_TOKEN_FILE",
            "AZURE_CLIENT_CERTIFICATE_PATH",
            "AZURE_FEDERATED_TOKEN_FILE",
        ] {
            cmd.env_remove(k);
        }
        cmd.args(args)
            .env("AZURE_CLIENT_ID", &self.sb.client_id)
            .env("AZURE_CLIENT_SECRET", &self.sb.client_secret)
            .env("AZURE_AUTHORITY_HOST", &self.sb.url)
            .env("MSSP_GRAPH_URL", &self.sb.url)
            .env("MSSP_DEFENDER_URL", &self.sb.url)
            .env("MSSP_CA_BUNDLE", &self.sb.ca_cert_path)
            .env("MSSP_LOG", "warn")
            .current_dir(self.dir.path());
        if let Some(s) = &self.siem_secret {
            cmd.env("MSSP_SIEM_CLIENT_SECRET", s);
        }
        cmd
    }

    pub async fn run(&self, args: &[&str]) -> Run {
        let mut cmd = self.command(args);
        // The sandbox runs on this runtime; the blocking child must not stall it.
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .unwrap();
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        self.assert_no_secret(&run.stdout);
        self.assert_no_secret(&run.stderr);
        run
    }

    pub async fn apply(&self) {
        let m = self.manifests();
        let r = self
            .run(&["apply", "--auto-approve", m.to_str().unwrap()])
            .await;
        assert_eq!(r.code, 0, "apply failed:\n{}", r.stderr);
    }

    /// The tool's token in `tenant` (to arrange things the way an admin would).
    pub async fn token(&self, tenant: &str) -> String {
        let r: Value = self
            .http
            .post(format!("{}/{tenant}/oauth2/v2.0/token", self.sb.url))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.sb.client_id.as_str()),
                ("client_secret", self.sb.client_secret.as_str()),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["access_token"].as_str().unwrap().to_string()
    }

    pub async fn graph(
        &self,
        tenant: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let token = self.token(tenant).await;
        let mut req = self
            .http
            .request(method, format!("{}/v1.0/{path}", self.sb.url))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Gives the SIEM app a client secret (as the MSSP admin would) and hands it to the SIEM runs.
    pub async fn add_siem_secret(&mut self) {
        let (s, body) = self
            .graph(
                PROVIDER,
                Method::POST,
                &format!("applications(uniqueName='{SIEM_UNIQUE_NAME}')/addPassword"),
                Some(json!({"passwordCredential": {"displayName": "siem test"}})),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        self.siem_secret = Some(body["secretText"].as_str().unwrap().to_string());
    }

    pub async fn add_alert(&self, tenant: &str, alert: Value) -> Value {
        let r = self
            .http
            .post(format!("{}/_sandbox/tenants/{tenant}/alerts", self.sb.url))
            .json(&alert)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        r.json().await.unwrap()
    }

    pub async fn faults(&self, body: Value) {
        let r = self
            .http
            .put(format!("{}/_sandbox/faults", self.sb.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    }

    /// Neither the SIEM's secret nor the tool's ever leaves its sink.
    pub fn assert_no_secret(&self, text: &str) {
        for s in self.siem_secret.iter().chain([&self.sb.client_secret]) {
            assert!(!text.contains(s.as_str()), "a secret leaked into:\n{text}");
        }
    }

    /// …nor any file the runs wrote (NDJSON, state files, outputs).
    pub fn assert_no_secret_in_files(&self) {
        fn walk(p: &Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(p).unwrap().flatten() {
                if e.file_type().unwrap().is_dir() {
                    walk(&e.path(), out);
                } else {
                    out.push(e.path());
                }
            }
        }
        let mut files = Vec::new();
        walk(self.dir.path(), &mut files);
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            self.assert_no_secret(&String::from_utf8_lossy(&bytes));
        }
    }
}

/// The NDJSON lines of a file.
pub fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad NDJSON line {l:?}: {e}")))
        .collect()
}

/// (customer, id, lastUpdateDateTime) of each line; panics on a duplicate.
fn unique(lines: &[Value]) -> BTreeSet<(String, String)> {
    let mut seen = BTreeSet::new();
    for l in lines {
        let key = (
            l["customer"].as_str().unwrap().to_string(),
            format!("{}|{}", l["id"], l["lastUpdateDateTime"]),
        );
        assert!(seen.insert(key.clone()), "duplicate line {key:?}");
    }
    seen
}

fn count_by_customer(lines: &[Value]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for l in lines {
        *m.entry(l["customer"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    m
}

async fn applied() -> World {
    let mut w = World::new(|_| {}).await;
    w.apply().await;
    w.add_siem_secret().await;
    w
}

fn fetch_args<'a>(w: &'a World, out: &'a str, state: &'a str, extra: &[&'a str]) -> Vec<String> {
    let mut a: Vec<String> = ["alerts", "fetch", "--out", out, "--state", state]
        .iter()
        .map(|s| s.to_string())
        .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a.push(w.manifests().to_string_lossy().into_owned());
    a
}

async fn fetch(w: &World, extra: &[&str]) -> Run {
    let args = fetch_args(w, "out.ndjson", "state.json", extra);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    w.run(&refs).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_fetch_returns_each_alert_once_then_only_new_ones() {
    let w = applied().await;
    let r = fetch(&w, &[]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first = lines(&w.path("out.ndjson"));
    // Five seeded alerts in each SIEM-enabled customer; tailspin and wingtip have SIEM off.
    assert_eq!(
        count_by_customer(&first),
        BTreeMap::from([("contoso".into(), 5), ("northwind-gov".into(), 5)])
    );
    unique(&first);
    for l in &first {
        let tid = if l["customer"] == "contoso" {
            CONTOSO
        } else {
            NORTHWIND
        };
        assert_eq!(l["tenantId"], tid);
        assert_eq!(l["source"], "graph/alerts_v2");
        assert!(l["title"].as_str().unwrap().starts_with("Sandbox alert"));
    }

    let r = fetch(&w, &[]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        lines(&w.path("out.ndjson")).len(),
        10,
        "a second run adds nothing"
    );

    // A new alert, and an update of an old one (a new version is delivered again).
    let new = w
        .add_alert(
            CONTOSO,
            json!({"title": "Ransomware behaviour", "severity": "high"}),
        )
        .await;
    let old_id = first
        .iter()
        .find(|l| l["customer"] == "northwind-gov")
        .unwrap()["id"]
        .clone();
    w.add_alert(NORTHWIND, json!({"id": old_id, "status": "resolved"}))
        .await;
    let r = fetch(&w, &[]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let all = lines(&w.path("out.ndjson"));
    let added = &all[10..];
    assert_eq!(added.len(), 2, "{added:#?}");
    assert!(
        added
            .iter()
            .any(|l| l["id"] == new["id"] && l["customer"] == "contoso")
    );
    assert!(
        added
            .iter()
            .any(|l| l["id"] == old_id && l["status"] == "resolved")
    );
    unique(&all);

    // Incidents and the Defender API are opt-in streams with their own positions.
    let r = fetch(
        &w,
        &["--incidents", "--defender-api", "--customer", "contoso"],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let more = &lines(&w.path("out.ndjson"))[12..];
    let sources: BTreeSet<&str> = more.iter().map(|l| l["source"].as_str().unwrap()).collect();
    assert_eq!(
        sources,
        BTreeSet::from(["graph/incidents", "defender/alerts"])
    );
    assert!(more.iter().all(|l| l["customer"] == "contoso"));
    let mde = more
        .iter()
        .find(|l| l["source"] == "defender/alerts")
        .unwrap();
    assert!(
        mde["severity"]
            .as_str()
            .unwrap()
            .starts_with(char::is_uppercase),
        "{mde}"
    );
    w.assert_no_secret_in_files();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_fetch_resumes_after_a_failed_page_and_rides_out_throttling() {
    let w = applied().await;
    // The second page of contoso's alerts fails with an error no client retries (400): the run
    // stops there.
    w.faults(
        json!({"one_shot": {"method": "GET", "path_prefix": "/v1.0/security/alerts_v2",
        "tenant": CONTOSO, "status": 400, "count": 1, "after": 1}}),
    )
    .await;
    let r = fetch(&w, &["--top", "2"]).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("contoso"), "{}", r.stderr);
    let partial = lines(&w.path("out.ndjson"));
    assert_eq!(
        count_by_customer(&partial),
        BTreeMap::from([("contoso".into(), 2), ("northwind-gov".into(), 5)])
    );
    // Restarted: the rest, nothing twice.
    let r = fetch(&w, &["--top", "2"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let all = lines(&w.path("out.ndjson"));
    assert_eq!(unique(&all).len(), 10);

    // Heavy throttling (429 + Retry-After: 0) on every call: still complete. The random rolls
    // follow every request the sandbox served before (the examples' apply included), so one
    // 429 is made certain on the first alerts page.
    w.faults(json!({"rate_429": 0.4})).await;
    w.faults(
        json!({"one_shot": {"method": "GET", "path_prefix": "/v1.0/security/alerts_v2",
        "status": 429, "count": 1}}),
    )
    .await;
    w.add_alert(CONTOSO, json!({"severity": "low"})).await;
    let r = fetch(&w, &["--top", "1"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let log: Vec<Value> = w
        .http
        .get(format!("{}/_sandbox/requests", w.sb.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        log.iter().any(|e| e["status"] == 429),
        "no 429 was injected"
    );
    let all = lines(&w.path("out.ndjson"));
    assert_eq!(unique(&all).len(), 11);
    w.assert_no_secret_in_files();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_fetch_killed_mid_run_loses_and_duplicates_nothing() {
    let w = applied().await;
    // Slow pages of one alert each, so the kill lands mid-run.
    w.faults(json!({"latency_ms": 60})).await;
    let out = w.path("out.ndjson");
    let args = fetch_args(&w, "out.ndjson", "state.json", &["--top", "1"]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = w.command(&refs);
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let started = Instant::now();
    while lines(&out).len() < 3 {
        assert!(started.elapsed() < Duration::from_secs(30), "no output");
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before the kill"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL: no cleanup, no flush, no state save.
    child.wait().unwrap();
    let at_kill = lines(&out).len();
    assert!(at_kill < 10, "the run was not interrupted");

    w.faults(json!({"latency_ms": 0})).await;
    let r = fetch(&w, &["--top", "1"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let all = lines(&out);
    assert_eq!(unique(&all).len(), 10, "{} lines at the kill", at_kill);
    assert_eq!(all.len(), 10);
    w.assert_no_secret_in_files();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_grant_or_consent_is_named() {
    let w = applied().await;
    // Revoke SecurityAlert.Read.All from the SIEM app in contoso, as a customer admin might.
    let (_, app) = w
        .graph(
            PROVIDER,
            Method::GET,
            &format!("applications(uniqueName='{SIEM_UNIQUE_NAME}')"),
            None,
        )
        .await;
    let app_id = app["appId"].as_str().unwrap();
    let (_, sp) = w
        .graph(
            CONTOSO,
            Method::GET,
            &format!("servicePrincipals(appId='{app_id}')"),
            None,
        )
        .await;
    let (_, graph_sp) = w
        .graph(
            CONTOSO,
            Method::GET,
            &format!("servicePrincipals(appId='{GRAPH_APP}')"),
            None,
        )
        .await;
    let role_id = graph_sp["appRoles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["value"] == "SecurityAlert.Read.All")
        .unwrap()["id"]
        .clone();
    let (_, grants) = w
        .graph(
            CONTOSO,
            Method::GET,
            &format!(
                "servicePrincipals/{}/appRoleAssignments",
                sp["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    let grant = grants["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["appRoleId"] == role_id)
        .unwrap();
    let (s, _) = w
        .graph(
            CONTOSO,
            Method::DELETE,
            &format!(
                "servicePrincipals/{}/appRoleAssignedTo/{}",
                grant["resourceId"].as_str().unwrap(),
                grant["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(s, 204);
    // And remove the SIEM app's service principal from northwind-gov altogether.
    let (_, nsp) = w
        .graph(
            NORTHWIND,
            Method::GET,
            &format!("servicePrincipals(appId='{app_id}')"),
            None,
        )
        .await;
    let (s, _) = w
        .graph(
            NORTHWIND,
            Method::DELETE,
            &format!("servicePrincipals/{}", nsp["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, 204);

    let r = fetch(&w, &[]).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "SecurityAlert.Read.All not granted in tenant {CONTOSO}"
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!(
            "the SIEM app has no service principal in tenant {NORTHWIND}"
        )),
        "{}",
        r.stderr
    );
    assert!(lines(&w.path("out.ndjson")).is_empty());

    // apply puts the grants back; --verify-siem then proves the SIEM app reads alerts again.
    let m = w.manifests();
    let r = w
        .run(&[
            "apply",
            "--auto-approve",
            "--verify-siem",
            m.to_str().unwrap(),
        ])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("verify-siem: contoso: the SIEM app signs in"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("verify-siem: northwind-gov: the SIEM app signs in"),
        "{}",
        r.stderr
    );
    let r = fetch(&w, &[]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(lines(&w.path("out.ndjson")).len(), 10);
    w.assert_no_secret_in_files();
}

#[test]
fn sandbox_mode_signs_in_with_a_temporary_secret_and_removes_it() {
    // No sandbox of ours here: the binary starts its own, with state in a directory.
    let dir = tempfile::tempdir().unwrap();
    let sbdir = dir.path().join("sb");
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let run = |args: &[&str]| {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("mssp"));
        cmd.args(args)
            .arg("--sandbox")
            .arg("--sandbox-dir")
            .arg(&sbdir)
            .arg(&examples)
            .env_remove("MSSP_SIEM_CLIENT_SECRET")
            .current_dir(dir.path());
        cmd.output().unwrap()
    };
    let apply = run(&["apply", "--auto-approve", "--verify-siem"]);
    let fetch = run(&["alerts", "fetch", "--out", "-", "--state", "s.json"]);
    let stderr = String::from_utf8_lossy(&apply.stderr);
    assert!(apply.status.success(), "{stderr}");
    assert!(
        stderr.contains("verify-siem: contoso: the SIEM app signs in"),
        "{stderr}"
    );
    assert!(
        fetch.status.success(),
        "{}",
        String::from_utf8_lossy(&fetch.stderr)
    );
    let stdout = String::from_utf8_lossy(&fetch.stdout);
    assert_eq!(stdout.lines().count(), 10, "{stdout}");
    // The temporary secrets were removed again: the app has no password credentials.
    let state = std::fs::read_to_string(dir.path().join("sb/state.json")).unwrap();
    assert!(!state.contains("mssp alerts (sandbox, temporary)"));
}

/// The loopback SMTP server and webhook receiver (tests/python/mail_sink.py); killed on drop.
struct MailSink {
    child: std::process::Child,
    dir: tempfile::TempDir,
    smtp: u16,
    http: u16,
}

impl Drop for MailSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl MailSink {
    fn start() -> Option<MailSink> {
        use std::io::BufRead as _;
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let python = root.join(".venv-test/bin/python");
        if !python.exists() {
            crate::skips::skipped(&format!(
                "{} missing (run scripts/test-deps.sh); skipping the SMTP notification test",
                python.display()
            ));
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(python)
            .arg(root.join("tests/python/mail_sink.py"))
            .arg(dir.path())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ports: Value = serde_json::from_str(&line).unwrap();
        Some(MailSink {
            child,
            dir,
            smtp: u16::try_from(ports["smtp"].as_u64().unwrap()).unwrap(),
            http: u16::try_from(ports["http"].as_u64().unwrap()).unwrap(),
        })
    }

    /// Records of `kind` (`mail` / `webhook`) received so far, in arrival order.
    fn received(&self, kind: &str) -> Vec<Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let n = p.file_name().unwrap().to_string_lossy().into_owned();
                n.starts_with(&format!("{kind}-")) && n.ends_with(".json")
            })
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_notify_mails_each_alert_once_per_rule() {
    let Some(sink) = MailSink::start() else {
        return;
    };
    let (smtp, hook) = (sink.smtp, sink.http);
    let mut w = World::new(|m| {
        edit(
            m,
            "provider.yaml",
            "      host: smtp.fabrikam.example\n      port: 587\n",
            &format!("      host: 127.0.0.1\n      port: {smtp}\n      starttls: false\n"),
        );
        edit(m, "provider.yaml", "      username: soc-alerts\n      passwordEnv: MSSP_SMTP_PASSWORD\n", "");
        edit(
            m,
            "provider.yaml",
            "\n        urlEnv: MSSP_WEBHOOK_TEAMS_SOC",
            &format!(" http://127.0.0.1:{hook}/teams"),
        );
        edit(
            m,
            "customers/northwind-gov.yaml",
            "      deviceGroups: [Federal workstations]\n",
            "      deviceGroups: [Federal workstations]\n      includeOrganizationName: false\n      includePortalLink: false\n",
        );
    })
    .await;
    w.apply().await;
    w.add_siem_secret().await;
    // Northwind's rule covers one device group: one alert in it, one elsewhere.
    let device = |group: &str| {
        json!([{"@odata.type": "#microsoft.graph.security.deviceEvidence", "deviceDnsName": "ws1.northwind",
                "rbacGroupName": group, "osPlatform": "Windows11"}])
    };
    let federal = w
        .add_alert(NORTHWIND, json!({"severity": "low", "title": "Federal alert", "evidence": device("Federal workstations")}))
        .await;
    w.add_alert(
        NORTHWIND,
        json!({"severity": "high", "title": "Lab alert", "evidence": device("Lab")}),
    )
    .await;
    let m = w.manifests();
    let notify = |extra: &'static [&'static str]| {
        let mut a = vec!["alerts", "notify", "--state", "notify.json"];
        a.extend_from_slice(extra);
        a.push(m.to_str().unwrap());
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let run = |args: Vec<String>| {
        let w = &w;
        async move {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            w.run(&refs).await
        }
    };

    let r = run(notify(&[])).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mails = sink.received("mail");
    // Contoso's rule (high + medium): seeded alerts 1 (medium) and 2 (high). Northwind: the one
    // alert in its device group.
    assert_eq!(mails.len(), 3, "{mails:#?}");
    let contoso: Vec<&Value> = mails
        .iter()
        .filter(|m| m["subject"].as_str().unwrap().contains("Contoso Ltd"))
        .collect();
    assert_eq!(contoso.len(), 2, "{mails:#?}");
    for m in &contoso {
        let to: BTreeSet<&str> = m["to"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            to,
            BTreeSet::from(["soc@fabrikam.example", "oncall@fabrikam.example"])
        );
        assert_eq!(m["from"], "soc-alerts@fabrikam.example");
        let body = m["body"].as_str().unwrap();
        assert!(body.contains("Organization: Contoso Ltd"), "{body}");
        assert!(
            body.contains(&format!("https://security.microsoft.com/?tid={CONTOSO}")),
            "{body}"
        );
        assert!(
            body.contains("Fabrikam SOC alert notification (rule \"MSSP high and medium\")"),
            "{body}"
        );
    }
    let severities: BTreeSet<String> = contoso
        .iter()
        .map(|m| {
            m["subject"]
                .as_str()
                .unwrap()
                .split(']')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        severities,
        BTreeSet::from(["[HIGH".to_string(), "[MEDIUM".to_string()])
    );
    let gov = mails
        .iter()
        .find(|m| m["to"] == json!(["gov-soc@fabrikam.example"]))
        .unwrap();
    let (subject, body) = (
        gov["subject"].as_str().unwrap(),
        gov["body"].as_str().unwrap(),
    );
    assert!(subject.contains("Federal alert"), "{subject}");
    assert!(body.contains(federal["id"].as_str().unwrap()), "{body}");
    for text in [subject, body] {
        assert!(!text.contains("Northwind Traders Federal"), "{text}");
        assert!(!text.contains("?tid="), "{text}");
    }
    let hooks = sink.received("webhook");
    assert_eq!(hooks.len(), 2, "{hooks:#?}");
    for h in &hooks {
        assert_eq!(h["path"], "/teams");
        assert_eq!(h["body"]["customer"], "contoso");
        assert_eq!(h["body"]["organization"], "Contoso Ltd");
        assert!(h["body"]["text"].as_str().unwrap().contains("?tid="));
    }

    // Nothing new: nothing sent.
    let r = run(notify(&[])).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(sink.received("mail").len(), 3);
    assert_eq!(sink.received("webhook").len(), 2);

    // A new high alert: the dry run shows it and sends nothing; the real run sends it once.
    w.add_alert(
        CONTOSO,
        json!({"severity": "high", "title": "Credential theft"}),
    )
    .await;
    w.add_alert(
        CONTOSO,
        json!({"severity": "low", "title": "Below the rule"}),
    )
    .await;
    let r = run(notify(&["--dry-run"])).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
    assert!(r.stdout.contains("Credential theft"), "{}", r.stdout);
    assert_eq!(sink.received("mail").len(), 3);
    let r = run(notify(&[])).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mails = sink.received("mail");
    assert_eq!(mails.len(), 4);
    assert!(
        mails[3]["subject"]
            .as_str()
            .unwrap()
            .contains("Credential theft")
    );
    let r = run(notify(&[])).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(sink.received("mail").len(), 4);
    w.assert_no_secret_in_files();
}

/// Two overlapping runs on one state (cron jobs, CI retries): the second refuses at once with a
/// message naming the state; the first finishes; the file holds every alert exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_alerts_fetch_on_the_same_state_exits_and_nothing_is_lost_or_repeated() {
    let w = applied().await;
    w.faults(json!({"latency_ms": 60})).await;
    let out = w.path("out.ndjson");
    let args = fetch_args(&w, "out.ndjson", "state.json", &["--top", "1"]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = w.command(&refs);
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut first = cmd.spawn().unwrap();
    let started = Instant::now();
    while lines(&out).is_empty() {
        assert!(started.elapsed() < Duration::from_secs(30), "no output");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(first.try_wait().unwrap().is_none(), "finished too early");
    let second = fetch(&w, &["--top", "1"]).await;
    assert_ne!(second.code, 0, "the second run was not refused");
    assert!(
        second.stderr.contains("state.json") && second.stderr.contains("in use by another"),
        "{}",
        second.stderr
    );
    let status = tokio::task::spawn_blocking(move || first.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    w.faults(json!({"latency_ms": 0})).await;
    let all = lines(&out);
    assert_eq!(unique(&all).len(), 10);
    assert_eq!(all.len(), 10);
    // The lock went with the first run: the next run proceeds and adds nothing.
    let again = fetch(&w, &[]).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(lines(&out).len(), 10);
}
