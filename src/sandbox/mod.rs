//! Local stand-in for the Entra token endpoint, Microsoft Graph (v1.0 + beta) and the Defender for
//! Endpoint API, served over HTTPS with a generated CA. Tests start it in-process
//! ([`Sandbox::start`]); `mssp sandbox serve` runs it until SIGINT/SIGTERM ([`serve`]).
//! What is emulated and how is described in docs/sandbox.md; the behaviour follows
//! ../shared/api-contract.md.

pub mod api;
pub mod csdl;
pub mod errors;
pub mod faults;
pub mod odata;
pub mod permissions;
pub mod routes;
pub mod state;
pub mod tls;
pub mod token;
pub mod world;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post, put};
use serde_json::json;
use uuid::Uuid;

pub use errors::SandboxError;
use faults::{FaultConfig, Faults};
use state::State;

/// Random fault probabilities (0..1 each).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultSettings {
    pub rate_429: f64,
    pub rate_5xx: f64,
    pub rate_lost: f64,
}

/// Default lag before a new object shows up in reads, lists and as a reference target.
/// Microsoft documents replication delays of seconds (api-contract §5.5); strict by default,
/// `--replication-delay-ms 0` relaxes it.
pub(crate) const DEFAULT_REPLICATION_DELAY_MS: u64 = 1500;

/// How a sandbox runs.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    pub listen: SocketAddr,
    pub state_file: Option<PathBuf>,
    /// Directory where `ca.pem` is written.
    pub ca_dir: PathBuf,
    pub faults: FaultSettings,
    pub page_size: usize,
    pub replication_delay: Duration,
    pub latency: Duration,
    pub fault_seed: u64,
    /// Seconds announced in `Retry-After` on 429/503 (0 allowed, for fast tests).
    pub retry_after_secs: u64,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            state_file: None,
            ca_dir: PathBuf::from(".mssp-sandbox"),
            faults: FaultSettings::default(),
            page_size: 100,
            replication_delay: Duration::from_millis(DEFAULT_REPLICATION_DELAY_MS),
            latency: Duration::ZERO,
            fault_seed: 0,
            retry_after_secs: 1,
        }
    }
}

/// One tenant to create.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantSeed {
    pub tenant_id: Uuid,
    pub domain: String,
    pub display_name: String,
    /// false: no WindowsDefenderATP service principal; tokens for MDE fail with AADSTS500011.
    pub defender_licensed: bool,
    /// Number of seeded alerts_v2 alerts (and matching MDE alerts).
    pub alerts: usize,
}

/// The world to create when no state file exists yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Seed {
    pub provider: TenantSeed,
    pub customers: Vec<TenantSeed>,
    /// Graph app-role values granted to the provisioning app in every tenant.
    pub provisioning_roles: Vec<String>,
    /// Tenants whose administrator consented to less: only these of `provisioning_roles`
    /// are granted there (what `mssp permissions` lists for that tenant).
    pub tenant_roles: std::collections::BTreeMap<Uuid, Vec<String>>,
    /// WindowsDefenderATP app-role values granted to it (where Defender is licensed).
    pub defender_roles: Vec<String>,
}

/// A running sandbox.
pub struct Sandbox {
    pub url: String,
    pub ca_cert_path: PathBuf,
    pub ca_pem: String,
    pub client_id: String,
    pub client_secret: String,
    pub tenants: Vec<Uuid>,
    shared: Arc<api::Shared>,
    handle: axum_server::Handle<SocketAddr>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    flusher: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Sandbox {
    /// A command that returns early without [`Sandbox::shutdown`] still keeps its writes.
    fn drop(&mut self) {
        if let Some(f) = self.flusher.take() {
            f.abort();
        }
        self.shared.flush_now();
    }
}

/// The world, and whether the state file must be written now (a new world, or tenants or
/// grants added to a loaded one: rewriting an unchanged 10,000-tenant file costs a minute).
fn load_or_create(opts: &SandboxOptions, seed: &Seed) -> Result<(State, bool), SandboxError> {
    let existing = match &opts.state_file {
        Some(p) => State::load(p)?,
        None => None,
    };
    Ok(match existing {
        Some(mut st) => {
            let changed = st.add_missing_tenants(seed);
            (st, changed)
        }
        None => (
            State::from_seed(seed, tls::generate_ca()?, token::generate_signing_key()?),
            true,
        ),
    })
}

fn router(shared: Arc<api::Shared>) -> Router {
    use routes::control;
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(api::token_endpoint))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(api::openid_config),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(api::jwks))
        .route("/common/discovery/instance", get(api::instance_discovery))
        .route("/_sandbox/state", get(control::state))
        .route("/_sandbox/requests", get(control::requests))
        .route("/_sandbox/reset-log", post(control::reset_log))
        .route(
            "/_sandbox/faults",
            put(control::put_faults).get(control::get_faults),
        )
        .route(
            "/_sandbox/tenants/{tid}/assignments",
            post(control::seed_assignment),
        )
        .route("/_sandbox/tenants/{tid}/alerts", post(control::seed_alert))
        .route("/_sandbox/gdap/{id}/{action}", post(control::gdap))
        .fallback(api::api)
        .with_state(shared)
}

impl Sandbox {
    /// Starts a sandbox in-process on `opts.listen` (port 0 = a free port).
    pub async fn start(opts: SandboxOptions, seed: Seed) -> Result<Sandbox, SandboxError> {
        // rustls needs one process-wide crypto provider; another caller may have installed it already.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        if let Some(dir) = opts
            .state_file
            .as_deref()
            .and_then(std::path::Path::parent)
            .filter(|d| !d.as_os_str().is_empty())
        {
            state::create_private_dir(dir).map_err(|source| SandboxError::WriteState {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let (st, changed) = load_or_create(&opts, &seed)?;
        state::create_private_dir(&opts.ca_dir).map_err(|source| SandboxError::WriteCa {
            path: opts.ca_dir.clone(),
            source,
        })?;
        let ca_cert_path = opts.ca_dir.join("ca.pem");
        std::fs::write(&ca_cert_path, &st.ca.cert_pem).map_err(|source| SandboxError::WriteCa {
            path: ca_cert_path.clone(),
            source,
        })?;
        let server_cert = tls::issue_server_cert(&st.ca)?;
        let tls_config = axum_server::tls_rustls::RustlsConfig::from_pem(
            server_cert.chain_pem.into_bytes(),
            server_cert.key_pem.into_bytes(),
        )
        .await
        .map_err(|e| SandboxError::Tls(e.to_string()))?;
        let listener =
            std::net::TcpListener::bind(opts.listen).map_err(|source| SandboxError::Bind {
                addr: opts.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            addr: opts.listen,
            source,
        })?;
        listener
            .set_nonblocking(true)
            .map_err(|source| SandboxError::Bind { addr, source })?;
        let url = format!("https://127.0.0.1:{}", addr.port());
        let fault_config = FaultConfig {
            rate_429: opts.faults.rate_429,
            rate_5xx: opts.faults.rate_5xx,
            rate_lost: opts.faults.rate_lost,
            latency_ms: u64::try_from(opts.latency.as_millis()).unwrap_or(u64::MAX),
            replication_delay_ms: u64::try_from(opts.replication_delay.as_millis())
                .unwrap_or(u64::MAX),
            page_size: opts.page_size.max(1),
            retry_after_secs: opts.retry_after_secs,
            one_shots: vec![],
            delays: vec![],
        };
        let signer = token::Signer::new(&st.signing_key_pkcs8, &st.signing_kid)?;
        let (client_id, client_secret) = (
            st.provisioning.client_id.to_string(),
            st.provisioning.client_secret.clone(),
        );
        let tenants = std::iter::once(st.provider_tenant)
            .chain(
                st.tenants
                    .keys()
                    .copied()
                    .filter(|t| *t != st.provider_tenant),
            )
            .collect();
        let ca_pem = st.ca.cert_pem.clone();
        // A file left readable by others (an older version) is made private by rewriting it.
        if let Some(p) = &opts.state_file
            && (changed || !state::is_private(p))
        {
            st.save(p)?;
        }
        let shared = Arc::new(api::Shared {
            world: world::World::new(st),
            faults: Mutex::new(Faults::new(fault_config, opts.fault_seed)),
            log: Mutex::new(Vec::new()),
            signer,
            base: url.clone(),
            state_file: opts.state_file.clone(),
            dirty: std::sync::atomic::AtomicBool::new(false),
        });
        let flusher = opts.state_file.is_some().then(|| {
            let shared = shared.clone();
            tokio::spawn(async move {
                // Writing holds every tenant's lock: keep that under a tenth of the time,
                // however large the world grows.
                let mut every = api::FLUSH_EVERY;
                loop {
                    tokio::time::sleep(every).await;
                    let started = std::time::Instant::now();
                    shared.flush().await;
                    every = api::FLUSH_EVERY.max(started.elapsed() * 10);
                }
            })
        });
        let handle = axum_server::Handle::new();
        let app = router(shared.clone()).into_make_service_with_connect_info::<SocketAddr>();
        // Nagle's algorithm would hold small answers back until the client's delayed ACK.
        let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls_config)
            .acceptor(axum_server::accept::NoDelayAcceptor::new());
        let server = axum_server::from_tcp(listener)
            .map_err(SandboxError::Serve)?
            .acceptor(acceptor)
            .handle(handle.clone());
        let server = tokio::spawn(async move { server.serve(app).await });
        Ok(Sandbox {
            url,
            ca_cert_path,
            ca_pem,
            client_id,
            client_secret,
            tenants,
            shared,
            handle,
            server: Some(server),
            flusher,
        })
    }

    /// The one JSON line `mssp sandbox serve` prints on start.
    pub fn startup_line(&self) -> String {
        // Absolute: whoever reads the line (a script, another shell) is rarely in the folder
        // the sandbox was started from.
        let ca_cert =
            std::path::absolute(&self.ca_cert_path).unwrap_or_else(|_| self.ca_cert_path.clone());
        json!({
            "url": self.url, "ca_cert": ca_cert, "client_id": self.client_id,
            "client_secret": self.client_secret, "tenants": self.tenants,
        })
        .to_string()
    }

    /// Stops serving and flushes the state file.
    pub async fn shutdown(mut self) -> Result<(), SandboxError> {
        self.handle.graceful_shutdown(Some(Duration::from_secs(2)));
        if let Some(f) = self.flusher.take() {
            f.abort();
        }
        if let Some(server) = self.server.take() {
            match server.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(SandboxError::Serve(e)),
                Err(e) => return Err(SandboxError::Serve(std::io::Error::other(e.to_string()))),
            }
        }
        // Nothing changed since the last write: rewriting a large world would only cost time.
        if let Some(p) = &self.shared.state_file
            && self
                .shared
                .dirty
                .swap(false, std::sync::atomic::Ordering::AcqRel)
        {
            self.shared.world.save(p).await?;
        }
        Ok(())
    }
}

/// Runs a sandbox until SIGINT/SIGTERM: prints [`Sandbox::startup_line`] on stdout, then flushes state.
pub async fn serve(opts: SandboxOptions, seed: Seed) -> Result<(), SandboxError> {
    let sandbox = Sandbox::start(opts, seed).await?;
    println!("{}", sandbox.startup_line());
    wait_for_signal().await;
    sandbox.shutdown().await
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `mssp sandbox serve` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 = any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// State file: loaded when it exists (seeds then only add missing tenants), written within half a second of a change and on shutdown.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Manifest files or directories to seed tenants from.
    #[arg(long = "seed", value_name = "PATH")]
    pub seed: Vec<PathBuf>,
    /// Added latency per API request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Probability (0..1) of answering 429 Too Many Requests.
    #[arg(long, default_value_t = 0.0)]
    pub rate_429: f64,
    /// Probability (0..1) of answering 500/503/504.
    #[arg(long, default_value_t = 0.0)]
    pub rate_5xx: f64,
    /// Probability (0..1) that a write is committed but answered with 504.
    #[arg(long, default_value_t = 0.0)]
    pub rate_lost: f64,
    /// Milliseconds before a new object is visible to reads and references.
    #[arg(long, default_value_t = DEFAULT_REPLICATION_DELAY_MS)]
    pub replication_delay_ms: u64,
    /// Default page size of collections.
    #[arg(long, default_value_t = 100)]
    pub page_size: usize,
    /// Seed of the fault RNG (same seed, same faults).
    #[arg(long, default_value_t = 0)]
    pub fault_seed: u64,
    /// Seconds announced in Retry-After on 429/503.
    #[arg(long, default_value_t = 1)]
    pub retry_after_secs: u64,
    /// Directory where ca.pem is written.
    #[arg(long, default_value = ".mssp-sandbox")]
    pub ca_dir: PathBuf,
}

impl ServeArgs {
    pub fn options(&self) -> SandboxOptions {
        SandboxOptions {
            listen: self.listen,
            state_file: self.state.clone(),
            ca_dir: self.ca_dir.clone(),
            faults: FaultSettings {
                rate_429: self.rate_429,
                rate_5xx: self.rate_5xx,
                rate_lost: self.rate_lost,
            },
            page_size: self.page_size,
            replication_delay: Duration::from_millis(self.replication_delay_ms),
            latency: Duration::from_millis(self.latency_ms),
            fault_seed: self.fault_seed,
            retry_after_secs: self.retry_after_secs,
        }
    }
}
