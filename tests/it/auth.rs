//! The tool's credential paths against the sandbox's token endpoint.

use aws_lc_rs::encoding::AsDer;
use base64::Engine as _;
use reqwest::Method;
use serde_json::json;

use crate::support::{PROVIDER, World};
use mssp::auth::{AuthConfig, AuthMethod};
use mssp::plan::{Endpoints, TenantStatus};
use mssp::session::Session;

/// A certificate credential: the tool signs a JWT client assertion with the private key; the
/// sandbox checks it against the certificate uploaded to the application's keyCredentials.
#[tokio::test]
async fn certificate_credentials_get_tokens_and_plan() {
    let w = World::new("world", |_| {}).await;
    let key = rsa_key();
    let cert = rcgen::CertificateParams::new(vec!["mssp-provisioning".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    // Upload the public key to the tool's own application (in the MSSP tenant).
    let apps = w
        .graph(
            PROVIDER,
            Method::GET,
            &format!("applications?$filter=appId eq '{}'", w.sb.client_id),
            None,
        )
        .await
        .unwrap();
    let app_id = apps["value"][0]["id"]
        .as_str()
        .expect("the tool's app")
        .to_string();
    let der = base64::engine::general_purpose::STANDARD.encode(cert.der());
    w.graph(PROVIDER, Method::PATCH, &format!("applications/{app_id}"), Some(json!({
        "keyCredentials": [{"type": "AsymmetricX509Cert", "usage": "Verify", "key": der, "displayName": "CN=mssp-provisioning"}]
    })))
    .await
    .unwrap();
    let pem_path = w.path().join("tool.pem");
    std::fs::write(&pem_path, format!("{}{}", key.serialize_pem(), cert.pem())).unwrap();

    let session = Session::with_config(
        Endpoints {
            login: Some(w.sb.url.clone()),
            graph: Some(w.sb.url.clone()),
            defender: Some(w.sb.url.clone()),
        },
        AuthConfig {
            method: AuthMethod::Certificate,
            client_id: Some(w.sb.client_id.clone()),
            client_secret: None,
            certificate_path: Some(pem_path.clone()),
            federated_token_file: None,
            ..Default::default()
        },
        Some(w.sb.ca_pem.as_bytes()),
    )
    .unwrap();
    let v = w.manifests();
    let p = mssp::plan::plan(
        &v,
        session.graph.clone(),
        &session.endpoints,
        &mssp::plan::PlanOptions {
            prune: false,
            parallelism: 4,
            customers: vec![],
            today: jiff::civil::date(2026, 11, 23),
            manifest_paths: vec![],
            recent: None,
            visibility_wait: std::time::Duration::ZERO,
        },
        &indicatif::ProgressBar::hidden(),
    )
    .await;
    for t in &p.tenants {
        assert_eq!(
            t.status,
            TenantStatus::Complete,
            "{}: {:?}",
            t.name,
            t.blocked_reason
        );
    }

    // A different key is refused by the token endpoint, and the plan says so per tenant.
    let other = rsa_key();
    let other_cert = rcgen::CertificateParams::new(vec!["impostor".into()])
        .unwrap()
        .self_signed(&other)
        .unwrap();
    std::fs::write(
        &pem_path,
        format!("{}{}", other.serialize_pem(), other_cert.pem()),
    )
    .unwrap();
    let session = Session::with_config(
        Endpoints {
            login: Some(w.sb.url.clone()),
            graph: Some(w.sb.url.clone()),
            defender: Some(w.sb.url.clone()),
        },
        AuthConfig {
            method: AuthMethod::Certificate,
            client_id: Some(w.sb.client_id.clone()),
            client_secret: None,
            certificate_path: Some(pem_path),
            federated_token_file: None,
            ..Default::default()
        },
        Some(w.sb.ca_pem.as_bytes()),
    )
    .unwrap();
    let tenants = mssp::permissions::needs(&v, &[]);
    let err = mssp::permissions::preflight(&session, &tenants)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("AADSTS"), "{err}");
}

/// An RSA key for rcgen (its ring backend cannot generate RSA keys; aws-lc-rs can).
fn rsa_key() -> rcgen::KeyPair {
    let key = aws_lc_rs::signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = key.as_der().unwrap();
    let pkcs8 = rustls_pki_types::PrivatePkcs8KeyDer::from(der.as_ref().to_vec());
    rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256).unwrap()
}
