//! tui::keymap::key: one key as the keymap knows it — read from a terminal's key event,
//! named for people (the help, the README, the bottom line) and read back from a name in
//! a keymap file.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A key, with ctrl or without. Shift is in the character (`P`) or the code (`shift-tab`);
/// alt is not told apart, since terminals send it for an esc typed just before a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

/// Keys with a name, as they are shown first and then every name a file may use for them.
const NAMED: [(KeyCode, &str, &[&str]); 16] = [
    (KeyCode::Char(' '), "space", &["space"]),
    (KeyCode::Enter, "enter", &["enter", "return"]),
    (KeyCode::Tab, "tab", &["tab"]),
    (KeyCode::BackTab, "shift-tab", &["shift-tab", "backtab"]),
    (KeyCode::Esc, "esc", &["esc", "escape"]),
    (KeyCode::Left, "←", &["left", "←"]),
    (KeyCode::Right, "→", &["right", "→"]),
    (KeyCode::Up, "↑", &["up", "↑"]),
    (KeyCode::Down, "↓", &["down", "↓"]),
    (KeyCode::PageUp, "PgUp", &["pgup", "pageup", "page-up"]),
    (
        KeyCode::PageDown,
        "PgDn",
        &["pgdn", "pagedown", "page-down"],
    ),
    (KeyCode::Home, "home", &["home"]),
    (KeyCode::End, "end", &["end"]),
    (KeyCode::Backspace, "backspace", &["backspace"]),
    (KeyCode::Delete, "delete", &["delete", "del"]),
    (KeyCode::Insert, "insert", &["insert", "ins"]),
];

/// What a keymap file may write for a key, for its error messages.
pub(crate) const KEY_FORMS: &str = "a character (x, X, ?, 1), ctrl-CHARACTER (ctrl-x), space, enter, tab, shift-tab, esc, left, right, up, down, pgup, pgdn, home, end, backspace, delete, insert, or f1 to f12";

impl Key {
    pub const fn char(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            ctrl: false,
        }
    }

    pub const fn code(code: KeyCode) -> Key {
        Key { code, ctrl: false }
    }

    pub const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            ctrl: true,
        }
    }

    /// The key a terminal event is.
    pub fn of(event: &KeyEvent) -> Key {
        let ctrl = event.modifiers.contains(KeyModifiers::CONTROL);
        let code = match event.code {
            // Some terminals send ctrl-c as ctrl-C.
            KeyCode::Char(c) if ctrl => KeyCode::Char(c.to_ascii_lowercase()),
            other => other,
        };
        Key { code, ctrl }
    }

    /// Whether a person pressed it as a key of its own. Modifiers, lock and media keys
    /// reach the screen on some terminals and mean nothing to it.
    pub fn is_pressable(&self) -> bool {
        matches!(
            self.code,
            KeyCode::Char(_)
                | KeyCode::F(_)
                | KeyCode::Backspace
                | KeyCode::Enter
                | KeyCode::Left
                | KeyCode::Right
                | KeyCode::Up
                | KeyCode::Down
                | KeyCode::Home
                | KeyCode::End
                | KeyCode::PageUp
                | KeyCode::PageDown
                | KeyCode::Tab
                | KeyCode::BackTab
                | KeyCode::Delete
                | KeyCode::Insert
                | KeyCode::Esc
        )
    }

    /// How people read it: `P`, `space`, `←`, `PgDn`, `F1`, `ctrl-c`.
    pub fn name(&self) -> String {
        let base = match self.code {
            KeyCode::F(n) => format!("F{n}"),
            KeyCode::Char(c) if c != ' ' => c.to_string(),
            code => NAMED.iter().find(|(k, _, _)| *k == code).map_or_else(
                || format!("{code:?}").to_lowercase(),
                |(_, n, _)| n.to_string(),
            ),
        };
        if self.ctrl {
            format!("ctrl-{base}")
        } else {
            base
        }
    }

    /// A key as a keymap file writes it ([`KEY_FORMS`]); `Err` says what was written.
    pub fn parse(text: &str) -> Result<Key, String> {
        let text = text.trim();
        let refused = || format!("`{text}` is not a key");
        let lower = text.to_lowercase();
        // Names first: `←` is one character but names the arrow key.
        if let Some((code, _, _)) = NAMED
            .iter()
            .find(|(_, _, names)| names.contains(&lower.as_str()))
        {
            return Ok(Key::code(*code));
        }
        let mut chars = text.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            return if c.is_control() {
                Err(refused())
            } else {
                Ok(Key::char(c))
            };
        }
        if let Some(rest) = lower.strip_prefix("ctrl-") {
            let mut chars = rest.chars();
            return match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_ascii_graphic() => Ok(Key::ctrl(c)),
                _ => Err(refused()),
            };
        }
        match lower.strip_prefix('f').map(str::parse::<u8>) {
            Some(Ok(n)) if (1..=12).contains(&n) => Ok(Key::code(KeyCode::F(n))),
            _ => Err(refused()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_as_the_same_key() {
        let keys = [
            Key::char('P'),
            Key::char('?'),
            Key::char(' '),
            Key::ctrl('c'),
            Key::code(KeyCode::Left),
            Key::code(KeyCode::PageDown),
            Key::code(KeyCode::BackTab),
            Key::code(KeyCode::F(1)),
            Key::code(KeyCode::Esc),
        ];
        for key in keys {
            assert_eq!(Key::parse(&key.name()), Ok(key), "{}", key.name());
        }
        assert_eq!(Key::char(' ').name(), "space");
        assert_eq!(Key::code(KeyCode::PageUp).name(), "PgUp");
        assert_eq!(Key::ctrl('r').name(), "ctrl-r");
    }

    #[test]
    fn a_file_may_write_keys_as_people_say_them() {
        assert_eq!(Key::parse("X"), Ok(Key::char('X')));
        assert_eq!(Key::parse("x"), Ok(Key::char('x')));
        assert_eq!(Key::parse("Left"), Ok(Key::code(KeyCode::Left)));
        assert_eq!(Key::parse("pageup"), Ok(Key::code(KeyCode::PageUp)));
        assert_eq!(Key::parse("Ctrl-R"), Ok(Key::ctrl('r')));
        assert_eq!(Key::parse("F12"), Ok(Key::code(KeyCode::F(12))));
        for bad in [
            "", "ctl-x", "f13", "f0", "ctrl-", "ctrl-ab", "\u{7}", "spacebar",
        ] {
            assert!(Key::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_event_is_its_key_with_ctrl_and_without_shift() {
        let ev = |code, m| Key::of(&KeyEvent::new(code, m));
        assert_eq!(ev(KeyCode::Char('P'), KeyModifiers::SHIFT), Key::char('P'));
        assert_eq!(
            ev(KeyCode::Char('C'), KeyModifiers::CONTROL),
            Key::ctrl('c')
        );
        assert_eq!(
            ev(KeyCode::BackTab, KeyModifiers::SHIFT),
            Key::code(KeyCode::BackTab)
        );
        assert_eq!(ev(KeyCode::Char('x'), KeyModifiers::ALT), Key::char('x'));
    }
}
