//! act: `promote`, `pause`, `resume`, `rollback`, `tick` and `note`. A command goes to the
//! controller holding the release, or with none, this process takes the lock and carries
//! it out itself. Decides nothing: the engine accepts or refuses every command.

use anyhow::Result;
use std::path::Path;
use std::time::Duration;

use super::Cli;
use super::args::{ActArgs, NoteArgs, TickArgs};
use super::load::{load_plan, open_release, open_store, operator};
use crate::app::headless::NEEDS_HUMAN;
use crate::app::options::INVALID;
use crate::clock::Clock;
use crate::control::driver::{self, Handle};
use crate::control::{self as controller, Notice, Refused, Snapshot, Stop};
use crate::engine::{Command, Phase, Refusal};
use crate::support::fmt;

/// A command from this terminal: the holder carries it out through the inbox, or, with
/// nobody holding the release, this process takes the lock and acts directly.
pub(super) async fn act(cli: &Cli, args: &ActArgs, command: Command) -> Result<u8> {
    let plan = match load_plan(args.plan.as_deref(), command.name()) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let path = plan.path.clone();
    let store = open_store(cli, &plan)?;
    let mut opts = controller::Options::new(operator(cli), Clock::live(), "command");
    opts.plan_path = Some(path.clone());
    let session = match open_release(plan, opts, store).await? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let holder = session.controller.follower_of();
    let handle = driver::spawn(session);
    let asked = Asked {
        command,
        reason: args.reason.clone(),
        wait: args.wait,
    };
    let outcome = match holder {
        None => act_directly(&handle, asked).await,
        Some(holder) => forward(&handle, asked, holder).await,
    };
    handle.stop(Stop::Finished).await;
    Ok(outcome.report(&path))
}

/// `shipdeck tick`: finds the item from what was typed, then acts like `promote` does.
pub(super) async fn tick(cli: &Cli, args: &TickArgs) -> Result<u8> {
    let plan = match load_plan(args.plan.as_deref(), "tick") {
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
        plan: Some(plan.path.clone()),
        reason: args.reason.clone(),
        force: false,
        // A tick moves no flag: this waits only for a write already pending.
        wait: Duration::from_secs(10),
    };
    let done = !args.undo;
    act(cli, &act_args, Command::Tick { list, item, done }).await
}

/// `shipdeck note`: a note from the room, carried like any other command.
pub(super) async fn note(cli: &Cli, args: &NoteArgs) -> Result<u8> {
    let act_args = ActArgs {
        plan: args.plan.clone(),
        reason: None,
        force: false,
        // A note moves no flag: this waits only for a write already pending.
        wait: Duration::from_secs(10),
    };
    let text = args.text.clone();
    act(cli, &act_args, Command::Note { text }).await
}

/// A command as this terminal asked it.
struct Asked {
    command: Command,
    reason: Option<String>,
    /// How long the backend may take to confirm the flag once the command is carried out.
    wait: Duration,
}

/// What a command came to. Each kind is its own exit code: done (0), refused (1), or
/// taken but with the flag not yet confirmed (4, a human is needed).
#[derive(Debug)]
enum Outcome {
    /// Carried out; a flag change read back from the backend.
    Done(String),
    /// Not carried out, and why.
    Refused(String),
    /// Carried out, but the backend had not confirmed the flag when the wait ran out.
    Unconfirmed {
        /// What was done, in the engine's words.
        done: String,
        rollback: bool,
        /// Why the flag is not confirmed.
        why: String,
        /// Who goes on writing it: the holder, or nobody once this command exits.
        retrier: Option<String>,
    },
}

impl Outcome {
    /// Says what is true and returns the exit code.
    fn report(&self, plan: &Path) -> u8 {
        match self {
            Outcome::Done(m) => {
                out!("{m}");
                0
            }
            Outcome::Refused(m) => {
                eprintln!("{m}");
                1
            }
            Outcome::Unconfirmed { .. } => {
                eprintln!("{}", self.unconfirmed_words(plan));
                NEEDS_HUMAN
            }
        }
    }

    fn unconfirmed_words(&self, plan: &Path) -> String {
        let Outcome::Unconfirmed {
            done,
            rollback,
            why,
            retrier,
        } = self
        else {
            return String::new();
        };
        let what = if *rollback {
            format!("rollback requested; the flag is not yet confirmed off ({why})")
        } else {
            format!("{done}; the flag is not yet confirmed ({why})")
        };
        let plan = fmt::shell_word(plan);
        match retrier {
            Some(holder) => format!(
                "{what}. {holder} keeps writing it; `shipdeck status {plan}` shows when it lands"
            ),
            None => format!(
                "{what}. Nobody writes it once this command exits: run the command again, or \
                 `shipdeck run {plan} --headless` to guard the release and keep writing it"
            ),
        }
    }
}

/// The flag is where the command put it: for a rollback, rolled back with the flag read
/// back off; for the others, no write waiting for the backend.
fn flag_confirmed(rollback: bool, s: &Snapshot) -> bool {
    let progress = s.engine.progress();
    if rollback {
        matches!(progress.phase, Phase::RolledBack { .. })
            && progress.live.as_ref().is_none_or(|l| !l.enabled)
    } else {
        progress.confirmed_or_idle()
    }
}

/// A rollback is under way or done.
fn rolling_back(s: &Snapshot) -> bool {
    matches!(
        s.engine.phase(),
        Phase::RollingBack { .. } | Phase::RolledBack { .. }
    )
}

/// Why the flag is not confirmed, from what the backend reported.
fn why_unconfirmed(s: &Snapshot) -> String {
    if let Some(trouble) = &s.flag_trouble {
        return trouble.to_string();
    }
    match s.engine.progress().flag_failures {
        0 => "the backend has not read it back yet".into(),
        n => format!("the flag write failed {n} times"),
    }
}

async fn act_directly(handle: &Handle, asked: Asked) -> Outcome {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut snapshots = handle.watch();
    // The baseline and the guardrails need the recent history first.
    wait_until(&mut snapshots, deadline, |s| s.history_in).await;
    let rollback = asked.command == Command::Rollback;
    let done = match handle.command(asked.command, asked.reason).await {
        Ok(answer) => answer,
        // Asked again while the flag is still being turned off: the same rollback, so
        // wait for it like the first time.
        Err(Refused::Engine(Refusal::AlreadyRollingBack)) if rollback => {
            "already rolling back".to_string()
        }
        // What a rollback is for is already true.
        Err(Refused::Engine(Refusal::AlreadyRolledBack)) if rollback => {
            "already rolled back".to_string()
        }
        Err(r) => return Outcome::Refused(r.to_string()),
    };
    let deadline = tokio::time::Instant::now() + asked.wait;
    if wait_until(&mut snapshots, deadline, |s| flag_confirmed(rollback, s)).await {
        return Outcome::Done(confirmed(done, rollback));
    }
    Outcome::Unconfirmed {
        done,
        rollback,
        why: why_unconfirmed(&handle.snapshot()),
        retrier: None,
    }
}

/// Hands the command to the holder and waits for its answer; a rollback, also for the
/// holder to confirm the flag is off.
async fn forward(handle: &Handle, asked: Asked, holder: String) -> Outcome {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(12);
    let mut snapshots = handle.watch();
    let rollback = asked.command == Command::Rollback;
    if let Err(r) = handle.command(asked.command, asked.reason).await {
        return Outcome::Refused(r.to_string());
    }
    let answered = |s: &Snapshot| matches!(s.notice, Some(Notice::Answered { .. }));
    if !wait_until(&mut snapshots, deadline, answered).await {
        return Outcome::Refused("no answer from the controller holding the release".into());
    }
    let seen = handle.snapshot();
    let done = match seen.notice.clone() {
        Some(Notice::Answered { ok: true, message }) => {
            format!("{message} (carried out by {holder})")
        }
        // The holder refused a rollback it is already carrying out, or has carried out:
        // the same rollback, so wait for it (or report it) like the first time.
        Some(Notice::Answered { ok: false, .. }) if rollback && rolling_back(&seen) => {
            format!("already rolling back (held by {holder})")
        }
        Some(Notice::Answered { ok: false, message }) => return Outcome::Refused(message),
        _ => {
            return Outcome::Refused("no answer from the controller holding the release".into());
        }
    };
    if !rollback {
        return Outcome::Done(done);
    }
    let deadline = tokio::time::Instant::now() + asked.wait;
    if wait_until(&mut snapshots, deadline, |s| flag_confirmed(true, s)).await {
        return Outcome::Done(confirmed(done, true));
    }
    Outcome::Unconfirmed {
        done,
        rollback,
        why: why_unconfirmed(&handle.snapshot()),
        retrier: Some(holder),
    }
}

/// What a confirmed command says: a rollback, that the flag read back off.
fn confirmed(done: String, rollback: bool) -> String {
    if rollback {
        format!("{done}; the flag is confirmed off")
    } else {
        done
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
