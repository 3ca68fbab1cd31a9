//! metrics: where health numbers come from (simulated, prometheus, replay). Owns every
//! query; never judges a value (guardrails do) and never blocks the screen.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use std::time::Duration;

/// What users are exposed to right now; the simulated world reacts to it, real sources ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Exposure {
    pub enabled: bool,
    pub percent: u8,
}

/// One series' answer at one instant.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum Outcome {
    Value(f64),
    /// The source answered, with nothing: missing, never zero.
    NoData,
    /// The source failed for this series (timeout, HTTP error, bad query); the text says why.
    Error(String),
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reading {
    pub series: String,
    pub outcome: Outcome,
}

/// Every series' reading at one instant of the engine clock.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Batch {
    pub at: DateTime<Utc>,
    pub readings: Vec<Reading>,
}

/// A source of metric samples, asked at the engine's clock, never at "now".
pub trait MetricsSource: Send {
    fn describe(&self) -> String;
    /// One reading per plan series at `at`.
    fn poll(&mut self, at: DateTime<Utc>, exposure: Exposure) -> BoxFuture<'_, Batch>;
    /// Batches every `step` over `[from, to)`, oldest first; fills sparklines and the baseline.
    fn history(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        step: Duration,
    ) -> BoxFuture<'_, Vec<Batch>>;
}
