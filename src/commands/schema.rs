//! `mssp schema`: print or write the manifests' JSON Schemas.

use super::Error;
use crate::cli::SchemaArgs;
use crate::exit;
use crate::schema::SchemaKind;

pub fn run(args: &SchemaArgs) -> super::Outcome {
    let Some(dir) = &args.write else {
        print!("{}", args.kind.render());
        return Ok(exit::SUCCESS);
    };
    std::fs::create_dir_all(dir).map_err(Error::io(format!("cannot create {}", dir.display())))?;
    for kind in SchemaKind::ALL {
        let path = dir.join(kind.file_name());
        std::fs::write(&path, kind.render())
            .map_err(Error::io(format!("cannot write {}", path.display())))?;
        println!("wrote {}", path.display());
    }
    Ok(exit::SUCCESS)
}
