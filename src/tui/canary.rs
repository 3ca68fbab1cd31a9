//! tui::canary: the canary judge drawn — per compared series a row with both medians,
//! the shift's interval drawn against the tolerance band around zero, p, n and the
//! verdict; and, for the why pane, both arms' distributions as two compact histograms
//! on one scale. Pure: words and glyphs from the engine's report, no state.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::theme::Theme;
use super::{fit, fit_line};
use crate::canary::{Classification, Verdict};
use crate::engine::Engine;
use crate::engine::canary_report::{CanaryReport, Histogram, SeriesReport, p_text, shown};
use crate::engine::guardrail::format_value;
use crate::plan::{MetricsSpec, Unit};

/// Width of a series' name in a row.
const NAME_W: usize = 11;
/// Width of the interval drawing in a row.
pub(crate) const BAR_W: usize = 21;

/// The style a verdict is shown in.
pub(crate) fn verdict_style(theme: &Theme, v: Verdict) -> Style {
    match v {
        Verdict::Pass => theme.ok,
        Verdict::Marginal | Verdict::Starved => theme.warn,
        Verdict::Fail | Verdict::Untrusted => theme.bad,
    }
}

fn class_style(theme: &Theme, c: Classification) -> Style {
    match c {
        Classification::Pass => theme.ok,
        Classification::High | Classification::Low => theme.bad,
        Classification::NoData => theme.warn,
    }
}

/// The shift's interval against the band on one axis, `width` cells: `·` outside the
/// band, `░` the band (±tolerance·|shift|), `│` zero, `━` the interval and `●` the
/// estimate. An interval wholly outside the band is a High or Low.
pub(crate) fn interval_bar(s: &SeriesReport, width: usize) -> String {
    let Some(t) = s.verdict.test else {
        return " ".repeat(width);
    };
    let (band_lo, band_hi) = s.verdict.band.unwrap_or((0.0, 0.0));
    let lo = [t.ci_low, band_lo, 0.0]
        .into_iter()
        .fold(f64::INFINITY, f64::min);
    let hi = [t.ci_high, band_hi, 0.0]
        .into_iter()
        .fold(f64::NEG_INFINITY, f64::max);
    let span = hi - lo;
    if width < 3 || !span.is_finite() || span <= 0.0 {
        return " ".repeat(width);
    }
    let cell = |v: f64| (((v - lo) / span) * (width - 1) as f64).round() as usize;
    let mut cells = vec!['·'; width];
    for c in &mut cells[cell(band_lo)..=cell(band_hi)] {
        *c = '░';
    }
    for c in &mut cells[cell(t.ci_low)..=cell(t.ci_high)] {
        *c = '━';
    }
    cells[cell(0.0)] = '│';
    cells[cell(t.estimate)] = '●';
    cells.into_iter().collect()
}

fn unit_of(metrics: &MetricsSpec, name: &str) -> Unit {
    metrics.series(name).map_or(Unit::Count, |s| s.unit)
}

/// `p95  c 345ms b 300ms ·····░░│░░·━━●━━ +45.0ms p 4e-80 n 240/240 HIGH`, fitted to `width`.
pub(crate) fn series_row(
    theme: &Theme,
    metrics: &MetricsSpec,
    s: &SeriesReport,
    width: usize,
) -> Line<'static> {
    let unit = unit_of(metrics, &s.name);
    let v = &s.verdict;
    let median = |m: Option<f64>| m.map_or("–".into(), |m| format_value(m, unit));
    let medians = format!(
        " c {} b {} ",
        median(v.canary.median),
        median(v.baseline.median)
    );
    let stats = match &v.test {
        Some(t) => {
            format!(
                " {} p {} n {}/{} ",
                shown(Some(t.estimate), unit, true),
                p_text(t.p_value),
                v.canary.n,
                v.baseline.n
            )
        }
        None => format!(" n {}/{} ", v.canary.n, v.baseline.n),
    };
    let word = v.classification.word().to_uppercase();
    let fixed = NAME_W + medians.chars().count() + stats.chars().count() + word.chars().count();
    let bar = width.saturating_sub(fixed).min(BAR_W);
    let line = Line::from(vec![
        Span::styled(format!("{:<NAME_W$}", fit(&s.name, NAME_W)), theme.text),
        Span::styled(medians, theme.muted),
        Span::styled(interval_bar(s, bar), theme.accent),
        Span::styled(stats, theme.muted),
        Span::styled(word, class_style(theme, v.classification)),
    ]);
    fit_line(line, width)
}

/// The counts' row: errors per arm, the anytime-valid p, the split and the verdict.
pub(crate) fn counts_row(theme: &Theme, r: &CanaryReport, width: usize) -> Option<Line<'static>> {
    let c = r.counts?;
    let rate = |x: Option<f64>| x.map_or("–".into(), |x| format_value(x, Unit::Ratio));
    let split = if c.split.trusted {
        "split ok"
    } else {
        "SPLIT MISMATCH"
    };
    let text = format!(
        "{:<NAME_W$} c {} b {}  p {}  {split} ",
        "errors",
        rate(c.canary_rate),
        rate(c.baseline_rate),
        p_text(c.p_value)
    );
    let word = c.classification.word().to_uppercase();
    let line = Line::from(vec![
        Span::styled(text, theme.muted),
        Span::styled(word, class_style(theme, c.classification)),
    ]);
    Some(fit_line(line, width))
}

/// Eight heights per cell; an empty bin is blank so an empty arm reads as nothing.
const LEVELS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One arm's bins as block heights, scaled to the taller of the two arms.
pub(crate) fn histogram_row(bins: &[u32], tallest: u32) -> String {
    bins.iter()
        .map(|&b| {
            if b == 0 || tallest == 0 {
                LEVELS[0]
            } else {
                let level = (f64::from(b) / f64::from(tallest) * 8.0).ceil() as usize;
                LEVELS[level.clamp(1, 8)]
            }
        })
        .collect()
}

/// `canary   ▁▃▇█▅▂  ` and `baseline ▂▇█▅▂▁  ` with the scale's ends beneath.
pub(crate) fn histogram_lines(
    theme: &Theme,
    h: &Histogram,
    unit: Unit,
    width: usize,
) -> Vec<Line<'static>> {
    let tallest = h
        .canary
        .iter()
        .chain(&h.baseline)
        .copied()
        .max()
        .unwrap_or(0);
    if tallest == 0 {
        return vec![Line::from(Span::styled("no samples yet", theme.muted))];
    }
    let row = |name: &str, bins: &[u32], style: Style| {
        Line::from(vec![
            Span::styled(format!("  {name:<9}"), theme.muted),
            Span::styled(
                fit(&histogram_row(bins, tallest), width.saturating_sub(11)),
                style,
            ),
        ])
    };
    let lo = format_value(h.lo, unit);
    let hi = format_value(h.hi, unit);
    let gap = h
        .canary
        .len()
        .saturating_sub(lo.chars().count() + hi.chars().count());
    vec![
        row("canary", &h.canary, theme.accent),
        row("baseline", &h.baseline, theme.text),
        Line::from(Span::styled(
            fit(
                &format!("{:11}{lo}{}{hi}", "", " ".repeat(gap.max(1))),
                width,
            ),
            theme.muted,
        )),
    ]
}

/// The judge in the Health pane: a title with its verdict, then a row per compared
/// series and one for the counts. Empty without a `canary:` section.
pub(crate) fn health_lines(
    theme: &Theme,
    engine: &Engine,
    why_key: Option<&str>,
    width: usize,
) -> Vec<Line<'static>> {
    let Some(spec) = engine.plan().canary.as_ref() else {
        return Vec::new();
    };
    let metrics = &engine.plan().metrics;
    let explains = why_key
        .map(|k| format!(" · {k} explains"))
        .unwrap_or_default();
    let Some(r) = engine.canary() else {
        let waiting = if engine.phase().is_live() {
            "judges a step between 1% and 99% once its flag change is confirmed"
        } else {
            "judges the canary beside its baseline once a step is live"
        };
        return vec![Line::styled(
            fit(&format!(" canary judge: {waiting}"), width),
            theme.muted,
        )];
    };
    let waived = r
        .waived_by
        .as_ref()
        .map(|w| format!(" · waived by {w}"))
        .unwrap_or_default();
    let headline = r.headline();
    let verdict = headline
        .strip_prefix("canary ")
        .unwrap_or(&headline)
        .to_string();
    let used = 15 + verdict.chars().count();
    let mut lines = vec![Line::from(vec![
        Span::styled(" canary judge: ", theme.muted),
        Span::styled(
            fit(&verdict, width.saturating_sub(15)),
            verdict_style(theme, r.score.verdict),
        ),
        Span::styled(
            fit(&format!("{waived}{explains}"), width.saturating_sub(used)),
            theme.muted,
        ),
    ])];
    let indent = |l: Line<'static>| {
        let mut spans = vec![Span::raw(" ")];
        spans.extend(l.spans);
        Line::from(spans)
    };
    for s in &r.series {
        lines.push(indent(series_row(
            theme,
            metrics,
            s,
            width.saturating_sub(1),
        )));
    }
    if spec.counts.is_some() {
        lines.extend(counts_row(theme, r, width.saturating_sub(1)).map(indent));
    }
    lines
}

/// How many lines [`health_lines`] draws for this plan.
pub(crate) fn health_rows(engine: &Engine) -> usize {
    match engine.plan().canary.as_ref() {
        Some(spec) if engine.canary().is_some() => {
            1 + spec.compare.len() + usize::from(spec.counts.is_some())
        }
        Some(_) => 1,
        None => 0,
    }
}

/// Everything the judge saw, for the why pane: the headline, each series' row with both
/// arms' histograms beneath it, and the counts.
pub(crate) fn judge_lines(
    theme: &Theme,
    metrics: &MetricsSpec,
    r: &CanaryReport,
    width: usize,
) -> Vec<Line<'static>> {
    let at = r.at.format("%H:%M:%S");
    let mut lines = vec![Line::from(vec![
        Span::styled(
            fit(&r.headline(), width.saturating_sub(12)),
            verdict_style(theme, r.score.verdict),
        ),
        Span::styled(format!("  at {at}"), theme.muted),
    ])];
    for s in &r.series {
        lines.push(series_row(theme, metrics, s, width));
        lines.extend(histogram_lines(
            theme,
            &s.histogram,
            unit_of(metrics, &s.name),
            width,
        ));
    }
    lines.extend(counts_row(theme, r, width));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canary::{ArmSummary, RankSum, Reason, SeriesVerdict};

    fn report(estimate: f64, low: f64, high: f64, band: f64) -> SeriesReport {
        let arm = ArmSummary {
            n: 240,
            dropped_missing: 0,
            dropped_outliers: 0,
            median: Some(0.3),
            mean: Some(0.3),
        };
        SeriesReport {
            name: "p95".into(),
            verdict: SeriesVerdict {
                classification: Classification::High,
                critical_failure: false,
                reason: Reason::OutsideTolerance,
                canary: arm,
                baseline: arm,
                test: Some(RankSum {
                    u: 1.0,
                    p_value: 1e-9,
                    estimate,
                    ci_low: low,
                    ci_high: high,
                    confidence: 0.98,
                    reachable: true,
                }),
                band: Some((-band, band)),
                effect: Some(1.15),
            },
            histogram: Histogram::default(),
        }
    }

    #[test]
    fn an_interval_above_the_band_is_drawn_right_of_it() {
        let bar = interval_bar(&report(0.045, 0.040, 0.050, 0.011), 21);
        assert_eq!(bar.chars().count(), 21);
        let zero = bar.chars().position(|c| c == '│').unwrap();
        let dot = bar.chars().position(|c| c == '●').unwrap();
        let first_bar = bar.chars().position(|c| c == '━').unwrap();
        let cells: Vec<char> = bar.chars().collect();
        let last_band = cells.iter().rposition(|c| *c == '░').unwrap();
        assert!(
            zero < last_band && last_band < first_bar && first_bar < dot,
            "{bar}"
        );
    }

    #[test]
    fn an_interval_across_zero_covers_it() {
        let bar = interval_bar(&report(0.001, -0.002, 0.004, 0.000_25), 21);
        let zero = bar.chars().position(|c| c == '│').unwrap();
        let first = bar.chars().position(|c| c == '━').unwrap();
        let cells: Vec<char> = bar.chars().collect();
        let last = cells.iter().rposition(|c| *c == '━').unwrap();
        assert!(first < zero && zero < last, "{bar}");
    }

    #[test]
    fn no_test_draws_blank() {
        let mut s = report(0.0, 0.0, 0.0, 0.0);
        s.verdict.test = None;
        assert_eq!(interval_bar(&s, 5), "     ");
    }

    #[test]
    fn histograms_scale_to_the_taller_arm() {
        assert_eq!(histogram_row(&[0, 1, 4, 8], 8), " ▁▄█");
        assert_eq!(histogram_row(&[2, 2], 0), "  ");
    }
}
