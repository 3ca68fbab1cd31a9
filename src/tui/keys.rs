//! tui::keys: what each key means. Pure: a key changes UI state or becomes an [`Intent`]
//! for the controller; this module never sends a command itself and never treats a single
//! stray keypress as consent to anything destructive (those keys ask first, in `confirm`).

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::View;
use super::app::{App, Popup};
use super::confirm::Ask;
use super::layout::Pane;
use crate::engine::{Command, Engine, Phase};
use crate::plan::{Check, ListKind};
use crate::support::fmt;

/// How far one `←`/`→` (or `h`/`l`) moves the slider, in percent.
pub(crate) const SLIDER_STEP: u8 = 5;

/// What a key asks of the controller.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    /// Run an operator command; any confirmation it needed has been given.
    Command {
        command: Command,
        reason: Option<String>,
    },
    /// Take the release over from a holder that is gone.
    TakeOver,
    /// Run an automatic checklist item's command now instead of at its next minute.
    Recheck {
        list: ListKind,
        item: usize,
    },
    /// Run a stage again (its command, or a fresh read of its status file).
    Rerun {
        stage: String,
    },
    Quit,
}

impl App {
    /// What a key means now. Changes only UI state; anything for the release comes back as
    /// an [`Intent`] for the controller.
    pub fn on_key(&mut self, key: KeyEvent, view: &View) -> Option<Intent> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL)
            && matches!(key.code, KeyCode::Char('c' | 'C'))
        {
            return Some(Intent::Quit);
        }
        if self.too_small() {
            return self.on_key_too_small(key, view);
        }
        self.status.clear();
        if let Some(popup) = self.popup.take() {
            match self.on_popup_key(popup, key, view) {
                Flow::Done(intent) => return intent,
                Flow::Pass => {}
            }
        }
        let engine = view.engine;
        match key.code {
            KeyCode::Char('q') => self.quit(view),
            KeyCode::Char('?') => {
                self.popup = Some(Popup::Help);
                None
            }
            KeyCode::Char(' ') => self.pause_or_resume(view),
            KeyCode::Char('P') => {
                if matches!(
                    engine.phase(),
                    Phase::Ready | Phase::Baking { .. } | Phase::AwaitingApproval { .. }
                ) {
                    self.ask(Ask::Promote, view);
                    None
                } else {
                    // The engine says why not, in its own words.
                    command(Command::Promote { force: false })
                }
            }
            KeyCode::Char('R') => {
                if matches!(
                    engine.phase(),
                    Phase::RollingBack { .. } | Phase::RolledBack { .. }
                ) {
                    command(Command::Rollback)
                } else {
                    self.ask(Ask::Rollback, view);
                    None
                }
            }
            KeyCode::Char('T') => {
                if view.holder_state.is_some_and(|s| s.unguarded()) {
                    self.ask(Ask::TakeOver, view);
                    None
                } else if view.follower_of.is_some() {
                    self.say("T takes over only when the holder stops guarding")
                } else {
                    self.say("this screen already guards the release")
                }
            }
            KeyCode::Char('p') => self.say("promote is P (shift-p): it asks before acting"),
            KeyCode::Char('r') if self.focus == Pane::Checklist => {
                let (list, item) = self.cursor(engine)?;
                self.rerun(engine, list, item)
            }
            KeyCode::Char('r') => self.say(&format!(
                "r re-runs a checklist item (tab to the Checklist; {} has focus); roll back is R (shift-r), then y",
                self.focus.title()
            )),
            KeyCode::Left | KeyCode::Char('h') => self.move_slider(view, false),
            KeyCode::Right | KeyCode::Char('l') => self.move_slider(view, true),
            KeyCode::Enter => match self.slider {
                Some(target) => {
                    self.ask(Ask::SetPercent(target), view);
                    None
                }
                None if self.focus == Pane::Checklist => {
                    let (list, item) = self.cursor(engine)?;
                    self.popup = Some(Popup::Details { list, item });
                    None
                }
                None => self.say(
                    "move the slider with ←/→ (or h/l) first, then enter; in the checklist, enter shows an item's details",
                ),
            },
            KeyCode::Tab => {
                self.focus = self.focus.next();
                None
            }
            KeyCode::BackTab => {
                self.focus = self.focus.prev();
                None
            }
            KeyCode::Char('j') | KeyCode::Down => self.move_down(view, 1),
            KeyCode::Char('k') | KeyCode::Up => self.move_up(view, 1),
            KeyCode::PageDown => self.move_down(view, 10),
            KeyCode::PageUp => self.move_up(view, 10),
            KeyCode::Home if self.focus == Pane::Journal => {
                self.journal_scroll = 0;
                None
            }
            KeyCode::Home => self.elsewhere("home shows the newest journal entry", Pane::Journal),
            KeyCode::Char('x') if self.focus == Pane::Checklist => {
                let (list, item) = self.cursor(engine)?;
                tick(engine, list, item)
            }
            KeyCode::Char('x') => self.elsewhere("x ticks the checklist item under ▸", Pane::Checklist),
            KeyCode::Char('t') => {
                self.next_theme();
                None
            }
            KeyCode::Char('z') => {
                self.zoom = !self.zoom;
                None
            }
            KeyCode::Char('w') => {
                if self.why {
                    self.why = false;
                    None
                } else if engine.progress().trips.is_empty() {
                    self.say("no guardrail has fired in this release")
                } else {
                    self.why = true;
                    None
                }
            }
            KeyCode::Char('b') => {
                self.popup = Some(Popup::Runbook);
                None
            }
            KeyCode::Esc => {
                self.zoom = false;
                self.slider = None;
                self.why = false;
                None
            }
            _ => None,
        }
    }

    /// Below the minimum size nothing but the "too small" notice is drawn, so a key cannot
    /// be seen to act: only `q` does (asking first while the rollout is live, in words the
    /// small screen shows) and ctrl-c. Any other key leaves the release and the screen as
    /// they were, popups included.
    fn on_key_too_small(&mut self, key: KeyEvent, view: &View) -> Option<Intent> {
        if let Some(Popup::Confirm(c)) = &self.popup
            && c.ask == Ask::Quit
        {
            let c = c.clone();
            self.popup = None;
            return self.on_confirm_key(&c, key, view);
        }
        if key.code == KeyCode::Char('q') {
            return self.quit(view);
        }
        None
    }

    /// A pane's key pressed while another pane has focus: it does nothing there, and the
    /// status line says where it acts.
    pub(super) fn elsewhere(&mut self, what: &str, pane: Pane) -> Option<Intent> {
        self.say(&format!(
            "{what}: tab to the {} first ({} has focus)",
            pane.title(),
            self.focus.title()
        ))
    }

    /// `q`: quits, asking first while this screen guards a live rollout.
    fn quit(&mut self, view: &View) -> Option<Intent> {
        // Only a holder's screen guards: a follower's closing stops nothing.
        if view.engine.phase().is_live() && view.follower_of.is_none() {
            self.ask(Ask::Quit, view);
            None
        } else {
            Some(Intent::Quit)
        }
    }

    fn on_popup_key(&mut self, popup: Popup, key: KeyEvent, view: &View) -> Flow {
        let engine = view.engine;
        let closes = matches!(key.code, KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q'));
        match popup {
            Popup::Help => Flow::Done(None),
            Popup::Confirm(c) => Flow::Done(self.on_confirm_key(&c, key, view)),
            Popup::Runbook => match key.code {
                KeyCode::Char('j') | KeyCode::Down => {
                    self.runbook_down(engine);
                    self.popup = Some(Popup::Runbook);
                    Flow::Done(None)
                }
                KeyCode::Char('k') | KeyCode::Up => {
                    self.runbook_up();
                    self.popup = Some(Popup::Runbook);
                    Flow::Done(None)
                }
                KeyCode::Char('x') => {
                    self.popup = Some(Popup::Runbook);
                    let items = engine.plan().checklists.rollback.len();
                    if self.runbook_cursor < items {
                        Flow::Done(tick(engine, ListKind::Rollback, self.runbook_cursor))
                    } else {
                        Flow::Done(None)
                    }
                }
                KeyCode::Char('b') => Flow::Done(None),
                _ if closes => Flow::Done(None),
                _ => Flow::Pass,
            },
            Popup::Details { list, item } => {
                // Whatever the key does, it does to the item shown.
                self.cursor = Some((list, item));
                match key.code {
                    KeyCode::Char('r') => {
                        self.popup = Some(popup);
                        Flow::Done(self.rerun(engine, list, item))
                    }
                    KeyCode::Char('j') | KeyCode::Down | KeyCode::Char('k') | KeyCode::Up => {
                        if matches!(key.code, KeyCode::Char('j') | KeyCode::Down) {
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
        }
    }

    /// `r` on a checklist item: its command runs now, its stage runs again, or the status
    /// line says why nothing runs.
    pub(super) fn rerun(&mut self, engine: &Engine, list: ListKind, item: usize) -> Option<Intent> {
        let it = engine.plan().checklists.list(list).get(item)?;
        match &it.check {
            Some(Check::Command { .. }) => Some(Intent::Recheck { list, item }),
            Some(Check::Stage(stage)) => Some(Intent::Rerun {
                stage: stage.clone(),
            }),
            Some(Check::Metric { metric, .. }) => {
                let every = fmt::duration(engine.plan().metrics.interval);
                self.say(&format!(
                    "\"{}\" is checked against {metric} at every sample (every {every}); nothing to run",
                    it.text
                ))
            }
            None => self.say(&format!(
                "\"{}\" is ticked by hand with x; r re-runs automatic items; roll back is R (shift-r)",
                it.text
            )),
        }
    }

    fn pause_or_resume(&mut self, view: &View) -> Option<Intent> {
        let engine = view.engine;
        match engine.phase() {
            // The engine refuses a resume past these unless forced: ask, offering f.
            Phase::Paused { .. } => {
                if !engine.pause_blockers().is_empty() {
                    self.ask(Ask::ForceResume, view);
                    None
                } else {
                    command(Command::Resume { force: false })
                }
            }
            // Pausing only holds the rollout where it is: safe on one key.
            _ => command(Command::Pause),
        }
    }

    fn move_slider(&mut self, view: &View, up: bool) -> Option<Intent> {
        let engine = view.engine;
        if !engine.phase().is_live() {
            let phase = engine.phase().badge().to_lowercase();
            return self.say(&format!(
                "the slider acts on a live rollout, not while {phase}"
            ));
        }
        let live = engine.exposure().percent;
        let from = self.slider.unwrap_or(live);
        let to = if up {
            from.saturating_add(SLIDER_STEP).min(100)
        } else {
            from.saturating_sub(SLIDER_STEP)
        };
        self.slider = (to != live).then_some(to);
        None
    }
}

enum Flow {
    /// The popup consumed the key.
    Done(Option<Intent>),
    /// The popup closed; the key acts as if it were not there.
    Pass,
}

/// The intent to run `command`, with no reason given.
pub(super) fn command(command: Command) -> Option<Intent> {
    Some(Intent::Command {
        command,
        reason: None,
    })
}

/// `x` toggles an item; items that tick themselves are refused by the engine, which says why.
pub(super) fn tick(engine: &Engine, list: ListKind, item: usize) -> Option<Intent> {
    let done = engine.item_done(list, item).0;
    command(Command::Tick {
        list,
        item,
        done: !done,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::rig::{Rig, cmd};

    #[test]
    fn promote_that_cannot_act_goes_to_the_engine_for_its_reason() {
        let mut r = Rig::baking();
        r.run(Command::Pause);
        assert_eq!(
            r.press(KeyCode::Char('P')),
            cmd(Command::Promote { force: false })
        );
        assert!(r.app.popup().is_none());
    }

    #[test]
    fn space_pauses_and_resumes() {
        let mut r = Rig::baking();
        assert_eq!(r.press(KeyCode::Char(' ')), cmd(Command::Pause));
        r.run(Command::Pause);
        assert_eq!(
            r.press(KeyCode::Char(' ')),
            cmd(Command::Resume { force: false })
        );
    }

    #[test]
    fn slider_moves_only_on_a_live_rollout_and_applies_after_y() {
        let mut r = Rig::new();
        assert_eq!(r.press(KeyCode::Right), None);
        assert_eq!(r.app.slider(), None);
        assert!(
            r.app
                .status()
                .is_some_and(|s| s.text.contains("live rollout"))
        );
        let mut r = Rig::baking();
        r.press(KeyCode::Right);
        r.press(KeyCode::Char('l'));
        assert_eq!(r.app.slider(), Some(20));
        r.press(KeyCode::Left);
        assert_eq!(r.app.slider(), Some(15));
        r.press(KeyCode::Char('h'));
        assert_eq!(r.app.slider(), None, "back at the live percent");
        r.press(KeyCode::Right);
        assert_eq!(r.press(KeyCode::Enter), None);
        assert_eq!(
            r.press(KeyCode::Char('y')),
            cmd(Command::SetPercent { percent: 15 })
        );
        r.app.answer(Ok("set".into()));
        assert_eq!(r.app.slider(), None);
    }

    #[test]
    fn slider_stays_within_zero_and_a_hundred() {
        let mut r = Rig::baking();
        for _ in 0..30 {
            r.press(KeyCode::Right);
        }
        assert_eq!(r.app.slider(), Some(100));
        for _ in 0..30 {
            r.press(KeyCode::Left);
        }
        assert_eq!(r.app.slider(), Some(0));
    }

    #[test]
    fn quit_asks_only_while_guardrails_are_live() {
        let mut r = Rig::new();
        assert_eq!(r.press(KeyCode::Char('q')), Some(Intent::Quit));
        let mut r = Rig::baking();
        assert_eq!(r.press(KeyCode::Char('q')), None);
        assert_eq!(r.press(KeyCode::Char('y')), Some(Intent::Quit));
        assert_eq!(
            r.press_with(KeyCode::Char('c'), KeyModifiers::CONTROL),
            Some(Intent::Quit)
        );
        // A follower's guardrails do not run: its q quits without asking.
        assert_eq!(r.press_following(KeyCode::Char('q')), Some(Intent::Quit));
    }

    #[test]
    fn below_the_minimum_size_only_q_and_ctrl_c_act() {
        let mut r = Rig::baking();
        r.press(KeyCode::Char('j'));
        let cursor = r.app.cursor(&r.engine);
        r.resize(40, 12);
        // R then y: nothing is asked, nothing is rolled back.
        for code in [
            KeyCode::Char('R'),
            KeyCode::Char('y'),
            KeyCode::Char('P'),
            KeyCode::Char('f'),
            KeyCode::Char(' '),
            KeyCode::Char('x'),
            KeyCode::Char('j'),
            KeyCode::Right,
            KeyCode::Tab,
            KeyCode::Char('?'),
        ] {
            assert_eq!(r.press_small(code), None, "{code:?} acted");
            assert!(r.app.popup().is_none(), "{code:?} opened a popup");
        }
        assert_eq!(r.app.slider(), None);
        assert_eq!(r.app.focus(), Pane::Health);
        assert_eq!(r.app.cursor(&r.engine), cursor);
        // q asks while the rollout is live (the small screen shows the question); any
        // other key keeps the screen, y quits.
        assert_eq!(r.press_small(KeyCode::Char('q')), None);
        assert!(matches!(r.app.popup(), Some(Popup::Confirm(c)) if c.ask == Ask::Quit));
        assert_eq!(r.press_small(KeyCode::Char('R')), None);
        assert!(r.app.popup().is_none());
        r.press_small(KeyCode::Char('q'));
        assert_eq!(r.press_small(KeyCode::Char('y')), Some(Intent::Quit));
        assert_eq!(
            r.press_with(KeyCode::Char('c'), KeyModifiers::CONTROL),
            Some(Intent::Quit)
        );
        // A pending question from before the terminal shrank is not answered while small.
        let mut r = Rig::baking();
        r.press(KeyCode::Char('R'));
        r.resize(40, 12);
        assert_eq!(r.press_small(KeyCode::Char('y')), None);
        r.resize(120, 40);
        assert!(matches!(r.app.popup(), Some(Popup::Confirm(c)) if c.ask == Ask::Rollback));
        // With nothing live, q quits at once.
        let mut r = Rig::new();
        r.resize(40, 12);
        assert_eq!(r.press_small(KeyCode::Char('q')), Some(Intent::Quit));
    }

    #[test]
    fn lowercase_p_and_r_only_say_which_key_acts() {
        let mut r = Rig::baking();
        assert_eq!(r.press(KeyCode::Char('p')), None);
        assert!(r.app.status().is_some_and(|s| s.text.contains("shift")));
        assert_eq!(r.press(KeyCode::Char('r')), None);
        assert!(r.app.popup().is_none());
    }

    #[test]
    fn r_in_the_checklist_runs_what_the_item_is_checked_by() {
        let mut r = Rig::automatic();
        assert_eq!(
            r.press(KeyCode::Char('r')),
            None,
            "a hand item runs nothing"
        );
        assert!(
            r.app
                .status()
                .is_some_and(|s| s.text.contains("ticked by hand with x"))
        );
        r.press(KeyCode::Char('j'));
        assert_eq!(
            r.press(KeyCode::Char('r')),
            Some(Intent::Recheck {
                list: ListKind::PreRelease,
                item: 1
            })
        );
        r.press(KeyCode::Char('j'));
        assert_eq!(
            r.press(KeyCode::Char('r')),
            Some(Intent::Rerun { stage: "QA".into() })
        );
        r.press(KeyCode::Char('j'));
        assert_eq!(
            r.press(KeyCode::Char('r')),
            None,
            "a metric item runs nothing"
        );
        let said = r.app.status().unwrap();
        assert!(!said.ok);
        assert!(
            said.text
                .contains("checked against error_rate at every sample (every 15s)"),
            "{}",
            said.text
        );
    }

    #[test]
    fn enter_in_the_checklist_shows_the_items_details_and_its_keys_act_on_that_item() {
        let mut r = Rig::automatic();
        let details = |item| {
            Some(Popup::Details {
                list: ListKind::PreRelease,
                item,
            })
        };
        r.press(KeyCode::Char('j'));
        r.press(KeyCode::Char('j'));
        assert_eq!(r.press(KeyCode::Enter), None);
        assert_eq!(r.app.popup().cloned(), details(2));
        // `r` runs the stage again and the details stay open, to watch it.
        assert_eq!(
            r.press(KeyCode::Char('r')),
            Some(Intent::Rerun { stage: "QA".into() })
        );
        assert_eq!(r.app.popup().cloned(), details(2));
        // j and k walk on to the next item's details.
        r.press(KeyCode::Char('j'));
        assert_eq!(r.app.popup().cloned(), details(3));
        r.press(KeyCode::Char('k'));
        assert_eq!(r.app.popup().cloned(), details(2));
        assert_eq!(r.press(KeyCode::Esc), None);
        assert!(r.app.popup().is_none());
        for close in [KeyCode::Esc, KeyCode::Enter, KeyCode::Char('q')] {
            r.press(KeyCode::Enter);
            assert_eq!(r.app.popup().cloned(), details(2));
            assert_eq!(r.press(close), None, "{close:?} only closes");
            assert!(r.app.popup().is_none(), "{close:?}");
        }

        // Elsewhere enter still applies the slider, and so it does in the checklist while
        // a slider target waits.
        let mut r = Rig::baking();
        while r.app.focus() != Pane::Checklist {
            r.press(KeyCode::Tab);
        }
        r.press(KeyCode::Right);
        r.press(KeyCode::Enter);
        assert!(matches!(r.app.popup(), Some(Popup::Confirm(c)) if c.ask == Ask::SetPercent(15)));
    }

    #[test]
    fn key_releases_do_nothing() {
        let mut r = Rig::baking();
        let view = View::new(&r.engine, &r.journal, r.now, "alice");
        let mut release = KeyEvent::new(KeyCode::Char('R'), KeyModifiers::SHIFT);
        release.kind = KeyEventKind::Release;
        assert_eq!(r.app.on_key(release, &view), None);
        assert!(r.app.popup().is_none());
    }

    #[test]
    fn help_lists_every_key_the_bottom_line_names() {
        let help: Vec<&str> = super::super::popup::HELP.iter().map(|(k, _)| *k).collect();
        let header = super::super::lines::HINTS
            .iter()
            .chain(&super::super::lines::CHECKLIST_HINTS)
            .chain(&super::super::lines::JOURNAL_HINTS);
        for (key, _) in header {
            let key = key.replace('/', " ");
            assert!(
                help.iter()
                    .any(|h| h.contains(key.split(' ').next().unwrap_or(&key))),
                "{key} missing from help"
            );
        }
    }
}
