//! The single integration-test binary: one module per topic.

mod cli;
mod loader_props;
mod sandbox;
mod schema;
mod validate;
