//! mssp: MSSP onboarding as code.
//!
//! The library behind the `mssp`, `mssp-plan` and `mssp-apply` binaries. A manifest travels
//! load → validate → expand → read → diff → plan → apply → verify; see docs/ARCHITECTURE.md
//! for the map of modules along that path.

// Graph errors carry tenant, path, code, message and request id by value: they are rare, and
// keeping them plain data reads better than boxing every field for ~150 bytes.
#![allow(clippy::result_large_err)]

pub mod alerts;
pub mod apply;
pub mod auth;
pub mod cli;
pub mod cloud;
pub mod commands;
pub mod detections;
pub mod diagnostics;
pub mod engine;
pub mod exit;
pub mod expand;
pub mod export;
pub mod gdap;
pub mod graph;
pub mod kinds;
pub mod manifest;
pub mod merge;
pub mod model;
pub mod permissions;
pub mod plan;
pub mod render;
pub mod report;
pub mod sandbox;
pub mod schema;
pub mod secrets;
pub mod session;
pub mod shard;
pub mod validate;
