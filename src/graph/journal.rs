//! The run journal: one JSON line per write (when, which tenant and object, which identity,
//! the HTTP status and Graph request id), and per tenant one line with the critical path of
//! its writes. Append-only, for audit and customer reports.
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

    /// The tenant's critical path: the chain of writes, each started by the end of the one
    /// before, that ended last (`address` names that last write), with durations and round
    /// trips. Nothing is written for a tenant without writes.
    pub fn critical_path<S: serde::Serialize>(&self, tg: &TenantGraph, path: &[S]) {
        let Some(last) = path.last() else {
            return;
        };
        let steps = serde_json::to_value(path).unwrap_or_default();
        let last = serde_json::to_value(last).unwrap_or_default();
        let total = |field: &str| -> u64 {
            steps
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.get(field).and_then(serde_json::Value::as_u64))
                .sum()
        };
        let end = last
            .get("startMs")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
            + last
                .get("durationMs")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
        let line = json!({
            "time": jiff::Timestamp::now().to_string(),
            "tenant": tg.tenant,
            "address": last.get("address"),
            "event": "criticalPath",
            "identity": self.identity,
            "durationMs": end,
            "roundTrips": total("roundTrips"),
            "path": steps,
        });
        if let Ok(mut f) = self.file.lock() {
            let _ = writeln!(f, "{line}");
        }
    }
}
