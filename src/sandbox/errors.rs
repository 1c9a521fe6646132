//! Error types of the sandbox: the library error [`SandboxError`] returned to callers, and the three
//! wire error shapes the emulated services answer with (Graph, Entra STS "AADSTS", Defender for Endpoint).
//!
//! The wire shapes are kept apart on purpose: real clients parse them differently (Graph has
//! `innerError` with request ids, the STS has `error_codes`, MDE has neither), and a client that
//! only works against one shape must fail here the way it would fail against Microsoft.

use std::path::PathBuf;

use serde_json::{Value, json};

/// Errors of the sandbox as a library (start-up, persistence, TLS material).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot read sandbox state file {path}: {source}")]
    ReadState {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("sandbox state file {path} is not valid sandbox state: {source}")]
    ParseState {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write sandbox state file {path}: {source}")]
    WriteState {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot serialise sandbox state: {0}")]
    SerialiseState(serde_json::Error),
    #[error("cannot write CA certificate {path}: {source}")]
    WriteCa {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot generate TLS material: {0}")]
    Tls(String),
    #[error("cannot generate the token signing key: {0}")]
    SigningKey(String),
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("sandbox server failed: {0}")]
    Serve(std::io::Error),
    #[error("cannot read seed file {path}: {source}")]
    Seed {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A Graph error answer: `{"error":{"code","message","innerError":{…}}}` with a status.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphError {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// Optional `details` array (e.g. `NoBackingApplicationObject` with target `appId`).
    pub details: Option<Box<Value>>,
    /// Optional `Retry-After` seconds (throttling, 503).
    pub retry_after: Option<u64>,
}

impl GraphError {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        GraphError {
            status,
            code: code.to_string(),
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    pub(crate) fn with_details(mut self, details: Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    /// Directory `404 Request_ResourceNotFound` with the message Entra really sends.
    pub(crate) fn not_found(id: &str) -> Self {
        Self::new(
            404,
            "Request_ResourceNotFound",
            format!(
                "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "Request_BadRequest", message)
    }

    pub(crate) fn unsupported_query(message: impl Into<String>) -> Self {
        Self::new(400, "Request_UnsupportedQuery", message)
    }

    pub(crate) fn forbidden() -> Self {
        Self::new(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }

    pub(crate) fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(401, "InvalidAuthenticationToken", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, "Request_MultipleObjectsWithSameKeyValue", message)
    }

    /// The Graph body, with the request ids the real service adds to every error.
    pub fn body(&self, request_id: &str, client_request_id: &str, date: &str) -> Value {
        let mut error = json!({
            "code": self.code,
            "message": self.message,
            "innerError": {"date": date, "request-id": request_id, "client-request-id": client_request_id}
        });
        if let (Some(details), Some(obj)) = (&self.details, error.as_object_mut()) {
            obj.insert("details".into(), (**details).clone());
        }
        json!({ "error": error })
    }

    /// The Defender for Endpoint body: same envelope, no `innerError`, `target` = request id.
    pub(crate) fn mde_body(&self, request_id: &str) -> Value {
        json!({"error": {"code": self.code, "message": self.message, "target": request_id}})
    }
}

/// An Entra STS error (`AADSTSnnnn`), answered by the token endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct AadError {
    pub status: u16,
    pub error: &'static str,
    pub code: u32,
    pub description: String,
}

impl AadError {
    pub fn new(
        status: u16,
        error: &'static str,
        code: u32,
        description: impl Into<String>,
    ) -> Self {
        AadError {
            status,
            error,
            code,
            description: description.into(),
        }
    }

    /// The body exactly as Entra sends it: the description's first line is Microsoft's
    /// message, then `\r\n`-separated Trace ID, Correlation ID and Timestamp lines (clients
    /// must cope with those escapes; azure_identity 1.0 did not).
    pub fn body(&self, trace_id: &str, correlation_id: &str, timestamp: &str) -> Value {
        json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.code, self.description
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        })
    }
}
