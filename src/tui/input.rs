//! tui::input: a line of text typed into the bottom line — the note from the room (`n`)
//! and the journal's filter (`/`). Owns the editing keys and the drawing of the line;
//! what enter and esc then mean is the caller's.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{App, put_line};

/// What a key did to the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Edit {
    /// Enter: the line is done.
    Done,
    /// Esc: the line is given up.
    Cancel,
    /// The text changed, or the key meant nothing here.
    Typed,
}

/// One key on `text`, which holds at most `max` characters. Every printable key is a
/// letter here, so a key that acts on the screen (`R`, `q`, space) cannot act from a line
/// being typed.
pub(super) fn edit(text: &mut String, key: KeyEvent, max: usize) -> Edit {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Esc => return Edit::Cancel,
        KeyCode::Enter => return Edit::Done,
        KeyCode::Backspace => {
            text.pop();
        }
        // The line editor's two habits: ctrl-u clears, ctrl-w drops the last word.
        KeyCode::Char('u') if ctrl => text.clear(),
        KeyCode::Char('w') if ctrl => {
            let kept = text.trim_end().rfind(' ').map_or(0, |i| i + 1);
            text.truncate(kept);
        }
        KeyCode::Char(c) if !ctrl && !c.is_control() && text.chars().count() < max => {
            text.push(c);
        }
        _ => {}
    }
    Edit::Typed
}

/// The line being typed, in the bottom line: `lead`, the text (its end when it is longer
/// than the line), a cursor, and `keys` at the right.
pub(super) fn render(frame: &mut Frame, app: &App, lead: &str, text: &str, keys: &str, area: Rect) {
    let theme = app.theme();
    let room =
        usize::from(area.width).saturating_sub(lead.chars().count() + keys.chars().count() + 1);
    let count = text.chars().count();
    let shown: String = if count > room {
        let tail: String = text.chars().skip(count + 1 - room.max(1)).collect();
        format!("…{tail}")
    } else {
        text.to_string()
    };
    let pad = room.saturating_sub(shown.chars().count());
    let line = Line::from(vec![
        Span::styled(lead.to_string(), theme.key),
        Span::styled(shown, theme.text),
        Span::styled("█", theme.accent),
        Span::raw(" ".repeat(pad)),
        Span::styled(keys.to_string(), theme.muted),
    ]);
    put_line(frame, area, &line, theme.text);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn letters_go_in_and_the_editing_keys_edit() {
        let mut text = String::new();
        for c in "db failover done".chars() {
            assert_eq!(edit(&mut text, key(KeyCode::Char(c)), 100), Edit::Typed);
        }
        edit(
            &mut text,
            KeyEvent::new(KeyCode::Char('w'), KeyModifiers::CONTROL),
            100,
        );
        assert_eq!(text, "db failover ");
        edit(&mut text, key(KeyCode::Backspace), 100);
        assert_eq!(text, "db failover");
        edit(
            &mut text,
            KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL),
            100,
        );
        assert_eq!(text, "");
        for c in "abc".chars() {
            edit(&mut text, key(KeyCode::Char(c)), 2);
        }
        assert_eq!(text, "ab", "no longer than the most it holds");
        assert_eq!(edit(&mut text, key(KeyCode::Enter), 2), Edit::Done);
        assert_eq!(edit(&mut text, key(KeyCode::Esc), 2), Edit::Cancel);
    }
}
