//! The pipeline every command runs, in one place: load + validate, connect, plan, freshness
//! of a saved plan (format version, manifests digest, fingerprints), apply, verify. Commands
//! turn arguments into these calls and print what comes back; tests call them directly.

mod apply;
mod connect;
mod error;
mod fresh;
mod load;
mod plan;

pub use apply::{ApplyRequest, ApplyUi, apply};
pub(crate) use connect::{connect, disconnect};
pub use error::{EngineError, PlanFileError, Shown, Stale};
pub use fresh::{check_fresh, check_manifests, load_plan};
pub use load::load_and_validate;
pub(crate) use load::{check_customers, load_checked, resolved_paths, validate_loaded};
pub use plan::{PlanRequest, make_plan};
pub(crate) use plan::{make_plan_keeping, make_plan_with_states, select_customers};

/// Runs a command's async body on a multi-threaded runtime; a runtime that cannot start is
/// an error like any other.
pub(crate) fn block_on<T, E: From<EngineError>>(
    body: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| E::from(EngineError::Runtime(e)))?
        .block_on(body)
}
