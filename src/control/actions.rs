//! control::actions: the journal's record of who guarded the release: every controller
//! start, stop and takeover, and a predecessor found to have vanished without a word. The
//! postmortem reads from these when nobody was guarding.

use chrono::{DateTime, Utc};

use super::follow::Published;
use super::open::Options;
use crate::engine::Phase;
use crate::engine::journal::{Entry, Kind, Origin, Verb};
use crate::store::Holder;

/// How a controller stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// `q` on the screen.
    Quit,
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// SIGHUP (the terminal went away).
    Hangup,
    /// A headless run or a replay reached its end.
    Finished,
    /// Another controller took the release over (this one lost it).
    Superseded,
}

impl Stop {
    pub fn how(self) -> &'static str {
        match self {
            Stop::Quit => "quit",
            Stop::Interrupt => "Ctrl-C (SIGINT)",
            Stop::Terminate => "SIGTERM",
            Stop::Hangup => "SIGHUP",
            Stop::Finished => "run ended",
            Stop::Superseded => "taken over",
        }
    }
}

/// Modes whose start and stop are journaled: a one-off command holds the lock only for
/// the command, which its own entry records.
pub(super) fn journaled(mode: &str) -> bool {
    mode != "command"
}

/// What a new holder journals as it opens: a predecessor that vanished, then itself.
pub(super) fn opening(
    entries: &[Entry],
    previous: Option<&Published>,
    here: &Holder,
    epoch: Option<u64>,
    opts: &Options,
) -> Vec<Entry> {
    if !journaled(opts.mode) {
        return vec![];
    }
    let at = opts.clock.now();
    let mut out = Vec::new();
    let last = entries.iter().rev().find(|e| {
        matches!(
            e.action,
            Verb::ControlStart | Verb::ControlStop | Verb::Takeover
        )
    });
    if let Some(last) = last.filter(|e| e.action != Verb::ControlStop)
        && opts.takeover.is_none()
    {
        let since = previous
            .map(|p| format!("its last heartbeat was {}", stamp(p.heartbeat)))
            .unwrap_or_else(|| format!("it started at {}", stamp(last.at)));
        out.push(entry(
            at,
            crate::engine::ENGINE,
            Kind::Error,
            Verb::Unguarded,
            format!(
                "the controller before, {}{}, stopped without a word (a crash, kill -9 or power loss); {since}, and nobody guarded the release from then until now",
                last.operator,
                last.origin
                    .as_ref()
                    .map(|o| format!(" ({o})"))
                    .unwrap_or_default()
            ),
        ));
    }
    let mut e = match &opts.takeover {
        Some(t) => entry(
            at,
            &opts.operator,
            Kind::Action,
            Verb::Takeover,
            format!(
                "{} took over from {}: {}{}",
                here.operator,
                who(&t.from),
                t.why,
                epoch_note(epoch)
            ),
        ),
        None => entry(
            at,
            &opts.operator,
            Kind::Note,
            Verb::ControlStart,
            format!("{} guards the release{}", here.operator, epoch_note(epoch)),
        ),
    };
    e.origin = Some(origin(here));
    out.push(e);
    out
}

/// ` (fencing epoch 7)`, where the store counts controllers.
fn epoch_note(epoch: Option<u64>) -> String {
    epoch
        .map(|e| format!(" (fencing epoch {e})"))
        .unwrap_or_default()
}

/// What a holder journals as it stops, and what it says on the way out when that leaves
/// a live rollout unguarded.
pub(super) fn closing(
    here: &Holder,
    at: DateTime<Utc>,
    how: Stop,
    phase: &Phase,
    live_percent: Option<u8>,
    plan_path: &str,
) -> (Entry, Option<String>) {
    let warning = (phase.is_live() && here.mode != "once").then(|| {
        format!(
            "guardrails stopped at {}%; `shipdeck run {plan_path} --headless` keeps them",
            live_percent.unwrap_or(0)
        )
    });
    let reason = match &warning {
        Some(w) => format!("{} while the rollout was live: {w}", how.how()),
        None => format!("{}; the rollout was not live", how.how()),
    };
    let kind = if warning.is_some() {
        Kind::Error
    } else {
        Kind::Note
    };
    let mut e = entry(at, &here.operator, kind, Verb::ControlStop, reason);
    e.origin = Some(origin(here));
    (e, warning)
}

fn entry(at: DateTime<Utc>, operator: &str, kind: Kind, action: Verb, reason: String) -> Entry {
    Entry::plain(at, operator, kind, action, reason)
}

fn origin(h: &Holder) -> Origin {
    Origin {
        mode: h.mode.clone(),
        host: h.host.clone(),
        pid: h.pid,
    }
}

/// `alice (screen, pid 4242 on build-01)`: who, where, and which process.
fn who(h: &Holder) -> String {
    format!("{} ({}, pid {} on {})", h.operator, h.mode, h.pid, h.host)
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}
