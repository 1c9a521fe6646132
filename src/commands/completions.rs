//! `mssp completions SHELL` and `mssp man`: generated from the clap definitions, so they can
//! never disagree with the flags the binary actually accepts.

use std::io::Write as _;
use std::path::PathBuf;

use clap::CommandFactory as _;

use super::Error;
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

pub fn completions(args: &CompletionsArgs) -> super::Outcome {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "mssp", &mut buf);
    write_stdout(&buf)
}

pub fn man(args: &ManArgs) -> super::Outcome {
    let cmd = Cli::command();
    match &args.out_dir {
        Some(dir) => {
            let written =
                std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(cmd, dir));
            written.map_err(Error::io(format!(
                "cannot write the man pages to {}",
                dir.display()
            )))?;
            eprintln!("wrote the man pages to {}", dir.display());
            Ok(exit::SUCCESS)
        }
        None => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut buf)
                .map_err(Error::io("cannot render the man page"))?;
            write_stdout(&buf)
        }
    }
}

fn write_stdout(bytes: &[u8]) -> super::Outcome {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(exit::SUCCESS),
        // A closed pipe (`| head`) is the reader's choice, not our failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(exit::SUCCESS),
        Err(e) => Err(Error::io("cannot write to stdout")(e)),
    }
}
