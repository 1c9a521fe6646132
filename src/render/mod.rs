//! Rendering of results for people and machines (explanations now; plans as they land).

pub mod explain;
