//! Typed Graph errors: status, Graph error code, message and request id, plus where it happened.

use std::fmt;

/// How a write whose answer was lost is described; apply recognises it in error messages to
/// keep its note that the object may exist.
pub(crate) const OUTCOME_UNKNOWN: &str =
    "the answer was lost; the change may or may not have happened";

/// What went wrong talking to Graph (or the Defender API) for one tenant.
#[derive(Debug, Clone, thiserror::Error)]
pub struct GraphError {
    pub tenant: String,
    pub method: String,
    /// Path without host, e.g. `/v1.0/groups`.
    pub path: String,
    pub kind: GraphErrorKind,
}

#[derive(Debug, Clone)]
pub enum GraphErrorKind {
    /// The service answered with an error status.
    Status {
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    /// No answer: connection failure, timeout, TLS problem.
    Transport(String),
    /// The request may or may not have been carried out (its answer was lost). Writes in this
    /// state are resolved by re-reading the natural key, never by blindly retrying.
    OutcomeUnknown(String),
    /// Retries ran out of time (throttling or outages outlasted the deadline).
    DeadlineExceeded { attempts: u32, last: String },
    /// A token could not be obtained for the tenant.
    Auth(String),
    /// The answer was not the JSON the contract promises.
    Decode(String),
    /// A link (a paging `@odata.nextLink`) pointed away from the endpoint's origin; it was
    /// not followed, because the bearer token would have gone with it.
    ForeignLink { host: String, origin: String },
}

impl GraphError {
    pub fn status(&self) -> Option<u16> {
        match &self.kind {
            GraphErrorKind::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn code(&self) -> Option<&str> {
        match &self.kind {
            GraphErrorKind::Status { code, .. } => Some(code),
            _ => None,
        }
    }

    pub(crate) fn request_id(&self) -> Option<&str> {
        match &self.kind {
            GraphErrorKind::Status { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// One of the documented replication-delay errors (api-contract §5.5): the object exists
    /// but is not visible yet here.
    pub(crate) fn is_replication_delay(&self) -> bool {
        match &self.kind {
            GraphErrorKind::Status {
                status,
                code,
                message,
                ..
            } => {
                (*status == 404 && code == "Request_ResourceNotFound")
                    || (*status == 400
                        && (code == "NoBackingApplicationObject"
                            || message.contains("does not reference a valid application object")))
                    || (*status == 404 && code == "ResourceNotFound")
                    // Defender role assignments naming a group or role definition just created
                    // (api-contract §5.5).
                    || (*status == 400
                        && (code == "PrincipalNotFound"
                            || message.contains("does not reference an existing role definition")))
            }
            _ => false,
        }
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Messages carry server text (and paths from server links): whatever built this
        // error, nothing that controls a terminal leaves through Display.
        let text = self.render();
        f.write_str(&super::sanitize::clean(&text))
    }
}

impl GraphError {
    fn render(&self) -> String {
        let mut out = String::new();
        let _ = self.write_to(&mut out);
        out
    }

    fn write_to(&self, f: &mut impl fmt::Write) -> fmt::Result {
        write!(f, "tenant {}: {} {}: ", self.tenant, self.method, self.path)?;
        match &self.kind {
            GraphErrorKind::Status {
                status,
                code,
                message,
                request_id,
            } => {
                write!(f, "{status} {code}: {message}")?;
                if let Some(id) = request_id {
                    write!(f, " (request-id {id})")?;
                }
                Ok(())
            }
            GraphErrorKind::Transport(e) => write!(f, "no answer: {e}"),
            GraphErrorKind::OutcomeUnknown(e) => {
                write!(f, "{OUTCOME_UNKNOWN} ({e})")
            }
            GraphErrorKind::DeadlineExceeded { attempts, last } => {
                write!(f, "gave up after {attempts} attempts: {last}")
            }
            GraphErrorKind::Auth(e) => write!(f, "no token: {e}"),
            GraphErrorKind::Decode(e) => write!(f, "unexpected answer: {e}"),
            GraphErrorKind::ForeignLink { host, origin } => write!(
                f,
                "refused to follow a link to {host}: the token is only sent to {origin}"
            ),
        }
    }
}
