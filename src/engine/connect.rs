//! Reaching the tenants: the real ones with the configured credential, or an in-process
//! sandbox seeded from the manifests.

use crate::commands::ConnectionArgs;
use crate::plan::Endpoints;
use crate::sandbox::Sandbox;
use crate::session::Session;
use crate::validate::Validated;

use super::EngineError;

/// Connects to the real tenants, or starts the in-process sandbox and connects to it.
pub(crate) async fn connect(
    args: &ConnectionArgs,
    v: &Validated,
) -> Result<(Session, Option<Sandbox>), EngineError> {
    if !args.sandbox {
        return Ok((Session::from_env(args.auth)?, None));
    }
    crate::sandbox::state::create_private_dir(&args.sandbox_dir).map_err(|source| {
        EngineError::SandboxDir {
            dir: args.sandbox_dir.clone(),
            source,
        }
    })?;
    let opts = crate::sandbox::SandboxOptions {
        state_file: Some(args.sandbox_dir.join("state.json")),
        ca_dir: args.sandbox_dir.clone(),
        ..Default::default()
    };
    let sandbox = Sandbox::start(opts, crate::commands::sandbox::seed_from(v))
        .await
        .map_err(EngineError::Sandbox)?;
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
    )?;
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

/// Stops the sandbox a command started, if any (a warning when it does not stop cleanly: the
/// command's own work is done by then).
pub(crate) async fn disconnect(sandbox: Option<Sandbox>) {
    if let Some(sb) = sandbox
        && let Err(e) = sb.shutdown().await
    {
        eprintln!("warning: the sandbox did not shut down cleanly: {e}");
    }
}
