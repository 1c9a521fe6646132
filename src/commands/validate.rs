//! `mssp validate`: offline checks, and `--explain` to show what a manifest expands to.

use crate::cli::{OutputFormat, ValidateArgs};
use crate::exit;
use crate::expand;
use crate::render;

pub fn run(args: &ValidateArgs) -> u8 {
    let (validated, diags, files) = super::load_and_validate(&args.paths);
    eprint!("{}", diags.render());
    let Some(v) = validated else {
        eprintln!(
            "error: {} error{} and {} warning{} in {} file{}",
            diags.error_count(),
            plural(diags.error_count()),
            diags.warning_count(),
            plural(diags.warning_count()),
            files,
            plural(files)
        );
        return exit::ERROR;
    };
    if let Some(name) = &args.explain {
        let tenants = expand::expand_all(&v);
        let Some(t) = tenants.iter().find(|t| &t.name == name) else {
            let names: Vec<&str> = tenants.iter().map(|t| t.name.as_str()).collect();
            eprintln!(
                "error: no customer or provider named `{name}`\n  = help: known: {}",
                names.join(", ")
            );
            return exit::ERROR;
        };
        match args.format {
            OutputFormat::Human => print!("{}", render::explain::human(t)),
            OutputFormat::Json => match serde_json::to_string_pretty(t) {
                Ok(s) => println!("{s}"),
                Err(e) => {
                    eprintln!("error: cannot render JSON: {e}");
                    return exit::ERROR;
                }
            },
        }
        return exit::SUCCESS;
    }
    let warnings = diags.warning_count();
    println!(
        "ok: 1 provider and {} customer{} in {} file{} are valid{}",
        v.customers.len(),
        plural(v.customers.len()),
        files,
        plural(files),
        if warnings > 0 {
            format!(" ({warnings} warning{})", plural(warnings))
        } else {
            String::new()
        }
    );
    exit::SUCCESS
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
