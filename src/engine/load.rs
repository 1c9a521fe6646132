//! Loading and validating manifests, and finding them when no path is given.

use std::path::PathBuf;

use crate::diagnostics::Diagnostics;
use crate::manifest;
use crate::validate::{self as validation, Validated};

use super::EngineError;

/// Loads and validates manifests. `None` when there were errors (the diagnostics say which;
/// the caller prints them).
///
/// With no path, the manifest folder is looked for ([`manifest::resolve_paths`]) and named on
/// stderr when it is not `.`. When loading already failed and found no Provider manifest (a
/// misspelt path, a broken provider file), validation is not run: its "no Provider manifest
/// found" would only be a consequence, printed before the cause.
pub fn load_and_validate(paths: &[PathBuf]) -> (Option<Validated>, Diagnostics, usize) {
    let paths = resolved_paths(paths);
    validate_loaded(manifest::load_paths(&paths))
}

/// Validates what was loaded: the manifests when there is no error, the diagnostics of both
/// steps (sorted), and how many files were read.
pub(crate) fn validate_loaded(
    loaded: manifest::LoadOutcome,
) -> (Option<Validated>, Diagnostics, usize) {
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

/// [`load_and_validate`] for a command: the diagnostics go to stderr (briefly), and invalid
/// manifests are an error whose closing line ends "nothing was `what`" (`None`: no closing
/// line).
pub(crate) fn load_checked(
    paths: &[PathBuf],
    what: Option<&'static str>,
) -> Result<Validated, EngineError> {
    let (validated, diags, _) = load_and_validate(paths);
    eprint!("{}", diags.render_brief());
    validated.ok_or(match what {
        Some(_) => EngineError::InvalidManifests { what },
        None => EngineError::InvalidManifestsQuiet,
    })
}

/// Every name in `customers` is a customer of the manifests.
pub(crate) fn check_customers(v: &Validated, customers: &[String]) -> Result<(), EngineError> {
    match customers.iter().find(|n| v.customer(n).is_none()) {
        Some(name) => Err(EngineError::UnknownCustomer(name.clone())),
        None => Ok(()),
    }
}

/// [`manifest::resolve_paths`], with a note on stderr when no path was given and the folder
/// found is not the current one (so nobody wonders which manifests were read).
pub(crate) fn resolved_paths(given: &[PathBuf]) -> Vec<PathBuf> {
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
