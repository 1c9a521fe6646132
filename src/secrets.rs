//! Where a newly created client secret goes: a file with mode 0600, or an Azure Key Vault
//! secret. The value passes through here once and is never printed, logged or saved elsewhere.
//!
//! Alongside the value the sink records which credential it is (its `keyId`, never the value),
//! so a plan can tell a secret the sink holds from one a crashed run left behind: a file sink
//! gets a sidecar `<file>.mssp.json`, a Key Vault secret the tag `mssp-key-id`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::auth::Tokens;
use crate::manifest::SecretSink;

/// Why a sink could not store a value or say what it holds. Never carries the value.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Record(serde_json::Error),
    #[error("{0}")]
    Token(crate::auth::AuthError),
    #[error("Key Vault {vault}: {source}")]
    VaultUnreachable {
        vault: String,
        source: reqwest::Error,
    },
    #[error("Key Vault {vault} answered {status}")]
    VaultRefused {
        vault: String,
        status: reqwest::StatusCode,
    },
}

pub struct SecretSinks {
    pub http: reqwest::Client,
    pub tokens: Arc<Tokens>,
    /// Tenant and login host used for Key Vault tokens (the MSSP tenant).
    pub tenant: String,
    pub login: String,
}

impl SecretSinks {
    /// Stores `value` and then the record naming its credential. The order matters: a run that
    /// stops between the two leaves a record naming an older credential (or none), which the
    /// next plan treats as "the sink does not hold it" and replaces — never the reverse.
    pub async fn store(
        &self,
        sink: &SecretSink,
        base_dir: &Path,
        value: &str,
        record: &SinkRecord,
    ) -> Result<(), SinkError> {
        match sink {
            SecretSink::File(path) => {
                let path = base_dir.join(path);
                write_private(&path, value)?;
                let json = serde_json::to_string_pretty(record).map_err(SinkError::Record)?;
                write_private(&record_path(&path), &(json + "\n"))
            }
            SecretSink::KeyVault(kv) => {
                let vault = kv.vault_url.value.trim_end_matches('/');
                let audience = vault_audience(vault);
                let token = self
                    .tokens
                    .token(&self.login, &self.tenant, &audience)
                    .await
                    .map_err(SinkError::Token)?;
                let url = format!("{vault}/secrets/{}?api-version=7.4", kv.secret_name);
                let resp = self
                    .http
                    .put(&url)
                    .bearer_auth(token.secret())
                    .json(&serde_json::json!({
                        "value": value,
                        "contentType": "client secret (mssp)",
                        "tags": {
                            "mssp-key-id": record.key_id,
                            "mssp-application": record.application,
                            "mssp-display-name": record.display_name,
                        },
                    }))
                    .send()
                    .await
                    .map_err(|source| SinkError::VaultUnreachable {
                        vault: vault.to_string(),
                        source,
                    })?;
                if resp.status().is_success() {
                    Ok(())
                } else {
                    Err(SinkError::VaultRefused {
                        vault: vault.to_string(),
                        status: resp.status(),
                    })
                }
            }
        }
    }
}

/// Which credential a sink's value belongs to. Holds ids only, never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SinkRecord {
    /// The password credential's `keyId` in Entra.
    pub key_id: String,
    /// The credential's display name (its natural key).
    pub display_name: String,
    /// Object id of the application the credential belongs to.
    pub application: String,
    /// Tenant of that application.
    pub tenant_id: String,
    /// When the value was stored (RFC 3339).
    pub stored_at: String,
}

/// What a sink is known to hold, as far as a plan can tell without touching a secret value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// The value of the credential with this `keyId` (for this application).
    KeyId(String),
    /// No value the tool recorded: missing, empty, or a record that does not match.
    Nothing,
    /// Not checked: Key Vault sinks (their tag is written but plans do not read vaults yet), and
    /// the per-customer variant, whose apps share one sink that can only hold one of them.
    Unchecked,
}

/// Where a file sink's record lives: next to the value, so the value file stays exactly what
/// a SIEM reads (the secret, nothing else).
pub fn record_path(value_file: &Path) -> PathBuf {
    let mut name = value_file.file_name().unwrap_or_default().to_os_string();
    name.push(".mssp.json");
    value_file.with_file_name(name)
}

/// What `sink` holds for the application `application` (object id). Reads the file sink's
/// record and checks that the value file exists and is not empty; the value itself is never
/// read. An unreadable record (other than missing or malformed) is an error, never "nothing".
pub fn held(sink: &SecretSink, base_dir: &Path, application: &str) -> Result<Held, SinkError> {
    let SecretSink::File(path) = sink else {
        return Ok(Held::Unchecked);
    };
    let value_file = base_dir.join(path);
    match std::fs::metadata(&value_file) {
        Ok(m) if m.len() > 0 => {}
        Ok(_) => return Ok(Held::Nothing),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Held::Nothing),
        Err(e) => return Err(err(&value_file)(e)),
    }
    let at = record_path(&value_file);
    let text = match std::fs::read_to_string(&at) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Held::Nothing),
        Err(e) => return Err(err(&at)(e)),
    };
    // A record that cannot be parsed says nothing reliable: the credential is replaced and the
    // record written anew.
    Ok(match serde_json::from_str::<SinkRecord>(&text) {
        Ok(r) if r.application.eq_ignore_ascii_case(application) => Held::KeyId(r.key_id),
        _ => Held::Nothing,
    })
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

fn err(p: &Path) -> impl Fn(std::io::Error) -> SinkError + '_ {
    move |source| SinkError::Io {
        path: p.to_path_buf(),
        source,
    }
}

/// Writes a file readable only by its owner. The content goes to a temporary file in the same
/// directory that is then renamed over `path`, so a crash never leaves half a secret behind.
pub(crate) fn write_private(path: &Path, value: &str) -> Result<(), SinkError> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err(dir))?;
    }
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let written = (|| {
        let mut f = opts.open(&tmp).map_err(err(&tmp))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // A leftover file keeps its mode on open: tighten it explicitly.
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
                .map_err(err(&tmp))?;
        }
        f.write_all(value.as_bytes()).map_err(err(&tmp))?;
        f.sync_all().map_err(err(&tmp))?;
        std::fs::rename(&tmp, path).map_err(err(path))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key_id: &str, application: &str) -> String {
        serde_json::to_string(&SinkRecord {
            key_id: key_id.into(),
            display_name: "siem".into(),
            application: application.into(),
            tenant_id: "t".into(),
            stored_at: "2026-11-29T00:00:00Z".into(),
        })
        .unwrap()
    }

    #[test]
    fn a_file_sink_holds_only_what_its_record_names_for_that_application() {
        let dir = tempfile::tempdir().unwrap();
        let sink = SecretSink::File("s/secret.txt".into());
        assert_eq!(held(&sink, dir.path(), "app").unwrap(), Held::Nothing);
        write_private(&dir.path().join("s/secret.txt"), "value").unwrap();
        // A value without a record: nobody knows whose it is.
        assert_eq!(held(&sink, dir.path(), "app").unwrap(), Held::Nothing);
        let at = record_path(&dir.path().join("s/secret.txt"));
        assert_eq!(at, dir.path().join("s/secret.txt.mssp.json"));
        write_private(&at, &record("k1", "APP")).unwrap();
        assert_eq!(
            held(&sink, dir.path(), "app").unwrap(),
            Held::KeyId("k1".into())
        );
        assert_eq!(held(&sink, dir.path(), "other").unwrap(), Held::Nothing);
        write_private(&at, "{not json").unwrap();
        assert_eq!(held(&sink, dir.path(), "app").unwrap(), Held::Nothing);
        // An emptied value file holds nothing, whatever the record says.
        write_private(&at, &record("k1", "app")).unwrap();
        write_private(&dir.path().join("s/secret.txt"), "").unwrap();
        assert_eq!(held(&sink, dir.path(), "app").unwrap(), Held::Nothing);
        let kv = SecretSink::KeyVault(crate::manifest::KeyVaultSink {
            vault_url: crate::manifest::Loc::synthetic("https://v.vault.azure.net".into()),
            secret_name: "s".into(),
        });
        assert_eq!(held(&kv, dir.path(), "app").unwrap(), Held::Unchecked);
    }

    #[cfg(unix)]
    #[test]
    fn private_files_are_replaced_whole_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret.txt");
        std::fs::write(&p, "old and longer").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&p, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
    }
}
