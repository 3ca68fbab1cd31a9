//! pipeline::checks: the automatic checklist items' commands (`check: {command}`, run at start and every
//! minute of real time) and finding an item from what a person typed (`shipdeck tick`).
//! Never ticks anything itself: a hand tick is an engine command, a command's result an
//! `Input::Check`; metric and stage items are judged inside the engine.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::command::{self, Tail};
use super::{RunRecord, lock, run_and_explain};
use crate::engine::Input;
use crate::plan::{Check, Checklists, ListKind, Plan};

/// A command check runs again this long (real time) after its last run ended.
pub(crate) const CHECK_EVERY: Duration = Duration::from_secs(60);

/// What the screen shows about one automatic command item.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckDetail {
    pub list: ListKind,
    pub item: usize,
    pub text: String,
    /// `cargo test --quiet (timeout 15m)`.
    pub source: String,
    /// `None` until the first run ends.
    pub ok: Option<bool>,
    pub running: bool,
    /// How the last run ended (with its last output line when it failed).
    pub detail: String,
    pub last_run: Option<RunRecord>,
    pub runs: u32,
}

/// The running command checks of one release.
pub struct Checks {
    board: Arc<Mutex<Vec<CheckDetail>>>,
    /// Parallel to the board; `None` when commands do not run in this process.
    reruns: Vec<Option<mpsc::Sender<()>>>,
}

impl Checks {
    /// Spawns one task per command item onto `tasks`; with `commands` false nothing runs
    /// and each item says `elsewhere`.
    pub(crate) fn start(
        plan: &Plan,
        commands: bool,
        elsewhere: &str,
        cwd: &Path,
        tx: &mpsc::Sender<Input>,
        tasks: &mut JoinSet<()>,
    ) -> Checks {
        let mut board = Vec::new();
        let mut jobs = Vec::new();
        for list in ListKind::ALL {
            for (item, it) in plan.checklists.list(list).iter().enumerate() {
                let Some(Check::Command { argv, timeout }) = &it.check else {
                    continue;
                };
                board.push(CheckDetail {
                    list,
                    item,
                    text: it.text.clone(),
                    source: format!(
                        "{} (timeout {})",
                        command::display(argv),
                        crate::support::fmt::duration(*timeout)
                    ),
                    ok: None,
                    running: false,
                    detail: if commands {
                        "not run yet".into()
                    } else {
                        elsewhere.to_string()
                    },
                    last_run: None,
                    runs: 0,
                });
                jobs.push((argv.clone(), *timeout));
            }
        }
        let board = Arc::new(Mutex::new(board));
        let mut reruns = Vec::with_capacity(jobs.len());
        for (index, (argv, timeout)) in jobs.into_iter().enumerate() {
            if !commands {
                reruns.push(None);
                continue;
            }
            let (rerun, requests) = mpsc::channel(1);
            reruns.push(Some(rerun));
            tasks.spawn(run_check(
                Arc::clone(&board),
                index,
                argv,
                timeout,
                cwd.to_path_buf(),
                tx.clone(),
                requests,
            ));
        }
        Checks { board, reruns }
    }

    /// Every command item, in list order.
    pub fn details(&self) -> Vec<CheckDetail> {
        lock(&self.board).clone()
    }

    /// Runs an item's command now instead of at its next minute.
    pub fn rerun(&self, list: ListKind, item: usize) -> Result<String, String> {
        let board = lock(&self.board);
        let Some(index) = board.iter().position(|d| d.list == list && d.item == item) else {
            return Err(format!(
                "{} item {} has no command to run",
                list.title(),
                item + 1
            ));
        };
        let d = &board[index];
        if d.running {
            return Err(format!("\"{}\" is already running", d.text));
        }
        match self.reruns.get(index) {
            Some(Some(tx)) => match tx.try_send(()) {
                Ok(()) | Err(mpsc::error::TrySendError::Full(())) => {
                    Ok(format!("checking \"{}\" now: {}", d.text, d.source))
                }
                Err(mpsc::error::TrySendError::Closed(())) => {
                    Err(format!("the check of \"{}\" has stopped", d.text))
                }
            },
            _ => Err(format!("\"{}\": {}", d.text, d.detail)),
        }
    }

    /// The items whose command runs in this process.
    pub(crate) fn items(&self) -> Vec<(ListKind, usize)> {
        lock(&self.board)
            .iter()
            .zip(&self.reruns)
            .filter(|(_, r)| r.is_some())
            .map(|(d, _)| (d.list, d.item))
            .collect()
    }
}

fn update(board: &Mutex<Vec<CheckDetail>>, index: usize, f: impl FnOnce(&mut CheckDetail)) {
    if let Some(d) = lock(board).get_mut(index) {
        f(d);
    }
}

async fn run_check(
    board: Arc<Mutex<Vec<CheckDetail>>>,
    index: usize,
    argv: Vec<String>,
    timeout: Duration,
    cwd: PathBuf,
    tx: mpsc::Sender<Input>,
    mut requests: mpsc::Receiver<()>,
) {
    let Some((list, item)) = lock(&board).get(index).map(|d| (d.list, d.item)) else {
        return;
    };
    loop {
        let started = chrono::Utc::now();
        update(&board, index, |d| {
            d.running = true;
            d.last_run = Some(RunRecord {
                started,
                elapsed: None,
                output: Tail::default(),
            });
        });
        let begun = std::time::Instant::now();
        let (ok, why) = run_and_explain(&argv, timeout, &cwd, |line| {
            update(&board, index, |d| {
                if let Some(r) = &mut d.last_run {
                    r.output.push(line);
                }
            });
        })
        .await;
        update(&board, index, |d| {
            d.running = false;
            d.ok = Some(ok);
            d.detail = why.clone();
            d.runs += 1;
            if let Some(r) = &mut d.last_run {
                r.elapsed = Some(begun.elapsed());
            }
        });
        let input = Input::Check {
            list,
            item,
            ok,
            detail: why,
        };
        if tx.send(input).await.is_err() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(CHECK_EVERY) => {}
            r = requests.recv() => if r.is_none() { return },
        }
    }
}

/// How an automatic item checks itself, for messages: `command cargo test`,
/// `metric error_rate`, `stage QA`.
pub(crate) fn describe_check(check: &Check) -> String {
    match check {
        Check::Command { argv, .. } => format!("command `{}`", command::display(argv)),
        Check::Metric { metric, .. } => format!("metric {metric}"),
        Check::Stage(name) => format!("stage {name}"),
    }
}

/// A list by the name a person types: `pre-release`, `release_day`, `Post release`, …
pub(crate) fn parse_list(s: &str) -> Result<ListKind, String> {
    let key: String = s
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect::<String>()
        .to_lowercase();
    match key.as_str() {
        "prerelease" | "pre" => Ok(ListKind::PreRelease),
        "releaseday" | "duringrelease" | "day" => Ok(ListKind::ReleaseDay),
        "postrelease" | "post" => Ok(ListKind::PostRelease),
        "rollback" => Ok(ListKind::Rollback),
        _ => Err(format!(
            "unknown checklist `{s}`; use pre-release, release-day, post-release or rollback"
        )),
    }
}

/// Why an item could not be found from what was typed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum ItemError {
    #[error("no checklist item matches \"{query}\"\n  hint: {hint}")]
    NotFound { query: String, hint: String },
    #[error(
        "\"{query}\" matches {} items: {}\n  hint: type more of the item's text, or name its list with --list",
        .matches.len(),
        .matches.iter().map(|(l, t)| format!("\"{t}\" ({})", l.title().to_lowercase())).collect::<Vec<_>>().join(", ")
    )]
    Ambiguous {
        query: String,
        matches: Vec<(ListKind, String)>,
    },
}

fn normal(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The item `query` names: the same text in any case, or else the one item it is a prefix
/// of; across every list, or only `only`.
pub(crate) fn find_item(
    lists: &Checklists,
    query: &str,
    only: Option<ListKind>,
) -> Result<(ListKind, usize), ItemError> {
    let q = normal(query);
    let items: Vec<(ListKind, usize, &str)> = ListKind::ALL
        .into_iter()
        .filter(|l| only.is_none_or(|o| o == *l))
        .flat_map(|l| {
            lists
                .list(l)
                .iter()
                .enumerate()
                .map(move |(i, it)| (l, i, it.text.as_str()))
        })
        .collect();
    let pick = |hits: Vec<&(ListKind, usize, &str)>| match hits.as_slice() {
        [] => None,
        [(l, i, _)] => Some(Ok((*l, *i))),
        many => Some(Err(ItemError::Ambiguous {
            query: query.to_string(),
            matches: many.iter().map(|(l, _, t)| (*l, t.to_string())).collect(),
        })),
    };
    if q.is_empty() {
        return Err(ItemError::NotFound {
            query: query.to_string(),
            hint: "give the item's text, like \"Code reviewed\"".into(),
        });
    }
    let exact = items.iter().filter(|(_, _, t)| normal(t) == q).collect();
    if let Some(found) = pick(exact) {
        return found;
    }
    let prefix = items
        .iter()
        .filter(|(_, _, t)| normal(t).starts_with(&q))
        .collect();
    if let Some(found) = pick(prefix) {
        return found;
    }
    let where_ = only
        .map(|l| format!(" in {}", l.title().to_lowercase()))
        .unwrap_or_default();
    let near = crate::support::suggest::closest_phrase(query, &items, |(_, _, t)| t);
    let hint = match near {
        Some((l, _, t)) => format!("did you mean \"{t}\" ({})?", l.title().to_lowercase()),
        None if items.is_empty() => format!("the plan has no checklist items{where_}"),
        None => {
            let mut names: Vec<String> = items
                .iter()
                .take(12)
                .map(|(_, _, t)| format!("\"{t}\""))
                .collect();
            if items.len() > 12 {
                names.push(format!("and {} more", items.len() - 12));
            }
            format!("the items{where_} are {}", names.join(", "))
        }
    };
    Err(ItemError::NotFound {
        query: query.to_string(),
        hint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Item, default_checklists};

    #[test]
    fn exact_text_in_any_case_wins() {
        let c = default_checklists();
        assert_eq!(
            find_item(&c, "code REVIEWED", None),
            Ok((ListKind::PreRelease, 0))
        );
        assert_eq!(
            find_item(&c, "  investigate ", None),
            Ok((ListKind::Rollback, 3))
        );
    }

    #[test]
    fn a_unique_prefix_is_enough_and_a_shared_one_is_refused() {
        let c = default_checklists();
        assert_eq!(
            find_item(&c, "staging", None),
            Ok((ListKind::PreRelease, 2))
        );
        match find_item(&c, "monitor", None) {
            Err(e @ ItemError::Ambiguous { .. }) => {
                let text = e.to_string();
                assert!(
                    text.contains("\"Monitor performance\" (release day)"),
                    "{text}"
                );
                assert!(
                    text.contains("\"Monitor for 24 hours\" (post-release)"),
                    "{text}"
                );
                assert!(text.contains("Monitoring alerts set"), "{text}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            find_item(&c, "monitor for", None),
            Ok((ListKind::PostRelease, 0))
        );
    }

    #[test]
    fn the_list_option_narrows_the_search() {
        let mut c = default_checklists();
        c.release_day.push(Item {
            text: "Notify team".into(),
            check: None,
        });
        assert!(matches!(
            find_item(&c, "notify team", None),
            Err(ItemError::Ambiguous { .. })
        ));
        assert_eq!(
            find_item(&c, "notify team", Some(ListKind::Rollback)),
            Ok((ListKind::Rollback, 1))
        );
    }

    #[test]
    fn a_typo_gets_a_suggestion() {
        let c = default_checklists();
        let e = find_item(&c, "Code reviewd", None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no checklist item matches \"Code reviewd\"\n  hint: did you mean \"Code reviewed\" (pre-release)?"
        );
        let e = find_item(&c, "zzz", Some(ListKind::Rollback)).unwrap_err();
        assert!(
            e.to_string()
                .contains("the items in rollback are \"Disable feature flag\""),
            "{e}"
        );
    }

    #[test]
    fn list_names_are_forgiving() {
        assert_eq!(parse_list("pre-release"), Ok(ListKind::PreRelease));
        assert_eq!(parse_list("Release_Day"), Ok(ListKind::ReleaseDay));
        assert_eq!(parse_list("post release"), Ok(ListKind::PostRelease));
        assert!(
            parse_list("after")
                .unwrap_err()
                .contains("pre-release, release-day")
        );
    }
}
