//! plan::read::canary: the `canary:` section — the compared series and the counts, with
//! the query each arm is measured by, the judge's settings and the score's actions. Every
//! setting is checked here, where it can be located, with the judge's own checks.

use std::collections::BTreeMap;

use super::Reader;
use super::metrics::ACTIONS;
use super::values::Fields;
use crate::canary::{
    CountsRule, Direction, EffectMeasure, EffectSize, Outliers, Scoring, SeriesRule,
};
use crate::plan::canary::ArmKey;
use crate::plan::canary::{ArmSeries, CanarySpec, Compared, CountsSpec};
use crate::plan::defaults::{DEFAULT_JUDGE_WINDOW, DEFAULT_STARVED_LIMIT};
use crate::plan::model::{Action, Series, SourceSpec};
use crate::plan::units;
use crate::plan::yaml::{Node, Value};

const KEYS: &[&str] = &[
    "arms",
    "compare",
    "counts",
    "confidence",
    "tolerance",
    "min_samples",
    "remove_outliers",
    "score",
    "on_marginal",
    "on_fail",
    "starved",
    "window",
];

const COMPARE_KEYS: &[&str] = &[
    "metric",
    "query",
    "canary",
    "baseline",
    "direction",
    "confidence",
    "tolerance",
    "min_samples",
    "remove_outliers",
    "critical",
    "group",
    "effect",
    "allowed_increase",
    "allowed_decrease",
    "critical_increase",
    "critical_decrease",
];

const COUNTS_KEYS: &[&str] = &[
    "errors",
    "requests",
    "direction",
    "confidence",
    "srm_confidence",
    "min_requests",
    "critical",
    "group",
];

const DIRECTIONS: [(&str, Direction); 3] = [
    ("increase", Direction::Increase),
    ("decrease", Direction::Decrease),
    ("either", Direction::Either),
];

const MEASURES: [(&str, EffectMeasure); 2] = [
    ("mean_ratio", EffectMeasure::MeanRatio),
    ("cles", EffectMeasure::Cles),
];

/// The placeholder a query template holds where the arm's label matcher goes.
pub(crate) const ARM_PLACEHOLDER: &str = "$arm";

/// `arms: {label: track, canary: canary, baseline: baseline}`: what `$arm` becomes.
struct ArmLabel {
    label: String,
    canary: String,
    baseline: String,
}

impl ArmLabel {
    fn matcher(&self, value: &str) -> String {
        format!(
            "{}=\"{}\"",
            self.label,
            value.replace('\\', "\\\\").replace('"', "\\\"")
        )
    }
}

/// The section's defaults for every compared series.
struct Common {
    confidence: f64,
    tolerance: f64,
    min_samples: usize,
    outliers: Outliers,
}

impl Reader {
    /// The judge and what it measures per arm; `series` are the metrics that read cleanly.
    pub(super) fn canary(
        &mut self,
        node: &Node,
        series: Option<&[Series]>,
        source: Option<&SourceSpec>,
    ) -> Option<(CanarySpec, Vec<ArmSeries>)> {
        let f = self.fields(node, "`canary`", KEYS)?;
        // Only a prometheus source needs queries: the simulated and replay ones know their arms.
        let queried = matches!(source, Some(SourceSpec::Prometheus { .. }));
        let arms = match f.get("arms") {
            Some(n) => self.arm_label(n).map(Some),
            None => Some(None),
        };
        let common = self.common(&f);
        let compare = match (f.get("compare"), &common, &arms) {
            (Some(n), Some(common), Some(arms)) => {
                self.compare(n, series, common, arms.as_ref(), queried)
            }
            (Some(_), _, _) => None,
            (None, _, _) => Some(Vec::new()),
        };
        let counts = match (f.get("counts"), &arms) {
            (Some(n), Some(arms)) => self.counts(n, arms.as_ref(), queried).map(Some),
            (Some(_), None) => None,
            (None, _) => Some(None),
        };
        if let (Some(c), Some(None)) = (&compare, &counts)
            && c.is_empty()
        {
            self.error(
                node,
                "`canary` judges nothing: it has no `compare` and no `counts`",
                Some("add `compare: [{metric: p95, direction: increase}]`".to_string()),
            );
            return None;
        }
        let scoring = match f.get("score") {
            Some(n) => self.scoring(n),
            None => Some(Scoring::default()),
        };
        let action = |r: &mut Reader, key: &str, default: Action| match f.get(key) {
            Some(n) => r.choice(n, key, &ACTIONS),
            None => Some(default),
        };
        let on_marginal = action(self, "on_marginal", Action::Pause);
        let on_fail = action(self, "on_fail", Action::Rollback);
        let starved_limit = match f.get("starved") {
            Some(n) => self.duration(n, "canary starved"),
            None => Some(DEFAULT_STARVED_LIMIT),
        };
        let window = match f.get("window") {
            Some(n) => self.positive_duration(n, "canary window"),
            None => Some(DEFAULT_JUDGE_WINDOW),
        };
        let compare = compare?;
        let (counts, count_arms) = counts?.unzip();
        let mut arm_series: Vec<ArmSeries> = compare.iter().map(|(_, a)| a.clone()).collect();
        arm_series.extend(count_arms.into_iter().flatten());
        Some((
            CanarySpec {
                compare: compare.into_iter().map(|(c, _)| c).collect(),
                counts,
                scoring: scoring?,
                on_marginal: on_marginal?,
                on_fail: on_fail?,
                starved_limit: starved_limit?,
                window: window?,
            },
            arm_series,
        ))
    }

    fn arm_label(&mut self, node: &Node) -> Option<ArmLabel> {
        let what = "`canary.arms`";
        let f = self.fields(node, what, &["label", "canary", "baseline"])?;
        let get = |r: &mut Reader, key: &str, hint: &str| {
            r.required(&f, key, what, hint).and_then(|n| r.text(n, key))
        };
        let label = get(
            self,
            "label",
            "add `label: track`, the label that tells the arms apart",
        );
        let canary = get(
            self,
            "canary",
            "add `canary: canary`, the label's value on the canary",
        );
        let baseline = get(
            self,
            "baseline",
            "add `baseline: baseline`, the label's value on the baseline",
        );
        let label = label?;
        if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || label.starts_with(|c: char| c.is_ascii_digit())
        {
            if let Some(n) = f.get("label") {
                self.error(
                    n,
                    format!("`{label}` is not a Prometheus label name"),
                    Some("a label name is letters, digits and `_`, like `track`".to_string()),
                );
            }
            return None;
        }
        Some(ArmLabel {
            label,
            canary: canary?,
            baseline: baseline?,
        })
    }

    fn common(&mut self, f: &Fields) -> Option<Common> {
        let confidence = match f.get("confidence") {
            Some(n) => self.confidence(n, "canary confidence"),
            None => Some(SeriesRule::default().confidence),
        };
        let tolerance = match f.get("tolerance") {
            Some(n) => self.tolerance(n, "canary tolerance"),
            None => Some(SeriesRule::default().tolerance),
        };
        let min_samples = match f.get("min_samples") {
            Some(n) => self
                .whole(n, "canary min_samples", 3, 100_000)
                .map(|v| v as usize),
            None => Some(SeriesRule::default().min_samples),
        };
        let outliers = match f.get("remove_outliers") {
            Some(n) => self.outliers(n, "canary remove_outliers"),
            None => Some(Outliers::Keep),
        };
        Some(Common {
            confidence: confidence?,
            tolerance: tolerance?,
            min_samples: min_samples?,
            outliers: outliers?,
        })
    }

    fn compare(
        &mut self,
        node: &Node,
        series: Option<&[Series]>,
        common: &Common,
        arms: Option<&ArmLabel>,
        queried: bool,
    ) -> Option<Vec<(Compared, ArmSeries)>> {
        let items = self.list(
            node,
            "`canary.compare`",
            "list the compared series, like `- {metric: p95, direction: increase}`",
        )?;
        let mut out: Vec<(Compared, ArmSeries)> = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            match self.compared(item, series, common, arms, queried) {
                Some(c) if out.iter().any(|(o, _)| o.series == c.0.series) => {
                    self.error(
                        item,
                        format!("`{}` is compared twice", c.0.series),
                        Some("keep one entry per series".to_string()),
                    );
                    ok = false;
                }
                Some(c) => out.push(c),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn compared(
        &mut self,
        node: &Node,
        series: Option<&[Series]>,
        common: &Common,
        arms: Option<&ArmLabel>,
        queried: bool,
    ) -> Option<(Compared, ArmSeries)> {
        let what = "a compared series";
        let f = self.fields(node, what, COMPARE_KEYS)?;
        let metric = self.required(
            &f,
            "metric",
            what,
            "add `metric: p95`, a series in metrics.series",
        )?;
        let name = match series {
            Some(all) => self
                .known_series(metric, all, "compared metric")
                .map(|(_, n)| n),
            // The series could not be read; the name is checked once they can.
            None => None,
        }?;
        let queries = self.arm_queries(&f, &name, arms, queried);
        let direction = match f.get("direction") {
            Some(n) => self.choice(n, "direction", &DIRECTIONS),
            None => Some(Direction::Either),
        };
        let confidence = match f.get("confidence") {
            Some(n) => self.confidence(n, "confidence"),
            None => Some(common.confidence),
        };
        let tolerance = match f.get("tolerance") {
            Some(n) => self.tolerance(n, "tolerance"),
            None => Some(common.tolerance),
        };
        let min_samples = match f.get("min_samples") {
            Some(n) => self.whole(n, "min_samples", 3, 100_000).map(|v| v as usize),
            None => Some(common.min_samples),
        };
        let outliers = match f.get("remove_outliers") {
            Some(n) => self.outliers(n, "remove_outliers"),
            None => Some(common.outliers),
        };
        let critical = match f.get("critical") {
            Some(n) => self.boolean(n, "critical"),
            None => Some(false),
        };
        let groups = self.group(&f);
        let effect = self.effect(&f);
        let rule = SeriesRule {
            direction: direction?,
            confidence: confidence?,
            tolerance: tolerance?,
            effect: effect?,
            critical: critical?,
            outliers: outliers?,
            min_samples: min_samples?,
        };
        if let Err(e) = rule.check() {
            self.error(node, format!("`{name}` cannot be judged: {e}"), None);
            return None;
        }
        let (canary, baseline) = queries?;
        Some((
            Compared {
                series: name.clone(),
                rule,
                groups: groups?,
            },
            ArmSeries {
                key: ArmKey::Series(name),
                canary,
                baseline,
            },
        ))
    }

    /// Kayenta's effect size: which measure, and how large a change is allowed or critical.
    fn effect(&mut self, f: &Fields) -> Option<EffectSize> {
        let measure = match f.get("effect") {
            Some(n) => self.choice(n, "effect", &MEASURES)?,
            None => EffectMeasure::MeanRatio,
        };
        let mut effect = EffectSize::neutral(measure);
        let mut ok = true;
        for (key, slot) in [
            ("allowed_increase", &mut effect.allowed_increase),
            ("allowed_decrease", &mut effect.allowed_decrease),
            ("critical_increase", &mut effect.critical_increase),
            ("critical_decrease", &mut effect.critical_decrease),
        ] {
            if let Some(n) = f.get(key) {
                match self.number(
                    n,
                    key,
                    "a ratio like `1.1` (10% larger) or a CLES like `0.6`",
                ) {
                    Some(v) => *slot = v,
                    None => ok = false,
                }
            }
        }
        ok.then_some(effect)
    }

    /// `(canary, baseline)` queries: the arm's own `canary:`/`baseline:`, or the `query`
    /// template with `$arm` replaced by each arm's label matcher.
    #[allow(clippy::type_complexity)]
    fn arm_queries(
        &mut self,
        f: &Fields,
        name: &str,
        arms: Option<&ArmLabel>,
        queried: bool,
    ) -> Option<(Option<String>, Option<String>)> {
        let own = |r: &mut Reader, key: &str| match f.get(key) {
            Some(n) => r.text(n, key).map(Some),
            None => Some(None),
        };
        let canary = own(self, "canary")?;
        let baseline = own(self, "baseline")?;
        let template = own(self, "query")?;
        match (template, canary, baseline) {
            (Some(t), None, None) => {
                let at = f.get("query").unwrap_or(f.at);
                self.template(at, &t, name, arms)
                    .map(|(c, b)| (Some(c), Some(b)))
            }
            (None, Some(c), Some(b)) => Some((Some(c), Some(b))),
            (None, None, None) if !queried => Some((None, None)),
            (Some(_), _, _) => {
                self.error(
                    f.at,
                    format!("`{name}` has both `query` and per-arm queries"),
                    Some("keep `query` with `$arm`, or `canary` and `baseline`".to_string()),
                );
                None
            }
            _ => {
                self.error(
                    f.at,
                    format!("`{name}` needs a query for each arm"),
                    Some(format!(
                        "add `query:` with `{ARM_PLACEHOLDER}` where the arm's label goes (and `canary.arms`), or `canary:` and `baseline:` queries"
                    )),
                );
                None
            }
        }
    }

    fn template(
        &mut self,
        at: &Node,
        template: &str,
        name: &str,
        arms: Option<&ArmLabel>,
    ) -> Option<(String, String)> {
        if !template.contains(ARM_PLACEHOLDER) {
            self.error(
                at,
                format!("the query for `{name}` has no `{ARM_PLACEHOLDER}`"),
                Some(format!(
                    "write `{ARM_PLACEHOLDER}` where the arm's label matcher goes, like `rate(x_total{{{ARM_PLACEHOLDER}}}[1m])`"
                )),
            );
            return None;
        }
        let Some(arms) = arms else {
            self.error(
                at,
                format!(
                    "the query for `{name}` uses `{ARM_PLACEHOLDER}` but `canary` has no `arms`"
                ),
                Some(
                    "add `arms: {label: track, canary: canary, baseline: baseline}` to `canary`"
                        .to_string(),
                ),
            );
            return None;
        };
        Some((
            template.replace(ARM_PLACEHOLDER, &arms.matcher(&arms.canary)),
            template.replace(ARM_PLACEHOLDER, &arms.matcher(&arms.baseline)),
        ))
    }

    fn counts(
        &mut self,
        node: &Node,
        arms: Option<&ArmLabel>,
        queried: bool,
    ) -> Option<(CountsSpec, Vec<ArmSeries>)> {
        let what = "`canary.counts`";
        let f = self.fields(node, what, COUNTS_KEYS)?;
        let mut series = Vec::new();
        let mut ok = true;
        for (key, arm) in [("errors", ArmKey::Errors), ("requests", ArmKey::Requests)] {
            let queries = match f.get(key) {
                Some(n) => self.count_queries(n, key, arms),
                None if queried => {
                    self.error(
                        f.at,
                        format!("{what} is missing `{key}`"),
                        Some(format!(
                            "add `{key}:` with a query for the {key} each arm served in one interval, like `sum(increase(http_requests_total{{{ARM_PLACEHOLDER}}}[15s]))`"
                        )),
                    );
                    None
                }
                None => Some((None, None)),
            };
            match queries {
                Some((canary, baseline)) => series.push(ArmSeries {
                    key: arm,
                    canary,
                    baseline,
                }),
                None => ok = false,
            }
        }
        let default = CountsRule::default();
        let direction = match f.get("direction") {
            Some(n) => self.choice(n, "direction", &DIRECTIONS),
            None => Some(default.direction),
        };
        let confidence = match f.get("confidence") {
            Some(n) => self.confidence(n, "counts confidence"),
            None => Some(default.confidence),
        };
        let srm_confidence = match f.get("srm_confidence") {
            Some(n) => self.confidence(n, "srm_confidence"),
            None => Some(default.srm_confidence),
        };
        let min_requests = match f.get("min_requests") {
            Some(n) => self.whole(n, "min_requests", 1, u64::MAX),
            None => Some(default.min_requests),
        };
        let critical = match f.get("critical") {
            Some(n) => self.boolean(n, "critical"),
            None => Some(default.critical),
        };
        let groups = self.group(&f);
        if !ok {
            return None;
        }
        Some((
            CountsSpec {
                rule: CountsRule {
                    direction: direction?,
                    confidence: confidence?,
                    srm_confidence: srm_confidence?,
                    min_requests: min_requests?,
                    critical: critical?,
                    ..default
                },
                groups: groups?,
            },
            series,
        ))
    }

    /// A count's queries: a template with `$arm`, or `{canary: …, baseline: …}`.
    #[allow(clippy::type_complexity)]
    fn count_queries(
        &mut self,
        node: &Node,
        key: &str,
        arms: Option<&ArmLabel>,
    ) -> Option<(Option<String>, Option<String>)> {
        if let Value::Map(_) = node.value {
            let what = format!("`canary.counts.{key}`");
            let f = self.fields(node, &what, &["canary", "baseline"])?;
            let c = self
                .required(
                    &f,
                    "canary",
                    &what,
                    "add `canary:`, the query for the canary's count",
                )
                .and_then(|n| self.text(n, "canary"));
            let b = self
                .required(
                    &f,
                    "baseline",
                    &what,
                    "add `baseline:`, the query for the baseline's count",
                )
                .and_then(|n| self.text(n, "baseline"));
            return Some((Some(c?), Some(b?)));
        }
        let template = self.text(node, key)?;
        self.template(node, &template, key, arms)
            .map(|(c, b)| (Some(c), Some(b)))
    }

    fn group(&mut self, f: &Fields) -> Option<Vec<String>> {
        match f.get("group") {
            Some(n) => self.text(n, "group").map(|g| vec![g]),
            None => Some(Vec::new()),
        }
    }

    /// `score: {pass: 95, marginal: 75, weights: {latency: 60, errors: 40}}`.
    fn scoring(&mut self, node: &Node) -> Option<Scoring> {
        let f = self.fields(node, "`canary.score`", &["pass", "marginal", "weights"])?;
        let default = Scoring::default();
        let hint = "a score from 0 to 100";
        let pass = match f.get("pass") {
            Some(n) => self.points(n, "pass", hint),
            None => Some(default.pass),
        };
        let marginal = match f.get("marginal") {
            Some(n) => self.points(n, "marginal", hint),
            None => Some(default.marginal),
        };
        let mut group_weights = BTreeMap::new();
        let mut ok = true;
        if let Some(w) = f.get("weights") {
            match &w.value {
                Value::Map(entries) => {
                    for (k, v) in entries {
                        let group = self.text(k, "a group name");
                        let weight = self.points(v, "a group's weight", "a percent like `50`");
                        match (group, weight) {
                            (Some(g), Some(v)) => {
                                group_weights.insert(g, v);
                            }
                            _ => ok = false,
                        }
                    }
                }
                _ => {
                    self.error(
                        w,
                        format!("`weights` must be a mapping, found {}", w.kind()),
                        Some("write it as `{latency: 60, errors: 40}`".to_string()),
                    );
                    ok = false;
                }
            }
        }
        let scoring = Scoring {
            group_weights,
            pass: pass?,
            marginal: marginal?,
        };
        if !ok {
            return None;
        }
        if let Err(e) = scoring.check() {
            self.error(node, format!("the canary score cannot be used: {e}"), None);
            return None;
        }
        Some(scoring)
    }

    /// A ratio strictly between 0 and 1: `98%` or `0.98`.
    fn confidence(&mut self, node: &Node, what: &str) -> Option<f64> {
        let v = self.number(node, what, "a confidence like `98%` or `0.98`")?;
        if v > 0.0 && v < 1.0 {
            return Some(v);
        }
        self.error(
            node,
            format!("{what} must lie strictly between 0% and 100%"),
            Some("Kayenta's judge uses `98%`".to_string()),
        );
        None
    }

    fn tolerance(&mut self, node: &Node, what: &str) -> Option<f64> {
        self.number(node, what, "a tolerance like `25%` or `0.25`")
    }

    fn outliers(&mut self, node: &Node, what: &str) -> Option<Outliers> {
        let factor = self.number(
            node,
            what,
            "the IQR factor beyond which a value is dropped, like `3`",
        )?;
        if factor > 0.0 {
            return Some(Outliers::Remove { factor });
        }
        self.error(
            node,
            format!("{what} must be above 0"),
            Some("Kayenta uses `3`: values beyond 3 × IQR past the quartiles".to_string()),
        );
        None
    }

    /// Points of a 0..=100 score, `95` or `95%` alike.
    fn points(&mut self, node: &Node, what: &str, hint: &str) -> Option<f64> {
        let text = node.scalar_text().unwrap_or_default();
        match text.trim().trim_end_matches('%').trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Some(v),
            _ => {
                self.error(
                    node,
                    format!("{what} must be a number from 0 to 100, found `{text}`"),
                    Some(hint.to_string()),
                );
                None
            }
        }
    }

    /// A finite number never below 0, written plainly or as a percentage (`98%`, `1.1`).
    fn number(&mut self, node: &Node, what: &str, hint: &str) -> Option<f64> {
        let parsed = match node.scalar_text() {
            Some(text) => units::parse_ratio_unbounded(&text),
            None => Err(format!("found {}", node.kind())),
        };
        match parsed {
            Ok(v) if v.is_finite() => Some(v),
            Ok(v) => {
                self.error(
                    node,
                    format!("{what} {v} is not a finite number"),
                    Some(hint.to_string()),
                );
                None
            }
            Err(e) => {
                self.error(node, format!("bad {what}: {e}"), Some(hint.to_string()));
                None
            }
        }
    }
}
