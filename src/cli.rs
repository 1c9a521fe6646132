//! Command-line interface: argument definitions and dispatch to [`crate::commands`].
//!
//! The three binaries (`mssp`, `mssp-plan`, `mssp-apply`) are a few lines each over
//! [`main`] and [`main_as`]; everything they do is reachable from here.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::commands;
use crate::exit;
use crate::schema::SchemaKind;

/// MSSP onboarding as code for Microsoft Defender and Entra ID.
#[derive(Debug, Parser)]
#[command(
    name = "mssp",
    version,
    about,
    long_about = None,
    propagate_version = true,
    after_help = "Exit codes: 0 success (no changes with --detailed-exitcode), 1 error, 2 changes present \
(plan --detailed-exitcode), 3 stale saved plan, 4 apply lease held, 5 twins found, 64 usage error \
(unknown flag, missing argument), 130 interrupted (Ctrl-C)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log filter (e.g. `info`, `mssp=debug`); also read from `MSSP_LOG`.
    #[arg(long, global = true, env = "MSSP_LOG", default_value = "warn")]
    pub log: String,
    /// Log line format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests offline and report every problem at once.
    #[command(
        after_help = "Examples:\n  mssp validate examples/\n  mssp validate --explain contoso examples/\n  mssp validate --skip-foreign examples/customers/contoso.yaml"
    )]
    Validate(ValidateArgs),
    /// Show what would change in each tenant (same as `mssp-plan`).
    #[command(
        after_help = "Examples:\n  mssp plan --sandbox examples/\n  mssp plan --format markdown --out plan.json --detailed-exitcode manifests/"
    )]
    Plan(PlanArgs),
    /// Make the tenants match the manifests (same as `mssp-apply`).
    #[command(
        after_help = "Examples:\n  mssp apply plan.json\n  mssp apply --auto-approve --journal journal.jsonl manifests/"
    )]
    Apply(ApplyArgs),
    /// Render a saved plan (`plan --out`) again, in any format, without reading a tenant.
    #[command(
        after_help = "Examples:\n  mssp show plan.json\n  mssp show --format markdown plan.json > plan.md"
    )]
    Show(ShowArgs),
    /// Run the local stand-in for Entra ID, Microsoft Graph and the Defender API.
    #[command(
        subcommand,
        after_help = "Example:\n  mssp sandbox serve --seed examples/ --state .mssp-sandbox/state.json"
    )]
    Sandbox(SandboxCommand),
    /// Fetch alerts as the SIEM app (NDJSON) and deliver the notification rules.
    #[command(
        subcommand,
        after_help = "Examples:\n  mssp alerts fetch --sandbox examples/\n  mssp alerts notify --dry-run --sandbox examples/"
    )]
    Alerts(crate::commands::alerts::AlertsCommand),
    /// SIEM connector configuration.
    #[command(
        subcommand,
        after_help = "Example:\n  mssp siem config --format sentinel --client-id 11111111-2222-3333-4444-555555555555 examples/"
    )]
    Siem(crate::commands::siem::SiemCommand),
    /// List the application permissions the tool needs in each tenant, with consent links.
    #[command(
        after_help = "Example:\n  mssp permissions --client-id 11111111-2222-3333-4444-555555555555 manifests/"
    )]
    Permissions(PermissionsArgs),
    /// Print each customer's tenant-specific Defender portal and My Access links.
    #[command(
        after_help = "Examples:\n  mssp portal contoso\n  mssp portal --open contoso\n  mssp portal --live contoso   # one My Access link per access package"
    )]
    Portal(PortalArgs),
    /// Read a hand-configured customer tenant and write its Customer manifest (adoption).
    #[command(
        after_help = "Examples:\n  mssp export --customer-tenant 5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d \\\n      --out customers/tailspin.yaml manifests/\n  mssp export --customer-tenant 5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d \\\n      --owner soc-lead@fabrikam.example manifests/"
    )]
    Export(crate::commands::export::ExportArgs),
    /// Report, per customer, what access the MSSP holds: groups, packages, who holds access
    /// until when, Defender roles, SIEM grants and credential expiry, manual items.
    #[command(
        after_help = "Examples:\n  mssp report --customer contoso manifests/\n  mssp report --format html --out access.html manifests/\n  mssp report --format json --out report-$(date +%F).json manifests/"
    )]
    Report(crate::commands::report::ReportArgs),
    /// Join the JSON outputs of `--shard 1/N` … `N/N` (plans or reports) into one; refuses a
    /// missing, duplicate or foreign shard.
    #[command(
        after_help = "Examples:\n  mssp merge --out plan.json --format markdown --detailed-exitcode plan-1.json plan-2.json plan-3.json\n  mssp merge --format html report-*.json > access.html"
    )]
    Merge(crate::commands::merge::MergeArgs),
    /// The apply lease that keeps concurrent applies apart: who holds it, or break a dead one.
    #[command(
        subcommand,
        after_help = "Examples:\n  mssp lease show manifests/\n  mssp lease break --yes manifests/"
    )]
    Lease(crate::commands::lease::LeaseCommand),
    /// List objects the tool owns that match one natural key more than once; remove the newer.
    #[command(
        after_help = "Examples:\n  mssp twins manifests/\n  mssp twins --customer contoso --remove-newer --yes manifests/"
    )]
    Twins(crate::commands::twins::TwinsArgs),
    /// Print the JSON Schema of a manifest kind.
    #[command(after_help = "Examples:\n  mssp schema customer\n  mssp schema --write schemas/")]
    Schema(SchemaArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  mssp completions bash > ~/.local/share/bash-completion/completions/mssp\n  mssp completions zsh > \"${fpath[1]}/_mssp\"\n  mssp completions fish > ~/.config/fish/completions/mssp.fish"
    )]
    Completions(crate::commands::completions::CompletionsArgs),
    /// Print the man page, or write one page per command into a directory.
    #[command(
        after_help = "Examples:\n  mssp man | man -l -\n  mssp man --out-dir /usr/local/share/man/man1"
    )]
    Man(crate::commands::completions::ManArgs),
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Manifest files or directories (searched recursively for *.yaml / *.yml). Default: the first of ./, manifests/, examples/ with the Provider manifest at its top.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Print the resources a customer (or the provider) expands to.
    #[arg(long, value_name = "NAME")]
    pub explain: Option<String>,
    /// Output format of `--explain`.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
    /// The Provider manifest to check customer files against. Without it, and when the given
    /// paths hold customers but no provider, one is looked for in the files' folders and their
    /// parents up to the repository root (pre-commit passes only the changed files).
    #[arg(long, value_name = "FILE")]
    pub provider: Option<PathBuf>,
    /// Skip YAML documents that are not mssp manifests even in files named explicitly (a
    /// pre-commit hook passes every changed `.yaml` file, CI workflows included).
    #[arg(long)]
    pub skip_foreign: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Manifest files or directories. Default: the first of ./, manifests/, examples/ with the Provider manifest at its top.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub connection: crate::commands::ConnectionArgs,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,
    /// Also save the plan (JSON, with fingerprints of everything read) for `mssp apply`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 0 when nothing would change, 2 when something would, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan only this customer (repeatable). The MSSP tenant is always read.
    #[arg(long, value_name = "NAME")]
    pub customer: Vec<String>,
    /// Plan only customers whose `metadata.labels` have this value (repeatable; all must match).
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_label)]
    pub label: Vec<(String, String)>,
    /// Tenants read at the same time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,
    /// Plan deletions of owned objects the manifests no longer declare.
    #[arg(long)]
    pub prune: bool,
    #[command(flatten)]
    pub shard: crate::shard::ShardArgs,
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err("expected KEY=VALUE, e.g. region=emea".to_string()),
    }
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The saved plan (`mssp plan --out FILE`).
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Human,
    Json,
    Markdown,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Serve the sandbox until interrupted; prints one JSON line with its URL and credentials.
    #[command(
        after_help = "Example:\n  mssp sandbox serve --seed examples/ --state .mssp-sandbox/state.json"
    )]
    Serve(crate::sandbox::ServeArgs),
}

#[derive(Debug, Args)]
pub struct PermissionsArgs {
    /// Manifest files or directories. Default: the first of ./, manifests/, examples/ with the Provider manifest at its top.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The tool's application (client) id, for the consent links; defaults to AZURE_CLIENT_ID.
    #[arg(long, env = "AZURE_CLIENT_ID")]
    pub client_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct PortalArgs {
    /// Customers to show (all when none is named).
    #[arg(value_name = "CUSTOMER")]
    pub customers: Vec<String>,
    /// Manifest files or directories. Default: the first of ./, manifests/, examples/ with the Provider manifest at its top.
    #[arg(long = "manifests", value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Also open the Defender portal in a browser.
    #[arg(long)]
    pub open: bool,
    /// Read the tenants (or the sandbox, with --sandbox) for each access package's own My
    /// Access request link.
    #[arg(long)]
    pub live: bool,
    #[command(flatten)]
    pub connection: crate::commands::ConnectionArgs,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A saved plan (`plan.json`), or manifest files or directories. Default: the first of ./, manifests/, examples/ with the Provider manifest at its top.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub connection: crate::commands::ConnectionArgs,
    /// Apply without asking (CI). Saved plans never ask: reviewing them was the approval.
    #[arg(long)]
    pub auto_approve: bool,
    /// Allow deleting owned objects the manifests no longer declare (protected kinds also need
    /// the customer's `lifecycle.allowProtectedDeletes`).
    #[arg(long)]
    pub allow_delete: bool,
    /// Append a JSON line per write to this file (audit trail).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Apply only this customer (repeatable).
    #[arg(long, value_name = "NAME")]
    pub customer: Vec<String>,
    /// Tenants applied at the same time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,
    /// Seconds a dependent may wait for a new object to replicate.
    #[arg(long, default_value_t = 120)]
    pub replication_timeout: u64,
    /// After applying, sign in as the SIEM app in each SIEM-enabled customer tenant and read
    /// alerts; a failure names the missing grant.
    #[arg(long)]
    pub verify_siem: bool,
    /// How long to wait for another apply's lease before giving up (e.g. `10m`); 0 = stop at once.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub lease_wait: std::time::Duration,
    /// How long the apply lease lives without renewal (a killed run blocks others this long).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub lease_ttl: std::time::Duration,
    #[command(flatten)]
    pub shard: crate::shard::ShardArgs,
}

/// `30s`, `10m`, `1h 30m`, ISO 8601 `PT10M`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    if let Ok(secs) = s.trim().parse::<u64>() {
        return Ok(std::time::Duration::from_secs(secs));
    }
    let d: jiff::SignedDuration = s
        .trim()
        .parse()
        .map_err(|e| format!("not a duration (e.g. 30s, 10m, PT1H): {e}"))?;
    std::time::Duration::try_from(d).map_err(|_| "a duration cannot be negative".to_string())
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Which manifest kind.
    #[arg(value_enum, default_value_t = SchemaKind::Customer)]
    pub kind: SchemaKind,
    /// Write every schema into this directory instead of printing one.
    #[arg(long, value_name = "DIR")]
    pub write: Option<PathBuf>,
}

/// Runs `mssp` with the given arguments (the first is the program name).
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    quiet_on_closed_pipe();
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::SUCCESS
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(&cli);
    // One line at the start and end of every run, so a pipeline's JSON logs say which
    // version ran what and how it ended (the arguments are not logged: paths only, but
    // they are not ours to publish).
    let name = command_name(&cli.command);
    tracing::info!(
        command = name,
        version = env!("CARGO_PKG_VERSION"),
        "mssp starting"
    );
    let code = run(cli.command);
    tracing::info!(command = name, exit_code = code, "mssp finished");
    ExitCode::from(code)
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Validate(_) => "validate",
        Command::Plan(_) => "plan",
        Command::Apply(_) => "apply",
        Command::Show(_) => "show",
        Command::Sandbox(_) => "sandbox",
        Command::Alerts(_) => "alerts",
        Command::Siem(_) => "siem",
        Command::Portal(_) => "portal",
        Command::Export(_) => "export",
        Command::Report(_) => "report",
        Command::Merge(_) => "merge",
        Command::Permissions(_) => "permissions",
        Command::Lease(_) => "lease",
        Command::Twins(_) => "twins",
        Command::Schema(_) => "schema",
        Command::Completions(_) => "completions",
        Command::Man(_) => "man",
    }
}

/// Runs a `mssp-<sub>` alias binary: `mssp-plan ARGS` is `mssp plan ARGS`.
pub fn main_as(sub: &str, args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let mut args = args.into_iter();
    let program = args.next().unwrap_or_else(|| OsString::from("mssp"));
    let all = std::iter::once(program)
        .chain(std::iter::once(OsString::from(sub)))
        .chain(args);
    main(all)
}

fn run(command: Command) -> u8 {
    match command {
        Command::Validate(a) => commands::validate::run(&a),
        Command::Schema(a) => commands::schema::run(&a),
        Command::Plan(a) => commands::plan::run(&a),
        Command::Sandbox(SandboxCommand::Serve(a)) => commands::sandbox::serve(&a),
        Command::Apply(a) => commands::apply::run(&a),
        Command::Show(a) => commands::show::run(&a),
        Command::Portal(a) => commands::portal::run(&a),
        Command::Export(a) => commands::export::run(&a),
        Command::Report(a) => commands::report::run(&a),
        Command::Merge(a) => commands::merge::run(&a),
        Command::Permissions(a) => commands::permissions::run(&a),
        Command::Lease(c) => commands::lease::run(&c),
        Command::Twins(a) => commands::twins::run(&a),
        Command::Alerts(a) => commands::alerts::run(&a),
        Command::Siem(a) => commands::siem::run(&a),
        Command::Completions(a) => commands::completions::completions(&a),
        Command::Man(a) => commands::completions::man(&a),
    }
}

fn init_logging(cli: &Cli) {
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Colour codes in a log file or a CI log viewer that does not render them are noise.
    let ansi = {
        use std::io::IsTerminal as _;
        std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = match cli.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Printing into a closed pipe (`mssp plan | head`) makes `println!`/`eprintln!` panic. A
/// command-line tool should end quietly instead, as `cat` does, with the status a shell gives a
/// process ended by SIGPIPE (128 + 13). The signal itself stays ignored (Rust's default):
/// restoring it would also kill the process when a server closes a socket mid-write.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if text.starts_with("failed printing to std") && text.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}
