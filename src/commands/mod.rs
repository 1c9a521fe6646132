//! One module per subcommand: each turns parsed arguments into work on the library and an
//! exit code, and owns what that subcommand prints.

pub mod alerts;
pub mod apply;
pub mod completions;
pub mod export;
pub mod lease;
pub mod merge;
pub mod permissions;
pub mod plan;
pub mod portal;
pub mod report;
pub mod sandbox;
pub mod schema;
pub mod show;
pub mod siem;
pub mod twins;
pub mod validate;

use std::path::PathBuf;

use crate::diagnostics::Diagnostics;
use crate::manifest;
use crate::validate::{self as validation, Validated};

/// Runs a command's async body on a multi-threaded runtime; a runtime that cannot start is
/// an error like any other (exit 1).
pub(crate) fn block_on(body: impl std::future::Future<Output = u8>) -> u8 {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r.block_on(body),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            crate::exit::ERROR
        }
    }
}

/// Loads and validates manifests, printing every diagnostic to stderr.
/// `None` when there were errors (already reported).
///
/// With no path, the manifest folder is looked for ([`manifest::resolve_paths`]) and named on
/// stderr when it is not `.`. When loading already failed and found no Provider manifest (a
/// misspelt path, a broken provider file), validation is not run: its "no Provider manifest
/// found" would only be a consequence, printed before the cause.
pub fn load_and_validate(paths: &[PathBuf]) -> (Option<Validated>, Diagnostics, usize) {
    let paths = resolved_paths(paths);
    let loaded = manifest::load_paths(&paths);
    if loaded.diagnostics.has_errors() && loaded.set.providers.is_empty() {
        return (None, loaded.diagnostics.sorted(), loaded.set.files);
    }
    let today = jiff::ZonedDateTime::now().date();
    let (validated, more) = validation::validate(&loaded.set, today);
    let mut diags = loaded.diagnostics;
    diags.extend(more);
    let diags = diags.sorted();
    let validated = if diags.has_errors() { None } else { validated };
    (validated, diags, loaded.set.files)
}

/// [`manifest::resolve_paths`], with a note on stderr when no path was given and the folder
/// found is not the current one (so nobody wonders which manifests were read).
pub fn resolved_paths(given: &[PathBuf]) -> Vec<PathBuf> {
    let paths = manifest::resolve_paths(given);
    if given.is_empty()
        && let [one] = paths.as_slice()
        && one.as_path() != std::path::Path::new(".")
    {
        eprintln!(
            "note: no path given; reading the manifests in {}/ (the first of {} with a Provider manifest)",
            one.display(),
            manifest::DEFAULT_DIRS
                .iter()
                .map(|d| if *d == "." {
                    "./".to_string()
                } else {
                    format!("{d}/")
                })
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    paths
}

/// Where `--sandbox` keeps its state unless `--sandbox-dir` says otherwise.
pub const DEFAULT_SANDBOX_DIR: &str = ".mssp-sandbox";

/// How a command reaches the tenants.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionArgs {
    /// Run against an in-process sandbox seeded from the manifests (state in --sandbox-dir),
    /// instead of the real tenants.
    #[arg(long)]
    pub sandbox: bool,
    /// Where `--sandbox` keeps its state file and CA certificate.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_SANDBOX_DIR)]
    pub sandbox_dir: PathBuf,
    /// Credential to use against real tenants (default: picked from AZURE_* variables).
    #[arg(long, value_enum, env = "MSSP_AUTH", default_value_t = crate::auth::AuthMethod::Auto)]
    pub auth: crate::auth::AuthMethod,
}

/// Connects to the real tenants, or starts the in-process sandbox and connects to it.
pub async fn connect(
    args: &ConnectionArgs,
    v: &Validated,
) -> Result<(crate::session::Session, Option<crate::sandbox::Sandbox>), String> {
    use crate::plan::Endpoints;
    use crate::session::Session;
    if !args.sandbox {
        return Session::from_env(args.auth)
            .map(|s| (s, None))
            .map_err(|e| e.to_string());
    }
    crate::sandbox::state::create_private_dir(&args.sandbox_dir)
        .map_err(|e| format!("cannot create {}: {e}", args.sandbox_dir.display()))?;
    let opts = crate::sandbox::SandboxOptions {
        state_file: Some(args.sandbox_dir.join("state.json")),
        ca_dir: args.sandbox_dir.clone(),
        ..Default::default()
    };
    let sandbox = crate::sandbox::Sandbox::start(opts, sandbox::seed_from(v))
        .await
        .map_err(|e| format!("cannot start the sandbox: {e}"))?;
    let endpoints = Endpoints {
        login: Some(sandbox.url.clone()),
        graph: Some(sandbox.url.clone()),
        defender: Some(sandbox.url.clone()),
    };
    let mut session = Session::with_secret(
        endpoints,
        &sandbox.client_id,
        &sandbox.client_secret,
        Some(sandbox.ca_pem.as_bytes()),
    )
    .map_err(|e| e.to_string())?;
    session.recent = std::sync::Arc::new(crate::plan::recent::RecentCreates::open_scoped(
        &args.sandbox_dir.join("recent-creates.jsonl"),
        Some("sandbox"),
    ));
    eprintln!(
        "using the sandbox at {} (state in {})",
        sandbox.url,
        args.sandbox_dir.join("state.json").display()
    );
    Ok((session, Some(sandbox)))
}
