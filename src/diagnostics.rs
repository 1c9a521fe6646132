//! User-facing diagnostics: one type for every problem found in a manifest, rendered in one place.
//!
//! Every message a user sees about their YAML goes through [`Diagnostic`], so the format is the
//! same everywhere: `path:line:col: severity: message`, then the offending line with a caret
//! under the token (rustc style), then optional help. Editors and CI log parsers pick up the
//! first line; humans read the snippet.

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where in a YAML source a value sits. Lines and columns are 1-based; `len` is in characters
/// (0 when unknown, rendered as a single caret).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
    pub len: u32,
}

impl Pos {
    pub const fn new(line: u32, column: u32, len: u32) -> Self {
        Self { line, column, len }
    }
}

/// A loaded source file, shared between the documents parsed from it and the diagnostics
/// that point into it.
#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    /// Byte offset where each line starts, built on first use: rendering one diagnostic per
    /// document of a 10,000-document file re-scanned the whole file each time (quadratic).
    line_starts: std::sync::OnceLock<Vec<usize>>,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Arc<Self> {
        Arc::new(Self {
            path: path.into(),
            text: text.into(),
            line_starts: std::sync::OnceLock::new(),
        })
    }

    /// The text of 1-based line `n`, without its line terminator.
    pub fn line(&self, n: u32) -> Option<&str> {
        let idx = usize::try_from(n).ok()?.checked_sub(1)?;
        let starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        let start = *starts.get(idx)?;
        let end = starts.get(idx + 1).map_or(self.text.len(), |next| next - 1);
        let l = self.text.get(start..end)?;
        Some(l.strip_suffix('\r').unwrap_or(l))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem, located in a file when it can be.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub file: Option<Arc<SourceFile>>,
    pub pos: Option<Pos>,
    pub label: Option<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            message: message.into(),
            file: None,
            pos: None,
            label: None,
            help: None,
        }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(message)
        }
    }

    pub fn at(mut self, file: &Arc<SourceFile>, pos: Pos) -> Self {
        self.file = Some(Arc::clone(file));
        self.pos = Some(pos);
        self
    }

    pub(crate) fn in_file(mut self, file: &Arc<SourceFile>) -> Self {
        self.file = Some(Arc::clone(file));
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// In-place variant of [`Diagnostic::label`], for diagnostics already pushed.
    pub(crate) fn set_label(&mut self, label: impl Into<String>) -> &mut Self {
        self.label = Some(label.into());
        self
    }

    /// In-place variant of [`Diagnostic::help`].
    pub(crate) fn set_help(&mut self, help: impl Into<String>) -> &mut Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    pub fn path(&self) -> Option<&Path> {
        self.file.as_deref().map(|f| f.path.as_path())
    }

    /// `path:line:col` (or the parts of it that are known).
    pub fn location(&self) -> Option<String> {
        let file = self.file.as_ref()?;
        let path = file.path.display();
        Some(match self.pos {
            Some(p) => format!("{path}:{}:{}", p.line, p.column),
            None => path.to_string(),
        })
    }

    /// Renders the diagnostic as plain text (no colour), snippet included.
    pub fn render(&self) -> String {
        let mut out = String::new();
        match self.location() {
            Some(loc) => {
                let _ = writeln!(out, "{loc}: {}: {}", self.severity, self.message);
            }
            None => {
                let _ = writeln!(out, "{}: {}", self.severity, self.message);
            }
        }
        if let (Some(file), Some(pos)) = (&self.file, self.pos) {
            if let Some(text) = file.line(pos.line) {
                render_snippet(&mut out, text, pos, self.label.as_deref());
            }
        } else if let Some(label) = &self.label {
            let _ = writeln!(out, "  = note: {label}");
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "  = help: {help}");
        }
        out
    }
}

fn render_snippet(out: &mut String, text: &str, pos: Pos, label: Option<&str>) {
    let gutter = pos.line.to_string().len();
    let pad = " ".repeat(gutter);
    // Tabs would misalign the caret; YAML forbids them in indentation anyway.
    let shown = text.replace('\t', " ");
    let col = usize::try_from(pos.column.max(1)).unwrap_or(1) - 1;
    let width = shown.chars().count().saturating_sub(col).max(1);
    let len = usize::try_from(pos.len).unwrap_or(1).clamp(1, width);
    let _ = writeln!(out, "{pad} |");
    let _ = writeln!(out, "{} | {shown}", pos.line);
    let _ = write!(out, "{pad} | {}{}", " ".repeat(col), "^".repeat(len));
    match label {
        Some(l) => {
            let _ = writeln!(out, " {l}");
        }
        None => out.push('\n'),
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

/// A bag of diagnostics collected over a whole run, so every problem is reported at once.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    /// Pushes and returns the diagnostic, so labels and help can be added afterwards.
    pub(crate) fn push_mut(&mut self, d: Diagnostic) -> &mut Diagnostic {
        self.items.push(d);
        let last = self.items.len() - 1;
        &mut self.items[last]
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    pub(crate) fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    pub(crate) fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Sorted by file, then position, so output is stable whatever order checks ran in.
    pub fn sorted(mut self) -> Self {
        self.items.sort_by(|a, b| {
            (a.path(), a.pos, a.severity, &a.message).cmp(&(
                b.path(),
                b.pos,
                b.severity,
                &b.message,
            ))
        });
        self
    }

    /// Everything, rendered, separated by blank lines.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for d in &self.items {
            out.push_str(&d.render());
            out.push('\n');
        }
        out
    }

    /// The diagnostics `keep` accepts, in order.
    pub(crate) fn filtered(&self, keep: impl Fn(&Diagnostic) -> bool) -> Diagnostics {
        Diagnostics {
            items: self.items.iter().filter(|d| keep(d)).cloned().collect(),
        }
    }

    /// For commands other than `validate`: errors in full, each warning on one line, and a
    /// pointer to `mssp validate` for the details. A known, accepted warning (a customer in
    /// another cloud) would otherwise repeat its whole snippet on every plan, report and portal
    /// run, burying what the command itself says.
    pub(crate) fn render_brief(&self) -> String {
        let mut out = String::new();
        for d in self.items.iter().filter(|d| d.is_error()) {
            out.push_str(&d.render());
            out.push('\n');
        }
        let warnings: Vec<&Diagnostic> = self.items.iter().filter(|d| !d.is_error()).collect();
        for d in &warnings {
            match d.location() {
                Some(loc) => {
                    let _ = writeln!(out, "{loc}: warning: {}", d.message);
                }
                None => {
                    let _ = writeln!(out, "warning: {}", d.message);
                }
            }
        }
        if !warnings.is_empty() {
            let _ = writeln!(
                out,
                "  = note: `mssp validate` shows {} in full",
                if warnings.len() == 1 { "it" } else { "them" }
            );
        }
        out
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_snippet_and_caret() {
        let file = SourceFile::new("m.yaml", "a: 1\nspec:\n  tenantId: nope\n");
        let d = Diagnostic::error("`nope` is not a GUID")
            .at(&file, Pos::new(3, 13, 4))
            .label("expected 8-4-4-4-12 hex digits");
        assert_eq!(
            d.render(),
            "m.yaml:3:13: error: `nope` is not a GUID\n  |\n3 |   tenantId: nope\n  |             ^^^^ expected 8-4-4-4-12 hex digits\n"
        );
    }

    #[test]
    fn caret_is_clamped_to_the_line() {
        let file = SourceFile::new("m.yaml", "x: y\n");
        let d = Diagnostic::warning("w").at(&file, Pos::new(1, 4, 99));
        assert!(d.render().ends_with("  |    ^\n"), "{}", d.render());
    }
}
