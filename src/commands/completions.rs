//! `mssp completions SHELL` and `mssp man`: generated from the clap definitions, so they can
//! never disagree with the flags the binary actually accepts.

use std::io::Write as _;
use std::path::PathBuf;

use clap::CommandFactory as _;

use crate::cli::Cli;
use crate::exit;

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to generate for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write `mssp.1` and one page per subcommand (`mssp-plan.1`, …) here instead of printing
    /// `mssp.1`.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

pub fn completions(args: &CompletionsArgs) -> u8 {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "mssp", &mut buf);
    write_stdout(&buf)
}

pub fn man(args: &ManArgs) -> u8 {
    let cmd = Cli::command();
    match &args.out_dir {
        Some(dir) => {
            let written =
                std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(cmd, dir));
            match written {
                Ok(()) => {
                    eprintln!("wrote the man pages to {}", dir.display());
                    exit::SUCCESS
                }
                Err(e) => {
                    eprintln!(
                        "error: cannot write the man pages to {}: {e}",
                        dir.display()
                    );
                    exit::ERROR
                }
            }
        }
        None => {
            let mut buf = Vec::new();
            if let Err(e) = clap_mangen::Man::new(cmd).render(&mut buf) {
                eprintln!("error: cannot render the man page: {e}");
                return exit::ERROR;
            }
            write_stdout(&buf)
        }
    }
}

fn write_stdout(bytes: &[u8]) -> u8 {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => exit::SUCCESS,
        // A closed pipe (`| head`) is the reader's choice, not our failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            exit::ERROR
        }
    }
}
