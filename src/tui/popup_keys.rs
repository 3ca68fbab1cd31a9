//! tui::popup_keys: what a key does while a popup is open — the help scrolls, a question
//! is answered, the runbook and an item's details move and act on what they show, and
//! the rest close. Pure, as `keys` is: UI state changes, anything else is an `Intent`.

use crossterm::event::KeyEvent;

use super::View;
use super::app::{App, Popup};
use super::keymap::Action;
use super::keys::{Flow, tick};
use crate::plan::ListKind;

impl App {
    /// A key while `popup` is open (taken out of the app; put back if it stays open).
    pub(super) fn on_popup_key(
        &mut self,
        popup: Popup,
        key: KeyEvent,
        action: Option<Action>,
        view: &View,
    ) -> Flow {
        let engine = view.engine;
        let closes = matches!(action, Some(Action::Close | Action::Apply | Action::Quit));
        match popup {
            Popup::Help => match action {
                Some(
                    a @ (Action::Down
                    | Action::Up
                    | Action::PageDown
                    | Action::PageUp
                    | Action::First
                    | Action::Last),
                ) => {
                    self.scroll_help(a);
                    self.popup = Some(Popup::Help);
                    Flow::Done(None)
                }
                // Any other key closes the help and does nothing else.
                _ => Flow::Done(None),
            },
            Popup::Confirm(c) => Flow::Done(self.on_confirm_key(&c, key, view)),
            Popup::Runbook => match action {
                Some(Action::Down) => {
                    self.runbook_down(engine);
                    self.popup = Some(Popup::Runbook);
                    Flow::Done(None)
                }
                Some(Action::Up) => {
                    self.runbook_up();
                    self.popup = Some(Popup::Runbook);
                    Flow::Done(None)
                }
                Some(Action::Tick) => {
                    self.popup = Some(Popup::Runbook);
                    let items = engine.plan().checklists.rollback.len();
                    if self.runbook_cursor < items {
                        Flow::Done(tick(engine, ListKind::Rollback, self.runbook_cursor))
                    } else {
                        Flow::Done(None)
                    }
                }
                Some(Action::Runbook) => Flow::Done(None),
                _ if closes => Flow::Done(None),
                _ => Flow::Pass,
            },
            Popup::Details { list, item } => {
                // Whatever the key does, it does to the item shown.
                self.cursor = Some((list, item));
                match action {
                    Some(Action::Rerun) => {
                        self.popup = Some(popup);
                        Flow::Done(self.rerun(engine, list, item))
                    }
                    Some(a @ (Action::Down | Action::Up)) => {
                        if a == Action::Down {
                            self.move_down(view, 1);
                        } else {
                            self.move_up(view, 1);
                        }
                        self.popup = self
                            .cursor(engine)
                            .map(|(list, item)| Popup::Details { list, item });
                        Flow::Done(None)
                    }
                    _ if closes => Flow::Done(None),
                    _ => Flow::Pass,
                }
            }
            Popup::Entry { entry, scroll } => self.on_entry_key(*entry, scroll, action, view),
        }
    }
}
