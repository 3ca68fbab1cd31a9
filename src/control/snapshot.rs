//! control::snapshot: what the controller publishes after each turn of its loop. The
//! screen, headless output and `status` show it and decide nothing from anything else.

use chrono::{DateTime, Utc};
use std::collections::VecDeque;

use super::Controller;
use super::message::Notice;
use crate::engine::Engine;
use crate::engine::journal::Entry;
use crate::pipeline::StageDetail;
use crate::pipeline::checks::CheckDetail;

/// Whose release this is, seen from here.
#[derive(Debug, Clone, PartialEq)]
pub enum Role {
    /// This process holds the release and guards it.
    Holder,
    /// Another process holds it; this one shows what it published.
    Follower {
        /// `alice (screen on build-01, pid 4242, since 14:02:11Z)`.
        holder: String,
        state: HolderState,
        /// The holder's last heartbeat (wall clock).
        heartbeat: Option<DateTime<Utc>>,
    },
}

/// A follower's view of the holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HolderState {
    Live,
    /// No heartbeat for this long: frozen, or cut off.
    Silent {
        secs: u64,
    },
    /// Its lock is free: the process is gone. Nobody guards the release.
    Gone,
}

impl HolderState {
    /// Nobody is guarding (as far as this process can tell): a takeover is offered.
    pub fn unguarded(self) -> bool {
        !matches!(self, HolderState::Live)
    }

    /// `is gone`, `has been silent for 7s`: what a standby journals as its reason.
    pub fn describe(self) -> String {
        match self {
            HolderState::Live => "is live".into(),
            HolderState::Silent { secs } => format!("has been silent for {secs}s"),
            HolderState::Gone => "is gone".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The engine's state and recent history (a follower's: the holder's).
    pub engine: Engine,
    /// Newest last, bounded.
    pub journal: VecDeque<Entry>,
    /// The engine clock.
    pub now: DateTime<Utc>,
    /// When the controller made this snapshot, by the wall clock: its heartbeat.
    pub made_at: DateTime<Utc>,
    pub operator: String,
    pub role: Role,
    pub notice: Option<Notice>,
    /// Why the flag backend has not confirmed a change, while it does not (the holder's,
    /// on a follower), even when `notice` shows something else.
    pub flag_trouble: Option<Notice>,
    /// Where the flag lives.
    pub flag: String,
    /// Age of the newest sample at the engine clock.
    pub data_age: Option<chrono::Duration>,
    /// Every stage and check has a first result: asking to start now gets a fair answer.
    pub(crate) pipeline_settled: bool,
    /// The history backfill is in.
    pub(crate) history_in: bool,
    /// Sample batches seen since opening.
    pub samples_seen: u64,
    /// Every stage in plan order, as this process's pipeline knows it: where its status
    /// comes from, its runs and the tail of its last output. A follower runs nothing:
    /// its stages say the holder runs them (the engine has the holder's status and why).
    pub stages: Vec<StageDetail>,
    /// Every automatic checklist item with a command, the same way.
    pub checks: Vec<CheckDetail>,
}

impl Snapshot {
    pub fn holds(&self) -> bool {
        self.role == Role::Holder
    }

    /// The holder's description, on a follower.
    pub fn follower_of(&self) -> Option<&str> {
        match &self.role {
            Role::Follower { holder, .. } => Some(holder),
            Role::Holder => None,
        }
    }

    pub fn holder_state(&self) -> Option<HolderState> {
        match &self.role {
            Role::Follower { state, .. } => Some(*state),
            Role::Holder => None,
        }
    }
}

impl Controller {
    /// What this controller knows now, for anyone to show.
    pub fn snapshot(&self) -> Snapshot {
        let role = match (self.follower_of(), self.holder_state()) {
            (Some(holder), Some(state)) => Role::Follower {
                holder,
                state,
                heartbeat: self.heartbeat(),
            },
            _ => Role::Holder,
        };
        let (notice, flag_trouble, pipeline_settled) =
            match self.follower.as_ref().and_then(|f| f.published.as_ref()) {
                Some(p) => (
                    self.notice.clone().or_else(|| p.notices.first().cloned()),
                    p.notices.iter().find(|n| n.is_flag_trouble()).cloned(),
                    p.pipeline_settled,
                ),
                None => (
                    self.notice(),
                    self.notice.clone().filter(Notice::is_flag_trouble),
                    self.pipeline.settled(),
                ),
            };
        Snapshot {
            engine: self.engine.clone(),
            journal: self.recent.clone(),
            now: self.now(),
            made_at: Utc::now(),
            operator: self.opts.operator.clone(),
            role,
            notice,
            flag_trouble,
            flag: self.flag_description.clone(),
            data_age: self.data_age(),
            pipeline_settled,
            history_in: self.history_in,
            samples_seen: self.samples_seen,
            stages: self.pipeline.details(self.engine.phase()),
            checks: self.pipeline.checks().details(),
        }
    }
}
