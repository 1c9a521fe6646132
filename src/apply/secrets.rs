//! Where a newly created client secret goes: a file with mode 0600, or an Azure Key Vault
//! secret. The value passes through here once and is never printed, logged or saved elsewhere.

use std::path::Path;
use std::sync::Arc;

use crate::auth::Tokens;
use crate::manifest::SecretSink;

pub struct SecretSinks {
    pub http: reqwest::Client,
    pub tokens: Arc<Tokens>,
    /// Tenant and login host used for Key Vault tokens (the MSSP tenant).
    pub tenant: String,
    pub login: String,
}

impl SecretSinks {
    pub async fn store(
        &self,
        sink: &SecretSink,
        base_dir: &Path,
        value: &str,
    ) -> Result<(), String> {
        match sink {
            SecretSink::File(path) => write_private(&base_dir.join(path), value),
            SecretSink::KeyVault(kv) => {
                let vault = kv.vault_url.value.trim_end_matches('/');
                let audience = vault_audience(vault);
                let token = self
                    .tokens
                    .token(&self.login, &self.tenant, &audience)
                    .await
                    .map_err(|e| e.to_string())?;
                let url = format!("{vault}/secrets/{}?api-version=7.4", kv.secret_name);
                let resp = self
                    .http
                    .put(&url)
                    .bearer_auth(token.secret())
                    .json(
                        &serde_json::json!({"value": value, "contentType": "client secret (mssp)"}),
                    )
                    .send()
                    .await
                    .map_err(|e| format!("Key Vault {vault}: {e}"))?;
                if resp.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("Key Vault {vault} answered {}", resp.status()))
                }
            }
        }
    }
}

/// Key Vault's token audience for a vault URL (`*.vault.azure.net` → `https://vault.azure.net`).
fn vault_audience(vault: &str) -> String {
    let host = vault
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap_or_default();
    match host.split_once(".vault.") {
        Some((_, suffix)) => format!("https://vault.{suffix}"),
        None => "https://vault.azure.net".into(),
    }
}

/// Writes a file readable only by its owner.
pub fn write_private(path: &Path, value: &str) -> Result<(), String> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // An existing file keeps its mode on open: tighten it explicitly.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    f.write_all(value.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}
