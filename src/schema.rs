//! JSON Schemas of the manifests, generated from the Rust types so they cannot disagree.
//!
//! The committed copies in `schemas/` are what editors load through the
//! `# yaml-language-server: $schema=…` comment; a test fails when they drift from the code.

use crate::manifest::{CustomerManifest, ProviderManifest};

/// The manifest kinds that have a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaKind {
    Provider,
    Customer,
    /// The JSON plan (`mssp plan --format json`, saved plans).
    Plan,
}

impl SchemaKind {
    pub const ALL: [SchemaKind; 3] = [SchemaKind::Provider, SchemaKind::Customer, SchemaKind::Plan];

    /// File name under `schemas/`.
    pub fn file_name(self) -> &'static str {
        match self {
            SchemaKind::Provider => "provider.schema.json",
            SchemaKind::Customer => "customer.schema.json",
            SchemaKind::Plan => "plan.schema.json",
        }
    }

    pub fn schema(self) -> schemars::Schema {
        match self {
            SchemaKind::Provider => schemars::schema_for!(ProviderManifest),
            SchemaKind::Customer => schemars::schema_for!(CustomerManifest),
            SchemaKind::Plan => schemars::schema_for!(crate::plan::Plan),
        }
    }

    /// Pretty JSON with a trailing newline, as committed.
    pub fn render(self) -> String {
        let mut s = serde_json::to_string_pretty(&self.schema()).unwrap_or_default();
        s.push('\n');
        s
    }
}
