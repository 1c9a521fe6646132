//! `mssp-plan`: the same as `mssp plan`.

fn main() -> std::process::ExitCode {
    mssp::cli::main_as("plan", std::env::args_os())
}
