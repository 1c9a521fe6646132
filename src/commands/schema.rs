//! `mssp schema`: print or write the manifests' JSON Schemas.

use crate::cli::SchemaArgs;
use crate::exit;
use crate::schema::SchemaKind;

pub fn run(args: &SchemaArgs) -> u8 {
    let Some(dir) = &args.write else {
        print!("{}", args.kind.render());
        return exit::SUCCESS;
    };
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("error: cannot create {}: {e}", dir.display());
        return exit::ERROR;
    }
    for kind in SchemaKind::ALL {
        let path = dir.join(kind.file_name());
        if let Err(e) = std::fs::write(&path, kind.render()) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return exit::ERROR;
        }
        println!("wrote {}", path.display());
    }
    exit::SUCCESS
}
