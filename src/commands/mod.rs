//! One module per subcommand: each turns parsed arguments into work on the library and an
//! exit code, and owns what that subcommand prints.

pub mod schema;
pub mod validate;

use std::path::PathBuf;

use crate::diagnostics::Diagnostics;
use crate::manifest;
use crate::validate::{self as validation, Validated};

/// Loads and validates manifests, printing every diagnostic to stderr.
/// `None` when there were errors (already reported).
pub fn load_and_validate(paths: &[PathBuf]) -> (Option<Validated>, Diagnostics, usize) {
    let loaded = manifest::load_paths(paths);
    let today = jiff::ZonedDateTime::now().date();
    let (validated, more) = validation::validate(&loaded.set, today);
    let mut diags = loaded.diagnostics;
    diags.extend(more);
    let diags = diags.sorted();
    let validated = if diags.has_errors() { None } else { validated };
    (validated, diags, loaded.set.files)
}
