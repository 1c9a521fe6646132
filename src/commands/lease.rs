//! `mssp lease show|break`: the apply lease in the MSSP tenant, for a lease left by a killed run
//! (it would expire on its own after `--lease-ttl`).

use super::Error;
use crate::apply::lease;
use crate::engine;
use crate::exit;

#[derive(Debug, clap::Subcommand)]
pub enum LeaseCommand {
    /// Print who holds the apply lease, since when and until when.
    #[command(after_help = "Example:\n  mssp lease show manifests/")]
    Show(LeaseArgs),
    /// Delete the apply lease (only when its holder is known to be gone).
    #[command(after_help = "Example:\n  mssp lease break --yes manifests/")]
    Break(LeaseArgs),
}

#[derive(Debug, clap::Args)]
pub struct LeaseArgs {
    /// The manifests (the Provider manifest names the tenant and prefix).
    #[command(flatten)]
    pub manifests: super::ManifestArgs,
    #[command(flatten)]
    pub connection: super::ConnectionArgs,
    /// `break`: consent to deleting the lease of a run that may still be alive.
    #[arg(long)]
    pub yes: bool,
}

pub fn run(cmd: &LeaseCommand) -> super::Outcome {
    engine::block_on(run_async(cmd))
}

async fn run_async(cmd: &LeaseCommand) -> super::Outcome {
    let (args, breaking) = match cmd {
        LeaseCommand::Show(a) => (a, false),
        LeaseCommand::Break(a) => (a, true),
    };
    if breaking && !args.yes {
        return Err(Error::BreakNeedsYes);
    }
    let v = engine::load_checked(&args.manifests.paths, None)?;
    let (session, sandbox) = engine::connect(&args.connection, &v).await?;
    let p = &v.provider.doc.spec;
    let tg = session
        .graph
        .tenant(&p.tenant_id.value, session.endpoints.profile(p.cloud));
    let done = show_or_break(&tg, &p.naming.prefix.value, breaking).await;
    engine::disconnect(sandbox).await;
    done.map_err(Error::Lease)?;
    Ok(exit::SUCCESS)
}

async fn show_or_break(
    tg: &crate::graph::TenantGraph,
    prefix: &str,
    breaking: bool,
) -> Result<(), lease::LeaseError> {
    let graph = |action| move |source| lease::LeaseError::Graph { action, source };
    match lease::read(tg, prefix).await.map_err(graph("read"))? {
        None => println!("No apply lease is held."),
        Some(info) => {
            println!(
                "Apply lease held by {} since {}, expires {} (group {})",
                info.holder, info.acquired_at, info.expires_at, info.id
            );
            if breaking {
                lease::delete(tg, &info.id)
                    .await
                    .map_err(graph("deleted"))?;
                println!("Lease broken.");
            }
        }
    }
    Ok(())
}
