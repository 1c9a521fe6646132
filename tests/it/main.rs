//! The single integration-test binary: one module per topic.

mod alerts;
mod alerts_paging;
mod apply;
mod auth;
mod ci_workflow;
mod cli;
mod concurrency;
mod defender_rbac;
mod export;
mod first_contact;
mod loader_props;
mod plan;
mod plan_binding;
mod precommit;
mod report;
mod sandbox;
mod sandbox_csdl;
mod sandbox_python;
mod schema;
mod secret_sink;
mod siem_credentials;
mod support;
mod twins;
mod validate;
