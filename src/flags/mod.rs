//! flags: feature-flag backends and bucketing. Owns every read and write of a flag;
//! never decides what the flag should be (that is the engine's job).

use std::path::PathBuf;

use futures::future::BoxFuture;

use crate::engine::values::{DesiredFlag, FlagState};
use crate::plan::FlagKind;

pub mod bucket;
mod disk;
pub mod file;
pub mod flagd;
pub mod unleash;
mod yaml_edit;

pub use bucket::{Evaluation, Reason, evaluate, evaluate_flagd, fractional, unleash_bucket};
pub use disk::DiskBackend;
pub use file::{FileBackend, list_flags, read_file_flag};
pub use flagd::FlagdBackend;
pub use unleash::UnleashBackend;

/// The backend a plan names, ready to be driven from a tokio task.
pub fn open(spec: &crate::plan::FlagSpec) -> Result<Box<dyn FlagBackend>, FlagError> {
    use crate::plan::BackendSpec;
    match &spec.backend {
        BackendSpec::File { path } => Ok(Box::new(FileBackend::new(
            path.clone(),
            spec.name.clone(),
            spec.kind,
        ))),
        BackendSpec::Flagd { path } => Ok(Box::new(FlagdBackend::with_kind(
            path.clone(),
            spec.name.clone(),
            spec.kind,
        ))),
        BackendSpec::Unleash {
            url,
            token_env,
            project,
            environment,
            create,
        } => Ok(Box::new(
            UnleashBackend::from_env(
                url,
                token_env,
                project,
                environment,
                spec.name.clone(),
                spec.kind,
            )?
            .creating(*create),
        )),
    }
}

/// How a backend's SDKs put users into buckets.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Bucketing {
    /// Unleash's gradual rollout over `"<group_id>:<user>"` (the YAML flag file uses it
    /// too, with the flag name as the group id).
    Unleash {
        group_id: String,
        stickiness: String,
    },
    /// flagd's `fractional` over flag key + targeting key.
    Flagd,
}

/// A flag as its backend holds it now, and how that backend buckets users.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct Inspection {
    pub flag: String,
    /// Where it lives: `file flags.yaml`, `unleash http://… project default env production`.
    pub backend: String,
    /// `None` when the flag does not exist yet.
    pub state: Option<FlagState>,
    pub bucketing: Bucketing,
}

impl Inspection {
    /// Would `user` (in `groups`) get the flag, bucketed as the backend's SDKs do?
    pub fn evaluate(&self, user: &str, groups: &[String]) -> Evaluation {
        match &self.bucketing {
            Bucketing::Flagd => evaluate_flagd(&self.flag, self.state.as_ref(), user, groups),
            Bucketing::Unleash {
                group_id,
                stickiness,
            } => match &self.state {
                Some(state) => unleash::UnleashFlag {
                    state: state.clone(),
                    group_id: group_id.clone(),
                    stickiness: stickiness.clone(),
                }
                .evaluate(&self.flag, user, groups),
                None => evaluate(&self.flag, None, user, groups),
            },
        }
    }

    /// How many of `users` sample users (`user-0`, `user-1`, …, in no group) fall in a
    /// rollout of `percent`, by this backend's buckets.
    pub fn reach(&self, percent: u8, users: usize) -> usize {
        let at = FlagState {
            enabled: true,
            rollout: f64::from(percent.min(100)) / 100.0,
            groups: Vec::new(),
            kind: FlagKind::Release,
        };
        let probe = Inspection {
            state: Some(at),
            ..self.clone()
        };
        (0..users)
            .filter(|i| probe.evaluate(&format!("user-{i}"), &[]).enabled)
            .count()
    }
}

/// The flag `spec` names, read from its backend now, with that backend's bucketing:
/// what `shipdeck flags eval --plan` and `shipdeck flags list` show.
pub(crate) async fn inspect(spec: &crate::plan::FlagSpec) -> Result<Inspection, FlagError> {
    use crate::plan::BackendSpec;
    let unleash_like = |group_id: &str| Bucketing::Unleash {
        group_id: group_id.to_string(),
        stickiness: "default".to_string(),
    };
    match &spec.backend {
        BackendSpec::Unleash {
            url,
            token_env,
            project,
            environment,
            ..
        } => {
            let mut backend = UnleashBackend::from_env(
                url,
                token_env,
                project,
                environment,
                spec.name.clone(),
                spec.kind,
            )?;
            let found = backend.inspect().await?;
            Ok(Inspection {
                flag: spec.name.clone(),
                backend: backend.describe(),
                bucketing: match &found {
                    Some(f) => Bucketing::Unleash {
                        group_id: f.group_id.clone(),
                        stickiness: f.stickiness.clone(),
                    },
                    None => unleash_like(&spec.name),
                },
                state: found.map(|f| f.state),
            })
        }
        BackendSpec::File { .. } | BackendSpec::Flagd { .. } => {
            let mut backend = open(spec)?;
            let state = backend.read().await?;
            Ok(Inspection {
                flag: spec.name.clone(),
                backend: backend.describe(),
                state,
                bucketing: match spec.backend {
                    BackendSpec::Flagd { .. } => Bucketing::Flagd,
                    _ => unleash_like(&spec.name),
                },
            })
        }
    }
}

/// The names of the flags a file backend holds (the YAML flag file, flagd), for "did
/// you mean"; none for Unleash, whose other flags would cost a call to list.
pub(crate) fn flag_names(backend: &crate::plan::BackendSpec) -> Vec<String> {
    use crate::plan::BackendSpec;
    let names = match backend {
        BackendSpec::File { path } => {
            list_flags(path).map(|flags| flags.into_iter().map(|(name, _)| name).collect())
        }
        BackendSpec::Flagd { path } => flagd::flag_names(path),
        BackendSpec::Unleash { .. } => Ok(Vec::new()),
    };
    // Only a hint: a file that cannot be listed has already said why when it was read.
    names.unwrap_or_default()
}

/// `flag` is not in `where_`, which holds `names`: the error, with the name it most
/// likely misspells.
pub(crate) fn not_found(where_: String, flag: &str, names: &[String]) -> FlagError {
    let hint = match crate::support::suggest::closest(flag, names.iter().map(String::as_str)) {
        Some(meant) => format!("did you mean `{meant}`?"),
        None => {
            "check its name (`shipdeck flags list PLAN` shows the flags a file holds)".to_string()
        }
    };
    FlagError::NotFound {
        where_,
        flag: flag.to_string(),
        hint,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FlagError {
    /// The flag file is not where the plan says it is.
    #[error("flag file {} does not exist; {hint}", path.display())]
    Missing { path: PathBuf, hint: String },
    /// The operating system refused a read or a write.
    #[error("{}: cannot {action}: {error}; {hint}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        error: std::io::Error,
        hint: String,
    },
    /// The file is not valid YAML or JSON, or not in the shape a flag file has.
    #[error("{}:{line}:{column}: {message}; {hint}", path.display())]
    Invalid {
        path: PathBuf,
        line: u64,
        column: u64,
        message: String,
        hint: String,
    },
    /// A JSON flag file whose structure is valid JSON but not a flag definition shipdeck
    /// can read; `at` is the dotted path of the offending value.
    #[error("{}: {at}: {message}; {hint}", path.display())]
    Shape {
        path: PathBuf,
        at: String,
        message: String,
        hint: String,
    },
    /// The flag is written in a form shipdeck will not edit without risking the file.
    #[error("{}:{line}:{column}: will not edit flag `{flag}`: {reason}; {hint}", path.display())]
    Unsupported {
        path: PathBuf,
        line: u64,
        column: u64,
        flag: String,
        reason: String,
        hint: String,
    },
    /// The file or its folder is marked read-only; shipdeck will not write around that.
    #[error("{} is read-only; {hint}", path.display())]
    ReadOnly { path: PathBuf, hint: String },
    /// The edited text did not read back as intended, so it was never written.
    #[error(
        "{}: editing flag `{flag}` would not have given the intended result ({detail}); \
         the file was left untouched — edit the flag by hand and report the file's shape",
        path.display()
    )]
    Verify {
        path: PathBuf,
        flag: String,
        detail: String,
    },
    /// Someone else kept rewriting the file while shipdeck tried to apply its change.
    #[error(
        "{}: the file kept changing while flag `{flag}` was being written; nothing was written, \
         try again once the other writer is done",
        path.display()
    )]
    Contended { path: PathBuf, flag: String },
    /// The flag changed outside shipdeck since shipdeck last looked, and the change being
    /// written was decided on the old value: nothing was written over the new one.
    #[error(
        "{where_}: flag `{flag}` was changed outside shipdeck (now {}) while a change was being \
         written; nothing was written over it — look at the change, then resume",
        .found.summary()
    )]
    ChangedOutside {
        where_: String,
        flag: String,
        found: Box<FlagState>,
    },
    /// The flag was there when shipdeck last looked and is gone now: deleted outside
    /// shipdeck. Nothing was created in its place; a change that turns the flag off is
    /// never refused this way.
    #[error(
        "{where_}: flag `{flag}` is gone (deleted outside shipdeck) while a change was being \
         written; nothing was created in its place — find out why, then resume to write it again"
    )]
    Vanished { where_: String, flag: String },
    /// Unleash refused a call or answered with something shipdeck cannot use.
    #[error("unleash {url}: {message}; {hint}")]
    Unleash {
        url: String,
        message: String,
        hint: String,
    },
    /// The flag asked about is not in the backend.
    #[error("{where_}: no flag `{flag}`; {hint}")]
    NotFound {
        where_: String,
        flag: String,
        hint: String,
    },
    /// A desired rollout outside 0..=100%.
    #[error("flag `{flag}`: rollout {percent}% is outside 0..=100%; pick a percent from 0 to 100")]
    Percent { flag: String, percent: u8 },
    #[error("{0}")]
    Other(String),
}

/// A place the flag lives. Implementations are driven from a tokio task; every call may be slow.
pub trait FlagBackend: Send {
    /// A short human description: `file flags.yaml`, `unleash http://…/ project default`.
    fn describe(&self) -> String;
    /// The flag as the backend holds it now; `None` when the flag does not exist.
    fn read(&mut self) -> BoxFuture<'_, Result<Option<FlagState>, FlagError>>;
    /// Make the flag match `desired` (creating it when missing), then read it back.
    /// Rolling back is `enabled: false` and it must be written before any other change.
    fn write<'a>(
        &'a mut self,
        desired: &'a DesiredFlag,
    ) -> BoxFuture<'a, Result<FlagState, FlagError>>;
    /// The file the flag lives in, when it is a local file whose edits a watcher can see.
    fn watched_file(&self) -> Option<&std::path::Path> {
        None
    }
}

/// One atomic write of a flag change. Turning a flag off takes two: first only
/// `enabled: false`, then the rest, so a crash between them leaves the flag off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteStep {
    /// Turn the flag off and touch nothing else (creates the flag when it is missing).
    DisableOnly,
    /// Write everything `desired` says.
    Apply,
}

/// The writes that bring a flag to `desired`, in the order they must land.
pub(crate) fn write_steps(desired: &DesiredFlag) -> &'static [WriteStep] {
    if desired.enabled {
        &[WriteStep::Apply]
    } else {
        &[WriteStep::DisableOnly, WriteStep::Apply]
    }
}

/// What the flag must look like once `step` has landed, starting from `current`.
/// A flag that does not exist yet takes its kind from `kind`.
pub(crate) fn step_target(
    step: WriteStep,
    desired: &DesiredFlag,
    current: Option<&FlagState>,
    kind: FlagKind,
) -> FlagState {
    let wanted = FlagState {
        enabled: desired.enabled,
        rollout: f64::from(desired.percent) / 100.0,
        groups: desired.groups.clone(),
        kind: current.map_or(kind, |c| c.kind),
    };
    match (step, current) {
        (WriteStep::DisableOnly, Some(current)) => FlagState {
            enabled: false,
            ..current.clone()
        },
        // A missing flag is created whole; `desired` is off, so it is created off.
        (WriteStep::DisableOnly, None) | (WriteStep::Apply, _) => wanted,
    }
}

/// Rejects a desired percent above 100 before anything is written.
pub(crate) fn check_percent(flag: &str, desired: &DesiredFlag) -> Result<(), FlagError> {
    if desired.percent > 100 {
        return Err(FlagError::Percent {
            flag: flag.to_string(),
            percent: desired.percent,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(enabled: bool, percent: u8) -> DesiredFlag {
        DesiredFlag {
            enabled,
            percent,
            groups: vec!["beta-testers".into()],
        }
    }

    fn live() -> FlagState {
        FlagState {
            enabled: true,
            rollout: 0.25,
            groups: vec!["internal".into()],
            kind: FlagKind::Ops,
        }
    }

    #[test]
    fn turning_off_writes_the_disable_first() {
        assert_eq!(
            write_steps(&desired(false, 0)),
            &[WriteStep::DisableOnly, WriteStep::Apply]
        );
        assert_eq!(write_steps(&desired(true, 50)), &[WriteStep::Apply]);
    }

    #[test]
    fn disable_step_changes_only_enabled() {
        let d = desired(false, 0);
        let after_first = step_target(WriteStep::DisableOnly, &d, Some(&live()), FlagKind::Release);
        assert_eq!(
            after_first,
            FlagState {
                enabled: false,
                ..live()
            }
        );
        let after_second = step_target(WriteStep::Apply, &d, Some(&after_first), FlagKind::Release);
        assert_eq!(
            after_second,
            FlagState {
                enabled: false,
                rollout: 0.0,
                groups: vec!["beta-testers".into()],
                kind: FlagKind::Ops,
            }
        );
    }

    #[test]
    fn a_missing_flag_is_created_with_the_backend_kind() {
        let d = desired(false, 0);
        let created = step_target(WriteStep::DisableOnly, &d, None, FlagKind::Experiment);
        assert!(!created.enabled);
        assert_eq!(created.rollout, 0.0);
        assert_eq!(created.kind, FlagKind::Experiment);
    }

    #[test]
    fn percent_above_100_is_refused() {
        assert!(check_percent("f", &desired(true, 100)).is_ok());
        let err = check_percent("f", &desired(true, 101)).unwrap_err();
        assert!(err.to_string().contains("101%"), "{err}");
    }
}
