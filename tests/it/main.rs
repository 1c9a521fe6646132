//! The single integration-test binary: one module per topic.

mod sandbox;
mod sandbox_csdl;
mod sandbox_python;
