//! tui::note: the note the operator writes from the room (`n`) — a one-line input in
//! the bottom line. Its keys and its line only: enter hands the text to the controller as
//! a `Note` command, which the engine journals with the operator's name and engine time.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::App;
use super::keys::{Intent, command};
use super::put_line;
use crate::engine::{Command, MAX_NOTE_CHARS};

impl App {
    /// A key while the note is open: text goes into it, enter adds it, esc drops it.
    pub(super) fn on_note_key(&mut self, key: KeyEvent) -> Option<Intent> {
        let text = self.note.get_or_insert_with(String::new);
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => {
                self.note = None;
                self.say("note dropped; nothing was journaled")
            }
            KeyCode::Enter => {
                let text = self.note.take().unwrap_or_default();
                if text.trim().is_empty() {
                    return self.say("an empty note is not journaled");
                }
                command(Command::Note { text })
            }
            KeyCode::Backspace => {
                text.pop();
                None
            }
            // The line editor's two habits: ctrl-u clears, ctrl-w drops the last word.
            KeyCode::Char('u') if ctrl => {
                text.clear();
                None
            }
            KeyCode::Char('w') if ctrl => {
                let kept = text.trim_end().rfind(' ').map_or(0, |i| i + 1);
                text.truncate(kept);
                None
            }
            KeyCode::Char(c) if !ctrl && !c.is_control() => {
                if text.chars().count() < MAX_NOTE_CHARS {
                    text.push(c);
                }
                None
            }
            _ => None,
        }
    }
}

/// The note being written, in the bottom line: its end when it is longer than the line.
pub(super) fn render(frame: &mut Frame, app: &App, text: &str, area: Rect) {
    let theme = app.theme();
    let keys = " enter adds · esc drops ";
    let lead = " note: ";
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
        Span::styled(lead, theme.key),
        Span::styled(shown, theme.text),
        Span::styled("█", theme.accent),
        Span::raw(" ".repeat(pad)),
        Span::styled(keys, theme.muted),
    ]);
    put_line(frame, area, &line, theme.text);
}

#[cfg(test)]
mod tests {
    use crate::engine::Command;
    use crate::tui::rig::{Rig, cmd};
    use crossterm::event::{KeyCode, KeyModifiers};

    fn type_in(r: &mut Rig, text: &str) {
        for c in text.chars() {
            assert_eq!(r.press(KeyCode::Char(c)), None, "{c:?} acted");
        }
    }

    #[test]
    fn n_opens_a_note_that_takes_every_key_and_enter_adds_it() {
        let mut r = Rig::baking();
        r.press(KeyCode::Char('n'));
        assert_eq!(r.app.note(), Some(""));
        // R, q, space and y are letters in a note: nothing is asked, nothing quits.
        type_in(&mut r, "Rq y");
        assert!(r.app.popup().is_none());
        r.press(KeyCode::Backspace);
        r.press_with(KeyCode::Char('u'), KeyModifiers::CONTROL);
        type_in(&mut r, "db failover at 14:02 done");
        r.press_with(KeyCode::Char('w'), KeyModifiers::CONTROL);
        assert_eq!(r.app.note(), Some("db failover at 14:02 "));
        assert_eq!(
            r.press(KeyCode::Enter),
            cmd(Command::Note {
                text: "db failover at 14:02 ".into()
            })
        );
        assert_eq!(r.app.note(), None);
    }

    #[test]
    fn esc_drops_the_note_and_an_empty_one_is_not_sent() {
        let mut r = Rig::baking();
        r.press(KeyCode::Char('n'));
        type_in(&mut r, "never mind");
        assert_eq!(r.press(KeyCode::Esc), None);
        assert_eq!(r.app.note(), None);
        assert!(r.app.status().is_some_and(|s| s.text.contains("dropped")));
        r.press(KeyCode::Char('n'));
        type_in(&mut r, "   ");
        assert_eq!(r.press(KeyCode::Enter), None);
        assert!(
            r.app
                .status()
                .is_some_and(|s| s.text.contains("empty note"))
        );
        // ctrl-c still quits from a note.
        r.press(KeyCode::Char('n'));
        assert_eq!(
            r.press_with(KeyCode::Char('c'), KeyModifiers::CONTROL),
            Some(crate::tui::Intent::Quit)
        );
    }
}
