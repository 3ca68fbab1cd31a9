//! tui::keys: what each key means. Pure: a key changes UI state or becomes an [`Intent`]
//! for the controller; this module never sends a command itself and never treats a single
//! stray keypress as consent to anything destructive (those keys ask first, in `confirm`).

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::View;
use super::app::{App, Popup};
use super::confirm::Ask;
use super::layout::Pane;
use crate::engine::{Command, Engine, PauseCause, Phase};
use crate::plan::ListKind;

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
        self.status = None;
        if let Some(popup) = self.popup.take() {
            match self.on_popup_key(popup, key, view) {
                Flow::Done(intent) => return intent,
                Flow::Pass => {}
            }
        }
        let engine = view.engine;
        match key.code {
            KeyCode::Char('q') => {
                if engine.phase().is_live() {
                    self.ask(Ask::Quit, view);
                    None
                } else {
                    Some(Intent::Quit)
                }
            }
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
                let checked = engine
                    .plan()
                    .checklists
                    .list(list)
                    .get(item)?
                    .check
                    .is_some();
                if checked {
                    Some(Intent::Recheck { list, item })
                } else {
                    self.say("r runs an automatic item's check now; roll back is R (shift-r)")
                }
            }
            KeyCode::Char('r') => self.say("roll back is R (shift-r), then y"),
            KeyCode::Left | KeyCode::Char('h') => self.move_slider(view, false),
            KeyCode::Right | KeyCode::Char('l') => self.move_slider(view, true),
            KeyCode::Enter => match self.slider {
                Some(target) => {
                    self.ask(Ask::SetPercent(target), view);
                    None
                }
                None => self.say("move the slider with ←/→ (or h/l) first, then enter"),
            },
            KeyCode::Tab => {
                self.focus = self.focus.next();
                None
            }
            KeyCode::BackTab => {
                self.focus = self.focus.prev();
                None
            }
            KeyCode::Char('j') | KeyCode::Down => {
                self.move_down(view, 1);
                None
            }
            KeyCode::Char('k') | KeyCode::Up => {
                self.move_up(view, 1);
                None
            }
            KeyCode::PageDown => {
                self.move_down(view, 10);
                None
            }
            KeyCode::PageUp => {
                self.move_up(view, 10);
                None
            }
            KeyCode::Home if self.focus == Pane::Journal => {
                self.journal_scroll = 0;
                None
            }
            KeyCode::Char('x') => {
                let (list, item) = self.cursor(engine)?;
                tick(engine, list, item)
            }
            KeyCode::Char('t') => {
                self.next_theme();
                None
            }
            KeyCode::Char('z') => {
                self.zoom = !self.zoom;
                None
            }
            KeyCode::Char('w') => {
                if engine.progress().trips.is_empty() {
                    self.say("no guardrail has fired in this release")
                } else {
                    self.popup = Some(Popup::Why);
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
                None
            }
            _ => None,
        }
    }

    fn on_popup_key(&mut self, popup: Popup, key: KeyEvent, view: &View) -> Flow {
        let engine = view.engine;
        let closes = matches!(key.code, KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q'));
        match popup {
            Popup::Help => Flow::Done(None),
            Popup::Confirm(c) => Flow::Done(self.on_confirm_key(&c, key, view)),
            Popup::Why => {
                if closes || key.code == KeyCode::Char('w') {
                    Flow::Done(None)
                } else {
                    Flow::Pass
                }
            }
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
        }
    }

    fn pause_or_resume(&mut self, view: &View) -> Option<Intent> {
        let engine = view.engine;
        match engine.phase() {
            Phase::Paused { by, .. } => {
                let guarded = matches!(by, PauseCause::Guardrail(_) | PauseCause::Stale(_));
                if guarded && !engine.blockers().is_empty() {
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
        for (key, _) in super::super::header::HINTS {
            let key = key.replace('/', " ");
            assert!(
                help.iter()
                    .any(|h| h.contains(key.split(' ').next().unwrap_or(&key))),
                "{key} missing from help"
            );
        }
    }
}
