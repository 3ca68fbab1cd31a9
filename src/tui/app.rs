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
use crate::engine::{Command, Engine, PauseCause, Phase};
use crate::guardrail::format_secs;
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
    Quit,
}

/// What a confirmation popup is asking about.
#[derive(Debug, Clone, PartialEq)]
pub enum Ask {
    Promote,
    Rollback,
    SetPercent(u8),
    ForceResume,
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
                && c.ask != Ask::Quit
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
        let plan = view.engine.plan();
        let Some(areas) = layout::areas(
            area,
            view.notice.is_some() || view.follower_of.is_some(),
            self.zoomed(),
            health::rows(view),
        ) else {
            return;
        };
        let Some(rect) = areas.health else {
            return;
        };
        let width = health::spark_width(view, rect);
        for s in &plan.metrics.series {
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
                if c.at != PhaseKey::of(engine) && c.ask != Ask::Quit {
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
                .map(|s| {
                    let groups = if s.groups.is_empty() {
                        String::new()
                    } else {
                        format!(" + {}", s.groups.join(", "))
                    };
                    format!(
                        "step {}/{} {} ({}%{groups})",
                        i + 1,
                        steps.len(),
                        s.name,
                        s.percent
                    )
                })
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
