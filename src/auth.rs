//! Credentials: one access token per customer tenant, through `azure_identity`.
//!
//! The tool authenticates as one (multi-tenant) application and asks for a token in each
//! customer tenant (authority = that tenant). Which credential is used comes from the usual
//! `AZURE_*` variables; every credential gets our HTTP client, so a custom CA bundle
//! (`MSSP_CA_BUNDLE`) and the cloud's login host apply to token requests too.
//! Secrets are held in `azure_core`'s `Secret`, whose `Debug` never shows the value.
//!
//! CI identities never read a token once and keep it: GitHub's OIDC token is requested anew
//! for every token exchange (`ACTIONS_ID_TOKEN_REQUEST_URL`), and Azure Pipelines service
//! connections go through `AzurePipelinesCredential`, which asks Azure DevOps per exchange too,
//! so a run longer than a CI token's few minutes of life keeps signing in.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{
    AsyncRawResponse, ClientMethodOptions, ClientOptions, HttpClient, Request, Transport,
};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, AzurePipelinesCredential,
    AzurePipelinesCredentialOptions, ClientAssertion, ClientAssertionCredential,
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
    /// `AZURE_CLIENT_ID` + `AZURE_FEDERATED_TOKEN_FILE` (Kubernetes workload identity; the
    /// file must be kept fresh by whoever writes it).
    WorkloadIdentity,
    /// `AZURE_CLIENT_ID` + GitHub Actions' `ACTIONS_ID_TOKEN_REQUEST_URL` and
    /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN` (a job with `id-token: write`): a fresh OIDC token for
    /// every token exchange.
    GithubOidc,
    /// An Azure Pipelines service connection (workload identity federation):
    /// `AZURESUBSCRIPTION_CLIENT_ID`, `AZURESUBSCRIPTION_SERVICE_CONNECTION_ID`,
    /// `SYSTEM_ACCESSTOKEN` and the agent's `SYSTEM_OIDCREQUESTURI`.
    AzurePipelines,
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
    /// GitHub Actions' OIDC token request endpoint and its bearer token.
    pub github_oidc: Option<GithubOidc>,
    /// An Azure Pipelines service connection.
    pub azure_pipelines: Option<AzurePipelines>,
}

/// Where a GitHub Actions job asks for its OIDC token (`ACTIONS_ID_TOKEN_REQUEST_URL`) and the
/// bearer token that request needs (`ACTIONS_ID_TOKEN_REQUEST_TOKEN`).
#[derive(Debug, Clone)]
pub struct GithubOidc {
    pub request_url: String,
    pub request_token: Secret,
}

/// An Azure Pipelines service connection: its id and the job's `System.AccessToken`.
#[derive(Debug, Clone)]
pub struct AzurePipelines {
    pub service_connection_id: String,
    pub system_access_token: Secret,
}

impl AuthConfig {
    pub(crate) fn from_env(method: AuthMethod) -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            method,
            client_id: var("AZURE_CLIENT_ID"),
            client_secret: var("AZURE_CLIENT_SECRET").map(Secret::new),
            certificate_path: var("AZURE_CLIENT_CERTIFICATE_PATH").map(PathBuf::from),
            federated_token_file: var("AZURE_FEDERATED_TOKEN_FILE").map(PathBuf::from),
            github_oidc: var("ACTIONS_ID_TOKEN_REQUEST_URL")
                .zip(var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))
                .map(|(request_url, token)| GithubOidc {
                    request_url,
                    request_token: Secret::new(token),
                }),
            // The service connection's own variables, as AzureCLI@2 / AzurePowerShell@5 set
            // them; the OIDC endpoint (`SYSTEM_OIDCREQUESTURI`) is read by azure_identity.
            azure_pipelines: var("AZURESUBSCRIPTION_SERVICE_CONNECTION_ID")
                .zip(var("SYSTEM_ACCESSTOKEN"))
                .filter(|_| var("SYSTEM_OIDCREQUESTURI").is_some())
                .map(|(service_connection_id, token)| AzurePipelines {
                    service_connection_id,
                    system_access_token: Secret::new(token),
                }),
        }
        .with_client_id_fallback(var("AZURESUBSCRIPTION_CLIENT_ID"))
    }

    /// A service connection names its app in `AZURESUBSCRIPTION_CLIENT_ID`; `AZURE_CLIENT_ID`
    /// still wins when both are set.
    fn with_client_id_fallback(mut self, fallback: Option<String>) -> Self {
        if self.client_id.is_none() && self.azure_pipelines.is_some() {
            self.client_id = fallback;
        }
        self
    }

    /// The method `Auto` resolves to.
    pub(crate) fn effective_method(&self) -> AuthMethod {
        if self.method != AuthMethod::Auto {
            return self.method;
        }
        if self.client_secret.is_some() {
            AuthMethod::Secret
        } else if self.certificate_path.is_some() {
            AuthMethod::Certificate
        } else if self.federated_token_file.is_some() {
            AuthMethod::WorkloadIdentity
        } else if self.github_oidc.is_some() {
            AuthMethod::GithubOidc
        } else if self.azure_pipelines.is_some() {
            AuthMethod::AzurePipelines
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

    /// Drops the credential of `tenant` and the tokens it caches: a run over thousands of
    /// tenants that is done with one need not hold its credential (a few KB each) to the end.
    /// A later [`Tokens::token`] for the tenant builds a new one and asks Entra again.
    pub async fn release(&self, login: &str, tenant: &str) {
        let key = format!("{}/{tenant}", login.trim_end_matches('/'));
        self.credentials.lock().await.remove(&key);
    }

    /// How many tenants' credentials are held (tests check that a plan releases them).
    pub async fn held(&self) -> usize {
        self.credentials.lock().await.len()
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
            AuthMethod::GithubOidc => {
                let oidc = cfg.github_oidc.clone().ok_or(AuthError::Missing(
                    "ACTIONS_ID_TOKEN_REQUEST_URL or ACTIONS_ID_TOKEN_REQUEST_TOKEN (a GitHub job needs `permissions: id-token: write`)",
                ))?;
                ClientAssertionCredential::new(
                    tenant.to_string(),
                    client_id()?,
                    GithubOidcAssertion::new(oidc, self.http.clone())?,
                    Some(ClientAssertionCredentialOptions {
                        client_options: self.client_options(login),
                    }),
                )
                .map_err(err)?
            }
            AuthMethod::AzurePipelines => {
                let sc = cfg.azure_pipelines.clone().ok_or(AuthError::Missing(
                    "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID, SYSTEM_ACCESSTOKEN or SYSTEM_OIDCREQUESTURI",
                ))?;
                AzurePipelinesCredential::new(
                    tenant.to_string(),
                    client_id()?,
                    &sc.service_connection_id,
                    sc.system_access_token,
                    Some(AzurePipelinesCredentialOptions {
                        credential_options: ClientAssertionCredentialOptions {
                            client_options: self.client_options(login),
                        },
                    }),
                )
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

/// The audience Entra ID expects on federated tokens (workload identity federation).
pub(crate) const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// Largest OIDC token answer read (GitHub's are about 1 KiB).
const MAX_OIDC_BODY: usize = 64 * 1024;

/// GitHub Actions' OIDC token, requested anew for every token exchange: a token read once
/// expires after minutes, and one run signs in to many tenants, one after the other.
struct GithubOidcAssertion {
    url: url::Url,
    request_token: Secret,
    http: reqwest::Client,
}

impl std::fmt::Debug for GithubOidcAssertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubOidcAssertion")
            .field("origin", &self.url.origin().ascii_serialization())
            .finish_non_exhaustive()
    }
}

impl GithubOidcAssertion {
    fn new(oidc: GithubOidc, http: reqwest::Client) -> Result<Self, AuthError> {
        let mut url = url::Url::parse(&oidc.request_url).map_err(|e| {
            AuthError::Credential(format!("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL ({e})"))
        })?;
        // The request token is a bearer secret: only over TLS, or to this machine (a runner's
        // local stand-in, the tests' fake issuer).
        let loopback = match url.host() {
            Some(url::Host::Ipv4(a)) => a.is_loopback(),
            Some(url::Host::Ipv6(a)) => a.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err(AuthError::Credential(format!(
                "ACTIONS_ID_TOKEN_REQUEST_URL must use https, not {}",
                url.scheme()
            )));
        }
        url.query_pairs_mut()
            .append_pair("audience", TOKEN_EXCHANGE_AUDIENCE);
        Ok(Self {
            url,
            request_token: oidc.request_token,
            http,
        })
    }

    async fn fetch(&self) -> Result<String, OidcError> {
        let origin = self.url.origin().ascii_serialization();
        let resp = self
            .http
            .get(self.url.clone())
            .header(
                reqwest::header::AUTHORIZATION,
                format!("bearer {}", self.request_token.secret()),
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|source| OidcError::Unreachable {
                origin: origin.clone(),
                source,
            })?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|source| OidcError::Cut {
            origin: origin.clone(),
            source,
        })?;
        if !status.is_success() {
            return Err(OidcError::Refused { origin, status });
        }
        if body.len() > MAX_OIDC_BODY {
            return Err(OidcError::TooLarge { origin });
        }
        serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("value")?.as_str().map(str::to_string))
            .filter(|t| !t.is_empty())
            .ok_or(OidcError::NoValue { origin })
    }
}

/// Why GitHub's OIDC token could not be had; names the origin asked, never the request token.
#[derive(Debug, thiserror::Error)]
enum OidcError {
    #[error("GitHub's OIDC token request to {origin} failed: {source}")]
    Unreachable {
        origin: String,
        source: reqwest::Error,
    },
    #[error("GitHub's OIDC token answer from {origin} was cut: {source}")]
    Cut {
        origin: String,
        source: reqwest::Error,
    },
    #[error(
        "GitHub's OIDC token request to {origin} answered {status} (does the job have `permissions: id-token: write`?)"
    )]
    Refused {
        origin: String,
        status: reqwest::StatusCode,
    },
    #[error("GitHub's OIDC token answer from {origin} is larger than {MAX_OIDC_BODY} bytes")]
    TooLarge { origin: String },
    #[error("GitHub's OIDC token answer from {origin} has no `value` string")]
    NoValue { origin: String },
}

/// The platform's signer refused to sign the client assertion (it gives no reason).
#[derive(Debug, thiserror::Error)]
#[error("signing the client assertion failed")]
struct SigningFailed;

#[async_trait::async_trait]
impl ClientAssertion for GithubOidcAssertion {
    async fn secret(
        &self,
        _options: Option<ClientMethodOptions<'_>>,
    ) -> azure_core::Result<String> {
        self.fetch().await.map_err(|e| {
            azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, e.to_string())
        })
    }
}

/// Signs the JWT client assertion for certificate credentials as Entra's current reference
/// describes it ("Microsoft identity platform certificate credentials"): PS256 (RSASSA-PSS)
/// and the certificate's SHA-256 thumbprint in `x5t#S256`, so no OpenSSL is needed.
#[derive(Clone)]
struct CertificateAssertion {
    client_id: String,
    audience: String,
    key: Arc<aws_lc_rs::signature::RsaKeyPair>,
    x5t_s256: String,
}

impl std::fmt::Debug for CertificateAssertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAssertion")
            .field("client_id", &self.client_id)
            .field("x5t#S256", &self.x5t_s256)
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
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.as_ref());
        Ok(Self {
            client_id,
            audience,
            key: Arc::new(key),
            x5t_s256: URL_SAFE_NO_PAD.encode(digest.as_ref()),
        })
    }

    fn sign(&self) -> Result<String, SigningFailed> {
        let now = jiff::Timestamp::now().as_second();
        let header = serde_json::json!({"alg": "PS256", "typ": "JWT", "x5t#S256": self.x5t_s256});
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
                &aws_lc_rs::signature::RSA_PSS_SHA256,
                &rng,
                signing_input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| SigningFailed)?;
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
            azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;

    /// Entra's current reference: `alg` PS256 (PSS padding) and `x5t#S256`, the SHA-256
    /// thumbprint of the certificate's DER encoding.
    #[test]
    fn certificate_assertions_are_ps256_with_a_sha256_thumbprint() {
        let rsa =
            aws_lc_rs::signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pkcs8 =
            rustls_pki_types::PrivatePkcs8KeyDer::from(rsa.as_der().unwrap().as_ref().to_vec());
        let key =
            rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["mssp".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("tool.pem");
        std::fs::write(&pem, format!("{}{}", key.serialize_pem(), cert.pem())).unwrap();
        let a = CertificateAssertion::load(
            &pem,
            "client".into(),
            "https://login/t/oauth2/v2.0/token".into(),
        )
        .unwrap();
        let jwt = a.sign().unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "PS256");
        assert_eq!(header["typ"], "JWT");
        let thumb = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.der());
        assert_eq!(header["x5t#S256"], URL_SAFE_NO_PAD.encode(thumb.as_ref()));
        assert!(header.get("x5t").is_none(), "{header}");
        let der = rustls_pki_types::CertificateDer::from(cert.der().to_vec());
        let ee = webpki::EndEntityCert::try_from(&der).unwrap();
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        let message = format!("{}.{}", parts[0], parts[1]);
        ee.verify_signature(
            webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
            message.as_bytes(),
            &sig,
        )
        .expect("a PSS signature");
    }

    #[test]
    fn the_github_oidc_request_stays_on_tls_and_asks_for_entras_audience() {
        let http = reqwest::Client::new();
        let oidc = |u: &str| GithubOidc {
            request_url: u.into(),
            request_token: Secret::new("request-token".to_string()),
        };
        let a = GithubOidcAssertion::new(
            oidc(
                "https://pipelines.actions.githubusercontent.example/abc/idtoken/x?api-version=2.0",
            ),
            http.clone(),
        )
        .unwrap();
        assert_eq!(
            a.url.query(),
            Some("api-version=2.0&audience=api%3A%2F%2FAzureADTokenExchange")
        );
        assert!(GithubOidcAssertion::new(oidc("http://token.example/x"), http.clone()).is_err());
        assert!(GithubOidcAssertion::new(oidc("http://127.0.0.1:9/x"), http).is_ok());
        assert!(!format!("{a:?}").contains("request-token"));
    }
}
