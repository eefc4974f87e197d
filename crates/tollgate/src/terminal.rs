//! Text for a terminal: control characters in server- or client-supplied text shown as visible
//! escapes, so a logged model name cannot retitle, clear or rewrite the operator's terminal.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every C0 control (tab and newline too: one field stays on one line), DEL and C1
/// control replaced by `\xNN` (C0, DEL) or `\u{NN}` (C1). Backslashes are left as they are:
/// the output is for reading, not for parsing back.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !is_control(c) {
            out.push(c);
        } else if c <= '\u{7f}' {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
    Cow::Owned(out)
}

/// [`printable`] for a message of several lines (a configuration's problems, one a line): each
/// line escaped, the line breaks between them kept.
pub fn printable_lines(text: &str) -> String {
    text.split('\n')
        .map(printable)
        .collect::<Vec<_>>()
        .join("\n")
}

/// C0 (U+0000–U+001F), DEL (U+007F) and C1 (U+0080–U+009F): exactly `char::is_control`.
fn is_control(c: char) -> bool {
    c.is_control()
}

#[cfg(test)]
mod tests {
    use super::{printable, printable_lines};

    #[test]
    fn lines_stay_lines_and_controls_inside_them_are_escaped() {
        assert_eq!(
            printable_lines("invalid configuration:\n  a\x1b[2J\n  b\tc"),
            "invalid configuration:\n  a\\x1b[2J\n  b\\x09c"
        );
    }

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let text = "gpt-4o-mini ünïcødé 模型 \\x1b";
        assert!(matches!(printable(text), std::borrow::Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn c0_del_and_c1_become_visible() {
        assert_eq!(printable("\x1b]0;pwned\x07"), "\\x1b]0;pwned\\x07");
        assert_eq!(printable("\u{9b}2J"), "\\u{9b}2J");
        assert_eq!(printable("a\tb\nc\rd"), "a\\x09b\\x0ac\\x0dd");
        assert_eq!(printable("\0\x7f\u{80}\u{9f}"), "\\x00\\x7f\\u{80}\\u{9f}");
    }

    #[test]
    fn the_neighbours_of_the_control_ranges_are_kept() {
        assert_eq!(printable(" ~\u{a0}\u{ff}"), " ~\u{a0}\u{ff}");
    }

    #[test]
    fn no_output_contains_a_control_character() {
        let all: String = (0u32..0x200).filter_map(char::from_u32).collect();
        assert!(!printable(&all).chars().any(char::is_control));
    }
}
