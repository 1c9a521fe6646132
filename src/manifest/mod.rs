//! The manifest model: Kubernetes-style `Provider` and `Customer` documents.
//!
//! Types here are the contract with users (and, through schemars, with their editors): every
//! field is documented, unknown fields are rejected, and values that later checks must point at
//! are wrapped in [`Loc`] to keep their line and column.

mod customer;
mod detection;
mod load;
mod located;
mod provider;
mod unknown;

use std::collections::BTreeMap;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use customer::*;
pub use detection::*;
pub(crate) use load::{DEFAULT_DIRS, load_paths_with, resolve_paths};
pub use load::{LoadOutcome, load_paths, parse_source};
pub use located::Loc;
pub use provider::*;

use crate::diagnostics::SourceFile;

/// The one `apiVersion` this build understands.
pub(crate) const API_VERSION: &str = "mssp.io/v1";

/// Lowercase or uppercase GUID, 8-4-4-4-12 hex digits.
pub(crate) const GUID_PATTERN: &str =
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// `metadata` of every document.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// Name of the document: lowercase letters, digits and `-`, unique per kind. A customer's
    /// name is what `--customer` selects.
    #[schemars(regex(pattern = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"))]
    pub name: Loc<String>,
    /// Free-form labels (e.g. `region: emea`), carried into plan output.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A parsed document together with the file it came from.
#[derive(Debug, Clone)]
pub struct Sourced<T> {
    pub file: Arc<SourceFile>,
    pub doc: T,
}

/// Every document found under the given paths, before semantic validation.
#[derive(Debug, Default, Clone)]
pub struct ManifestSet {
    pub providers: Vec<Sourced<ProviderManifest>>,
    pub customers: Vec<Sourced<CustomerManifest>>,
    /// Files read (including ones that failed to parse).
    pub files: usize,
    /// The folders manifests were loaded from (a directory given, or the folder of a file
    /// given), canonical. Relative certificate paths must stay inside them.
    pub roots: Vec<std::path::PathBuf>,
}
