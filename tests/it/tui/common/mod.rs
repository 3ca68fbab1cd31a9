//! A real engine on the test plan (`plan.yaml` beside this file), driven by scripted
//! metrics and a fixed clock, with a flag backend that confirms at once (or holds, to show
//! a rollback waiting for the backend). Every state of the release, reached the way it is
//! reached in production: through the engine's inputs.

use chrono::{DateTime, TimeZone, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use shipdeck::engine::journal::Entry;
use shipdeck::engine::values::{Batch, Outcome, Reading};
use shipdeck::engine::values::{DesiredFlag, FlagState};
use shipdeck::engine::{Command, Effect, Engine, FlagEvent, Input};
use shipdeck::plan::{FlagKind, ListKind, StageStatus};
use shipdeck::tui::{self, App, Intent, View};

pub const OPERATOR: &str = "alice";
pub const INTERVAL: Duration = Duration::from_secs(15);

/// One round of metrics. `None` is a missing sample.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub i: u64,
    pub error_rate: Option<f64>,
    pub p95: Option<f64>,
    pub cpu: Option<f64>,
    pub memory: Option<f64>,
    pub checkouts: Option<f64>,
}

impl Sample {
    /// A healthy service with a little deterministic movement.
    pub fn healthy(i: u64) -> Sample {
        let wiggle = |period: u64, step: u64| ((i * step) % period) as f64 / period as f64 - 0.5;
        Sample {
            i,
            error_rate: Some(0.0025 + 0.0012 * wiggle(11, 7)),
            p95: Some(0.31 + 0.04 * wiggle(13, 5)),
            cpu: Some(0.42 + 0.06 * wiggle(7, 3)),
            memory: Some(0.61 + 0.02 * wiggle(5, 2)),
            checkouts: Some(120.0 + 8.0 * wiggle(9, 4)),
        }
    }
}

pub struct World {
    pub engine: Engine,
    pub journal: VecDeque<Entry>,
    pub now: DateTime<Utc>,
    /// The flag backend does not answer (writes pending) while set.
    pub hold_flag: bool,
    pending: Option<DesiredFlag>,
    rounds: u64,
}

pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 15, 9, 0, 0).unwrap()
}

impl World {
    pub fn new() -> World {
        World::of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/tui/common/plan.yaml"))
    }

    /// The world of another plan file.
    pub fn of(path: &Path) -> World {
        let plan = shipdeck::plan::load(path).unwrap();
        let mut w = World {
            engine: Engine::new(Arc::new(plan)),
            journal: VecDeque::new(),
            now: start_time(),
            hold_flag: false,
            pending: None,
            rounds: 0,
        };
        w.input(Input::Flag {
            event: FlagEvent::Loaded {
                state: FlagState {
                    enabled: false,
                    rollout: 0.0,
                    groups: Vec::new(),
                    kind: FlagKind::Release,
                },
            },
        });
        w
    }

    pub fn view(&self) -> View<'_> {
        let mut v = View::new(&self.engine, &self.journal, self.now, OPERATOR);
        v.flag = "file tests/tui_common/flags.yaml".into();
        v
    }

    /// Applies an input and plays the shell's part: journal entries kept, flag writes
    /// confirmed by the backend (unless held).
    pub fn input(&mut self, input: Input) -> Vec<Effect> {
        let fx = self.engine.handle(self.now, input);
        let mut refused = Vec::new();
        for e in &fx {
            match e {
                Effect::Journal(entry) => {
                    self.journal.push_back(entry.clone());
                    if self.journal.len() > 500 {
                        self.journal.pop_front();
                    }
                }
                Effect::SetFlag(d) => self.pending = Some(d.clone()),
                Effect::Refused(why) => refused.push(why.clone()),
                Effect::Notify(_) => {}
            }
        }
        if !self.hold_flag {
            self.confirm_flag();
        }
        fx
    }

    /// The backend answers the pending write.
    pub fn confirm_flag(&mut self) {
        if let Some(d) = self.pending.take() {
            let state = FlagState {
                enabled: d.enabled,
                rollout: f64::from(d.percent) / 100.0,
                groups: d.groups.clone(),
                kind: FlagKind::Release,
            };
            self.input(Input::Flag {
                event: FlagEvent::Confirmed { state },
            });
        }
    }

    /// An operator command, answered like `Controller::command` does.
    pub fn command(&mut self, command: Command) -> Result<String, String> {
        let name = command.name();
        let fx = self.input(Input::Command {
            command,
            operator: OPERATOR.into(),
            reason: None,
        });
        if let Some(why) = fx.iter().find_map(|e| match e {
            Effect::Refused(why) => Some(why.to_string()),
            _ => None,
        }) {
            return Err(why);
        }
        Ok(format!("{name}: done"))
    }

    /// A command that must be accepted.
    pub fn must(&mut self, command: Command) {
        if let Err(why) = self.command(command) {
            panic!("refused: {why}");
        }
    }

    pub fn stage(&mut self, name: &str, status: StageStatus) {
        self.input(Input::Stage {
            name: name.into(),
            status,
            detail: String::new(),
        });
    }

    pub fn tick(&mut self, list: ListKind, item: usize) {
        self.must(Command::Tick {
            list,
            item,
            done: true,
        });
    }

    /// Metrics every 15 s for `duration`, healthy unless `weather` changes them.
    pub fn run(&mut self, duration: Duration, mut weather: impl FnMut(&mut Sample)) {
        let rounds = duration.as_secs() / INTERVAL.as_secs();
        for _ in 0..rounds {
            self.now += chrono::Duration::from_std(INTERVAL).unwrap();
            self.rounds += 1;
            let mut s = Sample::healthy(self.rounds);
            weather(&mut s);
            let reading = |series: &str, v: Option<f64>| Reading {
                series: series.into(),
                outcome: v.map_or(Outcome::NoData, Outcome::Value),
            };
            let batch = Batch {
                arms: Vec::new(),
                at: self.now,
                readings: vec![
                    reading("error_rate", s.error_rate),
                    reading("p95", s.p95),
                    reading("cpu", s.cpu),
                    reading("memory", s.memory),
                    reading("checkouts", s.checkouts),
                ],
            };
            self.input(Input::Samples { batch });
        }
    }

    pub fn healthy(&mut self, duration: Duration) {
        self.run(duration, |_| {});
    }

    /// Time passes with no samples at all (a dead source).
    pub fn silence(&mut self, duration: Duration) {
        self.now += chrono::Duration::from_std(duration).unwrap();
        self.input(Input::Tick);
    }

    pub fn badge(&self) -> &'static str {
        self.engine.phase().badge()
    }
}

pub fn mins(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

/// Plan loaded, the baseline window filled, QA still running, some pre-release items ticked.
pub fn ready() -> World {
    let mut w = World::new();
    w.healthy(mins(40));
    w.stage("QA", StageStatus::Running);
    w.tick(ListKind::PreRelease, 0);
    w.tick(ListKind::PreRelease, 3);
    assert_eq!(w.badge(), "READY");
    w
}

/// Everything before the start done, the rollout started.
fn started() -> World {
    let mut w = ready();
    w.stage("QA", StageStatus::Passed);
    w.tick(ListKind::PreRelease, 4);
    w.tick(ListKind::PreRelease, 5);
    w.must(Command::Start { force: false });
    w
}

/// Internal baked clean and waits for approval.
pub fn awaiting_approval() -> World {
    let mut w = started();
    w.healthy(mins(31));
    assert_eq!(w.badge(), "AWAITING APPROVAL");
    w
}

/// Step 3/5 (Gradual 25%) baking, with a short gap in p95 data.
pub fn baking() -> World {
    let mut w = awaiting_approval();
    w.must(Command::Promote { force: false });
    w.tick(ListKind::ReleaseDay, 0);
    w.healthy(mins(61));
    w.healthy(mins(37));
    w.run(mins(1), |s| {
        if s.i % 4 < 2 {
            s.p95 = None;
        }
    });
    w.healthy(mins(2));
    assert_eq!(w.badge(), "BAKING");
    assert_eq!(w.engine.step_index(), Some(2));
    w
}

/// The error rate climbs past 1%: the pause guardrail holds the rollout.
pub fn paused_by_guardrail() -> World {
    let mut w = baking();
    let mut k = 0.0;
    w.run(mins(2), |s| {
        k += 1.0;
        s.error_rate = Some(0.004 + 0.0013 * k);
    });
    assert_eq!(w.badge(), "PAUSED");
    w
}

/// Paused, and the error rate has been past 5% for a minute: the rollback guardrail
/// holds, and fires in 1m 15s unless the rate comes back.
pub fn rollback_coming() -> World {
    let mut w = paused_by_guardrail();
    w.run(mins(1), |s| s.error_rate = Some(0.06));
    assert_eq!(w.badge(), "PAUSED");
    w
}

/// Paused, and the error rate climbs from 1.99% to 6.60% towards the rollback limit.
pub fn climbing() -> World {
    let mut w = paused_by_guardrail();
    let mut rates = [0.0199, 0.029, 0.038, 0.047, 0.056, 0.066].into_iter();
    w.run(Duration::from_secs(6 * 15), |s| s.error_rate = rates.next());
    assert_eq!(w.badge(), "PAUSED");
    w
}

/// The error rate goes past 5% for 2 minutes: the rollback guardrail fires; the flag
/// backend has not confirmed yet.
pub fn rolling_back() -> World {
    let mut w = paused_by_guardrail();
    w.hold_flag = true;
    w.run(mins(3), |s| {
        s.error_rate = Some(0.061 + 0.002 * (s.i % 3) as f64)
    });
    assert_eq!(w.badge(), "ROLLING BACK");
    w
}

/// The backend confirmed the flag is off; the error rate recovers.
pub fn rolled_back() -> World {
    let mut w = rolling_back();
    w.hold_flag = false;
    w.confirm_flag();
    w.healthy(mins(2));
    assert_eq!(w.badge(), "ROLLED BACK");
    w
}

/// Every step baked clean and the watch ended.
pub fn completed() -> World {
    let mut w = baking();
    w.healthy(mins(60 + 121 + 121));
    assert_eq!(w.badge(), "AWAITING APPROVAL");
    w.must(Command::Promote { force: false });
    w.healthy(mins(121));
    assert_eq!(w.badge(), "COMPLETED");
    w.tick(ListKind::PostRelease, 0);
    w
}

/// Draws the world on a `width`×`height` test terminal.
pub fn screen(w: &World, app: &mut App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    let view = w.view();
    terminal.draw(|f| tui::draw(f, app, &view)).unwrap();
    terminal
}

/// Sends a key through the app, and its intent to the engine, as the event loop does.
pub fn key(w: &mut World, app: &mut App, code: crossterm::event::KeyCode) -> Option<Intent> {
    use crossterm::event::{KeyEvent, KeyModifiers};
    let modifiers = match code {
        crossterm::event::KeyCode::Char(c) if c.is_ascii_uppercase() => KeyModifiers::SHIFT,
        _ => KeyModifiers::NONE,
    };
    let intent = {
        let view = w.view();
        app.on_key(KeyEvent::new(code, modifiers), &view)
    };
    if let Some(Intent::Command { command, .. }) = &intent {
        let answer = w.command(command.clone());
        app.answer(answer);
    }
    intent
}
