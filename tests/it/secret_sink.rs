//! A client secret whose value its sink does not hold is drift. A run killed after `addPassword`
//! and before the sink was written is simulated deterministically: the secret is added with a
//! raw Graph call the way apply adds it, and the sink is left alone.

use reqwest::Method;
use serde_json::{Value, json};

use super::alerts::{World, edit};

const PROVIDER: &str = "9b1f2a4e-5c6d-4e7f-8a9b-0c1d2e3f4a5b";
const CONTOSO: &str = "7d3c9f10-2b4a-4c5d-9e6f-a1b2c3d4e5f6";
const APP: &str = "applications(uniqueName='fabrikam-soc-siem-connector')";
const FEDERATED_END: &str =
    "          subject: repo:fabrikam/soc-automation:environment:production\n";

/// The keyIds of the secrets named `siem-secret` on the SIEM app.
async fn secrets(w: &World) -> Vec<String> {
    let (s, app) = w.graph(PROVIDER, Method::GET, APP, None).await;
    assert_eq!(s, 200, "{app}");
    app["passwordCredentials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["displayName"] == "siem-secret")
        .map(|p| p["keyId"].as_str().unwrap().to_string())
        .collect()
}

/// What an interrupted apply leaves: a secret added, its value never written anywhere.
async fn interrupted_add(w: &World) -> (String, String) {
    let end = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(24 * 90))
        .unwrap();
    let (s, body) = w
        .graph(
            PROVIDER,
            Method::POST,
            &format!("{APP}/addPassword"),
            Some(
                json!({"passwordCredential": {"displayName": "siem-secret", "endDateTime": end.to_string()}}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    (
        body["keyId"].as_str().unwrap().to_string(),
        body["secretText"].as_str().unwrap().to_string(),
    )
}

async fn token_status(w: &World, client_id: &str, secret: &str) -> u16 {
    w.http
        .post(format!("{}/{CONTOSO}/oauth2/v2.0/token", w.sb.url))
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

fn recorded_key_id(w: &World) -> String {
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(w.manifests().join("siem-secret.txt.mssp.json")).unwrap(),
    )
    .unwrap();
    record["keyId"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_orphaned_by_an_interrupted_apply_is_replaced_and_removed() {
    // Without the examples' GDAP customer: its relationship waits for a customer's approval
    // (a manual item in the MSSP tenant), so the plans below could never converge.
    let w = World::new(|m| {
        edit(
            m,
            "customers/small-business.yaml",
            "    gdap:\n      tiers: [tier1]\n",
            "",
        )
    })
    .await;
    w.apply().await;
    edit(
        &w.manifests(),
        "provider.yaml",
        FEDERATED_END,
        &format!(
            "{FEDERATED_END}      - secret:\n          displayName: siem-secret\n          validity: P90D\n          sink:\n            file: siem-secret.txt\n"
        ),
    );
    let (orphan, orphan_value) = interrupted_add(&w).await;
    let sink = w.manifests().join("siem-secret.txt");
    assert!(!sink.exists());

    // Contoso has no manual items left: its exit code says whether anything is left to do.
    let m = w.manifests();
    let m = m.to_str().unwrap();
    let plan = w
        .run(&[
            "plan",
            "--detailed-exitcode",
            "--customer",
            "contoso",
            "--out",
            "plan.json",
            m,
        ])
        .await;
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("-/+ password-credential/siem-secret"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains(
            "does not hold this credential's value (e.g. a run was interrupted); a new secret replaces it"
        ),
        "{}",
        plan.stdout
    );
    let saved = std::fs::read_to_string(w.path("plan.json")).unwrap();
    for text in [&plan.stdout, &plan.stderr, &saved] {
        assert!(!text.contains(&orphan_value), "a secret value was printed");
    }

    // The reviewed plan applies: new secret, into the sink, then the orphan goes.
    let r = w.run(&["apply", "plan.json"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let value = std::fs::read_to_string(&sink).unwrap();
    assert!(!r.stderr.contains(&value) && !r.stdout.contains(&value));
    let live = secrets(&w).await;
    assert_eq!(live.len(), 1, "the orphan is gone: {live:?}");
    assert_ne!(live[0], orphan);
    assert_eq!(
        recorded_key_id(&w),
        live[0],
        "the sink records the new keyId"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in ["siem-secret.txt", "siem-secret.txt.mssp.json"] {
            let mode = std::fs::metadata(w.manifests().join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }
    let (_, app) = w.graph(PROVIDER, Method::GET, APP, None).await;
    let client_id = app["appId"].as_str().unwrap();
    assert_eq!(token_status(&w, client_id, &value).await, 200);
    assert_eq!(token_status(&w, client_id, &orphan_value).await, 401);
    let plan = w
        .run(&["plan", "--detailed-exitcode", "--customer", "contoso", m])
        .await;
    assert_eq!(plan.code, 0, "converged:\n{}", plan.stdout);

    // Interrupted again, this time while the sink holds a working secret: only the stray goes,
    // the SIEM's value stays.
    let (stray, _) = interrupted_add(&w).await;
    let plan = w
        .run(&["plan", "--detailed-exitcode", "--customer", "contoso", m])
        .await;
    assert_eq!(plan.code, 2, "{}", plan.stdout);
    assert!(
        plan.stdout.contains("~ password-credential/siem-secret"),
        "{}",
        plan.stdout
    );
    let r = w.run(&["apply", "--auto-approve", m]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        secrets(&w).await,
        live,
        "stray {stray} removed, the held one kept"
    );
    assert_eq!(std::fs::read_to_string(&sink).unwrap(), value);
    let plan = w
        .run(&["plan", "--detailed-exitcode", "--customer", "contoso", m])
        .await;
    assert_eq!(plan.code, 0, "converged:\n{}", plan.stdout);
}
