//! tui::app: the screen's own state (focus, zoom, popups, slider target, checklist cursor,
//! journal scroll, theme, the last answer) and what each key means. Pure: a key becomes
//! an [`Intent`] for the controller; this module never sends a command itself and never
//! treats a single stray keypress as consent to anything destructive.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::Rect;
use std::collections::HashMap;

use super::View;
use super::health::{self, Spark};
use super::layout::{self, Pane};
use super::theme::{self, Theme};
use crate::engine::guardrail::format_secs;
use crate::engine::{Command, Engine, PauseCause, Phase};
use crate::plan::ListKind;

/// How far one `←`/`→` (or `h`/`l`) moves the slider, in percent.
pub const SLIDER_STEP: u8 = 5;

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
    Quit,
}

/// What a confirmation popup is asking about.
#[derive(Debug, Clone, PartialEq)]
pub enum Ask {
    Promote,
    Rollback,
    SetPercent(u8),
    ForceResume,
    TakeOver,
    Quit,
}

/// A question put to the operator before anything with consequences happens.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub ask: Ask,
    pub title: String,
    /// What will happen, one line each.
    pub lines: Vec<String>,
    /// What stands in the way; shown so that forcing (`f`) is an informed choice.
    pub blockers: Vec<String>,
    /// `y` confirms; with `force_only`, only `f` does (resuming past a guardrail).
    pub force_only: bool,
    /// Whether `f` is offered.
    pub can_force: bool,
    /// What `y` does, in a word or two: `start`, `approve`, `roll back now`.
    pub yes: &'static str,
    /// Where the release stood when asked: if it moved on, the answer no longer applies.
    pub(crate) at: PhaseKey,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Popup {
    Help,
    Confirm(Confirm),
    /// The latest guardrail trip, explained.
    Why,
    /// The rollback checklist, after a rollback.
    Runbook,
}

/// The answer to the last key, shown in the bottom line until the next key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub ok: bool,
    pub text: String,
}

/// Enough of the phase to notice that the release moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PhaseKey {
    badge: &'static str,
    step: Option<usize>,
    guardrail_pause: bool,
}

impl PhaseKey {
    fn of(engine: &Engine) -> PhaseKey {
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
    focus: Pane,
    zoom: bool,
    popup: Option<Popup>,
    slider: Option<u8>,
    cursor: Option<(ListKind, usize)>,
    runbook_cursor: usize,
    journal_scroll: usize,
    status: Option<Status>,
    seen: Option<PhaseKey>,
    seen_trips: usize,
    sparks: HashMap<String, Spark>,
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
            focus: Pane::Health,
            zoom: false,
            popup: None,
            slider: None,
            cursor: None,
            runbook_cursor: 0,
            journal_scroll: 0,
            status: None,
            seen: None,
            seen_trips: 0,
            sparks: HashMap::new(),
        }
    }

    pub fn theme(&self) -> &Theme {
        &self.theme
    }

    pub fn focus(&self) -> Pane {
        self.focus
    }

    /// The zoomed pane, if any.
    pub fn zoomed(&self) -> Option<Pane> {
        self.zoom.then_some(self.focus)
    }

    pub fn popup(&self) -> Option<&Popup> {
        self.popup.as_ref()
    }

    /// The slider's target when it differs from what is live.
    pub fn slider(&self) -> Option<u8> {
        self.slider
    }

    pub fn status(&self) -> Option<&Status> {
        self.status.as_ref()
    }

    pub fn journal_scroll(&self) -> usize {
        self.journal_scroll
    }

    pub fn runbook_cursor(&self) -> usize {
        self.runbook_cursor
    }

    pub(crate) fn spark(&self, series: &str) -> Option<&Spark> {
        self.sparks.get(series)
    }

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

    /// Shows the controller's answer to a command.
    pub fn answer(&mut self, result: Result<String, String>) {
        self.status = Some(match result {
            Ok(text) => {
                self.slider = None;
                Status { ok: true, text }
            }
            Err(text) => Status { ok: false, text },
        });
    }

    /// Brings the UI state up to date with the release: opens the why popup on a guardrail
    /// pause and the runbook on a rollback, drops answers that no longer apply, and
    /// downsamples each series to the width its sparkline has (here, when data arrives,
    /// never while drawing).
    pub fn sync(&mut self, view: &View, area: Rect) {
        let engine = view.engine;
        let key = PhaseKey::of(engine);
        let trips = engine.progress().trips.len();
        if self.seen.as_ref() != Some(&key) {
            let rolling = |k: &PhaseKey| matches!(k.badge, "ROLLING BACK" | "ROLLED BACK");
            let was_rolling = self.seen.as_ref().is_some_and(rolling);
            if let Some(Popup::Confirm(c)) = &self.popup
                && !matches!(c.ask, Ask::Quit | Ask::TakeOver)
                && c.at != key
            {
                self.popup = None;
                self.status = Some(Status {
                    ok: false,
                    text: format!(
                        "not asked any more: the release moved on ({})",
                        engine.phase().badge().to_lowercase()
                    ),
                });
            }
            if rolling(&key) && !was_rolling {
                self.popup = Some(Popup::Runbook);
                self.runbook_cursor = first_open(engine, ListKind::Rollback);
            } else if key.guardrail_pause {
                self.popup = Some(Popup::Why);
            } else if matches!(self.popup, Some(Popup::Why | Popup::Runbook)) && !rolling(&key) {
                self.popup = None;
            }
            self.slider = None;
            self.cursor = None;
            self.seen = Some(key);
        } else if trips > self.seen_trips && self.seen.as_ref().is_some_and(|k| k.guardrail_pause) {
            self.popup = Some(Popup::Why);
        }
        self.seen_trips = trips;
        self.sync_sparks(view, area);
    }

    fn sync_sparks(&mut self, view: &View, area: Rect) {
        let Some(areas) = layout::areas(
            area,
            view.notice.is_some() || view.follower_of.is_some(),
            self.zoomed(),
            health::rows(view),
        ) else {
            return;
        };
        if let Some(rect) = areas.health {
            self.prepare_health(view, rect);
        }
    }

    /// Downsamples every series to the sparkline width of a health pane drawn in `rect`;
    /// a series whose history, width and window have not moved keeps its cells.
    pub fn prepare_health(&mut self, view: &View, rect: Rect) {
        let width = health::spark_width(view, rect);
        for s in &view.engine.plan().metrics.series {
            let key = health::spark_key(view, &s.name, width);
            if self.sparks.get(&s.name).is_some_and(|c| c.key == key) {
                continue;
            }
            self.sparks
                .insert(s.name.clone(), health::downsample(view, &s.name, key));
        }
    }

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
            Popup::Confirm(c) => {
                if c.at != PhaseKey::of(engine) && !matches!(c.ask, Ask::Quit | Ask::TakeOver) {
                    self.say("not done: the release moved on since the question");
                    return Flow::Done(None);
                }
                let yes = matches!(key.code, KeyCode::Char('y' | 'Y'));
                let force = c.can_force && matches!(key.code, KeyCode::Char('f' | 'F'));
                let confirmed = yes && !c.force_only;
                if !confirmed && !force {
                    self.say("cancelled; nothing was done");
                    return Flow::Done(None);
                }
                Flow::Done(match c.ask {
                    Ask::Promote => command(Command::Promote { force }),
                    Ask::Rollback => command(Command::Rollback),
                    Ask::SetPercent(percent) => command(Command::SetPercent { percent }),
                    Ask::ForceResume => command(Command::Resume { force: true }),
                    Ask::Quit => Some(Intent::Quit),
                    Ask::TakeOver => Some(Intent::TakeOver),
                })
            }
            Popup::Why => {
                if closes || key.code == KeyCode::Char('w') {
                    Flow::Done(None)
                } else {
                    Flow::Pass
                }
            }
            Popup::Runbook => {
                let items = engine.plan().checklists.rollback.len();
                match key.code {
                    KeyCode::Char('j') | KeyCode::Down => {
                        self.runbook_cursor =
                            (self.runbook_cursor + 1).min(items.saturating_sub(1));
                        self.popup = Some(Popup::Runbook);
                        Flow::Done(None)
                    }
                    KeyCode::Char('k') | KeyCode::Up => {
                        self.runbook_cursor = self.runbook_cursor.saturating_sub(1);
                        self.popup = Some(Popup::Runbook);
                        Flow::Done(None)
                    }
                    KeyCode::Char('x') => {
                        self.popup = Some(Popup::Runbook);
                        if self.runbook_cursor < items {
                            Flow::Done(tick(engine, ListKind::Rollback, self.runbook_cursor))
                        } else {
                            Flow::Done(None)
                        }
                    }
                    KeyCode::Char('b') => Flow::Done(None),
                    _ if closes => Flow::Done(None),
                    _ => Flow::Pass,
                }
            }
        }
    }

    fn say(&mut self, text: &str) -> Option<Intent> {
        self.status = Some(Status {
            ok: false,
            text: text.to_string(),
        });
        None
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

    fn move_down(&mut self, view: &View, by: usize) {
        if self.focus == Pane::Journal {
            let last = view.journal.len().saturating_sub(1);
            self.journal_scroll = (self.journal_scroll + by).min(last);
            return;
        }
        let items = flat_items(view.engine);
        let Some(at) = self.cursor(view.engine) else {
            return;
        };
        let i = items.iter().position(|c| *c == at).unwrap_or(0);
        self.cursor = items
            .get((i + by).min(items.len().saturating_sub(1)))
            .copied();
    }

    fn move_up(&mut self, view: &View, by: usize) {
        if self.focus == Pane::Journal {
            self.journal_scroll = self.journal_scroll.saturating_sub(by);
            return;
        }
        let items = flat_items(view.engine);
        let Some(at) = self.cursor(view.engine) else {
            return;
        };
        let i = items.iter().position(|c| *c == at).unwrap_or(0);
        self.cursor = items.get(i.saturating_sub(by)).copied();
    }

    fn next_theme(&mut self) {
        if self.no_color {
            self.say("NO_COLOR is set: colours stay off");
            return;
        }
        self.theme_index = (self.theme_index + 1) % self.themes.len();
        self.theme = self.themes[self.theme_index].clone();
        self.status = Some(Status {
            ok: true,
            text: format!("theme: {}", self.theme.name),
        });
    }

    fn ask(&mut self, ask: Ask, view: &View) {
        let engine = view.engine;
        let plan = engine.plan();
        let release = format!("{} {}", plan.release.name, plan.release.version);
        let steps = &plan.rollout.steps;
        let describe = |i: usize| {
            steps
                .get(i)
                .map(|s| format!("step {}/{} {}", i + 1, steps.len(), s.label()))
                .unwrap_or_default()
        };
        let watch = format_secs(plan.rollout.watch.as_secs() as i64);
        let next = |step: usize| {
            if step + 1 < steps.len() {
                format!("→ {}", describe(step + 1))
            } else {
                format!("→ the last step is done: guardrails watch for {watch}")
            }
        };
        let yes = match (&ask, engine.phase()) {
            (Ask::Promote, Phase::Ready) => "start",
            (Ask::Promote, Phase::AwaitingApproval { .. }) => "approve",
            (Ask::Promote, _) => "promote early",
            (Ask::Rollback, _) => "roll back now",
            (Ask::SetPercent(_), _) => "apply",
            (Ask::ForceResume, _) => "",
            (Ask::Quit, _) => "quit",
            (Ask::TakeOver, _) => "take over",
        };
        let (title, lines, blockers, can_force, force_only) = match ask {
            Ask::Promote => {
                let (title, lines, blockers) = match engine.phase() {
                    Phase::Ready => {
                        let mut blockers: Vec<String> = plan
                            .pipeline
                            .iter()
                            .filter(|s| !matches!(s.source, crate::plan::StageSource::Rollout))
                            .filter(|s| {
                                !matches!(
                                    engine.stage(&s.name).map(|r| r.status),
                                    Some(
                                        crate::plan::StageStatus::Passed
                                            | crate::plan::StageStatus::Skipped
                                    )
                                )
                            })
                            .map(|s| format!("stage {} has not passed", s.name))
                            .collect();
                        blockers.extend(
                            engine
                                .open_items(ListKind::PreRelease)
                                .into_iter()
                                .map(|t| format!("pre-release: {t}")),
                        );
                        (
                            format!("Start the rollout of {release}?"),
                            vec![format!("→ {}", describe(0))],
                            blockers,
                        )
                    }
                    Phase::Baking { step } => {
                        let mut blockers = engine.blockers();
                        if let Some((have, need)) = engine.starved() {
                            blockers.push(format!("starved: {have}/{need} fresh samples"));
                        }
                        let left = engine
                            .time_left()
                            .map(|d| format_secs(d.as_secs() as i64))
                            .unwrap_or_default();
                        (
                            format!("Promote {release} early?"),
                            vec![
                                format!("{} still has {left} of bake left", describe(*step)),
                                next(*step),
                            ],
                            blockers,
                        )
                    }
                    Phase::AwaitingApproval { step } => (
                        format!("Approve {release}?"),
                        vec![
                            format!("{} baked on healthy data", describe(*step)),
                            next(*step),
                        ],
                        engine.blockers(),
                    ),
                    _ => (String::new(), Vec::new(), Vec::new()),
                };
                (title, lines, blockers, true, false)
            }
            Ask::Rollback => (
                format!("ROLL BACK {release}?"),
                vec![
                    "The flag is disabled at once: no user gets the feature.".to_string(),
                    "The rollback runbook follows; everything lands in the journal.".to_string(),
                ],
                Vec::new(),
                false,
                false,
            ),
            Ask::SetPercent(percent) => {
                let step = engine
                    .step_index()
                    .and_then(|i| steps.get(i))
                    .map(|s| format!("{} says {}%", s.name, s.percent))
                    .unwrap_or_default();
                (
                    format!("Set the rollout to {percent}%?"),
                    vec![
                        format!("Live now: {}%; {step}.", engine.exposure().percent),
                        "This overrides the step until the next promote; it is journaled."
                            .to_string(),
                    ],
                    Vec::new(),
                    false,
                    false,
                )
            }
            Ask::ForceResume => (
                "Resume past the guardrail?".to_string(),
                vec![
                    "The rollout was paused by a guardrail that still holds.".to_string(),
                    "A forced resume is journaled as forced, with your name.".to_string(),
                ],
                engine.blockers(),
                true,
                true,
            ),
            Ask::TakeOver => (
                format!("Take over {release}?"),
                vec![
                    "Its holder has stopped guarding: this screen becomes the controller,"
                        .to_string(),
                    "runs the guardrails and writes the flag. The journal records it.".to_string(),
                ],
                Vec::new(),
                false,
                false,
            ),
            Ask::Quit => (
                "Quit while the rollout is live?".to_string(),
                vec![
                    "Guardrails stop watching until shipdeck runs again;".to_string(),
                    "the state is saved (`shipdeck run PLAN --headless` keeps watching)."
                        .to_string(),
                ],
                Vec::new(),
                false,
                false,
            ),
        };
        self.popup = Some(Popup::Confirm(Confirm {
            ask,
            title,
            lines,
            blockers,
            force_only,
            can_force,
            yes,
            at: PhaseKey::of(engine),
        }));
    }
}

enum Flow {
    /// The popup consumed the key.
    Done(Option<Intent>),
    /// The popup closed; the key acts as if it were not there.
    Pass,
}

fn command(command: Command) -> Option<Intent> {
    Some(Intent::Command {
        command,
        reason: None,
    })
}

/// `x` toggles an item; items that tick themselves are refused by the engine, which says why.
fn tick(engine: &Engine, list: ListKind, item: usize) -> Option<Intent> {
    let done = engine.item_done(list, item).0;
    command(Command::Tick {
        list,
        item,
        done: !done,
    })
}

/// The checklist that matters in a phase.
pub fn phase_list(phase: &Phase) -> ListKind {
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

fn first_open(engine: &Engine, list: ListKind) -> usize {
    let n = engine.plan().checklists.list(list).len();
    (0..n).find(|i| !engine.item_done(list, *i).0).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::journal::Entry;
    use crate::engine::values::{Batch, FlagState, Outcome, Reading};
    use crate::engine::{Effect, FlagEvent, Input};
    use crate::plan::FlagKind;
    use chrono::{DateTime, TimeZone, Utc};
    use crossterm::event::KeyEvent;
    use std::collections::VecDeque;
    use std::sync::Arc;

    const PLAN: &str = r#"
release: {name: shop, version: 1.0.0, strategy: canary}
pipeline: [{name: PR, status: passed}, {name: Prod}]
flag: {name: new_shop, kind: release, backend: {kind: file, path: flags.yaml}}
rollout:
  steps:
    - {name: Canary, percent: 10, bake: 10m}
    - {name: Full, percent: 100, bake: 10m, approval: manual}
  watch: 10m
metrics:
  source: {kind: simulated, scenario: healthy, seed: 1}
  interval: 15s
  series:
    error_rate: {unit: ratio}
guardrails:
  rules:
    - {metric: error_rate, above: 1%, action: pause}
    - {metric: error_rate, above: 5%, for: 1m, action: rollback}
checklists:
  pre_release: [Code reviewed]
  release_day: [Watch error rate, Tell support]
  post_release: [Remove the flag]
  rollback: [Disable feature flag, Notify team]
"#;

    /// A real engine on a small plan, with a backend that confirms every write at once.
    struct Rig {
        engine: Engine,
        journal: VecDeque<Entry>,
        now: DateTime<Utc>,
        app: App,
    }

    impl Rig {
        fn new() -> Rig {
            let plan = crate::plan::parse(PLAN, std::path::Path::new("plan.yaml")).unwrap();
            Rig {
                engine: Engine::new(Arc::new(plan)),
                journal: VecDeque::new(),
                now: Utc.with_ymd_and_hms(2025, 3, 15, 9, 0, 0).unwrap(),
                app: App::default(),
            }
        }

        fn feed(&mut self, input: Input) -> Vec<Effect> {
            let fx = self.engine.handle(self.now, input);
            for e in &fx {
                match e {
                    Effect::Journal(j) => self.journal.push_back(j.clone()),
                    Effect::SetFlag(d) => {
                        let state = FlagState {
                            enabled: d.enabled,
                            rollout: f64::from(d.percent) / 100.0,
                            groups: d.groups.clone(),
                            kind: FlagKind::Release,
                        };
                        self.feed(Input::Flag {
                            event: FlagEvent::Confirmed { state },
                        });
                    }
                    _ => {}
                }
            }
            fx
        }

        fn samples(&mut self, n: usize, error_rate: f64) {
            for _ in 0..n {
                self.now += chrono::Duration::seconds(15);
                let batch = Batch {
                    at: self.now,
                    readings: vec![Reading {
                        series: "error_rate".into(),
                        outcome: Outcome::Value(error_rate),
                    }],
                };
                self.feed(Input::Samples { batch });
            }
        }

        fn run(&mut self, command: Command) {
            let fx = self.feed(Input::Command {
                command,
                operator: "alice".into(),
                reason: None,
            });
            assert!(
                !fx.iter().any(|e| matches!(e, Effect::Refused(_))),
                "{fx:?}"
            );
        }

        fn baking() -> Rig {
            let mut r = Rig::new();
            r.run(Command::Tick {
                list: ListKind::PreRelease,
                item: 0,
                done: true,
            });
            r.run(Command::Start { force: false });
            r.samples(4, 0.002);
            assert_eq!(r.engine.phase().badge(), "BAKING");
            r
        }

        fn press(&mut self, code: KeyCode) -> Option<Intent> {
            self.press_with(code, KeyModifiers::NONE)
        }

        fn press_with(&mut self, code: KeyCode, modifiers: KeyModifiers) -> Option<Intent> {
            let view = View::new(&self.engine, &self.journal, self.now, "alice");
            self.app.sync(&view, Rect::new(0, 0, 120, 40));
            self.app.on_key(KeyEvent::new(code, modifiers), &view)
        }

        fn sync(&mut self) {
            let view = View::new(&self.engine, &self.journal, self.now, "alice");
            self.app.sync(&view, Rect::new(0, 0, 120, 40));
        }
    }

    fn cmd(command: Command) -> Option<Intent> {
        Some(Intent::Command {
            command,
            reason: None,
        })
    }

    #[test]
    fn rollback_needs_r_then_y() {
        let mut r = Rig::baking();
        assert_eq!(r.press(KeyCode::Char('R')), None);
        assert!(matches!(r.app.popup(), Some(Popup::Confirm(c)) if c.ask == Ask::Rollback));
        assert_eq!(r.press(KeyCode::Char('y')), cmd(Command::Rollback));
        assert!(r.app.popup().is_none());
    }

    #[test]
    fn any_other_key_cancels_a_question() {
        let mut r = Rig::baking();
        for stray in [
            KeyCode::Char('R'),
            KeyCode::Char(' '),
            KeyCode::Enter,
            KeyCode::Esc,
        ] {
            r.press(KeyCode::Char('R'));
            assert_eq!(r.press(stray), None, "{stray:?} must not confirm");
            assert!(r.app.popup().is_none());
            assert!(r.app.status().is_some_and(|s| s.text.contains("cancelled")));
        }
        // Rollback offers no force: `f` cancels it too.
        r.press(KeyCode::Char('R'));
        assert_eq!(r.press(KeyCode::Char('f')), None);
    }

    #[test]
    fn promote_asks_and_can_force() {
        let mut r = Rig::baking();
        r.press(KeyCode::Char('P'));
        let Some(Popup::Confirm(c)) = r.app.popup() else {
            panic!("no question");
        };
        assert!(c.title.contains("early"), "{c:?}");
        assert!(c.lines.iter().any(|l| l.contains("Full")), "{c:?}");
        assert_eq!(
            r.press(KeyCode::Char('y')),
            cmd(Command::Promote { force: false })
        );
        r.press(KeyCode::Char('P'));
        assert_eq!(
            r.press(KeyCode::Char('f')),
            cmd(Command::Promote { force: true })
        );
    }

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
    fn a_question_lapses_when_the_release_moves_on() {
        let mut r = Rig::baking();
        r.press(KeyCode::Char('P'));
        // The bake completes and the engine promotes by itself while the question is open.
        r.samples(45, 0.002);
        assert_eq!(r.engine.step_index(), Some(1));
        assert_eq!(r.press(KeyCode::Char('y')), None, "no double promote");
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
    fn guardrail_pause_shows_why_and_resume_past_it_needs_f() {
        let mut r = Rig::baking();
        r.samples(1, 0.02);
        assert_eq!(r.engine.phase().badge(), "PAUSED");
        r.sync();
        assert_eq!(r.app.popup(), Some(&Popup::Why));
        // space closes the why and asks: the guardrail still holds.
        assert_eq!(r.press(KeyCode::Char(' ')), None);
        assert!(
            matches!(r.app.popup(), Some(Popup::Confirm(c)) if c.ask == Ask::ForceResume && !c.blockers.is_empty())
        );
        assert_eq!(r.press(KeyCode::Char('y')), None, "y does not force");
        r.press(KeyCode::Char(' '));
        assert_eq!(
            r.press(KeyCode::Char('f')),
            cmd(Command::Resume { force: true })
        );
    }

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
    fn x_toggles_the_item_under_the_cursor_and_j_k_walk_all_lists() {
        let mut r = Rig::new();
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
    fn j_k_scroll_the_journal_when_it_has_focus() {
        let mut r = Rig::baking();
        while r.app.focus() != Pane::Journal {
            r.press(KeyCode::Tab);
        }
        let n = r.journal.len();
        assert!(n >= 3);
        for _ in 0..n + 5 {
            r.press(KeyCode::Char('j'));
        }
        assert_eq!(r.app.journal_scroll(), n - 1);
        r.press(KeyCode::Char('k'));
        assert_eq!(r.app.journal_scroll(), n - 2);
        r.press(KeyCode::Home);
        assert_eq!(r.app.journal_scroll(), 0);
        r.press(KeyCode::BackTab);
        assert_eq!(r.app.focus(), Pane::Rollout);
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
        r.press(KeyCode::Char('w'));
        assert_eq!(r.app.popup(), Some(&Popup::Why));
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
