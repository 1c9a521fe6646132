//! `mssp show PLAN`: render a saved plan again, in any format, without reading a tenant.

use std::io::Write as _;

use super::Error;
use crate::cli::{PlanFormat, ShowArgs};
use crate::engine::{self, EngineError};
use crate::exit;
use crate::render;

pub fn run(args: &ShowArgs) -> super::Outcome {
    let plan = engine::load_plan(&args.plan).map_err(EngineError::from)?;
    let text = match args.format {
        PlanFormat::Human => Ok(render::human::render(&plan, render::human::Style::detect())),
        PlanFormat::Json => render::json(&plan),
        PlanFormat::Markdown => render::markdown::render(&plan),
    };
    let text = text.map_err(Error::render("plan"))?;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(Error::io("cannot write the plan"))?;
    Ok(exit::SUCCESS)
}
