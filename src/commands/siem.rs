//! `mssp siem config`: per-customer SIEM connector configuration (see [`crate::alerts::connector`]).

use std::path::PathBuf;

use crate::alerts::connector::{self, Format};
use crate::alerts::siem::{self, Target};
use crate::commands::{ClientIdError, ConnectionArgs, Error};
use crate::engine;
use crate::exit;
use crate::graph::{Service, Version};
use crate::manifest::SiemVariant;

#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub manifests: super::ManifestArgs,
    /// Which SIEM to configure.
    #[arg(long, value_enum)]
    pub format: Format,
    #[command(flatten)]
    pub selection: super::TenantSelection,
    /// The SIEM app's client id (multi-tenant variant); otherwise MSSP_SIEM_CLIENT_ID, otherwise
    /// read from the tenant that registers the app.
    #[arg(long, value_name = "GUID")]
    pub client_id: Option<String>,
    /// Write one file per customer (`<customer>.<ext>`) into this directory instead of stdout.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Directory with templates (`splunk.conf`, `elastic.json`, `sentinel.json`, `generic.json`)
    /// overriding the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum SiemCommand {
    /// Render connector configuration per SIEM-enabled customer (secret references only).
    #[command(
        after_help = "Examples:\n  mssp siem config --format sentinel --client-id 11111111-2222-3333-4444-555555555555 examples/\n  mssp siem config --format splunk --sandbox --out siem/ examples/"
    )]
    Config(ConfigArgs),
}

pub fn run(cmd: &SiemCommand) -> super::Outcome {
    let SiemCommand::Config(a) = cmd;
    engine::block_on(config(a))
}

async fn config(a: &ConfigArgs) -> super::Outcome {
    let (validated, diags, _) = engine::load_and_validate(&a.manifests.paths);
    eprint!("{}", diags.render_brief());
    let v = validated.ok_or(engine::EngineError::InvalidManifests { what: None })?;
    let app = v
        .provider
        .doc
        .spec
        .siem
        .clone()
        .ok_or(crate::alerts::AlertsError::NoSiem)?;
    let targets = siem::targets(
        &v,
        &crate::plan::Endpoints::default(),
        &a.selection.customers,
    )?;
    let given = a.client_id.clone().or_else(|| {
        std::env::var("MSSP_SIEM_CLIENT_ID")
            .ok()
            .filter(|v| !v.is_empty())
    });
    let per_customer = app.variant == SiemVariant::PerCustomer;
    let with_ids: Vec<(Target, String)> = match (given, per_customer) {
        (Some(id), false) => targets.into_iter().map(|t| (t, id.clone())).collect(),
        _ => lookup(&v, &app, targets, &a.connection)
            .await
            .map_err(Error::SiemClientId)?,
    };
    let rendered = connector::render(&app, &with_ids, a.format, a.templates.as_deref())?;
    if a.format == Format::Sentinel {
        // The CCF template is the answer for a workspace in the MSSP's tenant only.
        eprintln!(
            "note: where the Sentinel workspace is in the customer's tenant (or delegated to the MSSP with Azure Lighthouse), use Microsoft's built-in Microsoft Defender XDR connector there instead (SecurityAlert/SecurityIncident, no app secret); see docs/siem.md"
        );
    }
    match &a.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(Error::io(dir.display().to_string()))?;
            for (name, text) in &rendered {
                let path = dir.join(format!("{name}.{}", a.format.extension()));
                std::fs::write(&path, text).map_err(Error::io(path.display().to_string()))?;
                eprintln!("wrote {}", path.display());
            }
        }
        None => {
            for (_, text) in &rendered {
                println!("{}", text.trim_end());
            }
        }
    }
    Ok(exit::SUCCESS)
}

/// Reads the SIEM app's client id from the tenant registering it (the provider's, or each
/// customer's for the per-customer variant).
async fn lookup(
    v: &crate::validate::Validated,
    app: &crate::manifest::SiemApp,
    targets: Vec<Target>,
    connection: &ConnectionArgs,
) -> Result<Vec<(Target, String)>, ClientIdError> {
    let (session, sandbox) = engine::connect(connection, v)
        .await
        .map_err(ClientIdError::Connect)?;
    let p = &v.provider.doc.spec;
    let path = format!(
        "applications(uniqueName='{}')?$select=appId",
        app.unique_name.value
    );
    let read = |tenant: String, cloud| {
        let tg = session
            .graph
            .tenant(&tenant, session.endpoints.profile(cloud));
        let path = path.clone();
        async move {
            match tg.get_opt(Service::Graph(Version::V1), &path).await {
                Ok(Some(a)) => a
                    .get("appId")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_string)
                    .ok_or(ClientIdError::NoAppId { tenant }),
                Ok(None) => Err(ClientIdError::Missing {
                    name: app.unique_name.value.clone(),
                    tenant,
                }),
                Err(e) => Err(ClientIdError::Graph(e)),
            }
        }
    };
    let mut out = Vec::new();
    let result = async {
        if app.variant == SiemVariant::PerCustomer {
            for t in targets {
                let id = read(t.tenant_id.clone(), t.cloud).await?;
                out.push((t, id));
            }
        } else {
            let id = read(p.tenant_id.value.to_ascii_lowercase(), p.cloud).await?;
            out.extend(targets.into_iter().map(|t| (t, id.clone())));
        }
        Ok::<(), ClientIdError>(())
    }
    .await;
    if let Some(sb) = sandbox {
        let _ = sb.shutdown().await;
    }
    result.map(|()| out)
}
