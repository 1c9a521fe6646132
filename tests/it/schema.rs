//! The committed JSON Schemas match the code, and accept everything the loader accepts.

use std::path::Path;

use mssp::schema::SchemaKind;

#[test]
fn committed_schemas_are_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    for kind in SchemaKind::ALL {
        let path = dir.join(kind.file_name());
        let fresh = kind.render();
        if std::env::var_os("UPDATE_SCHEMAS").is_some() {
            std::fs::write(&path, &fresh).expect("write schema");
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "{} is stale: run `cargo run -- schema --write schemas/` (or UPDATE_SCHEMAS=1 cargo test)",
            path.display()
        );
    }
}

#[test]
fn examples_validate_against_the_schemas() {
    let loaded = mssp::manifest::load_paths(&["examples".into()]);
    assert!(loaded.diagnostics.is_empty() || !loaded.diagnostics.has_errors());
    let provider = jsonschema::validator_for(&SchemaKind::Provider.schema().to_value())
        .expect("provider schema compiles");
    let customer = jsonschema::validator_for(&SchemaKind::Customer.schema().to_value())
        .expect("customer schema compiles");
    for p in &loaded.set.providers {
        let v = serde_json::to_value(&p.doc).expect("json");
        let errors: Vec<String> = provider.iter_errors(&v).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", p.file.path.display());
    }
    assert_eq!(loaded.set.customers.len(), 4);
    for c in &loaded.set.customers {
        let v = serde_json::to_value(&c.doc).expect("json");
        let errors: Vec<String> = customer.iter_errors(&v).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", c.file.path.display());
    }
}

#[test]
fn examples_reference_their_schema() {
    for entry in ["examples/provider.yaml", "examples/customers/contoso.yaml"] {
        let text = std::fs::read_to_string(entry).expect("read");
        assert!(
            text.starts_with("# yaml-language-server: $schema=../"),
            "{entry} lacks the schema comment"
        );
    }
}
