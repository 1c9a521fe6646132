//! `mssp`: the command-line entry point. All logic lives in the library.

fn main() -> std::process::ExitCode {
    mssp::cli::main(std::env::args_os())
}
