//! `mssp export`: read a hand-configured customer tenant and write its Customer manifest.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Error;
use crate::cloud::Cloud;
use crate::engine;
use crate::exit;
use crate::export::{self, Export, ExportOptions};
use crate::validate::{self, Validated};

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The Provider manifest (and existing customers).
    #[command(flatten)]
    pub manifests: super::ManifestArgs,
    #[command(flatten)]
    pub connection: super::ConnectionArgs,
    /// The customer's tenant id.
    #[arg(long, value_name = "TENANT_ID")]
    pub customer_tenant: String,
    /// The manifest's name (default: from the organization's name).
    #[arg(long)]
    pub name: Option<String>,
    /// The customer's primary domain (default: looked up in the tenant).
    #[arg(long)]
    pub domain: Option<String>,
    /// The customer's organization name (default: looked up in the tenant).
    #[arg(long)]
    pub display_name: Option<String>,
    /// The customer's cloud, when it is not the provider's: public, gcc, gccHigh, dod, china.
    #[arg(long, value_parser = parse_cloud)]
    pub cloud: Option<Cloud>,
    /// Keep live values that differ from the provider's standard as drift exceptions owned by
    /// this e-mail address (without it they are listed, and the first apply converges them).
    #[arg(long, value_name = "EMAIL")]
    pub owner: Option<String>,
    /// How many days those exceptions last.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u16).range(1..=3650))]
    pub keep_days: u16,
    /// Write the manifest here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Overwrite `--out` if it exists.
    #[arg(long)]
    pub force: bool,
}

fn parse_cloud(s: &str) -> Result<Cloud, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| "expected one of: public, gcc, gccHigh, dod, china".to_string())
}

pub fn run(args: &ExportArgs) -> super::Outcome {
    if let Some(owner) = &args.owner
        && !validate::is_email(owner)
    {
        return Err(Error::Usage(format!(
            "--owner `{owner}` is not an e-mail address"
        )));
    }
    if let Some(out) = &args.out
        && out.exists()
        && !args.force
    {
        return Err(Error::OutExists(out.clone()));
    }
    let (v, diags, pending) = export::detections::load_for_export(&args.manifests.paths);
    eprint!("{}", diags.render_brief());
    let v = v.ok_or(engine::EngineError::InvalidManifests {
        what: Some("exported"),
    })?;
    engine::block_on(run_async(args, &v, pending))
}

async fn run_async(
    args: &ExportArgs,
    v: &Validated,
    pending_detections: std::collections::BTreeSet<String>,
) -> super::Outcome {
    let (session, sandbox) = engine::connect(&args.connection, v).await?;
    let opts = ExportOptions {
        tenant_id: args.customer_tenant.clone(),
        name: args.name.clone(),
        domain: args.domain.clone(),
        display_name: args.display_name.clone(),
        cloud: args.cloud,
        owner: args.owner.clone(),
        keep_days: i64::from(args.keep_days),
        today: jiff::ZonedDateTime::now().date(),
        pending_detections,
    };
    let result = export::export(v, Arc::clone(&session.graph), &session.endpoints, &opts).await;
    engine::disconnect(sandbox).await;
    write(args, &result?)
}

fn write(args: &ExportArgs, e: &Export) -> super::Outcome {
    write_library(e)?;
    let text = format!("{}\n{}", modeline(args.out.as_deref()), e.manifest);
    match &args.out {
        Some(path) => std::fs::write(path, &text).map_err(Error::io(format!(
            "cannot write the manifest: {}",
            path.display()
        )))?,
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .map_err(Error::io("cannot write the manifest: stdout"))?,
    }
    eprint!("{}", summary(e, args.out.as_deref()));
    Ok(exit::SUCCESS)
}

/// The detection library's new `.kql` files and its fragment, beside the Provider manifest:
/// written before the manifest that selects them, so a manifest never names a missing query.
fn write_library(e: &Export) -> Result<(), Error> {
    for f in &e.library_files {
        if let Some(dir) = f.path.parent() {
            std::fs::create_dir_all(dir).map_err(Error::io(format!(
                "cannot create the detection library folder: {}",
                dir.display()
            )))?;
        }
        std::fs::write(&f.path, &f.text).map_err(Error::io(format!(
            "cannot write the detection library: {}",
            f.path.display()
        )))?;
    }
    Ok(())
}

/// The editor's schema line, as the committed manifests start: the Customer schema in the
/// repository's `schemas/` folder (where `mssp schema --write schemas/` puts it), relative to
/// the folder the manifest is written to (the current one for stdout). The repository is the
/// nearest folder up with `.git`, or the current folder.
pub fn modeline(out: Option<&Path>) -> String {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let dir = out
        .and_then(Path::parent)
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| cwd.clone(), |p| cwd.join(p));
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    let root = dir
        .ancestors()
        .find(|a| a.join(".git").exists())
        .map_or_else(|| cwd.clone(), Path::to_path_buf);
    let schema = root
        .join("schemas")
        .join(crate::schema::SchemaKind::Customer.file_name());
    format!(
        "# yaml-language-server: $schema={}",
        relative(&dir, &schema).display()
    )
}

/// `to` as seen from the folder `from` (both absolute).
fn relative(from: &Path, to: &Path) -> PathBuf {
    use std::path::Component;
    fn norm(p: &Path) -> Vec<Component<'_>> {
        p.components()
            .filter(|c| !matches!(c, Component::CurDir))
            .collect()
    }
    let (f, t) = (norm(from), norm(to));
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..f.len() {
        rel.push("..");
    }
    for c in &t[common..] {
        rel.push(c.as_os_str());
    }
    rel
}

/// What was found and what is left, for the person adopting the customer.
pub fn summary(e: &Export, out: Option<&std::path::Path>) -> String {
    let mut s = String::new();
    let target = out.map_or_else(|| "stdout".to_string(), |p| p.display().to_string());
    s.push_str(&format!(
        "exported customer `{}` to {target}: tiers [{}]\n",
        e.name,
        e.tiers.join(", ")
    ));
    for a in &e.adopted {
        s.push_str(&format!(
            "  adopted {} = {} \"{}\" (made by hand; pinned by id)\n",
            a.resource, a.id, a.display_name
        ));
    }
    for r in &e.detections {
        s.push_str(&format!(
            "  adopted detection rule \"{}\" ({}) as detection-rule/{}{}\n",
            r.display_name,
            r.id,
            r.entry,
            if r.reused {
                " (same query as the library's entry)"
            } else {
                " (new library entry)"
            }
        ));
    }
    for f in &e.library_files {
        s.push_str(&format!("  wrote {}\n", f.path.display()));
    }
    if e.library_files
        .iter()
        .any(|f| f.path.ends_with(export::detections::FRAGMENT))
    {
        s.push_str(&format!(
            "paste {} under `spec:` of the Provider manifest once every customer is exported\n",
            export::detections::FRAGMENT
        ));
    }
    for x in &e.excepted {
        s.push_str(&format!("  kept as drift exception: {x}\n"));
    }
    if e.remaining.is_empty() {
        s.push_str("the plan for this manifest is empty\n");
    } else {
        s.push_str("the plan for this manifest still has changes:\n");
        for r in &e.remaining {
            s.push_str(&format!("  {r}\n"));
        }
    }
    if !e.unplaceable.is_empty() {
        s.push_str("not placed in the manifest:\n");
        for u in &e.unplaceable {
            s.push_str(&format!("  {u}\n"));
        }
    }
    for n in &e.notes {
        s.push_str(&format!("note: {n}\n"));
    }
    s
}
