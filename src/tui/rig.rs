//! tui::rig: a real engine on a small plan and a screen's UI state, driven key by key, for
//! the unit tests of `app`, `keys`, `confirm` and `cursor`.

use chrono::{DateTime, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use std::collections::VecDeque;
use std::sync::Arc;

use super::{App, Intent, View};
use crate::engine::journal::Entry;
use crate::engine::values::FlagState;
use crate::engine::values::{Batch, Outcome, Reading};
use crate::engine::{Command, Effect, Engine, FlagEvent, Input};
use crate::plan::{FlagKind, ListKind};

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

/// The small plan with one pre-release item of each kind: by hand, a command, a stage, a
/// metric.
const AUTOMATIC: &str = r#"
release: {name: shop, version: 1.0.0, strategy: canary}
pipeline: [{name: QA, status_file: qa.json}, {name: Prod}]
flag: {name: new_shop, kind: release, backend: {kind: file, path: flags.yaml}}
rollout:
  steps:
    - {name: Canary, percent: 10, bake: 10m}
metrics:
  source: {kind: simulated, scenario: healthy, seed: 1}
  interval: 15s
  series:
    error_rate: {unit: ratio}
checklists:
  pre_release:
    - Code reviewed
    - {item: Migrations applied, check: {command: [./migrated.sh]}}
    - {item: QA signed off, stage: QA}
    - {item: Error rate normal, check: {metric: error_rate, below: 1%}}
"#;

/// A real engine on a small plan, with a backend that confirms every write at once.
pub(super) struct Rig {
    pub(super) engine: Engine,
    pub(super) journal: VecDeque<Entry>,
    pub(super) now: DateTime<Utc>,
    pub(super) app: App,
}

impl Rig {
    pub(super) fn new() -> Rig {
        Rig::of(PLAN)
    }

    /// Ready, on a plan with an automatic item of each kind, the checklist focused.
    pub(super) fn automatic() -> Rig {
        let mut r = Rig::of(AUTOMATIC);
        r.focus(super::Pane::Checklist);
        r
    }

    /// Tabs until `pane` has focus.
    pub(super) fn focus(&mut self, pane: super::Pane) {
        while self.app.focus() != pane {
            self.press(KeyCode::Tab);
        }
    }

    fn of(text: &str) -> Rig {
        let plan = crate::plan::parse(text, std::path::Path::new("plan.yaml")).unwrap();
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

    pub(super) fn samples(&mut self, n: usize, error_rate: f64) {
        for _ in 0..n {
            self.now += chrono::Duration::seconds(15);
            let batch = Batch {
                arms: Vec::new(),
                at: self.now,
                readings: vec![Reading {
                    series: "error_rate".into(),
                    outcome: Outcome::Value(error_rate),
                }],
            };
            self.feed(Input::Samples { batch });
        }
    }

    pub(super) fn run(&mut self, command: Command) {
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

    pub(super) fn baking() -> Rig {
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

    pub(super) fn press(&mut self, code: KeyCode) -> Option<Intent> {
        self.press_with(code, KeyModifiers::NONE)
    }

    pub(super) fn press_with(&mut self, code: KeyCode, modifiers: KeyModifiers) -> Option<Intent> {
        let view = View::new(&self.engine, &self.journal, self.now, "alice");
        self.app.sync(&view, Rect::new(0, 0, 120, 40));
        self.app.on_key(KeyEvent::new(code, modifiers), &view)
    }

    /// The terminal is now `width`×`height`, as a resize event says.
    pub(super) fn resize(&mut self, width: u16, height: u16) {
        self.app.resize(Rect::new(0, 0, width, height));
    }

    /// A key on a terminal left at the size of the last `resize`, not redrawn at 120×40.
    pub(super) fn press_small(&mut self, code: KeyCode) -> Option<Intent> {
        let view = View::new(&self.engine, &self.journal, self.now, "alice");
        self.app
            .on_key(KeyEvent::new(code, KeyModifiers::NONE), &view)
    }

    /// A key on a screen that follows another controller holding the release.
    pub(super) fn press_following(&mut self, code: KeyCode) -> Option<Intent> {
        let mut view = View::new(&self.engine, &self.journal, self.now, "bob");
        view.follower_of = Some("alice (headless on build-01, pid 4242, since 09:00:00Z)");
        self.app.sync(&view, Rect::new(0, 0, 120, 40));
        self.app
            .on_key(KeyEvent::new(code, KeyModifiers::NONE), &view)
    }

    pub(super) fn sync(&mut self) {
        let view = View::new(&self.engine, &self.journal, self.now, "alice");
        self.app.sync(&view, Rect::new(0, 0, 120, 40));
    }
}

/// The intent for `command` with no reason given.
pub(super) fn cmd(command: Command) -> Option<Intent> {
    Some(Intent::Command {
        command,
        reason: None,
    })
}
