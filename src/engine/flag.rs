//! engine::flag: what the flag backend reports — a write confirmed or failed, the flag
//! read, created, or changed outside shipdeck — and what the release does about it.

use chrono::{DateTime, Utc};

use crate::plan::ListKind;

use super::effect::{Effect, EventKind};
use super::input::FlagEvent;
use super::journal::Kind;
use super::journal::Verb;
use super::progress::{PauseCause, Phase};
use super::values::FlagState;
use super::{ENGINE, Engine};

impl Engine {
    pub(super) fn on_flag(&mut self, now: DateTime<Utc>, event: FlagEvent, fx: &mut Vec<Effect>) {
        // Any state read back means the flag reads again; a failed write says nothing of it.
        match &event {
            FlagEvent::Unreadable { error } => self.flag_unreadable = Some(error.clone()),
            FlagEvent::Failed { .. } => {}
            FlagEvent::Missing => self.flag_unreadable = None,
            FlagEvent::Confirmed { .. }
            | FlagEvent::Loaded { .. }
            | FlagEvent::Created { .. }
            | FlagEvent::Outside { .. } => {
                self.flag_unreadable = None;
                self.flag_read = true;
            }
        }
        match event {
            FlagEvent::Confirmed { state } => {
                let matches = self
                    .progress
                    .desired
                    .as_ref()
                    .is_some_and(|d| d.is_met_by(&state));
                let text = state.summary();
                self.progress.live = Some(state.clone());
                if let Phase::RollingBack { reason, trip } = self.progress.phase.clone()
                    && !state.enabled
                {
                    self.progress.phase = Phase::RolledBack {
                        reason: reason.clone(),
                        trip,
                    };
                    self.progress.confirmed = true;
                    self.progress.confirmed_at = Some(now);
                    if let Some(i) = self.plan.checklists.rollback.iter().position(|it| {
                        it.check.is_none() && it.text.to_lowercase().contains("flag")
                    }) {
                        let fresh = self
                            .progress
                            .ticked
                            .entry(ListKind::Rollback)
                            .or_default()
                            .insert(i);
                        if fresh {
                            self.record_tick(ListKind::Rollback, i, Some(ENGINE), now);
                        }
                    }
                    fx.push(Effect::Journal(self.entry(
                        now,
                        ENGINE,
                        Kind::Decision,
                        Verb::RolledBack,
                        "the backend confirmed the flag is off".to_string(),
                    )));
                    fx.push(self.event(
                        now,
                        EventKind::RollbackConfirmed,
                        format!(
                            "{} rolled back: flag off, confirmed by the backend",
                            self.release_label()
                        ),
                        None,
                    ));
                    return;
                }
                if matches {
                    self.progress.confirmed = true;
                    self.progress.confirmed_at = Some(now);
                    self.progress.flag_failures = 0;
                    fx.push(Effect::Journal(self.entry(
                        now,
                        ENGINE,
                        Kind::Note,
                        Verb::Flag,
                        format!("confirmed: {text}"),
                    )));
                } else {
                    fx.push(Effect::Journal(self.entry(
                        now,
                        ENGINE,
                        Kind::Error,
                        Verb::Flag,
                        format!("read back differs from what was written: {text}"),
                    )));
                }
            }
            FlagEvent::Failed { error, attempt } => {
                self.progress.flag_failures = attempt;
                fx.push(Effect::Journal(self.entry(
                    now,
                    ENGINE,
                    Kind::Error,
                    Verb::Flag,
                    format!("write failed (attempt {attempt}), retrying: {error}"),
                )));
            }
            FlagEvent::Loaded { state } => {
                if let Some(d) = &self.progress.desired
                    && !d.is_met_by(&state)
                    && self.progress.confirmed
                {
                    return self.on_flag(now, FlagEvent::Outside { state }, fx);
                }
                self.progress.live = Some(state);
            }
            FlagEvent::Created { state } => {
                fx.push(Effect::Journal(self.entry(
                    now,
                    ENGINE,
                    Kind::Note,
                    Verb::Flag,
                    format!(
                        "{} did not exist; created {}",
                        self.plan.flag.name,
                        state.summary()
                    ),
                )));
                self.progress.live = Some(state);
            }
            FlagEvent::Outside { state } => {
                let text = state.summary();
                self.progress.live = Some(state.clone());
                if self
                    .progress
                    .desired
                    .as_ref()
                    .is_some_and(|d| d.is_met_by(&state))
                {
                    if !self.progress.confirmed {
                        self.progress.confirmed = true;
                        self.progress.confirmed_at = Some(now);
                    }
                    return;
                }
                fx.push(Effect::Journal(self.entry(
                    now,
                    "outside shipdeck",
                    Kind::Outside,
                    Verb::FlagChanged,
                    text.clone(),
                )));
                if matches!(
                    self.progress.phase,
                    Phase::Baking { .. } | Phase::AwaitingApproval { .. } | Phase::Watching
                ) {
                    self.pause(
                        now,
                        PauseCause::Outside,
                        format!("the flag was changed outside shipdeck: {text}"),
                        None,
                        fx,
                    );
                } else if let Phase::Paused { by, reason, .. } = &mut self.progress.phase {
                    // Already paused: a person must now decide, even once a guardrail clears.
                    *by = PauseCause::Outside;
                    *reason = format!("the flag was changed outside shipdeck: {text}");
                }
            }
            FlagEvent::Missing => self.on_missing(now, fx),
            FlagEvent::Unreadable { error } => {
                fx.push(Effect::Journal(self.entry(
                    now,
                    ENGINE,
                    Kind::Error,
                    Verb::Flag,
                    format!("cannot read the flag; nothing is written over it: {error}"),
                )));
            }
        }
    }
}

impl Engine {
    /// The flag is gone from its backend. Deleted outside shipdeck, it is an outside
    /// change like any other: a live rollout pauses for a person, and nothing puts the
    /// flag back until one resumes. Said once: a restart that finds it still gone while
    /// the rollout waits for that person adds nothing.
    fn on_missing(&mut self, now: DateTime<Utc>, fx: &mut Vec<Effect>) {
        let known = self.progress.live.is_none()
            && matches!(
                self.progress.phase,
                Phase::Paused {
                    by: PauseCause::Outside,
                    ..
                }
            );
        self.progress.live = None;
        if known {
            return;
        }
        let name = self.plan.flag.name.clone();
        fx.push(Effect::Journal(self.entry(
            now,
            "outside shipdeck",
            Kind::Outside,
            Verb::FlagChanged,
            format!("{name} is gone from the flag backend; nothing was written in its place"),
        )));
        let reason = format!("the flag {name} is gone: deleted outside shipdeck");
        // A rollback turns the flag off whatever is there; before the start and after the
        // end, nothing is live to pause.
        if matches!(
            self.progress.phase,
            Phase::Baking { .. } | Phase::AwaitingApproval { .. } | Phase::Watching
        ) {
            self.pause(now, PauseCause::Outside, reason, None, fx);
        } else if let Phase::Paused {
            by, reason: why, ..
        } = &mut self.progress.phase
        {
            *by = PauseCause::Outside;
            *why = reason;
        }
    }
}

/// `on 25% +[internal, beta-testers]` or `off (rollout 25%)`: a flag as the journal words it.
pub(crate) fn describe_flag(s: &FlagState) -> String {
    s.summary()
}
