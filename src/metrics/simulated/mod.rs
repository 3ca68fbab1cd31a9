//! metrics::simulated: a seeded, deterministic world whose health reacts to the live
//! rollout (the demo and the tests). Owns the scenarios; never reads a clock, a file or
//! the network: every value is a pure function of (seed, series, sample time, exposure,
//! incident onset), so `poll` and `history` agree and a run replays exactly.

use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use std::time::Duration;

mod arms;

use super::MetricsSource;
use crate::engine::values::{ArmKey, Batch, Exposure, Outcome, Reading};
use crate::plan::{ArmScenario, ArmSeries, Scenario, Series};

const UNKNOWN_SERIES: &str = "the simulated source knows error_rate, p95, cpu, memory";

/// The incident's bug shows at this exposure and above.
const INCIDENT_PERCENT: u8 = 25;
/// Time from onset to the full incident error rate (passes 5% after about two minutes).
const INCIDENT_RAMP_MS: f64 = 150_000.0;
/// Time from disabling the flag to baseline again.
const RECOVERY_MS: f64 = 90_000.0;
/// Slow burn: p95 grows by this fraction per hour of exposure.
const SLOW_BURN_PER_HOUR: f64 = 0.10;
const HOUR_MS: f64 = 3_600_000.0;
/// Smooth noise changes course at most once per this many milliseconds.
const NOISE_KNOT_MS: i64 = 60_000;
/// Flaky: a cycle of this many intervals holds one gap of `FLAKY_GAP` intervals.
const FLAKY_CYCLE: i64 = 40;
const FLAKY_GAP: i64 = 6;
const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    ErrorRate,
    P95,
    Cpu,
    Memory,
}

impl Known {
    fn from_name(name: &str) -> Option<Known> {
        match name {
            "error_rate" => Some(Known::ErrorRate),
            "p95" => Some(Known::P95),
            "cpu" => Some(Known::Cpu),
            "memory" => Some(Known::Memory),
            _ => None,
        }
    }

    /// Keeps each series' noise independent of the others'.
    fn salt(self) -> u64 {
        match self {
            Known::ErrorRate => 0x6572_725f_7261_7465,
            Known::P95 => 0x7039_3500_0000_0000,
            Known::Cpu => 0x6370_7500_0000_0000,
            Known::Memory => 0x6d65_6d6f_7279_0000,
        }
    }
}

/// One stretch of exposure to the scenario's bad code: from `onset` (the first poll that
/// exposed it) to `end` (the first poll that no longer did), in epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Episode {
    onset: i64,
    end: Option<i64>,
    /// The live percent while exposed (the last one seen once it ended).
    percent: u8,
}

impl Episode {
    /// How far the episode has progressed at `t`, shaped by `active` (a function of the
    /// milliseconds exposed); after the end it fades linearly to zero over `RECOVERY_MS`.
    fn level(&self, t: i64, active: impl Fn(f64) -> f64) -> f64 {
        match self.end {
            Some(end) if t >= end => {
                let faded = 1.0 - (t - end) as f64 / RECOVERY_MS;
                active((end - self.onset) as f64) * faded.max(0.0)
            }
            _ => active((t - self.onset) as f64),
        }
    }
}

fn incident_severity(exposed_ms: f64) -> f64 {
    (exposed_ms / INCIDENT_RAMP_MS).clamp(0.0, 1.0)
}

fn slow_burn_hours(exposed_ms: f64) -> f64 {
    exposed_ms.max(0.0) / HOUR_MS
}

/// The simulated metrics source: a seeded healthy, incident, slow-burn or flaky service.
#[derive(Debug, Clone)]
pub struct Simulated {
    scenario: Scenario,
    seed: u64,
    series: Vec<String>,
    interval_ms: i64,
    /// The exposure of the latest poll; `history` describes the world under it.
    exposure: Exposure,
    episode: Option<Episode>,
    /// What the canary arm does, and the judged series measured per arm (none: no arms).
    arm_scenario: ArmScenario,
    arms: Vec<ArmKey>,
}

impl Simulated {
    pub fn new(scenario: Scenario, seed: u64, series: &[Series]) -> Simulated {
        Simulated {
            scenario,
            seed,
            series: series.iter().map(|s| s.name.clone()).collect(),
            interval_ms: DEFAULT_INTERVAL.as_millis() as i64,
            exposure: Exposure::default(),
            episode: None,
            arm_scenario: ArmScenario::Healthy,
            arms: Vec::new(),
        }
    }

    /// Measures `arms` for the canary and the baseline, the canary behaving as `scenario`
    /// says; the aggregate series then carry the canary's share of its difference.
    pub fn with_arms(mut self, scenario: ArmScenario, arms: &[ArmSeries]) -> Simulated {
        self.arm_scenario = scenario;
        self.arms = arms.iter().map(|a| a.key.clone()).collect();
        self
    }

    /// Sizes the flaky scenario's gaps in the plan's polling interval (default 15s), so a
    /// gap always spans several intervals and goes stale.
    pub fn with_interval(mut self, interval: Duration) -> Simulated {
        self.interval_ms = (interval.as_millis().min(i64::MAX as u128) as i64).max(1);
        self
    }

    /// When the current (or last) incident or slow burn began, if it has.
    pub fn onset(&self) -> Option<DateTime<Utc>> {
        self.episode
            .and_then(|e| DateTime::<Utc>::from_timestamp_millis(e.onset))
    }

    fn exposed(&self, exposure: Exposure) -> bool {
        match self.scenario {
            Scenario::Incident => exposure.enabled && exposure.percent >= INCIDENT_PERCENT,
            Scenario::SlowBurn => exposure.enabled && exposure.percent > 0,
            Scenario::Healthy | Scenario::Flaky => false,
        }
    }

    /// Remembers onsets and ends of exposure; the only state the values depend on.
    fn observe(&mut self, t: i64, exposure: Exposure) {
        let exposed = self.exposed(exposure);
        match (&mut self.episode, exposed) {
            (None, true) => {
                self.episode = Some(Episode {
                    onset: t,
                    end: None,
                    percent: exposure.percent,
                });
            }
            (Some(ep), true) if ep.end.is_some() => {
                // Re-exposed while recovering: start from the residual level, not from zero,
                // so the curve stays continuous.
                let residual_ms = match self.scenario {
                    Scenario::SlowBurn => ep.level(t, slow_burn_hours) * HOUR_MS,
                    _ => ep.level(t, incident_severity) * INCIDENT_RAMP_MS,
                };
                *ep = Episode {
                    onset: t - residual_ms as i64,
                    end: None,
                    percent: exposure.percent,
                };
            }
            (Some(ep), true) => ep.percent = exposure.percent,
            (Some(ep), false) if ep.end.is_none() && t >= ep.onset => ep.end = Some(t),
            _ => {}
        }
        self.exposure = exposure;
    }

    fn batch(&self, t: i64, at: DateTime<Utc>) -> Batch {
        Batch {
            arms: self.arm_readings(t),
            at,
            readings: self
                .series
                .iter()
                .map(|name| Reading {
                    series: name.clone(),
                    outcome: self.outcome(name, t),
                })
                .collect(),
        }
    }

    fn outcome(&self, name: &str, t: i64) -> Outcome {
        let Some(known) = Known::from_name(name) else {
            return Outcome::Error(UNKNOWN_SERIES.to_string());
        };
        if self.scenario == Scenario::Flaky
            && let Some(gap) = self.flaky_gap(t)
        {
            return gap;
        }
        Outcome::Value(self.value(known, t))
    }

    /// Inside a flaky gap: the outcome every series gets there.
    fn flaky_gap(&self, t: i64) -> Option<Outcome> {
        let slot = t.div_euclid(self.interval_ms);
        let cycle = slot.div_euclid(FLAKY_CYCLE);
        let h = hash3(self.seed, 0x666c_616b_7900_0000, cycle as u64);
        let start = (h % (FLAKY_CYCLE - FLAKY_GAP + 1) as u64) as i64;
        let pos = slot.rem_euclid(FLAKY_CYCLE);
        if pos < start || pos >= start + FLAKY_GAP {
            return None;
        }
        Some(if (h >> 32) & 1 == 0 {
            Outcome::NoData
        } else {
            Outcome::Error("connection reset".to_string())
        })
    }

    /// The live share of users on the new code, 0.0..=1.0.
    fn share(&self) -> f64 {
        if self.exposure.enabled {
            f64::from(self.exposure.percent.min(100)) / 100.0
        } else {
            0.0
        }
    }

    /// (incident severity 0..=1, the percent it broke at, slow-burn hours) at `t`.
    fn levels(&self, t: i64) -> (f64, u8, f64) {
        let (incident, incident_percent) = match (self.scenario, self.episode) {
            (Scenario::Incident, Some(ep)) => (ep.level(t, incident_severity), ep.percent),
            _ => (0.0, INCIDENT_PERCENT),
        };
        let burn_hours = match (self.scenario, self.episode) {
            (Scenario::SlowBurn, Some(ep)) => ep.level(t, slow_burn_hours),
            _ => 0.0,
        };
        (incident, incident_percent, burn_hours)
    }

    fn value(&self, known: Known, t: i64) -> f64 {
        let share = self.share();
        let n = noise(self.seed, known.salt(), t);
        let (incident, incident_percent, burn_hours) = self.levels(t);
        // With arms, the whole fleet carries the canary's share of its difference.
        let arm = if self.arms.is_empty() {
            1.0
        } else {
            1.0 + share * (arms::factor(self.arm_scenario, known) - 1.0)
        };
        match known {
            Known::ErrorRate => {
                // The new code costs a little: +0.04 points of errors at 100%.
                let healthy = (0.001 + 0.0004 * share) * arm;
                // A broken release sits at 6.5% (at 25%) to 8% (at 100%) once fully ramped.
                let over = f64::from(incident_percent.saturating_sub(INCIDENT_PERCENT)) / 75.0;
                let broken = 0.065 + 0.015 * over.min(1.0);
                let mean = healthy + incident * (broken - healthy);
                (mean + n * (0.0002 + 0.003 * incident)).max(0.0)
            }
            Known::P95 => {
                let healthy = 0.300 * (1.0 + 0.04 * share) * arm;
                let degraded =
                    healthy * (1.0 + 1.5 * incident) * (1.0 + SLOW_BURN_PER_HOUR * burn_hours);
                (degraded * (1.0 + 0.03 * n)).max(0.0)
            }
            Known::Cpu => {
                ((0.40 + 0.03 * share) * arm + 0.05 * incident + 0.02 * n).clamp(0.0, 1.0)
            }
            Known::Memory => ((0.60 + 0.02 * share) * arm + 0.01 * n).clamp(0.0, 1.0),
        }
    }
}

impl MetricsSource for Simulated {
    fn describe(&self) -> String {
        format!("simulated {} (seed {})", self.scenario.name(), self.seed)
    }

    fn poll(&mut self, at: DateTime<Utc>, exposure: Exposure) -> BoxFuture<'_, Batch> {
        let t = at.timestamp_millis();
        self.observe(t, exposure);
        futures::future::ready(self.batch(t, at)).boxed()
    }

    fn history(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        step: Duration,
    ) -> BoxFuture<'_, Vec<Batch>> {
        let mut batches = Vec::new();
        if let Ok(step) = chrono::Duration::from_std(step)
            && step > chrono::Duration::zero()
        {
            let mut at = from;
            while at < to {
                batches.push(self.batch(at.timestamp_millis(), at));
                match at.checked_add_signed(step) {
                    Some(next) => at = next,
                    None => break,
                }
            }
        }
        futures::future::ready(batches).boxed()
    }
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn hash3(seed: u64, salt: u64, k: u64) -> u64 {
    splitmix64(seed ^ splitmix64(salt ^ splitmix64(k)))
}

/// Uniform in [-1, 1).
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

/// Noise in [-1, 1]: a smooth wander between knots a minute apart (so sparklines look like
/// real traffic) plus a little per-sample jitter.
fn noise(seed: u64, salt: u64, t: i64) -> f64 {
    let knot = t.div_euclid(NOISE_KNOT_MS);
    let frac = t.rem_euclid(NOISE_KNOT_MS) as f64 / NOISE_KNOT_MS as f64;
    let a = unit(hash3(seed, salt, knot as u64));
    let b = unit(hash3(seed, salt, knot.wrapping_add(1) as u64));
    let eased = frac * frac * (3.0 - 2.0 * frac);
    let smooth = a + (b - a) * eased;
    let jitter = unit(hash3(seed, salt ^ 0x6a69_7474_6572, t as u64));
    0.7 * smooth + 0.3 * jitter
}
