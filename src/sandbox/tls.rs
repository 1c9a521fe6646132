//! TLS material: a sandbox CA (persisted with the state so clients keep trusting it across restarts)
//! and a fresh leaf certificate for `127.0.0.1` / `localhost` signed by it on every start.
//!
//! A CA plus leaf, rather than one self-signed leaf, because that is what a TLS-inspecting proxy looks
//! like too: the tool only ever learns "trust this extra root", never "trust this server certificate".

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use serde::{Deserialize, Serialize};

use super::errors::SandboxError;

/// The CA certificate and its private key, PEM encoded (stored in the state file).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaMaterial {
    pub cert_pem: String,
    pub key_pem: String,
}

/// What the HTTPS listener needs: leaf chain and key, PEM encoded.
pub struct ServerMaterial {
    pub chain_pem: String,
    pub key_pem: String,
}

fn tls_err(e: rcgen::Error) -> SandboxError {
    SandboxError::Tls(e.to_string())
}

/// Generates a new sandbox CA.
/// The CA's parameters; rebuilt identically when issuing so the leaf's issuer name matches the CA.
fn ca_params() -> Result<CertificateParams, SandboxError> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "mssp sandbox CA");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "mssp sandbox (not a real CA)");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

pub(crate) fn generate_ca() -> Result<CaMaterial, SandboxError> {
    let key = KeyPair::generate().map_err(tls_err)?;
    let cert = ca_params()?.self_signed(&key).map_err(tls_err)?;
    Ok(CaMaterial {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Issues a leaf certificate for the loopback names, signed by `ca`.
pub(crate) fn issue_server_cert(ca: &CaMaterial) -> Result<ServerMaterial, SandboxError> {
    let ca_key = KeyPair::from_pem(&ca.key_pem).map_err(tls_err)?;
    let issuer = Issuer::new(ca_params()?, ca_key);
    let key = KeyPair::generate().map_err(tls_err)?;
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .map_err(tls_err)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "mssp sandbox");
    let cert = params.signed_by(&key, &issuer).map_err(tls_err)?;
    Ok(ServerMaterial {
        chain_pem: format!("{}{}", cert.pem(), ca.cert_pem),
        key_pem: key.serialize_pem(),
    })
}
