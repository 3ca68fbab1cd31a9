//! plan::read::metrics: the metrics source, its series and the guardrails over them.
//! Checks that every threshold fits its series' unit and every rule names a real series;
//! never decides whether a value trips.

use std::time::Duration;

use super::Reader;
use super::values::{Fields, backticked, fold};
use crate::plan::canary::ArmScenario;
use crate::plan::defaults::*;
use crate::plan::model::*;
use crate::plan::summary::{rule_text, unit_name};
use crate::plan::units;
use crate::plan::yaml::{Node, Value};
use crate::support::{escape, suggest};

impl Reader {
    /// The metrics section, and its series on their own: a bad `interval` must not stop
    /// the guardrails from being checked against the series.
    pub(super) fn metrics(&mut self, node: &Node) -> (Option<MetricsSpec>, Option<Vec<Series>>) {
        let Some(f) = self.fields(
            node,
            "`metrics`",
            &[
                "source",
                "interval",
                "baseline_window",
                "stale_after",
                "min_samples",
                "series",
            ],
        ) else {
            return (None, None);
        };
        let source = match f.get("source") {
            Some(n) => self.source(n),
            None => Some(default_source()),
        };
        let interval = match f.get("interval") {
            Some(n) => self.positive_duration(n, "metrics interval"),
            None => Some(DEFAULT_INTERVAL),
        };
        let baseline_window = match f.get("baseline_window") {
            Some(n) => self.positive_duration(n, "baseline_window"),
            None => Some(DEFAULT_BASELINE_WINDOW),
        };
        let stale_after = match f.get("stale_after") {
            Some(n) => self
                .whole(n, "stale_after", 1, 10_000)
                .and_then(|v| u32::try_from(v).ok()),
            None => Some(DEFAULT_STALE_AFTER),
        };
        let min_samples = match f.get("min_samples") {
            Some(n) => self
                .whole(n, "min_samples", 1, 100_000)
                .and_then(|v| u32::try_from(v).ok()),
            None => Some(DEFAULT_MIN_SAMPLES),
        };
        let series = match (f.get("series"), &source) {
            (Some(n), Some(src)) => self.series(n, src),
            // The source could not be read; which series are valid depends on it.
            (Some(_), None) => None,
            (None, Some(SourceSpec::Prometheus { .. })) => {
                self.error(
                    f.at,
                    "`metrics` has a prometheus source but no `series`",
                    Some(
                        "add `series:` with a PromQL `query` and a `unit` for each metric"
                            .to_string(),
                    ),
                );
                None
            }
            (None, _) => Some(default_series()),
        };
        let spec = match (
            source,
            interval,
            baseline_window,
            stale_after,
            min_samples,
            &series,
        ) {
            (
                Some(source),
                Some(interval),
                Some(baseline_window),
                Some(stale_after),
                Some(min_samples),
                Some(series),
            ) => Some(MetricsSpec {
                source,
                interval,
                baseline_window,
                stale_after,
                min_samples,
                series: series.clone(),
                arms: Vec::new(),
            }),
            _ => None,
        };
        (spec, series)
    }

    fn source(&mut self, node: &Node) -> Option<SourceSpec> {
        #[derive(Clone, Copy)]
        enum K {
            Simulated,
            Prometheus,
            Replay,
        }
        let kind = self.kind(
            node,
            "metrics source",
            &[
                ("simulated", K::Simulated),
                ("prometheus", K::Prometheus),
                ("replay", K::Replay),
            ],
        )?;
        match kind {
            K::Simulated => {
                let f = self.fields(
                    node,
                    "the simulated source",
                    &["kind", "scenario", "seed", "arms"],
                )?;
                let scenario = match f.get("scenario") {
                    Some(n) => self.choice(n, "scenario", &SCENARIOS),
                    None => Some(Scenario::Healthy),
                };
                let seed = match f.get("seed") {
                    Some(n) => self.whole(n, "seed", 0, u64::MAX),
                    None => Some(DEFAULT_SEED),
                };
                let arms = match f.get("arms") {
                    Some(n) => self.choice(n, "arms scenario", &ArmScenario::ALL),
                    None => Some(ArmScenario::Healthy),
                };
                Some(SourceSpec::Simulated {
                    scenario: scenario?,
                    seed: seed?,
                    arms: arms?,
                })
            }
            K::Prometheus => {
                let f = self.fields(
                    node,
                    "the prometheus source",
                    &[
                        "kind",
                        "url",
                        "token_env",
                        "basic_auth",
                        "timeout",
                        "headers",
                        "ca_file",
                    ],
                )?;
                let url = self
                    .required(
                        &f,
                        "url",
                        "the prometheus source",
                        "add `url: http://127.0.0.1:9090`",
                    )
                    .and_then(|n| self.source_url(n));
                let token_env = match f.get("token_env") {
                    Some(n) => self.env_name(n, "prometheus token_env").map(Some),
                    None => Some(None),
                };
                let basic_auth = match (f.get("basic_auth"), f.get("token_env")) {
                    (Some(b), Some(_)) => {
                        self.error(
                            b,
                            "the prometheus source has both `token_env` and `basic_auth`",
                            Some(
                                "a server takes one Authorization header: keep the one it asks for"
                                    .to_string(),
                            ),
                        );
                        None
                    }
                    (Some(b), None) => self.basic_auth(b).map(Some),
                    (None, _) => Some(None),
                };
                let timeout = match f.get("timeout") {
                    Some(n) => self.positive_duration(n, "prometheus timeout"),
                    None => Some(DEFAULT_PROMETHEUS_TIMEOUT),
                };
                let headers = match f.get("headers") {
                    Some(n) => self.headers(n),
                    None => Some(Vec::new()),
                };
                let ca_file = match f.get("ca_file") {
                    Some(n) => self.path(n, "prometheus ca_file").map(Some),
                    None => Some(None),
                };
                Some(SourceSpec::Prometheus {
                    url: url?,
                    token_env: token_env?,
                    basic_auth: basic_auth?,
                    timeout: timeout?,
                    headers: headers?,
                    ca_file: ca_file?,
                })
            }
            K::Replay => {
                let f = self.fields(node, "the replay source", &["kind", "path"])?;
                let path = self
                    .required(
                        &f,
                        "path",
                        "the replay source",
                        "add `path: session.jsonl` (relative to the plan)",
                    )
                    .and_then(|n| self.path(n, "replay path"))?;
                Some(SourceSpec::Replay { path })
            }
        }
    }

    /// The server's URL. Credentials in it are refused (a plan is shared and committed);
    /// the message shows the URL with its password masked.
    fn source_url(&mut self, node: &Node) -> Option<String> {
        let raw = node.scalar_text();
        if let Some(t) = raw.as_deref()
            && escape::has_userinfo(t)
        {
            self.error(
                node,
                format!(
                    "the prometheus url `{}` carries credentials; a plan holds no secret",
                    escape::passwords(t)
                ),
                Some(
                    "remove them from the url and write `basic_auth: {username: NAME, password_env: PROMETHEUS_PASSWORD}` with the password exported in that variable"
                        .to_string(),
                ),
            );
            return None;
        }
        self.url(node, "prometheus url")
    }

    fn basic_auth(&mut self, node: &Node) -> Option<BasicAuth> {
        let f = self.fields(node, "`basic_auth`", &["username", "password_env"])?;
        let username = self
            .required(
                &f,
                "username",
                "`basic_auth`",
                "add `username:`, the account the server knows",
            )
            .and_then(|n| self.text(n, "basic_auth username"));
        let username = match username {
            Some(u) if u.contains(':') => {
                self.error(
                    f.get("username")?,
                    "a basic_auth username cannot contain `:`",
                    Some("HTTP basic authentication splits the user from the password at the first `:`".to_string()),
                );
                None
            }
            other => other,
        };
        let password_env = self
            .required(
                &f,
                "password_env",
                "`basic_auth`",
                "add `password_env: PROMETHEUS_PASSWORD`, the environment variable holding the password",
            )
            .and_then(|n| self.env_name(n, "basic_auth password_env"));
        Some(BasicAuth {
            username: username?,
            password_env: password_env?,
        })
    }

    fn headers(&mut self, node: &Node) -> Option<Vec<(String, String)>> {
        let Value::Map(entries) = &node.value else {
            self.error(
                node,
                format!(
                    "prometheus headers must be a mapping, found {}",
                    node.kind()
                ),
                Some("write them like `headers: {X-Scope-OrgID: team-a}`".to_string()),
            );
            return None;
        };
        let mut out = Vec::with_capacity(entries.len());
        let mut ok = true;
        for (k, v) in entries {
            match (self.header_name(k), self.text(v, "a header value")) {
                (Some(k), Some(value)) if header_value_ok(&value) => out.push((k, value)),
                (Some(k), Some(_)) => {
                    // Never echo the value: it may be a key someone pasted.
                    self.error(
                        v,
                        format!("the value of header `{k}` is not a valid HTTP header value"),
                        Some("use printable ASCII on one line".to_string()),
                    );
                    ok = false;
                }
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn header_name(&mut self, node: &Node) -> Option<String> {
        let name = self.text(node, "a header name")?;
        if !header_name_ok(&name) {
            self.error(
                node,
                format!("`{name}` is not a valid HTTP header name"),
                Some("letters, digits and `-`, like `X-Scope-OrgID`".to_string()),
            );
            return None;
        }
        if name.eq_ignore_ascii_case("authorization")
            || name.eq_ignore_ascii_case("proxy-authorization")
        {
            self.error(
                node,
                format!("header `{name}` would put a credential in the plan"),
                Some(
                    "use `token_env: PROMETHEUS_TOKEN` for a bearer token or `basic_auth: {username: NAME, password_env: PROMETHEUS_PASSWORD}`; secrets come from the environment"
                        .to_string(),
                ),
            );
            return None;
        }
        Some(name)
    }

    fn series(&mut self, node: &Node, source: &SourceSpec) -> Option<Vec<Series>> {
        let Value::Map(entries) = &node.value else {
            self.error(
                node,
                format!(
                    "`metrics.series` must be a mapping of names, found {}",
                    node.kind()
                ),
                Some("write it like `error_rate: {query: '...', unit: ratio}`".to_string()),
            );
            return None;
        };
        if entries.is_empty() {
            self.error(
                node,
                "`metrics.series` is empty",
                Some("list the series the guardrails watch, or remove `series` to use the simulated defaults".to_string()),
            );
            return None;
        }
        let simulated = matches!(source, SourceSpec::Simulated { .. });
        let known: Vec<&str> = SIMULATED_SERIES.iter().map(|(n, _)| *n).collect();
        let mut out = Vec::with_capacity(entries.len());
        let mut ok = true;
        for (k, v) in entries {
            let Some(name) = self.text(k, "a series name") else {
                ok = false;
                continue;
            };
            if simulated && !known.contains(&name.as_str()) {
                let hint = match suggest::closest(&name, known.iter().copied()) {
                    Some(s) => format!(
                        "did you mean `{s}`? the simulated source knows {}",
                        backticked(&known)
                    ),
                    None => format!("the simulated source knows only {}", backticked(&known)),
                };
                self.error(
                    k,
                    format!("the simulated source has no series `{name}`"),
                    Some(hint),
                );
                ok = false;
                continue;
            }
            match self.one_series(k, v, name, source) {
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn one_series(
        &mut self,
        key: &Node,
        node: &Node,
        name: String,
        source: &SourceSpec,
    ) -> Option<Series> {
        let default_unit = SIMULATED_SERIES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, u)| *u);
        let empty = Fields {
            at: key,
            entries: Vec::new(),
            typos: Vec::new(),
        };
        let f = if node.is_null() {
            empty
        } else {
            self.fields(
                node,
                &format!("series `{name}`"),
                &["query", "unit", "better"],
            )?
        };
        let query = match f.get("query") {
            Some(n) => self.text(n, "series query").map(Some),
            None => Some(None),
        };
        if matches!(source, SourceSpec::Prometheus { .. }) && !f.has("query") {
            self.error(
                key,
                format!("series `{name}` has no `query`; the prometheus source needs PromQL for every series"),
                Some(format!("add `query: '...'` under `{name}`")),
            );
            return None;
        }
        let unit = match (f.get("unit"), default_unit) {
            (Some(n), _) => self.choice(n, "unit", &UNITS),
            (None, Some(u)) => Some(u),
            (None, None) => {
                self.error(
                    key,
                    format!("series `{name}` has no `unit`"),
                    Some(format!("add `unit:`, one of {}", backticked(&Unit::NAMES))),
                );
                None
            }
        };
        let better = match f.get("better") {
            Some(n) => self.choice(
                n,
                "`better`",
                &[("lower", Better::Lower), ("higher", Better::Higher)],
            ),
            None => Some(Better::Lower),
        };
        Some(Series {
            name,
            query: query?,
            unit: unit?,
            better: better?,
        })
    }

    /// The series a guardrail or a check names; unknown names get a did-you-mean.
    pub(super) fn known_series<'s>(
        &mut self,
        node: &Node,
        series: &'s [Series],
        what: &str,
    ) -> Option<(&'s Series, String)> {
        let name = self.text(node, what)?;
        if let Some(s) = series.iter().find(|s| s.name == name) {
            return Some((s, name));
        }
        let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
        let hint = match suggest::closest(&name, names.iter().copied()) {
            Some(s) => format!(
                "did you mean `{s}`? metrics.series has {}",
                backticked(&names)
            ),
            None => format!(
                "metrics.series has {}; add `{name}` there or fix the name",
                backticked(&names)
            ),
        };
        self.error(
            node,
            format!("unknown metric `{name}`: it is not in metrics.series"),
            Some(hint),
        );
        None
    }

    /// A threshold in the series' unit: `1%`/`0.01` for ratios, `2s`/`300ms` for seconds.
    pub(super) fn threshold(&mut self, node: &Node, unit: Unit, metric: &str) -> Option<f64> {
        let Some(text) = node.scalar_text() else {
            self.error(
                node,
                format!(
                    "threshold for `{metric}` must be a value, found {}",
                    node.kind()
                ),
                None,
            );
            return None;
        };
        let parsed = match unit {
            Unit::Ratio => units::parse_ratio(&text),
            Unit::Seconds => units::parse_latency(&text),
            Unit::PerSecond | Unit::Count => text
                .trim()
                .trim_end_matches("/s")
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("`{text}` is not a number")),
        };
        match parsed {
            Ok(v) => Some(v),
            Err(e) => {
                let hint = match unit {
                    Unit::Ratio => {
                        "a ratio series takes a percentage like `1%` or a fraction like `0.01`"
                    }
                    Unit::Seconds => "a seconds series takes a latency like `2s` or `300ms`",
                    Unit::PerSecond => "a per_second series takes a number like `12` or `12/s`",
                    Unit::Count => "a count series takes a number",
                };
                self.error(
                    node,
                    format!("bad threshold for `{metric}` ({}): {e}", unit_name(unit)),
                    Some(hint.to_string()),
                );
                None
            }
        }
    }

    pub(super) fn guardrails(
        &mut self,
        node: &Node,
        series: Option<&[Series]>,
    ) -> Option<Guardrails> {
        let f = self.fields(node, "`guardrails`", &["on_stale", "rules"])?;
        let on_stale = match f.get("on_stale") {
            Some(n) => self.on_stale(n),
            None => Some(StaleAction::Pause),
        };
        let rules = match (f.get("rules"), series) {
            (Some(n), s) => self.rules(n, s),
            (None, Some(s)) => Some(default_rules(s)),
            (None, None) => None,
        };
        Some(Guardrails {
            on_stale: on_stale?,
            rules: rules?,
        })
    }

    fn on_stale(&mut self, node: &Node) -> Option<StaleAction> {
        if node.scalar_text().is_some_and(|t| fold(&t) == "promote") {
            self.error(
                node,
                "`on_stale: promote` is never allowed: missing data must never move a rollout forward",
                Some("use `pause` (the default), `alert` or `rollback`".to_string()),
            );
            return None;
        }
        self.choice(
            node,
            "on_stale action",
            &[
                ("pause", StaleAction::Pause),
                ("alert", StaleAction::Alert),
                ("rollback", StaleAction::Rollback),
            ],
        )
    }

    fn rules(&mut self, node: &Node, series: Option<&[Series]>) -> Option<Vec<Rule>> {
        let items = self.list(
            node,
            "`guardrails.rules`",
            "list the rules, like `- {metric: error_rate, above: 1%, action: pause}`",
        )?;
        let mut rules = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            match self.rule(item, series) {
                Some(r) => rules.push(r),
                None => ok = false,
            }
        }
        ok.then_some(rules)
    }

    fn rule(&mut self, node: &Node, series: Option<&[Series]>) -> Option<Rule> {
        let f = self.fields(
            node,
            "a guardrail rule",
            &[
                "metric",
                "above",
                "below",
                "above_baseline",
                "degradation",
                "for",
                "action",
            ],
        )?;
        let metric_node = self.required(
            &f,
            "metric",
            "a guardrail rule",
            "add `metric:`, the name of a series in metrics.series",
        );
        let target = match (metric_node, series) {
            (Some(n), Some(s)) => self.known_series(n, s, "guardrail metric"),
            (Some(n), None) => {
                self.text(n, "guardrail metric");
                None
            }
            (None, _) => None,
        };
        let conditions: Vec<(&str, &Node)> = ["above", "below", "above_baseline", "degradation"]
            .into_iter()
            .filter_map(|k| f.get(k).map(|n| (k, n)))
            .collect();
        let condition = match conditions.as_slice() {
            [] => {
                self.error(
                    node,
                    "a guardrail rule needs a condition",
                    Some(
                        "add one of `above`, `below`, `above_baseline` or `degradation`"
                            .to_string(),
                    ),
                );
                None
            }
            [(key, n)] => match &target {
                Some((s, name)) => self.condition(key, n, s.unit, name),
                None => None,
            },
            [(first, _), (second, n), ..] => {
                self.error(
                    n,
                    format!("a guardrail rule has both `{first}` and `{second}`; a rule takes one condition"),
                    Some("split it into two rules, one per condition".to_string()),
                );
                None
            }
        };
        let hold = match f.get("for") {
            Some(n) => self.duration(n, "`for`"),
            None => Some(Duration::ZERO),
        };
        let action = self
            .required(
                &f,
                "action",
                "a guardrail rule",
                &format!("add `action:`, one of {}", backticked(&Action::NAMES)),
            )
            .and_then(|n| self.choice(n, "action", &ACTIONS));
        let (series, metric) = target?;
        let (condition, hold, action) = (condition?, hold?, action?);
        Some(Rule {
            text: rule_text(&metric, series.unit, &condition, hold, action),
            metric,
            condition,
            hold,
            action,
        })
    }

    fn condition(&mut self, key: &str, node: &Node, unit: Unit, metric: &str) -> Option<Condition> {
        match key {
            "above" => self.threshold(node, unit, metric).map(Condition::Above),
            "below" => self.threshold(node, unit, metric).map(Condition::Below),
            "above_baseline" => {
                let text = self.text(node, "above_baseline")?;
                match units::parse_multiple(&text) {
                    Ok(m) if m >= 1.0 => Some(Condition::AboveBaseline(m)),
                    Ok(_) => {
                        self.error(
                            node,
                            format!("above_baseline `{text}` is below 1x: it would trip on healthy values"),
                            Some("write a multiple of the baseline like `3x`".to_string()),
                        );
                        None
                    }
                    Err(e) => {
                        self.error(
                            node,
                            format!("bad above_baseline: {e}"),
                            Some("write a multiple of the baseline like `3x`".to_string()),
                        );
                        None
                    }
                }
            }
            _ => {
                let text = self.text(node, "degradation")?;
                match units::parse_ratio_unbounded(&text) {
                    Ok(r) => Some(Condition::Degradation(r)),
                    Err(e) => {
                        self.error(
                            node,
                            format!("bad degradation: {e}"),
                            Some("write how much worse than the baseline, like `20%`".to_string()),
                        );
                        None
                    }
                }
            }
        }
    }
}

const SCENARIOS: [(&str, Scenario); 4] = [
    ("healthy", Scenario::Healthy),
    ("incident", Scenario::Incident),
    ("slow-burn", Scenario::SlowBurn),
    ("flaky", Scenario::Flaky),
];

const UNITS: [(&str, Unit); 4] = [
    ("ratio", Unit::Ratio),
    ("seconds", Unit::Seconds),
    ("per_second", Unit::PerSecond),
    ("count", Unit::Count),
];

pub(super) const ACTIONS: [(&str, Action); 3] = [
    ("alert", Action::Alert),
    ("pause", Action::Pause),
    ("rollback", Action::Rollback),
];

/// An HTTP token (RFC 9110 §5.6.2): what a header name may be made of.
fn header_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Visible ASCII, spaces and tabs: what every HTTP client sends as it is.
fn header_value_ok(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
}
