//! fleet_screen: `shipdeck --store postgres` with no command — the fleet screen, and the
//! release screens it opens on the same terminal. A loader task reads the database and
//! looks for plans on this machine, off the screen's task, and hands each reading to the
//! screen over a channel; q on a release comes back to the list.

use anyhow::Result;
use chrono::Utc;
use crossterm::event::{Event, KeyCode, KeyModifiers};
use futures::StreamExt;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

use super::Cli;
use super::load::{open_database, operator};
use crate::app::options::{INVALID, screen_options};
use crate::clock::Clock;
use crate::control::{self as controller, Session};
use crate::store::postgres::{self, DbUrl};
use crate::tui::fleet::{Fleet, FleetEnding, FleetScreen, fleet_loop};
use crate::tui::{Ending, Theme, Tty, signals, stop_for};

/// How often the list is read.
const READ_EVERY: Duration = Duration::from_secs(1);
/// Plans are looked for at every this many readings (they change far less often).
const PLANS_EVERY: u32 = 5;
/// A larger YAML file is not a plan: it is passed over unread.
const PLAN_MAX_BYTES: u64 = 1 << 20;

pub(super) async fn fleet_screen(cli: &Cli) -> Result<u8> {
    let url = DbUrl::from_env()?;
    let tui = match screen_options(cli.theme.as_deref(), "shipdeck --store postgres releases") {
        Ok(t) => t,
        Err(code) => return Ok(code),
    };
    let dirs = if cli.plan_dir.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        cli.plan_dir.clone()
    };
    if let Some(d) = dirs.iter().find(|d| !d.is_dir()) {
        eprintln!(
            "--plan-dir {}: not a folder; give the folder that holds the plans (or one above them)",
            d.display()
        );
        return Ok(INVALID);
    }
    let (tx, mut rx) = watch::channel(Fleet {
        plan_dirs: dirs.clone(),
        database: url.shown().to_string(),
        ..Fleet::default()
    });
    let loader = tokio::spawn(read_fleet(url, dirs, tx));
    let theme = if tui.no_color {
        Theme::no_color()
    } else {
        tui.theme.clone()
    };
    let mut screen = FleetScreen::new(theme, &operator(cli));
    let mut tty = Tty::take()?;
    let mut warnings = Vec::new();
    let result = async {
        loop {
            let (terminal, events) = tty.parts();
            let (name, version, plan) =
                match fleet_loop(terminal, &mut screen, &mut rx, events, signals()).await? {
                    FleetEnding::Quit | FleetEnding::Signal(_) => return Ok(()),
                    FleetEnding::Open {
                        name,
                        version,
                        plan,
                    } => (name, version, plan),
                };
            let session = match open_release(cli, &plan, &name, &version).await {
                Ok(s) => s,
                Err(why) => {
                    screen.say(false, why);
                    continue;
                }
            };
            // Ctrl-C on the release screen quits everything, as it does anywhere else.
            let interrupted = Cell::new(false);
            let (terminal, events) = tty.parts();
            let events = events.inspect(|e| interrupted.set(interrupted.get() || ctrl_c(e)));
            let (ended, handle) = crate::tui::screen(terminal, events, session, &tui).await;
            match handle.stop(stop_for(&ended)).await {
                Some(warning) => {
                    screen.say(false, warning.clone());
                    if !warnings.contains(&warning) {
                        warnings.push(warning);
                    }
                }
                None => screen.say(true, format!("closed {name} {version}")),
            }
            match ended? {
                Ending::Signal(_) => return Ok(()),
                Ending::Quit if interrupted.get() => return Ok(()),
                Ending::Quit => {}
            }
        }
    }
    .await;
    loader.abort();
    drop(tty);
    for w in warnings {
        eprintln!("shipdeck: {w}");
    }
    result.map(|()| 0)
}

fn ctrl_c(event: &std::io::Result<Event>) -> bool {
    matches!(event, Ok(Event::Key(k)) if k.modifiers.contains(KeyModifiers::CONTROL)
        && matches!(k.code, KeyCode::Char('c' | 'C')))
}

/// Opens release `name` `version` from its plan at `path`, as `shipdeck --store postgres
/// open PATH` would; what went wrong, in one line for the status line.
async fn open_release(
    cli: &Cli,
    path: &Path,
    name: &str,
    version: &str,
) -> Result<Session, String> {
    let plan = crate::plan::load(path).map_err(|e| {
        let first = e.to_string().lines().next().unwrap_or_default().to_string();
        format!(
            "{first} (`shipdeck check {}` lists every problem)",
            path.display()
        )
    })?;
    // The file may have changed since it was found.
    if plan.release.name != name || plan.release.version != version {
        return Err(format!(
            "{} is now the plan of {} {}, not of {name} {version}",
            path.display(),
            plan.release.name,
            plan.release.version
        ));
    }
    let store = open_database(&plan).map_err(|e| format!("{e:#}"))?;
    let mut opts =
        controller::Options::new(operator(cli), Clock::starting(Utc::now(), 1.0), "screen");
    opts.plan_path = Some(path.to_path_buf());
    controller::open(Arc::new(plan), opts, store)
        .await
        .map_err(|e| format!("cannot open {name} {version}: {e}"))
}

/// Reads the releases every second, and looks for plans every few seconds, each in a
/// blocking task of its own; sends every reading. Ends when the screen is gone.
async fn read_fleet(url: DbUrl, dirs: Vec<PathBuf>, tx: watch::Sender<Fleet>) {
    // One reader, kept: it reconnects by itself when the database comes back.
    let reader = match tokio::task::spawn_blocking(move || postgres::Releases::open(url)).await {
        Ok(Ok(r)) => Arc::new(r),
        Ok(Err(e)) => {
            tx.send_modify(|f| f.error = Some(e.to_string()));
            return;
        }
        Err(_) => return,
    };
    let mut ticks = tokio::time::interval(READ_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n: u32 = 0;
    while !tx.is_closed() {
        ticks.tick().await;
        let r = Arc::clone(&reader);
        let read = tokio::task::spawn_blocking(move || r.list()).await;
        let plans = if n.is_multiple_of(PLANS_EVERY) {
            let d = dirs.clone();
            tokio::task::spawn_blocking(move || find_plans(&d))
                .await
                .ok()
        } else {
            None
        };
        n = n.wrapping_add(1);
        let now = Utc::now();
        tx.send_modify(|f| {
            match read {
                Ok(Ok(releases)) => {
                    f.releases = releases;
                    f.read_at = Some(now);
                    f.error = None;
                }
                Ok(Err(e)) => f.error = Some(e.to_string()),
                Err(e) => f.error = Some(format!("the reading stopped: {e}")),
            }
            if let Some(p) = plans {
                f.plans = p;
            }
        });
    }
}

/// The plans in `dirs` and one folder down (`*.yaml`, `*.yml`; hidden folders passed
/// over), by release name and version. When two name the same release, the first in the
/// order of `dirs`, then of paths, wins. A file that is not a valid plan is passed over.
fn find_plans(dirs: &[PathBuf]) -> BTreeMap<(String, String), PathBuf> {
    let mut found = BTreeMap::new();
    for dir in dirs {
        let mut files = Vec::new();
        let mut folders = Vec::new();
        list(dir, &mut files, &mut folders);
        for folder in folders {
            list(&folder, &mut files, &mut Vec::new());
        }
        files.sort();
        for file in files {
            if let Ok(plan) = crate::plan::load(&file) {
                let shown = file.strip_prefix(".").unwrap_or(&file).to_path_buf();
                found
                    .entry((plan.release.name.clone(), plan.release.version.clone()))
                    .or_insert(shown);
            }
        }
    }
    found
}

/// The YAML files and the folders right in `dir`.
fn list(dir: &Path, files: &mut Vec<PathBuf>, folders: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        let yaml = path.extension().is_some_and(|x| x == "yaml" || x == "yml");
        if meta.is_dir() {
            folders.push(path);
        } else if yaml && meta.len() <= PLAN_MAX_BYTES {
            files.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = "release: {name: NAME, version: 2.5.0, strategy: canary}
pipeline: [{name: Prod}]
flag: {name: f, kind: release, backend: {kind: file, path: flags.yaml}}
rollout: {steps: [{name: All, percent: 100, bake: 1m}]}
metrics: {source: {kind: simulated, scenario: healthy, seed: 1}, series: {error_rate: {unit: ratio}}}
";

    #[test]
    fn plans_are_found_here_and_one_folder_down_by_name_and_version() {
        let dir = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write("checkout.yaml", &PLAN.replace("NAME", "checkout-v2"));
        write("deploy/search/plan.yaml", &PLAN.replace("NAME", "search"));
        write("deploy/billing.yml", &PLAN.replace("NAME", "billing"));
        write("z/checkout.yaml", &PLAN.replace("NAME", "checkout-v2"));
        write(".hidden/plan.yaml", &PLAN.replace("NAME", "hidden"));
        write("flags.yaml", "flags: {}\n");
        let found = find_plans(&[dir.path().to_path_buf()]);
        let key = |n: &str| (n.to_string(), "2.5.0".to_string());
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[&key("checkout-v2")], dir.path().join("checkout.yaml"));
        assert_eq!(
            found[&key("billing")],
            dir.path().join("deploy/billing.yml")
        );
        // Two folders down is not looked at: a plan deep in a tree needs --plan-dir.
        let deeper = find_plans(&[dir.path().join("deploy")]);
        assert_eq!(
            deeper[&key("search")],
            dir.path().join("deploy/search/plan.yaml")
        );
    }
}
