//! `mssp-apply`: the same as `mssp apply`.

fn main() -> std::process::ExitCode {
    mssp::cli::main_as("apply", std::env::args_os())
}
