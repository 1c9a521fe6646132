//! The NDJSON sink of `alerts fetch`: stdout, or a file appended to.
//!
//! A file's committed length is recorded in the state file after every page. Lines written
//! after the last commit belong to a run that crashed before recording them; they are cut off
//! when the file is opened again, and the items are fetched again — so the file holds every
//! item exactly once. On stdout the last page of a crashed run may be delivered twice.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::AlertsError;
use super::state::{AlertState, OutputMark};

pub enum Output {
    Stdout,
    File { file: std::fs::File, path: PathBuf },
}

impl Output {
    /// `None` or `-` is stdout.
    pub fn open(spec: Option<&Path>, state: &mut AlertState) -> Result<Self, AlertsError> {
        let Some(path) = spec.filter(|p| p.as_os_str() != "-") else {
            return Ok(Self::Stdout);
        };
        let fail = |why: String| AlertsError::Output {
            path: path.to_path_buf(),
            why,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| fail(e.to_string()))?;
        let len = file.metadata().map_err(|e| fail(e.to_string()))?.len();
        let id = identity(path);
        match &state.output {
            Some(m) if m.path == id && len > m.committed_len => {
                tracing::info!(path = %path.display(), "cutting off lines a crashed run wrote but did not commit");
                file.set_len(m.committed_len)
                    .map_err(|e| fail(e.to_string()))?;
            }
            Some(m) if m.path == id && len < m.committed_len => {
                // The consumer truncated or rotated the file; start counting again.
                state.output = Some(OutputMark {
                    path: id,
                    committed_len: len,
                });
            }
            Some(m) if m.path == id => {}
            _ => {
                state.output = Some(OutputMark {
                    path: id,
                    committed_len: len,
                })
            }
        }
        Ok(Self::File {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Writes one page and makes it durable; returns the file's new length (to commit).
    pub(crate) fn write_page(&mut self, lines: &[Value]) -> Result<Option<u64>, AlertsError> {
        let mut buf = Vec::new();
        for l in lines {
            serde_json::to_writer(&mut buf, l).map_err(|e| AlertsError::Internal(e.to_string()))?;
            buf.push(b'\n');
        }
        match self {
            Self::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(&buf)
                    .and_then(|()| out.flush())
                    .map_err(|e| AlertsError::Output {
                        path: "-".into(),
                        why: e.to_string(),
                    })?;
                Ok(None)
            }
            Self::File { file, path } => {
                let fail = |e: std::io::Error| AlertsError::Output {
                    path: path.clone(),
                    why: e.to_string(),
                };
                file.write_all(&buf).map_err(fail)?;
                file.sync_data().map_err(fail)?;
                Ok(Some(file.metadata().map_err(fail)?.len()))
            }
        }
    }
}

/// The path as recorded in the state (absolute when it can be made so).
fn identity(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_lines_of_a_crashed_run_are_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.ndjson");
        std::fs::write(&p, "{\"a\":1}\n{\"b\":2}\n{\"c\"").unwrap();
        let mut st = AlertState {
            output: Some(OutputMark {
                path: identity(&p),
                committed_len: 8,
            }),
            ..AlertState::default()
        };
        let mut out = Output::open(Some(&p), &mut st).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{\"a\":1}\n");
        let len = out.write_page(&[serde_json::json!({"d": 4})]).unwrap();
        assert_eq!(len, Some(16));
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "{\"a\":1}\n{\"d\":4}\n"
        );
    }

    #[test]
    fn a_new_file_is_adopted_at_its_length() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("other.ndjson");
        std::fs::write(&p, "{\"x\":1}\n").unwrap();
        let mut st = AlertState::default();
        Output::open(Some(&p), &mut st).unwrap();
        assert_eq!(st.output.unwrap().committed_len, 8);
        assert_eq!(std::fs::read_to_string(&p).unwrap().len(), 8);
    }
}
