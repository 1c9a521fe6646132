//! Finding manifest files and parsing them into typed documents.
//!
//! A directory is searched recursively for `*.yaml` / `*.yml`; a file may hold several
//! documents separated by `---`. Each document is parsed twice: once loosely to learn its
//! `kind`, then strictly (unknown fields rejected, only `true`/`false` as booleans) into the
//! matching type. Parse errors become [`Diagnostic`]s with the exact line and column, and one
//! bad document never stops the others from being checked.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_saphyr::MessageFormatter;

use super::{API_VERSION, CustomerManifest, Loc, ManifestSet, ProviderManifest, Sourced};
use crate::diagnostics::{Diagnostic, Diagnostics, Pos, SourceFile};

/// What loading produced: the documents that parsed, and every problem met on the way.
#[derive(Debug, Default)]
pub struct LoadOutcome {
    pub set: ManifestSet,
    pub diagnostics: Diagnostics,
}

/// Loads every manifest under `paths` (files or directories).
pub fn load_paths(paths: &[PathBuf]) -> LoadOutcome {
    load_paths_with(paths, false)
}

/// [`load_paths`], optionally skipping foreign YAML even in files named explicitly (a
/// pre-commit hook names every changed `.yaml` file, CI workflows included).
pub fn load_paths_with(paths: &[PathBuf], skip_foreign: bool) -> LoadOutcome {
    let mut out = LoadOutcome::default();
    for path in paths {
        let explicit = !path.is_dir() && !skip_foreign;
        let files = match discover(path) {
            Ok(files) => files,
            Err(d) => {
                out.diagnostics.push(d);
                continue;
            }
        };
        for file in files {
            out.set.files += 1;
            match std::fs::read(&file) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => {
                        let src = SourceFile::new(file, text);
                        let before = documents(&out);
                        parse_source(&src, explicit, &mut out);
                        // A file whose every document was skipped as foreign (a CI workflow
                        // next to the manifests) is not a manifest file: don't count it.
                        if documents(&out) == before {
                            out.set.files -= 1;
                        }
                    }
                    Err(_) => out.diagnostics.push(
                        Diagnostic::error("file is not valid UTF-8")
                            .in_file(&SourceFile::new(file, String::new())),
                    ),
                },
                Err(e) => out.diagnostics.push(
                    Diagnostic::error(format!("cannot read file: {e}"))
                        .in_file(&SourceFile::new(file, String::new())),
                ),
            }
        }
    }
    out
}

/// Documents loaded or rejected so far.
fn documents(out: &LoadOutcome) -> usize {
    out.set.providers.len() + out.set.customers.len() + out.diagnostics.iter().count()
}

/// Manifest files under `path`, sorted so runs are deterministic.
fn discover(path: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if !path.is_dir() {
        return Err(Diagnostic::error(format!(
            "{}: no such file or directory",
            path.display()
        )));
    }
    let mut files = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| {
            Diagnostic::error(format!("{}: cannot read directory: {e}", dir.display()))
        })?;
        for entry in entries.flatten() {
            let p = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            // Hidden folders (.git, .mssp-sandbox) and build output never hold manifests.
            if name.starts_with('.') || name == "target" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                files.push(p);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The loose first pass: enough to route a document to its type.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    #[serde(default)]
    api_version: Option<Loc<String>>,
    #[serde(default)]
    kind: Option<Loc<String>>,
}

/// Parses every document of one file into `out`. When the file was found by walking a
/// directory, documents that are clearly not ours (no mssp `apiVersion`, unknown kind) are
/// skipped, so a repository can keep CI workflows or other YAML next to its manifests.
pub fn parse_source(src: &Arc<SourceFile>, explicit: bool, out: &mut LoadOutcome) {
    for doc in split_documents(&src.text) {
        if is_blank_document(&doc.text) {
            continue;
        }
        let header = match from_yaml::<Header>(&doc.text, src) {
            Ok(Some(h)) => h,
            Ok(None) => continue,
            Err(d) => {
                out.diagnostics.push(d);
                continue;
            }
        };
        let ours = header
            .api_version
            .as_ref()
            .is_some_and(|v| v.value.starts_with("mssp.io/"));
        let kind = header.kind.as_ref().map(|k| k.value.as_str());
        match kind {
            Some("Provider") | Some("Customer") => {}
            _ if !ours && !explicit => continue,
            Some(other) => {
                let pos = header.kind.as_ref().map(|k| k.pos).unwrap_or_default();
                out.diagnostics.push(
                    Diagnostic::error(format!("unknown kind `{other}`"))
                        .at(src, pos)
                        .help("expected `Provider` or `Customer`"),
                );
                continue;
            }
            None => {
                out.diagnostics.push(
                    Diagnostic::error("document has no `kind`")
                        .at(src, Pos::new(doc.first_line, 1, 0))
                        .help("add `kind: Provider` or `kind: Customer`"),
                );
                continue;
            }
        }
        match &header.api_version {
            Some(v) if v.value == API_VERSION => {}
            Some(v) => {
                out.diagnostics.push(
                    Diagnostic::error(format!("unsupported apiVersion `{}`", v.value))
                        .at(src, v.pos)
                        .help(format!("this version of mssp reads `{API_VERSION}`")),
                );
                continue;
            }
            None => {
                out.diagnostics.push(
                    Diagnostic::error("document has no `apiVersion`")
                        .at(src, Pos::new(doc.first_line, 1, 0))
                        .help(format!("add `apiVersion: {API_VERSION}`")),
                );
                continue;
            }
        }
        match kind {
            Some("Provider") => match from_yaml::<ProviderManifest>(&doc.text, src) {
                Ok(Some(m)) => out.set.providers.push(Sourced {
                    file: Arc::clone(src),
                    doc: m,
                }),
                Ok(None) => {}
                Err(d) => out.diagnostics.push(d),
            },
            _ => match from_yaml::<CustomerManifest>(&doc.text, src) {
                Ok(Some(m)) => out.set.customers.push(Sourced {
                    file: Arc::clone(src),
                    doc: m,
                }),
                Ok(None) => {}
                Err(d) => out.diagnostics.push(d),
            },
        }
    }
}

/// One document of a multi-document file. Its text keeps every other document's lines as
/// empty lines, so positions reported by the parser are positions in the whole file.
struct Document {
    text: String,
    first_line: u32,
}

fn split_documents(text: &str) -> Vec<Document> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut starts = vec![0usize];
    for (i, line) in lines.iter().enumerate() {
        if i > 0 && is_document_marker(line) {
            starts.push(i);
        }
    }
    let mut docs = Vec::with_capacity(starts.len());
    for (n, &start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(lines.len());
        let mut doc = String::with_capacity(text.len() / starts.len() + start);
        for _ in 0..start {
            doc.push('\n');
        }
        for line in &lines[start..end] {
            doc.push_str(line);
            doc.push('\n');
        }
        docs.push(Document {
            text: doc,
            first_line: u32::try_from(start + 1).unwrap_or(u32::MAX),
        });
    }
    docs
}

fn is_document_marker(line: &str) -> bool {
    let line = line.trim_end_matches('\r');
    line == "---" || line.starts_with("--- ") || line.starts_with("---\t")
}

fn is_blank_document(text: &str) -> bool {
    text.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t == "---" || t == "..." || t.starts_with("--- #")
    })
}

fn options() -> serde_saphyr::Options {
    serde_saphyr::options! { strict_booleans: true }
}

/// Parses one document strictly; `Ok(None)` for an empty document.
fn from_yaml<T: DeserializeOwned>(
    text: &str,
    src: &Arc<SourceFile>,
) -> Result<Option<T>, Diagnostic> {
    match serde_saphyr::from_str_with_options::<Option<T>>(text, options()) {
        Ok(v) => Ok(v),
        Err(e) => Err(yaml_diagnostic(&e, src)),
    }
}

fn yaml_diagnostic(err: &serde_saphyr::Error, src: &Arc<SourceFile>) -> Diagnostic {
    let inner = err.without_snippet();
    let message = serde_saphyr::UserMessageFormatter
        .format_message(inner)
        .escape_debug()
        .to_string();
    let message = message.replace("\\\"", "\"").replace("\\'", "'");
    let d = match split_unknown_field(&message) {
        Some((field, expected)) => {
            let mut help = format!("expected one of: {}", expected.join(", "));
            if let Some(best) = closest(field, &expected) {
                help = format!("did you mean `{best}`? {help}");
            }
            Diagnostic::error(format!("unknown field `{field}`")).help(help)
        }
        None => Diagnostic::error(message),
    };
    match err.location() {
        Some(loc) if loc.line() > 0 => d.at(
            src,
            Pos::new(
                u32::try_from(loc.line()).unwrap_or(0),
                u32::try_from(loc.column()).unwrap_or(0),
                u32::try_from(loc.span().len()).unwrap_or(0),
            ),
        ),
        _ => d.in_file(src),
    }
}

/// Splits serde's "unknown field `x`, expected one of `a`, `b`" into its parts.
fn split_unknown_field(message: &str) -> Option<(&str, Vec<&str>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let list = rest
        .strip_prefix(", expected one of ")
        .or_else(|| rest.strip_prefix(", expected "))?;
    let expected = list
        .split(", ")
        .map(|s| s.trim().trim_matches('`'))
        .filter(|s| !s.is_empty())
        .collect();
    Some((field, expected))
}

/// The candidate closest to a misspelt name, when it is close enough to be a typo.
fn closest<'a>(typo: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(typo, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_file_line_numbers() {
        let docs = split_documents("a: 1\n---\nb: 2\n--- # c\nc: 3\n");
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[1].first_line, 2);
        assert_eq!(docs[1].text, "\n---\nb: 2\n");
        assert_eq!(docs[2].first_line, 4);
        assert!(docs[2].text.starts_with("\n\n\n--- # c\n"));
    }
}
