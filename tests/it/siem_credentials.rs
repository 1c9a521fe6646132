//! The SIEM application's credential lifecycle against the sandbox: a client secret with
//! `rotateBefore` is rotated by apply (new secret into the sink first, then the old one removed),
//! and the per-customer single-tenant variant works for apply and for `alerts fetch`.

use reqwest::Method;
use serde_json::Value;

use super::alerts::{World, edit, lines};

const PROVIDER: &str = "9b1f2a4e-5c6d-4e7f-8a9b-0c1d2e3f4a5b";
const CONTOSO: &str = "7d3c9f10-2b4a-4c5d-9e6f-a1b2c3d4e5f6";
const NORTHWIND: &str = "3e8a1c2d-4f5b-4a6c-8d7e-9f0a1b2c3d4e";
const FEDERATED_END: &str =
    "          subject: repo:fabrikam/soc-automation:environment:production\n";

fn secrets_named(app: &Value, name: &str) -> Vec<Value> {
    app["passwordCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["displayName"] == name)
        .cloned()
        .collect()
}

async fn siem_token_status(w: &World, tenant: &str, client_id: &str, secret: &str) -> u16 {
    w.http
        .post(format!("{}/{tenant}/oauth2/v2.0/token", w.sb.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_secret_is_rotated_new_first_old_removed_after_the_sink() {
    let w = World::new(|m| {
        edit(
            m,
            "provider.yaml",
            FEDERATED_END,
            &format!("{FEDERATED_END}      - secret:\n          displayName: siem-rotating\n          validity: P20D\n          sink:\n            file: siem-secret.txt\n"),
        );
    })
    .await;
    w.apply().await;
    let sink = w.manifests().join("siem-secret.txt");
    let v1 = std::fs::read_to_string(&sink).unwrap();
    let app_path = "applications(uniqueName='fabrikam-soc-siem-connector')";
    let (_, app) = w.graph(PROVIDER, Method::GET, app_path, None).await;
    let first = secrets_named(&app, "siem-rotating");
    assert_eq!(first.len(), 1);
    let client_id = app["appId"].as_str().unwrap().to_string();

    // rotateBefore P30D: the 20-day secret is due now.
    edit(
        &w.manifests(),
        "provider.yaml",
        "          validity: P20D\n",
        "          validity: P90D\n          rotateBefore: P30D\n",
    );
    let m = w.manifests();
    let m = m.to_str().unwrap();
    let plan = w.run(&["plan", "--detailed-exitcode", m]).await;
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("password-credential/siem-rotating"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("rotation"), "{}", plan.stdout);
    let r = w.run(&["apply", "--auto-approve", m]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    for out in [&plan.stdout, &plan.stderr, &r.stdout, &r.stderr] {
        assert!(!out.contains(&v1), "the old secret value was printed");
    }
    let v2 = std::fs::read_to_string(&sink).unwrap();
    assert_ne!(v1, v2, "the sink holds the new value");
    let (_, app) = w.graph(PROVIDER, Method::GET, app_path, None).await;
    let now = secrets_named(&app, "siem-rotating");
    assert_eq!(now.len(), 1, "the old secret was removed: {now:#?}");
    assert_ne!(now[0]["keyId"], first[0]["keyId"]);
    // The sink records the credential it now holds (the value file itself stays the bare secret).
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(w.manifests().join("siem-secret.txt.mssp.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(record["keyId"], now[0]["keyId"]);
    // The new value works for the SIEM app in a customer tenant; the old one no longer does.
    assert_eq!(siem_token_status(&w, CONTOSO, &client_id, &v2).await, 200);
    assert_eq!(siem_token_status(&w, CONTOSO, &client_id, &v1).await, 401);
    // Rotated means done: nothing left to plan.
    let plan = w.run(&["plan", m]).await;
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(!plan.stdout.contains("rotation"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("siem-rotating"), "{}", plan.stdout);

    // A window as long as the validity would rotate forever: rejected up front.
    edit(
        &w.manifests(),
        "provider.yaml",
        "rotateBefore: P30D",
        "rotateBefore: P90D",
    );
    let r = w.run(&["validate", m]).await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("rotateBefore `P90D` is not shorter than the validity"),
        "{}",
        r.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_customer_variant_applies_and_fetches() {
    let mut w = World::new(|m| {
        edit(
            m,
            "provider.yaml",
            "    displayName: Fabrikam SOC SIEM connector\n",
            "    displayName: Fabrikam SOC SIEM connector\n    variant: perCustomer\n",
        );
    })
    .await;
    w.apply().await;
    // One single-tenant app per SIEM-enabled customer, none in the MSSP tenant.
    let path = "applications(uniqueName='fabrikam-soc-siem-connector')";
    let (s, _) = w.graph(PROVIDER, Method::GET, path, None).await;
    assert_eq!(s, 404);
    let mut secrets = Vec::new();
    for (tenant, name) in [(CONTOSO, "CONTOSO"), (NORTHWIND, "NORTHWIND_GOV")] {
        let (s, app) = w.graph(tenant, Method::GET, path, None).await;
        assert_eq!(s, 200);
        assert_eq!(app["signInAudience"], "AzureADMyOrg");
        let (s, body) = w
            .graph(
                tenant,
                Method::POST,
                &format!("{path}/addPassword"),
                Some(serde_json::json!({"passwordCredential": {"displayName": "siem test"}})),
            )
            .await;
        assert_eq!(s, 200);
        secrets.push((
            format!("MSSP_SIEM_CLIENT_SECRET_{name}"),
            body["secretText"].as_str().unwrap().to_string(),
        ));
    }
    w.siem_secret = None;
    let m = w.manifests();
    let mut cmd = w.command(&[
        "alerts",
        "fetch",
        "--out",
        "out.ndjson",
        "--state",
        "s.json",
        m.to_str().unwrap(),
    ]);
    for (k, v) in &secrets {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let all = lines(&w.path("out.ndjson"));
    assert_eq!(all.len(), 10);
    for (_, v) in &secrets {
        assert!(!stderr.contains(v.as_str()));
        assert!(
            !std::fs::read_to_string(w.path("s.json"))
                .unwrap()
                .contains(v.as_str())
        );
    }
}
