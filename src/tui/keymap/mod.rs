//! tui::keymap: which key does what on the release screen. [`KEYS`] is the one table of
//! keys — the help popup, the bottom line's hints and the README's key table are drawn
//! from it — and a [`Keymap`] is that table as the user rebound it (`keymap.yaml`, read by
//! `file`). Pure: the front-end's start-up reads the file and hands its text over.

mod file;
mod key;

use crossterm::event::KeyCode;
use std::collections::BTreeMap;

pub use file::{KeymapError, parse};
pub use key::Key;

/// What a key does on the release screen. A keymap file names them as [`Action::name`]
/// spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Pause,
    Promote,
    Rollback,
    SliderDown,
    SliderUp,
    Apply,
    Note,
    Why,
    Runbook,
    FocusNext,
    FocusPrev,
    Zoom,
    Theme,
    Help,
    Close,
    Quit,
    QuitNow,
    Down,
    Up,
    PageDown,
    PageUp,
    First,
    Last,
    Filter,
    Tick,
    Rerun,
    TakeOver,
    Confirm,
    Force,
}

impl Action {
    /// The action's name in a keymap file.
    pub const fn name(self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Promote => "promote",
            Action::Rollback => "rollback",
            Action::SliderDown => "slider_down",
            Action::SliderUp => "slider_up",
            Action::Apply => "apply",
            Action::Note => "note",
            Action::Why => "why",
            Action::Runbook => "runbook",
            Action::FocusNext => "focus_next",
            Action::FocusPrev => "focus_prev",
            Action::Zoom => "zoom",
            Action::Theme => "theme",
            Action::Help => "help",
            Action::Close => "close",
            Action::Quit => "quit",
            Action::QuitNow => "quit_now",
            Action::Down => "down",
            Action::Up => "up",
            Action::PageDown => "page_down",
            Action::PageUp => "page_up",
            Action::First => "first",
            Action::Last => "last",
            Action::Filter => "filter",
            Action::Tick => "tick",
            Action::Rerun => "rerun",
            Action::TakeOver => "take_over",
            Action::Confirm => "confirm",
            Action::Force => "force",
        }
    }

    /// Why no keymap file rebinds it; `None` for the actions a file may rebind.
    pub const fn fixed(self) -> Option<&'static str> {
        match self {
            Action::QuitNow => {
                Some("ctrl-c quits from anywhere, even a screen too small to show a thing")
            }
            Action::Confirm | Action::Force => Some(
                "a question is answered with y (or f, to force) whatever else is bound, so no key can be taken for consent",
            ),
            _ => None,
        }
    }

    /// Whether a key for it acts on the screen, as opposed to answering an open question.
    const fn on_screen(self) -> bool {
        !matches!(self, Action::Confirm | Action::Force)
    }
}

/// Where, or when, a key acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// On the release, whichever pane has focus (and in the popups).
    Anywhere,
    /// With the checklist or the journal focused (and inside the popups that list things).
    Lists,
    Checklist,
    Journal,
    /// On a follower whose holder stopped guarding.
    Follower,
    /// While a question is open.
    Question,
}

impl Scope {
    pub const fn words(self) -> &'static str {
        match self {
            Scope::Anywhere => "anywhere",
            Scope::Lists => "checklist or journal focused",
            Scope::Checklist => "checklist focused",
            Scope::Journal => "journal focused",
            Scope::Follower => "on a follower whose holder is gone or silent",
            Scope::Question => "while a question is open",
        }
    }
}

/// One row of the key table: the action, its keys unless rebound, what it does and where.
#[derive(Debug, Clone, Copy)]
pub struct KeyRow {
    pub action: Action,
    pub keys: &'static [Key],
    pub does: &'static str,
    pub scope: Scope,
}

const fn row(action: Action, keys: &'static [Key], scope: Scope, does: &'static str) -> KeyRow {
    KeyRow {
        action,
        keys,
        does,
        scope,
    }
}

const fn c(ch: char) -> Key {
    Key::char(ch)
}

const fn k(code: KeyCode) -> Key {
    Key::code(code)
}

/// Every key of the release screen, in the order the help and the README list them.
#[rustfmt::skip]
pub const KEYS: &[KeyRow] = &[
    row(Action::Pause, &[c(' ')], Scope::Anywhere,
        "pause / resume (a guardrail pause resumes by itself once clear)"),
    row(Action::Promote, &[c('P')], Scope::Anywhere,
        "promote: start, approve or promote early; asks first, offering y only when nothing is in the way and f only when something is (a forced one is journaled as forced); after a rollback, a new attempt"),
    row(Action::Rollback, &[c('R')], Scope::Anywhere,
        "roll back: the flag goes off at once (asks first, y; fast on purpose)"),
    row(Action::SliderDown, &[k(KeyCode::Left), c('h')], Scope::Anywhere,
        "move the rollout slider down 5%"),
    row(Action::SliderUp, &[k(KeyCode::Right), c('l')], Scope::Anywhere,
        "move the rollout slider up 5%"),
    row(Action::Apply, &[k(KeyCode::Enter)], Scope::Anywhere,
        "apply the slider's target (asks first); with no target, the row under ▸ in full: in the checklist the item's details (its command and timeout or status file, status, why, link, runs and last output, or who ticked it), in the journal the whole entry (time, who, what, step, the full message, its values and the trip behind it)"),
    row(Action::Note, &[c('n')], Scope::Anywhere,
        "write a note from the room into the journal: enter adds it, esc drops it"),
    row(Action::Why, &[c('w')], Scope::Anywhere,
        "why: the trip behind where the release stands, with its samples, or the canary judge (each series against its baseline, both arms as histograms), in a pane above the journal; again closes it"),
    row(Action::Runbook, &[c('b')], Scope::Anywhere,
        "the rollback runbook; move through it and tick its items inside"),
    row(Action::FocusNext, &[k(KeyCode::Tab)], Scope::Anywhere, "focus the next pane"),
    row(Action::FocusPrev, &[k(KeyCode::BackTab)], Scope::Anywhere, "focus the previous pane"),
    row(Action::Zoom, &[c('z')], Scope::Anywhere,
        "zoom the focused pane; Health zoomed is the war-room view: the state and what the engine does next in large letters, a tall chart per series with its limits drawn across, and on a new trip the state flashes and the bell rings"),
    row(Action::Theme, &[c('t')], Scope::Anywhere,
        "next theme: the one it started with, dark, light, high-contrast"),
    row(Action::Help, &[c('?')], Scope::Anywhere, "this list of keys, as they are bound"),
    row(Action::Close, &[k(KeyCode::Esc)], Scope::Anywhere,
        "close a popup, unzoom, close the why pane, drop the slider's target; in a filtered journal, clear the filter first"),
    row(Action::Quit, &[c('q')], Scope::Anywhere,
        "quit; while this screen guards a live rollout it asks first (guardrails stop when it closes), a follower just closes; in a popup, closes the popup"),
    row(Action::QuitNow, &[Key::ctrl('c')], Scope::Anywhere,
        "quit at once, without asking, also on a screen too small to show anything"),
    row(Action::Down, &[c('j'), k(KeyCode::Down)], Scope::Lists,
        "checklist: the next item; journal: the next older entry; also in the runbook, an item's details and a journal entry"),
    row(Action::Up, &[c('k'), k(KeyCode::Up)], Scope::Lists,
        "checklist: the item before; journal: the next newer entry"),
    row(Action::PageDown, &[k(KeyCode::PageDown)], Scope::Lists,
        "ten down at a time; in a journal entry too long for the screen, the rest of it"),
    row(Action::PageUp, &[k(KeyCode::PageUp)], Scope::Lists, "ten up at a time"),
    row(Action::First, &[c('g'), k(KeyCode::Home)], Scope::Lists,
        "the first row: the newest journal entry, the first checklist item (the top of the help)"),
    row(Action::Last, &[c('G'), k(KeyCode::End)], Scope::Lists,
        "the last row: the oldest journal entry kept, the last checklist item (the end of the help)"),
    row(Action::Filter, &[c('/')], Scope::Journal,
        "filter the journal: type text, enter applies it (the title shows it and how many entries match), esc clears it; it matches the time, what, the message, the step and who, in any case"),
    row(Action::Tick, &[c('x')], Scope::Checklist,
        "tick or untick the item under ▸ (in the runbook too); an automatic item says why it is ticked"),
    row(Action::Rerun, &[c('r')], Scope::Checklist,
        "run the item again: a command check now, a stage item's stage (its command, or a fresh read of its status file, journaled); a metric item says it is checked at every sample"),
    row(Action::TakeOver, &[c('T')], Scope::Follower,
        "take the release over (asks first): this screen guards it from then on"),
    row(Action::Confirm, &[c('y')], Scope::Question,
        "yes: do what the question asks; any other key cancels it"),
    row(Action::Force, &[c('f')], Scope::Question,
        "force past what is in the way, offered only when something is (journaled as forced)"),
];

/// The keys as the user has them: [`KEYS`] with a keymap file's rebindings laid over.
#[derive(Debug, Clone, PartialEq)]
pub struct Keymap {
    keys: BTreeMap<Action, Vec<Key>>,
}

impl Default for Keymap {
    fn default() -> Keymap {
        Keymap {
            keys: KEYS.iter().map(|r| (r.action, r.keys.to_vec())).collect(),
        }
    }
}

impl Keymap {
    /// What `key` does on the screen, if anything. The answers to a question are not
    /// here: the question reads its own keys.
    pub fn action(&self, key: Key) -> Option<Action> {
        self.keys
            .iter()
            .find(|(a, keys)| a.on_screen() && keys.contains(&key))
            .map(|(a, _)| *a)
    }

    /// The keys bound to `action`, the first one first.
    pub fn keys(&self, action: Action) -> &[Key] {
        self.keys.get(&action).map_or(&[], Vec::as_slice)
    }

    /// `action`'s first key as people read it, for a hint or a message.
    pub fn label(&self, action: Action) -> String {
        self.keys(action)
            .first()
            .map_or_else(|| format!("(no key for {})", action.name()), Key::name)
    }

    /// The first key of each of `actions`, joined with `/` (`j/k`), for a hint; `None` when
    /// one of them has no key, since a hint with a gap would name nothing.
    pub fn hint(&self, actions: &[Action]) -> Option<String> {
        let names: Option<Vec<String>> = actions
            .iter()
            .map(|a| self.keys(*a).first().map(Key::name))
            .collect();
        names.map(|n| n.join("/"))
    }

    /// Binds `action` to `keys` instead of what it had.
    fn bind(&mut self, action: Action, keys: Vec<Key>) {
        self.keys.insert(action, keys);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_one_row_and_no_key_does_two_things() {
        let mut seen = Vec::new();
        for r in KEYS {
            assert!(!seen.contains(&r.action), "{:?} twice", r.action);
            seen.push(r.action);
            assert!(!r.keys.is_empty(), "{:?} has no key", r.action);
        }
        let map = Keymap::default();
        for r in KEYS.iter().filter(|r| r.action.on_screen()) {
            for key in r.keys {
                assert_eq!(map.action(*key), Some(r.action), "{}", key.name());
            }
        }
    }

    #[test]
    fn the_answers_to_a_question_are_not_screen_keys() {
        let map = Keymap::default();
        assert_eq!(map.action(Key::char('y')), None);
        assert_eq!(map.action(Key::char('f')), None);
        assert_eq!(map.action(Key::ctrl('c')), Some(Action::QuitNow));
        assert_eq!(map.label(Action::SliderDown), "←");
    }
}
