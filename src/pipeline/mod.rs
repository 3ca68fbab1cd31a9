//! pipeline: the stages before Prod and the automatic checklist commands — runs command
//! stages (argv, no shell, with a timeout), watches status files, and keeps what the screen
//! shows about each (status, why, the tail of the output). Reports to the controller only
//! as `Input::Stage` / `Input::Check` messages; never decides whether the rollout may
//! start (the engine does) and never touches the flag.

pub mod checks;
pub mod command;
pub mod status_file;

use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::engine::journal::Verb;
use crate::engine::{Engine, Input, Phase};
use crate::plan::{Plan, StageSource, StageStatus};
use checks::Checks;
use command::Tail;

/// A status file is re-read this often even without a change event (a lost event, a
/// folder that did not exist yet).
const SAFETY_POLL: Duration = Duration::from_secs(5);
/// Re-read this often while the watcher cannot be set up.
const FALLBACK_POLL: Duration = Duration::from_secs(1);
/// Writers often truncate and then write: wait this long after an event before reading.
const SETTLE: Duration = Duration::from_millis(50);
/// Characters of a failing command's last output line kept in its one-line why.
const WHY_LINE: usize = 160;

/// Where a stage's status comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// Written in the plan.
    Static,
    /// A command shipdeck runs; `r` runs it again.
    Command,
    /// A JSON file someone else writes; `r` reads it again.
    StatusFile,
    /// Prod: the rollout itself (the engine's phase).
    Rollout,
    /// Not tracked: the plan declares no pipeline.
    Untracked,
}

/// The current (or last) run of a command.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// Wall-clock time the run began.
    pub started: DateTime<Utc>,
    /// `None` while it runs.
    pub elapsed: Option<Duration>,
    /// The last lines it printed, live while it runs.
    pub output: Tail,
}

/// Everything the screen shows about one stage (the detail popup).
#[derive(Debug, Clone, PartialEq)]
pub struct StageDetail {
    pub name: String,
    pub kind: SourceKind,
    /// `cargo test --quiet (timeout 15m)`, `status file qa.json`, `set in the plan`, …
    pub source: String,
    pub status: StageStatus,
    /// Why: how the command ended, what the status file says, or what is wrong with it.
    pub detail: String,
    /// A link the status file gave (a CI job, a QA report).
    pub url: Option<String>,
    pub last_run: Option<RunRecord>,
    /// Finished runs of a command, or reads of a status file.
    pub runs: u32,
}

impl StageDetail {
    /// `r` does something for this stage.
    pub fn rerunnable(&self) -> bool {
        matches!(self.kind, SourceKind::Command | SourceKind::StatusFile)
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Prod's status, from where the rollout stands.
pub(crate) fn rollout_status(phase: &Phase) -> StageStatus {
    match phase {
        Phase::Ready => StageStatus::Pending,
        Phase::Baking { .. }
        | Phase::AwaitingApproval { .. }
        | Phase::Paused { .. }
        | Phase::Watching => StageStatus::Running,
        Phase::Completed => StageStatus::Passed,
        Phase::RollingBack { .. } | Phase::RolledBack { .. } => StageStatus::Failed,
    }
}

/// The folder commands run in: the plan's own (its relative paths start there too).
pub(crate) fn plan_folder(plan: &Plan) -> PathBuf {
    crate::support::path::folder_of(&plan.path)
}

fn cut(line: &str, max: usize) -> String {
    if line.chars().count() > max {
        let mut s: String = line.chars().take(max).collect();
        s.push('…');
        s
    } else {
        line.to_string()
    }
}

/// Runs a command for a stage or a check, handing each output line to `push`. Returns
/// whether it passed and a one-line why (with the last output line when it did not).
pub async fn run_and_explain(
    argv: &[String],
    timeout: Duration,
    cwd: &Path,
    mut push: impl FnMut(String),
) -> (bool, String) {
    let mut last: Option<String> = None;
    let outcome = command::run(argv, timeout, cwd, |line| {
        if !line.trim().is_empty() {
            last = Some(line.clone());
        }
        push(line);
    })
    .await;
    let mut why = outcome.describe();
    if !outcome.passed()
        && !matches!(outcome.end, command::End::NotStarted(_))
        && let Some(l) = last
    {
        why = format!("{why}: {}", cut(l.trim(), WHY_LINE));
    }
    (outcome.passed(), why)
}

/// What a process may run for a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The controller holding the release (`open`, `run`): everything runs.
    Run,
    /// A one-off CLI command acting directly: status files are read, commands never run.
    StatusFilesOnly,
    /// A follower: nothing runs; the holder does it.
    Follow,
}

/// The stage and check adapters of one release. Dropping it stops them (a running
/// command is killed with what it started).
pub struct Runner {
    stages: Arc<Mutex<Vec<StageDetail>>>,
    /// Per stage, in plan order: where `r` asks for a re-run.
    reruns: Vec<Option<mpsc::Sender<()>>>,
    checks: Checks,
    /// Command stages that run in this process.
    commands: Vec<String>,
    /// The last status the engine was given per stage, and the checks it has results for:
    /// `settled` is judged on these, not on the board, which runs ahead of the
    /// controller's queue.
    told_stages: std::collections::BTreeMap<String, StageStatus>,
    told_checks: std::collections::BTreeSet<(crate::plan::ListKind, usize)>,
    _tasks: JoinSet<()>,
}

impl Runner {
    /// Starts the adapters for `plan` as `mode` allows.
    ///
    /// Status files are read once before this returns; their readings come back as inputs
    /// for the engine, so a command acting at once sees them.
    pub async fn start(plan: &Plan, mode: Mode, tx: mpsc::Sender<Input>) -> (Runner, Vec<Input>) {
        let commands = mode == Mode::Run;
        let elsewhere = match mode {
            Mode::Run => "starting",
            Mode::StatusFilesOnly => {
                "not run: commands run only under `shipdeck open` or `shipdeck run`"
            }
            Mode::Follow => "run by the controller holding the release",
        };
        let cwd = plan_folder(plan);
        let mut tasks = JoinSet::new();
        let mut initial = Vec::new();
        let mut details = Vec::with_capacity(plan.pipeline.len());
        for stage in &plan.pipeline {
            let (kind, source, status, detail) = match &stage.source {
                StageSource::Static(s) => (
                    SourceKind::Static,
                    "set in the plan".to_string(),
                    *s,
                    String::new(),
                ),
                StageSource::Rollout => (
                    SourceKind::Rollout,
                    "the rollout".to_string(),
                    StageStatus::Pending,
                    String::new(),
                ),
                StageSource::Untracked => (
                    SourceKind::Untracked,
                    "not tracked: the plan has no `pipeline:`".to_string(),
                    StageStatus::Skipped,
                    String::new(),
                ),
                StageSource::Command { argv, timeout } => (
                    SourceKind::Command,
                    format!(
                        "{} (timeout {})",
                        command::display(argv),
                        crate::support::fmt::duration(*timeout)
                    ),
                    StageStatus::Pending,
                    elsewhere.to_string(),
                ),
                StageSource::StatusFile(path) if mode != Mode::Follow => {
                    let r = status_file::read(path).await;
                    initial.push(Input::Stage {
                        name: stage.name.clone(),
                        status: r.status,
                        detail: r.detail.clone(),
                    });
                    details.push(StageDetail {
                        name: stage.name.clone(),
                        kind: SourceKind::StatusFile,
                        source: format!("status file {}", path.display()),
                        status: r.status,
                        detail: r.detail,
                        url: r.url,
                        last_run: None,
                        runs: 1,
                    });
                    continue;
                }
                StageSource::StatusFile(path) => (
                    SourceKind::StatusFile,
                    format!("status file {}", path.display()),
                    StageStatus::Pending,
                    elsewhere.to_string(),
                ),
            };
            details.push(StageDetail {
                name: stage.name.clone(),
                kind,
                source,
                status,
                detail,
                url: None,
                last_run: None,
                runs: 0,
            });
        }
        let board = Arc::new(Mutex::new(details));
        let mut reruns = Vec::with_capacity(plan.pipeline.len());
        for (index, stage) in plan.pipeline.iter().enumerate() {
            let (rerun, requests) = mpsc::channel(1);
            let spot = Spot {
                board: Arc::clone(&board),
                index,
                name: stage.name.clone(),
                tx: tx.clone(),
            };
            match &stage.source {
                StageSource::Command { argv, timeout } if commands => {
                    tasks.spawn(run_stage(
                        spot,
                        argv.clone(),
                        *timeout,
                        cwd.clone(),
                        requests,
                    ));
                }
                StageSource::StatusFile(path) if mode != Mode::Follow => {
                    tasks.spawn(watch_stage(spot, path.clone(), requests));
                }
                _ => {
                    reruns.push(None);
                    continue;
                }
            }
            reruns.push(Some(rerun));
        }
        let checks = Checks::start(plan, commands, elsewhere, &cwd, &tx, &mut tasks);
        let running = plan
            .pipeline
            .iter()
            .filter(|s| commands && matches!(s.source, StageSource::Command { .. }))
            .map(|s| s.name.clone())
            .collect();
        (
            Runner {
                stages: board,
                reruns,
                checks,
                commands: running,
                told_stages: Default::default(),
                told_checks: Default::default(),
                _tasks: tasks,
            },
            initial,
        )
    }

    /// Every stage in plan order; Prod's status follows `phase`.
    pub fn details(&self, phase: &Phase) -> Vec<StageDetail> {
        let mut all = lock(&self.stages).clone();
        for d in &mut all {
            if d.kind == SourceKind::Rollout {
                d.status = rollout_status(phase);
                d.detail = phase.badge().to_lowercase();
            }
        }
        all
    }

    /// An automatic checklist item's command runs.
    pub fn checks(&self) -> &Checks {
        &self.checks
    }

    /// Runs a command stage again, or reads a status file again. `Ok(what happens)` or
    /// `Err(why not)`.
    pub fn rerun(&self, name: &str) -> Result<String, String> {
        let board = lock(&self.stages);
        let Some(index) = board.iter().position(|d| d.name == name) else {
            let names: Vec<&str> = board.iter().map(|d| d.name.as_str()).collect();
            return Err(format!(
                "no stage `{name}`; the pipeline has {}",
                names.join(", ")
            ));
        };
        let d = &board[index];
        let why_not = match d.kind {
            SourceKind::Static => Some(format!(
                "{name} has a static status in the plan; change `status:` there"
            )),
            SourceKind::Rollout => Some(format!(
                "{name} is the rollout itself; it moves with promote, pause and rollback"
            )),
            SourceKind::Command if d.status == StageStatus::Running => {
                Some(format!("{name} is already running"))
            }
            _ => None,
        };
        if let Some(w) = why_not {
            return Err(w);
        }
        let Some(Some(rerun)) = self.reruns.get(index) else {
            return Err(format!("{name}: {}", d.detail));
        };
        match rerun.try_send(()) {
            // A full queue means a re-run is already asked for: the same result.
            Ok(()) | Err(mpsc::error::TrySendError::Full(())) => Ok(match d.kind {
                SourceKind::StatusFile => format!("re-reading {}", d.source),
                _ => format!("running {name} again: {}", d.source),
            }),
            Err(mpsc::error::TrySendError::Closed(())) => {
                Err(format!("{name}'s runner has stopped"))
            }
        }
    }

    /// Every stage and check adapter has a first result and no stage command is running:
    /// a headless run can ask to start now and get a fair answer.
    pub fn settled(&self) -> bool {
        let stages = self.commands.iter().all(|name| {
            matches!(
                self.told_stages.get(name),
                Some(StageStatus::Passed | StageStatus::Failed | StageStatus::Skipped)
            )
        });
        stages
            && self
                .checks
                .items()
                .iter()
                .all(|key| self.told_checks.contains(key))
    }

    /// The controller passes the engine an input: remember what the engine now knows.
    pub fn told(&mut self, input: &Input) {
        match input {
            Input::Stage { name, status, .. } => {
                self.told_stages.insert(name.clone(), *status);
            }
            Input::Check { list, item, .. } => {
                self.told_checks.insert((*list, *item));
            }
            _ => {}
        }
    }
}

/// One stage's place on the board and the way to the controller.
struct Spot {
    board: Arc<Mutex<Vec<StageDetail>>>,
    index: usize,
    name: String,
    tx: mpsc::Sender<Input>,
}

impl Spot {
    fn update(&self, f: impl FnOnce(&mut StageDetail)) {
        if let Some(d) = lock(&self.board).get_mut(self.index) {
            f(d);
        }
    }

    /// Tells the engine; false once the controller is gone.
    async fn report(&self, status: StageStatus, detail: String) -> bool {
        let input = Input::Stage {
            name: self.name.clone(),
            status,
            detail,
        };
        self.tx.send(input).await.is_ok()
    }
}

/// A command stage: runs once at start, then again on each re-run request.
async fn run_stage(
    spot: Spot,
    argv: Vec<String>,
    timeout: Duration,
    cwd: PathBuf,
    mut requests: mpsc::Receiver<()>,
) {
    loop {
        let started = Utc::now();
        let running = format!("running since {}", started.format("%H:%M:%SZ"));
        spot.update(|d| {
            d.status = StageStatus::Running;
            d.detail = running.clone();
            d.last_run = Some(RunRecord {
                started,
                elapsed: None,
                output: Tail::default(),
            });
        });
        if !spot.report(StageStatus::Running, running).await {
            return;
        }
        let begun = std::time::Instant::now();
        let (ok, why) = run_and_explain(&argv, timeout, &cwd, |line| {
            spot.update(|d| {
                if let Some(r) = &mut d.last_run {
                    r.output.push(line);
                }
            });
        })
        .await;
        let status = if ok {
            StageStatus::Passed
        } else {
            StageStatus::Failed
        };
        spot.update(|d| {
            d.status = status;
            d.detail = why.clone();
            d.runs += 1;
            if let Some(r) = &mut d.last_run {
                r.elapsed = Some(begun.elapsed());
            }
        });
        if !spot.report(status, why).await || requests.recv().await.is_none() {
            return;
        }
    }
}

/// A status-file stage: re-read on every change the watcher sees, on a slow safety poll,
/// and on request. Only a changed reading (or a requested one) goes to the engine.
async fn watch_stage(spot: Spot, path: PathBuf, mut requests: mpsc::Receiver<()>) {
    let (changed, mut events) = mpsc::channel(1);
    let mut watcher = status_file::watch(&path, changed.clone()).ok();
    let mut last = lock(&spot.board)
        .get(spot.index)
        .map(|d| status_file::Reading {
            status: d.status,
            detail: d.detail.clone(),
            url: d.url.clone(),
        });
    // Read first: the file may have changed between the runner's first read and the watch.
    let mut asked = false;
    loop {
        let reading = status_file::read(&path).await;
        if asked || last.as_ref() != Some(&reading) {
            spot.update(|d| {
                d.status = reading.status;
                d.detail = reading.detail.clone();
                d.url = reading.url.clone();
                d.runs += 1;
            });
            if !spot.report(reading.status, reading.detail.clone()).await {
                return;
            }
            last = Some(reading);
        }
        let poll = if watcher.is_some() {
            SAFETY_POLL
        } else {
            FALLBACK_POLL
        };
        asked = tokio::select! {
            e = events.recv() => {
                if e.is_none() {
                    return;
                }
                tokio::time::sleep(SETTLE).await;
                // Events during the pause are covered by the read that follows.
                while events.try_recv().is_ok() {}
                false
            }
            r = requests.recv() => {
                if r.is_none() {
                    return;
                }
                true
            }
            _ = tokio::time::sleep(poll) => {
                if watcher.is_none() {
                    watcher = status_file::watch(&path, changed.clone()).ok();
                }
                false
            }
        };
    }
}

/// A journal line for a stage or check result that changes what the release shows
/// (`stage CI failed: exit code 101 …`, `check Tests passing ticked itself`): the action
/// and the reason. `None` for a result that changes nothing.
pub(crate) fn journal_note(engine: &Engine, input: &Input) -> Option<(Verb, String)> {
    match input {
        Input::Stage {
            name,
            status,
            detail,
        } => {
            let before = engine.stage(name).map(|s| s.status);
            if before == Some(*status) || *status == StageStatus::Running {
                return None;
            }
            let word = status.word();
            let reason = if detail.is_empty() {
                format!("{name} {word}")
            } else if detail.starts_with(word) {
                // A command's why already starts with it: `passed in 3.2s`.
                format!("{name} {detail}")
            } else {
                format!("{name} {word}: {detail}")
            };
            Some((Verb::Stage, reason))
        }
        Input::Check {
            list,
            item,
            ok,
            detail,
        } => {
            let (done, _) = engine.item_done(*list, *item);
            let text = &engine.plan().checklists.list(*list).get(*item)?.text;
            let word = match (done, ok) {
                (false, true) => "ticked itself",
                (true, false) => "unticked itself",
                _ => return None,
            };
            Some((
                Verb::Check,
                format!("{}: {text} {word} ({detail})", list.title()),
            ))
        }
        _ => None,
    }
}
