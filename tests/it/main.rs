//! The single integration-test binary: one module per topic.

mod ci_workflow;
mod cli;
mod loader_props;
mod precommit;
mod sandbox;
mod sandbox_csdl;
mod sandbox_python;
mod schema;
mod validate;
