//! One module per subcommand: each turns parsed arguments into work on the library and an
//! exit code, and owns what that subcommand prints.

pub mod alerts;
pub mod apply;
pub mod completions;
pub mod export;
pub mod lease;
pub mod merge;
pub mod permissions;
pub mod plan;
pub mod portal;
pub mod report;
pub mod sandbox;
pub mod schema;
pub mod show;
pub mod siem;
pub mod twins;
pub mod validate;

mod error;

use std::path::PathBuf;

pub use error::{ClientIdError, Error};

/// What a command ends with: an exit code that is not an error (0, or 2 for "changes
/// present", 5 for "twins found"), or the error `cli::report_error` prints.
pub type Outcome = Result<u8, Error>;

/// Where `--sandbox` keeps its state unless `--sandbox-dir` says otherwise.
pub const DEFAULT_SANDBOX_DIR: &str = ".mssp-sandbox";

/// How a command reaches the tenants.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionArgs {
    /// Run against an in-process sandbox seeded from the manifests (state in --sandbox-dir),
    /// instead of the real tenants.
    #[arg(long)]
    pub sandbox: bool,
    /// Where `--sandbox` keeps its state file and CA certificate.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_SANDBOX_DIR)]
    pub sandbox_dir: PathBuf,
    /// Credential to use against real tenants (default: picked from AZURE_* variables).
    #[arg(long, value_enum, env = "MSSP_AUTH", default_value_t = crate::auth::AuthMethod::Auto)]
    pub auth: crate::auth::AuthMethod,
}

/// The manifests a command reads (`mssp apply` takes a saved plan in their place, and says so
/// in its own argument).
#[derive(Debug, Clone, clap::Args)]
pub struct ManifestArgs {
    /// Manifest files or directories (searched recursively for *.yaml / *.yml). Default: the
    /// first of ./, manifests/, examples/ with the Provider manifest at its top.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// Which customer tenants a command covers. (Sharding, `--shard K/N`, belongs here too.)
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TenantSelection {
    /// Only this customer (repeatable); all when none is named.
    #[arg(long = "customer", value_name = "NAME")]
    pub customers: Vec<String>,
}

/// How many tenants are worked on at the same time.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct ParallelismArgs {
    /// Tenants read (or applied) at the same time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,
}

impl ParallelismArgs {
    pub fn get(self) -> usize {
        usize::from(self.parallelism)
    }
}
