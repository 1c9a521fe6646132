//! The single integration-test binary: one module per topic.

mod alerts;
mod apply;
mod auth;
mod ci_workflow;
mod cli;
mod export;
mod hostile;
mod loader_props;
mod plan;
mod precommit;
mod report;
mod sandbox;
mod sandbox_csdl;
mod sandbox_python;
mod schema;
mod siem_credentials;
mod support;
mod validate;
