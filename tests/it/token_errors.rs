//! Entra token errors: the sandbox answers them in Entra's exact shape, and users see the
//! AADSTS code with Microsoft's sentence, cleanly, never a parser error or the secret.

use serde_json::Value;

use crate::support::{ALPHA, World};

const CANARY: &str = "canary-secret-Zq8~vW3xT9";

/// A raw token request with a wrong secret, answered like Entra answers it.
#[tokio::test]
async fn sandbox_token_errors_have_entra_shape() {
    let w = World::new("world", |_| {}).await;
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(w.sb.ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let res = http
        .post(format!("{}/{ALPHA}/oauth2/v2.0/token", w.sb.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", w.sb.client_id.as_str()),
            ("client_secret", CANARY),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_codes"], serde_json::json!([7000215]));
    let (trace, corr, ts) = (
        body["trace_id"].as_str().unwrap(),
        body["correlation_id"].as_str().unwrap(),
        body["timestamp"].as_str().unwrap(),
    );
    // "2016-01-09 02:02:12Z", as in Microsoft's documented example.
    assert!(
        jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%SZ", ts).is_ok(),
        "{ts}"
    );
    let description = body["error_description"].as_str().unwrap();
    let (first, rest) = description
        .split_once("\r\n")
        .expect("\\r\\n after the message");
    assert!(
        first.starts_with("AADSTS7000215: Invalid client secret provided."),
        "{first}"
    );
    assert_eq!(
        rest,
        format!("Trace ID: {trace}\r\nCorrelation ID: {corr}\r\nTimestamp: {ts}")
    );
    assert_eq!(
        body["error_uri"],
        "https://login.microsoftonline.com/error?code=7000215"
    );
    assert!(!body.to_string().contains(CANARY));
}

/// The real binary with a wrong secret: every tenant says AADSTS7000215 and Microsoft's
/// sentence on one line; no serde error, no trace lines, no control characters, no secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_shows_the_aadsts_code_and_message() {
    let w = World::new("world", |_| {}).await;
    let env: Vec<(&str, String)> = vec![
        ("AZURE_AUTHORITY_HOST", w.sb.url.clone()),
        ("MSSP_GRAPH_URL", w.sb.url.clone()),
        ("MSSP_DEFENDER_URL", w.sb.url.clone()),
        ("AZURE_CLIENT_ID", w.sb.client_id.clone()),
        ("AZURE_CLIENT_SECRET", CANARY.to_string()),
        ("MSSP_CA_BUNDLE", w.sb.ca_cert_path.display().to_string()),
    ];
    let dir = w.path().display().to_string();
    let out = tokio::task::spawn_blocking(move || {
        assert_cmd::Command::cargo_bin("mssp")
            .expect("binary")
            .args(["plan", &dir])
            .envs(env)
            .env_remove("AZURE_CLIENT_CERTIFICATE_PATH")
            .env_remove("AZURE_FEDERATED_TOKEN_FILE")
            .env("NO_COLOR", "1")
            .env("MSSP_LOG", "debug")
            .output()
            .expect("runs")
    })
    .await
    .expect("join");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains(
            "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the \
             request is the client secret value, not the client secret ID"
        ),
        "{all}"
    );
    assert!(all.contains("(trace ID "), "{all}");
    assert!(!all.contains("borrowed string"), "{all}");
    assert!(!all.contains("Trace ID:"), "{all}");
    assert!(!all.contains("Timestamp:"), "{all}");
    assert!(!all.contains('\r'), "{all:?}");
    assert!(!all.contains(CANARY), "the secret leaked:\n{all}");
}

/// Bodies that are not Entra errors are left alone; descriptions lose their trailing lines.
#[test]
fn entra_error_message_keeps_the_first_line_and_the_ids() {
    let body = br#"{"error":"invalid_scope","error_description":"AADSTS70011: The provided value for the input parameter 'scope' is not valid.\r\nTrace ID: 255d1aef-8c98-452f-ac51-23d051240864\r\nCorrelation ID: fb3d2015-bc17-4bb9-bb85-30c5cf1aaaa7\r\nTimestamp: 2016-01-09 02:02:12Z","error_codes":[70011],"timestamp":"2016-01-09 02:02:12Z","trace_id":"255d1aef-8c98-452f-ac51-23d051240864","correlation_id":"fb3d2015-bc17-4bb9-bb85-30c5cf1aaaa7"}"#;
    assert_eq!(
        mssp::auth::entra_error_message(body).as_deref(),
        Some(
            "AADSTS70011: The provided value for the input parameter 'scope' is not valid. \
             (trace ID 255d1aef-8c98-452f-ac51-23d051240864, correlation ID \
             fb3d2015-bc17-4bb9-bb85-30c5cf1aaaa7)"
        )
    );
    assert_eq!(mssp::auth::entra_error_message(b"<html>502</html>"), None);
    let hostile = br#"{"error_description":"AADSTS1: bad\u001b[31m red\u0007"}"#;
    assert_eq!(
        mssp::auth::entra_error_message(hostile).as_deref(),
        Some("AADSTS1: bad[31m red")
    );
}
