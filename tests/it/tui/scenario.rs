//! The whole app, start to rollback: a real controller (file flag backend and file store
//! in a temporary folder, the simulated metrics source), keys and engine inputs in, a named
//! snapshot of the screen after each step. The engine clock is all but stopped, so every
//! time on screen comes from the scripted samples and the snapshots are stable.

use chrono::{DateTime, TimeZone, Utc};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use futures::StreamExt;
use ratatui::Terminal;
use ratatui::backend::{Backend, TestBackend};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

use shipdeck::clock::Clock;
use shipdeck::control::{self as controller, Controller, Message, Session};
use shipdeck::engine::Input;
use shipdeck::engine::values::{Batch, Outcome, Reading};
use shipdeck::store::FileStore;
use shipdeck::store::ReleaseStore;
use shipdeck::tui::{Flow, Intent, Screen, Theme, TuiOptions};

const PLAN: &str = r#"
release: {name: checkout-v2, version: 2.5.0, strategy: canary}
pipeline:
  - {name: PR, status: passed}
  - {name: CI, status: passed}
  - {name: QA, status: passed}
  - {name: Stage, status: passed}
  - {name: Prod}
flag: {name: new_checkout, kind: release, backend: {kind: file, path: flags.yaml}}
rollout:
  steps:
    - {name: Internal, percent: 0, groups: [internal], bake: 30m, approval: manual}
    - {name: Beta, percent: 5, groups: [beta-testers], bake: 1h}
    - {name: Full, percent: 100, bake: 1h, approval: manual}
  watch: 2h
metrics:
  source: {kind: simulated, scenario: healthy, seed: 7}
  interval: 15s
  series:
    error_rate: {unit: ratio}
    p95: {unit: seconds}
    cpu: {unit: ratio}
    memory: {unit: ratio}
guardrails:
  rules:
    - {metric: error_rate, above: 1%, action: pause}
    - {metric: error_rate, above: 5%, for: 2m, action: rollback}
    - {metric: p95, above: 2s, action: alert}
    - {metric: memory, above: 90%, action: rollback}
checklists:
  pre_release:
    - Code reviewed
    - {item: Tests passing, stage: CI}
    - Feature flag configured
    - Rollback plan ready
  release_day: [Deploy to 5% first, Check user feedback]
  post_release: [Remove feature flag]
  rollback: [Disable feature flag, Notify team, Investigate, Fix and redeploy]
"#;

const FLAGS: &str =
    "flags:\n  new_checkout: {enabled: false, rollout: 0.0, userGroups: [], kind: release}\n";

fn origin() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 15, 9, 0, 0).unwrap()
}

struct Scenario<B: Backend> {
    terminal: Terminal<B>,
    screen: Screen,
    controller: Controller,
    messages: mpsc::Receiver<Message>,
    dir: tempfile::TempDir,
    step: usize,
    samples: i64,
}

impl<B: Backend> Scenario<B>
where
    B::Error: std::fmt::Debug,
{
    async fn open(backend: B) -> Scenario<B> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("plan.yaml"), PLAN).unwrap();
        std::fs::write(dir.path().join("flags.yaml"), FLAGS).unwrap();
        let plan = shipdeck::plan::load(&dir.path().join("plan.yaml")).unwrap();
        let store: Arc<dyn ReleaseStore> =
            Arc::new(FileStore::open(&dir.path().join(".shipdeck")).unwrap());
        // A clock a billion times slower than real time: it stays at the origin.
        let clock = Clock::starting(origin(), 1e-9);
        let opts = controller::Options::new("alice".into(), clock, "screen");
        let Session {
            controller,
            messages,
        } = controller::open(Arc::new(plan), opts, store).await.unwrap();
        let screen = Screen::new(&TuiOptions {
            theme: Theme::dark(),
            no_color: false,
            keymap: Default::default(),
            settings: Default::default(),
        });
        let mut s = Scenario {
            terminal: Terminal::new(backend).unwrap(),
            screen,
            controller,
            messages,
            dir,
            step: 0,
            samples: 0,
        };
        // The backfill of the sparklines and the baseline.
        s.until("the history backfill", |c| {
            c.engine()
                .history("error_rate")
                .is_some_and(|h| h.len() > 100)
        })
        .await;
        s
    }

    /// Handles adapter messages as the event loop does until `done` holds.
    async fn until(&mut self, what: &str, done: impl Fn(&Controller) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !done(&self.controller) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.messages.recv()).await {
                Ok(Some(m)) => {
                    self.controller.handle(m);
                }
                _ => panic!("timed out waiting for {what}"),
            }
        }
    }

    fn key(&mut self, code: KeyCode) -> Flow {
        let modifiers = match code {
            KeyCode::Char(c) if c.is_ascii_uppercase() => KeyModifiers::SHIFT,
            _ => KeyModifiers::NONE,
        };
        let event = Event::Key(KeyEvent::new(code, modifiers));
        let snapshot = self.controller.snapshot();
        match self.screen.on_event(&event, &snapshot) {
            Some(Intent::Quit) => Flow::Quit,
            Some(Intent::Command { command, reason }) => {
                let answer = self.controller.command(command, reason);
                self.screen.answer(answer);
                Flow::Continue
            }
            _ => Flow::Continue,
        }
    }

    fn keys(&mut self, codes: &[KeyCode]) {
        for c in codes {
            assert_eq!(self.key(*c), Flow::Continue, "{c:?}");
        }
    }

    /// One round of metrics, fed to the controller as the metrics task would.
    fn sample(&mut self, error_rate: f64) {
        self.samples += 1;
        let at = origin() + chrono::Duration::seconds(15 * self.samples);
        let reading = |series: &str, v: f64| Reading {
            series: series.into(),
            outcome: Outcome::Value(v),
        };
        let batch = Batch {
            arms: Vec::new(),
            at,
            readings: vec![
                reading("error_rate", error_rate),
                reading("p95", 0.31),
                reading("cpu", 0.42),
                reading("memory", 0.6),
            ],
        };
        self.controller
            .handle(Message::Input(Input::Samples { batch }));
    }

    /// Draws and returns the screen, with the temporary folder's path made stable.
    fn shot(&mut self) -> String {
        let snapshot = self.controller.snapshot();
        let frame = self.screen.draw(&mut self.terminal, &snapshot).unwrap();
        let buffer = frame.buffer;
        let mut text = String::new();
        for y in 0..buffer.area.height {
            for x in 0..buffer.area.width {
                text.push_str(buffer[(x, y)].symbol());
            }
            text.push('\n');
        }
        let dir = self.dir.path().display().to_string();
        text.replace(&dir, "<tmp>")
    }

    fn snapshot(&mut self, name: &str) {
        self.step += 1;
        let text = self.shot();
        insta::assert_snapshot!(format!("{:02}_{name}", self.step), text);
    }

    fn badge(&self) -> &'static str {
        self.controller.engine().phase().badge()
    }
}

#[tokio::test]
async fn start_to_rollback() {
    let mut s = Scenario::open(TestBackend::new(120, 40)).await;
    assert_eq!(s.badge(), "READY");
    s.snapshot("ready");

    // Tick the items that are ticked by hand, in the checklist; the cursor follows the
    // first open one.
    s.keys(&[KeyCode::Tab]);
    s.keys(&[KeyCode::Char('x'); 3]);
    s.snapshot("pre_release_ticked");

    s.keys(&[KeyCode::Char('P')]);
    s.snapshot("asked_to_start");
    s.keys(&[KeyCode::Char('y')]);
    s.until("the flag write confirmed", |c| {
        c.engine().progress().confirmed
    })
    .await;
    assert_eq!(s.badge(), "BAKING");
    s.sample(0.002);
    s.snapshot("internal_baking");

    // The error rate jumps: the pause guardrail holds the rollout and explains itself.
    s.sample(0.014);
    assert_eq!(s.badge(), "PAUSED");
    s.snapshot("paused_why");

    // space asks before resuming past a guardrail that still holds; anything else cancels.
    s.keys(&[KeyCode::Char(' ')]);
    s.snapshot("asked_to_force_resume");
    s.keys(&[KeyCode::Esc]);

    // The incident commander rolls back: R, then y.
    s.keys(&[KeyCode::Char('R')]);
    s.snapshot("asked_to_roll_back");
    s.keys(&[KeyCode::Char('y')]);
    s.until("the rollback confirmed", |c| {
        c.engine().phase().badge() == "ROLLED BACK"
    })
    .await;
    s.snapshot("rolled_back_runbook");
    let flags = std::fs::read_to_string(s.dir.path().join("flags.yaml")).unwrap();
    assert!(flags.contains("enabled: false"), "{flags}");

    // The runbook's next step, ticked from the popup.
    s.keys(&[KeyCode::Char('x')]);
    s.snapshot("runbook_notify_ticked");

    // Nothing is live any more: with the runbook closed, q quits at once.
    s.keys(&[KeyCode::Esc]);
    assert_eq!(s.key(KeyCode::Char('q')), Flow::Quit);
    s.controller.settle().await;
    let journal = std::fs::read_to_string(s.dir.path().join(".shipdeck/journal.jsonl")).unwrap();
    assert!(journal.contains("\"rollback\""), "{journal}");
    assert!(journal.contains("Notify team"), "{journal}");
}

/// The event loop itself: scripted keys in, adapter messages drained, a frame drawn, and
/// out when a key quits; a signal (`stop`) ends it too.
#[tokio::test]
async fn the_event_loop_runs_keys_and_stops() {
    let s = Scenario::open(TestBackend::new(100, 30)).await;
    let key = |c: KeyCode| {
        let m = if c == KeyCode::Char('P') {
            KeyModifiers::SHIFT
        } else {
            KeyModifiers::NONE
        };
        Ok(Event::Key(KeyEvent::new(c, m)))
    };
    // Start the rollout, then quit: while it is live, q asks first.
    // Typed at a person's pace: each key sees the screen the one before it left.
    let keys = futures::stream::iter(vec![
        key(KeyCode::Tab),
        key(KeyCode::Char('x')),
        key(KeyCode::Char('x')),
        key(KeyCode::Char('x')),
        key(KeyCode::Char('P')),
        key(KeyCode::Char('y')),
        key(KeyCode::Char('q')),
        key(KeyCode::Char('y')),
    ])
    .then(|k| async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        k
    });
    let keys = Box::pin(keys);
    let Scenario {
        mut terminal,
        mut screen,
        controller,
        messages,
        ..
    } = s;
    let handle = shipdeck::control::driver::spawn(Session {
        controller,
        messages,
    });
    shipdeck::tui::run_loop(
        &mut terminal,
        &mut screen,
        &handle,
        keys,
        std::future::pending(),
    )
    .await
    .unwrap();
    // The loop sends commands without waiting; the controller takes them in order.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while handle.snapshot().engine.phase().badge() != "BAKING"
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(handle.snapshot().engine.phase().badge(), "BAKING");
    let frame = screen.draw(&mut terminal, &handle.snapshot()).unwrap();
    let buffer = frame.buffer;
    let text: String = (0..buffer.area.height)
        .flat_map(|y| (0..buffer.area.width).map(move |x| (x, y)))
        .map(|(x, y)| buffer[(x, y)].symbol().to_string())
        .collect();
    assert!(text.contains("● BAKING"), "{text}");

    // A signal ends the loop with nothing pressed.
    tokio::time::timeout(
        Duration::from_secs(5),
        shipdeck::tui::run_loop(
            &mut terminal,
            &mut screen,
            &handle,
            futures::stream::pending(),
            std::future::ready(shipdeck::control::Stop::Interrupt),
        ),
    )
    .await
    .expect("stop ends the loop")
    .unwrap();
    handle.stop(shipdeck::control::Stop::Interrupt).await;
}
