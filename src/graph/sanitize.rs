//! Server-provided text made safe for terminals, logs and pull-request comments: control
//! characters and terminal escape sequences are removed, so an error message or a display
//! name cannot retitle a window, clear a screen or hide text.

/// Removes C0 controls (except `\n` and `\t`), DEL, C1 controls and whole ESC sequences
/// (CSI, OSC, DCS/PM/APC strings, two-character escapes).
pub fn clean(s: &str) -> String {
    if !s.chars().any(is_control) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => out.push(c),
            '\u{1b}' => match chars.next() {
                Some('[') => skip_csi(&mut chars),
                Some(']' | 'P' | '^' | '_' | 'X') => skip_string(&mut chars),
                // Any other escape is two characters long (ESC + one).
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            '\u{9d}' | '\u{90}' | '\u{9e}' | '\u{9f}' | '\u{98}' => skip_string(&mut chars),
            c if is_control(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// [`clean`], and line breaks and tabs become spaces: for text shown on one line.
pub(crate) fn clean_line(s: &str) -> String {
    clean(s).replace(['\n', '\t'], " ")
}

fn is_control(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || c == '\u{7f}'
}

/// A control sequence runs to its final byte (0x40–0x7E).
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for c in chars.by_ref() {
        if ('\u{40}'..='\u{7e}').contains(&c) {
            return;
        }
    }
}

/// A control string runs to BEL, ST (ESC \) or the C1 ST.
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => return,
            '\u{1b}' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                return;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_escape_sequences_and_controls() {
        assert_eq!(clean("a\x1b]0;pwned\x07\x1b[2Jb"), "ab");
        assert_eq!(clean("red \x1b[31;1mtext\x1b[0m"), "red text");
        assert_eq!(clean("osc \x1b]8;;http://x\x1b\\link"), "osc link");
        assert_eq!(clean("c1 \u{9b}2Jx \u{9d}title\u{9c}y"), "c1 x y");
        assert_eq!(clean("bell\x07 del\x7f cr\r bs\x08"), "bell del cr bs");
        assert_eq!(clean("keep\nlines\tand tabs"), "keep\nlines\tand tabs");
        assert_eq!(clean_line("one\nline\t!"), "one line !");
        assert_eq!(clean("Ünïcode ✓ — fine"), "Ünïcode ✓ — fine");
        assert_eq!(clean("dangling \x1b"), "dangling ");
    }

    proptest::proptest! {
        #[test]
        fn nothing_controlling_survives(s in "\\PC{0,20}[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}]{0,5}\\PC{0,20}") {
            let out = clean(&s);
            proptest::prop_assert!(!out.chars().any(is_control));
        }
    }
}
