//! plan::read: walks the located YAML tree of a plan file and builds the validated
//! [`Plan`], collecting every problem it can find in one pass, each at its line:column with
//! what to do about it. Fills in the defaults. Never touches the file system: paths are
//! only resolved against the plan's folder, not checked.
//!
//! This module owns the walk from the top and the diagnostics; `values` reads one value
//! as a setting, and `release`, `metrics` and `checklists` read their sections.

use std::path::{Path, PathBuf};

mod canary;
mod checklists;
mod metrics;
mod notify;
mod release;
mod values;

use super::defaults::*;
use super::error::Diagnostic;
use super::model::*;
use super::yaml::{Node, Value};

const TOP_KEYS: &[&str] = &[
    "release",
    "pipeline",
    "flag",
    "rollout",
    "metrics",
    "guardrails",
    "checklists",
    "notify",
    "canary",
    "store",
];

/// Build the plan from its YAML tree; `file` names the plan in diagnostics and its folder
/// anchors relative paths.
pub(super) fn plan(root: &Node, file: &Path) -> Result<Plan, Vec<Diagnostic>> {
    let mut r = Reader {
        file: file.to_path_buf(),
        dir: file.parent().map(Path::to_path_buf).unwrap_or_default(),
        diags: Vec::new(),
    };
    let built = r.top(root);
    let mut diags = r.diags;
    match built {
        Some(plan) if diags.is_empty() => Ok(plan),
        _ => {
            if diags.is_empty() {
                // Defensive: every path that gives up reports why; keep the promise anyway.
                diags.push(Diagnostic::whole_file(
                    file,
                    "the plan could not be read".to_string(),
                    None,
                ));
            }
            diags.sort_by_key(|d| (d.line, d.column));
            Err(diags)
        }
    }
}

struct Reader {
    file: PathBuf,
    dir: PathBuf,
    diags: Vec<Diagnostic>,
}

impl Reader {
    fn error(&mut self, at: &Node, message: impl Into<String>, hint: Option<String>) {
        self.diags.push(Diagnostic {
            file: self.file.clone(),
            line: at.line,
            column: at.column,
            message: message.into(),
            hint,
        });
    }

    fn top(&mut self, root: &Node) -> Option<Plan> {
        if root.is_null() {
            let start = Node {
                value: Value::Null,
                line: 1,
                column: 1,
                raw: None,
            };
            self.error(
                &start,
                "the plan file is empty",
                Some("a plan needs at least `release`, `flag` and `rollout`".to_string()),
            );
            return None;
        }
        let f = self.fields(root, "the plan", TOP_KEYS)?;
        let need = |k: &str| format!("add a `{k}:` section");
        let release = self
            .required(&f, "release", "the plan", &need("release"))
            .and_then(|n| self.release(n));
        let pipeline = match f.get("pipeline") {
            Some(n) => self.pipeline(n),
            None => Some(default_pipeline()),
        };
        let flag = self
            .required(&f, "flag", "the plan", &need("flag"))
            .and_then(|n| self.flag(n));
        let rollout = self
            .required(&f, "rollout", "the plan", &need("rollout"))
            .and_then(|n| self.rollout(n));
        let (metrics, series) = match f.get("metrics") {
            Some(n) => self.metrics(n),
            None => (
                Some(MetricsSpec {
                    source: default_source(),
                    interval: DEFAULT_INTERVAL,
                    baseline_window: DEFAULT_BASELINE_WINDOW,
                    stale_after: DEFAULT_STALE_AFTER,
                    min_samples: DEFAULT_MIN_SAMPLES,
                    series: default_series(),
                    arms: Vec::new(),
                }),
                Some(default_series()),
            ),
        };
        // Cross-references are checked only against series and stages that read cleanly,
        // so one mistake is not reported again as a cascade of unknown names.
        let series = series.as_deref();
        let stages = pipeline.as_deref();
        let guardrails = match f.get("guardrails") {
            Some(n) => self.guardrails(n, series),
            None => series.map(default_guardrails),
        };
        let checklists = match f.get("checklists") {
            Some(n) => self.checklists(n, series, stages),
            None => Some(default_checklists()),
        };
        let notify = match f.get("notify") {
            Some(n) => self.notify(n),
            None => Some(Vec::new()),
        };
        let source = metrics.as_ref().map(|m| &m.source);
        let (canary, arms) = match f.get("canary") {
            Some(n) => match self.canary(n, series, source) {
                Some((spec, arms)) => (Some(Some(spec)), arms),
                None => (None, Vec::new()),
            },
            None => (Some(None), Vec::new()),
        };
        let metrics = metrics.map(|m| MetricsSpec { arms, ..m });
        let store = match f.get("store") {
            Some(n) => self.store(n),
            None => Some(StoreKind::File),
        };
        Some(Plan {
            store: store?,
            path: self.file.clone(),
            release: release?,
            pipeline: pipeline?,
            flag: flag?,
            rollout: rollout?,
            metrics: metrics?,
            guardrails: guardrails?,
            checklists: checklists?,
            notify: notify?,
            canary: canary?,
        })
    }
}

impl Reader {
    /// `store: {kind: file}` or `store: {kind: postgres}`. The database's URL is a secret
    /// and never sits in the plan.
    fn store(&mut self, node: &Node) -> Option<StoreKind> {
        let kind = self.kind(
            node,
            "store",
            &[("file", StoreKind::File), ("postgres", StoreKind::Postgres)],
        )?;
        let f = self.fields(node, "the store", &["kind", "url"])?;
        if let Some(url) = f.get("url") {
            self.error(
                url,
                "the database URL does not belong in the plan (it holds a password)",
                Some(format!(
                    "remove `url:` and set {} in the environment of each machine",
                    DATABASE_URL_ENV
                )),
            );
            return None;
        }
        Some(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const BASE: &str = "\
release: {name: shop, version: 1.0.0, strategy: canary}
flag: {name: f, backend: {kind: file, path: flags.yaml}}
rollout:
  steps:
    - {name: Beta, percent: 5, bake: 1h}
    - {name: Full, percent: 100, bake: 1h}
";

    fn read(text: &str, file: &str) -> Result<Plan, Vec<Diagnostic>> {
        let root = crate::plan::yaml::parse(text).unwrap();
        plan(&root, Path::new(file))
    }

    fn ok(extra: &str) -> Plan {
        match read(&format!("{BASE}{extra}"), "plans/shop/plan.yaml") {
            Ok(p) => p,
            Err(d) => panic!("{d:#?}"),
        }
    }

    fn errs(extra: &str) -> Vec<Diagnostic> {
        match read(&format!("{BASE}{extra}"), "plan.yaml") {
            Ok(p) => panic!("accepted: {p:#?}"),
            Err(d) => d,
        }
    }

    #[test]
    fn a_minimal_plan_gets_every_default() {
        let p = ok("");
        assert_eq!(p.pipeline, default_pipeline());
        assert_eq!(p.metrics.series, default_series());
        assert_eq!(p.metrics.source, default_source());
        assert_eq!(p.metrics.interval, Duration::from_secs(15));
        assert_eq!(p.guardrails.on_stale, StaleAction::Pause);
        assert_eq!(p.guardrails.rules.len(), 6);
        assert_eq!(p.checklists, default_checklists());
        assert_eq!(p.rollout.watch, Duration::from_secs(86_400));
        assert_eq!(p.flag.kind, FlagKind::Release);
        assert_eq!(p.rollout.steps[0].approval, Approval::Auto);
        assert!(p.rollout.steps[1].groups.is_empty());
        assert!(p.notify.is_empty());
    }

    #[test]
    fn relative_paths_resolve_beside_the_plan() {
        let p = ok(
            "notify:\n  - {kind: log, path: logs/deploy.log}\n  - {kind: log, path: /var/log/deploy.log}\n",
        );
        assert_eq!(
            p.flag.backend,
            BackendSpec::File {
                path: PathBuf::from("plans/shop/flags.yaml")
            }
        );
        assert_eq!(
            p.notify,
            vec![
                NotifierSpec::Log {
                    path: PathBuf::from("plans/shop/logs/deploy.log")
                },
                NotifierSpec::Log {
                    path: PathBuf::from("/var/log/deploy.log")
                },
            ]
        );
        let p = ok("metrics:\n  source: {kind: replay, path: rec.jsonl}\n");
        assert_eq!(
            p.metrics.source,
            SourceSpec::Replay {
                path: PathBuf::from("plans/shop/rec.jsonl")
            }
        );
        assert_eq!(p.metrics.series, default_series());
    }

    #[test]
    fn an_empty_value_counts_as_absent() {
        let p = ok("pipeline:\nguardrails:\n");
        assert_eq!(p.pipeline, default_pipeline());
        assert_eq!(p.guardrails.rules.len(), 6);
    }

    #[test]
    fn given_checklists_replace_only_themselves() {
        let p = ok("checklists:\n  pre_release: []\n  rollback: [Flip it back]\n");
        assert!(p.checklists.pre_release.is_empty());
        assert_eq!(p.checklists.rollback.len(), 1);
        assert_eq!(p.checklists.release_day, default_checklists().release_day);
    }

    #[test]
    fn enum_names_forgive_spelling_style() {
        let text = BASE.replace("strategy: canary", "strategy: Blue_Green");
        let p = read(&text, "plan.yaml").unwrap();
        assert_eq!(p.release.strategy, Strategy::BlueGreen);
        let p = ok("metrics:\n  source: {kind: simulated, scenario: slow_burn}\n");
        assert!(matches!(
            p.metrics.source,
            SourceSpec::Simulated {
                scenario: Scenario::SlowBurn,
                seed: 7,
                ..
            }
        ));
    }

    #[test]
    fn pipeline_stages_without_a_source() {
        let p = ok("pipeline: [PR, {name: CI, command: [make, test]}, Deploy]\n");
        assert_eq!(
            p.pipeline[0].source,
            StageSource::Static(StageStatus::Pending)
        );
        assert_eq!(
            p.pipeline[1].source,
            StageSource::Command {
                argv: vec!["make".into(), "test".into()],
                timeout: Duration::from_secs(600)
            }
        );
        assert_eq!(p.pipeline[2].source, StageSource::Rollout);
        // A last stage with a source of its own is not the rollout.
        let p = ok("pipeline: [PR, {name: Prod, status: passed}]\n");
        assert!(p.pipeline.iter().all(|s| s.source != StageSource::Rollout));
    }

    #[test]
    fn thresholds_follow_the_series_unit() {
        let p = ok("\
metrics:
  source: {kind: prometheus, url: 'http://prom:9090'}
  series:
    errors: {query: q1, unit: ratio}
    latency: {query: q2, unit: seconds}
    orders: {query: q3, unit: per_second, better: higher}
guardrails:
  rules:
    - {metric: errors, above: 0.01, action: pause}
    - {metric: latency, above: 300ms, for: 90s, action: alert}
    - {metric: latency, degradation: 150%, action: rollback}
    - {metric: orders, below: 12/s, action: pause}
    - {metric: orders, degradation: 10%, for: 10m, action: rollback}
");
        let r = &p.guardrails.rules;
        assert_eq!(r[0].condition, Condition::Above(0.01));
        assert_eq!(r[1].condition, Condition::Above(0.3));
        assert_eq!(r[1].hold, Duration::from_secs(90));
        assert_eq!(r[2].condition, Condition::Degradation(1.5));
        assert_eq!(r[3].condition, Condition::Below(12.0));
        assert_eq!(r[3].text, "orders below 12/s → pause");
        assert_eq!(r[1].text, "latency above 300ms for 1m 30s → alert");
        // Default rules are kept only for series that exist with their unit: none here.
        let p = ok("\
metrics:
  source: {kind: prometheus, url: 'http://prom:9090'}
  series:
    errors: {query: q1, unit: ratio}
");
        assert!(p.guardrails.rules.is_empty());
    }

    #[test]
    fn a_stage_check_has_two_spellings() {
        let p = ok(
            "checklists:\n  pre_release:\n    - {item: A, stage: CI}\n    - {item: B, check: {stage: CI}}\n",
        );
        assert_eq!(
            p.checklists.pre_release[0].check,
            p.checklists.pre_release[1].check
        );
        assert_eq!(
            p.checklists.pre_release[0].check,
            Some(Check::Stage("CI".into()))
        );
    }

    #[test]
    fn anchors_and_merge_keys_work() {
        let text = "\
release: {name: shop, version: 1.0.0, strategy: canary}
flag: {name: f, backend: {kind: file, path: flags.yaml}}
rollout:
  steps:
    - &step {name: Beta, percent: 5, bake: 2h, approval: manual}
    - {<<: *step, name: Full, percent: 100}
";
        let p = read(text, "plan.yaml").unwrap();
        let full = &p.rollout.steps[1];
        assert_eq!(full.percent, 100);
        assert_eq!(full.bake, Duration::from_secs(7200));
        assert_eq!(full.approval, Approval::Manual);
    }

    #[test]
    fn equal_percents_are_allowed() {
        let text = BASE.replace("percent: 100", "percent: 5");
        assert!(read(&text, "plan.yaml").is_ok());
    }

    #[test]
    fn version_keeps_its_spelling() {
        let text = BASE.replace("version: 1.0.0", "version: 1.10");
        assert_eq!(read(&text, "plan.yaml").unwrap().release.version, "1.10");
    }

    #[test]
    fn unleash_defaults() {
        let text = BASE.replace(
            "backend: {kind: file, path: flags.yaml}",
            "backend: {kind: unleash, url: 'https://u.example.com/api', token_env: UNLEASH_TOKEN, environment: production}",
        );
        let p = read(&text, "plan.yaml").unwrap();
        assert_eq!(
            p.flag.backend,
            BackendSpec::Unleash {
                url: "https://u.example.com/api".into(),
                token_env: "UNLEASH_TOKEN".into(),
                project: "default".into(),
                environment: "production".into(),
                create: false,
            }
        );
    }

    #[test]
    fn a_typo_is_not_also_reported_missing() {
        let text = BASE.replace("flag: {name: f,", "flag: {nmae: f,");
        let d = read(&text, "plan.yaml").unwrap_err();
        assert_eq!(d.len(), 1, "{d:#?}");
        assert_eq!(d[0].hint.as_deref(), Some("did you mean `name`?"));
    }

    #[test]
    fn a_kind_typo_is_named() {
        let text = BASE.replace("{kind: file,", "{kidn: file,");
        let d = read(&text, "plan.yaml").unwrap_err();
        assert_eq!(d.len(), 1, "{d:#?}");
        assert_eq!(d[0].message, "unknown key `kidn` in flag backend");
        assert_eq!((d[0].line, d[0].column), (2, 27));
    }

    #[test]
    fn an_unknown_key_far_from_any_lists_the_valid_ones() {
        let d = errs("zebra: 1\n");
        assert_eq!(d[0].message, "unknown key `zebra` in the plan");
        assert!(
            d[0].hint
                .as_deref()
                .unwrap()
                .contains("`guardrails`, `checklists`")
        );
        assert_eq!((d[0].line, d[0].column), (7, 1));
    }

    #[test]
    fn an_empty_required_value_points_at_itself() {
        let text = BASE.replace("version: 1.0.0", "version:");
        let d = read(&text, "plan.yaml").unwrap_err();
        assert_eq!(d.len(), 1, "{d:#?}");
        assert!(d[0].message.contains("`version` in `release` has no value"));
    }

    #[test]
    fn one_bad_setting_does_not_hide_the_rules_behind_it() {
        let d = errs(
            "metrics:\n  interval: 0s\nguardrails:\n  rules:\n    - {metric: p59, above: 2s, action: alert}\n",
        );
        let msgs: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(d.len(), 2, "{msgs:?}");
        assert!(msgs[0].contains("metrics interval must be longer than 0"));
        assert!(msgs[1].contains("unknown metric `p59`"));
    }

    #[test]
    fn refusals_that_say_why() {
        let cases = [
            ("guardrails: {on_stale: Promote}\n", "never allowed"),
            (
                "guardrails:\n  rules: [{metric: p95, above_baseline: 0.5x, action: alert}]\n",
                "below 1x",
            ),
            (
                "guardrails:\n  rules: [{metric: p95, above: 2s}]\n",
                "missing `action`",
            ),
            (
                "metrics:\n  source: {kind: prometheus, url: 'http://p:9090'}\n",
                "no `series`",
            ),
            ("metrics:\n  series: {}\n", "`metrics.series` is empty"),
            (
                "metrics:\n  min_samples: 0\n",
                "min_samples 0 is outside 1..=100000",
            ),
            ("pipeline: []\n", "`pipeline` is empty"),
            (
                "pipeline: [{name: QA, status: passed, timeout: 5m}, Prod]\n",
                "a `timeout` but no `command`",
            ),
            (
                "pipeline: [{name: QA}, {name: QA}]\n",
                "duplicate stage name `QA`",
            ),
            ("pipeline: [{name: CI, command: []}, Prod]\n", "is empty"),
            (
                "notify: [{kind: webhook, url_env: 'https://hooks.slack.com/x'}]\n",
                "name of an environment variable",
            ),
            ("notify: [{kind: pager}]\n", "unknown notifier kind `pager`"),
            ("notify: [{kind: pagerduty}]\n", "missing `routing_key_env`"),
            (
                "notify: [{kind: pagerduty, routing_key_env: 'r0-12.3'}]\n",
                "name of an environment variable",
            ),
            (
                "notify: [{kind: slack, token_env: SLACK_BOT_TOKEN}]\n",
                "missing `channel`",
            ),
            (
                "notify: [{kind: slack, token: xoxb-1, channel: '#r'}]\n",
                "`token`",
            ),
            (
                "notify: [{kind: json, url_env: HOOK, url: 'https://x'}]\n",
                "`url`",
            ),
            (
                "checklists:\n  release_day: [{item: X, check: {metric: p95}}]\n",
                "needs `above` or `below`",
            ),
            (
                "checklists:\n  release_day: [{item: X, check: {command: [a], metric: p95}}]\n",
                "both `command` and `metric`",
            ),
            (
                "checklists:\n  release_day: [{item: X, check: {}}]\n",
                "needs `command`, `metric` or `stage`",
            ),
            (
                "checklists:\n  release_day: [{check: {stage: CI}}]\n",
                "missing `item`",
            ),
        ];
        for (extra, needle) in cases {
            let d = errs(extra);
            assert!(
                d.iter().any(|d| d.message.contains(needle)),
                "{extra:?}: no {needle:?} in {d:#?}"
            );
        }
    }

    #[test]
    fn wrong_types_name_what_was_found() {
        let d = errs("checklists: [a, b]\n");
        assert!(
            d[0].message
                .contains("`checklists` must be a mapping, found a list"),
            "{d:#?}"
        );
        let text = BASE.replace("percent: 5,", "percent: 5.5,");
        let d = read(&text, "plan.yaml").unwrap_err();
        assert!(d[0].message.contains("found a number `5.5`"), "{d:#?}");
        let text = BASE.replace("bake: 1h}", "bake: [1h]}");
        let d = read(&text, "plan.yaml").unwrap_err();
        assert!(
            d[0].message
                .contains("bake must be a duration, found a list"),
            "{d:#?}"
        );
    }
}
