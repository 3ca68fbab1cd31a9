//! headless: the same engine and controller with no screen, for CI/CD and cron. Owns
//! the exit codes: 0 completed, 3 rolled back, 4 a human is needed.

use chrono::{DateTime, Utc};
use std::io::Write;
use std::time::Duration;

use crate::controller::Session;
use crate::engine::journal::Entry;
use crate::engine::{Command, Input, PauseCause, Phase};

pub const COMPLETED: u8 = 0;
pub const ROLLED_BACK: u8 = 3;
pub const NEEDS_HUMAN: u8 = 4;

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
}

/// How a headless run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub code: u8,
    pub why: String,
}

/// Drives the release until it completes, rolls back, or needs a human.
pub async fn run(mut session: Session, opts: Options) -> Outcome {
    let mut printed = session.controller.journal_total();
    let mut paused_since: Option<DateTime<Utc>> = None;
    let mut started = false;
    let mut history_in = false;
    let mut saw_samples = false;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let outcome = loop {
        tokio::select! {
            message = session.messages.recv() => {
                let Some(message) = message else {
                    break Outcome { code: 1, why: "every adapter stopped".into() };
                };
                let was_samples = matches!(message, crate::controller::Message::Input(Input::Samples { .. }));
                let was_history = matches!(message, crate::controller::Message::Input(Input::History { .. }));
                session.controller.handle(message);
                saw_samples |= was_samples;
                history_in |= was_history;
                // Start once the baseline history is in and every pipeline stage and check
                // command has its first result.
                if history_in && !started && session.controller.pipeline_settled() && matches!(session.controller.engine().phase(), Phase::Ready) {
                    started = true;
                    if let Err(why) = session.controller.command(Command::Start { force: false }, Some("headless run".into())) {
                        print_new(&session, &mut printed, opts.json);
                        break Outcome { code: NEEDS_HUMAN, why };
                    }
                }
            }
            _ = tick.tick() => {
                session.controller.tick();
            }
        }
        print_new(&session, &mut printed, opts.json);
        let c = &session.controller;
        if let Some(n) = c
            .notice()
            .filter(|n| n.starts_with("halted") || n.contains("cannot be written"))
        {
            break Outcome {
                code: 1,
                why: n.to_string(),
            };
        }
        let now = c.now();
        match c.engine().phase() {
            Phase::Completed => {
                break Outcome {
                    code: COMPLETED,
                    why: "completed".into(),
                };
            }
            Phase::RolledBack { reason } => {
                break Outcome {
                    code: ROLLED_BACK,
                    why: format!("rolled back: {reason}"),
                };
            }
            Phase::AwaitingApproval { step } if !opts.wait_for_approval => {
                let name = c
                    .engine()
                    .plan()
                    .rollout
                    .steps
                    .get(*step)
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                break Outcome {
                    code: NEEDS_HUMAN,
                    why: format!("{name} baked and waits for approval: shipdeck promote PLAN"),
                };
            }
            Phase::Paused {
                by: PauseCause::Operator(who),
                reason,
                ..
            } => {
                break Outcome {
                    code: NEEDS_HUMAN,
                    why: format!("paused by {who}: {reason}"),
                };
            }
            Phase::Paused {
                by: PauseCause::Outside,
                reason,
                ..
            } => {
                break Outcome {
                    code: NEEDS_HUMAN,
                    why: reason.clone(),
                };
            }
            Phase::Paused { reason, .. } => {
                let since = *paused_since.get_or_insert(now);
                let held = (now - since).to_std().unwrap_or_default();
                if held >= opts.max_pause {
                    break Outcome {
                        code: NEEDS_HUMAN,
                        why: format!(
                            "paused by a guardrail for {} and not clear: {reason}",
                            crate::engine::guardrail::format_secs(held.as_secs() as i64)
                        ),
                    };
                }
            }
            _ => paused_since = None,
        }
        if opts.once
            && saw_samples
            && (started || !matches!(c.engine().phase(), Phase::Ready))
            && c.engine().progress().confirmed_or_idle()
        {
            let code = match c.engine().phase() {
                Phase::Ready
                | Phase::Baking { .. }
                | Phase::Watching
                | Phase::RollingBack { .. } => COMPLETED,
                _ => NEEDS_HUMAN,
            };
            break Outcome {
                code,
                why: format!(
                    "evaluated once: {}",
                    c.engine().phase().badge().to_lowercase()
                ),
            };
        }
    };
    session.controller.settle().await;
    // The writer has finished: what it recorded last is still in the channel.
    while let Ok(message) = session.messages.try_recv() {
        if matches!(message, crate::controller::Message::Recorded(_)) {
            session.controller.handle(message);
        }
    }
    print_new(&session, &mut printed, opts.json);
    outcome
}

/// Prints the journal entries that are on disk: the log never shows a decision the
/// journal does not hold.
fn print_new(session: &Session, printed: &mut u64, json: bool) {
    let (entries, seen) = session.controller.recorded_since(*printed);
    // A reader that went away does not stop the release: the journal still has it all.
    let mut stdout = std::io::stdout().lock();
    for e in entries {
        let _ = writeln!(stdout, "{}", render(e, json));
    }
    let _ = stdout.flush();
    *printed = seen;
}

fn render(e: &Entry, json: bool) -> String {
    if json {
        serde_json::to_string(e).unwrap_or_else(|err| format!("{{\"error\":\"{err}\"}}"))
    } else {
        format!(
            "{} {:<10} {} ({})",
            e.at.format("%Y-%m-%dT%H:%M:%SZ"),
            e.action,
            e.reason,
            e.operator
        )
    }
}
