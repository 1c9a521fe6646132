//! A command's error: the engine's, or what the command itself ran into (writing its output,
//! a mistaken argument). `cli::report_error` prints it and maps it to the exit code.

use crate::engine::{EngineError, Shown};
use crate::exit;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Writing a command's output (a file, stdout) failed; `what` says what and where.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Alerts(#[from] crate::alerts::AlertsError),
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
    #[error(transparent)]
    Lease(crate::apply::lease::LeaseError),
    /// `twins --remove-newer` could not take the apply lease (exit 4 whatever the cause: no
    /// twin may be removed while an apply might run).
    #[error("{0}; nothing was removed")]
    TwinsLease(crate::apply::lease::LeaseError),
    /// `twins --remove-newer` was refused at the prompt, or could not ask.
    #[error("Nothing removed.")]
    NothingRemoved,
    #[error("not a terminal: pass --yes to remove twins without confirmation\nNothing removed.")]
    NotATerminal,
    /// Some tenants failed while the others went on; one line each.
    #[error("{}", .0.join("\nerror: "))]
    Failures(Vec<String>),
    /// `siem config` could not learn the SIEM app's client id from the tenants.
    #[error("{0}")]
    SiemClientId(ClientIdError),
    /// `sandbox serve --seed` was given manifests with errors (the diagnostics said which).
    #[error("the seed manifests are invalid")]
    InvalidSeed,
    #[error("sandbox: {0}")]
    Sandbox(#[source] crate::sandbox::SandboxError),
    /// `merge` refused its inputs.
    #[error("{0}; nothing was merged")]
    Merge(#[from] crate::merge::MergeError),
    /// `merge --format` names a format the merged kind (plans, reports) has no renderer for.
    #[error("cannot render the merge: {0}")]
    MergeFormat(&'static str),
    /// Rendering `what` (the plan, the report) failed.
    #[error("cannot render the {what}: {source}")]
    Render {
        what: &'static str,
        #[source]
        source: crate::render::RenderError,
    },
    /// `validate` found errors (listed above it).
    #[error("{errors} error{} and {warnings} warning{} in {files} file{}", plural(*.errors), plural(*.warnings), plural(*.files))]
    Invalid {
        errors: usize,
        warnings: usize,
        files: usize,
    },
    /// `validate --explain NAME` names no tenant of the manifests.
    #[error("no customer or provider named `{name}`")]
    UnknownTenant { name: String, known: Vec<String> },
    #[error("--provider {}: not a file (name the Provider manifest itself)", .0.display())]
    ProviderNotAFile(std::path::PathBuf),
    /// `export --out FILE` would overwrite a file.
    #[error("{} exists; pass --force to overwrite it", .0.display())]
    OutExists(std::path::PathBuf),
    #[error(
        "breaking the lease lets another apply write while its holder may still run; pass --yes once you know it is gone"
    )]
    BreakNeedsYes,
    #[error("cannot open a browser: {0}")]
    Browser(super::portal::BrowserError),
    /// Tenants that could not be read, so the output (plan, report) leaves them out.
    #[error("{} {} could not be {}: {}", .tenants.len(), noun(.what, .tenants.len()), .how, .tenants.join(", "))]
    Unread {
        what: &'static str,
        how: &'static str,
        tenants: Vec<String>,
    },
    /// The arguments contradict each other or name something impossible (exit 64).
    #[error("{0}")]
    Usage(String),
    /// What there was to say was printed when it happened; only the exit code is left.
    #[error("exit code {0}")]
    Reported(u8),
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn noun(what: &str, n: usize) -> String {
    format!("{what}{}", plural(n))
}

impl Error {
    /// Rendering `what` ("plan", "report") failed.
    pub fn render(what: &'static str) -> impl FnOnce(crate::render::RenderError) -> Self {
        move |source| Self::Render { what, source }
    }

    /// Writing `what` (e.g. "cannot write the plan") failed.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Engine(e) => e.exit_code(),
            Self::Usage(_) => exit::USAGE,
            Self::Reported(code) => *code,
            Self::TwinsLease(_) => exit::LEASE_HELD,
            _ => exit::ERROR,
        }
    }

    pub fn shown(&self) -> Shown {
        match self {
            Self::Engine(e) => e.shown(),
            Self::Reported(_) => Shown::Silent,
            Self::NothingRemoved => Shown::Plain,
            _ => Shown::Error,
        }
    }

    pub fn help(&self) -> Vec<String> {
        match self {
            Self::Engine(e) => e.help(),
            Self::UnknownTenant { known, .. } => vec![format!("known: {}", known.join(", "))],
            Self::SiemClientId(_) => vec![
                "pass --client-id (multi-tenant app), or connect (--sandbox or AZURE_*) so it can be read".into(),
            ],
            _ => vec![],
        }
    }
}

/// Why `siem config` could not learn the SIEM app's client id from the tenants.
#[derive(Debug, thiserror::Error)]
pub enum ClientIdError {
    /// No session to read with (no credentials, or the sandbox would not start).
    #[error(transparent)]
    Connect(EngineError),
    #[error(
        "the SIEM application {name:?} does not exist in tenant {tenant}: run `mssp apply` first"
    )]
    Missing { name: String, tenant: String },
    #[error("tenant {tenant}: the application has no appId")]
    NoAppId { tenant: String },
    #[error(transparent)]
    Graph(crate::graph::GraphError),
}
