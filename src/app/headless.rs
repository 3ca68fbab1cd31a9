//! headless: the same engine and controller with no screen, for CI/CD and cron. Owns
//! the exit codes: 0 completed, 3 rolled back, 4 a human is needed.

use chrono::{DateTime, Utc};
use std::io::Write;
use std::time::{Duration, Instant};

use crate::control::driver;
use crate::control::{Notice, Session, Snapshot, Stop};
use crate::engine::journal::Entry;
use crate::engine::{Command, PauseCause, Phase};

pub const COMPLETED: u8 = 0;
pub(crate) const ROLLED_BACK: u8 = 3;
pub(crate) const NEEDS_HUMAN: u8 = 4;

#[derive(Debug, Clone)]
pub struct Options {
    /// One JSON object per line instead of text.
    pub json: bool,
    /// Evaluate the engine once at the current clock and exit.
    pub once: bool,
    /// Wait for `shipdeck promote` at manual approvals instead of exiting 4.
    pub wait_for_approval: bool,
    /// How long (engine time) a guardrail pause may last before a human is needed.
    pub max_pause: Duration,
    /// While another controller holds the release, wait, and take over when it stops
    /// guarding; after losing the release to another, wait again.
    pub standby: bool,
}

/// How a headless run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub code: u8,
    pub why: String,
}

/// Drives the release until it completes, rolls back, or needs a human. A store that
/// cannot be written does not end the run while the rollout is live: guardrails keep
/// acting from memory while the writes are retried, and the run ends (1) only once the
/// rollout is safe, rolled back or completed.
pub async fn run(session: Session, opts: Options) -> Outcome {
    let mut handle = driver::spawn(session);
    let Some(mut recorded) = handle.recorded() else {
        return Outcome {
            code: 1,
            why: "the journal feed was taken".into(),
        };
    };
    let mut snapshots = handle.watch();
    let mut paused_since: Option<DateTime<Utc>> = None;
    let mut store_failing: Option<Instant> = None;
    let mut started = false;
    let signal = crate::tui::signals();
    tokio::pin!(signal);
    let mut how = Stop::Finished;
    // While following: when this process last tried to take over.
    let mut standing: Option<Option<Instant>> = None;
    let outcome = loop {
        tokio::select! {
            stop = &mut signal => {
                how = stop;
                break Outcome { code: 1, why: format!("stopped by {}", stop.how()) };
            }
            changed = snapshots.changed() => if changed.is_err() {
                break Outcome { code: 1, why: "the controller stopped".into() };
            },
            Some(e) = recorded.recv() => {
                print(&e, opts.json);
                continue;
            }
        }
        let s = snapshots.borrow_and_update().clone();
        if !s.holds() {
            if let Some(o) = stand_by(&handle, &s, &opts, &mut standing).await {
                break o;
            }
            continue;
        }
        if standing.is_some() {
            standing = None;
            eprintln!("shipdeck: took over; this process guards the release now");
        }
        // Start once the baseline history is in and every pipeline stage and check
        // command has its first result.
        if s.history_in
            && !started
            && s.pipeline_settled
            && matches!(s.engine.phase(), Phase::Ready)
        {
            started = true;
            if let Err(why) = handle
                .command(Command::Start { force: false }, Some("headless run".into()))
                .await
            {
                break Outcome {
                    code: NEEDS_HUMAN,
                    why: why.to_string(),
                };
            }
            continue;
        }
        if let Some(o) = verdict(&s, &opts, &mut paused_since, &mut store_failing, started) {
            break o;
        }
    };
    if let Some(warning) = handle.stop(how).await {
        eprintln!("shipdeck: {}", crate::support::escape::shown(&warning));
    }
    // Everything recorded up to the end, in order.
    while let Ok(e) = recorded.try_recv() {
        print(&e, opts.json);
    }
    outcome
}

/// A standby's turn, on a snapshot that shows another holder: the run ends with the
/// release, or when this process lost it and is no standby; while the holder guards it
/// waits; when the holder stops guarding, it takes over.
async fn stand_by(
    handle: &driver::Handle,
    s: &Snapshot,
    opts: &Options,
    standing: &mut Option<Option<Instant>>,
) -> Option<Outcome> {
    if let Some(Notice::Fenced { why }) = &s.notice
        && !opts.standby
    {
        return Some(Outcome {
            code: 1,
            why: format!("stopped guarding: {why}"),
        });
    }
    match s.engine.phase() {
        Phase::Completed => {
            return Some(Outcome {
                code: COMPLETED,
                why: "completed (under another controller)".into(),
            });
        }
        Phase::RolledBack { reason, .. } => {
            return Some(Outcome {
                code: ROLLED_BACK,
                why: format!("rolled back (under another controller): {reason}"),
            });
        }
        _ => {}
    }
    let tried = standing.get_or_insert_with(|| {
        eprintln!(
            "shipdeck: standing by; {} holds the release",
            crate::support::escape::shown(s.follower_of().unwrap_or("another controller"))
        );
        None
    });
    let state = s.holder_state()?;
    if !state.unguarded() || tried.is_some_and(|t| t.elapsed() < TAKEOVER_RETRY) {
        return None;
    }
    *tried = Some(Instant::now());
    let why = format!("standby: the holder {}", state.describe());
    // A refusal (the lock still held) is tried again; a success shows in the next snapshot.
    let _ = handle.take_over(why).await;
    None
}

/// How long a safe run waits for a failing store to take its record before ending with
/// exit 1: long enough for a database to restart.
const STORE_GRACE: Duration = Duration::from_secs(60);

/// How soon a standby tries again after a takeover that did not work (the holder's lock
/// still held while its process is frozen, say).
const TAKEOVER_RETRY: Duration = Duration::from_millis(500);

/// Whether the run is over, judged on one snapshot.
fn verdict(
    s: &Snapshot,
    opts: &Options,
    paused_since: &mut Option<DateTime<Utc>>,
    store_failing: &mut Option<Instant>,
    started: bool,
) -> Option<Outcome> {
    let phase = s.engine.phase();
    let safe = matches!(phase, Phase::Completed | Phase::RolledBack { .. });
    match &s.notice {
        Some(Notice::WriterStopped) => {
            return Some(Outcome {
                code: 1,
                why: Notice::WriterStopped.to_string(),
            });
        }
        // Safe, but the record has not landed: give the store its grace to come back
        // (a database restarting) before ending with the record incomplete.
        Some(n @ Notice::StoreFailing { .. })
            if safe && store_failing.get_or_insert_with(Instant::now).elapsed() >= STORE_GRACE =>
        {
            return Some(Outcome {
                code: 1,
                why: format!(
                    "{}, and the store still cannot be written: {n}",
                    phase.badge().to_lowercase()
                ),
            });
        }
        Some(Notice::StoreFailing { .. }) if safe => return None,
        _ => *store_failing = None,
    }
    let now = s.now;
    match phase {
        Phase::Completed => {
            return Some(Outcome {
                code: COMPLETED,
                why: "completed".into(),
            });
        }
        Phase::RolledBack { reason, .. } => {
            return Some(Outcome {
                code: ROLLED_BACK,
                why: format!("rolled back: {reason}"),
            });
        }
        Phase::AwaitingApproval { step } if !opts.wait_for_approval => {
            let name = s
                .engine
                .plan()
                .rollout
                .steps
                .get(*step)
                .map(|s| s.name.clone())
                .unwrap_or_default();
            return Some(Outcome {
                code: NEEDS_HUMAN,
                why: format!("{name} baked and waits for approval: shipdeck promote PLAN"),
            });
        }
        Phase::Paused {
            by: PauseCause::Operator(who),
            reason,
            ..
        } => {
            return Some(Outcome {
                code: NEEDS_HUMAN,
                why: format!("paused by {who}: {reason}"),
            });
        }
        Phase::Paused {
            by: PauseCause::Outside,
            reason,
            ..
        } => {
            return Some(Outcome {
                code: NEEDS_HUMAN,
                why: reason.clone(),
            });
        }
        Phase::Paused { reason, .. } => {
            let since = *paused_since.get_or_insert(now);
            let held = (now - since).to_std().unwrap_or_default();
            if held >= opts.max_pause {
                return Some(Outcome {
                    code: NEEDS_HUMAN,
                    why: format!(
                        "paused by a guardrail for {} and not clear: {reason}",
                        crate::support::fmt::duration(held)
                    ),
                });
            }
        }
        _ => *paused_since = None,
    }
    if opts.once
        && s.samples_seen > 0
        && (started || !matches!(phase, Phase::Ready))
        && s.engine.progress().confirmed_or_idle()
    {
        let code = match phase {
            Phase::Ready | Phase::Baking { .. } | Phase::Watching | Phase::RollingBack { .. } => {
                COMPLETED
            }
            _ => NEEDS_HUMAN,
        };
        return Some(Outcome {
            code,
            why: format!("evaluated once: {}", phase.badge().to_lowercase()),
        });
    }
    None
}

/// Prints one recorded entry: the log never shows a decision the journal does not hold.
fn print(e: &Entry, json: bool) {
    // A reader that went away does not stop the release: the journal still has it all.
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", e.printed(json));
    let _ = stdout.flush();
}
