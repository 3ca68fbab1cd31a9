//! The details popup behind `enter` in the checklist, drawn from what the controller
//! publishes: a command item's source, status, why, runs and output; a stage item's
//! status file and link; who ticked a hand item; and on a follower, where the runs are.

use chrono::{DateTime, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use shipdeck::engine::journal::Entry;
use shipdeck::engine::{Command, Effect, Engine, Input};
use shipdeck::pipeline::checks::CheckDetail;
use shipdeck::pipeline::command::Tail;
use shipdeck::pipeline::{RunRecord, SourceKind, StageDetail};
use shipdeck::plan::{ListKind, StageStatus};
use shipdeck::tui::{self, App, View};

const PLAN: &str = r#"
release: {name: checkout, version: 3.1.0, strategy: canary}
pipeline:
  - {name: PR, status: passed}
  - {name: QA, status_file: qa.json}
  - {name: Prod}
flag:
  name: new_checkout
  backend: {kind: file, path: flags.yaml}
rollout:
  steps:
    - {name: Beta, percent: 5, bake: 10m}
metrics:
  source: {kind: simulated, scenario: healthy}
  interval: 15s
  series:
    error_rate: {unit: ratio}
checklists:
  pre_release:
    - Code reviewed
    - {item: Migrations applied, check: {command: [./migrate, --check], timeout: 10s}}
    - {item: QA signed off, stage: QA}
"#;

fn at(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 15, 9, 0, 0).unwrap() + chrono::Duration::seconds(secs)
}

/// A release as the controller would publish it: the engine with what the adapters
/// reported, and the pipeline's details of the command check and the stages.
struct Release {
    engine: Engine,
    journal: VecDeque<Entry>,
    checks: Vec<CheckDetail>,
    stages: Vec<StageDetail>,
}

impl Release {
    fn new() -> Release {
        let plan = shipdeck::plan::parse(PLAN, std::path::Path::new("plan.yaml")).unwrap();
        let mut r = Release {
            engine: Engine::new(Arc::new(plan)),
            journal: VecDeque::new(),
            checks: Vec::new(),
            stages: Vec::new(),
        };
        let why = "exit code 1 after 2.1s: migration 42 pending";
        r.input(
            at(0),
            Input::Command {
                command: Command::Tick {
                    list: ListKind::PreRelease,
                    item: 0,
                    done: true,
                },
                operator: "alice".into(),
                reason: None,
            },
        );
        r.input(
            at(5),
            Input::Check {
                list: ListKind::PreRelease,
                item: 1,
                ok: false,
                detail: why.into(),
            },
        );
        r.input(
            at(6),
            Input::Stage {
                name: "QA".into(),
                status: StageStatus::Passed,
                detail: "signed off by dana".into(),
            },
        );
        let mut output = Tail::default();
        for line in [
            "checking schema against db-main",
            "migration 40 applied",
            "migration 41 applied",
            "migration 42 pending",
        ] {
            output.push(line.into());
        }
        r.checks.push(CheckDetail {
            list: ListKind::PreRelease,
            item: 1,
            text: "Migrations applied".into(),
            source: "./migrate --check (timeout 10s)".into(),
            ok: Some(false),
            running: false,
            detail: why.into(),
            last_run: Some(RunRecord {
                started: at(3),
                elapsed: Some(Duration::from_millis(2100)),
                output,
            }),
            runs: 3,
        });
        let stage = |name: &str, kind, source: &str, status, detail: &str| StageDetail {
            name: name.into(),
            kind,
            source: source.into(),
            status,
            detail: detail.into(),
            url: None,
            last_run: None,
            runs: 0,
        };
        r.stages = vec![
            stage(
                "PR",
                SourceKind::Static,
                "set in the plan",
                StageStatus::Passed,
                "",
            ),
            StageDetail {
                url: Some("https://qa.example.com/runs/318".into()),
                runs: 2,
                ..stage(
                    "QA",
                    SourceKind::StatusFile,
                    "status file qa.json",
                    StageStatus::Passed,
                    "signed off by dana",
                )
            },
            stage(
                "Prod",
                SourceKind::Rollout,
                "the rollout",
                StageStatus::Pending,
                "ready",
            ),
        ];
        r
    }

    fn input(&mut self, now: DateTime<Utc>, input: Input) {
        for e in self.engine.handle(now, input) {
            if let Effect::Journal(entry) = e {
                self.journal.push_back(entry);
            }
        }
    }

    fn view(&self) -> View<'_> {
        let mut v = View::new(&self.engine, &self.journal, at(10), "alice");
        v.flag = "file flags.yaml".into();
        v.checks = &self.checks;
        v.stages = &self.stages;
        v
    }
}

fn press(app: &mut App, view: &View, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE), view);
}

/// The screen with the details of pre-release item `item` open (the checklist focused,
/// the cursor moved there from the first item, enter).
fn details(view: &View, item: usize, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut app = App::default();
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| tui::draw(f, &mut app, view)).unwrap();
    press(&mut app, view, KeyCode::Tab);
    for _ in 0..3 {
        press(&mut app, view, KeyCode::Char('k'));
    }
    for _ in 0..item {
        press(&mut app, view, KeyCode::Char('j'));
    }
    press(&mut app, view, KeyCode::Enter);
    terminal.draw(|f| tui::draw(f, &mut app, view)).unwrap();
    terminal
}

#[test]
fn a_command_items_details_show_its_command_result_runs_and_output() {
    let release = Release::new();
    let t = details(&release.view(), 1, 100, 32);
    let text = t.backend().to_string();
    assert!(text.contains("Migrations applied (pre-release)"), "{text}");
    assert!(
        text.contains("command ./migrate --check (timeout 10s)"),
        "{text}"
    );
    assert!(text.contains("✗ failed"), "{text}");
    assert!(text.contains("migration 42 pending"), "{text}");
    assert!(
        text.contains("3 · the last began 09:00:03Z and took 2s"),
        "{text}"
    );
    assert!(text.contains("the 4 lines it printed:"), "{text}");
    assert!(text.contains("r run now"), "{text}");
    insta::assert_snapshot!("details_command_item", t.backend());
}

#[test]
fn a_small_terminal_keeps_the_newest_output_and_the_keys() {
    let mut release = Release::new();
    let mut output = Tail::default();
    for i in 1..=30 {
        output.push(format!("line {i}"));
    }
    release.checks[0].last_run.as_mut().unwrap().output = output;
    let text = details(&release.view(), 1, 80, 24).backend().to_string();
    assert!(
        text.contains("the last 12 of 30 lines it printed:"),
        "{text}"
    );
    assert!(
        text.contains("line 19") && text.contains("line 30"),
        "{text}"
    );
    assert!(
        !text.contains("line 18"),
        "the oldest lines give way: {text}"
    );
    assert!(text.contains("esc close"), "{text}");
}

#[test]
fn a_stage_items_details_show_its_status_file_link_and_reads() {
    let release = Release::new();
    let text = details(&release.view(), 2, 100, 32).backend().to_string();
    assert!(text.contains("QA signed off (pre-release)"), "{text}");
    assert!(text.contains("source   status file qa.json"), "{text}");
    assert!(text.contains("✓ passed"), "{text}");
    assert!(text.contains("signed off by dana"), "{text}");
    assert!(text.contains("https://qa.example.com/runs/318"), "{text}");
    assert!(text.contains("reads    2"), "{text}");
    assert!(text.contains("r read again"), "{text}");
}

#[test]
fn a_hand_items_details_name_who_ticked_it() {
    let release = Release::new();
    let text = details(&release.view(), 0, 100, 32).backend().to_string();
    assert!(text.contains("[x] ticked by alice at 09:00:00"), "{text}");
    assert!(text.contains("by hand: x ticks and unticks it"), "{text}");
    assert!(!text.contains("r run"), "nothing to run: {text}");
}

#[test]
fn on_a_follower_the_runs_are_on_the_holders_screen_and_r_is_not_offered() {
    let mut release = Release::new();
    // A follower's pipeline runs nothing: the engine has the holder's result.
    let c = &mut release.checks[0];
    (c.ok, c.last_run, c.runs) = (None, None, 0);
    c.detail = "run by the controller holding the release".into();
    let mut view = release.view();
    view.follower_of = Some("carol (screen on build-01, pid 4242, since 09:00:00Z)");
    let text = details(&view, 1, 100, 32).backend().to_string();
    assert!(text.contains("on the holder's screen: carol"), "{text}");
    assert!(text.contains("by the holder: at start"), "{text}");
    assert!(
        text.contains("migration 42 pending"),
        "the holder's why: {text}"
    );
    assert!(!text.contains("r run now"), "{text}");
}
