//! `mssp plan` against the sandbox: creates on empty tenants, nothing on converged ones,
//! exact field updates, ambiguity, blocked reads, paging and throttling invariance, output
//! formats and secrets.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{ALPHA, BETA, PROVIDER, World, changes};
use mssp::plan::{Op, Plan, TenantStatus};

#[tokio::test]
async fn an_empty_tenant_plans_every_resource_as_a_create() {
    let w = World::new("world", |_| {}).await;
    let p = w.plan().await;
    let v = w.manifests();
    let alpha = mssp::expand::expand_customer(&v.provider, &v.customer("alpha").unwrap().doc);
    let alpha_plan = p.tenants.iter().find(|t| t.name == "alpha").unwrap();
    for r in alpha.resources.iter().filter(|r| !r.spec.is_manual()) {
        let a = alpha_plan
            .actions
            .iter()
            .find(|a| a.address == r.address.to_string())
            .unwrap();
        // The WindowsDefenderATP service principal is Microsoft's and already there.
        let expected = if r.address.to_string() == "service-principal/windows-defender-atp" {
            Op::NoOp
        } else {
            Op::Create
        };
        assert_eq!(a.op, expected, "{}", a.address);
    }
    assert_eq!(p.summary.update + p.summary.delete + p.summary.replace, 0);
    assert!(p.tenants.iter().all(|t| t.status == TenantStatus::Complete));
    // Creates show the declared values.
    let group = alpha_plan
        .actions
        .iter()
        .find(|a| a.address == "group/tier1")
        .unwrap();
    assert!(
        group
            .changes
            .iter()
            .any(|c| c.field == "displayName" && c.after == json!("Test Tier 1"))
    );
}

#[tokio::test]
async fn a_configured_tenant_plans_nothing_and_field_changes_plan_exactly_that_update() {
    let w = World::new("world", |_| {}).await;
    w.apply().await;
    let p = w.plan().await;
    for t in &p.tenants {
        assert_eq!(
            changes(&p, &t.name),
            Vec::<String>::new(),
            "{} not converged",
            t.name
        );
    }
    assert!(!p.has_changes());

    // A manifest change: tier2's expiry, and tier1's group display name.
    let provider = w.path().join("provider.yaml");
    let text = std::fs::read_to_string(&provider).unwrap();
    std::fs::write(
        &provider,
        text.replace("expiry: P90D", "expiry: P60D")
            .replace("displayName: Test Tier 1 }", "displayName: Test Tier One }"),
    )
    .unwrap();
    let p = w.plan().await;
    // The package's name follows the group's (its default), and is renamed in place.
    assert_eq!(
        changes(&p, "alpha"),
        vec![
            "update access-package/tier1",
            "update assignment-policy/tier2",
            "update group/tier1"
        ]
    );
    assert_eq!(
        changes(&p, "beta"),
        vec!["update access-package/tier1", "update group/tier1"]
    );
    let alpha = p.tenants.iter().find(|t| t.name == "alpha").unwrap();
    let policy = alpha
        .actions
        .iter()
        .find(|a| a.address == "assignment-policy/tier2")
        .unwrap();
    assert_eq!(policy.changes.len(), 1);
    assert_eq!(policy.changes[0].field, "expiration");
    assert_eq!(policy.changes[0].before["duration"], json!("P90D"));
    assert_eq!(policy.changes[0].after["duration"], json!("P60D"));
    let group = alpha
        .actions
        .iter()
        .find(|a| a.address == "group/tier1")
        .unwrap();
    // The default description mentions the display name, so it follows too.
    let fields: Vec<&str> = group.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["displayName", "description"]);
    assert_eq!(group.changes[0].before, json!("Test Tier 1"));
    assert_eq!(group.changes[0].after, json!("Test Tier One"));
    // Applying the rename converges.
    w.apply().await;
    let p = w.plan().await;
    assert!(!p.has_changes(), "{:?}", changes(&p, "alpha"));
    std::fs::write(&provider, text).unwrap();
    w.apply().await;

    // An out-of-band change in the tenant: someone edits the catalog and the partner policy.
    let catalog_id = alpha_catalog(&w).await;
    w.graph(
        ALPHA,
        Method::PATCH,
        &format!("identityGovernance/entitlementManagement/catalogs/{catalog_id}"),
        Some(json!({"isExternallyVisible": false})),
    )
    .await
    .unwrap();
    w.graph(
        ALPHA,
        Method::PATCH,
        &format!("policies/crossTenantAccessPolicy/partners/{PROVIDER}"),
        Some(json!({"inboundTrust": {"isMfaAccepted": false}})),
    )
    .await
    .unwrap();
    let p = w.plan().await;
    assert_eq!(
        changes(&p, "alpha"),
        vec!["update catalog/tsoc", "update cross-tenant-partner/testsoc"]
    );
    assert_eq!(changes(&p, "beta"), Vec::<String>::new());
}

async fn alpha_catalog(w: &World) -> String {
    let cats = w
        .graph(
            ALPHA,
            Method::GET,
            "identityGovernance/entitlementManagement/catalogs",
            None,
        )
        .await
        .unwrap();
    cats["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["displayName"] == "MSSP Accesses")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn an_ambiguous_natural_key_blocks_the_tenant_and_lists_the_candidates() {
    let w = World::new("world", |_| {}).await;
    w.apply().await;
    let dup = w
        .graph(
            ALPHA,
            Method::POST,
            "identityGovernance/entitlementManagement/catalogs",
            Some(json!({"displayName": "MSSP Accesses", "description": "impostor"})),
        )
        .await
        .unwrap();
    // Lists show the twin once it has replicated.
    tokio::time::sleep(std::time::Duration::from_millis(
        3 * crate::support::TEST_REPLICATION_DELAY_MS,
    ))
    .await;
    let original = alpha_catalog_ids(&w).await;
    let p = w.plan().await;
    let alpha = p.tenants.iter().find(|t| t.name == "alpha").unwrap();
    assert_eq!(alpha.status, TenantStatus::Blocked);
    assert!(alpha.actions.is_empty());
    let reason = alpha.blocked_reason.clone().unwrap();
    assert!(
        reason.contains("catalog \"MSSP Accesses\" matches 2 objects"),
        "{reason}"
    );
    for id in original {
        assert!(reason.contains(&id), "{reason} lacks {id}");
    }
    assert!(reason.contains(dup["id"].as_str().unwrap()));
    // Other tenants are still planned.
    assert!(
        p.tenants
            .iter()
            .filter(|t| t.name != "alpha")
            .all(|t| t.status == TenantStatus::Complete)
    );
}

async fn alpha_catalog_ids(w: &World) -> Vec<String> {
    let cats = w
        .graph(
            ALPHA,
            Method::GET,
            "identityGovernance/entitlementManagement/catalogs",
            None,
        )
        .await
        .unwrap();
    cats["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_failed_read_blocks_only_that_tenant() {
    let w = World::new("world", |_| {}).await;
    w.apply().await;
    w.control(
        Method::PUT,
        "faults",
        // A lasting outage: every retry fails too. 503 with this sandbox's `Retry-After: 0`
        // exhausts the retries at once instead of backing off for a minute.
        Some(json!({"one_shot": {"path_prefix": "/v1.0/$batch", "tenant": BETA, "status": 503, "count": 1000}})),
    )
    .await;
    let p = w.plan().await;
    let beta = p.tenants.iter().find(|t| t.name == "beta").unwrap();
    assert_eq!(beta.status, TenantStatus::Blocked);
    assert!(beta.actions.is_empty(), "a blocked tenant gets no actions");
    assert!(
        beta.blocked_reason.as_deref().unwrap().contains("503"),
        "{:?}",
        beta.blocked_reason
    );
    assert_eq!(p.summary.blocked, 1);
    for t in p.tenants.iter().filter(|t| t.name != "beta") {
        assert_eq!(t.status, TenantStatus::Complete, "{}", t.name);
        assert_eq!(changes(&p, &t.name), Vec::<String>::new());
    }
    // The summary still names every tenant.
    let text = mssp::render::human::render(&p, mssp::render::human::Style { color: false });
    for name in ["testsoc", "alpha", "beta"] {
        assert!(
            text.contains(&format!("  {name}: ")),
            "{name} missing from summary:\n{text}"
        );
    }
    assert!(text.contains("beta: BLOCKED"));
}

fn comparable(p: &Plan) -> Value {
    let mut v = serde_json::to_value(p).unwrap();
    v["createdAt"] = Value::Null;
    for t in v["tenants"].as_array_mut().unwrap() {
        t["requests"] = Value::Null;
    }
    v
}

#[tokio::test]
async fn paging_and_throttling_do_not_change_the_plan() {
    let calm = World::new("world", |_| {}).await;
    calm.apply().await;
    // Out-of-band drift so the plan is not trivially empty.
    calm.graph(
        ALPHA,
        Method::PATCH,
        &format!("policies/crossTenantAccessPolicy/partners/{PROVIDER}"),
        Some(json!({"inboundTrust": {"isMfaAccepted": false}})),
    )
    .await
    .unwrap();
    let expected = comparable(&calm.plan().await);

    // The same sandbox state behind page size 2 and 30% throttling.
    calm.control(
        Method::PUT,
        "faults",
        Some(json!({"page_size": 2, "rate_429": 0.3, "retry_after_secs": 0})),
    )
    .await;
    let stormy = comparable(&calm.plan().await);
    assert_eq!(expected, stormy);
    let requests: Vec<String> = calm
        .control(Method::GET, "requests", None)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].to_string())
        .collect();
    assert!(
        requests.iter().any(|s| s == "429"),
        "no throttling happened"
    );
}

#[tokio::test]
async fn json_output_follows_the_documented_schema_and_outputs_hold_no_secret() {
    let w = World::new("world", |_| {}).await;
    w.apply().await;
    // The secret created for the SIEM app went to its sink, and only there.
    let secret = std::fs::read_to_string(w.path().join("secrets/siem.secret")).unwrap();
    assert!(secret.len() >= 16);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(w.path().join("secrets/siem.secret"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Beside it, the sink records which credential it holds: its keyId, never the value.
    let record_path = w.path().join("secrets/siem.secret.mssp.json");
    let record = std::fs::read_to_string(&record_path).unwrap();
    assert!(
        !record.contains(secret.trim()),
        "the record holds the secret"
    );
    let record: Value = serde_json::from_str(&record).unwrap();
    let app = w
        .graph(
            PROVIDER,
            Method::GET,
            "applications(uniqueName='tsoc-siem')?$select=passwordCredentials",
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        app["passwordCredentials"][0]["keyId"], record["keyId"],
        "{app}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&record_path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Drift so every renderer has something to say.
    w.graph(
        ALPHA,
        Method::PATCH,
        &format!("policies/crossTenantAccessPolicy/partners/{PROVIDER}"),
        Some(json!({"inboundTrust": {"isMfaAccepted": false}})),
    )
    .await
    .unwrap();
    let p = w.plan().await;
    let json = mssp::render::json(&p).unwrap();
    // What `--out` and `--format json` stream is the same text, byte for byte.
    let mut streamed = Vec::new();
    mssp::render::write_json(&p, &mut streamed).unwrap();
    assert_eq!(String::from_utf8(streamed).unwrap(), json);
    let schema = mssp::schema::SchemaKind::Plan.schema().to_value();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let instance: Value = serde_json::from_str(&json).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string("schemas/plan.schema.json").unwrap())
            .unwrap();
    assert_eq!(committed, schema, "schemas/plan.schema.json is stale");

    let markdown = mssp::render::markdown::render(&p).unwrap();
    let human = mssp::render::human::render(&p, mssp::render::human::Style { color: false });
    for (name, text) in [("json", &json), ("markdown", &markdown), ("human", &human)] {
        assert!(
            !text.contains(secret.trim()),
            "{name} leaks the SIEM secret"
        );
        assert!(
            !text.contains(&w.sb.client_secret),
            "{name} leaks the tool's client secret"
        );
    }
    assert!(
        markdown.contains("cross\\-tenant\\-partner/testsoc")
            || markdown.contains("cross-tenant-partner/testsoc")
    );
}

#[test]
fn markdown_escapes_what_comes_from_manifests() {
    use mssp::render::markdown::esc;
    assert_eq!(esc("<img src=x>"), "&lt;img src=x&gt;");
    assert_eq!(esc("[link](http://x)"), "\\[link\\]\\(http://x\\)");
    assert!(esc("@everyone").starts_with("@\u{200d}"));
    assert_eq!(esc("a|b"), "a\\|b");
}

/// The nightly drift view: a tier changed in the provider manifest plus one out-of-band edit
/// are grouped by kind of change across tenants, in JSON and in the pinned text outputs.
#[tokio::test]
async fn drift_is_summarised_by_kind_of_change() {
    let w = World::new("world", |_| {}).await;
    w.apply().await;
    let provider = w.path().join("provider.yaml");
    let text = std::fs::read_to_string(&provider).expect("read");
    std::fs::write(&provider, text.replace("expiry: P365D", "expiry: P180D")).expect("write");
    // One exception past its date, one ending within the notice period (today is 2026-11-23).
    let customers = w.path().join("customers.yaml");
    let text = std::fs::read_to_string(&customers).expect("read");
    let exceptions = "  exceptions:\n    - resource: catalog/tsoc\n      field: description\n      reason: old wording\n      owner: a@testsoc.example\n      expires: 2026-11-01\n    - resource: access-package/tier2\n      reason: being reworked\n      owner: a@testsoc.example\n      expires: 2026-11-30\n  attestations:\n";
    std::fs::write(
        &customers,
        text.replacen("  attestations:\n", exceptions, 1),
    )
    .expect("write");
    let group = w
        .objects(ALPHA, "groups")
        .await
        .into_iter()
        .find(|g| g["uniqueName"] == "tsoc-tier1")
        .expect("group");
    w.graph(
        ALPHA,
        Method::PATCH,
        &format!("groups/{}", group["id"].as_str().expect("id")),
        Some(json!({"description": "edited in the portal"})),
    )
    .await
    .expect("patch");

    let p = w.plan().await;
    let drift = serde_json::to_value(&p.drift).expect("json");
    assert!(
        drift.as_array().expect("array").contains(&json!({
            "change": "update", "kind": "assignment-policy", "fields": ["expiration"],
            "tenants": ["alpha", "beta"], "count": 2
        })),
        "{drift:#}"
    );

    for (change, kind) in [
        ("expiredException", "catalog"),
        ("expiringException", "access-package"),
    ] {
        assert!(
            p.drift
                .iter()
                .any(|g| g.change == change && g.kind == kind && g.tenants == ["alpha"]),
            "{drift:#}"
        );
    }
    let settings = {
        let mut s = insta::Settings::clone_current();
        s.add_filter(
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[id]",
        );
        s.add_filter(r"\d{4}-\d{2}-\d{2}T[0-9:.]+Z", "[time]");
        s
    };
    let human = mssp::render::human::render(&p, mssp::render::human::Style { color: false });
    let overview = human
        .split_once("Summary\n")
        .map(|(_, rest)| rest)
        .expect("summary section");
    settings.bind(|| insta::assert_snapshot!("drift_human_summary", overview));
    let md = mssp::render::markdown::render(&p).expect("markdown");
    let table = md.split("<details").next().expect("table");
    settings.bind(|| insta::assert_snapshot!("drift_markdown_overview", table));
}
