//! tui::note: the note the operator writes from the room (`n`) — a one-line input in
//! the bottom line. Its keys and its line only: enter hands the text to the controller as
//! a `Note` command, which the engine journals with the operator's name and engine time.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::App;
use super::input::{self, Edit};
use super::keys::{Intent, command};
use crate::engine::{Command, MAX_NOTE_CHARS};

impl App {
    /// A key while the note is open: text goes into it, enter adds it, esc drops it.
    pub(super) fn on_note_key(&mut self, key: KeyEvent) -> Option<Intent> {
        let text = self.note.get_or_insert_with(String::new);
        match input::edit(text, key, MAX_NOTE_CHARS) {
            Edit::Cancel => {
                self.note = None;
                self.say("note dropped; nothing was journaled")
            }
            Edit::Done => {
                let text = self.note.take().unwrap_or_default();
                if text.trim().is_empty() {
                    return self.say("an empty note is not journaled");
                }
                command(Command::Note { text })
            }
            Edit::Typed => None,
        }
    }
}

/// The note being written, in the bottom line: its end when it is longer than the line.
pub(super) fn render(frame: &mut Frame, app: &App, text: &str, area: Rect) {
    input::render(
        frame,
        app,
        " note: ",
        text,
        " enter adds · esc drops ",
        area,
    );
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
