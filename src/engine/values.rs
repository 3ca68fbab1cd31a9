//! engine::values: the words the engine decides with — a flag as it is and as it should
//! be, what users are exposed to, and metric readings. Adapters convert their own formats
//! to and from these; nothing here knows a backend, a source or a file.

use chrono::{DateTime, Utc};

pub use crate::plan::ArmKey;
use crate::plan::{FlagKind, MetricsSpec, Unit};

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
    /// `on 25% +[internal]` or `off (rollout 25%)`, for messages.
    pub fn summary(&self) -> String {
        match (self.enabled, self.groups.is_empty()) {
            (false, _) => format!("off (rollout {}%)", self.percent()),
            (true, true) => format!("on {}%", self.percent()),
            (true, false) => format!("on {}% +[{}]", self.percent(), self.groups.join(", ")),
        }
    }

    /// The rollout as a whole percent, the unit steps are written in.
    pub fn percent(&self) -> u8 {
        (self.rollout.clamp(0.0, 1.0) * 100.0).round() as u8
    }

    /// Whether two states say the same thing; rollouts are compared as written
    /// decimals, not bit for bit.
    pub(crate) fn same_as(&self, other: &FlagState) -> bool {
        self.enabled == other.enabled
            && (self.rollout - other.rollout).abs() < 1e-9
            && self.groups == other.groups
            && self.kind == other.kind
    }
}

/// What the engine wants the flag to be. The backend writes it and reads it back.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DesiredFlag {
    pub enabled: bool,
    pub percent: u8,
    pub groups: Vec<String>,
}

impl DesiredFlag {
    /// `on 25% +[internal]` or `off`, worded as [`FlagState::summary`] words a flag.
    pub fn summary(&self) -> String {
        match (self.enabled, self.groups.is_empty()) {
            (false, _) => "off".to_string(),
            (true, true) => format!("on {}%", self.percent),
            (true, false) => format!("on {}% +[{}]", self.percent, self.groups.join(", ")),
        }
    }

    /// Whether `state` is what this asked for, as the engine judges it: an off flag is off
    /// whatever its rollout; an on flag has this percent and these groups in any order.
    pub(crate) fn is_met_by(&self, state: &FlagState) -> bool {
        if self.enabled != state.enabled {
            return false;
        }
        if !self.enabled {
            return true;
        }
        let mut wanted = self.groups.clone();
        let mut found = state.groups.clone();
        wanted.sort();
        found.sort();
        self.percent == state.percent() && wanted == found
    }
}

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

impl Outcome {
    /// The outcome as the engine may judge it. A value no reading of its unit can have —
    /// NaN, ±Inf, a negative ratio or duration — is an invalid sample: the source failed
    /// for this series, so it counts as missing data (stale, in time), never as a value.
    pub fn checked(self, unit: Unit) -> Outcome {
        let Outcome::Value(v) = self else {
            return self;
        };
        let kind = match unit {
            Unit::Ratio => "ratio",
            Unit::Seconds => "duration",
            // A rate or a count may fall below zero (deriv(), a difference of gauges).
            Unit::PerSecond | Unit::Count => "",
        };
        if !v.is_finite() {
            Outcome::Error(format!(
                "invalid sample {v}: not a number; counted as missing"
            ))
        } else if v < 0.0 && !kind.is_empty() {
            Outcome::Error(format!(
                "invalid sample {v}: a {kind} is never negative; counted as missing"
            ))
        } else {
            Outcome::Value(v)
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reading {
    pub series: String,
    pub outcome: Outcome,
}

/// One judged series measured for the canary and for the baseline at the same instant.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ArmReading {
    pub key: ArmKey,
    pub canary: Outcome,
    pub baseline: Outcome,
}

/// Every series' reading at one instant of the engine clock.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Batch {
    pub at: DateTime<Utc>,
    pub readings: Vec<Reading>,
    /// The canary judge's readings per arm; empty without a `canary:` section.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arms: Vec<ArmReading>,
}

impl Batch {
    /// Every reading of a series the plan names checked against its unit
    /// ([`Outcome::checked`]).
    pub fn checked(mut self, metrics: &MetricsSpec) -> Batch {
        for r in &mut self.readings {
            if let Some(series) = metrics.series(&r.series) {
                let outcome = std::mem::replace(&mut r.outcome, Outcome::NoData);
                r.outcome = outcome.checked(series.unit);
            }
        }
        self
    }

    /// The reading of `series` in this batch, if the batch has one.
    pub fn outcome(&self, series: &str) -> Option<&Outcome> {
        self.readings
            .iter()
            .find(|r| r.series == series)
            .map(|r| &r.outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> FlagState {
        FlagState {
            enabled: true,
            rollout: 0.25,
            groups: vec!["internal".into()],
            kind: FlagKind::Ops,
        }
    }

    #[test]
    fn same_as_tolerates_decimal_rounding() {
        let a = live();
        let b = FlagState {
            rollout: 0.1 + 0.15,
            ..live()
        };
        assert!(a.same_as(&b));
        assert!(!a.same_as(&FlagState {
            rollout: 0.26,
            ..live()
        }));
    }

    #[test]
    fn batch_finds_a_series() {
        let b = Batch {
            arms: Vec::new(),
            at: DateTime::<Utc>::UNIX_EPOCH,
            readings: vec![Reading {
                series: "p95".into(),
                outcome: Outcome::NoData,
            }],
        };
        assert_eq!(b.outcome("p95"), Some(&Outcome::NoData));
        assert_eq!(b.outcome("cpu"), None);
    }
}
