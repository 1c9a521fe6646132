//! Finding manifest files and parsing them into typed documents.
//!
//! A directory is searched recursively for `*.yaml` / `*.yml`; a file may hold several
//! documents separated by `---`. Each document is parsed twice: once loosely to learn its
//! `kind`, then strictly (unknown fields rejected, only `true`/`false` as booleans) into the
//! matching type. Parse errors become [`Diagnostic`]s with the exact line and column, and one
//! bad document never stops the others from being checked.
//!
//! Manifest folders are shared with other tools and other people, so nothing in one may hang
//! or exhaust the tool: only regular files are read (a FIFO or a link to `/dev/zero` is
//! skipped), each at most [`MAX_FILE_BYTES`] and [`MAX_DOCUMENTS`] documents, symbolic-link
//! loops are not followed, and work stays linear in the size of a file.

use std::collections::HashSet;
use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_saphyr::MessageFormatter;

use super::located::with_line_offset;
use super::unknown::{Node, unknown_fields};
use super::{API_VERSION, CustomerManifest, Loc, ManifestSet, ProviderManifest, Sourced};
use crate::diagnostics::{Diagnostic, Diagnostics, Pos, SourceFile};
use crate::schema::SchemaKind;

/// Largest manifest file read (a thousand customers in one file is about 1 MiB).
pub(crate) const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Most documents (`---` separated) in one manifest file.
pub(crate) const MAX_DOCUMENTS: usize = 50_000;

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
pub(crate) fn load_paths_with(paths: &[PathBuf], skip_foreign: bool) -> LoadOutcome {
    let mut out = LoadOutcome::default();
    for path in paths {
        let explicit = !path.is_dir() && !skip_foreign;
        let root = if path.is_dir() {
            Some(path.as_path())
        } else {
            path.parent().map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
        };
        if let Some(root) = root.and_then(|r| r.canonicalize().ok()) {
            out.set.roots.push(root);
        }
        for file in discover(path, &mut out.diagnostics) {
            out.set.files += 1;
            match read_manifest_file(&file, explicit) {
                Ok(text) => {
                    let src = SourceFile::new(file, text);
                    // A file whose every document was skipped as foreign (a CI workflow
                    // next to the manifests) is not a manifest file: don't count it.
                    if parse_source(&src, explicit, &mut out) == 0 {
                        out.set.files -= 1;
                    }
                }
                Err(d) => {
                    // Skipped as someone else's (a warning), it is no manifest file either.
                    if !d.is_error() {
                        out.set.files -= 1;
                    }
                    out.diagnostics.push(d);
                }
            }
        }
    }
    out
}

/// Folders searched, in order, when a command is given no path: the first that holds a
/// Provider manifest directly is used. Searching `.` itself recursively would pick up every
/// test fixture and vendored example in a repository (a clone of this one prints nineteen
/// fixture errors), so a folder counts only when the Provider sits at its top level.
pub(crate) const DEFAULT_DIRS: [&str; 3] = [".", "manifests", "examples"];

/// The paths a command reads: `given`, or when none is given the first of [`DEFAULT_DIRS`]
/// with a Provider manifest at its top level (`.` when none has one, so the "no Provider
/// manifest" error still names where it looked).
pub(crate) fn resolve_paths(given: &[PathBuf]) -> Vec<PathBuf> {
    if !given.is_empty() {
        return given.to_vec();
    }
    let dir = DEFAULT_DIRS
        .iter()
        .map(PathBuf::from)
        .find(|d| has_provider_at_top(d))
        .unwrap_or_else(|| PathBuf::from("."));
    vec![dir]
}

/// Whether a `*.yaml` / `*.yml` file directly in `dir` holds a Provider document.
fn has_provider_at_top(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files.iter().any(|f| {
        let mut out = LoadOutcome::default();
        match read_manifest_file(f, false) {
            Ok(text) => {
                parse_source(&SourceFile::new(f.clone(), text), false, &mut out);
                !out.set.providers.is_empty()
            }
            Err(_) => false,
        }
    })
}

/// How much of an oversized file is looked at to tell whether it is ours.
const PEEK_BYTES: usize = 64 * 1024;

/// Reads one manifest file: at most [`MAX_FILE_BYTES`], UTF-8, and only a regular file (the
/// check is repeated on the open handle, so a file swapped for something else after
/// discovery is still refused). An oversized file found by walking a folder whose start names
/// no mssp `apiVersion` or kind (an OpenAPI document, a data dump) is someone else's: a
/// warning, not an error.
fn read_manifest_file(path: &Path, explicit: bool) -> Result<String, Diagnostic> {
    let fail =
        |message: String| Diagnostic::error(message).in_file(&SourceFile::new(path, String::new()));
    let mut file = std::fs::File::open(path).map_err(|e| fail(format!("cannot read file: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| fail(format!("cannot read file: {e}")))?;
    if !meta.is_file() {
        return Err(fail("not a regular file".into()));
    }
    let too_large = |start: &[u8]| {
        let limit = MAX_FILE_BYTES / (1024 * 1024);
        let start = &start[..start.len().min(PEEK_BYTES)];
        if !explicit && !looks_ours(&String::from_utf8_lossy(start)) {
            return Diagnostic::warning(format!(
                "larger than {limit} MiB and names no mssp apiVersion or kind; skipped"
            ))
            .in_file(&SourceFile::new(path, String::new()));
        }
        fail(format!(
            "file is larger than {limit} MiB; manifest files are far smaller (is this the right file?)"
        ))
    };
    if meta.len() > MAX_FILE_BYTES {
        let mut start = Vec::new();
        let _ = (&mut file).take(PEEK_BYTES as u64).read_to_end(&mut start);
        return Err(too_large(&start));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // The size on disk can lie (a file still growing, /proc): the cap holds for what is read.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(format!("cannot read file: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(&bytes));
    }
    String::from_utf8(bytes).map_err(|_| fail("file is not valid UTF-8".into()))
}

/// Manifest files under `path`, sorted so runs are deterministic. Problems (an unreadable
/// folder, a FIFO named `*.yaml`, a link loop) go to `diags`; the search goes on, so a
/// manifest elsewhere is still found and every problem is reported together.
fn discover(path: &Path, diags: &mut Diagnostics) -> Vec<PathBuf> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            diags.push(Diagnostic::error(format!(
                "{}: no such file or directory",
                path.display()
            )));
            return Vec::new();
        }
        Err(e) => {
            diags.push(Diagnostic::error(format!(
                "{}: cannot read: {e}",
                path.display()
            )));
            return Vec::new();
        }
    };
    if meta.is_file() {
        return vec![path.to_path_buf()];
    }
    if !meta.is_dir() {
        diags.push(Diagnostic::error(format!(
            "{}: not a regular file or directory",
            path.display()
        )));
        return Vec::new();
    }
    let mut files = Vec::new();
    // Canonical paths of the folders searched: a link back up the tree (or two links to one
    // folder) is searched once, never forever.
    let mut searched: HashSet<PathBuf> = HashSet::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        match dir.canonicalize() {
            Ok(real) => {
                if !searched.insert(real.clone()) {
                    diags.push(Diagnostic::warning(format!(
                        "{}: leads to {}, which is already searched (symbolic link); not searched again",
                        dir.display(),
                        real.display()
                    )));
                    continue;
                }
            }
            Err(e) => {
                diags.push(Diagnostic::error(format!(
                    "{}: cannot read directory: {e}",
                    dir.display()
                )));
                continue;
            }
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                diags.push(Diagnostic::error(format!(
                    "{}: cannot read directory: {e}",
                    dir.display()
                )));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    diags.push(Diagnostic::error(format!(
                        "{}: cannot read directory: {e}",
                        dir.display()
                    )));
                    continue;
                }
            };
            let p = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            // Hidden folders (.git, .mssp-sandbox) and build output never hold manifests.
            if name.starts_with('.') || name == "target" {
                continue;
            }
            let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
            // Follows symbolic links: what matters is what would be read.
            match std::fs::metadata(&p) {
                Ok(m) if m.is_dir() => stack.push(p),
                Ok(m) if m.is_file() => {
                    if yaml {
                        files.push(p);
                    }
                }
                Ok(_) if yaml => diags.push(Diagnostic::warning(format!(
                    "{}: not a regular file (a FIFO, socket or device); skipped",
                    p.display()
                ))),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if yaml {
                        diags.push(Diagnostic::warning(format!(
                            "{}: broken symbolic link; skipped",
                            p.display()
                        )));
                    }
                }
                Err(e) => diags.push(Diagnostic::error(format!(
                    "{}: cannot read: {e}",
                    p.display()
                ))),
            }
        }
    }
    files.sort();
    files
}

/// The loose first pass: enough to route a document to its type.
#[derive(Default)]
struct Header {
    api_version: Option<Loc<String>>,
    kind: Option<Loc<String>>,
}

/// What the first pass found at the top of a document.
enum Probe {
    /// An empty document (`---` alone, or only comments).
    Empty,
    /// A mapping, with its `apiVersion` and `kind` when they are strings.
    Mapping(Header),
    /// A sequence or a scalar: an Ansible playbook, a list written by another tool. Never ours.
    NotMapping,
}

impl<'de> Deserialize<'de> for Probe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ProbeVisitor)
    }
}

struct ProbeVisitor;

impl<'de> Visitor<'de> for ProbeVisitor {
    type Value = Probe;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Probe, A::Error> {
        let mut header = Header::default();
        while let Some(key) = map.next_key::<AnyString>()? {
            match key.0.as_deref() {
                Some("apiVersion") => header.api_version = map.next_value::<LocString>()?.0,
                Some("kind") => header.kind = map.next_value::<LocString>()?.0,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Probe::Mapping(header))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Probe, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Probe::NotMapping)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Probe, E> {
        Ok(Probe::Empty)
    }

    fn visit_none<E: de::Error>(self) -> Result<Probe, E> {
        Ok(Probe::Empty)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Probe, D::Error> {
        d.deserialize_any(ProbeVisitor)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Probe, E> {
        Ok(Probe::NotMapping)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Probe, E> {
        Ok(Probe::NotMapping)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Probe, E> {
        Ok(Probe::NotMapping)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Probe, E> {
        Ok(Probe::NotMapping)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Probe, E> {
        Ok(Probe::NotMapping)
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Probe, E> {
        Ok(Probe::NotMapping)
    }
}

/// Any YAML value, kept only when it is a string (a key such as `1` or `[a]` is no field of ours).
pub(super) struct AnyString(pub(super) Option<String>);

impl<'de> Deserialize<'de> for AnyString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AnyString;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AnyString, E> {
                Ok(AnyString(Some(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<AnyString, E> {
                Ok(AnyString(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<AnyString, E> {
                Ok(AnyString(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<AnyString, E> {
                Ok(AnyString(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<AnyString, E> {
                Ok(AnyString(None))
            }
            fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<AnyString, E> {
                Ok(AnyString(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<AnyString, E> {
                Ok(AnyString(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<AnyString, E> {
                Ok(AnyString(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<AnyString, D::Error> {
                AnyString::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AnyString, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(AnyString(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyString, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(AnyString(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A located value, kept only when it is a string.
struct LocString(Option<Loc<String>>);

impl<'de> Deserialize<'de> for LocString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Loc::<AnyString>::deserialize(d)?;
        Ok(LocString(v.value.0.map(|s| Loc {
            value: s,
            pos: v.pos,
        })))
    }
}

/// Whether a document that does not parse was meant to be an mssp manifest: then its
/// errors are the user's to fix; otherwise it is someone else's YAML (a Helm template).
fn looks_ours(text: &str) -> bool {
    text.lines().any(|l| {
        // `- apiVersion: …`: a list of manifests is a mistake of ours to report, not foreign.
        let l = l.trim().trim_start_matches(['-', ' ']);
        let unquote = |v: &str| v.trim().trim_matches(['"', '\'']).to_string();
        l.strip_prefix("apiVersion:")
            .is_some_and(|v| unquote(v).starts_with("mssp.io/"))
            || l.strip_prefix("kind:")
                .is_some_and(|v| matches!(unquote(v).as_str(), "Provider" | "Customer"))
    })
}

/// Parses every document of one file into `out`; returns how many were ours (parsed or
/// reported). When the file was found by walking a directory, documents that are clearly
/// not ours (not a mapping, no mssp `apiVersion` and no mssp kind) are skipped, so a
/// repository can keep CI workflows, playbooks or other YAML next to its manifests.
pub fn parse_source(src: &Arc<SourceFile>, explicit: bool, out: &mut LoadOutcome) -> usize {
    let docs = split_documents(&src.text);
    if docs.len() > MAX_DOCUMENTS && !explicit && !looks_ours(&src.text) {
        out.diagnostics.push(
            Diagnostic::warning(format!(
                "holds {} documents, more than {MAX_DOCUMENTS}, and names no mssp apiVersion or kind; skipped",
                docs.len()
            ))
            .in_file(src),
        );
        return 0;
    }
    if docs.len() > MAX_DOCUMENTS {
        out.diagnostics.push(
            Diagnostic::error(format!(
                "file holds {} documents; at most {MAX_DOCUMENTS} are read from one file",
                docs.len()
            ))
            .in_file(src)
            .help("split it into several files"),
        );
        return 1;
    }
    let mut ours = 0;
    for doc in docs {
        if is_blank_document(doc.text) {
            continue;
        }
        let skip = |why: &str| {
            tracing::debug!(
                file = %src.path.display(),
                line = doc.first_line,
                "skipped a document that is not an mssp manifest: {why}"
            );
        };
        let header = match from_yaml::<Probe>(&doc, src) {
            Ok(Some(Probe::Mapping(h))) => h,
            Ok(Some(Probe::Empty)) | Ok(None) => continue,
            Ok(Some(Probe::NotMapping)) if !explicit && !looks_ours(doc.text) => {
                skip("not a mapping");
                continue;
            }
            Ok(Some(Probe::NotMapping)) => {
                ours += 1;
                out.diagnostics.push(
                    Diagnostic::error("document is not a mapping")
                        .at(src, Pos::new(doc.first_line, 1, 0))
                        .help(format!(
                            "an mssp manifest is a mapping with `apiVersion: {API_VERSION}`, `kind`, `metadata` and `spec`"
                        )),
                );
                continue;
            }
            Err(_) if !explicit && !looks_ours(doc.text) => {
                skip("not valid YAML, and nothing in it names mssp");
                continue;
            }
            Err(d) => {
                ours += 1;
                out.diagnostics.push(d);
                continue;
            }
        };
        let is_ours = header
            .api_version
            .as_ref()
            .is_some_and(|v| v.value.starts_with("mssp.io/"));
        let kind = header.kind.as_ref().map(|k| k.value.as_str());
        match kind {
            Some("Provider") | Some("Customer") => {}
            _ if !is_ours && !explicit => {
                skip("no mssp apiVersion or kind");
                continue;
            }
            Some(other) => {
                ours += 1;
                let pos = header.kind.as_ref().map(|k| k.pos).unwrap_or_default();
                out.diagnostics.push(
                    Diagnostic::error(format!("unknown kind `{other}`"))
                        .at(src, pos)
                        .help("expected `Provider` or `Customer`"),
                );
                continue;
            }
            None => {
                ours += 1;
                out.diagnostics.push(
                    Diagnostic::error("document has no `kind`")
                        .at(src, Pos::new(doc.first_line, 1, 0))
                        .help("add `kind: Provider` or `kind: Customer`"),
                );
                continue;
            }
        }
        ours += 1;
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
            Some("Provider") => match from_yaml::<ProviderManifest>(&doc, src) {
                Ok(Some(m)) => out.set.providers.push(Sourced {
                    file: Arc::clone(src),
                    doc: m,
                }),
                Ok(None) => {}
                Err(d) => parse_failed(d, &doc, src, SchemaKind::Provider, out),
            },
            _ => match from_yaml::<CustomerManifest>(&doc, src) {
                Ok(Some(m)) => out.set.customers.push(Sourced {
                    file: Arc::clone(src),
                    doc: m,
                }),
                Ok(None) => {}
                Err(d) => parse_failed(d, &doc, src, SchemaKind::Customer, out),
            },
        }
    }
    ours
}

/// Reports a document the strict parse rejected: the parser's error, and every unknown field
/// of the document (the parser stops at the first), each once.
fn parse_failed(
    first: Diagnostic,
    doc: &Document<'_>,
    src: &Arc<SourceFile>,
    kind: SchemaKind,
    out: &mut LoadOutcome,
) {
    let unknown = match from_yaml::<Node>(doc, src) {
        Ok(Some(node)) => unknown_fields(&node, &kind.schema().to_value()),
        _ => Vec::new(),
    };
    let mut found: Vec<Diagnostic> = unknown
        .into_iter()
        .map(|u| {
            let expected: Vec<&str> = u.expected.iter().map(String::as_str).collect();
            let mut help = format!("expected one of: {}", expected.join(", "));
            if let Some(best) = closest(&u.field.value, &expected) {
                help = format!("did you mean `{best}`? {help}");
            }
            Diagnostic::error(format!("unknown field `{}`", u.field.value))
                .at(src, u.field.pos)
                .help(help)
        })
        .collect();
    // The parser's own error is kept unless the walk reported the same field (its position
    // may differ by the key's span, so the message decides).
    if !found.iter().any(|d| d.message == first.message) {
        found.insert(0, first);
    }
    for d in found {
        out.diagnostics.push(d);
    }
}

/// One document of a multi-document file: a slice of the file's text (no copy), and the
/// file line it starts on, by which the parser's positions are shifted.
struct Document<'a> {
    text: &'a str,
    first_line: u32,
}

/// Splits at `---` lines in one pass over the text.
fn split_documents(text: &str) -> Vec<Document<'_>> {
    let mut docs = Vec::new();
    let (mut start, mut start_line) = (0usize, 1usize);
    let mut offset = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i > 0 && is_document_marker(line.trim_end_matches('\n')) {
            docs.push(Document {
                text: &text[start..offset],
                first_line: u32::try_from(start_line).unwrap_or(u32::MAX),
            });
            start = offset;
            start_line = i + 1;
        }
        offset += line.len();
    }
    docs.push(Document {
        text: &text[start..],
        first_line: u32::try_from(start_line).unwrap_or(u32::MAX),
    });
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

/// Parses one document strictly; `Ok(None)` for an empty document. Positions, in values and
/// in errors, are lines of the whole file.
fn from_yaml<T: DeserializeOwned>(
    doc: &Document<'_>,
    src: &Arc<SourceFile>,
) -> Result<Option<T>, Diagnostic> {
    let before = doc.first_line.saturating_sub(1);
    with_line_offset(before, || {
        serde_saphyr::from_str_with_options::<Option<T>>(doc.text, options())
    })
    .map_err(|e| yaml_diagnostic(&e, src, before))
}

fn yaml_diagnostic(err: &serde_saphyr::Error, src: &Arc<SourceFile>, before: u32) -> Diagnostic {
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
                u32::try_from(loc.line())
                    .unwrap_or(0)
                    .saturating_add(before),
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
        assert_eq!(docs[0].text, "a: 1\n");
        assert_eq!(docs[1].first_line, 2);
        assert_eq!(docs[1].text, "---\nb: 2\n");
        assert_eq!(docs[2].first_line, 4);
        assert_eq!(docs[2].text, "--- # c\nc: 3\n");
    }

    /// Splitting is linear: the documents together are exactly the file, however many there
    /// are (each used to carry every earlier document's lines as padding: 20,000 empty
    /// documents made 800 MB of text).
    #[test]
    fn documents_together_are_the_file() {
        let text = "---\n".repeat(20_000);
        let docs = split_documents(&text);
        assert_eq!(docs.len(), 20_000);
        assert_eq!(docs.iter().map(|d| d.text.len()).sum::<usize>(), text.len());
        assert_eq!(docs[19_999].first_line, 20_000);
    }
}
