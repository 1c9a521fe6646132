//! Property tests: the loader and validator never panic, whatever bytes they are given.

use std::sync::Arc;

use mssp::diagnostics::SourceFile;
use mssp::manifest::{LoadOutcome, parse_source};
use proptest::prelude::*;

fn run(text: String) -> LoadOutcome {
    let src: Arc<SourceFile> = SourceFile::new("fuzz.yaml", text);
    let mut out = LoadOutcome::default();
    parse_source(&src, true, &mut out);
    let today = jiff::civil::date(2026, 11, 23);
    let (_, diags) = mssp::validate::validate(&out.set, today);
    // Rendering walks the source by line and column: it must cope with any position.
    for d in out.diagnostics.iter().chain(diags.iter()) {
        let _ = d.render();
    }
    out
}

fn examples() -> Vec<String> {
    [
        "examples/provider.yaml",
        "examples/customers/contoso.yaml",
        "examples/customers/northwind-gov.yaml",
        "examples/customers/small-business.yaml",
    ]
    .iter()
    .map(|p| std::fs::read_to_string(p).expect("example"))
    .collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    DeleteChar(usize),
    InsertChar(usize, char),
    DuplicateLine(usize),
    DeleteLine(usize),
    SwapLines(usize, usize),
    Truncate(usize),
    Indent(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop::sample::select(vec![
        ':', '-', ' ', '\n', '[', ']', '{', '}', '"', '\'', '#', '&', '*', '!', '|', '>', '\t',
        'é', '0',
    ]);
    prop_oneof![
        any::<usize>().prop_map(Mutation::DeleteChar),
        (any::<usize>(), interesting).prop_map(|(i, c)| Mutation::InsertChar(i, c)),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        any::<usize>().prop_map(Mutation::DeleteLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        any::<usize>().prop_map(Mutation::Indent),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let n = chars.len().max(1);
    let l = lines.len().max(1);
    match *m {
        Mutation::DeleteChar(i) => {
            if !chars.is_empty() {
                chars.remove(i % n);
            }
            chars.into_iter().collect()
        }
        Mutation::InsertChar(i, c) => {
            chars.insert(i % (chars.len() + 1), c);
            chars.into_iter().collect()
        }
        Mutation::DuplicateLine(i) => {
            if !lines.is_empty() {
                let dup = lines[i % l].clone();
                lines.insert(i % l, dup);
            }
            lines.join("\n")
        }
        Mutation::DeleteLine(i) => {
            if !lines.is_empty() {
                lines.remove(i % l);
            }
            lines.join("\n")
        }
        Mutation::SwapLines(a, b) => {
            if !lines.is_empty() {
                lines.swap(a % l, b % l);
            }
            lines.join("\n")
        }
        Mutation::Truncate(i) => chars.into_iter().take(i % n).collect(),
        Mutation::Indent(i) => {
            if !lines.is_empty() {
                lines[i % l].insert_str(0, "  ");
            }
            lines.join("\n")
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        run(String::from_utf8_lossy(&bytes).into_owned());
    }

    #[test]
    fn mutated_examples_never_panic(which in 0usize..4, ms in prop::collection::vec(mutation(), 1..6)) {
        let base = examples();
        let mut text = base[which % base.len()].clone();
        for m in &ms {
            text = apply(&text, m);
        }
        run(text);
    }
}

#[test]
fn unmutated_examples_load_cleanly() {
    for text in examples() {
        let out = run(text);
        assert!(
            !out.diagnostics.has_errors(),
            "{}",
            out.diagnostics.render()
        );
    }
}
