//! Credentials: one access token per customer tenant, through `azure_identity`.
//!
//! The tool authenticates as one (multi-tenant) application and asks for a token in each
//! customer tenant (authority = that tenant). Which credential is used comes from the usual
//! `AZURE_*` variables; every credential gets our HTTP client, so a custom CA bundle
//! (`MSSP_CA_BUNDLE`) and the cloud's login host apply to token requests too.
//! Secrets are held in `azure_core`'s `Secret`, whose `Debug` never shows the value.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{
    AsyncRawResponse, ClientMethodOptions, ClientOptions, HttpClient, Request, Transport,
};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientAssertion, ClientAssertionCredential,
    ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::sync::Mutex;

/// How the tool authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMethod {
    /// Pick from the environment: secret, certificate, federated token file, then Azure CLI.
    #[default]
    Auto,
    /// `AZURE_CLIENT_ID` + `AZURE_CLIENT_SECRET`.
    Secret,
    /// `AZURE_CLIENT_ID` + `AZURE_CLIENT_CERTIFICATE_PATH` (PEM with certificate and key).
    Certificate,
    /// `AZURE_CLIENT_ID` + `AZURE_FEDERATED_TOKEN_FILE` (GitHub Actions / Azure DevOps OIDC).
    WorkloadIdentity,
    /// Managed identity of the machine (its own tenant only).
    ManagedIdentity,
    /// The signed-in Azure CLI user.
    AzureCli,
}

/// Settings read from the environment.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    pub method: AuthMethod,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub certificate_path: Option<PathBuf>,
    pub federated_token_file: Option<PathBuf>,
}

impl AuthConfig {
    pub fn from_env(method: AuthMethod) -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            method,
            client_id: var("AZURE_CLIENT_ID"),
            client_secret: var("AZURE_CLIENT_SECRET").map(Secret::new),
            certificate_path: var("AZURE_CLIENT_CERTIFICATE_PATH").map(PathBuf::from),
            federated_token_file: var("AZURE_FEDERATED_TOKEN_FILE").map(PathBuf::from),
        }
    }

    /// The method `Auto` resolves to.
    pub fn effective_method(&self) -> AuthMethod {
        if self.method != AuthMethod::Auto {
            return self.method;
        }
        if self.client_secret.is_some() {
            AuthMethod::Secret
        } else if self.certificate_path.is_some() {
            AuthMethod::Certificate
        } else if self.federated_token_file.is_some() {
            AuthMethod::WorkloadIdentity
        } else {
            AuthMethod::AzureCli
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("cannot read the certificate {path}: {why}")]
    Certificate { path: PathBuf, why: String },
    #[error("{0}")]
    Credential(String),
}

/// Hands out tokens per (tenant, audience), creating one credential per tenant.
#[derive(Debug)]
pub struct Tokens {
    config: AuthConfig,
    http: reqwest::Client,
    credentials: Mutex<HashMap<String, Arc<dyn TokenCredential>>>,
}

impl Tokens {
    pub fn new(config: AuthConfig, http: reqwest::Client) -> Self {
        Self {
            config,
            http,
            credentials: Mutex::new(HashMap::new()),
        }
    }

    pub fn client_id(&self) -> Option<&str> {
        self.config.client_id.as_deref()
    }

    /// A bearer token for `audience` (e.g. `https://graph.microsoft.com`) in `tenant`, from
    /// the login host of the tenant's cloud. azure_identity caches tokens until shortly before
    /// they expire.
    pub async fn token(
        &self,
        login: &str,
        tenant: &str,
        audience: &str,
    ) -> Result<Secret, AuthError> {
        // Client secrets and assertions go to this host: never in clear, never to a typo.
        match url::Url::parse(login) {
            Ok(u) if u.scheme() == "https" && u.host_str().is_some() => {}
            Ok(u) => {
                return Err(AuthError::Credential(format!(
                    "the login endpoint {login:?} must use https, not {}",
                    u.scheme()
                )));
            }
            Err(e) => {
                return Err(AuthError::Credential(format!(
                    "the login endpoint {login:?} is not a valid URL ({e})"
                )));
            }
        }
        let credential = self.credential(login.trim_end_matches('/'), tenant).await?;
        let scope = format!("{}/.default", audience.trim_end_matches('/'));
        credential
            .get_token(&[scope.as_str()], None)
            .await
            .map(|t| t.token)
            .map_err(|e| AuthError::Credential(redact(&with_causes(&e))))
    }

    async fn credential(
        &self,
        login: &str,
        tenant: &str,
    ) -> Result<Arc<dyn TokenCredential>, AuthError> {
        let mut map = self.credentials.lock().await;
        let key = format!("{login}/{tenant}");
        if let Some(c) = map.get(&key) {
            return Ok(Arc::clone(c));
        }
        let c = self.build(login, tenant)?;
        map.insert(key, Arc::clone(&c));
        Ok(c)
    }

    fn client_options(&self, login: &str) -> ClientOptions {
        let mut custom = CustomConfiguration::default();
        custom.authority_host = login.to_string();
        ClientOptions {
            cloud: Some(Arc::new(CloudConfiguration::Custom(custom))),
            transport: Some(Transport::new(Arc::new(EntraTransport(self.http.clone())))),
            ..Default::default()
        }
    }

    fn build(&self, login: &str, tenant: &str) -> Result<Arc<dyn TokenCredential>, AuthError> {
        let cfg = &self.config;
        let client_id = || {
            cfg.client_id
                .clone()
                .ok_or(AuthError::Missing("AZURE_CLIENT_ID"))
        };
        let err = |e: azure_core::Error| AuthError::Credential(redact(&e.to_string()));
        Ok(match cfg.effective_method() {
            AuthMethod::Secret | AuthMethod::Auto => {
                let secret = cfg
                    .client_secret
                    .clone()
                    .ok_or(AuthError::Missing("AZURE_CLIENT_SECRET"))?;
                ClientSecretCredential::new(
                    tenant,
                    client_id()?,
                    secret,
                    Some(ClientSecretCredentialOptions {
                        client_options: self.client_options(login),
                    }),
                )
                .map_err(err)?
            }
            AuthMethod::Certificate => {
                let path = cfg
                    .certificate_path
                    .clone()
                    .ok_or(AuthError::Missing("AZURE_CLIENT_CERTIFICATE_PATH"))?;
                let client_id = client_id()?;
                let assertion = CertificateAssertion::load(
                    &path,
                    client_id.clone(),
                    format!("{login}/{tenant}/oauth2/v2.0/token"),
                )?;
                ClientAssertionCredential::new(
                    tenant.to_string(),
                    client_id,
                    assertion,
                    Some(ClientAssertionCredentialOptions {
                        client_options: self.client_options(login),
                    }),
                )
                .map_err(err)?
            }
            AuthMethod::WorkloadIdentity => {
                WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                    credential_options: ClientAssertionCredentialOptions {
                        client_options: self.client_options(login),
                    },
                    client_id: Some(client_id()?),
                    tenant_id: Some(tenant.to_string()),
                    token_file_path: Some(
                        cfg.federated_token_file
                            .clone()
                            .ok_or(AuthError::Missing("AZURE_FEDERATED_TOKEN_FILE"))?,
                    ),
                }))
                .map_err(err)?
            }
            AuthMethod::ManagedIdentity => {
                ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                    client_options: self.client_options(login),
                    ..Default::default()
                }))
                .map_err(err)?
            }
            AuthMethod::AzureCli => AzureCliCredential::new(Some(AzureCliCredentialOptions {
                tenant_id: Some(tenant.to_string()),
                ..Default::default()
            }))
            .map_err(err)?,
        })
    }
}

/// Our reqwest client as azure_identity's transport, with Entra's token errors made readable.
///
/// azure_identity 1.0.0 reads `error_description` into a borrowed `&str`, which fails on any
/// JSON escape; Entra's descriptions always contain `\r\n` (before "Trace ID: …"), so every
/// token error reached users as "expected a borrowed string". Error bodies are rewritten here,
/// before azure_identity sees them, to carry a one-line description without escapes.
#[derive(Debug)]
struct EntraTransport(reqwest::Client);

/// Error bodies larger than this are passed through untouched (Entra's are a few hundred bytes).
const MAX_ERROR_BODY: usize = 64 * 1024;

#[async_trait::async_trait]
impl HttpClient for EntraTransport {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let response = self
            .0
            .execute_request(request)
            .await
            .map_err(|e| fail_fast(e, request))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let (status, mut headers, body) = response.deconstruct();
        let bytes = body.collect().await?;
        let rewritten = (bytes.len() <= MAX_ERROR_BODY)
            .then(|| rewrite_entra_error(&bytes))
            .flatten();
        Ok(match rewritten {
            Some(body) => {
                headers.remove(azure_core::http::headers::CONTENT_LENGTH);
                AsyncRawResponse::from_bytes(status, headers, body)
            }
            None => AsyncRawResponse::from_bytes(status, headers, bytes),
        })
    }
}

/// The message users see for an Entra token error body: the first line of
/// `error_description` (`AADSTS7000215: Invalid client secret provided. …`) without the
/// "Trace ID / Correlation ID / Timestamp" lines, control characters removed, followed by the
/// trace and correlation ids support asks for. `None` when the body is not an Entra error.
pub fn entra_error_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let description = v.get("error_description")?.as_str()?;
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_control())
            .collect::<String>()
            .trim()
            .to_string()
    };
    let mut message = description
        .split(['\r', '\n'])
        .map(clean)
        .find(|l| !l.is_empty())
        .or_else(|| v.get("error").and_then(|e| e.as_str()).map(clean))
        .unwrap_or_default();
    // Ids are GUIDs; anything else in them is not worth showing.
    let id = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
    };
    match (id("trace_id"), id("correlation_id")) {
        (Some(t), Some(c)) => message.push_str(&format!(" (trace ID {t}, correlation ID {c})")),
        (Some(t), None) => message.push_str(&format!(" (trace ID {t})")),
        (None, Some(c)) => message.push_str(&format!(" (correlation ID {c})")),
        (None, None) => {}
    }
    Some(message)
}

/// The error body with `error_description` replaced by [`entra_error_message`], written so
/// that it needs no JSON escape (azure_identity cannot read one): `"` becomes `'`, `\` `/`.
fn rewrite_entra_error(body: &[u8]) -> Option<Vec<u8>> {
    let message = entra_error_message(body)?
        .replace('"', "'")
        .replace('\\', "/");
    let mut v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.as_object_mut()?.insert(
        "error_description".into(),
        serde_json::Value::String(message),
    );
    serde_json::to_vec(&v).ok()
}

/// azure_core retries every connection error for up to a minute; causes no retry can heal
/// (TLS, DNS, refused, bad URL) are handed back as non-retryable errors naming the cause, so a
/// token request fails at once.
fn fail_fast(e: azure_core::Error, request: &Request) -> azure_core::Error {
    match crate::graph::permanent_cause(&e) {
        Some(why) => azure_core::Error::with_message(
            azure_core::error::ErrorKind::Other,
            format!(
                "{why} (token endpoint {})",
                request.url().origin().ascii_serialization()
            ),
        ),
        None => e,
    }
}

/// An azure_core error's message followed by its causes: its own Display names only the
/// outermost context ("authentication failed"), not why.
fn with_causes(e: &azure_core::Error) -> String {
    let mut out = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(cause) = src {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        src = cause.source();
    }
    out
}

/// Error texts from credentials may echo request bodies; never let a secret-looking value out.
/// Control characters (a server's `\r\n`, terminal escapes) never reach the terminal either.
fn redact(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    s.split_whitespace()
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            if lower.contains("client_secret=") || lower.contains("client_assertion=") {
                "[redacted]"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Signs the JWT client assertion for certificate credentials (RS256, `x5t` thumbprint),
/// so no OpenSSL is needed.
#[derive(Clone)]
struct CertificateAssertion {
    client_id: String,
    audience: String,
    key: Arc<aws_lc_rs::signature::RsaKeyPair>,
    x5t: String,
}

impl std::fmt::Debug for CertificateAssertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAssertion")
            .field("client_id", &self.client_id)
            .field("x5t", &self.x5t)
            .finish_non_exhaustive()
    }
}

impl CertificateAssertion {
    fn load(
        path: &std::path::Path,
        client_id: String,
        audience: String,
    ) -> Result<Self, AuthError> {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
        let fail = |why: String| AuthError::Certificate {
            path: path.to_path_buf(),
            why,
        };
        let cert = CertificateDer::pem_file_iter(path)
            .map_err(|e| fail(e.to_string()))?
            .next()
            .ok_or_else(|| fail("no CERTIFICATE block".into()))?
            .map_err(|e| fail(e.to_string()))?;
        let key = PrivatePkcs8KeyDer::from_pem_file(path)
            .map_err(|_| fail("no PKCS#8 PRIVATE KEY block".into()))?;
        let key = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(key.secret_pkcs8_der())
            .map_err(|_| fail("the private key is not an RSA key".into()))?;
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, cert.as_ref());
        Ok(Self {
            client_id,
            audience,
            key: Arc::new(key),
            x5t: URL_SAFE_NO_PAD.encode(digest.as_ref()),
        })
    }

    fn sign(&self) -> Result<String, String> {
        let now = jiff::Timestamp::now().as_second();
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": self.x5t});
        let claims = serde_json::json!({
            "aud": self.audience, "iss": self.client_id, "sub": self.client_id,
            "jti": uuid::Uuid::new_v4().to_string(), "nbf": now, "iat": now, "exp": now + 600,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &rng,
                signing_input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| "signing the client assertion failed".to_string())?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

#[async_trait::async_trait]
impl ClientAssertion for CertificateAssertion {
    async fn secret(
        &self,
        _options: Option<ClientMethodOptions<'_>>,
    ) -> azure_core::Result<String> {
        self.sign().map_err(|e| {
            azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, e)
        })
    }
}
