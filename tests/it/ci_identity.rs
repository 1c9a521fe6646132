//! CI sign-in that outlives the CI system's token: a GitHub OIDC token is requested anew for
//! every token exchange, so a run that signs in to tenant after tenant keeps working after the
//! first token expired. The OIDC issuer is a local stand-in that hands out a different,
//! short-lived token per request; the sandbox matches each one against the app's federated
//! identity credential (issuer, subject, audience, expiry).

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{ALPHA, BETA, PROVIDER, World};
use mssp::auth::{AuthConfig, AuthMethod, GithubOidc, Tokens};

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const SUBJECT: &str = "repo:fabrikam/soc-manifests:environment:production";
const REQUEST_TOKEN: &str = "runner-request-token-7f3a";
/// How long each OIDC token lives: shorter than the pause between two exchanges below.
const LIFETIME_SECS: i64 = 2;

/// What the stand-in issuer saw: the request line and Authorization header of each request,
/// and the token it answered with.
#[derive(Default)]
struct Seen {
    requests: Vec<(String, String)>,
    tokens: Vec<String>,
}

/// GitHub's token endpoint as a runner sees it: `GET <url>&audience=…` with
/// `Authorization: bearer <request token>` → `{"count":…, "value": "<JWT>"}`.
async fn fake_github_issuer() -> (String, Arc<Mutex<Seen>>) {
    fake_issuer(ISSUER, SUBJECT, "value").await
}

/// An OIDC token endpoint answering `{"<field>": "<JWT for iss/sub>"}` with a new token per
/// request (GitHub: `value`; Azure DevOps: `oidcToken`).
async fn fake_issuer(
    iss: &'static str,
    sub: &'static str,
    field: &'static str,
) -> (String, Arc<Mutex<Seen>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/_apis/distributedtask/idtoken?api-version=2.0",
        listener.local_addr().expect("addr")
    );
    let seen = Arc::new(Mutex::new(Seen::default()));
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        let mut n = 0u32;
        while let Ok((mut sock, _)) = listener.accept().await {
            n += 1;
            let mut buf = vec![0u8; 8192];
            let mut len = 0;
            while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") && len < buf.len() {
                match sock.read(&mut buf[len..]).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => len += k,
                }
            }
            let head = String::from_utf8_lossy(&buf[..len]).to_string();
            let line = head.lines().next().unwrap_or_default().to_string();
            let auth = head
                .lines()
                .find_map(|l| {
                    l.split_once(':')
                        .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                        .map(|(_, v)| v.trim().to_string())
                })
                .unwrap_or_default();
            let now = jiff::Timestamp::now().as_second();
            let part = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
            let jwt = format!(
                "{}.{}.{}",
                part(json!({"alg": "RS256", "typ": "JWT", "kid": "github"})),
                part(json!({
                    "iss": iss, "sub": sub, "aud": "api://AzureADTokenExchange",
                    "jti": format!("run-token-{n}"), "iat": now, "nbf": now,
                    "exp": now + LIFETIME_SECS,
                })),
                URL_SAFE_NO_PAD.encode(b"not-checked-offline"),
            );
            let body = json!({ field: jwt }).to_string();
            {
                let mut s = record.lock().expect("lock");
                s.requests.push((line, auth));
                s.tokens.push(jwt);
            }
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    (url, seen)
}

/// The provisioning app (the sandbox's tool app) trusts the GitHub production subject.
async fn trust_github(w: &World) {
    trust(w, ISSUER, SUBJECT).await;
}

async fn trust(w: &World, issuer: &str, subject: &str) {
    let apps = w
        .graph(
            PROVIDER,
            Method::GET,
            &format!("applications?$filter=appId eq '{}'", w.sb.client_id),
            None,
        )
        .await
        .expect("the tool's app");
    let id = apps["value"][0]["id"].as_str().expect("app id").to_string();
    w.graph(
        PROVIDER,
        Method::POST,
        &format!("applications/{id}/federatedIdentityCredentials"),
        Some(json!({
            "name": subject.replace([':', '/'], "-"), "issuer": issuer, "subject": subject,
            "audiences": ["api://AzureADTokenExchange"],
        })),
    )
    .await
    .expect("federated credential");
}

fn tokens(w: &World, config: AuthConfig) -> Tokens {
    let http = mssp::graph::http_client(Some(w.sb.ca_pem.as_bytes())).expect("client");
    Tokens::new(config, http)
}

#[tokio::test]
async fn github_oidc_tokens_are_fetched_per_exchange_and_outlive_the_first_one() {
    let w = World::new("world", |_| {}).await;
    trust_github(&w).await;
    let (url, seen) = fake_github_issuer().await;
    let t = tokens(
        &w,
        AuthConfig {
            method: AuthMethod::GithubOidc,
            client_id: Some(w.sb.client_id.clone()),
            github_oidc: Some(GithubOidc {
                request_url: url,
                request_token: azure_core::credentials::Secret::new(REQUEST_TOKEN.to_string()),
            }),
            ..AuthConfig::default()
        },
    );
    let graph = "https://graph.microsoft.com";
    t.token(&w.sb.url, PROVIDER, graph)
        .await
        .expect("first tenant");
    // The first OIDC token has expired by now; a token read once (a file) would be refused
    // with AADSTS700024 from here on.
    tokio::time::sleep(std::time::Duration::from_secs(LIFETIME_SECS as u64 + 1)).await;
    t.token(&w.sb.url, ALPHA, graph)
        .await
        .expect("a later tenant signs in with a fresh OIDC token");
    t.token(&w.sb.url, BETA, graph).await.expect("and another");

    let s = seen.lock().expect("lock");
    assert_eq!(s.requests.len(), 3, "one OIDC request per exchange");
    let mut distinct = s.tokens.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "every exchange presented a new token");
    for (line, auth) in &s.requests {
        assert!(line.starts_with("GET "), "{line}");
        assert!(
            line.contains("api-version=2.0&audience=api%3A%2F%2FAzureADTokenExchange"),
            "{line}"
        );
        assert_eq!(auth, &format!("bearer {REQUEST_TOKEN}"));
    }
}

/// What the token-file examples did: one OIDC token in a file, read for every exchange. Once
/// it expires, every further tenant fails — the reason the file is gone from the examples.
#[tokio::test]
async fn a_token_file_written_once_stops_working_when_it_expires() {
    let w = World::new("world", |_| {}).await;
    trust_github(&w).await;
    let (url, seen) = fake_github_issuer().await;
    // Fetch one token like the old `curl … > token-file` step.
    let http = reqwest::Client::new();
    let v: serde_json::Value = http
        .get(format!("{url}&audience=api%3A%2F%2FAzureADTokenExchange"))
        .header("authorization", format!("bearer {REQUEST_TOKEN}"))
        .send()
        .await
        .expect("issuer")
        .json()
        .await
        .expect("json");
    let file = w.path().join("azure-federated-token");
    std::fs::write(&file, v["value"].as_str().expect("value")).expect("write");
    let t = tokens(
        &w,
        AuthConfig {
            method: AuthMethod::WorkloadIdentity,
            client_id: Some(w.sb.client_id.clone()),
            federated_token_file: Some(file),
            ..AuthConfig::default()
        },
    );
    let graph = "https://graph.microsoft.com";
    t.token(&w.sb.url, PROVIDER, graph)
        .await
        .expect("works while fresh");
    tokio::time::sleep(std::time::Duration::from_secs(LIFETIME_SECS as u64 + 1)).await;
    let err = t
        .token(&w.sb.url, ALPHA, graph)
        .await
        .expect_err("an expired token file cannot sign in");
    assert!(err.to_string().contains("AADSTS700024"), "{err}");
    assert_eq!(seen.lock().expect("lock").requests.len(), 1);
}

/// `MSSP_AUTH` picks the credential like `--auth` does, and the error names what is missing.
#[test]
fn mssp_auth_selects_the_credential() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = assert_cmd::Command::cargo_bin("mssp")
        .expect("binary")
        .args(["plan", "examples/"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        .env("AZURE_CLIENT_ID", "11111111-2222-4333-8444-555555555555")
        .env("MSSP_AUTH", "github-oidc")
        .env("HOME", dir.path())
        .output()
        .expect("runs");
    // Each tenant is reported blocked with the reason, in the plan itself.
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("ACTIONS_ID_TOKEN_REQUEST_URL or ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
        "{out}"
    );
}

const ADO_ISSUER: &str = "https://vstoken.dev.azure.com/4f0c3a52-8d7e-4b1a-9c6d-2e5f8a1b3c4d";
const ADO_SUBJECT: &str = "sc://fabrikam/soc/mssp-provisioning";

/// `MSSP_AUTH=azure-pipelines`: the real binary, against the sandbox as if it were the cloud
/// (endpoint overrides, its CA), signs in through `AzurePipelinesCredential`, which asks the
/// agent's OIDC endpoint (`SYSTEM_OIDCREQUESTURI`, here a stand-in) for a token per exchange.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_pipelines_service_connections_sign_in_per_exchange() {
    let w = World::new("world", |_| {}).await;
    trust(&w, ADO_ISSUER, ADO_SUBJECT).await;
    let (url, seen) = fake_issuer(ADO_ISSUER, ADO_SUBJECT, "oidcToken").await;
    let ca = w.path().join("sandbox-ca.pem");
    std::fs::write(&ca, &w.sb.ca_pem).expect("ca");
    let (sb, client_id, dir) = (w.sb.url.clone(), w.sb.client_id.clone(), w.path());
    let home = tempfile::tempdir().expect("home");
    let home_path = home.path().to_path_buf();
    let o = tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mssp"));
        for k in [
            "AZURE_CLIENT_ID",
            "AZURE_CLIENT_SECRET",
            "AZURE_CLIENT_CERTIFICATE_PATH",
            "AZURE_FEDERATED_TOKEN_FILE",
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        ] {
            cmd.env_remove(k);
        }
        cmd.args(["plan", "--detailed-exitcode"])
            .arg(&dir)
            .env("HOME", &home_path)
            .env("MSSP_AUTH", "azure-pipelines")
            .env("AZURE_AUTHORITY_HOST", &sb)
            .env("MSSP_GRAPH_URL", &sb)
            .env("MSSP_DEFENDER_URL", &sb)
            .env("MSSP_CA_BUNDLE", &ca)
            .env("AZURESUBSCRIPTION_CLIENT_ID", &client_id)
            .env(
                "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
                "6a1c2b3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
            )
            .env("SYSTEM_ACCESSTOKEN", REQUEST_TOKEN)
            .env("SYSTEM_OIDCREQUESTURI", url.replace("?api-version=2.0", ""))
            .output()
            .expect("mssp runs")
    })
    .await
    .expect("join");
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    // Nothing applied yet: changes to make (2), not an error (1).
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        !out.contains(REQUEST_TOKEN),
        "the access token leaked: {out}"
    );
    let s = seen.lock().expect("lock");
    // One sign-in per tenant (the MSSP tenant and two customers), each with a new token.
    assert!(s.requests.len() >= 3, "{:?}", s.requests);
    let mut distinct = s.tokens.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), s.tokens.len());
    for (line, auth) in &s.requests {
        assert!(line.starts_with("POST "), "{line}");
        assert!(
            line.contains("serviceConnectionId=6a1c2b3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"),
            "{line}"
        );
        assert_eq!(auth, &format!("Bearer {REQUEST_TOKEN}"));
    }
}
