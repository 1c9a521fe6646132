//! `mssp alerts fetch` and `mssp alerts notify`: argument handling, connecting, the summary on
//! stderr and the exit code. The work is in [`crate::alerts`].

use std::path::PathBuf;

use crate::alerts::AlertsError;
use crate::alerts::fetch::{self, FetchRequest, RunOptions, Stream};
use crate::alerts::notify::{self, NotifyRequest};
use crate::alerts::siem::{self, SiemSignIn};
use crate::commands::ConnectionArgs;
use crate::exit;
use crate::session::Session;
use crate::validate::Validated;

/// Arguments shared by `fetch` and `notify`.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Manifest files or directories. Default: the first of ./, manifests/, examples/ with the Provider manifest at its top.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Only this customer (repeatable).
    #[arg(long, value_name = "NAME")]
    pub customer: Vec<String>,
    /// Where to start for customers the state file has no watermark for (RFC 3339).
    #[arg(long, value_name = "RFC3339")]
    pub since: Option<String>,
    /// `$top` of each request (page size); lowered to each endpoint's limit (incidents: 50).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub top: u32,
}

#[derive(Debug, Clone, clap::Args)]
pub struct FetchArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// NDJSON output file (appended to), or `-` for stdout.
    #[arg(long, value_name = "FILE|-")]
    pub out: Option<PathBuf>,
    /// State file with watermarks and the committed output length.
    #[arg(
        long,
        value_name = "FILE",
        default_value = ".mssp-alerts/fetch-state.json"
    )]
    pub state: PathBuf,
    /// Also fetch Graph security incidents (needs SecurityIncident.Read.All).
    #[arg(long)]
    pub incidents: bool,
    /// Also fetch the Defender for Endpoint API's `/api/alerts` (needs WindowsDefenderATP Alert.Read.All).
    #[arg(long)]
    pub defender_api: bool,
    #[command(flatten)]
    pub shard: crate::shard::ShardArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct NotifyArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// State file with watermarks and the (rule, alert) pairs already notified.
    #[arg(
        long,
        value_name = "FILE",
        default_value = ".mssp-alerts/notify-state.json"
    )]
    pub state: PathBuf,
    /// Render and print what would be sent; send nothing, record nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Directory with `subject.txt` / `body.txt` templates overriding the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum AlertsCommand {
    /// Write every SIEM-enabled customer's new alerts as NDJSON, as the SIEM app.
    #[command(
        after_help = "Examples:\n  mssp alerts fetch --sandbox examples/\n  MSSP_SIEM_CLIENT_SECRET=… mssp alerts fetch --out alerts.ndjson --incidents manifests/"
    )]
    Fetch(FetchArgs),
    /// Deliver the customers' notification rules for new alerts by SMTP and webhook.
    #[command(
        after_help = "Examples:\n  mssp alerts notify --dry-run --sandbox examples/\n  mssp alerts notify --templates templates/ manifests/"
    )]
    Notify(NotifyArgs),
}

pub fn run(cmd: &AlertsCommand) -> u8 {
    super::block_on(async {
        match cmd {
            AlertsCommand::Fetch(a) => run_fetch(a).await,
            AlertsCommand::Notify(a) => run_notify(a).await,
        }
    })
}

/// The tool's session when one is available. The SIEM does not need the tool's credentials
/// when `MSSP_SIEM_CLIENT_ID` names the app, so their absence is not an error then.
pub(crate) async fn connect_optional(
    connection: &ConnectionArgs,
    v: &Validated,
) -> Result<(Option<Session>, Option<crate::sandbox::Sandbox>), String> {
    match super::connect(connection, v).await {
        Ok((s, sb)) => Ok((Some(s), sb)),
        Err(e)
            if !connection.sandbox
                && std::env::var("MSSP_SIEM_CLIENT_ID").is_ok_and(|v| !v.is_empty()) =>
        {
            tracing::debug!(error = %e, "no tool session; using MSSP_SIEM_CLIENT_ID");
            Ok((None, None))
        }
        Err(e) => Err(e),
    }
}

struct Prepared {
    v: Validated,
    session: Option<Session>,
    sandbox: Option<crate::sandbox::Sandbox>,
    http: reqwest::Client,
    endpoints: crate::plan::Endpoints,
    opts: RunOptions,
}

async fn prepare(
    c: &CommonArgs,
    default_since: Option<jiff::Timestamp>,
) -> Result<Prepared, String> {
    let since = match &c.since {
        Some(s) => Some(fetch::parse_since(s).map_err(|e| e.to_string())?),
        None => default_since,
    };
    let (validated, diags, _) = super::load_and_validate(&c.paths);
    eprint!("{}", diags.render_brief());
    let v = validated.ok_or("the manifests are invalid")?;
    let (session, sandbox) = connect_optional(&c.connection, &v).await?;
    let (http, endpoints) = match &session {
        Some(s) => (s.http.clone(), s.endpoints.clone()),
        None => {
            let ca = crate::graph::ca_bundle_from_env()?;
            (
                crate::graph::http_client(ca.as_deref())?,
                crate::plan::Endpoints::from_env(),
            )
        }
    };
    Ok(Prepared {
        v,
        session,
        sandbox,
        http,
        endpoints,
        opts: RunOptions { top: c.top, since },
    })
}

async fn finish(p: Prepared) {
    if let Some(sb) = p.sandbox
        && let Err(e) = sb.shutdown().await
    {
        eprintln!("warning: the sandbox did not shut down cleanly: {e}");
    }
}

fn summarize(what: &str, customers: &[(String, Result<usize, AlertsError>)]) -> u8 {
    let mut code = exit::SUCCESS;
    for (name, r) in customers {
        match r {
            Ok(n) => eprintln!("{name}: {n} {what}"),
            Err(e) => {
                eprintln!("error: {e}");
                code = exit::ERROR;
            }
        }
    }
    code
}

async fn run_fetch(a: &FetchArgs) -> u8 {
    let p = match prepare(&a.common, None).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    let code = fetch_with(a, &p).await;
    finish(p).await;
    code
}

async fn fetch_with(a: &FetchArgs, p: &Prepared) -> u8 {
    let mut targets = match siem::targets(&p.v, &p.endpoints, &a.common.customer) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    if let Some(shard) = a.shard.shard {
        targets.retain(|t| shard.owns(&t.tenant_id));
    }
    let mut signin = match SiemSignIn::new(
        &p.v,
        p.endpoints.clone(),
        p.http.clone(),
        p.session.as_ref(),
        a.common.connection.sandbox,
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    let mut streams = vec![Stream::Alerts];
    if a.incidents {
        streams.push(Stream::Incidents);
    }
    if a.defender_api {
        streams.push(Stream::DefenderAlerts);
    }
    let req = FetchRequest {
        streams,
        opts: p.opts.clone(),
        state_path: a.state.clone(),
        out: a.out.clone(),
    };
    let result = fetch::fetch(&mut signin, &targets, &req).await;
    signin.finish().await;
    match result {
        Ok(r) => summarize("new item(s)", &r.customers),
        Err(e) => {
            eprintln!("error: {e}");
            exit::ERROR
        }
    }
}

async fn run_notify(a: &NotifyArgs) -> u8 {
    // Without a watermark, notify only the last day: a first run must not mail the whole history.
    let default_since = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(24))
        .ok();
    let p = match prepare(&a.common, default_since).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    let code = notify_with(a, &p).await;
    finish(p).await;
    code
}

async fn notify_with(a: &NotifyArgs, p: &Prepared) -> u8 {
    let targets = match siem::targets(&p.v, &p.endpoints, &a.common.customer) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    for c in &p.v.customers {
        let s = &c.doc.spec;
        let selected =
            a.common.customer.is_empty() || a.common.customer.contains(&c.doc.metadata.name.value);
        if selected && s.notifications.is_empty() {
            eprintln!(
                "note: {}: no notification rules in its manifest; nothing to send",
                c.doc.metadata.name.value
            );
        }
        if !s.notifications.is_empty() && !s.siem.enabled {
            eprintln!(
                "note: {}: notification rules need `siem.enabled: true` (alerts are read through the SIEM app); they stay manual items",
                c.doc.metadata.name.value
            );
        }
    }
    let mut signin = match SiemSignIn::new(
        &p.v,
        p.endpoints.clone(),
        p.http.clone(),
        p.session.as_ref(),
        a.common.connection.sandbox,
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    // The sandbox's alerts are made up: mailing them through the provider's real relay to
    // real recipients would be worse than useless, so a sandbox run is always a dry run.
    let dry_run = a.dry_run || a.common.connection.sandbox;
    if dry_run && !a.dry_run {
        eprintln!("note: --sandbox: a dry run (the sandbox's alerts are not delivered)");
    }
    let req = NotifyRequest {
        opts: p.opts.clone(),
        state_path: a.state.clone(),
        templates: a.templates.clone(),
        dry_run,
    };
    let spec = &p.v.provider.doc.spec;
    let result = notify::notify(
        &mut signin,
        &targets,
        &spec.display_name,
        spec.delivery.as_ref(),
        p.http.clone(),
        &req,
    )
    .await;
    signin.finish().await;
    match result {
        Ok(r) => {
            for (name, n) in &r.customers {
                if matches!(n, Ok(0)) {
                    eprintln!(
                        "note: {name}: no new alert matched its rules' severities and device \
                         groups (new: since the state file's watermark, or the last 24 hours \
                         on a first run; --since sets it)"
                    );
                }
            }
            let mut code = summarize("notification(s)", &r.customers);
            if r.failed_deliveries > 0 {
                eprintln!(
                    "error: {} deliveries failed; those alerts stay pending for the next run",
                    r.failed_deliveries
                );
                code = exit::ERROR;
            }
            code
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::ERROR
        }
    }
}
