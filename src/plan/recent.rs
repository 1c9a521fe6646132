//! Objects this machine's applies created moments ago, so that a plan made within Graph's
//! replication window still sees them.
//!
//! Lists and `$filter` lookups lag behind writes by seconds (sometimes minutes). An object the
//! tool finds only by display name (catalogs, packages, policies, Defender roles, …) is
//! invisible to a plan made right after the apply that created it, and that plan would create
//! a twin. Every create is therefore appended to a small local record (JSON lines: endpoint,
//! tenant, address, id, time; never a secret); a plan that finds such an object absent waits a
//! bounded time for it to appear and, if it does not, blocks the tenant instead of planning a
//! second create. Entries expire after [`WINDOW`]; a deletion by the tool supersedes them.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long a created object is expected to take, at most, to show up in lists.
pub(crate) const WINDOW: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Line {
    /// Graph endpoint (`https://graph.microsoft.com`, a sandbox URL): the same tenant id on
    /// another endpoint is another world.
    endpoint: String,
    tenant: String,
    address: String,
    /// The created object's id; `None` records a deletion (or, with `sent`, a create whose
    /// answer has not arrived yet).
    id: Option<String>,
    /// A create was sent and its answer is not recorded: a run killed in between may have
    /// made an object nobody has the id of.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    sent: bool,
    at: jiff::Timestamp,
}

/// A created object not necessarily visible yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    pub address: String,
    /// `None`: the create was sent but its answer never recorded (the run was killed).
    pub id: Option<String>,
    pub at: jiff::Timestamp,
}

/// The record: what was read from the file plus what this process added.
#[derive(Debug, Default)]
pub struct RecentCreates {
    path: Option<PathBuf>,
    /// Replaces the endpoint in keys: the embedded sandbox listens on a new port every run
    /// but its world (and its record) persists in one folder.
    scope: Option<String>,
    latest: Mutex<HashMap<(String, String, String), Line>>,
    /// Waits plans made for objects to appear: tenant name, seconds.
    waits: Mutex<Vec<(String, f64)>>,
}

impl RecentCreates {
    /// An in-memory record (tests, or when no state directory can be used).
    pub(crate) fn in_memory() -> Self {
        Self::default()
    }

    /// The record at `path`; a missing or damaged file (a run killed mid-line) is read as far
    /// as it is intact. Expired entries are dropped.
    pub fn open(path: &Path) -> Self {
        Self::open_scoped(path, None)
    }

    /// [`RecentCreates::open`] with every endpoint treated as `scope`.
    pub(crate) fn open_scoped(path: &Path, scope: Option<&str>) -> Self {
        let now = jiff::Timestamp::now();
        let mut latest = HashMap::new();
        if let Ok(text) = std::fs::read_to_string(path) {
            for line in text.lines() {
                let Ok(l) = serde_json::from_str::<Line>(line) else {
                    continue;
                };
                if !fresh(&l, now) {
                    continue;
                }
                latest.insert((l.endpoint.clone(), l.tenant.clone(), l.address.clone()), l);
            }
        }
        let rc = Self {
            path: Some(path.to_path_buf()),
            scope: scope.map(str::to_string),
            latest: Mutex::new(latest),
            waits: Mutex::default(),
        };
        rc.compact();
        rc
    }

    /// The default place: `$MSSP_STATE_DIR`, else `$XDG_STATE_HOME/mssp`, else
    /// `~/.local/state/mssp`; `None` when none can be determined.
    pub(crate) fn default_path() -> Option<PathBuf> {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let dir = var("MSSP_STATE_DIR")
            .map(PathBuf::from)
            .or_else(|| var("XDG_STATE_HOME").map(|d| PathBuf::from(d).join("mssp")))
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".local/state/mssp")))?;
        Some(dir.join("recent-creates.jsonl"))
    }

    /// Notes that the tool created `id` at `address`.
    pub fn created(&self, endpoint: &str, tenant: &str, address: &str, id: &str) {
        self.push(Line {
            endpoint: self.key(endpoint),
            tenant: tenant.to_ascii_lowercase(),
            address: address.to_string(),
            id: Some(id.to_string()),
            sent: false,
            at: jiff::Timestamp::now(),
        });
    }

    /// Notes that a create is being sent for `address` (before its answer can be recorded).
    pub(crate) fn sending(&self, endpoint: &str, tenant: &str, address: &str) {
        self.push(Line {
            endpoint: self.key(endpoint),
            tenant: tenant.to_ascii_lowercase(),
            address: address.to_string(),
            id: None,
            sent: true,
            at: jiff::Timestamp::now(),
        });
    }

    /// Notes that the tool deleted what was at `address` (its absence is then expected), or
    /// that a read found it (lists have caught up: a later absence is a deletion, not lag).
    pub(crate) fn settled(&self, endpoint: &str, tenant: &str, address: &str) {
        let key = (
            self.key(endpoint),
            tenant.to_ascii_lowercase(),
            address.to_string(),
        );
        let known = self
            .latest
            .lock()
            .map(|m| m.get(&key).is_some_and(|l| l.id.is_some() || l.sent))
            .unwrap_or(false);
        if known {
            self.push(Line {
                endpoint: key.0,
                tenant: key.1,
                address: key.2,
                id: None,
                sent: false,
                at: jiff::Timestamp::now(),
            });
        }
    }

    /// Objects created in `tenant` on `endpoint` within the window.
    pub(crate) fn in_tenant(&self, endpoint: &str, tenant: &str) -> Vec<Created> {
        let now = jiff::Timestamp::now();
        let tenant = tenant.to_ascii_lowercase();
        let endpoint = self.key(endpoint);
        let Ok(m) = self.latest.lock() else {
            return vec![];
        };
        let mut out: Vec<Created> = m
            .values()
            .filter(|l| l.endpoint == endpoint && l.tenant == tenant && fresh(l, now))
            .filter(|l| l.id.is_some() || l.sent)
            .map(|l| Created {
                address: l.address.clone(),
                id: l.id.clone(),
                at: l.at,
            })
            .collect();
        out.sort_by(|a, b| a.address.cmp(&b.address));
        out
    }

    fn key(&self, endpoint: &str) -> String {
        self.scope
            .clone()
            .unwrap_or_else(|| endpoint.trim_end_matches('/').to_string())
    }

    /// Notes that a plan of `tenant` waited `secs` for created objects to show up.
    pub(crate) fn note_wait(&self, tenant: &str, secs: f64) {
        if let Ok(mut w) = self.waits.lock() {
            w.push((tenant.to_string(), secs));
        }
    }

    /// The waits noted so far (and forgets them).
    pub fn take_waits(&self) -> Vec<(String, f64)> {
        self.waits
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default()
    }

    /// Where the record lives, for messages.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn push(&self, l: Line) {
        if let Some(path) = &self.path
            && let Err(e) = append(path, &l)
        {
            // The record is a safety net, not a requirement: say so and go on.
            tracing::warn!(path = %path.display(), error = %e, "cannot write the record of created objects");
        }
        if let Ok(mut m) = self.latest.lock() {
            m.insert((l.endpoint.clone(), l.tenant.clone(), l.address.clone()), l);
        }
    }

    /// Rewrites the file with the live entries only, so it never grows without bound.
    fn compact(&self) {
        let Some(path) = &self.path else { return };
        let Ok(m) = self.latest.lock() else { return };
        if m.is_empty() {
            let _ = std::fs::remove_file(path);
            return;
        }
        let text: String = m
            .values()
            .filter_map(|l| serde_json::to_string(l).ok())
            .map(|s| s + "\n")
            .collect();
        let tmp = path.with_extension("jsonl.tmp");
        if write_private(&tmp, text.as_bytes()).is_ok() {
            let _ = std::fs::rename(&tmp, path);
        }
    }
}

fn fresh(l: &Line, now: jiff::Timestamp) -> bool {
    let age = now.as_millisecond() - l.at.as_millisecond();
    u64::try_from(age).is_ok_and(|ms| ms < u64::try_from(WINDOW.as_millis()).unwrap_or(u64::MAX))
}

fn open_private(path: &Path, append: bool) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true);
    if append {
        opts.append(true);
    } else {
        opts.write(true).truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    open_private(path, false)?.write_all(bytes)
}

fn append(path: &Path, l: &Line) -> std::io::Result<()> {
    let mut line = serde_json::to_string(l).map_err(std::io::Error::other)?;
    line.push('\n');
    // One write call per line: concurrent appenders (O_APPEND) never interleave a line.
    open_private(path, true)?.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deletion_supersedes_a_create_and_the_file_survives_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let r = RecentCreates::open(&path);
        r.created("https://g", "T1", "group/a", "id-a");
        r.created("https://g", "t1", "catalog/c", "id-c");
        r.created("https://other", "t1", "group/b", "id-b");
        r.settled("https://g", "t1", "group/a");
        // A run killed mid-write leaves half a line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"endpoint\":\"https://g\",\"ten")
            .unwrap();
        let again = RecentCreates::open(&path);
        let got: Vec<String> = again
            .in_tenant("https://g", "T1")
            .into_iter()
            .map(|c| format!("{}={}", c.address, c.id.unwrap_or_default()))
            .collect();
        assert_eq!(got, vec!["catalog/c=id-c".to_string()]);
        assert_eq!(again.in_tenant("https://other", "t1").len(), 1);
    }

    #[test]
    fn a_create_sent_without_an_answer_is_remembered_until_settled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        RecentCreates::open(&path).sending("https://g", "t", "catalog/c");
        // A run killed here: the next one knows a create may have happened.
        let next = RecentCreates::open(&path);
        let got = next.in_tenant("https://g", "t");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].id, None);
        next.settled("https://g", "t", "catalog/c");
        assert!(
            RecentCreates::open(&path)
                .in_tenant("https://g", "t")
                .is_empty()
        );
    }

    #[test]
    fn old_entries_expire() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let old = Line {
            endpoint: "e".into(),
            tenant: "t".into(),
            address: "group/a".into(),
            id: Some("x".into()),
            sent: false,
            at: jiff::Timestamp::now() - jiff::SignedDuration::from_secs(3600),
        };
        std::fs::write(&path, serde_json::to_string(&old).unwrap() + "\n").unwrap();
        assert!(RecentCreates::open(&path).in_tenant("e", "t").is_empty());
    }
}
