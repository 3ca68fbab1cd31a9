//! tui::app: the screen's own state between frames (focus, zoom, popups, slider target,
//! checklist cursor, journal scroll, theme, keymap, the note being written, the last
//! answer) and how it follows the release. What each key does lives in `keys` (and
//! `popup_keys`), the questions in `confirm`, the cursors in `cursor`, the note in
//! `note`. Pure: it never sends a command itself and never waits on anything.

use ratatui::layout::Rect;
use std::collections::HashMap;

use super::View;
use super::alert::Alert;
use super::confirm::{Ask, Confirm};
use super::cursor::first_open;
use super::health;
use super::journal::Reading;
use super::keymap::Keymap;
use super::keys::Intent;
use super::layout::{self, Pane};
use super::settings::{Settings, WarRoom};
use super::spark::{self, Spark};
use super::status::{Status, StatusLine};
use super::theme::{self, Theme};
use crate::engine::journal::Entry;
use crate::engine::{Engine, PauseCause, Phase};
use crate::plan::ListKind;

#[derive(Debug, Clone, PartialEq)]
pub enum Popup {
    Help,
    Confirm(Confirm),
    /// The rollback checklist, after a rollback.
    Runbook,
    /// One checklist item: where its result comes from, its runs and their output, or
    /// who ticked it.
    Details {
        list: ListKind,
        item: usize,
    },
    /// A journal entry in full, `scroll` lines down. A copy: what is being read stays
    /// whatever arrives meanwhile.
    Entry {
        entry: Box<Entry>,
        scroll: usize,
    },
}

/// Enough of the phase to notice that the release moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PhaseKey {
    badge: &'static str,
    step: Option<usize>,
    guardrail_pause: bool,
}

impl PhaseKey {
    pub(super) fn of(engine: &Engine) -> PhaseKey {
        PhaseKey {
            badge: engine.phase().badge(),
            step: engine.step_index(),
            guardrail_pause: matches!(
                engine.phase(),
                Phase::Paused {
                    by: PauseCause::Guardrail(_),
                    ..
                }
            ),
        }
    }
}

/// The screen's state between frames.
#[derive(Debug, Clone)]
pub struct App {
    theme: Theme,
    /// The themes `t` cycles through: the one given first, then the built-ins.
    themes: Vec<Theme>,
    theme_index: usize,
    no_color: bool,
    pub(super) keymap: Keymap,
    pub(super) focus: Pane,
    pub(super) zoom: bool,
    pub(super) popup: Option<Popup>,
    /// The why pane is open (docked above the journal, not a popup).
    pub(super) why: bool,
    pub(super) slider: Option<u8>,
    pub(super) cursor: Option<(ListKind, usize)>,
    pub(super) runbook_cursor: usize,
    /// Where the operator is in the journal: ▸, the rows shown, the filter.
    pub(super) journal: Reading,
    /// How far the help is scrolled, in lines.
    pub(super) help_scroll: usize,
    /// The note being written (`n`): while it is open, every key goes to it.
    pub(super) note: Option<String>,
    pub(super) status: StatusLine,
    seen: Option<PhaseKey>,
    sparks: HashMap<String, Spark>,
    /// The terminal's size as last drawn or resized: below the minimum, keys wait.
    area: Option<Rect>,
    /// What a trip does in the war-room view, as the user's settings say.
    war_room_settings: WarRoom,
    /// The war-room view's flash and bell.
    alert: Alert,
}

impl Default for App {
    fn default() -> Self {
        App::new(Theme::dark(), false)
    }
}

impl App {
    /// A screen in `theme`; with `no_color`, colour stays off whatever the theme.
    pub fn new(theme: Theme, no_color: bool) -> App {
        let mut themes = vec![theme.clone()];
        for i in 0..theme::BUILT_IN.len() {
            let t = theme::built_in(i);
            if t != theme {
                themes.push(t);
            }
        }
        App {
            theme: if no_color { Theme::no_color() } else { theme },
            themes,
            theme_index: 0,
            no_color,
            keymap: Keymap::default(),
            focus: Pane::Health,
            zoom: false,
            popup: None,
            why: false,
            slider: None,
            cursor: None,
            runbook_cursor: 0,
            journal: Reading::default(),
            help_scroll: 0,
            note: None,
            status: StatusLine::default(),
            seen: None,
            sparks: HashMap::new(),
            area: None,
            war_room_settings: WarRoom::default(),
            alert: Alert::default(),
        }
    }

    /// The same screen with the user's keys.
    pub fn with_keymap(mut self, keymap: Keymap) -> App {
        self.keymap = keymap;
        self
    }

    /// The same screen with the user's settings.
    pub fn with_settings(mut self, settings: Settings) -> App {
        self.war_room_settings = settings.war_room;
        self
    }

    pub fn theme(&self) -> &Theme {
        &self.theme
    }

    pub fn keymap(&self) -> &Keymap {
        &self.keymap
    }

    /// The note being written, while it is open.
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    pub(crate) fn help_scroll(&self) -> usize {
        self.help_scroll
    }

    pub(crate) fn area(&self) -> Option<Rect> {
        self.area
    }

    pub fn focus(&self) -> Pane {
        self.focus
    }

    /// The zoomed pane, if any.
    pub(crate) fn zoomed(&self) -> Option<Pane> {
        self.zoom.then_some(self.focus)
    }

    /// Whether the war-room view is on: the Health pane zoomed.
    pub fn war_room(&self) -> bool {
        self.zoomed() == Some(Pane::Health)
    }

    /// Whether the war-room view's badge is lit by a trip's flash in this frame.
    pub(crate) fn flash_lit(&self) -> bool {
        self.alert.lit()
    }

    /// A frame is drawn at `now` (the wall clock): the badge's flash starts, blinks or
    /// ends. Returns when it next changes, for the loop to draw again then.
    pub fn flash(&mut self, now: std::time::Instant) -> Option<std::time::Instant> {
        self.alert.tick(now)
    }

    /// Whether a flash waits for the next frame to start.
    pub fn flash_due(&self) -> bool {
        self.alert.due()
    }

    /// Whether the terminal bell is to ring for a new trip; true once per trip.
    pub fn take_bell(&mut self) -> bool {
        self.alert.take_bell()
    }

    pub fn popup(&self) -> Option<&Popup> {
        self.popup.as_ref()
    }

    /// Whether the why pane is open.
    pub fn why_open(&self) -> bool {
        self.why
    }

    /// The slider's target when it differs from what is live.
    pub fn slider(&self) -> Option<u8> {
        self.slider
    }

    pub fn status(&self) -> Option<&Status> {
        self.status.get()
    }

    /// A frame is drawn at `now` (the wall clock): the bottom line's answer fades ten
    /// seconds after it was first shown. Returns when the current one will fade.
    pub fn fade_status(&mut self, now: std::time::Instant) -> Option<std::time::Instant> {
        self.status.fade(now)
    }

    pub(crate) fn journal(&self) -> &Reading {
        &self.journal
    }

    pub(crate) fn runbook_cursor(&self) -> usize {
        self.runbook_cursor
    }

    pub(crate) fn spark(&self, series: &str) -> Option<&Spark> {
        self.sparks.get(series)
    }

    /// The terminal changed size; keys are read against the new size before it is drawn.
    pub fn resize(&mut self, area: Rect) {
        self.area = Some(area);
    }

    /// Whether the screen shows "terminal too small" instead of the panes: then nobody can
    /// see what a key would do, so only quitting acts.
    pub(crate) fn too_small(&self) -> bool {
        self.area.is_some_and(layout::too_small)
    }

    /// Shows the controller's answer to a command.
    pub fn answer(&mut self, result: Result<String, String>) {
        match result {
            Ok(text) => {
                self.slider = None;
                self.status.set(true, text);
            }
            Err(text) => self.status.set(false, text),
        }
    }

    /// Brings the UI state up to date with the release: opens the why popup on a guardrail
    /// pause and the runbook on a rollback, drops answers that no longer apply, keeps the
    /// journal's ▸ on its entry as new ones arrive, and downsamples each series to the
    /// width its sparkline has (here, when data arrives, never while drawing).
    pub fn sync(&mut self, view: &View, area: Rect) {
        let engine = view.engine;
        let key = PhaseKey::of(engine);
        // One watcher of new trips: the war room's alarms and the why pane follow it.
        let newest = engine.progress().trips.last().map(|t| t.id());
        let new_trip = self
            .alert
            .see(newest, self.war_room(), self.war_room_settings);
        if self.seen.as_ref() != Some(&key) {
            let rolling = |k: &PhaseKey| matches!(k.badge, "ROLLING BACK" | "ROLLED BACK");
            let was_rolling = self.seen.as_ref().is_some_and(rolling);
            if let Some(Popup::Confirm(c)) = &self.popup
                && !matches!(c.ask, Ask::Quit | Ask::TakeOver)
                && c.at != key
            {
                self.popup = None;
                self.status.set(
                    false,
                    format!(
                        "not asked any more: the release moved on ({})",
                        engine.phase().badge().to_lowercase()
                    ),
                );
            }
            if rolling(&key) && !was_rolling {
                self.popup = Some(Popup::Runbook);
                self.runbook_cursor = first_open(engine, ListKind::Rollback);
                // The why stays open only for a guardrail's rollback: it explains that.
                self.why &= engine.cause().is_some();
            } else if key.guardrail_pause {
                self.open_why_if_it_fits(view, area);
            } else if !rolling(&key) {
                if matches!(self.popup, Some(Popup::Runbook)) {
                    self.popup = None;
                }
                self.why = false;
            }
            self.slider = None;
            self.cursor = None;
            self.seen = Some(key);
        } else if new_trip && self.seen.as_ref().is_some_and(|k| k.guardrail_pause) {
            self.open_why_if_it_fits(view, area);
        }
        self.area = Some(area);
        let areas = super::areas(self, view, area);
        if let Some(rect) = areas.and_then(|a| a.health) {
            self.prepare_health(view, rect);
        }
        // While an entry is read in full, ▸ stays on it even when it was the newest.
        let reading = matches!(self.popup, Some(Popup::Entry { .. }));
        let rows = areas
            .and_then(|a| a.journal)
            .map(|r| usize::from(r.height.saturating_sub(2)));
        self.journal.follow(view.journal, rows, reading);
    }

    /// The why pane opens by itself only where it covers nothing: above the journal, with
    /// the journal's newest entries still shown. Elsewhere `w` opens it.
    fn open_why_if_it_fits(&mut self, view: &View, area: Rect) {
        if layout::why_fits(area, view.banner(), health::rows(view)) {
            self.why = true;
        }
    }

    /// Downsamples every series to the sparkline width of a health pane drawn in `rect`
    /// (the charts' width in the war-room view); a series whose history, width and
    /// window have not moved keeps its cells.
    pub fn prepare_health(&mut self, view: &View, rect: Rect) {
        let width = if self.war_room() {
            super::war_room::chart_width(view, rect)
        } else {
            health::spark_width(view, rect)
        };
        for s in &view.engine.plan().metrics.series {
            let key = spark::spark_key(view, &s.name, width);
            if self.sparks.get(&s.name).is_some_and(|c| c.key == key) {
                continue;
            }
            self.sparks
                .insert(s.name.clone(), spark::downsample(view, &s.name, key));
        }
    }

    /// `t`: the next theme, unless `NO_COLOR` keeps colour off.
    pub(super) fn next_theme(&mut self) {
        if self.no_color {
            self.say("NO_COLOR is set: colours stay off");
            return;
        }
        self.theme_index = (self.theme_index + 1) % self.themes.len();
        self.theme = self.themes[self.theme_index].clone();
        self.status.set(true, format!("theme: {}", self.theme.name));
    }

    /// Shows `text` in the bottom line (a refusal or a hint); nothing for the controller.
    pub(super) fn say(&mut self, text: &str) -> Option<Intent> {
        self.status.set(false, text);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::rig::Rig;
    use crossterm::event::KeyCode;

    #[test]
    fn t_cycles_themes_unless_no_color() {
        let mut r = Rig::new();
        r.press(KeyCode::Char('t'));
        assert_eq!(r.app.theme().name, "light");
        r.press(KeyCode::Char('t'));
        r.press(KeyCode::Char('t'));
        assert_eq!(r.app.theme().name, "dark");
        r.app = App::new(Theme::dark(), true);
        r.press(KeyCode::Char('t'));
        assert_eq!(r.app.theme(), &Theme::no_color());
    }

    #[test]
    fn w_explains_only_when_something_fired() {
        let mut r = Rig::baking();
        assert_eq!(r.press(KeyCode::Char('w')), None);
        assert!(r.app.popup().is_none());
        assert!(
            r.app
                .status()
                .is_some_and(|s| s.text.contains("no guardrail"))
        );
        r.samples(1, 0.02);
        r.samples(1, 0.002);
        r.sync();
        r.press(KeyCode::Esc);
        assert!(!r.app.why_open());
        r.press(KeyCode::Char('w'));
        assert!(r.app.why_open());
        r.press(KeyCode::Char('w'));
        assert!(!r.app.why_open(), "w closes it again");
    }
}
