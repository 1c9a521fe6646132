//! Runs the jobs of `examples/ci/github-actions.yml` as a script against the sandbox, so the CI
//! example cannot rot: a renamed flag, a moved file or a broken shell line fails here.
//!
//! How the workflow maps onto this machine:
//! - every `run:` step is executed as GitHub does (`bash --noprofile --norc -eo pipefail`), in
//!   a fresh workspace per job holding a copy of `examples/` as `manifests/`;
//! - `mssp`, `mssp-plan` and `mssp-apply` on `PATH` are shims that call the binaries under
//!   test with `--sandbox --sandbox-dir <tmp>` added after the subcommand, so every other
//!   argument is exactly what the workflow passes;
//! - `cargo install` and `gh` are stubs that log their
//!   arguments and answer like GitHub would; `actions/upload-artifact` copies into a local
//!   artifact store that the `gh run download` stub serves, `actions/checkout` is the copy;
//! - `${{ … }}` expressions in `env:` and the `if:` conditions the workflow uses are evaluated
//!   here; an expression this file does not know fails the test, so it is updated with the
//!   workflow.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const WORKFLOW: &str = "examples/ci/github-actions.yml";

struct Ci {
    root: tempfile::TempDir,
    workflow: Value,
}

#[derive(Debug, Default)]
struct JobRun {
    ok: bool,
    /// Per step id: `outcome` and every `GITHUB_OUTPUT` key.
    steps: BTreeMap<String, BTreeMap<String, String>>,
    /// What the job wrote to its log (stdout + stderr of every step).
    log: String,
    env: BTreeMap<String, String>,
    workspace: PathBuf,
}

impl Ci {
    fn new() -> Self {
        let text = std::fs::read_to_string(WORKFLOW).expect("workflow readable");
        let workflow: Value = serde_saphyr::from_str(&text).expect("workflow is YAML");
        let root = tempfile::tempdir().expect("tempdir");
        let ci = Ci { root, workflow };
        for dir in ["bin", "artifacts", "gh", "sandbox"] {
            std::fs::create_dir_all(ci.path(dir)).expect("mkdir");
        }
        ci.write_shims();
        ci
    }

    fn path(&self, p: &str) -> PathBuf {
        self.root.path().join(p)
    }

    fn write_shims(&self) {
        let sandbox = self.path("sandbox");
        let mssp = env!("CARGO_BIN_EXE_mssp");
        let shims = [
            (
                "mssp",
                format!(
                    "case \"$1\" in plan|apply) sub=$1; shift; exec '{mssp}' \"$sub\" --sandbox --sandbox-dir '{}' \"$@\";; esac\nexec '{mssp}' \"$@\"\n",
                    sandbox.display()
                ),
            ),
            (
                "mssp-plan",
                format!(
                    "exec '{}' --sandbox --sandbox-dir '{}' \"$@\"\n",
                    env!("CARGO_BIN_EXE_mssp-plan"),
                    sandbox.display()
                ),
            ),
            (
                "mssp-apply",
                format!(
                    "exec '{}' --sandbox --sandbox-dir '{}' \"$@\"\n",
                    env!("CARGO_BIN_EXE_mssp-apply"),
                    sandbox.display()
                ),
            ),
            (
                "cargo",
                "echo \"cargo $*\" >> \"$STUB_LOG\"\n[ \"$1\" = install ]\n".to_string(),
            ),
            ("gh", GH_STUB.to_string()),
        ];
        for (name, body) in shims {
            let p = self.path("bin").join(name);
            std::fs::write(&p, format!("#!/usr/bin/env bash\nset -e\n{body}")).expect("shim");
            make_executable(&p);
        }
    }

    /// A fresh job workspace: the checkout is the examples as `manifests/`, with the manual
    /// items attested (in a real repository someone did them), so a converged plan is empty.
    /// Tailspin's GDAP opt-in is left out: its approval is a click by the customer's Global
    /// Administrator, which no CI job can make, so a plan with it is never empty.
    fn workspace(&self, name: &str) -> PathBuf {
        let ws = self.path(name);
        copy_dir(Path::new("examples"), &ws.join("manifests"));
        std::fs::remove_dir_all(ws.join("manifests/ci")).expect("ci examples copied");
        let small = ws.join("manifests/customers/small-business.yaml");
        let text = std::fs::read_to_string(&small).expect("small-business.yaml");
        let gdap = "    gdap:\n      tiers: [tier1]\n";
        assert!(text.contains(gdap), "the GDAP example moved; adapt this");
        std::fs::write(&small, text.replacen(gdap, "", 1)).expect("write");
        let attest = |file: &str, items: &[&str]| {
            let p = ws.join("manifests/customers").join(file);
            let mut text = std::fs::read_to_string(&p).expect("customer manifest");
            assert!(
                text.trim_end().ends_with("enabled: true")
                    || text.trim_end().ends_with("enabled: false"),
                "{file} no longer ends inside `spec:`; adapt the attestations added here"
            );
            text.push_str("  attestations:\n");
            for item in items {
                text.push_str(&format!(
                    "    - item: {item}\n      by: soc@fabrikam.example\n      on: 2025-01-15\n"
                ));
            }
            std::fs::write(&p, text).expect("write");
        };
        attest(
            "northwind-gov.yaml",
            &[
                "manual/mde-roles-enabled",
                "manual/mde-role/tier1",
                "manual/notification-rule/federal-soc-all-severities",
            ],
        );
        attest(
            "small-business.yaml",
            &["manual/notification-rule/wingtip-high"],
        );
        ws
    }

    fn stub_log(&self) -> String {
        std::fs::read_to_string(self.path("gh/log")).unwrap_or_default()
    }

    fn clear_stub_log(&self) {
        let _ = std::fs::remove_file(self.path("gh/log"));
    }

    /// Runs one job of the workflow as GitHub would for `event`.
    fn run_job(&self, job: &str, event: &str, ws: &Path) -> JobRun {
        let wf = &self.workflow;
        let j = &wf["jobs"][job];
        assert!(j.is_object(), "the workflow has no job `{job}`");
        let cond = j["if"].as_str().unwrap_or("true");
        assert!(
            job_runs_on(cond, event),
            "job `{job}` would not run on {event}: `{cond}`"
        );
        let mut run = JobRun {
            ok: true,
            workspace: ws.to_path_buf(),
            ..JobRun::default()
        };
        for scope in [&wf["env"], &j["env"]] {
            run.env.extend(expand_env(scope));
        }
        let steps = j["steps"].as_array().expect("steps");
        for (i, step) in steps.iter().enumerate() {
            let id = step["id"]
                .as_str()
                .map_or_else(|| format!("#{i}"), str::to_string);
            let cond = step["if"].as_str().unwrap_or("success()");
            if !eval_if(cond, &run) {
                run.steps
                    .entry(id)
                    .or_default()
                    .insert("outcome".into(), "skipped".into());
                continue;
            }
            let ok = if let Some(action) = step["uses"].as_str() {
                self.run_action(action, &step["with"], ws)
            } else if let Some(script) = step["run"].as_str() {
                let mut env = run.env.clone();
                env.extend(expand_env(&step["env"]));
                let (ok, outputs, log) = self.run_script(script, &env, ws, &mut run.env);
                run.steps.entry(id.clone()).or_default().extend(outputs);
                run.log.push_str(&log);
                ok
            } else {
                panic!("step {id} of {job} has neither `uses` nor `run`");
            };
            run.steps.entry(id).or_default().insert(
                "outcome".into(),
                if ok { "success" } else { "failure" }.into(),
            );
            run.ok &= ok;
        }
        run
    }

    fn run_action(&self, action: &str, with: &Value, ws: &Path) -> bool {
        let (name, _version) = action.split_once('@').expect("pinned action");
        match name {
            "actions/checkout" => true,
            "actions/upload-artifact" => {
                let artifact = with["name"].as_str().expect("artifact name");
                let path = with["path"].as_str().expect("artifact path");
                let src = ws.join(path);
                if !src.exists() {
                    return with["if-no-files-found"].as_str() == Some("ignore");
                }
                let dir = self.path("artifacts").join(artifact);
                std::fs::create_dir_all(&dir).expect("mkdir");
                std::fs::copy(&src, dir.join(path)).expect("upload");
                true
            }
            other => panic!("the test does not emulate the action `{other}`"),
        }
    }

    fn run_script(
        &self,
        script: &str,
        env: &BTreeMap<String, String>,
        ws: &Path,
        job_env: &mut BTreeMap<String, String>,
    ) -> (bool, BTreeMap<String, String>, String) {
        let files = self.path("runner");
        std::fs::create_dir_all(&files).expect("mkdir");
        let output = files.join("output");
        let genv = files.join("env");
        let script_file = files.join("step.sh");
        std::fs::write(&output, "").expect("write");
        std::fs::write(&genv, "").expect("write");
        std::fs::write(&script_file, script).expect("write");
        let path = format!(
            "{}:{}",
            self.path("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script_file)
            .current_dir(ws)
            .env_clear()
            .envs(env)
            .env("PATH", path)
            .env("HOME", self.root.path())
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_ENV", &genv)
            .env("GITHUB_REPOSITORY", "fabrikam/soc-manifests")
            .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
            .env("RUNNER_TEMP", &files)
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-request-token")
            .env(
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                "https://pipelines.actions.example/idtoken?api-version=2.0",
            )
            .env("STUB_LOG", self.path("gh/log"))
            .env("STUB_DIR", self.path("gh"))
            .env("ARTIFACTS", self.path("artifacts"))
            .output()
            .expect("bash runs");
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        job_env.extend(key_values(
            &std::fs::read_to_string(&genv).unwrap_or_default(),
        ));
        let outputs = key_values(&std::fs::read_to_string(&output).unwrap_or_default());
        (out.status.success(), outputs, log)
    }
}

/// `gh` as the workflow uses it: answers from files in `$STUB_DIR`, records what was sent.
const GH_STUB: &str = r#"echo "gh $*" >> "$STUB_LOG"
body_file=""
prev=""
for a in "$@"; do
  case "$a" in body=@*) body_file="${a#body=@}" ;; esac
  [ "$prev" = "--body-file" ] && body_file="$a"
  prev="$a"
done
[ -n "$body_file" ] && cp "$body_file" "$STUB_DIR/last-body.md"
case "$1 $2" in
  "api repos/"*"/comments") cat "$STUB_DIR/existing-comment" 2>/dev/null || true ;;
  "api repos/"*"/pulls") echo "feedc0de" ;;
  "api --method") echo '{}' ;;
  "run list") echo "777" ;;
  "run download")
    name=""; dir="."; prev=""
    for a in "$@"; do
      [ "$prev" = "--name" ] && name="$a"
      [ "$prev" = "--dir" ] && dir="$a"
      prev="$a"
    done
    cp -r "$ARTIFACTS/$name/." "$dir/" ;;
  "label create") ;;
  "issue list") cat "$STUB_DIR/existing-issue" 2>/dev/null || true ;;
  "issue create"|"issue edit"|"issue comment") ;;
  *) echo "gh stub: unexpected call: gh $*" >&2; exit 1 ;;
esac
"#;

fn job_runs_on(cond: &str, event: &str) -> bool {
    cond.split("||").any(|alt| {
        let alt = alt.trim();
        let want = alt
            .strip_prefix("github.event_name == '")
            .and_then(|r| r.strip_suffix('\''))
            .unwrap_or_else(|| panic!("unknown job condition `{alt}`"));
        want == event
    })
}

/// The `if:` forms the workflow uses: `success()`, `always()`, `&&`, and comparisons of
/// `steps.ID.outputs.KEY` / `steps.ID.outcome` with a quoted string.
fn eval_if(cond: &str, run: &JobRun) -> bool {
    let mut always = false;
    let mut result = true;
    for term in cond.split("&&").map(str::trim) {
        match term {
            "always()" => always = true,
            "success()" => result &= run.ok,
            _ => {
                let (lhs, op, rhs) = if let Some((l, r)) = term.split_once("!=") {
                    (l.trim(), "!=", r.trim())
                } else if let Some((l, r)) = term.split_once("==") {
                    (l.trim(), "==", r.trim())
                } else {
                    panic!("unknown condition `{term}`");
                };
                let want = rhs
                    .strip_prefix('\'')
                    .and_then(|r| r.strip_suffix('\''))
                    .unwrap_or_else(|| panic!("unquoted value in `{term}`"));
                let parts: Vec<&str> = lhs.split('.').collect();
                let got = match parts.as_slice() {
                    ["steps", id, "outputs", key] => run
                        .steps
                        .get(*id)
                        .and_then(|s| s.get(*key))
                        .cloned()
                        .unwrap_or_default(),
                    ["steps", id, "outcome"] => run
                        .steps
                        .get(*id)
                        .and_then(|s| s.get("outcome"))
                        .cloned()
                        .unwrap_or_default(),
                    _ => panic!("unknown expression `{lhs}`"),
                };
                result &= if op == "==" { got == want } else { got != want };
            }
        }
    }
    // Without `always()` (or another status function) GitHub adds an implicit `success()`.
    if !always && !cond.contains("success()") {
        result &= run.ok;
    }
    result
}

/// An `env:` mapping with its `${{ … }}` expressions replaced by what GitHub would supply.
fn expand_env(scope: &Value) -> BTreeMap<String, String> {
    let Some(map) = scope.as_object() else {
        return BTreeMap::new();
    };
    map.iter()
        .map(|(k, v)| {
            let raw = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), expand_expr(&raw))
        })
        .collect()
}

fn expand_expr(raw: &str) -> String {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("closed expression") + start;
        let expr = rest[start + 3..end].trim();
        out.push_str(match expr {
            "vars.MSSP_CLIENT_ID" => "11111111-2222-4333-8444-555555555555",
            "vars.MSSP_PLAN_CLIENT_ID || vars.MSSP_CLIENT_ID" => {
                "11111111-2222-4333-8444-666666666666"
            }
            "vars.MSSP_TENANT_ID" => "9b2c4f1e-7a3d-4e5f-8a9b-0c1d2e3f4a5b",
            "github.token" => "ghs_test",
            "github.event.pull_request.number" => "42",
            other => panic!("the test does not know the expression `{other}`"),
        });
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// `KEY=value` lines of `$GITHUB_OUTPUT` / `$GITHUB_ENV`.
fn key_values(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("readable") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

fn make_executable(p: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let mut perm = std::fs::metadata(p).expect("metadata").permissions();
    perm.set_mode(0o755);
    std::fs::set_permissions(p, perm).expect("chmod");
}

/// pull request → comment body and artifact; a second push updates the same comment; nightly
/// drift before the merge opens an issue; push to main applies the reviewed plan; the next
/// nightly drift check is clean.
#[test]
fn github_workflow_runs_against_the_sandbox() {
    let ci = Ci::new();

    // Pull request: plan, comment, artifact.
    let ws = ci.workspace("pr");
    let pr = ci.run_job("plan", "pull_request", &ws);
    assert!(pr.ok, "plan job failed:\n{}\n{}", pr.log, ci.stub_log());
    assert_eq!(pr.steps["plan"]["exitcode"], "2", "{}", pr.log);
    // mssp requests each OIDC token itself (tests/it/ci_identity.rs): no step fetches one
    // into a file that would expire during the run.
    assert_eq!(pr.env["MSSP_AUTH"], "github-oidc");
    assert!(!pr.env.contains_key("AZURE_FEDERATED_TOKEN_FILE"));
    let log = ci.stub_log();
    assert!(
        log.contains("gh api --method POST repos/fabrikam/soc-manifests/issues/42/comments"),
        "{log}"
    );
    assert!(!log.contains("PATCH"), "{log}");
    let body = std::fs::read_to_string(ci.path("gh/last-body.md")).expect("comment body sent");
    assert!(body.starts_with("<!-- mssp-plan -->\n"), "{body}");
    assert!(
        body.contains("| Tenant | Cloud | Status | Changes |"),
        "{body}"
    );
    assert!(body.contains("| contoso | public | complete |"), "{body}");
    assert!(!body.contains("mssp-plan failed"), "{body}");
    assert!(ci.path("artifacts/mssp-plan/plan.json").is_file());

    // A second push to the pull request updates the comment instead of adding one.
    ci.clear_stub_log();
    std::fs::write(ci.path("gh/existing-comment"), "1234\n").expect("write");
    let again = ci.run_job("plan", "pull_request", &ci.workspace("pr2"));
    assert!(again.ok, "{}", again.log);
    let log = ci.stub_log();
    assert!(
        log.contains("gh api --method PATCH repos/fabrikam/soc-manifests/issues/comments/1234"),
        "{log}"
    );
    assert!(!log.contains("POST"), "{log}");

    // Nightly before the merge: the tenants lack everything, so an issue is opened.
    ci.clear_stub_log();
    let drift = ci.run_job("drift", "schedule", &ci.workspace("nightly1"));
    assert!(drift.ok, "{}", drift.log);
    assert_eq!(drift.steps["drift"]["exitcode"], "2");
    let log = ci.stub_log();
    assert!(log.contains("gh issue create"), "{log}");
    let issue = std::fs::read_to_string(ci.path("gh/last-body.md")).expect("issue body");
    assert!(issue.starts_with("<!-- mssp-drift -->\n"), "{issue}");

    // Merge: apply the plan reviewed on the pull request (the artifact of the first run).
    ci.clear_stub_log();
    let apply = ci.run_job("apply", "push", &ci.workspace("main"));
    assert!(apply.ok, "apply job failed:\n{}", apply.log);
    assert!(apply.workspace.join("plan.json").is_file());
    assert!(
        apply
            .log
            .contains("verified: a new plan of the applied tenants has nothing left to apply"),
        "{}",
        apply.log
    );
    assert!(ci.path("artifacts/mssp-journal/journal.jsonl").is_file());
    assert!(
        ci.stub_log()
            .contains("gh run download 777 --name mssp-plan"),
        "{}",
        ci.stub_log()
    );

    // Least privilege: only the apply job, behind the protected environment, uses the
    // provisioning app; plans use the read-only one.
    assert_eq!(
        pr.env["AZURE_CLIENT_ID"],
        "11111111-2222-4333-8444-666666666666"
    );
    assert_eq!(
        apply.env["AZURE_CLIENT_ID"],
        "11111111-2222-4333-8444-555555555555"
    );

    // Next night: nothing drifted, no issue.
    ci.clear_stub_log();
    let clean = ci.run_job("drift", "schedule", &ci.workspace("nightly2"));
    assert!(clean.ok, "{}", clean.log);
    assert_eq!(clean.steps["drift"]["exitcode"], "0", "{}", clean.log);
    assert_eq!(clean.steps["drift-issue"]["outcome"], "skipped");
    assert!(!ci.stub_log().contains("gh issue"), "{}", ci.stub_log());
}

/// Workload identity federation, no stored secret: every job may request OIDC tokens (mssp
/// asks for a fresh one per token exchange, `MSSP_AUTH=github-oidc`), the
/// apply job runs in the `production` environment (the subject its federated credential
/// names), and the workflow reads no `secrets.*`.
#[test]
fn github_workflow_uses_federation_not_secrets() {
    let ci = Ci::new();
    for job in ["plan", "apply", "drift"] {
        let j = &ci.workflow["jobs"][job];
        assert_eq!(j["permissions"]["id-token"], "write", "{job}");
    }
    assert_eq!(ci.workflow["env"]["MSSP_AUTH"], "github-oidc");
    assert_eq!(ci.workflow["jobs"]["apply"]["environment"], "production");
    assert!(ci.workflow["jobs"]["plan"]["environment"].is_null());
    let text = std::fs::read_to_string(WORKFLOW).expect("workflow");
    assert!(
        !text.contains("secrets."),
        "the workflow reads a stored secret"
    );
    assert!(
        !text.contains("AZURE_FEDERATED_TOKEN_FILE"),
        "a token written to a file once expires during long runs"
    );
}

/// The drift job fails when mssp-plan fails (exit 1), instead of reporting "no drift".
#[test]
fn github_drift_job_fails_on_plan_errors() {
    let ci = Ci::new();
    let ws = ci.workspace("broken");
    // An invalid manifest makes mssp-plan exit 1.
    std::fs::write(
        ws.join("manifests/customers/broken.yaml"),
        "apiVersion: mssp.io/v1\nkind: Customer\nmetadata:\n  name: broken\nspec: {}\n",
    )
    .expect("write");
    let run = ci.run_job("drift", "schedule", &ws);
    assert!(!run.ok, "the drift job should fail:\n{}", run.log);
    assert_eq!(run.steps["drift"]["exitcode"], "1");
    assert_eq!(run.steps["drift"]["outcome"], "failure");
    assert!(!ci.stub_log().contains("gh issue"), "{}", ci.stub_log());
}

/// Every `mssp` command line of `examples/ci/azure-pipelines.yml` (plan, apply, drift, in file
/// order) runs against the sandbox with its exact arguments. The Azure tasks and REST calls
/// around them have no local stand-in and are not run.
#[test]
fn azure_pipelines_mssp_commands_run() {
    fn scripts(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("script" | "inlineScript", Value::String(s)) => out.push(s.clone()),
                        _ => scripts(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| scripts(i, out)),
            _ => {}
        }
    }
    let ci = Ci::new();
    let text = std::fs::read_to_string("examples/ci/azure-pipelines.yml").expect("pipeline");
    let pipeline: Value = serde_saphyr::from_str(&text).expect("YAML");
    let mut all = Vec::new();
    scripts(&pipeline, &mut all);
    let lines: Vec<String> = all
        .iter()
        .flat_map(|s| s.lines())
        .map(str::trim)
        .filter(|l| l.starts_with("mssp-plan ") || l.starts_with("mssp-apply "))
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 3, "plan, apply and drift: {lines:?}");
    let ws = ci.workspace("azure");
    let mut env = BTreeMap::new();
    let mut codes = Vec::new();
    for line in &lines {
        let script = format!("set +e\n{line}\necho \"exitcode=$?\" >> \"$GITHUB_OUTPUT\"\n");
        let (_, outputs, log) = ci.run_script(&script, &BTreeMap::new(), &ws, &mut env);
        codes.push((outputs["exitcode"].clone(), log));
    }
    let got: Vec<&str> = codes.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(got, ["2", "0", "0"], "{codes:#?}");
    assert!(
        std::fs::read_to_string(ws.join("plan.md"))
            .expect("plan.md")
            .contains("| Tenant | Cloud | Status | Changes |")
    );
    assert!(ws.join("journal.jsonl").is_file());
}
