//! tui::keys: what each key means. Pure: a key is looked up in the user's keymap and its
//! action changes UI state or becomes an [`Intent`] for the controller; this module never
//! sends a command itself and never treats a single stray keypress as consent to anything
//! destructive (those keys ask first, in `confirm`). A key bound to nothing says so.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

use super::View;
use super::app::{App, Popup};
use super::confirm::Ask;
use super::keymap::{Action, Key};
use super::layout::Pane;
use crate::engine::{Command, Engine, Phase};
use crate::plan::{Check, ListKind};
use crate::support::fmt;

/// How far one slider key moves the slider, in percent.
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
        let pressed = Key::of(&key);
        let action = self.keymap.action(pressed);
        if action == Some(Action::QuitNow) {
            return Some(Intent::Quit);
        }
        if self.too_small() {
            return self.on_key_too_small(key, action, view);
        }
        self.status.clear();
        if self.note.is_some() {
            return self.on_note_key(key);
        }
        if self.journal.typing.is_some() {
            return self.on_filter_key(key, view);
        }
        if let Some(popup) = self.popup.take() {
            match self.on_popup_key(popup, key, action, view) {
                Flow::Done(intent) => return intent,
                Flow::Pass => {}
            }
        }
        match action {
            Some(action) => self.on_action(action, view),
            None => self.no_such_key(pressed),
        }
    }

    /// What an action does on the screen, with no popup in the way.
    fn on_action(&mut self, action: Action, view: &View) -> Option<Intent> {
        let engine = view.engine;
        match action {
            Action::Quit => self.quit(view),
            Action::QuitNow => Some(Intent::Quit),
            Action::Help => {
                self.popup = Some(Popup::Help);
                self.help_scroll = 0;
                None
            }
            Action::Pause => self.pause_or_resume(view),
            Action::Promote => {
                if matches!(
                    engine.phase(),
                    Phase::Ready | Phase::Baking { .. } | Phase::AwaitingApproval { .. }
                ) {
                    self.ask(Ask::Promote, view);
                    None
                } else if matches!(engine.phase(), Phase::RolledBack { .. }) {
                    self.ask(Ask::Redeploy, view);
                    None
                } else {
                    // The engine says why not, in its own words.
                    command(Command::Promote { force: false })
                }
            }
            Action::Rollback => {
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
            Action::TakeOver => {
                let key = self.keymap.label(Action::TakeOver);
                if view.holder_state.is_some_and(|s| s.unguarded()) {
                    self.ask(Ask::TakeOver, view);
                    None
                } else if view.follower_of.is_some() {
                    self.say(&format!("{key} takes over only when the holder stops guarding"))
                } else {
                    self.say("this screen already guards the release")
                }
            }
            Action::Rerun if self.focus == Pane::Checklist => {
                let (list, item) = self.cursor(engine)?;
                self.rerun(engine, list, item)
            }
            Action::Rerun => self.say(&format!(
                "{} re-runs a checklist item ({} to the Checklist; {} has focus); roll back is {}, then y",
                self.keymap.label(Action::Rerun),
                self.keymap.label(Action::FocusNext),
                self.focus.title(),
                self.spoken(Action::Rollback)
            )),
            Action::SliderDown => self.move_slider(view, false),
            Action::SliderUp => self.move_slider(view, true),
            Action::Apply => match self.slider {
                Some(target) => {
                    self.ask(Ask::SetPercent(target), view);
                    None
                }
                None if self.focus == Pane::Checklist => {
                    let (list, item) = self.cursor(engine)?;
                    self.popup = Some(Popup::Details { list, item });
                    None
                }
                None if self.focus == Pane::Journal => self.open_entry(view),
                None => self.say(&format!(
                    "move the slider with {}/{} first, then {}; in the checklist or the journal, {} shows the row under ▸ in full",
                    self.keymap.label(Action::SliderDown),
                    self.keymap.label(Action::SliderUp),
                    self.keymap.label(Action::Apply),
                    self.keymap.label(Action::Apply),
                )),
            },
            Action::FocusNext => {
                self.focus = self.focus.next();
                None
            }
            Action::FocusPrev => {
                self.focus = self.focus.prev();
                None
            }
            Action::Down => self.move_down(view, 1),
            Action::Up => self.move_up(view, 1),
            Action::PageDown => self.move_down(view, 10),
            Action::PageUp => self.move_up(view, 10),
            Action::First => self.jump(view, true),
            Action::Last => self.jump(view, false),
            Action::Filter if self.focus == Pane::Journal => {
                self.open_filter();
                None
            }
            Action::Filter => self.elsewhere(
                &format!("{} filters the journal", self.keymap.label(Action::Filter)),
                Pane::Journal,
            ),
            Action::Tick if self.focus == Pane::Checklist => {
                let (list, item) = self.cursor(engine)?;
                tick(engine, list, item)
            }
            Action::Tick => self.elsewhere(
                &format!("{} ticks the checklist item under ▸", self.keymap.label(Action::Tick)),
                Pane::Checklist,
            ),
            Action::Theme => {
                self.next_theme();
                None
            }
            Action::Zoom => {
                self.zoom = !self.zoom;
                None
            }
            Action::Why => {
                if self.why {
                    self.why = false;
                    None
                } else if engine.progress().trips.is_empty() && engine.canary().is_none() {
                    if engine.plan().canary.is_some() {
                        self.say("no guardrail has fired, and the canary judge has not spoken yet")
                    } else {
                        self.say("no guardrail has fired in this release")
                    }
                } else {
                    self.why = true;
                    None
                }
            }
            Action::Runbook => {
                self.popup = Some(Popup::Runbook);
                None
            }
            Action::Note => {
                self.note = Some(String::new());
                None
            }
            // In a filtered journal, esc takes the filter away first: one press, one thing
            // gone, and the view the operator narrowed comes back whole before anything else.
            Action::Close if self.focus == Pane::Journal && self.journal.filter.is_some() => {
                self.clear_filter()
            }
            Action::Close => {
                self.zoom = false;
                self.slider = None;
                self.why = false;
                None
            }
            // The answers to a question are read by the question itself.
            Action::Confirm | Action::Force => None,
        }
    }

    /// A key bound to nothing says so, briefly, and where the keys are listed; a small
    /// letter whose capital is bound says which action that is (`p`: promote is `P`).
    fn no_such_key(&mut self, pressed: Key) -> Option<Intent> {
        if !pressed.is_pressable() {
            return None;
        }
        let help = self.keymap.label(Action::Help);
        let name = pressed.name();
        let flipped = match pressed.code {
            KeyCode::Char(c) if !pressed.ctrl && c.is_lowercase() => {
                c.to_uppercase().next().filter(|o| *o != c).map(Key::char)
            }
            _ => None,
        };
        match flipped.and_then(|k| self.keymap.action(k)) {
            Some(action) => self.say(&format!(
                "{name}: no such key; {} is {} · {help} lists the keys",
                action.name().replace('_', " "),
                self.spoken(action)
            )),
            None => self.say(&format!("{name}: no such key; {help} lists the keys")),
        }
    }

    /// An action's key as said in a hint: a capital letter says it is shift and the letter.
    pub(super) fn spoken(&self, action: Action) -> String {
        let label = self.keymap.label(action);
        let mut chars = label.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_ascii_uppercase() => {
                format!("{c} (shift-{})", c.to_ascii_lowercase())
            }
            _ => label,
        }
    }

    /// Below the minimum size nothing but the "too small" notice is drawn, so a key cannot
    /// be seen to act: only quitting does (asking first while the rollout is live, in words
    /// the small screen shows). Any other key leaves the release and the screen as they
    /// were, popups and a note being written included.
    fn on_key_too_small(
        &mut self,
        key: KeyEvent,
        action: Option<Action>,
        view: &View,
    ) -> Option<Intent> {
        if let Some(Popup::Confirm(c)) = &self.popup
            && c.ask == Ask::Quit
        {
            let c = c.clone();
            self.popup = None;
            return self.on_confirm_key(&c, key, view);
        }
        if action == Some(Action::Quit) {
            return self.quit(view);
        }
        None
    }

    /// A pane's key pressed while another pane has focus: it does nothing there, and the
    /// status line says where it acts.
    pub(super) fn elsewhere(&mut self, what: &str, pane: Pane) -> Option<Intent> {
        self.say(&format!(
            "{what}: {} to the {} first ({} has focus)",
            self.keymap.label(Action::FocusNext),
            pane.title(),
            self.focus.title()
        ))
    }

    /// Quit: quits, asking first while this screen guards a live rollout.
    fn quit(&mut self, view: &View) -> Option<Intent> {
        // Only a holder's screen guards: a follower's closing stops nothing.
        if view.engine.phase().is_live() && view.follower_of.is_none() {
            self.ask(Ask::Quit, view);
            None
        } else {
            Some(Intent::Quit)
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
                "\"{}\" is ticked by hand with {}; {} re-runs automatic items; roll back is {}",
                it.text,
                self.keymap.label(Action::Tick),
                self.keymap.label(Action::Rerun),
                self.spoken(Action::Rollback)
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

pub(super) enum Flow {
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
    use crate::tui::keymap::Keymap;
    use crate::tui::rig::{Rig, cmd};
    use crossterm::event::KeyModifiers;

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
    fn a_key_bound_to_nothing_says_so_and_where_the_keys_are() {
        let mut r = Rig::baking();
        for (code, name) in [
            (KeyCode::Char(':'), ":"),
            (KeyCode::Char('%'), "%"),
            (KeyCode::Char('Z'), "Z"),
            (KeyCode::F(1), "F1"),
        ] {
            assert_eq!(r.press(code), None, "{name} acted");
            let said = r.app.status().map(|s| s.text.clone()).unwrap_or_default();
            assert_eq!(said, format!("{name}: no such key; ? lists the keys"));
        }
        // A letter whose other case is bound names what that one does.
        r.press(KeyCode::Char('p'));
        let said = r.app.status().unwrap().text.clone();
        assert_eq!(
            said,
            "p: no such key; promote is P (shift-p) · ? lists the keys"
        );
        // ctrl with a bound letter is not that letter.
        r.press_with(KeyCode::Char('j'), KeyModifiers::CONTROL);
        assert!(
            r.app
                .status()
                .unwrap()
                .text
                .starts_with("ctrl-j: no such key")
        );
        // A modifier or media key on its own says nothing.
        r.app.status.clear();
        r.press(KeyCode::CapsLock);
        assert!(r.app.status().is_none());
    }

    #[test]
    fn rebound_keys_act_and_the_old_ones_are_free() {
        let mut r = Rig::baking();
        let keymap = crate::tui::keymap::parse(
            std::path::Path::new("keymap.yaml"),
            "rollback: X\nhelp: F1\n",
        )
        .unwrap();
        r.app = App::default().with_keymap(keymap);
        assert_eq!(r.press(KeyCode::Char('R')), None);
        assert_eq!(
            r.app.status().unwrap().text,
            "R: no such key; F1 lists the keys"
        );
        assert_eq!(r.press(KeyCode::Char('X')), None);
        assert!(matches!(r.app.popup(), Some(Popup::Confirm(c)) if c.ask == Ask::Rollback));
        assert_eq!(r.press(KeyCode::Char('y')), cmd(Command::Rollback));
        r.press(KeyCode::F(1));
        assert_eq!(r.app.popup(), Some(&Popup::Help));
        assert_ne!(Keymap::default(), r.app.keymap().clone());
    }
}
