//! judge: `shipdeck judge`, the canary judge run offline over two files of samples, so a
//! judge configuration can be tried on exported data. The judging is `canary`'s; this file
//! reads the files, builds the rule from flags and prints the verdict.

use serde_json::json;
use std::path::Path;

use super::args::{DirectionArg, EffectArg, JudgeArgs};
use super::samples;
use crate::app::headless::{NEEDS_HUMAN, ROLLED_BACK};
use crate::app::options::INVALID;
use crate::canary::{
    Classification, Direction, EffectMeasure, EffectSize, Outliers, SeriesRule, SeriesVerdict,
    judge_series,
};

/// Exit codes beside 0 for a pass: the ones `run --headless` gives a rollback and a
/// release that needs a person.
const FAILED: u8 = ROLLED_BACK;
const STARVED: u8 = NEEDS_HUMAN;

pub(super) fn judge(args: &JudgeArgs) -> u8 {
    let rule = match rule(args) {
        Ok(r) => r,
        Err(message) => {
            eprintln!("{message}");
            return INVALID;
        }
    };
    let (baseline, canary) = match (read(&args.baseline), read(&args.canary)) {
        (Ok(b), Ok(c)) => (b, c),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{e}");
            return INVALID;
        }
    };
    let verdict = judge_series(&rule, &canary, &baseline);
    if args.json {
        out!("{}", report_json(&rule, &verdict));
    } else {
        out_part!("{}", report_text(&rule, &verdict));
    }
    match verdict.classification {
        Classification::Pass => 0,
        Classification::High | Classification::Low => FAILED,
        Classification::NoData => STARVED,
    }
}

fn read(path: &Path) -> Result<Vec<f64>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read the samples: {e}", path.display()))?;
    samples::parse(path, &text).map_err(|e| e.to_string())
}

/// The rule the flags describe; a refusal names the flag.
fn rule(args: &JudgeArgs) -> Result<SeriesRule, String> {
    let measure = match args.effect_size {
        EffectArg::MeanRatio => EffectMeasure::MeanRatio,
        EffectArg::Cles => EffectMeasure::Cles,
    };
    let neutral = EffectSize::neutral(measure);
    let rule = SeriesRule {
        direction: match args.direction {
            DirectionArg::Increase => Direction::Increase,
            DirectionArg::Decrease => Direction::Decrease,
            DirectionArg::Either => Direction::Either,
        },
        confidence: args.confidence,
        tolerance: args.tolerance,
        effect: EffectSize {
            allowed_increase: args.allowed_increase.unwrap_or(neutral.allowed_increase),
            allowed_decrease: args.allowed_decrease.unwrap_or(neutral.allowed_decrease),
            ..neutral
        },
        critical: false,
        outliers: args
            .remove_outliers
            .map_or(Outliers::Keep, |factor| Outliers::Remove { factor }),
        min_samples: args.min_samples,
    };
    rule.check().map_err(|e| {
        let flag = match e {
            crate::canary::RuleError::Confidence(_) => "--confidence",
            crate::canary::RuleError::Tolerance(_) => "--tolerance",
            crate::canary::RuleError::OutlierFactor(_) => "--remove-outliers",
            crate::canary::RuleError::MinSamples => "--min-samples",
            crate::canary::RuleError::Effect(_) => "--allowed-increase/--allowed-decrease",
        };
        format!("{flag}: {e}")
    })?;
    Ok(rule)
}

/// Six significant digits, without trailing zeros: 43.849999999999994 → 43.85.
fn num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{}", v + 0.0);
    }
    let scale = 10f64.powi(5 - v.abs().log10().floor() as i32);
    let rounded = (v * scale).round() / scale;
    if rounded.abs() >= 1e-4 && rounded.abs() < 1e15 {
        format!("{rounded}")
    } else {
        format!("{rounded:e}")
    }
}

fn signed(v: f64) -> String {
    if v > 0.0 {
        format!("+{}", num(v))
    } else {
        num(v)
    }
}

fn p_text(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.2e}")
    } else {
        format!("{p:.4}")
    }
}

fn report_text(rule: &SeriesRule, v: &SeriesVerdict) -> String {
    let opt = |o: Option<f64>| o.map_or_else(|| "–".to_string(), num);
    let mut s = format!(
        "{:<10}{:>7}  {:>12}  {:>12}  dropped\n",
        "", "n", "median", "mean"
    );
    for (name, arm) in [("baseline", &v.baseline), ("canary", &v.canary)] {
        s += &format!(
            "{name:<10}{:>7}  {:>12}  {:>12}  {} missing, {} outliers\n",
            arm.n,
            opt(arm.median),
            opt(arm.mean),
            arm.dropped_missing,
            arm.dropped_outliers
        );
    }
    s.push('\n');
    if let Some(t) = &v.test {
        s += &format!(
            "Mann-Whitney U {}, two-sided p {}\n",
            num(t.u),
            p_text(t.p_value)
        );
        s += &format!(
            "shift (Hodges-Lehmann, canary − baseline) {}, {}% interval [{}, {}]\n",
            signed(t.estimate),
            num(t.confidence * 100.0),
            signed(t.ci_low),
            signed(t.ci_high)
        );
        if let Some((_, high)) = v.band {
            let measure = match rule.effect.measure {
                EffectMeasure::MeanRatio => "mean ratio",
                EffectMeasure::Cles => "CLES",
            };
            s += &format!(
                "tolerance band ±{} ({} × |shift|); effect size {} ({measure})\n",
                num(high),
                num(rule.tolerance),
                opt(v.effect)
            );
        }
    }
    s += &format!(
        "verdict {}: {}{}\n",
        v.classification.word().to_uppercase(),
        v.reason.text(),
        match v.classification {
            Classification::NoData => format!(" (min_samples {})", rule.min_samples),
            _ => String::new(),
        }
    );
    s
}

fn report_json(rule: &SeriesRule, v: &SeriesVerdict) -> serde_json::Value {
    let t = v.test.as_ref();
    json!({
        "verdict": v.classification,
        "reason": v.reason,
        "u": t.map(|t| t.u),
        "p_value": t.map(|t| t.p_value),
        "hl_estimate": t.map(|t| t.estimate),
        "ci_low": t.map(|t| t.ci_low),
        "ci_high": t.map(|t| t.ci_high),
        "confidence": rule.confidence,
        "confidence_reachable": t.map(|t| t.reachable),
        "tolerance": rule.tolerance,
        "band_low": v.band.map(|b| b.0),
        "band_high": v.band.map(|b| b.1),
        "effect_size": v.effect,
        "effect_measure": rule.effect.measure,
        "direction": rule.direction,
        "n_baseline": v.baseline.n,
        "n_canary": v.canary.n,
        "median_baseline": v.baseline.median,
        "median_canary": v.canary.median,
        "mean_baseline": v.baseline.mean,
        "mean_canary": v.canary.mean,
        "dropped_baseline": {"missing": v.baseline.dropped_missing, "outliers": v.baseline.dropped_outliers},
        "dropped_canary": {"missing": v.canary.dropped_missing, "outliers": v.canary.dropped_outliers},
    })
}

#[cfg(test)]
mod tests {
    use super::num;

    #[test]
    fn numbers_keep_six_significant_digits() {
        assert_eq!(num(43.849999999999994), "43.85");
        assert_eq!(num(37606.5), "37606.5");
        assert_eq!(num(-0.0), "0");
        assert_eq!(num(1.0 / 3.0), "0.333333");
        assert_eq!(num(1234567.0), "1234570");
        assert_eq!(num(0.000012345678), "1.23457e-5");
    }
}
