//! Certificate public keys of the SIEM application (`keyCredentials`, read as part of the
//! application object).

use base64::Engine as _;
use serde::Serialize;
use serde_json::{Value, json};

use super::application::app_object;
use crate::graph::write::{WriteError, Writer, graph_err};
use crate::graph::{Service, Version};
use crate::kinds::{ObserveContext, Permissions, ResourceKind, perms};
use crate::model::observe::{Observed, str_of};
use crate::model::{Address, ObserveError};
use reqwest::Method;

/// A certificate's public key. Natural key: (application, certificate thumbprint).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyCredentialSpec {
    pub application: Address,
    pub path: std::path::PathBuf,
    pub display_name: String,
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

fn key_observe(
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

/// Uploads a certificate's public key: `keyCredentials` is replaced as a whole, so the
/// current keys are sent along.
async fn key_create(
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

impl ResourceKind for KeyCredentialSpec {
    const NAME: &'static str = "key-credential";
    const READ_PERMISSIONS: Permissions = perms::APP_READ;
    const WRITE_PERMISSIONS: Permissions = perms::APP_WRITE;

    // Read as part of the application object.
    fn observe(&self, cx: &ObserveContext<'_>) -> Result<Observed, ObserveError> {
        key_observe(self, app_object(cx), cx.base_dir)
            .map_err(|e| ObserveError::Local(e.to_string()))
    }

    async fn create(&self, at: &Address, w: &Writer<'_>) -> Result<(), WriteError> {
        key_create(self, at, w).await
    }
}
