//! support::escape: text from outside (a `--reason`, an operator's name, names in a plan,
//! a server's error body) as shipdeck shows it. Control characters would let that text
//! forge lines or drive the terminal (OSC titles, clearing the screen, hyperlinks), and
//! bidirectional controls would reorder what people read; both are shown as escapes.
//! Pure; what is stored (the journal, the state) keeps the text as it came.

use std::borrow::Cow;

/// The text with every control character written as an escape: `\n`, `\r`, `\t`, and
/// `\u{1b}` for the others (C0, DEL, C1), as Rust writes them; the bidirectional controls
/// (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) too. Everything else, a
/// backslash included, is shown as it is, so ordinary text reads unchanged.
pub fn shown(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// The text with the password of every URL in it (`scheme://user:password@host`) shown as
/// `***`: for a URL from a plan or the environment, or a message that quotes one.
pub fn passwords(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut rest = text;
    let mut changed = false;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        // The authority runs to the path, query or fragment, or the end of the word.
        let end = after
            .find(|c: char| {
                matches!(c, '/' | '?' | '#') || c.is_whitespace() || "\"'`<>()".contains(c)
            })
            .unwrap_or(after.len());
        let authority = &after[..end];
        match authority
            .rfind('@')
            .map(|a| (&authority[..a], &authority[a..]))
        {
            Some((userinfo, host)) if userinfo.contains(':') => {
                let user = userinfo.split(':').next().unwrap_or_default();
                out.push_str(user);
                out.push_str(":***");
                out.push_str(host);
                changed = true;
            }
            _ => out.push_str(authority),
        }
        rest = &after[end..];
    }
    if !changed {
        return Cow::Borrowed(text);
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Whether a URL carries credentials of its own (`user@` or `user:password@`).
pub fn has_userinfo(url: &str) -> bool {
    let Some(i) = url.find("://") else {
        return false;
    };
    let tail = &url[i + 3..];
    let end = tail.find(['/', '?', '#']).unwrap_or(tail.len());
    tail[..end].contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_text_is_shown_as_it_is() {
        for text in [
            "rollback: error rate 5% (alice)",
            "C:\\path",
            "naïve 日本 ✓",
            "",
        ] {
            assert!(matches!(shown(text), Cow::Borrowed(t) if t == text));
        }
    }

    #[test]
    fn control_characters_cannot_forge_lines_or_drive_the_terminal() {
        assert_eq!(
            shown("typo\n2026-01-01T00:00:00Z rollback\r\tok"),
            "typo\\n2026-01-01T00:00:00Z rollback\\r\\tok"
        );
        assert_eq!(shown("\x1b]0;owned\x07"), "\\u{1b}]0;owned\\u{7}");
        assert_eq!(shown("\x1b[2J\u{7f}\u{9b}"), "\\u{1b}[2J\\u{7f}\\u{9b}");
        assert_eq!(shown("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(shown("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
    }

    #[test]
    fn userinfo_is_seen() {
        assert!(has_userinfo("http://admin:pw@h:9090"));
        assert!(has_userinfo("https://token@h"));
        assert!(!has_userinfo("http://h:9090/x@y"));
        assert!(!has_userinfo("not a url"));
    }

    #[test]
    fn passwords_in_urls_are_hidden() {
        assert_eq!(
            passwords("http://admin:pw@prom:9090"),
            "http://admin:***@prom:9090"
        );
        assert_eq!(
            passwords("cannot connect to https://a:b@h/api/v1?x=1 (refused); and http://c:d@e"),
            "cannot connect to https://a:***@h/api/v1?x=1 (refused); and http://c:***@e"
        );
        assert_eq!(
            passwords("postgres://app:p@ss@db:5432/releases"),
            "postgres://app:***@db:5432/releases"
        );
        for plain in [
            "http://prom:9090",
            "http://token@h/x",
            "no url here",
            "a://",
        ] {
            assert!(matches!(passwords(plain), Cow::Borrowed(t) if t == plain));
        }
    }
}
