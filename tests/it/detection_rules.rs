//! Custom detection rules: the sandbox's `security/rules/detectionRules` (status codes, the
//! validation errors, the permission) and the provider's detection library (KQL files beside
//! the manifest, selection by tier or label, dated overrides, `file:line:col` diagnostics).

use std::path::Path;

use assert_cmd::Command;
use reqwest::Method;
use serde_json::{Value, json};

use super::support::{ALPHA, World, copy_dir, load};

const RULES: &str = "security/rules/detectionRules";

/// A world whose tool app holds `CustomDetection.ReadWrite.All`, with no replication lag:
/// these tests chain single calls the way a person clicks.
async fn world_with_permission() -> World {
    World::with_seed(
        "world",
        |o| o.replication_delay = std::time::Duration::ZERO,
        |seed| {
            let role = "CustomDetection.ReadWrite.All".to_string();
            seed.provisioning_roles.push(role.clone());
            for roles in seed.tenant_roles.values_mut() {
                roles.push(role.clone());
            }
        },
    )
    .await
}

fn rule(id: &str, query: &str) -> Value {
    json!({
        "id": id,
        "displayName": format!("Rule {id}"),
        "status": "enabled",
        "queryCondition": {"queryText": query},
        "schedule": {"frequency": "PT1H"},
        "detectionAction": {
            "alertTemplate": {"title": "t", "description": "d", "severity": "medium",
                "tactics": [{"tactic": "Execution", "techniques": [{"technique": "T1059.001"}]}]},
            "automatedActions": {"isolateDevices": [{"deviceIdColumn": "DeviceId", "isolationType": "full"}]}
        }
    })
}

const GOOD_QUERY: &str = "DeviceProcessEvents\n| where FileName =~ \"powershell.exe\"\n| project Timestamp, ReportId, DeviceId";

fn status_of(r: Result<Value, mssp::graph::GraphError>) -> (u16, String) {
    match r {
        Ok(_) => (200, String::new()),
        Err(e) => match e.kind {
            mssp::graph::GraphErrorKind::Status {
                status, message, ..
            } => (status, message),
            other => panic!("not a status error: {other:?}"),
        },
    }
}

#[tokio::test]
async fn sandbox_serves_the_rule_lifecycle_on_v1_and_beta() {
    let w = world_with_permission().await;
    let created = w
        .graph(ALPHA, Method::POST, RULES, Some(rule("r1", GOOD_QUERY)))
        .await
        .expect("create");
    assert_eq!(created["id"], "r1");
    assert!(created["createdDateTime"].is_string(), "{created}");
    // Beta serves the same collection.
    let read = w
        .graph(ALPHA, Method::GET, &format!("beta/{RULES}/r1"), None)
        .await
        .expect("get on beta");
    assert_eq!(read["queryCondition"]["queryText"], GOOD_QUERY);
    // Update answers the rule (200), with the new status.
    let patched = w
        .graph(
            ALPHA,
            Method::PATCH,
            &format!("{RULES}/r1"),
            Some(json!({"status": "disabled"})),
        )
        .await
        .expect("patch");
    assert_eq!(patched["status"], "disabled");
    assert_eq!(patched["displayName"], "Rule r1");
    // Lists page like Graph (test worlds use pages of 4).
    for i in 2..=5 {
        w.graph(
            ALPHA,
            Method::POST,
            RULES,
            Some(rule(&format!("r{i}"), GOOD_QUERY)),
        )
        .await
        .expect("create more");
    }
    let page = w
        .graph(ALPHA, Method::GET, RULES, None)
        .await
        .expect("list");
    assert_eq!(page["value"].as_array().map(Vec::len), Some(4), "{page}");
    assert!(page["@odata.nextLink"].is_string(), "{page}");
    // Delete answers 204; the rule is gone.
    w.graph(ALPHA, Method::DELETE, &format!("{RULES}/r1"), None)
        .await
        .expect("delete");
    let (status, _) = status_of(
        w.graph(ALPHA, Method::GET, &format!("{RULES}/r1"), None)
            .await,
    );
    assert_eq!(status, 404);
}

#[tokio::test]
async fn sandbox_refuses_what_microsoft_refuses() {
    let w = world_with_permission().await;
    let post = |body: Value| w.graph(ALPHA, Method::POST, RULES, Some(body));
    let mut bad_frequency = rule("f", GOOD_QUERY);
    bad_frequency["schedule"]["frequency"] = json!("PT2H");
    let (s, m) = status_of(post(bad_frequency).await);
    assert_eq!(s, 400);
    assert!(m.contains("'PT2H'"), "{m}");

    let (s, m) = status_of(post(rule("c", "DeviceEvents\n| summarize count() by DeviceId")).await);
    assert_eq!(s, 400);
    assert!(m.contains("ReportId") && m.contains("line 2"), "{m}");

    let (s, m) = status_of(
        post(rule(
            "a",
            "EmailEvents | project Timestamp, ReportId, RecipientEmailAddress",
        ))
        .await,
    );
    assert_eq!(s, 400, "isolating a device needs a DeviceId column");
    assert!(m.contains("'DeviceId'"), "{m}");

    let mut unknown_action = rule("u", GOOD_QUERY);
    unknown_action["detectionAction"]["automatedActions"] =
        json!({"wipeDevices": [{"deviceIdColumn": "DeviceId"}]});
    let (s, m) = status_of(post(unknown_action).await);
    assert_eq!(s, 400);
    assert!(m.contains("'wipeDevices'"), "{m}");

    // Properties Microsoft retired on 2026-10-01 are gone.
    let mut retired = rule("old", GOOD_QUERY);
    retired["isEnabled"] = json!(true);
    let (s, m) = status_of(post(retired).await);
    assert_eq!(s, 400);
    assert!(m.contains("'isEnabled'"), "{m}");

    let mut auto = rule("auto", GOOD_QUERY);
    auto["status"] = json!("autoDisabled");
    assert_eq!(status_of(post(auto).await).0, 400);

    let mut no_id = rule("x", GOOD_QUERY);
    no_id.as_object_mut().map(|o| o.remove("id"));
    assert_eq!(status_of(post(no_id).await).0, 400);

    post(rule("dup", GOOD_QUERY)).await.expect("first create");
    assert_eq!(status_of(post(rule("dup", GOOD_QUERY)).await).0, 409);

    // An update is checked against the whole rule: dropping the column the action uses fails.
    let (s, _) = status_of(
        w.graph(
            ALPHA,
            Method::PATCH,
            &format!("{RULES}/dup"),
            Some(json!({"queryCondition": {"queryText": "DeviceEvents | project Timestamp, ReportId, AccountSid"}})),
        )
        .await,
    );
    assert_eq!(s, 400);
}

#[tokio::test]
async fn sandbox_requires_the_custom_detection_permission() {
    // The manifests alone do not ask for CustomDetection.*: the tool's app does not hold it.
    let w = World::new("world", |o| {
        o.replication_delay = std::time::Duration::ZERO;
    })
    .await;
    let (s, _) = status_of(w.graph(ALPHA, Method::GET, RULES, None).await);
    assert_eq!(s, 403);
    let (s, _) = status_of(
        w.graph(ALPHA, Method::POST, RULES, Some(rule("p", GOOD_QUERY)))
            .await,
    );
    assert_eq!(s, 403);
}

// ---- the detection library in manifests ----

const LIBRARY: &str = r#"  detections:
    - name: encoded-powershell
      displayName: Encoded PowerShell from Office
      queryFile: detections/encoded-powershell.kql
      frequency: PT1H
      alert:
        title: Encoded PowerShell launched by Office
        description: An Office application started PowerShell with an encoded command.
        severity: high
        mitre:
          Execution: [T1059.001]
      actions:
        - action: isolateDevices
          deviceIdColumn: DeviceId
      select:
        tiers: [tier2]
    - name: lsass-access
      displayName: LSASS memory read
      queryFile: detections/lsass.kql
      frequency: PT3H
      alert:
        title: LSASS memory read
        description: A process read LSASS memory.
        severity: medium
    - name: finance-mailbox-rule
      displayName: Forwarding rule on a finance mailbox
      queryFile: detections/forwarding.kql
      frequency: P1D
      alert:
        title: Forwarding rule created
        description: A mailbox rule forwards mail outside the organisation.
        severity: low
      select:
        labels: { sector: finance }
"#;

const KQL_POWERSHELL: &str = "// Office spawning encoded PowerShell\nDeviceProcessEvents\n| where InitiatingProcessFileName in~ (\"winword.exe\", \"excel.exe\")\n| where ProcessCommandLine has \"-enc\"\n| project Timestamp, ReportId, DeviceId, DeviceName, ProcessCommandLine\n";
const KQL_LSASS: &str =
    "DeviceEvents\n| where ActionType == \"OpenProcessApiCall\" and FileName =~ \"lsass.exe\"\n";
const KQL_FORWARDING: &str = "CloudAppEvents\n| where ActionType == \"New-InboxRule\"\n| project Timestamp, ReportId, AccountObjectId\n";

/// The `world` fixture plus the library, its KQL files and a label on `beta`.
pub(super) fn library_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(Path::new("tests/fixtures/world"), dir.path());
    let provider = dir.path().join("provider.yaml");
    let text = std::fs::read_to_string(&provider).expect("provider");
    std::fs::write(&provider, format!("{}\n{LIBRARY}", text.trim_end())).expect("write");
    let customers = dir.path().join("customers.yaml");
    let text = std::fs::read_to_string(&customers).expect("customers");
    std::fs::write(
        &customers,
        text.replace(
            "  name: beta\n",
            "  name: beta\n  labels: { sector: finance }\n",
        ),
    )
    .expect("write");
    let kql = dir.path().join("detections");
    std::fs::create_dir_all(&kql).expect("mkdir");
    for (f, t) in [
        ("encoded-powershell.kql", KQL_POWERSHELL),
        ("lsass.kql", KQL_LSASS),
        ("forwarding.kql", KQL_FORWARDING),
    ] {
        std::fs::write(kql.join(f), t).expect("write kql");
    }
    dir
}

fn validate_dir(dir: &Path) -> (i32, String) {
    let out = Command::cargo_bin("mssp")
        .expect("binary")
        .current_dir(dir)
        .args(["validate", "."])
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn the_library_loads_with_its_queries_and_selects_by_tier_and_label() {
    let dir = library_dir();
    let v = load(dir.path());
    assert_eq!(v.detection_queries.len(), 3);
    assert_eq!(&*v.detection_queries["encoded-powershell"], KQL_POWERSHELL);
    let names = |c: &str| -> Vec<String> {
        let c = v.customer(c).expect("customer");
        mssp::validate::detections::selected(&v.provider.doc, &c.doc)
            .iter()
            .map(|r| r.name.value.clone())
            .collect()
    };
    // alpha has tier2; beta has only tier1 but carries `sector: finance`.
    assert_eq!(names("alpha"), ["encoded-powershell", "lsass-access"]);
    assert_eq!(names("beta"), ["lsass-access", "finance-mailbox-rule"]);
}

/// Rewrites one file of the library directory.
/// A rule alpha no longer gets is only listed as not pruned by a plain plan, and deleted by a
/// pruning one (returned).
pub(super) async fn encoded_powershell_is_only_prunable(w: &World) -> mssp::plan::Plan {
    let p = w.plan().await;
    assert!(
        super::support::changes(&p, "alpha").is_empty(),
        "{:?}",
        super::support::changes(&p, "alpha")
    );
    let alpha = p.tenants.iter().find(|t| t.name == "alpha").expect("alpha");
    assert_eq!(alpha.not_pruned, ["detection-rule/encoded-powershell"]);
    let p = w.plan_with(true, &[]).await;
    assert_eq!(
        super::support::changes(&p, "alpha"),
        ["delete detection-rule/encoded-powershell"]
    );
    p
}

pub(super) fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let p = dir.join(file);
    let text = std::fs::read_to_string(&p).expect("read");
    assert!(text.contains(from), "{file} lacks {from:?}");
    std::fs::write(&p, text.replacen(from, to, 1)).expect("write");
}

#[test]
fn library_mistakes_are_reported_where_they_are_written() {
    // A query that drops ReportId: reported in the .kql file, at its `project`.
    let dir = library_dir();
    edit(
        dir.path(),
        "detections/encoded-powershell.kql",
        "Timestamp, ReportId, DeviceId",
        "Timestamp, DeviceId",
    );
    let (code, out) = validate_dir(dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "detections/encoded-powershell.kql:5:3: error: the query's `project` drops `ReportId`"
        ),
        "{out}"
    );

    // A frequency Microsoft does not offer, a missing file, an empty file, an action on a
    // column the query does not return: each at its line and column in provider.yaml.
    let dir = library_dir();
    edit(
        dir.path(),
        "provider.yaml",
        "frequency: PT3H",
        "frequency: PT2H",
    );
    edit(
        dir.path(),
        "provider.yaml",
        "queryFile: detections/forwarding.kql",
        "queryFile: detections/nope.kql",
    );
    std::fs::write(
        dir.path().join("detections/lsass.kql"),
        "// nothing yet\n\n",
    )
    .expect("write");
    edit(
        dir.path(),
        "detections/encoded-powershell.kql",
        "ReportId, DeviceId, DeviceName",
        "ReportId, DeviceName",
    );
    let (code, out) = validate_dir(dir.path());
    assert_eq!(code, 1, "{out}");
    let text = std::fs::read_to_string(dir.path().join("provider.yaml")).expect("read");
    let at = |needle: &str| -> String {
        let (line, col) = text
            .lines()
            .enumerate()
            .find_map(|(i, l)| l.find(needle).map(|c| (i + 1, c + 1)))
            .expect("needle in provider.yaml");
        format!("provider.yaml:{line}:{col}: error:")
    };
    for (needle, message) in [
        ("PT2H", "`PT2H` is not a frequency Microsoft accepts"),
        (
            "detections/nope.kql",
            "query file `detections/nope.kql` not found",
        ),
        (
            "detections/lsass.kql",
            "query file `detections/lsass.kql` holds no query",
        ),
        (
            "isolateDevices",
            "`isolateDevices` acts on column `DeviceId`, which the query of `encoded-powershell` does not return",
        ),
    ] {
        let expected = format!("{} {message}", at(needle));
        assert!(out.contains(&expected), "missing {expected:?} in:\n{out}");
    }
}

#[test]
fn a_query_file_outside_the_manifests_is_refused() {
    let dir = library_dir();
    let outside = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(
        outside.path(),
        "secret | project Timestamp, ReportId, DeviceId",
    )
    .expect("write");
    let rel = format!(
        "{}{}",
        "../".repeat(dir.path().components().count()),
        outside.path().display().to_string().trim_start_matches('/')
    );
    edit(dir.path(), "provider.yaml", "detections/lsass.kql", &rel);
    let (code, out) = validate_dir(dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is outside the manifests' folder"), "{out}");
}

#[test]
fn overrides_are_dated_exceptions_on_rules_the_customer_gets() {
    let dir = library_dir();
    let exceptions = "  exceptions:\n    - resource: detection-rule/lsass-access\n      field: status\n      value: disabled\n      reason: noisy on the build farm\n      owner: ops@testsoc.example\n      expires: 2026-12-31\n    - resource: detection-rule/encoded-powershell\n      field: severity\n      value: medium\n      reason: test\n      owner: ops@testsoc.example\n      expires: 2026-12-31\n    - resource: group/tier1\n      value: disabled\n      reason: test\n      owner: ops@testsoc.example\n      expires: 2026-12-31\n";
    edit(
        dir.path(),
        "customers.yaml",
        "    trustMfa: false\n",
        &format!("    trustMfa: false\n{exceptions}"),
    );
    let (code, out) = validate_dir(dir.path());
    assert_eq!(code, 1, "{out}");
    // beta does not get encoded-powershell (tier2 only); a value on a group is no override.
    assert!(
        out.contains(
            "exception names detection rule `encoded-powershell`, which this customer does not get"
        ),
        "{out}"
    );
    assert!(
        out.contains("only exceptions on detection rules carry a `value`"),
        "{out}"
    );
    assert!(
        out.contains("error: 2 errors and 0 warnings"),
        "the valid override is accepted:\n{out}"
    );

    // Valid ones only: the override is in force until it expires.
    let dir = library_dir();
    edit(
        dir.path(),
        "customers.yaml",
        "    trustMfa: false\n",
        &format!(
            "    trustMfa: false\n{}",
            &exceptions[..exceptions
                .find("    - resource: detection-rule/encoded")
                .expect("cut")]
        ),
    );
    let v = load(dir.path());
    let beta = &v.customer("beta").expect("beta").doc;
    let day = |d| jiff::civil::date(2026, 12, d);
    use mssp::validate::detections::override_value;
    assert_eq!(
        override_value(beta, "lsass-access", "status", day(31)),
        Some("disabled")
    );
    assert_eq!(
        override_value(
            beta,
            "lsass-access",
            "status",
            jiff::civil::date(2027, 1, 1)
        ),
        None
    );
}

#[test]
fn sovereign_customers_cannot_get_rules() {
    let dir = library_dir();
    edit(
        dir.path(),
        "customers.yaml",
        "  displayName: Beta Ltd\n",
        "  displayName: Beta Ltd\n  cloud: gccHigh\n",
    );
    let (code, out) = validate_dir(dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("where Microsoft offers no custom detection rules API"),
        "{out}"
    );
}

#[tokio::test]
async fn each_customer_gets_its_rules_with_overrides_and_the_service_accepts_them() {
    let dir = library_dir();
    edit(
        dir.path(),
        "customers.yaml",
        "    trustMfa: false\n",
        "    trustMfa: false\n  exceptions:\n    - resource: detection-rule/lsass-access\n      field: status\n      value: disabled\n      reason: noisy on the build farm\n      owner: ops@testsoc.example\n      expires: 2026-12-31\n",
    );
    let v = load(dir.path());
    let today = jiff::civil::date(2026, 11, 23);
    let rules = |c: &str| {
        mssp::detections::desired(
            &v.provider.doc,
            &v.customer(c).expect("customer").doc,
            today,
        )
    };
    let alpha = rules("alpha");
    let beta = rules("beta");
    let names = |r: &[mssp::detections::DesiredRule]| -> Vec<String> {
        r.iter().map(|x| x.display_name.clone()).collect()
    };
    assert_eq!(
        names(&alpha),
        [
            "[tsoc] Encoded PowerShell from Office",
            "[tsoc] LSASS memory read"
        ]
    );
    assert_eq!(
        names(&beta),
        [
            "[tsoc] LSASS memory read",
            "[tsoc] Forwarding rule on a finance mailbox"
        ]
    );
    // The override disables the rule in beta only, until it expires.
    assert_eq!(alpha[1].status, "enabled");
    assert_eq!(beta[0].status, "disabled");
    let later = mssp::detections::desired(
        &v.provider.doc,
        &v.customer("beta").expect("beta").doc,
        jiff::civil::date(2027, 1, 1),
    );
    assert_eq!(later[0].status, "enabled");
    // The query sent is the file's text, read at validation.
    assert_eq!(alpha[0].query, KQL_POWERSHELL);
    assert_eq!(
        alpha[0].body["detectionAction"]["automatedActions"]["isolateDevices"][0]["deviceIdColumn"],
        "DeviceId"
    );

    // What the tool would send is what the service accepts.
    let w = world_with_permission().await;
    for r in &alpha {
        let created = w
            .graph(ALPHA, Method::POST, RULES, Some(r.body.clone()))
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", r.name));
        assert_eq!(created["displayName"], r.display_name.as_str());
    }
}

/// The issue's acceptance run: a library of 3 rules, two customers selecting different subsets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_is_planned_applied_and_converges_per_customer() {
    use super::support::BETA;
    let changes = |p: &mssp::plan::Plan, t: &str| -> Vec<String> {
        super::support::changes(p, t)
            .into_iter()
            .filter(|c| c.contains("detection-rule/"))
            .collect()
    };
    let w = World::in_dir(library_dir(), |_| {}).await;
    // A rule made by hand in alpha's portal, before the tool arrives.
    let hand = json!({
        "id": "hand-made-1", "displayName": "Hand-made: RDP from the internet", "status": "enabled",
        "queryCondition": {"queryText": "DeviceLogonEvents | where LogonType == \"RemoteInteractive\""},
        "schedule": {"frequency": "P1D"},
    });
    w.graph(ALPHA, Method::POST, RULES, Some(hand))
        .await
        .expect("hand-made rule");

    let p = w.plan().await;
    assert_eq!(
        changes(&p, "alpha"),
        [
            "create detection-rule/encoded-powershell",
            "create detection-rule/lsass-access"
        ]
    );
    assert_eq!(
        changes(&p, "beta"),
        [
            "create detection-rule/finance-mailbox-rule",
            "create detection-rule/lsass-access"
        ]
    );
    w.apply().await;
    let names = |rules: Vec<Value>| -> Vec<String> {
        let mut v: Vec<String> = rules
            .iter()
            .map(|r| r["displayName"].as_str().unwrap_or_default().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names(w.objects(ALPHA, "detectionRules").await),
        [
            "Hand-made: RDP from the internet",
            "[tsoc] Encoded PowerShell from Office",
            "[tsoc] LSASS memory read"
        ]
    );
    assert_eq!(
        names(w.objects(BETA, "detectionRules").await),
        [
            "[tsoc] Forwarding rule on a finance mailbox",
            "[tsoc] LSASS memory read"
        ]
    );
    let p = w.plan().await;
    assert!(p.tenants.iter().all(|t| !t.has_changes()), "not converged");

    // Editing one .kql file: one update per customer that has the rule, shown line by line.
    edit(
        &w.path(),
        "detections/lsass.kql",
        "| where ActionType",
        "| where Timestamp > ago(1h)\n| where ActionType",
    );
    let p = w.plan().await;
    assert_eq!(changes(&p, "alpha"), ["update detection-rule/lsass-access"]);
    assert_eq!(changes(&p, "beta"), ["update detection-rule/lsass-access"]);
    let human = mssp::render::human::render(&p, mssp::render::human::Style { color: false });
    assert!(
        human.contains("        + | where Timestamp > ago(1h)\n"),
        "no line diff:\n{human}"
    );
    assert!(human.contains("          DeviceEvents\n"), "{human}");
    w.apply().await;

    // An exception disables one rule in one customer.
    edit(
        &w.path(),
        "customers.yaml",
        "    trustMfa: false\n",
        "    trustMfa: false\n  exceptions:\n    - resource: detection-rule/finance-mailbox-rule\n      field: status\n      value: disabled\n      reason: the customer's DLP covers it this quarter\n      owner: ops@testsoc.example\n      expires: 2099-12-31\n",
    );
    let p = w.plan().await;
    assert!(changes(&p, "alpha").is_empty());
    assert_eq!(
        changes(&p, "beta"),
        ["update detection-rule/finance-mailbox-rule"]
    );
    w.apply().await;
    let beta_rules = w.objects(BETA, "detectionRules").await;
    let finance = beta_rules
        .iter()
        .find(|r| r["id"] == "tsoc-finance-mailbox-rule")
        .expect("rule kept, disabled");
    assert_eq!(finance["status"], "disabled");
    let p = w.plan().await;
    assert!(
        p.tenants.iter().all(|t| !t.has_changes()),
        "second plan not empty"
    );

    // A rule alpha no longer gets is deleted only with --allow-delete.
    edit(
        &w.path(),
        "provider.yaml",
        "        tiers: [tier2]\n",
        "        tiers: [approvers]\n",
    );
    encoded_powershell_is_only_prunable(&w).await;
    w.apply_with(
        mssp::apply::ApplyOptions {
            allow_delete: true,
            replication_deadline: std::time::Duration::from_secs(30),
            ..mssp::apply::ApplyOptions::default()
        },
        true,
    )
    .await;
    // The hand-made rule was never touched.
    let alpha_rules = w.objects(ALPHA, "detectionRules").await;
    assert_eq!(
        names(alpha_rules.clone()),
        [
            "Hand-made: RDP from the internet",
            "[tsoc] LSASS memory read"
        ]
    );
    let hand = alpha_rules
        .iter()
        .find(|r| r["id"] == "hand-made-1")
        .expect("hand-made");
    assert_eq!(hand["status"], "enabled");
    assert_eq!(hand["createdDateTime"], hand["lastModifiedDateTime"]);
}

/// The example library (examples/detections/) is valid against the examples and selects by
/// tier and label as its comments say.
#[test]
fn the_example_library_validates_and_expands() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(Path::new("examples"), dir.path());
    let library = std::fs::read_to_string(dir.path().join("detections/library.yaml.example"))
        .expect("example library");
    let provider = dir.path().join("provider.yaml");
    let text = std::fs::read_to_string(&provider).expect("provider");
    std::fs::write(&provider, format!("{}\n{library}", text.trim_end())).expect("write");
    let v = load(dir.path());
    assert_eq!(v.detection_queries.len(), 3);
    let rules = |c: &str| -> Vec<String> {
        let c = v.customer(c).expect("customer");
        mssp::expand::expand_customer(&v.provider, &c.doc)
            .resources
            .iter()
            .filter(|r| r.address.kind == mssp::model::Kind::DetectionRule)
            .map(|r| r.address.to_string())
            .collect()
    };
    assert_eq!(
        rules("contoso"),
        [
            "detection-rule/office-encoded-powershell",
            "detection-rule/lsass-memory-read",
            "detection-rule/external-forwarding-rule"
        ]
    );
    // wingtip has tier2 (a rule selects by tier *or* by label).
    assert_eq!(
        rules("wingtip"),
        [
            "detection-rule/office-encoded-powershell",
            "detection-rule/lsass-memory-read"
        ]
    );
    assert!(rules("tailspin").is_empty());
    assert!(rules("northwind-gov").is_empty());
}

/// `mssp report` lists, per customer, the tool's rules with Graph's status — not hand-made ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_lists_each_customers_rules_with_their_status() {
    let dir = library_dir();
    edit(
        dir.path(),
        "customers.yaml",
        "    trustMfa: false\n",
        "    trustMfa: false\n  exceptions:\n    - resource: detection-rule/lsass-access\n      field: status\n      value: disabled\n      reason: noisy on the build farm\n      owner: ops@testsoc.example\n      expires: 2099-12-31\n",
    );
    let w = World::in_dir(dir, |_| {}).await;
    let hand = json!({
        "id": "hand-made-1", "displayName": "Hand-made: RDP from the internet", "status": "enabled",
        "queryCondition": {"queryText": "DeviceLogonEvents | where LogonType == \"RemoteInteractive\""},
        "schedule": {"frequency": "P1D"},
    });
    w.graph(ALPHA, Method::POST, RULES, Some(hand))
        .await
        .expect("hand-made rule");
    w.apply().await;
    let r = super::report::make(&w, &[]).await;
    let json = serde_json::to_value(&r).expect("json");
    let rules = |c: &str| -> Vec<(String, String, String)> {
        let c = json["customers"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == c))
            .unwrap_or_else(|| panic!("customer {c} in {json}"));
        c["detectionRules"]
            .as_array()
            .unwrap_or_else(|| panic!("no detectionRules in {c}"))
            .iter()
            .map(|d| {
                let s = |k: &str| d[k].as_str().unwrap_or_default().to_string();
                (s("displayName"), s("id"), s("status"))
            })
            .collect()
    };
    let t = |n: &str, id: &str, s: &str| (n.to_string(), id.to_string(), s.to_string());
    assert_eq!(
        rules("alpha"),
        [
            t(
                "[tsoc] Encoded PowerShell from Office",
                "tsoc-encoded-powershell",
                "enabled"
            ),
            t("[tsoc] LSASS memory read", "tsoc-lsass-access", "enabled"),
        ]
    );
    assert_eq!(
        rules("beta"),
        [
            t(
                "[tsoc] Forwarding rule on a finance mailbox",
                "tsoc-finance-mailbox-rule",
                "enabled"
            ),
            t("[tsoc] LSASS memory read", "tsoc-lsass-access", "disabled"),
        ]
    );
    let md = mssp::report::markdown(&r).expect("markdown");
    assert!(
        md.contains("| \\[tsoc\\] LSASS memory read | `tsoc-lsass-access` | **disabled** |"),
        "{md}"
    );
    let html = mssp::report::html(&r).expect("html");
    assert!(
        html.contains("Custom detection rules"),
        "no rules in the page"
    );
}
