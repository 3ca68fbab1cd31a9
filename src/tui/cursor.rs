//! tui::cursor: the checklist cursor, the runbook's cursor and the journal's scroll, and
//! which checklist matters in each phase. Moves only UI state; ticking an item is the
//! engine's, through a command.

use super::View;
use super::app::App;
use super::keys::Intent;
use super::layout::Pane;
use crate::engine::{Engine, Phase};
use crate::plan::ListKind;

impl App {
    /// The checklist item under the cursor: the operator's choice, or the first open item
    /// of the list that matters in this phase.
    pub fn cursor(&self, engine: &Engine) -> Option<(ListKind, usize)> {
        let lists = &engine.plan().checklists;
        if let Some((list, i)) = self.cursor
            && i < lists.list(list).len()
        {
            return Some((list, i));
        }
        let list = phase_list(engine.phase());
        let items = lists.list(list);
        if items.is_empty() {
            return flat_items(engine).first().copied();
        }
        let first_open = (0..items.len()).find(|i| !engine.item_done(list, *i).0);
        Some((list, first_open.unwrap_or(0)))
    }

    /// `j`/`↓` (`by` 1) or page down (`by` 10): down the journal, towards older entries,
    /// when it has focus; down through every checklist when the checklist has it. The
    /// other panes have no rows to move through: the status line says where these keys act.
    pub(super) fn move_down(&mut self, view: &View, by: usize) -> Option<Intent> {
        match self.focus {
            Pane::Journal => self.journal.step(view.journal, true, by),
            Pane::Checklist => {
                let items = flat_items(view.engine);
                let at = self.cursor(view.engine)?;
                let i = items.iter().position(|c| *c == at).unwrap_or(0);
                self.cursor = items
                    .get((i + by).min(items.len().saturating_sub(1)))
                    .copied();
            }
            Pane::Health | Pane::Rollout => return self.nothing_to_move(),
        }
        None
    }

    /// `k`/`↑` or page up: up the journal, towards newer entries; up the checklists.
    pub(super) fn move_up(&mut self, view: &View, by: usize) -> Option<Intent> {
        match self.focus {
            Pane::Journal => self.journal.step(view.journal, false, by),
            Pane::Checklist => {
                let items = flat_items(view.engine);
                let at = self.cursor(view.engine)?;
                let i = items.iter().position(|c| *c == at).unwrap_or(0);
                self.cursor = items.get(i.saturating_sub(by)).copied();
            }
            Pane::Health | Pane::Rollout => return self.nothing_to_move(),
        }
        None
    }

    /// `g` (`first`) or `G`: the first or the last row of the focused list — the newest or
    /// the oldest journal entry, the first or the last checklist item.
    pub(super) fn jump(&mut self, view: &View, first: bool) -> Option<Intent> {
        match self.focus {
            Pane::Journal => self.journal.jump(view.journal, first),
            Pane::Checklist => {
                let items = flat_items(view.engine);
                let end = if first { items.first() } else { items.last() };
                self.cursor = end.copied();
            }
            Pane::Health | Pane::Rollout => return self.nothing_to_move(),
        }
        None
    }

    fn nothing_to_move(&mut self) -> Option<Intent> {
        use super::keymap::Action;
        self.say(&format!(
            "{}/{} and {}/{} move in the Checklist and the Journal; {} has focus ({} moves it)",
            self.keymap.label(Action::Down),
            self.keymap.label(Action::Up),
            self.keymap.label(Action::First),
            self.keymap.label(Action::Last),
            self.focus.title(),
            self.keymap.label(Action::FocusNext)
        ))
    }

    /// `j` in the runbook popup: the next rollback item, stopping at the last.
    pub(super) fn runbook_down(&mut self, engine: &Engine) {
        let items = engine.plan().checklists.rollback.len();
        self.runbook_cursor = (self.runbook_cursor + 1).min(items.saturating_sub(1));
    }

    /// `k` in the runbook popup.
    pub(super) fn runbook_up(&mut self) {
        self.runbook_cursor = self.runbook_cursor.saturating_sub(1);
    }
}

/// The checklist that matters in a phase.
pub(crate) fn phase_list(phase: &Phase) -> ListKind {
    match phase {
        Phase::Ready => ListKind::PreRelease,
        Phase::Baking { .. } | Phase::AwaitingApproval { .. } | Phase::Paused { .. } => {
            ListKind::ReleaseDay
        }
        Phase::Watching | Phase::Completed => ListKind::PostRelease,
        Phase::RollingBack { .. } | Phase::RolledBack { .. } => ListKind::Rollback,
    }
}

/// Every checklist item in list order: `j`/`k` walk through them all.
fn flat_items(engine: &Engine) -> Vec<(ListKind, usize)> {
    let lists = &engine.plan().checklists;
    ListKind::ALL
        .iter()
        .flat_map(|k| (0..lists.list(*k).len()).map(move |i| (*k, i)))
        .collect()
}

/// The first item of `list` not yet done (the first item when all are).
pub(super) fn first_open(engine: &Engine, list: ListKind) -> usize {
    let n = engine.plan().checklists.list(list).len();
    (0..n).find(|i| !engine.item_done(list, *i).0).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Command;
    use crate::tui::app::Popup;
    use crate::tui::rig::{Rig, cmd};
    use crossterm::event::KeyCode;

    #[test]
    fn rollback_opens_the_runbook_and_x_ticks_in_it() {
        let mut r = Rig::baking();
        r.run(Command::Rollback);
        assert_eq!(r.engine.phase().badge(), "ROLLED BACK");
        r.sync();
        assert_eq!(r.app.popup(), Some(&Popup::Runbook));
        // The engine ticked "Disable feature flag"; the cursor starts at the first open item.
        assert_eq!(r.app.runbook_cursor(), 1);
        assert_eq!(
            r.press(KeyCode::Char('x')),
            cmd(Command::Tick {
                list: ListKind::Rollback,
                item: 1,
                done: true
            })
        );
        assert_eq!(r.app.popup(), Some(&Popup::Runbook));
        assert_eq!(r.press(KeyCode::Esc), None);
        assert!(r.app.popup().is_none());
    }

    #[test]
    fn x_toggles_the_item_under_the_cursor_and_j_k_walk_all_lists() {
        let mut r = Rig::new();
        r.focus(Pane::Checklist);
        assert_eq!(
            r.press(KeyCode::Char('x')),
            cmd(Command::Tick {
                list: ListKind::PreRelease,
                item: 0,
                done: true
            })
        );
        r.press(KeyCode::Char('j'));
        assert_eq!(r.app.cursor(&r.engine), Some((ListKind::ReleaseDay, 0)));
        r.press(KeyCode::Char('j'));
        r.press(KeyCode::Char('j'));
        assert_eq!(r.app.cursor(&r.engine), Some((ListKind::PostRelease, 0)));
        r.press(KeyCode::PageDown);
        assert_eq!(r.app.cursor(&r.engine), Some((ListKind::Rollback, 1)));
        r.press(KeyCode::Char('k'));
        assert_eq!(r.app.cursor(&r.engine), Some((ListKind::Rollback, 0)));
        r.run(Command::Tick {
            list: ListKind::Rollback,
            item: 0,
            done: true,
        });
        assert_eq!(
            r.press(KeyCode::Char('x')),
            cmd(Command::Tick {
                list: ListKind::Rollback,
                item: 0,
                done: false
            })
        );
    }

    #[test]
    fn j_k_move_through_the_journal_when_it_has_focus() {
        let mut r = Rig::baking();
        r.focus(Pane::Journal);
        let cursor = r.app.cursor(&r.engine);
        let n = r.journal.len();
        assert!(n >= 3);
        for _ in 0..n + 5 {
            r.press(KeyCode::Char('j'));
        }
        assert_eq!(r.app.journal().cursor, n - 1);
        assert_eq!(r.app.cursor(&r.engine), cursor, "the checklist stays put");
        r.press(KeyCode::Char('k'));
        assert_eq!(r.app.journal().cursor, n - 2);
        r.press(KeyCode::Home);
        assert_eq!(r.app.journal().cursor, 0);
        r.press(KeyCode::BackTab);
        assert_eq!(r.app.focus(), Pane::Rollout);
    }

    #[test]
    fn g_and_shift_g_jump_to_the_first_and_last_row_of_the_focused_list() {
        let mut r = Rig::baking();
        r.focus(Pane::Journal);
        let n = r.journal.len();
        r.press(KeyCode::Char('G'));
        assert_eq!(r.app.journal().cursor, n - 1, "the oldest entry");
        r.press(KeyCode::Char('g'));
        assert_eq!(r.app.journal().cursor, 0, "the newest entry");
        r.press(KeyCode::End);
        assert_eq!(r.app.journal().cursor, n - 1);

        r.focus(Pane::Checklist);
        r.press(KeyCode::Char('G'));
        assert_eq!(r.app.cursor(&r.engine), Some((ListKind::Rollback, 1)));
        r.press(KeyCode::Char('g'));
        assert_eq!(r.app.cursor(&r.engine), Some((ListKind::PreRelease, 0)));

        // Where there are no rows, they say where they act.
        r.focus(Pane::Health);
        assert_eq!(r.press(KeyCode::Char('G')), None);
        let said = r.app.status().unwrap().text.clone();
        assert!(
            said.contains("g/G move in the Checklist and the Journal; Health has focus"),
            "{said}"
        );
    }

    #[test]
    fn pane_keys_act_only_in_the_focused_pane() {
        let mut r = Rig::baking();
        let cursor = r.app.cursor(&r.engine);
        for pane in [Pane::Health, Pane::Rollout, Pane::Journal] {
            r.focus(pane);
            let said = |r: &Rig| r.app.status().map(|s| s.text.clone()).unwrap_or_default();
            assert_eq!(r.press(KeyCode::Char('x')), None, "x ticked in {pane:?}");
            assert!(said(&r).contains("tab to the Checklist"), "{}", said(&r));
            assert_eq!(r.press(KeyCode::Char('r')), None, "r ran in {pane:?}");
            assert!(said(&r).contains("tab to the Checklist"), "{}", said(&r));
            for k in [KeyCode::Char('j'), KeyCode::Down, KeyCode::PageDown] {
                r.press(k);
                assert_eq!(
                    r.app.cursor(&r.engine),
                    cursor,
                    "{k:?} moved it in {pane:?}"
                );
            }
            if pane != Pane::Journal {
                assert!(said(&r).contains("has focus"), "{}", said(&r));
                assert_eq!(r.press(KeyCode::Char('/')), None);
                assert!(said(&r).contains("tab to the Journal"), "{}", said(&r));
                assert!(r.app.journal().typing.is_none(), "/ opened in {pane:?}");
            }
        }
        // In the checklist they act.
        r.focus(Pane::Checklist);
        r.press(KeyCode::Char('j'));
        assert_ne!(r.app.cursor(&r.engine), cursor);
        assert!(matches!(
            r.press(KeyCode::Char('x')),
            Some(crate::tui::Intent::Command {
                command: Command::Tick { .. },
                ..
            })
        ));
    }
}
