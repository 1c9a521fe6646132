//! The run journal: one JSON line per write (when, which tenant and object, which identity,
//! the HTTP status and Graph request id). Append-only, for audit and customer reports.
//! Request bodies are never written, so no secret can end up here.

use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;

use serde_json::json;

use crate::graph::{Answer, GraphError, TenantGraph};
use crate::model::Address;

pub struct Journal {
    file: Mutex<std::fs::File>,
    identity: String,
}

impl Journal {
    pub fn open(path: &Path, identity: &str) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Self {
            file: Mutex::new(file),
            identity: identity.to_string(),
        })
    }

    pub fn record(
        &self,
        tg: &TenantGraph,
        at: &Address,
        method: &str,
        path: &str,
        result: &Result<Answer, GraphError>,
    ) {
        if method == "GET" {
            return;
        }
        let (status, request_id, error) = match result {
            Ok(a) => (Some(a.status), a.request_id.clone(), None),
            Err(e) => (
                e.status(),
                e.request_id().map(str::to_string),
                Some(e.to_string()),
            ),
        };
        let line = json!({
            "time": jiff::Timestamp::now().to_string(),
            "tenant": tg.tenant,
            "address": at.to_string(),
            "method": method,
            "path": path.split('?').next().unwrap_or(path),
            "identity": self.identity,
            "status": status,
            "requestId": request_id,
            "error": error,
        });
        if let Ok(mut f) = self.file.lock() {
            let _ = writeln!(f, "{line}");
        }
    }
}
