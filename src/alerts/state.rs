//! The alerts state file: per-customer watermarks, the ids already delivered at (or after) the
//! watermark, the committed length of the NDJSON file, and which (rule, alert) pairs were notified.
//!
//! It is rewritten atomically (temporary file, fsync, rename) after every page, and only after
//! that page's output reached its sink, so a crash loses nothing: at worst the last page is fetched
//! again, and the `pending` keys recorded for it stop it from being delivered twice.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::AlertsError;

/// Current format of the state file.
pub(crate) const STATE_VERSION: u32 = 1;

/// The whole state file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertState {
    pub version: u32,
    /// Per `<consumer>:<customer>:<stream>` (consumer = `fetch` or `notify`).
    #[serde(default)]
    pub cursors: BTreeMap<String, Cursor>,
    /// The NDJSON file `alerts fetch --out` appends to, and how much of it is committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputMark>,
    /// `<customer>/<rule>` → alert id already notified under that rule → when it was recorded
    /// (RFC 3339; empty when read from a state written before this was kept). Entries older than
    /// [`NOTIFIED_RETENTION_DAYS`] are pruned, so the file does not grow without end.
    #[serde(default, deserialize_with = "notified_compat")]
    pub notified: BTreeMap<String, BTreeMap<String, String>>,
}

/// How long an alert id stays in the notified set. An alert updated again after that is
/// notified again under the same rule: the price of a state file that stops growing.
pub(crate) const NOTIFIED_RETENTION_DAYS: i64 = 90;

/// Reads the notified set in either form: ids with the time they were recorded, or the
/// earlier list of ids (which get no time, and are stamped at the next prune).
fn notified_compat<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Ids {
        Stamped(BTreeMap<String, String>),
        Plain(BTreeSet<String>),
    }
    let raw = BTreeMap::<String, Ids>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|(k, ids)| {
            let ids = match ids {
                Ids::Stamped(m) => m,
                Ids::Plain(s) => s.into_iter().map(|id| (id, String::new())).collect(),
            };
            (k, ids)
        })
        .collect())
}

/// Where one stream of one customer stands.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cursor {
    /// The customer's tenant, to notice a manifest that now points elsewhere.
    pub tenant_id: String,
    /// Greatest `lastUpdateDateTime` of a completed run; the next run asks for `ge` this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<String>,
    /// Keys (`id|lastUpdate`) of items updated exactly at the watermark: `ge` returns them
    /// again, and they must not be delivered again.
    #[serde(default)]
    pub at_watermark: BTreeSet<String>,
    /// Keys delivered by a run that has not completed yet (a crash or a failed page).
    #[serde(default)]
    pub pending: BTreeSet<String>,
}

/// Committed length of the NDJSON output file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OutputMark {
    pub path: PathBuf,
    pub committed_len: u64,
}

/// An item's identity for deduplication: its id and its last update (an updated alert is
/// delivered again; the same version never is).
pub(crate) fn item_key(id: &str, updated: &str) -> String {
    format!("{id}|{updated}")
}

fn key_time(key: &str) -> Option<jiff::Timestamp> {
    key.rsplit_once('|').and_then(|(_, t)| t.parse().ok())
}

impl Cursor {
    /// Has this version of the item been delivered already?
    pub fn seen(&self, key: &str) -> bool {
        self.at_watermark.contains(key) || self.pending.contains(key)
    }

    /// The run completed: move the watermark to the newest update delivered and keep only the
    /// keys at that instant.
    pub fn complete(&mut self) {
        let all: Vec<&String> = self.at_watermark.iter().chain(&self.pending).collect();
        let newest = all.iter().filter_map(|k| key_time(k)).max();
        let current = self
            .watermark
            .as_deref()
            .and_then(|w| w.parse::<jiff::Timestamp>().ok());
        let Some(newest) = newest.max(current) else {
            self.pending.clear();
            return;
        };
        let keep: BTreeSet<String> = all
            .into_iter()
            .filter(|k| key_time(k) == Some(newest))
            .cloned()
            .collect();
        self.watermark = Some(newest.to_string());
        self.at_watermark = keep;
        self.pending.clear();
    }
}

impl AlertState {
    /// Loads the state file; a missing file is an empty state.
    pub fn load(path: &Path) -> Result<Self, AlertsError> {
        let fail = |why: String| AlertsError::State {
            path: path.to_path_buf(),
            why,
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self {
                    version: STATE_VERSION,
                    ..Self::default()
                });
            }
            Err(e) => return Err(fail(e.to_string())),
        };
        let st: Self = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
        if st.version != STATE_VERSION {
            return Err(fail(format!(
                "format {} (this mssp reads format {STATE_VERSION})",
                st.version
            )));
        }
        Ok(st)
    }

    /// Writes the state atomically: a reader (or a crash) sees the old file or the new one.
    pub fn save(&self, path: &Path) -> Result<(), AlertsError> {
        let fail = |why: String| AlertsError::State {
            path: path.to_path_buf(),
            why,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(|e| fail(e.to_string()))?;
        let text = serde_json::to_string_pretty(self).map_err(|e| fail(e.to_string()))?;
        let mut tmp = tempfile_in(&dir, path).map_err(|e| fail(e.to_string()))?;
        tmp.1
            .write_all(text.as_bytes())
            .and_then(|()| tmp.1.sync_all())
            .map_err(|e| fail(e.to_string()))?;
        std::fs::rename(&tmp.0, path).map_err(|e| fail(e.to_string()))?;
        // The rename itself must survive a power loss too.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Records that `id` was notified under `rule_key` at `now`.
    pub(crate) fn mark_notified(&mut self, rule_key: String, id: &str, now: jiff::Timestamp) {
        self.notified
            .entry(rule_key)
            .or_default()
            .insert(id.to_string(), now.to_string());
    }

    /// Whether `id` was already notified under `rule_key`.
    pub(crate) fn was_notified(&self, rule_key: &str, id: &str) -> bool {
        self.notified
            .get(rule_key)
            .is_some_and(|s| s.contains_key(id))
    }

    /// Drops notified ids recorded more than `NOTIFIED_RETENTION_DAYS` before `now`; ids
    /// without a time (older state files) are stamped `now` and age out from there.
    pub(crate) fn prune_notified(&mut self, now: jiff::Timestamp) -> usize {
        let cutoff = now - jiff::SignedDuration::from_hours(NOTIFIED_RETENTION_DAYS * 24);
        let mut dropped = 0;
        for ids in self.notified.values_mut() {
            ids.retain(|_, at| match at.parse::<jiff::Timestamp>() {
                Ok(t) if t < cutoff => {
                    dropped += 1;
                    false
                }
                Ok(_) => true,
                Err(_) => {
                    *at = now.to_string();
                    true
                }
            });
        }
        self.notified.retain(|_, ids| !ids.is_empty());
        dropped
    }

    pub fn cursor(&mut self, key: &str, tenant_id: &str) -> &mut Cursor {
        let c = self.cursors.entry(key.to_string()).or_default();
        if c.tenant_id != tenant_id {
            // A customer moved to another tenant: its old position means nothing there.
            *c = Cursor {
                tenant_id: tenant_id.to_string(),
                ..Cursor::default()
            };
        }
        c
    }
}

/// Exclusive use of a state file for one run, so two runs (overlapping cron jobs, CI retries)
/// cannot interleave their pages and state saves (which would repeat or lose lines). The lock
/// is an OS advisory lock on a sibling `<state>.lock` file: the state itself is replaced by
/// rename on every save, so a lock on it would not outlive the first save. The OS releases it
/// when the process ends, so a crashed run leaves nothing to clean up.
#[derive(Debug)]
pub struct StateLock {
    _file: std::fs::File,
}

impl StateLock {
    /// Takes the lock or fails at once naming the state file (waiting would make a cron job
    /// pile up behind a stuck run).
    pub(crate) fn acquire(state: &Path) -> Result<Self, AlertsError> {
        let fail = |why: String| AlertsError::State {
            path: state.to_path_buf(),
            why,
        };
        let dir = match state.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(|e| fail(e.to_string()))?;
        let name = state
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "state".into());
        let path = dir.join(format!("{name}.lock"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| fail(format!("lock file {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(AlertsError::StateLocked {
                path: state.to_path_buf(),
            }),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(fail(format!("lock file {}: {e}", path.display())))
            }
        }
    }
}

fn tempfile_in(dir: &Path, target: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)?;
    Ok((tmp, f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completing_keeps_only_the_newest_instant() {
        let mut c = Cursor {
            watermark: Some("2026-01-01T00:00:00Z".into()),
            ..Cursor::default()
        };
        c.pending.insert(item_key("a", "2026-01-02T00:00:00Z"));
        c.pending.insert(item_key("b", "2026-01-03T00:00:00Z"));
        c.pending.insert(item_key("c", "2026-01-03T00:00:00.000Z"));
        c.complete();
        assert_eq!(c.watermark.as_deref(), Some("2026-01-03T00:00:00Z"));
        assert_eq!(c.at_watermark.len(), 2);
        assert!(c.seen(&item_key("b", "2026-01-03T00:00:00Z")));
        assert!(!c.seen(&item_key("a", "2026-01-02T00:00:00Z")));
        assert!(c.pending.is_empty());
    }

    #[test]
    fn an_empty_run_keeps_the_watermark() {
        let mut c = Cursor {
            watermark: Some("2026-01-01T00:00:00Z".into()),
            ..Cursor::default()
        };
        c.at_watermark.insert(item_key("a", "2026-01-01T00:00:00Z"));
        c.complete();
        assert_eq!(c.watermark.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(c.at_watermark.len(), 1);
    }

    #[test]
    fn a_second_lock_on_the_same_state_is_refused_until_the_first_ends() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        let first = StateLock::acquire(&p).unwrap();
        assert!(matches!(
            StateLock::acquire(&p),
            Err(AlertsError::StateLocked { .. })
        ));
        drop(first);
        StateLock::acquire(&p).unwrap();
    }

    #[test]
    fn the_notified_set_is_pruned_after_the_retention_and_old_files_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        // A state written before ids carried a time.
        std::fs::write(
            &p,
            r#"{"version":1,"cursors":{},"notified":{"contoso/high":["old-format"]}}"#,
        )
        .unwrap();
        let mut st = AlertState::load(&p).unwrap();
        assert!(st.was_notified("contoso/high", "old-format"));
        let now: jiff::Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
        let long_ago = now - jiff::SignedDuration::from_hours(24 * (NOTIFIED_RETENTION_DAYS + 1));
        let recent = now - jiff::SignedDuration::from_hours(24);
        st.mark_notified("contoso/high".into(), "stale", long_ago);
        st.mark_notified("contoso/high".into(), "fresh", recent);
        st.mark_notified("contoso/low".into(), "stale-only", long_ago);
        assert_eq!(st.prune_notified(now), 2);
        assert!(st.was_notified("contoso/high", "fresh"));
        assert!(!st.was_notified("contoso/high", "stale"));
        // Unknown times are stamped now, and age out from there.
        assert!(st.was_notified("contoso/high", "old-format"));
        assert!(!st.notified.contains_key("contoso/low"));
        let later = now + jiff::SignedDuration::from_hours(24 * (NOTIFIED_RETENTION_DAYS + 1));
        st.prune_notified(later);
        assert!(st.notified.is_empty());
        st.save(&p).unwrap();
        assert!(AlertState::load(&p).unwrap().notified.is_empty());
    }

    #[test]
    fn save_then_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        let mut st = AlertState::load(&p).unwrap();
        st.cursor("fetch:c:alerts", "t")
            .pending
            .insert("x|y".into());
        st.save(&p).unwrap();
        let back = AlertState::load(&p).unwrap();
        assert!(back.cursors["fetch:c:alerts"].pending.contains("x|y"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
