//! `mssp export` adopting hand-made custom detection rules: customers exported one after the
//! other end with one library (identical KQL is one `.kql` file), each customer selecting its
//! rules, and the next apply renames the adopted rules to their owned names in place.

use std::path::Path;

use mssp::export::{self, Export, ExportOptions};
use mssp::plan::Op;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::World;

const CONTOSO: &str = "0a000000-0000-4000-8000-0000000000d1";
const NORTHWIND: &str = "0a000000-0000-4000-8000-0000000000d2";
const RULES: &str = "security/rules/detectionRules";
const POWERSHELL: &str = "DeviceProcessEvents\n| where ProcessCommandLine has \"-enc\"\n| project Timestamp, ReportId, DeviceId\n";
const FORWARDING: &str = "CloudAppEvents\n| where ActionType == \"New-InboxRule\"\n| project Timestamp, ReportId, AccountObjectId\n";

/// The `world` fixture plus two tenants no manifest describes, the tool app holding the custom
/// detection permission everywhere, no lag (rules are made by hand, call after call).
async fn world() -> World {
    World::with_seed(
        "world",
        |o| o.replication_delay = std::time::Duration::ZERO,
        |seed| {
            for (tenant, domain, name) in [
                (CONTOSO, "contoso.onmicrosoft.com", "Contoso Ltd"),
                (NORTHWIND, "northwind.onmicrosoft.com", "Northwind Traders"),
            ] {
                seed.customers.push(mssp::sandbox::TenantSeed {
                    tenant_id: tenant.parse().expect("uuid"),
                    domain: domain.into(),
                    display_name: name.into(),
                    defender_licensed: true,
                    alerts: 0,
                });
            }
            seed.provisioning_roles
                .push("CrossTenantInformation.ReadBasic.All".into());
            let role = "CustomDetection.ReadWrite.All".to_string();
            seed.provisioning_roles.push(role.clone());
            for roles in seed.tenant_roles.values_mut() {
                roles.push(role.clone());
            }
        },
    )
    .await
}

fn hand_rule(id: &str, name: &str, query: &str, status: &str, severity: &str) -> Value {
    json!({
        "id": id, "displayName": name, "status": status,
        "queryCondition": {"queryText": query},
        "schedule": {"frequency": "PT1H"},
        "detectionAction": {
            "alertTemplate": {"title": name, "description": "Made in the portal", "severity": severity,
                "tactics": [{"tactic": "Execution", "techniques": [{"technique": "T1059.001"}]}]},
            "automatedActions": {}
        }
    })
}

/// What `mssp export --out FILE` does: load (with the fragment of earlier exports), export,
/// write the library files and the manifest.
async fn export_to(w: &World, tenant: &str, file: &str) -> Export {
    let (v, diags, pending) = export::detections::load_for_export(&[w.path()]);
    let v = v.unwrap_or_else(|| panic!("manifests invalid:\n{}", diags.render()));
    let e = export::export(
        &v,
        w.session.graph.clone(),
        &w.session.endpoints,
        &ExportOptions {
            tenant_id: tenant.into(),
            name: None,
            domain: None,
            display_name: None,
            cloud: None,
            owner: Some("soc-lead@testsoc.example".into()),
            keep_days: 90,
            today: jiff::civil::date(2026, 11, 23),
            pending_detections: pending,
        },
    )
    .await
    .expect("export");
    for f in &e.library_files {
        std::fs::create_dir_all(f.path.parent().expect("folder")).expect("mkdir");
        std::fs::write(&f.path, &f.text).expect("library file");
    }
    std::fs::write(w.path().join(file), &e.manifest).expect("manifest");
    e
}

fn kql_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("detections"))
        .expect("library folder")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".kql"))
        .collect();
    v.sort();
    v
}

/// Changes of one tenant's plan as `op address [fields]`.
fn changed_fields(p: &mssp::plan::Plan, tenant: &str) -> Vec<String> {
    p.tenants
        .iter()
        .filter(|t| t.name == tenant)
        .flat_map(|t| &t.actions)
        .filter(|a| a.op.is_change())
        .map(|a| {
            let fields: Vec<&str> = a.changes.iter().map(|c| c.field.as_str()).collect();
            format!("{} {} [{}]", a.op.verb(), a.address, fields.join(", "))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exporting_two_customers_builds_one_library_and_adoption_renames_in_place() {
    let w = world().await;
    let post = |tenant: &'static str, body: Value| {
        let w = &w;
        async move {
            w.graph(tenant, Method::POST, RULES, Some(body))
                .await
                .expect("hand-made rule");
        }
    };
    post(
        CONTOSO,
        hand_rule("101", "Encoded PowerShell", POWERSHELL, "enabled", "high"),
    )
    .await;
    // The same query typed on Windows (CRLF, a trailing space), disabled and less severe here.
    let crlf = POWERSHELL.replace('\n', " \r\n");
    post(
        NORTHWIND,
        hand_rule("201", "PowerShell -enc (copy)", &crlf, "disabled", "medium"),
    )
    .await;
    post(
        NORTHWIND,
        hand_rule("202", "Inbox forwarding", FORWARDING, "enabled", "low"),
    )
    .await;

    let contoso = export_to(&w, CONTOSO, "contoso.yaml").await;
    let adopted = |e: &Export| -> Vec<(String, String, bool)> {
        e.detections
            .iter()
            .map(|r| (r.id.clone(), r.entry.clone(), r.reused))
            .collect()
    };
    assert_eq!(
        adopted(&contoso),
        [("101".into(), "encoded-powershell".into(), false)]
    );
    let northwind = export_to(&w, NORTHWIND, "northwind.yaml").await;
    assert_eq!(
        adopted(&northwind),
        [
            ("202".into(), "inbox-forwarding".into(), false),
            ("201".into(), "encoded-powershell".into(), true),
        ]
    );
    // One library: two distinct queries, two files, not three.
    assert_eq!(
        kql_files(&w.path()),
        ["encoded-powershell.kql", "inbox-forwarding.kql"]
    );
    // Where Northwind differs from the entry it reuses, it keeps its values as dated overrides.
    let m = &northwind.manifest;
    for (field, value) in [("status", "disabled"), ("severity", "medium")] {
        let wanted =
            format!("- resource: detection-rule/encoded-powershell\n      field: {field}\n");
        let at = m
            .find(&wanted)
            .unwrap_or_else(|| panic!("no {field} override:\n{m}"));
        let entry = &m[at..];
        let end = entry[2..].find("    - ").map_or(entry.len(), |e| e + 2);
        assert!(entry[..end].contains(&format!("value: \"{value}\"")), "{m}");
    }
    assert!(
        !contoso.manifest.contains("exceptions:"),
        "{}",
        contoso.manifest
    );
    // The export's own plan shows only the documented change: each adopted rule renamed, and
    // where a reused entry's alert differs (Northwind's title), the entry's alert.
    for e in [&contoso, &northwind] {
        assert!(
            e.remaining
                .iter()
                .all(|r| r.starts_with("update detection-rule/")
                    && r.contains("displayName")
                    && r.contains("the library entry's values")),
            "{:#?}",
            e.remaining
        );
        assert_eq!(e.remaining.len(), e.detections.len(), "{:#?}", e.remaining);
    }
    assert!(
        northwind
            .remaining
            .iter()
            .any(|r| r.contains("encoded-powershell") && r.contains("alert")),
        "{:#?}",
        northwind.remaining
    );

    // The MSSP pastes the fragment into the Provider once, after the last export.
    let fragment_path = w
        .path()
        .join("detections")
        .join(export::detections::FRAGMENT);
    let fragment = std::fs::read_to_string(&fragment_path).expect("fragment");
    let provider = w.path().join("provider.yaml");
    let text = std::fs::read_to_string(&provider).expect("provider");
    std::fs::write(&provider, format!("{}\n{fragment}", text.trim_end())).expect("paste");
    std::fs::remove_file(&fragment_path).expect("remove fragment");

    let p = w.plan().await;
    assert_eq!(
        changed_fields(&p, "contoso-ltd"),
        ["update detection-rule/encoded-powershell [displayName]"]
    );
    assert_eq!(
        changed_fields(&p, "northwind-traders"),
        [
            "update detection-rule/encoded-powershell [displayName, alert]",
            "update detection-rule/inbox-forwarding [displayName]"
        ]
    );
    assert!(
        p.tenants
            .iter()
            .flat_map(|t| &t.actions)
            .filter(|a| a.address.starts_with("detection-rule/"))
            .all(|a| a.op != Op::Create),
        "an adopted rule would be created twice"
    );
    w.apply().await;

    // Renamed in place: same ids, no twin, Northwind's overrides kept.
    let rules = |tenant: &'static str| {
        let w = &w;
        async move {
            let mut v: Vec<(String, String, String, String)> = w
                .objects(tenant, "detectionRules")
                .await
                .iter()
                .map(|r| {
                    (
                        r["id"].as_str().unwrap_or_default().to_string(),
                        r["displayName"].as_str().unwrap_or_default().to_string(),
                        r["status"].as_str().unwrap_or_default().to_string(),
                        r["detectionAction"]["alertTemplate"]["severity"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    )
                })
                .collect();
            v.sort();
            v
        }
    };
    let row = |id: &str, name: &str, status: &str, sev: &str| {
        (
            id.to_string(),
            name.to_string(),
            status.to_string(),
            sev.to_string(),
        )
    };
    assert_eq!(
        rules(CONTOSO).await,
        [row("101", "[tsoc] Encoded PowerShell", "enabled", "high")]
    );
    assert_eq!(
        rules(NORTHWIND).await,
        [
            row("201", "[tsoc] Encoded PowerShell", "disabled", "medium"),
            row("202", "[tsoc] Inbox forwarding", "enabled", "low"),
        ]
    );
    let p = w.plan().await;
    for t in ["contoso-ltd", "northwind-traders"] {
        assert!(
            changed_fields(&p, t).is_empty(),
            "{t}: {:?}",
            changed_fields(&p, t)
        );
    }
}
