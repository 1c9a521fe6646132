//! Sandbox behaviour over real HTTPS.
