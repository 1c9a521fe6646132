//! `mssp validate`: offline checks, and `--explain` to show what a manifest expands to.
//!
//! Also the pre-commit entry point: given only changed customer files, it finds the Provider
//! manifest they refer to (`--provider`, or by looking upwards from the files), and with
//! `--skip-foreign` it ignores the other YAML a hook passes along.

use std::path::{Path, PathBuf};

use super::Error;
use crate::cli::{OutputFormat, ValidateArgs};
use crate::diagnostics::Diagnostics;
use crate::engine;
use crate::exit;
use crate::expand;
use crate::manifest;
use crate::render;
use crate::validate::Validated;

pub fn run(args: &ValidateArgs) -> super::Outcome {
    let (validated, diags, files) = match load(args)? {
        Loaded::Manifests(v, d, f) => (v.map(|b| *b), d, f),
        Loaded::NothingOurs => {
            println!("ok: no mssp manifests among the given files; nothing to validate");
            return Ok(exit::SUCCESS);
        }
    };
    // `--explain` is about one manifest's expansion: only that manifest's warnings (and the
    // provider's), in brief, as other commands print them.
    match (&args.explain, &validated) {
        (Some(name), Some(v)) => {
            let own: Vec<&Path> = v
                .customer(name)
                .map(|c| c.file.path.as_path())
                .into_iter()
                .chain(std::iter::once(v.provider.file.path.as_path()))
                .collect();
            eprint!(
                "{}",
                diags
                    .filtered(|d| d.path().is_none_or(|p| own.contains(&p)))
                    .render_brief()
            );
        }
        _ => eprint!("{}", diags.render()),
    }
    let Some(v) = validated else {
        return Err(Error::Invalid {
            errors: diags.error_count(),
            warnings: diags.warning_count(),
            files,
        });
    };
    if let Some(name) = &args.explain {
        let tenants = expand::expand_all(&v);
        let Some(t) = tenants.iter().find(|t| &t.name == name) else {
            return Err(Error::UnknownTenant {
                name: name.clone(),
                known: tenants.iter().map(|t| t.name.clone()).collect(),
            });
        };
        match args.format {
            OutputFormat::Human => print!("{}", render::explain::human(t)),
            OutputFormat::Json => {
                let json = serde_json::to_string_pretty(t).map_err(|e| Error::Render {
                    what: "JSON",
                    source: e.into(),
                })?;
                println!("{json}");
            }
        }
        return Ok(exit::SUCCESS);
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
    Ok(exit::SUCCESS)
}

enum Loaded {
    Manifests(Option<Box<Validated>>, Diagnostics, usize),
    /// `--skip-foreign` left no mssp document at all (a hook run on unrelated YAML).
    NothingOurs,
}

/// Loads the given paths, adding the Provider manifest when they hold only customers.
fn load(args: &ValidateArgs) -> Result<Loaded, Error> {
    let paths = engine::resolved_paths(&args.manifests.paths);
    let mut loaded = manifest::load_paths_with(&paths, args.skip_foreign);
    let provider_file = match &args.provider {
        Some(p) if !p.is_file() => {
            return Err(Error::ProviderNotAFile(p.clone()));
        }
        Some(p) if !already_loaded(p, &paths) => Some(p.clone()),
        Some(_) => None,
        None if loaded.set.providers.is_empty() && !loaded.set.customers.is_empty() => {
            let start: Vec<&Path> = loaded
                .set
                .customers
                .iter()
                .map(|c| c.file.path.as_path())
                .collect();
            match discover_provider(&start) {
                Found::One(f) => {
                    eprintln!(
                        "note: checking against the Provider manifest {} (found above the given \
                         files; --provider names another)",
                        f.display()
                    );
                    Some(f)
                }
                Found::Many(dir, files) => {
                    eprintln!(
                        "note: {} files in {} hold a Provider manifest ({}); name one with --provider",
                        files.len(),
                        dir.display(),
                        files
                            .iter()
                            .filter_map(|f| f.file_name())
                            .map(|n| n.to_string_lossy())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    None
                }
                Found::Nothing => {
                    eprintln!(
                        "note: no Provider manifest among the given files or in their folders up \
                         to the repository root; name one with --provider"
                    );
                    None
                }
            }
        }
        None => None,
    };
    if let Some(file) = provider_file {
        let extra = manifest::load_paths_with(std::slice::from_ref(&file), true);
        loaded.set.providers.extend(extra.set.providers);
        loaded.set.customers.extend(extra.set.customers);
        loaded.set.files += extra.set.files;
        loaded.diagnostics.extend(extra.diagnostics);
    }
    if args.skip_foreign
        && loaded.set.providers.is_empty()
        && loaded.set.customers.is_empty()
        && !loaded.diagnostics.has_errors()
    {
        return Ok(Loaded::NothingOurs);
    }
    // As in every command: no "no Provider manifest found" before the failure that caused it.
    let (validated, diags, files) = engine::validate_loaded(loaded);
    Ok(Loaded::Manifests(validated.map(Box::new), diags, files))
}

/// Whether `file` is among `paths` (or inside one of them), so it is not loaded twice.
fn already_loaded(file: &Path, paths: &[PathBuf]) -> bool {
    let Ok(file) = file.canonicalize() else {
        return false;
    };
    paths
        .iter()
        .filter_map(|p| p.canonicalize().ok())
        .any(|p| file.starts_with(p))
}

enum Found {
    One(PathBuf),
    /// Several candidates in the nearest folder that has any: guessing would be arbitrary.
    Many(PathBuf, Vec<PathBuf>),
    Nothing,
}

/// The file holding a `kind: Provider` document in the folders of `files` or their parents,
/// nearest first. The search stops at a repository root (a folder with `.git`), so a manifest
/// outside the repository is never picked up by accident, and at the first folder with any
/// candidate: two there (fixtures, variants) are ambiguous, not a choice to make silently.
fn discover_provider(files: &[&Path]) -> Found {
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|c| c.canonicalize().ok());
    // Report paths relative to where the user is, as the other paths are.
    let shown = |p: PathBuf| {
        cwd.as_ref()
            .and_then(|c| p.strip_prefix(c).ok().map(Path::to_path_buf))
            .unwrap_or(p)
    };
    for file in files {
        let Some(mut dir) = file
            .canonicalize()
            .ok()
            .and_then(|f| f.parent().map(Path::to_path_buf))
        else {
            continue;
        };
        loop {
            let mut found = providers_in(&dir);
            if found.len() == 1 {
                return Found::One(shown(found.remove(0)));
            }
            if found.len() > 1 {
                return Found::Many(shown(dir), found.into_iter().map(shown).collect());
            }
            if dir.join(".git").exists() || !dir.pop() {
                break;
            }
        }
    }
    Found::Nothing
}

/// The `*.yaml` / `*.yml` files directly in `dir` (not below it) with a Provider document.
fn providers_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut candidates: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .filter(|p| {
            !manifest::load_paths_with(std::slice::from_ref(p), true)
                .set
                .providers
                .is_empty()
        })
        .collect();
    candidates.sort();
    candidates
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
