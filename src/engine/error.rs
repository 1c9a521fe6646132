//! The engine's typed errors: each says what went wrong and which exit code it means, so the one
//! printing place (`cli::report_error`) needs no knowledge of where it came from.

use std::path::PathBuf;

use crate::apply::binding::Unbound;
use crate::apply::lease::LeaseError;
use crate::exit;
use crate::permissions::Shortfall;

/// Why a pipeline step stopped.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The diagnostics were printed already; `what` finishes "nothing was …".
    #[error("the manifests are invalid{}", .what.map(|w| format!("; nothing was {w}")).unwrap_or_default())]
    InvalidManifests { what: Option<&'static str> },
    /// As [`EngineError::InvalidManifests`], for the commands whose diagnostics are the whole
    /// message (no closing line).
    #[error("the manifests are invalid")]
    InvalidManifestsQuiet,
    #[error("no customer named `{0}` in the manifests")]
    UnknownCustomer(String),
    #[error("no customer has the labels {0}")]
    NoCustomerWithLabels(String),
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error(transparent)]
    Session(#[from] crate::session::SessionError),
    #[error("cannot create {}: {source}", .dir.display())]
    SandboxDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the sandbox: {0}")]
    Sandbox(#[source] crate::sandbox::SandboxError),
    #[error(transparent)]
    PlanFile(#[from] PlanFileError),
    #[error("cannot read {tenant}: {source}")]
    ReadTenant {
        tenant: String,
        #[source]
        source: crate::plan::read::ReadError,
    },
    /// The saved plan's digest of the manifests no longer matches them.
    #[error("the manifests changed since the plan was made ({0}); make a new plan")]
    ManifestsChanged(String),
    #[error("the tool's application lacks permissions; nothing was applied:{}", shortfalls(.0))]
    PermissionsMissing(Vec<Shortfall>),
    #[error("permission preflight failed: {0}")]
    Preflight(crate::permissions::PreflightError),
    /// The lease could not be taken; `tenant` is the MSSP tenant (named in the 403 hint).
    #[error("{source}; nothing was applied")]
    Lease {
        #[source]
        source: LeaseError,
        tenant: String,
    },
    #[error(transparent)]
    Stale(#[from] Stale),
    /// The saved plan's actions differ from what the manifests and the tenants give now.
    #[error("{}", .0.report().trim_start_matches("error: ").trim_end())]
    Unbound(Unbound),
    #[error("cannot open the journal {}: {source}", .path.display())]
    Journal {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The person asked said no.
    #[error("Apply cancelled.")]
    Cancelled,
    /// Nobody can be asked: stdin is not a terminal.
    #[error(
        "not a terminal: pass --auto-approve to apply without confirmation (CI), or apply a reviewed saved plan\nApply cancelled."
    )]
    NotATerminal,
    /// Ctrl-C during the writes; `journal` is where they were recorded.
    #[error(
        "interrupted: the writes in flight finished{}; no write started after Ctrl-C. Run `mssp plan` to see what is left.",
        .journal.as_ref().map(|p| format!(" and are in the journal {}", p.display())).unwrap_or_default()
    )]
    Interrupted { journal: Option<PathBuf> },
    /// A saved plan carries its shard; a second one on the command line could only disagree.
    #[error(
        "--shard {0} is for applying manifests; a saved plan applies the shard it was made for"
    )]
    ShardWithSavedPlan(crate::shard::Shard),
    /// Shards run at once: only shard 1 may write the MSSP tenant.
    #[error(
        "the MSSP tenant {tenant} has changes, which only shard 1 applies; shard {shard} applied nothing"
    )]
    ShardProviderChanges {
        tenant: String,
        shard: crate::shard::Shard,
    },
    /// Some tenant failed or was blocked; the apply summary above says which.
    #[error("some tenants failed or were blocked")]
    ApplyFailed,
    #[error("verification failed, the tenants still differ:{}", lines(.0))]
    VerifyFailed(Vec<String>),
    /// `--verify-siem` could not try any tenant.
    #[error("verify-siem: {0}")]
    SiemVerify(#[source] crate::alerts::AlertsError),
    /// `--verify-siem` found tenants where the SIEM app cannot read; each was printed.
    #[error("verify-siem failed")]
    SiemVerifyFailed,
}

/// Why a saved plan cannot be applied: what changed in the tenants since it was made.
#[derive(Debug, thiserror::Error)]
#[error("the plan is stale; nothing was applied:{}", lines(.changes))]
pub struct Stale {
    pub changes: Vec<String>,
}

/// Why a file is not a saved plan this mssp can read.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("{}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a saved plan: {source}", .path.display())]
    NotAPlan {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{} has plan format {found}; this mssp reads format {}", .path.display(), crate::plan::FORMAT_VERSION)]
    Format { path: PathBuf, found: u32 },
}

/// How an error is shown on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// `error: {message}`.
    Error,
    /// The message alone (it is not phrased as an error, e.g. "Apply cancelled.").
    Plain,
    /// Nothing more: what there was to say was printed when it happened.
    Silent,
}

impl EngineError {
    /// The process exit code this error ends a run with.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::ManifestsChanged(_) | Self::Stale(_) | Self::Unbound(_) => exit::STALE_PLAN,
            Self::Lease {
                source: LeaseError::Held { .. },
                ..
            } => exit::LEASE_HELD,
            Self::Interrupted { .. } => exit::INTERRUPTED,
            Self::ShardWithSavedPlan(_) => exit::USAGE,
            _ => exit::ERROR,
        }
    }

    pub(crate) fn shown(&self) -> Shown {
        match self {
            Self::InvalidManifests { what: None } | Self::ApplyFailed | Self::SiemVerifyFailed => {
                Shown::Silent
            }
            Self::Cancelled | Self::Interrupted { .. } => Shown::Plain,
            _ => Shown::Error,
        }
    }

    /// `  = help:` lines printed after the message.
    pub(crate) fn help(&self) -> Vec<String> {
        match self {
            Self::Stale(_) => vec!["make a new plan and review it".into()],
            Self::ShardProviderChanges { .. } => {
                vec!["apply shard 1 first (or without --shard), then this shard".into()]
            }
            Self::Lease {
                source: LeaseError::Held { .. },
                ..
            } => vec![
                "wait for it (--lease-wait 10m), or if that run was killed: mssp lease show / mssp lease break --yes"
                    .into(),
            ],
            Self::Lease {
                source: LeaseError::Graph { source, .. },
                tenant,
            } if source.status() == Some(403) => vec![format!(
                "the lease needs Group.ReadWrite.All in the MSSP tenant {tenant}"
            )],
            _ => vec![],
        }
    }
}

fn lines(items: &[String]) -> String {
    items.iter().map(|l| format!("\n  {l}")).collect()
}

fn shortfalls(short: &[Shortfall]) -> String {
    short
        .iter()
        .map(|s| {
            format!(
                "\n  {} ({}): missing {}\n    grant admin consent: {}",
                s.tenant,
                s.tenant_id,
                s.missing.join(", "),
                s.consent_url
            )
        })
        .collect()
}
