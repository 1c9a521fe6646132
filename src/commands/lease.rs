//! `mssp lease show|break`: the apply lease in the MSSP tenant, for a lease left by a killed run
//! (it would expire on its own after `--lease-ttl`).

use std::path::PathBuf;

use crate::apply::lease;
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
    /// Manifest files or directories (the Provider manifest names the tenant and prefix). Default: the first of ./, manifests/, examples/ with the Provider manifest at its top.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub connection: super::ConnectionArgs,
    /// `break`: consent to deleting the lease of a run that may still be alive.
    #[arg(long)]
    pub yes: bool,
}

pub fn run(cmd: &LeaseCommand) -> u8 {
    super::block_on(run_async(cmd))
}

async fn run_async(cmd: &LeaseCommand) -> u8 {
    let (args, breaking) = match cmd {
        LeaseCommand::Show(a) => (a, false),
        LeaseCommand::Break(a) => (a, true),
    };
    if breaking && !args.yes {
        eprintln!(
            "error: breaking the lease lets another apply write while its holder may still run; pass --yes once you know it is gone"
        );
        return exit::ERROR;
    }
    let (validated, diags, _) = super::load_and_validate(&args.paths);
    eprint!("{}", diags.render_brief());
    let Some(v) = validated else {
        return exit::ERROR;
    };
    let (session, sandbox) = match super::connect(&args.connection, &v).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    let p = &v.provider.doc.spec;
    let tg = session
        .graph
        .tenant(&p.tenant_id.value, session.endpoints.profile(p.cloud));
    let code = match lease::read(&tg, &p.naming.prefix.value).await {
        Err(e) => {
            eprintln!("error: the apply lease could not be read: {e}");
            exit::ERROR
        }
        Ok(None) => {
            println!("No apply lease is held.");
            exit::SUCCESS
        }
        Ok(Some(info)) => {
            println!(
                "Apply lease held by {} since {}, expires {} (group {})",
                info.holder, info.acquired_at, info.expires_at, info.id
            );
            if breaking {
                match lease::delete(&tg, &info.id).await {
                    Ok(_) => {
                        println!("Lease broken.");
                        exit::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("error: the apply lease could not be deleted: {e}");
                        exit::ERROR
                    }
                }
            } else {
                exit::SUCCESS
            }
        }
    };
    if let Some(sb) = sandbox {
        let _ = sb.shutdown().await;
    }
    code
}
