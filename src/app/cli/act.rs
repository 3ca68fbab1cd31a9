//! act: `promote`, `pause`, `resume`, `rollback` and `tick`. A command goes to the
//! controller holding the release, or with none, this process takes the lock and carries
//! it out itself. Decides nothing: the engine accepts or refuses every command.

use anyhow::Result;
use std::time::Duration;

use super::Cli;
use super::args::{ActArgs, TickArgs};
use super::load::{load_plan, open_store, operator};
use crate::app::options::INVALID;
use crate::clock::Clock;
use crate::control::driver::{self, Handle};
use crate::control::{self as controller, Notice, Snapshot, Stop};
use crate::engine::Command;

/// A command from this terminal: the holder carries it out through the inbox, or, with
/// nobody holding the release, this process takes the lock and acts directly.
pub(super) async fn act(cli: &Cli, args: &ActArgs, command: Command) -> Result<u8> {
    let plan = match load_plan(&args.plan) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let store = open_store(cli, &plan)?;
    let mut opts = controller::Options::new(operator(cli), Clock::live(), "command");
    opts.plan_path = Some(args.plan.clone());
    let session = controller::open(plan, opts, store).await?;
    let holder = session.controller.follower_of();
    let handle = driver::spawn(session);
    let result = match holder {
        None => act_directly(&handle, command, args.reason.clone()).await,
        Some(holder) => forward(&handle, command, args.reason.clone(), &holder).await,
    };
    handle.stop(Stop::Finished).await;
    match result {
        Ok(m) => {
            out!("{m}");
            Ok(0)
        }
        Err(m) => {
            eprintln!("{m}");
            Ok(1)
        }
    }
}

/// `shipdeck tick`: finds the item from what was typed, then acts like `promote` does.
pub(super) async fn tick(cli: &Cli, args: &TickArgs) -> Result<u8> {
    let plan = match load_plan(&args.plan) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let (list, item) =
        match crate::pipeline::checks::find_item(&plan.checklists, &args.item, args.list) {
            Ok(found) => found,
            Err(e) => {
                eprintln!("{e}");
                return Ok(INVALID);
            }
        };
    if let Some(it) = plan.checklists.list(list).get(item)
        && let Some(check) = &it.check
    {
        eprintln!(
            "\"{}\" ticks itself ({}); it cannot be ticked by hand",
            it.text,
            crate::pipeline::checks::describe_check(check)
        );
        return Ok(1);
    }
    let act_args = ActArgs {
        plan: args.plan.clone(),
        reason: args.reason.clone(),
        force: false,
    };
    let done = !args.undo;
    act(cli, &act_args, Command::Tick { list, item, done }).await
}

/// What the command came to, in words for the terminal.
type Said = Result<String, String>;

async fn act_directly(handle: &Handle, command: Command, reason: Option<String>) -> Said {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut snapshots = handle.watch();
    // The baseline and the guardrails need the recent history first.
    wait_until(&mut snapshots, deadline, |s| s.history_in).await;
    let answer = handle
        .command(command, reason)
        .await
        .map_err(|r| r.to_string())?;
    let confirmed = wait_until(&mut snapshots, deadline, |s| {
        s.engine.progress().confirmed_or_idle()
    })
    .await;
    if !confirmed {
        let why = handle
            .snapshot()
            .notice
            .as_ref()
            .map_or_else(|| "no answer".to_string(), ToString::to_string);
        return Err(format!(
            "{answer}; the flag backend has not confirmed yet ({why}) — run the command again or check the backend"
        ));
    }
    Ok(answer)
}

/// Hands the command to the holder and waits for its answer.
async fn forward(handle: &Handle, command: Command, reason: Option<String>, holder: &str) -> Said {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(12);
    let mut snapshots = handle.watch();
    handle
        .command(command, reason)
        .await
        .map_err(|r| r.to_string())?;
    let answered = |s: &Snapshot| matches!(s.notice, Some(Notice::Answered { .. }));
    if !wait_until(&mut snapshots, deadline, answered).await {
        return Err("no answer from the controller holding the release".into());
    }
    match handle.snapshot().notice.clone() {
        Some(Notice::Answered { ok: true, message }) => {
            Ok(format!("{message} (carried out by {holder})"))
        }
        Some(Notice::Answered { ok: false, message }) => Err(message),
        _ => Err("no answer from the controller holding the release".into()),
    }
}

/// Waits until a snapshot satisfies `done`; `false` at the deadline.
async fn wait_until(
    snapshots: &mut tokio::sync::watch::Receiver<std::sync::Arc<Snapshot>>,
    deadline: tokio::time::Instant,
    done: impl Fn(&Snapshot) -> bool,
) -> bool {
    loop {
        if done(&snapshots.borrow_and_update()) {
            return true;
        }
        match tokio::time::timeout_at(deadline, snapshots.changed()).await {
            Ok(Ok(())) => {}
            _ => return false,
        }
    }
}
