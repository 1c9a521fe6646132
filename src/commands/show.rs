//! `mssp show PLAN`: render a saved plan again, in any format, without reading a tenant.

use std::io::Write as _;

use crate::cli::{PlanFormat, ShowArgs};
use crate::exit;
use crate::render;

pub fn run(args: &ShowArgs) -> u8 {
    let plan = match super::apply::load_plan(&args.plan) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    let text = match args.format {
        PlanFormat::Human => Ok(render::human::render(&plan, render::human::Style::detect())),
        PlanFormat::Json => render::json(&plan),
        PlanFormat::Markdown => render::markdown::render(&plan),
    };
    match text {
        Ok(t) => {
            let mut out = std::io::stdout().lock();
            if let Err(e) = out.write_all(t.as_bytes()).and_then(|()| out.flush()) {
                eprintln!("error: cannot write the plan: {e}");
                return exit::ERROR;
            }
            exit::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot render the plan: {e}");
            exit::ERROR
        }
    }
}
