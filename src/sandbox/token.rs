//! The Entra token endpoint (`/{tenant}/oauth2/v2.0/token`, client-credentials grant) and the
//! discovery documents MSAL and azure_identity fetch, plus RS256 signing and checking of the
//! sandbox's own access tokens.
//!
//! Client authentication follows Entra: a client secret (compared by SHA-256 with the app's
//! password credentials), a certificate assertion (RS256/PS256 JWT whose signature is checked against the
//! certificates in the app's `keyCredentials`) or a federated assertion (an external JWT whose
//! `iss`/`sub`/`aud` must match a federated identity credential; its signature cannot be checked
//! offline because the external issuer's keys are not reachable, so it is not).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use uuid::Uuid;

use super::errors::{AadError, SandboxError};
use super::state::{self, APP_ROLE_ASSIGNMENTS, DEFENDER_APP_ID, GRAPH_APP_ID, now_ms};

pub const TOKEN_LIFETIME_SECS: i64 = 3599;
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Audiences (resource identifiers) the sandbox issues tokens for, by first-party app.
pub const GRAPH_AUDIENCES: &[&str] = &[
    "https://graph.microsoft.com",
    "https://graph.microsoft.us",
    "https://dod-graph.microsoft.us",
    "https://microsoftgraph.chinacloudapi.cn",
    GRAPH_APP_ID,
];
pub const DEFENDER_AUDIENCES: &[&str] = &[
    "https://api.securitycenter.microsoft.com",
    "https://securitycenter.onmicrosoft.com/windowsatpservice",
    "https://api.security.microsoft.com",
    "https://api-gcc.securitycenter.microsoft.us",
    "https://api-gov.securitycenter.microsoft.us",
    "https://securitycenter.microsoft.us/windowsatpservice",
    DEFENDER_APP_ID,
];

/// RS256 signer of access tokens.
pub struct Signer {
    key: RsaKeyPair,
    kid: String,
}

pub fn generate_signing_key() -> Result<String, SandboxError> {
    let key = RsaKeyPair::generate(KeySize::Rsa2048)
        .map_err(|e| SandboxError::SigningKey(e.to_string()))?;
    let der = key
        .as_der()
        .map_err(|e| SandboxError::SigningKey(e.to_string()))?;
    Ok(STANDARD.encode(der.as_ref()))
}

impl Signer {
    pub fn new(pkcs8_b64: &str, kid: &str) -> Result<Signer, SandboxError> {
        let der = STANDARD
            .decode(pkcs8_b64)
            .map_err(|e| SandboxError::SigningKey(e.to_string()))?;
        let key =
            RsaKeyPair::from_pkcs8(&der).map_err(|e| SandboxError::SigningKey(e.to_string()))?;
        Ok(Signer {
            key,
            kid: kid.to_string(),
        })
    }

    pub fn sign(&self, claims: &Value) -> Option<String> {
        let header = json!({"typ": "JWT", "alg": "RS256", "kid": self.kid, "x5t": self.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.key
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &rng,
                input.as_bytes(),
                &mut sig,
            )
            .ok()?;
        Some(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }

    /// Checks signature and expiry of a sandbox-issued token and returns its claims.
    pub fn verify(&self, token: &str) -> Result<Value, &'static str> {
        let (input, sig) = token
            .rsplit_once('.')
            .ok_or("IDX14100: JWT is not well formed.")?;
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| "IDX14100: JWT is not well formed.")?;
        let public = signature::UnparsedPublicKey::new(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            self.key.public_key().as_ref(),
        );
        public
            .verify(input.as_bytes(), &sig)
            .map_err(|_| "Invalid signature.")?;
        let claims = decode_part(input.split('.').nth(1).unwrap_or_default())
            .ok_or("IDX14100: JWT is not well formed.")?;
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
        if exp * 1000 <= now_ms() {
            return Err("Lifetime validation failed, the token is expired.");
        }
        Ok(claims)
    }

    /// The JWKS document (`/discovery/v2.0/keys`).
    pub fn jwks(&self) -> Value {
        let public = self.key.public_key();
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        json!({"keys": [{"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid, "n": n, "e": e}]})
    }
}

fn decode_part(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The form fields of a token request (secrets are never logged: no Debug).
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_assertion_type: Option<String>,
    pub client_assertion: Option<String>,
    pub scope: Option<String>,
}

impl TokenRequest {
    /// The client: `client_id`, or the `sub` of its assertion.
    pub fn client_id(&self) -> Option<String> {
        self.client_id
            .clone()
            .or_else(|| assertion_claim(self, "sub"))
    }

    pub fn from_form(pairs: Vec<(String, String)>) -> TokenRequest {
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        TokenRequest {
            grant_type: get("grant_type"),
            client_id: get("client_id"),
            client_secret: get("client_secret"),
            client_assertion_type: get("client_assertion_type"),
            client_assertion: get("client_assertion"),
            scope: get("scope"),
        }
    }
}

/// Resolves the `.default` scope to (audience, resource appId).
fn resource_of(scope: &str) -> Option<(String, &'static str)> {
    let aud = scope
        .split_whitespace()
        .find(|s| s.ends_with("/.default"))?
        .trim_end_matches("/.default");
    let aud = aud.trim_end_matches('/');
    if GRAPH_AUDIENCES.iter().any(|a| a.eq_ignore_ascii_case(aud)) {
        return Some((aud.to_string(), GRAPH_APP_ID));
    }
    if DEFENDER_AUDIENCES
        .iter()
        .any(|a| a.eq_ignore_ascii_case(aud))
    {
        return Some((aud.to_string(), DEFENDER_APP_ID));
    }
    None
}

/// What a token request needs from the world, gathered one tenant lock at a time.
pub struct Issuer<'a> {
    /// The tenant the token is for, locked; `None` when no tenant has that id or domain.
    pub tenant: Option<&'a state::Tenant>,
    /// The client's application and its home tenant.
    pub home: Option<(Uuid, &'a state::Entry)>,
    /// The federated identity credentials of that application.
    pub home_fics: &'a [state::Entry],
}

/// Issues a token for `tenant` or answers the AADSTS error Entra would.
pub fn issue(
    st: &Issuer<'_>,
    signer: &Signer,
    tenant: &str,
    req: &TokenRequest,
    token_url: &str,
) -> Result<Value, AadError> {
    let tenant_entry = resolve_tenant(st, tenant)?;
    if req.grant_type.as_deref() != Some("client_credentials") {
        return Err(AadError::new(
            400,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        ));
    }
    let client_id = req.client_id().ok_or_else(|| {
        AadError::new(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        )
    })?;
    let Some((home_tid, app)) = st.home.filter(|(_, a)| {
        a.visible(now_ms())
            && a.str("appId")
                .is_some_and(|v| v.eq_ignore_ascii_case(&client_id))
    }) else {
        return Err(AadError::new(
            400,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
                tenant_entry.domain
            ),
        ));
    };
    authenticate_client(st, app, req, &client_id, token_url)?;
    let scope = req.scope.as_deref().unwrap_or_default();
    let Some((aud, resource_app)) = resource_of(scope) else {
        return Err(AadError::new(
            400,
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        ));
    };
    let Some(client_sp) = tenant_entry
        .sp_by_app_id(&client_id)
        .filter(|e| e.visible(now_ms()))
    else {
        return Err(AadError::new(
            401,
            "invalid_client",
            7000229,
            format!(
                "The client application {client_id} is missing service principal in the tenant {}. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119",
                tenant_entry.id
            ),
        ));
    };
    let Some(resource_sp) = tenant_entry.sp_by_app_id(resource_app) else {
        return Err(AadError::new(
            400,
            "invalid_resource",
            500011,
            format!(
                "The resource principal named {aud} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
                tenant_entry.display_name
            ),
        ));
    };
    let roles: Vec<String> = tenant_entry
        .list(APP_ROLE_ASSIGNMENTS)
        .iter()
        .filter(|a| {
            a.str("principalId") == Some(client_sp.id())
                && a.str("resourceId") == Some(resource_sp.id())
        })
        .filter_map(|a| state::role_value(&resource_sp.v, a.str("appRoleId")?))
        .collect();
    let now = now_ms() / 1000;
    let mut claims = json!({
        "aud": aud, "iss": format!("https://sts.windows.net/{}/", tenant_entry.id), "iat": now, "nbf": now,
        "exp": now + TOKEN_LIFETIME_SECS, "appid": client_id, "appidacr": "1", "idp": format!("https://sts.windows.net/{home_tid}/"),
        "idtyp": "app", "oid": client_sp.id(), "sub": client_sp.id(), "tid": tenant_entry.id.to_string(),
        "uti": state::opaque_id()[..22].to_string(), "ver": "1.0"
    });
    if !roles.is_empty() {
        // Entra omits the claim entirely when nothing is granted.
        claims["roles"] = json!(roles);
    }
    let token = signer.sign(&claims).ok_or_else(|| {
        AadError::new(
            500,
            "temporarily_unavailable",
            90033,
            "A transient error has occurred. Please try again.",
        )
    })?;
    Ok(
        json!({"token_type": "Bearer", "expires_in": TOKEN_LIFETIME_SECS, "ext_expires_in": TOKEN_LIFETIME_SECS, "access_token": token}),
    )
}

fn resolve_tenant<'a>(st: &Issuer<'a>, tenant: &str) -> Result<&'a state::Tenant, AadError> {
    st.tenant.ok_or_else(|| {
        AadError::new(400, "invalid_request", 90002, format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."))
    })
}

fn assertion_claim(req: &TokenRequest, claim: &str) -> Option<String> {
    let jwt = req.client_assertion.as_deref()?;
    decode_part(jwt.split('.').nth(1)?)?
        .get(claim)?
        .as_str()
        .map(str::to_string)
}

fn bad_secret(client_id: &str) -> AadError {
    AadError::new(
        401,
        "invalid_client",
        7000215,
        format!(
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
        ),
    )
}

fn authenticate_client(
    st: &Issuer<'_>,
    app: &state::Entry,
    req: &TokenRequest,
    client_id: &str,
    token_url: &str,
) -> Result<(), AadError> {
    if let Some(secret) = &req.client_secret {
        let hash = state::sha256_hex(secret);
        let known = app
            .v
            .get("_secrets")
            .and_then(Value::as_array)
            .is_some_and(|s| {
                s.iter()
                    .any(|c| c.get("sha256").and_then(Value::as_str) == Some(hash.as_str()))
            });
        return if known {
            Ok(())
        } else {
            Err(bad_secret(client_id))
        };
    }
    let (Some(kind), Some(jwt)) = (&req.client_assertion_type, &req.client_assertion) else {
        return Err(AadError::new(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    };
    if kind != JWT_BEARER {
        return Err(AadError::new(
            400,
            "invalid_request",
            50027,
            "Invalid client_assertion_type.",
        ));
    }
    let parts: Vec<&str> = jwt.split('.').collect();
    let (Some(header), Some(claims), Some(sig)) = (
        parts.first().and_then(|p| decode_part(p)),
        parts.get(1).and_then(|p| decode_part(p)),
        parts.get(2),
    ) else {
        return Err(AadError::new(
            401,
            "invalid_client",
            50027,
            "JWT token is invalid or malformed.",
        ));
    };
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    if exp * 1000 <= now_ms() {
        return Err(AadError::new(
            401,
            "invalid_client",
            700024,
            "Client assertion is not within its valid time range.",
        ));
    }
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if iss.eq_ignore_ascii_case(client_id) {
        verify_certificate_assertion(app, &header, &claims, &parts, sig, token_url)
    } else {
        verify_federated_assertion(st, app, &claims)
    }
}

fn verify_certificate_assertion(
    app: &state::Entry,
    header: &Value,
    claims: &Value,
    parts: &[&str],
    sig: &str,
    token_url: &str,
) -> Result<(), AadError> {
    let aud_ok = claims
        .get("aud")
        .and_then(Value::as_str)
        .is_some_and(|a| a.eq_ignore_ascii_case(token_url) || a.ends_with("/oauth2/v2.0/token"));
    if !aud_ok {
        return Err(AadError::new(
            401,
            "invalid_client",
            700021,
            "Client assertion audience claim does not match Realm issuer.",
        ));
    }
    let alg: &'static dyn rustls::pki_types::SignatureVerificationAlgorithm =
        match header.get("alg").and_then(Value::as_str) {
            Some("RS256") => webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256,
            Some("PS256") => webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
            _ => {
                return Err(AadError::new(
                    401,
                    "invalid_client",
                    5002730,
                    "Invalid JWT token. Unsupported key for the signing algorithm.",
                ));
            }
        };
    let signature = URL_SAFE_NO_PAD.decode(sig).unwrap_or_default();
    let message = format!("{}.{}", parts[0], parts[1]);
    let certs = app
        .v
        .get("keyCredentials")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let verified = certs
        .iter()
        .filter_map(|c| c.get("key")?.as_str())
        .any(|key| {
            let Ok(der) = STANDARD.decode(key) else {
                return false;
            };
            let der = rustls::pki_types::CertificateDer::from(der);
            webpki::EndEntityCert::try_from(&der).is_ok_and(|cert| {
                cert.verify_signature(alg, message.as_bytes(), &signature)
                    .is_ok()
            })
        });
    if verified {
        Ok(())
    } else {
        Err(AadError::new(
            401,
            "invalid_client",
            700027,
            "The certificate with identifier used to sign the client assertion is not registered on application. Client assertion failed signature validation.",
        ))
    }
}

fn verify_federated_assertion(
    st: &Issuer<'_>,
    app: &state::Entry,
    claims: &Value,
) -> Result<(), AadError> {
    let claim = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (iss, sub) = (claim("iss"), claim("sub"));
    let auds: Vec<String> = match claims.get("aud") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => vec![],
    };
    let matched = st
        .home_fics
        .iter()
        .filter(|f| f.parent.as_deref() == Some(app.id()))
        .any(|f| {
            f.str("issuer") == Some(iss.as_str())
                && f.str("subject") == Some(sub.as_str())
                && f.v
                    .get("audiences")
                    .and_then(Value::as_array)
                    .is_some_and(|a| {
                        a.iter()
                            .any(|x| x.as_str().is_some_and(|x| auds.iter().any(|y| y == x)))
                    })
        });
    if matched {
        Ok(())
    } else {
        Err(AadError::new(
            401,
            "invalid_client",
            70021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{}'.",
                auds.join(",")
            ),
        ))
    }
}

/// `/{tenant}/v2.0/.well-known/openid-configuration`.
pub fn openid_configuration(base: &str, tenant: &str) -> Value {
    json!({
        "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{base}/{tenant}/v2.0"),
        "request_uri_parameter_supported": false,
        "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/devicecode"),
        "end_session_endpoint": format!("{base}/{tenant}/oauth2/v2.0/logout"),
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
    })
}

/// `/common/discovery/instance` (MSAL instance discovery).
pub fn instance_discovery(base: &str) -> Value {
    let host = base.trim_start_matches("https://");
    json!({
        "tenant_discovery_endpoint": format!("{base}/common/v2.0/.well-known/openid-configuration"),
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}]
    })
}
