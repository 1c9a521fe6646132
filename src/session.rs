//! Connecting to the tenants: credentials, HTTP client, endpoints — from the environment for
//! real clouds, or from an in-process sandbox (`--sandbox`).

use std::sync::Arc;

use crate::auth::{AuthConfig, AuthMethod, Tokens};
use crate::graph::{self, Graph, RetryPolicy};
use crate::plan::Endpoints;
use crate::plan::recent::RecentCreates;

/// Everything a command needs to talk to Graph.
pub struct Session {
    pub graph: Arc<Graph>,
    pub endpoints: Endpoints,
    pub http: reqwest::Client,
    pub tokens: Arc<Tokens>,
    /// Objects applies created moments ago (lists lag behind writes): see `plan::recent`.
    pub recent: Arc<RecentCreates>,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Http(#[from] graph::HttpClientError),
    #[error(
        "no credentials: set AZURE_CLIENT_ID with AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE (or sign in with the Azure CLI), or try `--sandbox`"
    )]
    NoCredentials,
}

impl Session {
    /// Real tenants, configured by `AZURE_*` / `MSSP_*` variables.
    pub(crate) fn from_env(method: AuthMethod) -> Result<Self, SessionError> {
        let ca = graph::ca_bundle_from_env().map_err(SessionError::Http)?;
        let http = graph::http_client(ca.as_deref()).map_err(SessionError::Http)?;
        let config = AuthConfig::from_env(method);
        let effective = config.effective_method();
        let cli_missing = effective == AuthMethod::AzureCli && !on_path("az");
        if cli_missing
            || (config.client_id.is_none()
                && !matches!(
                    effective,
                    AuthMethod::AzureCli | AuthMethod::ManagedIdentity
                ))
        {
            return Err(SessionError::NoCredentials);
        }
        let mut s = Self::new(http, config, Endpoints::from_env());
        if let Some(path) = RecentCreates::default_path() {
            s.recent = Arc::new(RecentCreates::open(&path));
        }
        Ok(s)
    }

    /// Explicit endpoints and a client secret (the sandbox, tests).
    pub fn with_secret(
        endpoints: Endpoints,
        client_id: &str,
        client_secret: &str,
        ca_pem: Option<&[u8]>,
    ) -> Result<Self, SessionError> {
        let http = graph::http_client(ca_pem).map_err(SessionError::Http)?;
        let config = AuthConfig {
            method: AuthMethod::Secret,
            client_id: Some(client_id.to_string()),
            client_secret: Some(azure_core::credentials::Secret::new(
                client_secret.to_string(),
            )),
            certificate_path: None,
            federated_token_file: None,
            ..Default::default()
        };
        Ok(Self::new(http, config, endpoints))
    }

    /// Explicit endpoints and credential settings (any method).
    pub fn with_config(
        endpoints: Endpoints,
        config: AuthConfig,
        ca_pem: Option<&[u8]>,
    ) -> Result<Self, SessionError> {
        let http = graph::http_client(ca_pem).map_err(SessionError::Http)?;
        Ok(Self::new(http, config, endpoints))
    }

    fn new(http: reqwest::Client, config: AuthConfig, endpoints: Endpoints) -> Self {
        let tokens = Arc::new(Tokens::new(config, http.clone()));
        Self {
            graph: Arc::new(Graph::new(
                http.clone(),
                Arc::clone(&tokens),
                RetryPolicy::default(),
            )),
            endpoints,
            http,
            tokens,
            recent: Arc::new(RecentCreates::in_memory()),
        }
    }
}

/// Whether an executable is on `PATH` (the Azure CLI fallback needs `az`).
fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
}
