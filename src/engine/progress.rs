//! engine::progress: where a release stands — its phase and everything about it that
//! survives a restart (`state.json`). Plain data and the questions it answers alone; the
//! engine's modules change it, the store saves it.

use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

use crate::plan::{ListKind, Plan, StageSource, StageStatus};

use super::canary_report::CanaryReport;
use super::guardrail::{Explain, RuleState, TripId};
use super::incident::Incident;
use super::values::{DesiredFlag, FlagState};

/// Where the release stands (DESIGN §3).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Phase {
    Ready,
    Baking {
        step: usize,
    },
    AwaitingApproval {
        step: usize,
    },
    Paused {
        step: usize,
        resume: Resume,
        reason: String,
        by: PauseCause,
    },
    RollingBack {
        reason: String,
        /// The guardrail trip that rolled it back; `None` for a person's rollback or stale
        /// data (and in a state saved before it was kept).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trip: Option<TripId>,
    },
    RolledBack {
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trip: Option<TripId>,
    },
    Watching,
    Completed,
}

/// What a paused rollout goes back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resume {
    Baking,
    AwaitingApproval,
    Watching,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "by", content = "who", rename_all = "snake_case")]
pub enum PauseCause {
    Operator(String),
    /// The index of the rule in `guardrails.rules`.
    Guardrail(usize),
    /// A guardrail metric went stale (`on_stale: pause`).
    Stale(String),
    /// The flag was changed outside shipdeck.
    Outside,
    /// The canary judge: a marginal or failing score, a traffic-split mismatch, or too
    /// little data past the starved limit.
    Canary,
}

impl Phase {
    /// One phase of each kind, in the order a release meets them; what a phase carries
    /// (step, reason, cause) is left blank.
    pub fn each() -> [Phase; 8] {
        [
            Phase::Ready,
            Phase::Baking { step: 0 },
            Phase::AwaitingApproval { step: 0 },
            Phase::Paused {
                step: 0,
                resume: Resume::Baking,
                reason: String::new(),
                by: PauseCause::Outside,
            },
            Phase::RollingBack {
                reason: String::new(),
                trip: None,
            },
            Phase::RolledBack {
                reason: String::new(),
                trip: None,
            },
            Phase::Watching,
            Phase::Completed,
        ]
    }

    /// The phase as `state.json` and `status --json` spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Ready => "ready",
            Phase::Baking { .. } => "baking",
            Phase::AwaitingApproval { .. } => "awaiting_approval",
            Phase::Paused { .. } => "paused",
            Phase::RollingBack { .. } => "rolling_back",
            Phase::RolledBack { .. } => "rolled_back",
            Phase::Watching => "watching",
            Phase::Completed => "completed",
        }
    }

    pub fn badge(&self) -> &'static str {
        match self {
            Phase::Ready => "READY",
            Phase::Baking { .. } => "BAKING",
            Phase::AwaitingApproval { .. } => "AWAITING APPROVAL",
            Phase::Paused { .. } => "PAUSED",
            Phase::RollingBack { .. } => "ROLLING BACK",
            Phase::RolledBack { .. } => "ROLLED BACK",
            Phase::Watching => "WATCHING",
            Phase::Completed => "COMPLETED",
        }
    }

    /// The rollout is under way: guardrails act.
    pub fn is_live(&self) -> bool {
        matches!(
            self,
            Phase::Baking { .. }
                | Phase::AwaitingApproval { .. }
                | Phase::Paused { .. }
                | Phase::Watching
        )
    }
}

/// A status shown beside a pipeline stage.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StageReport {
    pub status: StageStatus,
    pub detail: String,
}

/// A command check's last result.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CheckReport {
    pub ok: bool,
    pub detail: String,
}

/// What the pipeline's stages and the command checks last reported.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reports {
    pub stages: BTreeMap<String, StageReport>,
    pub checks: BTreeMap<ListKind, BTreeMap<usize, CheckReport>>,
}

impl Reports {
    /// Before any adapter has answered: static stages as the plan gives them, the others
    /// pending, no check run.
    pub(super) fn of(plan: &Plan) -> Reports {
        let stages = plan
            .pipeline
            .iter()
            .filter_map(|s| {
                let status = match &s.source {
                    StageSource::Static(status) => *status,
                    StageSource::Rollout | StageSource::Untracked => return None,
                    _ => StageStatus::Pending,
                };
                let detail = String::new();
                Some((s.name.clone(), StageReport { status, detail }))
            })
            .collect();
        Reports {
            stages,
            checks: BTreeMap::new(),
        }
    }
}

/// Who ticked a checklist item by hand (or `shipdeck`, for the flag item a confirmed
/// rollback ticks), and when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TickedBy {
    pub operator: String,
    pub at: DateTime<Utc>,
}

/// Everything about a release that survives a restart (`state.json`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Progress {
    pub release: String,
    pub phase: Phase,
    /// The last engine time seen; `None` right after a restart so downtime is not baked.
    pub now: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub step_started_at: Option<DateTime<Utc>>,
    /// Bake (or watch) time served in the current step, in milliseconds.
    pub served_ms: u64,
    /// Fresh samples per watched metric since the step's flag change was confirmed.
    pub fresh: BTreeMap<String, u32>,
    /// What shipdeck last asked the backend for.
    pub desired: Option<DesiredFlag>,
    /// The backend read back `desired`.
    pub confirmed: bool,
    /// When it did: only samples from then on count for the step.
    #[serde(default)]
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The flag as last read from the backend.
    pub live: Option<FlagState>,
    /// The slider's explicit override of the step's percent.
    pub overridden: Option<u8>,
    pub baseline: BTreeMap<String, f64>,
    pub rules: Vec<RuleState>,
    pub stale: BTreeSet<String>,
    /// Newest last.
    pub trips: Vec<Explain>,
    pub ticked: BTreeMap<ListKind, BTreeSet<usize>>,
    /// Who ticked each hand-ticked item, and when (engine time). Missing in a state saved
    /// before it was kept: then nobody is named.
    #[serde(default)]
    pub ticked_by: BTreeMap<ListKind, BTreeMap<usize, TickedBy>>,
    pub flag_failures: u32,
    /// Saved so that followers, which run nothing, show what the holder's stages and
    /// checks said; a restarted holder asks its adapters again instead.
    #[serde(default)]
    pub reports: Reports,
    /// The rollout's steps as this state knew them, to tell on resume whether the plan's
    /// steps changed under the release. Missing in a state saved before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ladder: Option<Vec<Rung>>,
    /// Which attempt of the release this is: 1, then one more for each redeploy after a
    /// rollback.
    #[serde(default = "first_attempt")]
    pub attempt: u32,
    /// The version this attempt rolls out (the plan's, when the attempt began).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The samples around the rollback, once there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<Incident>,
    /// The canary judge's last word on the current step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryReport>,
}

fn first_attempt() -> u32 {
    1
}

/// One step of the rollout as a saved state knew it: what step `k` meant when it was
/// reached.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rung {
    pub name: String,
    pub percent: u8,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

impl Progress {
    /// No flag write is waiting for the backend.
    pub(crate) fn confirmed_or_idle(&self) -> bool {
        self.desired.is_none() || self.confirmed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rollback names its trip; a state saved before it did still reads.
    #[test]
    fn a_rollback_names_its_trip_and_older_states_still_read() {
        use chrono::TimeZone;
        let at = Utc.timestamp_opt(1_700_000_000, 0).single().unwrap();
        let phase = Phase::RolledBack {
            reason: "guardrail".into(),
            trip: Some(TripId { rule: 1, at }),
        };
        let json = serde_json::to_value(&phase).unwrap();
        assert_eq!(serde_json::from_value::<Phase>(json).unwrap(), phase);
        let old: Phase =
            serde_json::from_str(r#"{"state": "rolled_back", "reason": "manual rollback"}"#)
                .unwrap();
        assert_eq!(
            old,
            Phase::RolledBack {
                reason: "manual rollback".into(),
                trip: None
            }
        );
    }

    /// `name` is the tag `state.json` writes, and `each` holds every phase once.
    #[test]
    fn names_are_the_serialized_tags() {
        let phases = Phase::each();
        for phase in &phases {
            let json = serde_json::to_value(phase).unwrap();
            assert_eq!(json["state"], phase.name());
        }
        let names: BTreeSet<&str> = phases.iter().map(Phase::name).collect();
        assert_eq!(names.len(), phases.len());
    }
}
