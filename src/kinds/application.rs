//! The SIEM application registration (upsert by `uniqueName`) and its credentials.

use serde::Serialize;

use crate::model::Address;
use crate::model::values::FixedDuration;

/// Natural key: `uniqueName`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSpec {
    pub unique_name: String,
    pub display_name: String,
    pub sign_in_audience: String,
    pub required_resource_access: Vec<ResourceAccessSpec>,
}

/// Application permissions requested from one API, by app-role value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceAccessSpec {
    pub resource_app_id: String,
    pub resource_name: String,
    pub roles: Vec<String>,
}

/// A federated identity credential. Natural key: (application, `name`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FederatedCredentialSpec {
    pub application: Address,
    pub name: String,
    pub issuer: String,
    pub subject: String,
    pub audiences: Vec<String>,
}

/// A certificate's public key. Natural key: (application, certificate thumbprint).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyCredentialSpec {
    pub application: Address,
    pub path: std::path::PathBuf,
    pub display_name: String,
}

/// A client secret. Natural key: (application, `displayName`). Its value only goes to `sink`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordCredentialSpec {
    pub application: Address,
    pub display_name: String,
    pub validity: FixedDuration,
    pub sink: crate::manifest::SecretSink,
    /// Rotation window; no rotation when absent.
    pub rotate_before: Option<FixedDuration>,
}

use base64::Engine as _;
use serde_json::{Value, json};

use super::service_principal;
use crate::graph::Version;
use crate::model::observe::{Ids, Observed, Read, Snapshot, str_of};
use crate::secrets::{Held, SinkRecord};

fn key(spec: &ApplicationSpec) -> String {
    format!("application:{}", spec.unique_name)
}

fn app_key(application: &Address, ids: &Ids) -> Option<String> {
    ids.of(application).map(|id| format!("application-id:{id}"))
}

pub fn reads(spec: &ApplicationSpec) -> Vec<Read> {
    let mut out = vec![Read::keyed(
        key(spec),
        Version::V1,
        format!(
            "/applications(uniqueName='{}')?$select=id,appId,displayName,signInAudience,requiredResourceAccess,keyCredentials,passwordCredentials",
            spec.unique_name
        ),
    )];
    out.extend(
        spec.required_resource_access
            .iter()
            .map(|r| service_principal::read_for(&r.resource_app_id)),
    );
    out
}

/// The application object as read, for credential checks.
pub fn object<'a>(spec: &ApplicationSpec, snap: &'a Snapshot) -> Option<&'a Value> {
    snap.object(&key(spec)).flatten()
}

pub(crate) fn observe(spec: &ApplicationSpec, snap: &Snapshot) -> Observed {
    match snap.object(&key(spec)) {
        None => Observed::Unknown,
        Some(None) => Observed::Absent,
        Some(Some(v)) => Observed::Present {
            id: str_of(v, "id").to_string(),
            view: json!({
                "displayName": v.get("displayName").cloned().unwrap_or(Value::Null),
                "signInAudience": v.get("signInAudience").cloned().unwrap_or(Value::Null),
                "requiredResourceAccess": actual_access(v, snap),
            }),
        },
    }
}

/// Role ids of `requiredResourceAccess` turned back into role values (via each resource
/// service principal's `appRoles`), sorted, so the comparison is by meaning.
fn actual_access(app: &Value, snap: &Snapshot) -> Value {
    let mut out: Vec<Value> = app
        .get("requiredResourceAccess")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| {
            let resource = str_of(r, "resourceAppId").to_ascii_lowercase();
            let roles_of_sp = snap
                .object(&service_principal::key(&resource))
                .flatten()
                .and_then(|sp| sp.get("appRoles"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut roles: Vec<String> = r
                .get("resourceAccess")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|a| str_of(a, "type") == "Role")
                .map(|a| {
                    let id = str_of(a, "id");
                    roles_of_sp
                        .iter()
                        .find(|x| str_of(x, "id").eq_ignore_ascii_case(id))
                        .map_or_else(|| id.to_string(), |x| str_of(x, "value").to_string())
                })
                .collect();
            roles.sort();
            json!({"resourceAppId": resource, "roles": roles})
        })
        .collect();
    out.sort_by(|a, b| str_of(a, "resourceAppId").cmp(str_of(b, "resourceAppId")));
    json!(out)
}

pub fn view(spec: &ApplicationSpec) -> Value {
    let mut access: Vec<Value> = spec
        .required_resource_access
        .iter()
        .map(|r| {
            let mut roles = r.roles.clone();
            roles.sort();
            json!({"resourceAppId": r.resource_app_id.to_ascii_lowercase(), "roles": roles})
        })
        .collect();
    access.sort_by(|a, b| str_of(a, "resourceAppId").cmp(str_of(b, "resourceAppId")));
    json!({
        "displayName": spec.display_name,
        "signInAudience": spec.sign_in_audience,
        "requiredResourceAccess": access,
    })
}

/// Role ids for the upsert body, resolved from the resource service principals' `appRoles`.
pub(crate) fn upsert_body(spec: &ApplicationSpec, snap: &Snapshot) -> Value {
    let access: Vec<Value> = spec
        .required_resource_access
        .iter()
        .map(|r| {
            let sp = snap
                .object(&service_principal::key(&r.resource_app_id))
                .flatten();
            let roles: Vec<Value> = r
                .roles
                .iter()
                .map(|value| {
                    let id = sp
                        .and_then(|sp| sp.get("appRoles"))
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .find(|x| str_of(x, "value") == value)
                        .map_or_else(
                            || crate::model::observe::KNOWN_AFTER_APPLY.to_string(),
                            |x| str_of(x, "id").to_string(),
                        );
                    json!({"id": id, "type": "Role"})
                })
                .collect();
            json!({"resourceAppId": r.resource_app_id, "resourceAccess": roles})
        })
        .collect();
    json!({
        "displayName": spec.display_name,
        "signInAudience": spec.sign_in_audience,
        "requiredResourceAccess": access,
    })
}

pub(crate) fn fic_reads(spec: &FederatedCredentialSpec, ids: &Ids) -> Vec<Read> {
    let (Some(app), Some(k)) = (ids.of(&spec.application), app_key(&spec.application, ids)) else {
        return vec![];
    };
    vec![Read::list(
        k,
        Version::V1,
        format!("/applications/{app}/federatedIdentityCredentials"),
    )]
}

pub(crate) fn fic_observe(spec: &FederatedCredentialSpec, snap: &Snapshot, ids: &Ids) -> Observed {
    let Some(k) = app_key(&spec.application, ids) else {
        return Observed::Absent;
    };
    let Some(items) = snap.items(&k) else {
        return Observed::Unknown;
    };
    match items.iter().find(|f| str_of(f, "name") == spec.name) {
        None => Observed::Absent,
        Some(f) => Observed::Present {
            id: str_of(f, "id").to_string(),
            view: json!({
                "issuer": f.get("issuer").cloned().unwrap_or(Value::Null),
                "subject": f.get("subject").cloned().unwrap_or(Value::Null),
                "audiences": f.get("audiences").cloned().unwrap_or(Value::Null),
            }),
        },
    }
}

pub(crate) fn fic_view(spec: &FederatedCredentialSpec) -> Value {
    json!({"issuer": spec.issuer, "subject": spec.subject, "audiences": spec.audiences})
}

pub(crate) fn fic_body(spec: &FederatedCredentialSpec) -> Value {
    let mut v = fic_view(spec);
    v["name"] = json!(spec.name);
    v
}

/// A certificate's public part as Graph wants it: base64 DER, and the SHA-1 thumbprint
/// (base64) Graph keeps as `customKeyIdentifier`.
#[derive(Debug, Clone)]
pub struct CertificateFile {
    pub key_base64: String,
    pub thumbprint_base64: String,
    /// The certificate's validity (RFC 3339), sent as the key credential's start and end as
    /// Graph's "add a certificate" examples do, so expiry can be reported and warned about.
    pub not_before: String,
    pub not_after: String,
}

/// Why bytes are not a certificate the tool can send.
#[derive(Debug, thiserror::Error)]
pub enum CertificateParseError {
    #[error("no CERTIFICATE block")]
    NoPemBlock,
    #[error("{0}")]
    Pem(rustls_pki_types::pem::Error),
    #[error("not an X.509 certificate: {0}")]
    NotX509(x509_parser::nom::Err<x509_parser::error::X509Error>),
    #[error("certificate validity: {0}")]
    Validity(jiff::Error),
}

/// A certificate file that could not be read or is not a certificate; names the file.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("{}: {source}", path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Invalid {
        path: std::path::PathBuf,
        source: CertificateParseError,
    },
}

impl CertificateFile {
    pub fn read(path: &std::path::Path) -> Result<Self, CertificateError> {
        let bytes = std::fs::read(path).map_err(|source| CertificateError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&bytes).map_err(|source| CertificateError::Invalid {
            path: path.to_path_buf(),
            source,
        })
    }

    /// A PEM (first CERTIFICATE block) or DER X.509 certificate.
    pub fn parse(bytes: &[u8]) -> Result<Self, CertificateParseError> {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        let der: Vec<u8> = if bytes.starts_with(b"-----") {
            CertificateDer::pem_slice_iter(bytes)
                .next()
                .ok_or(CertificateParseError::NoPemBlock)?
                .map_err(CertificateParseError::Pem)?
                .to_vec()
        } else {
            bytes.to_vec()
        };
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
        let (_, parsed) =
            x509_parser::parse_x509_certificate(&der).map_err(CertificateParseError::NotX509)?;
        let validity = parsed.validity();
        let rfc3339 = |t: &x509_parser::time::ASN1Time| {
            jiff::Timestamp::from_second(t.timestamp())
                .map(|ts| ts.to_string())
                .map_err(CertificateParseError::Validity)
        };
        let b64 = base64::engine::general_purpose::STANDARD;
        Ok(Self {
            key_base64: b64.encode(&der),
            thumbprint_base64: b64.encode(digest.as_ref()),
            not_before: rfc3339(&validity.not_before)?,
            not_after: rfc3339(&validity.not_after)?,
        })
    }
}

pub(crate) fn key_observe(
    spec: &KeyCredentialSpec,
    app: Option<&Value>,
    base_dir: &std::path::Path,
) -> Result<Observed, CertificateError> {
    let Some(app) = app else {
        return Ok(Observed::Absent);
    };
    let cert = CertificateFile::read(&base_dir.join(&spec.path))?;
    let found = app
        .get("keyCredentials")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|k| str_of(k, "customKeyIdentifier") == cert.thumbprint_base64);
    Ok(match found {
        Some(k) => Observed::Present {
            id: str_of(k, "keyId").to_string(),
            view: json!({}),
        },
        None => Observed::Absent,
    })
}

/// The sink's side of a secret, as plans compare it (file sinks only; see `apply::secrets`).
const SINK_HOLDS: &str = "holds the current secret";
const SINK_LOST: &str =
    "does not hold this credential's value (e.g. a run was interrupted); a new secret replaces it";

/// What the secret's sink holds for `app` (an application object as read). Only the MSSP
/// tenant's application is checked: the per-customer variant's apps share one sink.
pub(crate) fn password_held(
    spec: &PasswordCredentialSpec,
    app: Option<&Value>,
    role: crate::model::TenantRole,
    base_dir: &std::path::Path,
) -> Result<Held, crate::secrets::SinkError> {
    match app {
        Some(app) if role == crate::model::TenantRole::Provider => {
            crate::secrets::held(&spec.sink, base_dir, str_of(app, "id"))
        }
        _ => Ok(Held::Unchecked),
    }
}

pub(crate) fn password_observe(
    spec: &PasswordCredentialSpec,
    app: Option<&Value>,
    held: &Held,
) -> Observed {
    let Some(app) = app else {
        return Observed::Absent;
    };
    let mine: Vec<&Value> = app
        .get("passwordCredentials")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| str_of(p, "displayName") == spec.display_name)
        .collect();
    let in_sink = match held {
        Held::KeyId(k) => mine
            .iter()
            .find(|p| str_of(p, "keyId").eq_ignore_ascii_case(k)),
        Held::Nothing | Held::Unchecked => None,
    };
    // The one the sink holds is the current secret; without one, the newest (a rotation that
    // stopped half-way leaves two).
    let Some(current) = in_sink.or_else(|| {
        mine.iter()
            .max_by_key(|p| str_of(p, "endDateTime").to_string())
    }) else {
        return Observed::Absent;
    };
    let mut view = password_view(spec);
    if let Some(window) = &spec.rotate_before {
        let due: Vec<String> = rotation_due(&mine, window, jiff::Timestamp::now())
            .iter()
            .map(|p| str_of(p, "endDateTime").to_string())
            .collect();
        if !due.is_empty() {
            view["rotation"] = json!(format!("due: ends {}", due.join(", ")));
        }
    }
    if view.get("sink").is_some() && *held != Held::Unchecked {
        view["sink"] = json!(if in_sink.is_some() {
            SINK_HOLDS
        } else {
            SINK_LOST
        });
        // Other secrets of this name are values nobody holds: strays of an interrupted run.
        view["unheld"] = json!(mine.len() - 1);
    }
    Observed::Present {
        id: str_of(current, "keyId").to_string(),
        view,
    }
}

/// The desired view of a secret: with rotation, "no secret of this name ends within the
/// window"; with a file sink, "the sink holds the current secret and no other is left".
pub(crate) fn password_view(spec: &PasswordCredentialSpec) -> Value {
    let mut v = json!({});
    if spec.rotate_before.is_some() {
        v["rotation"] = json!("current");
    }
    if matches!(spec.sink, crate::manifest::SecretSink::File(_)) {
        v["sink"] = json!(SINK_HOLDS);
        v["unheld"] = json!(0);
    }
    v
}

/// The secrets among `creds` ending within `window` of `now`.
fn rotation_due<'a>(
    creds: &[&'a Value],
    window: &FixedDuration,
    now: jiff::Timestamp,
) -> Vec<&'a Value> {
    // A window reaching past the end of time leaves nothing to compare with.
    let Ok(limit) = now.checked_add(window.get()) else {
        return vec![];
    };
    creds
        .iter()
        .copied()
        .filter(|p| {
            str_of(p, "endDateTime")
                .parse::<jiff::Timestamp>()
                .is_ok_and(|end| end <= limit)
        })
        .collect()
}

/// Credentials of the application object ending within `window` of `now`.
pub fn expiring(
    app: &Value,
    now: jiff::Timestamp,
    window: std::time::Duration,
) -> Vec<(String, String)> {
    let limit = now.checked_add(window).unwrap_or(now);
    ["passwordCredentials", "keyCredentials"]
        .iter()
        .flat_map(|k| app.get(*k).and_then(Value::as_array).into_iter().flatten())
        .filter_map(|c| {
            let end: jiff::Timestamp = str_of(c, "endDateTime").parse().ok()?;
            (end <= limit).then(|| {
                (
                    c.get("displayName")
                        .and_then(Value::as_str)
                        .unwrap_or("(unnamed)")
                        .to_string(),
                    end.to_string(),
                )
            })
        })
        .collect()
}

use crate::graph::Service;
use crate::graph::write::{WriteError, Writer, graph_err};
use reqwest::Method;

/// Upsert by uniqueName (idempotent); then records the appId customers' service principals need.
pub(crate) async fn upsert(
    spec: &ApplicationSpec,
    at: &Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    // Role ids come from the resource service principals read in this tenant.
    let body = upsert_body(spec, w.snap);
    if body
        .to_string()
        .contains(crate::model::observe::KNOWN_AFTER_APPLY)
    {
        return Err(WriteError::new(
            at,
            "an application permission could not be resolved to a role id in the MSSP tenant",
        ));
    }
    let path = format!("applications(uniqueName='{}')", spec.unique_name);
    let mut tries = 0;
    loop {
        tries += 1;
        match w
            .call(
                at,
                Service::Graph(Version::V1),
                Method::PATCH,
                &path,
                Some(&body),
                &[("Prefer", "create-if-missing")],
            )
            .await
        {
            Err(e)
                if crate::graph::write::outcome_unknown(&e)
                    && tries < crate::graph::write::LOST_ANSWER_TRIES =>
            {
                continue;
            }
            other => {
                other.map_err(graph_err(at))?;
                break;
            }
        }
    }
    let v = w
        .get(
            at,
            Service::Graph(Version::V1),
            &format!("{path}?$select=id,appId"),
        )
        .await
        .map_err(graph_err(at))?;
    w.set_id(at, str_of(&v, "id"));
    w.set_siem_app_id(str_of(&v, "appId"));
    Ok(())
}

pub(crate) async fn fic_create(
    spec: &FederatedCredentialSpec,
    at: &Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    let app = w.id_of(at, &spec.application)?;
    let path = format!("applications/{app}/federatedIdentityCredentials");
    let id = crate::graph::write::create_recovering(
        w,
        at,
        Version::V1,
        &path,
        &fic_body(spec),
        || async {
            let items = w.list(at, Service::Graph(Version::V1), &path).await?;
            Ok(items
                .iter()
                .find(|f| str_of(f, "name") == spec.name)
                .map(|f| str_of(f, "id").to_string()))
        },
    )
    .await?;
    w.set_id(at, &id);
    Ok(())
}

pub(crate) async fn fic_update(
    spec: &FederatedCredentialSpec,
    id: &str,
    at: &Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    let app = w.id_of(at, &spec.application)?;
    crate::graph::write::patch_path(
        w,
        at,
        Version::V1,
        &format!("applications/{app}/federatedIdentityCredentials/{id}"),
        &fic_view(spec),
    )
    .await
}

/// Uploads a certificate's public key: `keyCredentials` is replaced as a whole, so the
/// current keys are sent along.
pub(crate) async fn key_create(
    spec: &KeyCredentialSpec,
    at: &Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    let app = w.id_of(at, &spec.application)?;
    let cert = CertificateFile::read(&w.base_dir.join(&spec.path))
        .map_err(|e| WriteError::new(at, e.to_string()))?;
    let current = w
        .get(
            at,
            Service::Graph(Version::V1),
            &format!("applications/{app}?$select=keyCredentials"),
        )
        .await
        .map_err(graph_err(at))?;
    let mut keys: Vec<Value> = current
        .get("keyCredentials")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    keys.push(json!({
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
        "key": cert.key_base64,
        "displayName": spec.display_name,
        "customKeyIdentifier": cert.thumbprint_base64,
        "startDateTime": cert.not_before,
        "endDateTime": cert.not_after,
    }));
    w.call(
        at,
        Service::Graph(Version::V1),
        Method::PATCH,
        &format!("applications/{app}"),
        Some(&json!({"keyCredentials": keys})),
        &[],
    )
    .await
    .map_err(graph_err(at))?;
    w.set_id(at, &cert.thumbprint_base64);
    Ok(())
}

/// Adds a client secret; its value goes only to the configured sink, never anywhere else.
/// Once the sink holds it, every other secret of the same name is removed: the sink holds one
/// value, so they are either due, replaced, or strays of an interrupted run.
pub(crate) async fn password_create(
    spec: &PasswordCredentialSpec,
    at: &Address,
    w: &Writer<'_>,
) -> Result<String, WriteError> {
    let app = w.id_of(at, &spec.application)?.to_string();
    let app = app.as_str();
    let end = jiff::Timestamp::now()
        .checked_add(spec.validity.get())
        .map_err(|e| WriteError::new(at, e.to_string()))?;
    let body = json!({"passwordCredential": {"displayName": spec.display_name, "endDateTime": end.to_string()}});
    let answer = w
        .call(
            at,
            Service::Graph(Version::V1),
            Method::POST,
            &format!("applications/{app}/addPassword"),
            Some(&body),
            &[],
        )
        .await
        .map_err(graph_err(at))?;
    let body = answer.body.unwrap_or(Value::Null);
    let secret = body
        .get("secretText")
        .and_then(Value::as_str)
        .ok_or_else(|| WriteError::new(at, "addPassword answered without a secret"))?;
    let key_id = str_of(&body, "keyId").to_string();
    let record = SinkRecord {
        key_id: key_id.clone(),
        display_name: spec.display_name.clone(),
        application: app.to_string(),
        tenant_id: w.tg.tenant.clone(),
        stored_at: jiff::Timestamp::now().to_string(),
    };
    if let Err(e) = w
        .secrets
        .store(&spec.sink, w.base_dir, secret, &record)
        .await
    {
        // Nobody will ever know this value: take the credential back rather than leave it.
        let _ = remove_password(app, &key_id, at, w).await;
        return Err(WriteError::new(
            at,
            format!("the new secret could not be stored (it was removed again): {e}"),
        ));
    }
    w.set_id(at, &key_id);
    remove_others(spec, app, &key_id, at, w).await?;
    Ok(key_id)
}

/// Removes, by `keyId`, every secret named like `spec` except `keep`.
async fn remove_others(
    spec: &PasswordCredentialSpec,
    app: &str,
    keep: &str,
    at: &Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    for key in password_key_ids(spec, app, at, w)
        .await?
        .iter()
        .filter(|k| !k.eq_ignore_ascii_case(keep))
    {
        remove_password(app, key, at, w).await?;
    }
    Ok(())
}

/// The keyIds of the application's secrets named like `spec`, read now.
async fn password_key_ids(
    spec: &PasswordCredentialSpec,
    app: &str,
    at: &Address,
    w: &Writer<'_>,
) -> Result<Vec<String>, WriteError> {
    Ok(password_credentials(spec, app, at, w)
        .await?
        .iter()
        .map(|p| str_of(p, "keyId").to_string())
        .collect())
}

async fn password_credentials(
    spec: &PasswordCredentialSpec,
    app: &str,
    at: &Address,
    w: &Writer<'_>,
) -> Result<Vec<Value>, WriteError> {
    let current = w
        .get(
            at,
            Service::Graph(Version::V1),
            &format!("applications/{app}?$select=id,passwordCredentials"),
        )
        .await
        .map_err(graph_err(at))?;
    Ok(current
        .get("passwordCredentials")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| str_of(p, "displayName") == spec.display_name)
        .cloned()
        .collect())
}

async fn remove_password(
    app: &str,
    key_id: &str,
    at: &Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    w.call(
        at,
        Service::Graph(Version::V1),
        Method::POST,
        &format!("applications/{app}/removePassword"),
        Some(&json!({"keyId": key_id})),
        &[],
    )
    .await
    .map_err(graph_err(at))?;
    Ok(())
}

/// An update of a secret: rotation and strays. When the sink holds a secret that is not due,
/// only the others go (strays of an interrupted run, or the old secret of a rotation that
/// stopped after the sink was written). Otherwise a new secret is made first, its value goes
/// into the sink, and only then are the others removed, by `keyId` — so the SIEM always has a
/// working value, and a run that stops in between leaves something the next plan sees.
pub(crate) async fn password_rotate(
    spec: &PasswordCredentialSpec,
    at: &Address,
    w: &Writer<'_>,
) -> Result<(), WriteError> {
    let app = w.id_of(at, &spec.application)?.to_string();
    let mine = password_credentials(spec, &app, at, w).await?;
    let refs: Vec<&Value> = mine.iter().collect();
    let due: Vec<String> = spec
        .rotate_before
        .as_ref()
        .map(|window| {
            rotation_due(&refs, window, jiff::Timestamp::now())
                .iter()
                .map(|p| str_of(p, "keyId").to_string())
                .collect()
        })
        .unwrap_or_default();
    let held = password_held(spec, Some(&json!({"id": app})), w.tenant.role, w.base_dir)
        .map_err(|e| WriteError::new(at, e.to_string()))?;
    match held {
        Held::KeyId(k)
            if refs
                .iter()
                .any(|p| str_of(p, "keyId").eq_ignore_ascii_case(&k))
                && !due.iter().any(|d| d.eq_ignore_ascii_case(&k)) =>
        {
            remove_others(spec, &app, &k, at, w).await
        }
        Held::Unchecked if due.is_empty() => Ok(()),
        _ => password_create(spec, at, w).await.map(|_| ()),
    }
}

pub async fn delete(id: &str, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
    crate::graph::write::delete_path(w, at, Version::V1, &format!("applications/{id}")).await
}

impl crate::kinds::ResourceKind for ApplicationSpec {
    const NAME: &'static str = "application";
    const READ_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::APP_READ;
    const WRITE_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::APP_WRITE;
    const FIELDS: &'static [&'static str] =
        &["displayName", "signInAudience", "requiredResourceAccess"];
    const PROTECTED: bool = true;

    fn reads(&self, _ids: &crate::model::Ids) -> Vec<crate::model::Read> {
        reads(self)
    }
    fn observe(
        &self,
        cx: &crate::kinds::ObserveContext<'_>,
    ) -> Result<crate::model::Observed, crate::model::ObserveError> {
        Ok(observe(self, cx.snap))
    }
    fn view(&self, _ids: &crate::model::Ids) -> serde_json::Value {
        view(self)
    }
    async fn create(
        &self,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        upsert(self, at, w).await
    }
    async fn update(
        &self,
        _id: &str,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        upsert(self, at, w).await
    }
    async fn delete(
        &self,
        id: &str,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        delete(id, at, w).await
    }
}

impl crate::kinds::ResourceKind for FederatedCredentialSpec {
    const NAME: &'static str = "federated-credential";
    const READ_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::APP_READ;
    const WRITE_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::APP_WRITE;
    const FIELDS: &'static [&'static str] = &["issuer", "subject", "audiences"];

    fn reads(&self, ids: &crate::model::Ids) -> Vec<crate::model::Read> {
        fic_reads(self, ids)
    }
    fn observe(
        &self,
        cx: &crate::kinds::ObserveContext<'_>,
    ) -> Result<crate::model::Observed, crate::model::ObserveError> {
        Ok(fic_observe(self, cx.snap, cx.ids))
    }
    fn view(&self, _ids: &crate::model::Ids) -> serde_json::Value {
        fic_view(self)
    }
    async fn create(
        &self,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        fic_create(self, at, w).await
    }
    async fn update(
        &self,
        id: &str,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        fic_update(self, id, at, w).await
    }
}

impl crate::kinds::ResourceKind for KeyCredentialSpec {
    const NAME: &'static str = "key-credential";
    const READ_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::APP_READ;
    const WRITE_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::APP_WRITE;

    // Read as part of the application object.
    fn observe(
        &self,
        cx: &crate::kinds::ObserveContext<'_>,
    ) -> Result<crate::model::Observed, crate::model::ObserveError> {
        key_observe(self, app_object(cx), cx.base_dir)
            .map_err(|e| crate::model::ObserveError::Local(e.to_string()))
    }
    async fn create(
        &self,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        key_create(self, at, w).await
    }
}

impl crate::kinds::ResourceKind for PasswordCredentialSpec {
    const NAME: &'static str = "password-credential";
    const READ_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::APP_READ;
    const WRITE_PERMISSIONS: crate::kinds::Permissions = crate::kinds::perms::APP_WRITE;
    // A secret whose value its sink lost cannot be repaired, only replaced.
    const IMMUTABLE: &'static [&'static str] = &["sink"];

    // Read as part of the application object.
    fn observe(
        &self,
        cx: &crate::kinds::ObserveContext<'_>,
    ) -> Result<crate::model::Observed, crate::model::ObserveError> {
        let app = app_object(cx);
        let held = password_held(self, app, cx.tenant.role, cx.base_dir)
            .map_err(|e| crate::model::ObserveError::Local(e.to_string()))?;
        Ok(password_observe(self, app, &held))
    }
    fn view(&self, _ids: &crate::model::Ids) -> serde_json::Value {
        password_view(self)
    }
    async fn create(
        &self,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        password_create(self, at, w).await.map(|_| ())
    }
    async fn update(
        &self,
        _id: &str,
        at: &crate::model::Address,
        w: &crate::graph::write::Writer<'_>,
    ) -> Result<(), crate::graph::write::WriteError> {
        password_rotate(self, at, w).await
    }
}

/// The application object a credential belongs to (the tenant declares at most one).
fn app_object<'a>(cx: &crate::kinds::ObserveContext<'a>) -> Option<&'a Value> {
    cx.tenant.resources.iter().find_map(|x| match &x.spec {
        crate::model::Spec::Application(a) => object(a, cx.snap),
        _ => None,
    })
}
