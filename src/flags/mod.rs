//! flags: feature-flag backends and bucketing. Owns every read and write of a flag;
//! never decides what the flag should be (that is the engine's job).

use futures::future::BoxFuture;

use crate::plan::FlagKind;

/// A flag as a backend holds it, in the reference shape `{enabled, rollout, userGroups, kind}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FlagState {
    pub enabled: bool,
    /// 0.0..=1.0 of users outside the groups.
    pub rollout: f64,
    /// Users in any of these groups always get the flag (while enabled).
    pub groups: Vec<String>,
    pub kind: FlagKind,
}

impl FlagState {
    /// The rollout as a whole percent, the unit steps are written in.
    pub fn percent(&self) -> u8 {
        (self.rollout.clamp(0.0, 1.0) * 100.0).round() as u8
    }
}

/// What the engine wants the flag to be. The backend writes it and reads it back.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DesiredFlag {
    pub enabled: bool,
    pub percent: u8,
    pub groups: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FlagError {
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
}
