//! engine::refusal: why a command cannot act now. Code matches the variant; people read
//! the words (`Display`), which name what stands in the way and how to get past it.

/// A command the engine will not carry out now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Start, but the rollout is under way already (its badge).
    AlreadyStarted {
        phase: &'static str,
    },
    /// Start, with stages not passed, pre-release items open or baselines missing.
    StartBlocked {
        blockers: Vec<String>,
    },
    /// Promote (or another gated command) while something holds it back.
    Blocked {
        verb: &'static str,
        blockers: Vec<String>,
    },
    /// Promote while paused.
    PausedFirst,
    /// Promote after the last step: the watch runs.
    Watching,
    /// The command means nothing in this state (its badge).
    NothingTo {
        verb: &'static str,
        phase: &'static str,
    },
    AlreadyPaused,
    NotPaused,
    /// Resume while a guardrail or stale data still holds.
    ResumeBlocked {
        blockers: Vec<String>,
    },
    AlreadyRollingBack,
    AlreadyRolledBack,
    /// Promote or start after a rollback: that takes a new attempt.
    RedeployFirst,
    /// A new attempt starts only from a rolled-back release (its badge).
    NotRolledBack {
        phase: &'static str,
    },
    PercentOutOfRange {
        percent: u8,
    },
    /// The slider acts only on a live rollout.
    SliderNotLive {
        phase: &'static str,
    },
    /// A checklist item that does not exist (1-based for people).
    NoSuchItem {
        list: &'static str,
        item: usize,
    },
    /// A checklist item whose check ticks it.
    TicksItself {
        item: String,
        why: String,
    },
    /// A note with nothing in it.
    EmptyNote,
    /// A note longer than the journal takes (its length and the limit, in characters).
    NoteTooLong {
        chars: usize,
        max: usize,
    },
}

impl Refusal {
    /// What stands in the way, when the refusal is about blockers that forcing passes.
    pub fn blockers(&self) -> &[String] {
        match self {
            Refusal::StartBlocked { blockers }
            | Refusal::Blocked { blockers, .. }
            | Refusal::ResumeBlocked { blockers } => blockers,
            _ => &[],
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::AlreadyStarted { phase } => {
                write!(f, "the rollout has already started ({phase})")
            }
            Refusal::StartBlocked { blockers } => write!(
                f,
                "cannot start: {} (start with force to override)",
                blockers.join("; ")
            ),
            Refusal::Blocked { verb, blockers } => {
                write!(f, "cannot {verb}: {}", blockers.join("; "))
            }
            Refusal::PausedFirst => write!(f, "paused: resume first (space), then promote"),
            Refusal::Watching => write!(
                f,
                "the last step is live; guardrails are watching until the watch ends"
            ),
            Refusal::NothingTo { verb, phase } => {
                write!(f, "nothing to {verb} while {}", phase.to_lowercase())
            }
            Refusal::AlreadyPaused => write!(f, "already paused"),
            Refusal::NotPaused => write!(f, "not paused"),
            Refusal::ResumeBlocked { blockers } => write!(
                f,
                "cannot resume: {} (force to override; it is journaled)",
                blockers.join("; ")
            ),
            Refusal::AlreadyRollingBack => write!(
                f,
                "already rolling back; waiting for the backend to confirm"
            ),
            Refusal::AlreadyRolledBack => write!(f, "already rolled back"),
            Refusal::RedeployFirst => write!(
                f,
                "rolled back: once it is fixed, start a new attempt (`shipdeck redeploy PLAN`, or P on the screen)"
            ),
            Refusal::NotRolledBack { phase } => write!(
                f,
                "a new attempt starts from a rolled-back release, not while {}",
                phase.to_lowercase()
            ),
            Refusal::PercentOutOfRange { percent } => {
                write!(f, "{percent}% is outside 0..=100")
            }
            Refusal::SliderNotLive { phase } => {
                write!(
                    f,
                    "the slider acts on a live rollout, not while {}",
                    phase.to_lowercase()
                )
            }
            Refusal::NoSuchItem { list, item } => write!(f, "{list} has no item {item}"),
            Refusal::TicksItself { item, why } => write!(f, "\"{item}\" ticks itself ({why})"),
            Refusal::EmptyNote => write!(f, "the note is empty; nothing was journaled"),
            Refusal::NoteTooLong { chars, max } => write!(
                f,
                "the note has {chars} characters, more than the {max} a journal entry takes; shorten it or split it"
            ),
        }
    }
}
