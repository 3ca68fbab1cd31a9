//! engine::ladder: the rollout's steps as a saved release knew them. A plan edited while
//! a release was in the middle of its rollout changes what "step 3" means; resuming on
//! the saved step index would bake (or complete) a step the flag never served. Resume
//! compares the ladders, refuses a change, and maps the live percent onto the new steps
//! only when asked to.

use chrono::{DateTime, Utc};

use crate::plan::Plan;

use super::journal::{Entry, Kind, Verb};
use super::progress::{PauseCause, Phase, Progress, Resume, Rung};

/// The plan's steps as a state keeps them.
pub fn of(plan: &Plan) -> Vec<Rung> {
    plan.rollout
        .steps
        .iter()
        .map(|s| Rung {
            name: s.name.clone(),
            percent: s.percent,
            groups: s.groups.clone(),
        })
        .collect()
}

/// The plan's steps differ from those a release in the middle of its rollout saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LadderChange {
    pub saved: Vec<Rung>,
    pub now: Vec<Rung>,
    /// The saved step (an index into `saved`); `None` while watching after the last step.
    pub step: Option<usize>,
    /// The flag's percent as last read (or, never read, as last asked for).
    pub live: Option<u8>,
}

/// What changed, when it matters: a release between its first step and its end whose
/// saved steps are not the plan's. A state saved before steps were kept cannot tell.
pub fn change(progress: &Progress, plan: &Plan) -> Option<LadderChange> {
    let saved = progress.ladder.as_ref()?;
    let step = match &progress.phase {
        Phase::Baking { step } | Phase::AwaitingApproval { step } | Phase::Paused { step, .. } => {
            Some(*step)
        }
        Phase::Watching => None,
        Phase::Ready | Phase::RollingBack { .. } | Phase::RolledBack { .. } | Phase::Completed => {
            return None;
        }
    };
    let now = of(plan);
    (*saved != now).then(|| LadderChange {
        saved: saved.clone(),
        now,
        step,
        live: live_percent(progress),
    })
}

fn live_percent(progress: &Progress) -> Option<u8> {
    progress
        .live
        .as_ref()
        .map(|l| if l.enabled { l.percent() } else { 0 })
        .or(progress
            .desired
            .as_ref()
            .map(|d| if d.enabled { d.percent } else { 0 }))
}

fn rung(r: Option<&Rung>) -> String {
    match r {
        None => "(none)".to_string(),
        Some(r) if r.groups.is_empty() => format!("{} ({}%)", r.name, r.percent),
        Some(r) => format!("{} ({}% + {})", r.name, r.percent, r.groups.join(", ")),
    }
}

impl LadderChange {
    /// One line per step, saved against the plan's now, the release's step marked.
    pub fn lines(&self) -> Vec<String> {
        let width = (0..self.saved.len())
            .map(|i| rung(self.saved.get(i)).chars().count())
            .max()
            .unwrap_or(0)
            .max("saved".len());
        let mut out = vec![format!("       {:width$}   plan now", "saved")];
        for i in 0..self.saved.len().max(self.now.len()) {
            let (was, is) = (self.saved.get(i), self.now.get(i));
            let mark = if was == is { ' ' } else { '≠' };
            let here = if self.step == Some(i) {
                "   ◀ the release is here"
            } else {
                ""
            };
            out.push(format!(
                "  {mark} {:>2}. {:width$}   {}{here}",
                i + 1,
                rung(was),
                rung(is),
            ));
        }
        out
    }

    /// The plan's step the live percent falls on: the highest whose percent is not above
    /// it, so resuming never raises the exposure past what was served.
    pub fn mapped_step(&self) -> usize {
        let live = self.live.unwrap_or(0);
        self.now
            .iter()
            .rposition(|r| r.percent <= live)
            .unwrap_or(0)
    }
}

/// Takes the plan's steps, on the step the live percent maps to, paused: nothing is
/// written to the flag until someone resumes, and no bake time carries over. Returns the
/// journal entry that says so.
pub fn accept(
    progress: &mut Progress,
    change: &LadderChange,
    plan: &Plan,
    operator: &str,
    at: DateTime<Utc>,
) -> Entry {
    let step = change.mapped_step();
    let live = change
        .live
        .map_or("never read".to_string(), |p| format!("{p}%"));
    let title = plan
        .rollout
        .steps
        .get(step)
        .map_or_else(String::new, |s| s.title());
    let total = plan.rollout.steps.len();
    let reason = format!(
        "plan's steps changed; live {live} mapped to step {}/{total} {title}",
        step + 1
    );
    progress.phase = Phase::Paused {
        step,
        resume: Resume::Baking,
        reason: reason.clone(),
        by: PauseCause::Operator(operator.to_string()),
    };
    progress.served_ms = 0;
    progress.fresh.clear();
    progress.overridden = None;
    progress.ladder = Some(change.now.clone());
    let mut entry = Entry::plain(at, operator, Kind::Action, Verb::PlanChange, reason);
    entry.step = plan.rollout.steps.get(step).map(|s| s.name.clone());
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rungs(steps: &[(&str, u8)]) -> Vec<Rung> {
        steps
            .iter()
            .map(|(n, p)| Rung {
                name: n.to_string(),
                percent: *p,
                groups: vec![],
            })
            .collect()
    }

    fn changed(now: &[(&str, u8)], live: Option<u8>) -> LadderChange {
        LadderChange {
            saved: rungs(&[("Internal", 0), ("Beta", 5), ("Gradual", 25), ("Full", 100)]),
            now: rungs(now),
            step: Some(2),
            live,
        }
    }

    #[test]
    fn the_live_percent_maps_to_the_highest_step_not_above_it() {
        let steps = [("A", 0), ("B", 10), ("C", 20), ("D", 50), ("E", 100)];
        assert_eq!(changed(&steps, Some(25)).mapped_step(), 2);
        assert_eq!(changed(&steps, Some(20)).mapped_step(), 2);
        assert_eq!(changed(&steps, Some(100)).mapped_step(), 4);
        assert_eq!(changed(&steps, None).mapped_step(), 0);
        assert_eq!(
            changed(&[("A", 10), ("B", 50)], Some(5)).mapped_step(),
            0,
            "below the first step: the first step, still paused"
        );
    }

    #[test]
    fn lines_mark_what_changed_and_where_the_release_is() {
        let c = changed(&[("Internal", 0), ("Gradual", 30), ("Full", 100)], Some(25));
        let lines = c.lines();
        assert_eq!(lines.len(), 5, "{lines:#?}");
        assert!(lines[1].starts_with("     1. Internal (0%)"), "{lines:#?}");
        assert!(lines[2].contains("≠  2. Beta (5%)"), "{lines:#?}");
        assert!(lines[2].contains("Gradual (30%)"), "{lines:#?}");
        assert!(lines[3].ends_with("◀ the release is here"), "{lines:#?}");
        assert!(lines[4].contains("(none)"), "{lines:#?}");
    }
}
