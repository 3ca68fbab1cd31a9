//! engine::canary_report: the canary judge's last word on the current step — per series
//! the medians, the shift and its interval against the tolerance band, p and n per arm,
//! the verdict and both distributions; the counts; the score. Kept in the saved state so
//! every screen, `status`, the journal and the postmortem show the same thing, in the
//! same words.

use chrono::{DateTime, Utc};

use crate::canary::{Classification, CountsVerdict, Score, ScoreReason, SeriesVerdict, Verdict};
use crate::plan::{MetricsSpec, Unit};

use super::guardrail::format_value;

/// Bars in each arm's histogram.
pub const HISTOGRAM_BINS: usize = 12;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CanaryReport {
    /// The sample time of the last judgement.
    pub at: DateTime<Utc>,
    pub step: usize,
    pub step_name: String,
    /// The canary's share of users the arms were judged at.
    pub percent: u8,
    pub series: Vec<SeriesReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<CountsVerdict>,
    pub score: Score,
    /// The verdict that acted this step (a pause, a rollback, an alert, or the pass that
    /// let the bake complete); the judge acts on a verdict once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acted: Option<Verdict>,
    /// Who resumed past the judge's pause: its verdict no longer holds this step back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waived_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SeriesReport {
    pub name: String,
    pub verdict: SeriesVerdict,
    pub histogram: Histogram,
}

/// Both arms' samples in the same bins over `[lo, hi]`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Histogram {
    pub lo: f64,
    pub hi: f64,
    pub canary: Vec<u32>,
    pub baseline: Vec<u32>,
}

impl Histogram {
    pub fn of(canary: &[f64], baseline: &[f64]) -> Histogram {
        let all = || {
            canary
                .iter()
                .chain(baseline)
                .copied()
                .filter(|v| v.is_finite())
        };
        let lo = all().fold(f64::INFINITY, f64::min);
        let hi = all().fold(f64::NEG_INFINITY, f64::max);
        if !(lo.is_finite() && hi.is_finite()) {
            return Histogram::default();
        }
        let bins = |values: &[f64]| {
            let mut out = vec![0u32; HISTOGRAM_BINS];
            for v in values.iter().filter(|v| v.is_finite()) {
                let i = if hi > lo {
                    (((v - lo) / (hi - lo)) * HISTOGRAM_BINS as f64) as usize
                } else {
                    0
                };
                let slot = &mut out[i.min(HISTOGRAM_BINS - 1)];
                *slot = slot.saturating_add(1);
            }
            out
        };
        Histogram {
            lo,
            hi,
            canary: bins(canary),
            baseline: bins(baseline),
        }
    }
}

/// The word for a score's verdict, as every front-end shows it.
pub fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Marginal => "MARGINAL",
        Verdict::Fail => "FAIL",
        Verdict::Starved => "NO DATA",
        Verdict::Untrusted => "SPLIT MISMATCH",
    }
}

impl CanaryReport {
    /// `canary PASS 100 at Beta 5%` — the headline.
    pub fn headline(&self) -> String {
        let step = format!(" at {} {}%", self.step_name, self.percent);
        // A score means something only once every metric was judged and the split holds.
        let score = match self.score.verdict {
            Verdict::Pass | Verdict::Marginal | Verdict::Fail => {
                format!(" {:.0}", self.score.value)
            }
            Verdict::Starved | Verdict::Untrusted => String::new(),
        };
        format!(
            "canary {}{score}{step}{}",
            verdict_word(self.score.verdict),
            self.why().map_or(String::new(), |w| format!(": {w}"))
        )
    }

    /// Why the score is what it is, when the thresholds alone do not say.
    pub fn why(&self) -> Option<String> {
        match &self.score.reason {
            ScoreReason::Thresholds => None,
            ScoreReason::Critical { metric } => Some(format!("critical {metric} failed")),
            ScoreReason::FailsRegardless { starved } => Some(format!(
                "fails even if {} pass",
                starved.join(", ")
            )),
            ScoreReason::Starved { starved } => Some(format!("too little data for {}", starved.join(", "))),
            ScoreReason::SampleRatioMismatch => self.counts.map(|c| {
                format!(
                    "the canary got {} of requests, configured {}: the comparison cannot be trusted",
                    c.split
                        .observed_share
                        .map_or("none".to_string(), crate::plan::units::format_percent),
                    crate::plan::units::format_percent(c.split.expected_share)
                )
            }),
        }
    }

    /// One line per judged series and for the counts, in the series' units:
    /// `p95  canary 345ms  baseline 300ms  shift +45ms [+38ms, +52ms] band ±11ms  p 1.2e-9  n 240/240  HIGH`.
    pub fn lines(&self, metrics: &MetricsSpec) -> Vec<String> {
        let mut out: Vec<String> = self
            .series
            .iter()
            .map(|s| series_line(s, metrics))
            .collect();
        if let Some(c) = &self.counts {
            out.push(counts_line(c));
        }
        out
    }
}

/// A value in the series' unit; a shift keeps its sign and three significant digits, so
/// a shift of a small error rate does not read as 0.00%.
pub(crate) fn shown(v: Option<f64>, unit: Unit, signed: bool) -> String {
    match v {
        Some(v) if signed => {
            let sign = if v < 0.0 { "−" } else { "+" };
            format!("{sign}{}", precise(v.abs(), unit))
        }
        Some(v) => format_value(v, unit),
        None => "–".to_string(),
    }
}

/// `v` (≥ 0) in the unit's display scale with three significant digits.
fn precise(v: f64, unit: Unit) -> String {
    let (scaled, suffix) = match unit {
        Unit::Ratio => (v * 100.0, "%"),
        Unit::Seconds if v < 1.0 => (v * 1000.0, "ms"),
        Unit::Seconds => (v, "s"),
        Unit::PerSecond => (v, "/s"),
        Unit::Count => (v, ""),
    };
    if !scaled.is_finite() {
        return format_value(v, unit);
    }
    let decimals = if scaled == 0.0 {
        0
    } else {
        (2 - scaled.log10().floor() as i32).clamp(0, 6) as usize
    };
    format!("{scaled:.decimals$}{suffix}")
}

/// The shift as a share of the baseline's median: `+15.0%`.
fn relative(shift: f64, baseline: Option<f64>) -> Option<String> {
    let b = baseline.filter(|b| *b != 0.0 && b.is_finite())?;
    let r = shift / b * 100.0;
    r.is_finite()
        .then(|| format!("{}{:.1}%", if r < 0.0 { "−" } else { "+" }, r.abs()))
}

pub fn series_line(s: &SeriesReport, metrics: &MetricsSpec) -> String {
    let unit = metrics.series(&s.name).map_or(Unit::Count, |x| x.unit);
    let v = &s.verdict;
    let mut line = format!(
        "{}: canary {} baseline {}",
        s.name,
        shown(v.canary.median, unit, false),
        shown(v.baseline.median, unit, false)
    );
    if let Some(t) = &v.test {
        let rel = relative(t.estimate, v.baseline.median)
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        line.push_str(&format!(
            "; shift {}{rel} [{}, {}]",
            shown(Some(t.estimate), unit, true),
            shown(Some(t.ci_low), unit, true),
            shown(Some(t.ci_high), unit, true),
        ));
        if let Some((_, hi)) = v.band {
            line.push_str(&format!(" band ±{}", precise(hi, unit)));
        }
        line.push_str(&format!("; p {}", p_text(t.p_value)));
    }
    line.push_str(&format!(
        "; n {}/{} → {}",
        v.canary.n,
        v.baseline.n,
        v.classification.word().to_uppercase()
    ));
    if v.classification != Classification::Pass {
        line.push_str(&format!(" ({})", v.reason.text()));
    }
    line
}

pub fn counts_line(c: &CountsVerdict) -> String {
    let rate = |r: Option<f64>| r.map_or("–".to_string(), crate::plan::units::format_percent);
    format!(
        "errors: canary {} of {} ({}) baseline {} of {} ({}); p {} (anytime-valid); split {} → {}",
        c.errors.canary,
        c.requests.canary,
        rate(c.canary_rate),
        c.errors.baseline,
        c.requests.baseline,
        rate(c.baseline_rate),
        p_text(c.p_value),
        if c.split.trusted {
            "as configured"
        } else {
            "MISMATCH"
        },
        c.classification.word().to_uppercase()
    )
}

/// A p-value to two significant figures: `0.43`, `1.2e-9`.
pub fn p_text(p: f64) -> String {
    if p >= 0.01 {
        format!("{p:.2}")
    } else {
        format!("{p:.1e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_bins_both_arms_on_one_scale() {
        let h = Histogram::of(&[1.0, 2.0, 3.0], &[1.0, 1.0, 5.0]);
        assert_eq!((h.lo, h.hi), (1.0, 5.0));
        assert_eq!(h.canary.iter().sum::<u32>(), 3);
        assert_eq!(h.baseline.iter().sum::<u32>(), 3);
        assert_eq!(h.baseline[0], 2);
        assert_eq!(h.baseline[HISTOGRAM_BINS - 1], 1);
    }

    #[test]
    fn histogram_of_nothing_is_empty() {
        assert_eq!(Histogram::of(&[], &[f64::NAN]), Histogram::default());
    }

    #[test]
    fn shifts_keep_three_significant_digits() {
        assert_eq!(shown(Some(0.000_012_3), Unit::Ratio, true), "+0.00123%");
        assert_eq!(shown(Some(-0.045), Unit::Seconds, true), "−45.0ms");
        assert_eq!(shown(Some(1.5), Unit::Seconds, true), "+1.50s");
        assert_eq!(relative(0.045, Some(0.3)).as_deref(), Some("+15.0%"));
        assert_eq!(relative(0.045, Some(0.0)), None);
    }

    #[test]
    fn p_values_read_at_both_ends() {
        assert_eq!(p_text(0.4321), "0.43");
        assert_eq!(p_text(1.234e-9), "1.2e-9");
    }
}
