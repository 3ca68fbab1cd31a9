//! plan::read: walks the located YAML tree of a plan file and builds the validated
//! [`Plan`], collecting every problem it can find in one pass, each at its line:column with
//! what to do about it. Fills in the defaults. Never touches the file system: paths are
//! only resolved against the plan's folder, not checked.

use std::path::{Path, PathBuf};
use std::time::Duration;

mod checklists;
mod metrics;
mod release;

use super::defaults::*;
use super::error::Diagnostic;
use super::model::*;
use super::units;
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

/// The entries of one YAML mapping whose keys were all checked against the allowed set.
struct Fields<'n> {
    at: &'n Node,
    entries: Vec<(String, &'n Node)>,
    /// Allowed keys an unknown key looked like; already reported, so not "missing" too.
    typos: Vec<&'static str>,
}

impl<'n> Fields<'n> {
    /// The value under `key`; a key with an empty value counts as absent.
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, v)| k == key && !v.is_null())
            .map(|(_, v)| *v)
    }

    fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

/// Did-you-mean: the closest candidate, when it is close enough to be a typo.
fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let w = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&w, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= 2.max(c.chars().count() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn backticked(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A hint for a name that is not one of `valid`: the likely typo, else the whole list.
fn choice_hint(word: &str, valid: &[&str]) -> String {
    match suggest(word, valid.iter().copied()) {
        Some(s) => format!("did you mean `{s}`? valid: {}", backticked(valid)),
        None => format!("valid: {}", backticked(valid)),
    }
}

/// Spelling-insensitive key for enum names: `blue-green`, `blue_green`, `BlueGreen`.
fn fold(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '-' && *c != '_' && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
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

    /// `node` as a mapping whose keys are all in `allowed`; unknown keys are reported at
    /// themselves with a did-you-mean. `what` names the mapping in messages.
    fn fields<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        allowed: &[&'static str],
    ) -> Option<Fields<'n>> {
        let Value::Map(entries) = &node.value else {
            let found = node.kind();
            self.error(
                node,
                format!("{what} must be a mapping, found {found}"),
                Some(format!(
                    "write it as `key: value` lines; keys: {}",
                    backticked(allowed)
                )),
            );
            return None;
        };
        let mut fields = Fields {
            at: node,
            entries: Vec::with_capacity(entries.len()),
            typos: Vec::new(),
        };
        for (k, v) in entries {
            let Some(key) = k.scalar_text() else {
                self.error(
                    k,
                    format!("a key in {what} must be a name, found {}", k.kind()),
                    None,
                );
                continue;
            };
            if allowed.contains(&key.as_str()) {
                fields.entries.push((key, v));
            } else {
                let hint = match suggest(&key, allowed.iter().copied()) {
                    Some(s) => {
                        fields.typos.push(s);
                        format!("did you mean `{s}`?")
                    }
                    None => format!("valid keys here: {}", backticked(allowed)),
                };
                self.error(k, format!("unknown key `{key}` in {what}"), Some(hint));
            }
        }
        Some(fields)
    }

    /// The value under a key that must be there.
    fn required<'n>(
        &mut self,
        f: &Fields<'n>,
        key: &str,
        what: &str,
        hint: &str,
    ) -> Option<&'n Node> {
        let v = f.get(key);
        if v.is_some() || f.typos.contains(&key) {
            return v;
        }
        match f.entries.iter().find(|(k, _)| k == key) {
            Some((_, empty)) => self.error(
                empty,
                format!("`{key}` in {what} has no value"),
                Some(hint.to_string()),
            ),
            None => self.error(
                f.at,
                format!("{what} is missing `{key}`"),
                Some(hint.to_string()),
            ),
        }
        None
    }

    /// A non-empty scalar read as text.
    fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.scalar_text() {
            Some(t) if !t.trim().is_empty() => Some(t),
            Some(_) => {
                self.error(node, format!("{what} is empty"), None);
                None
            }
            None => {
                self.error(
                    node,
                    format!("{what} must be text, found {}", node.kind()),
                    None,
                );
                None
            }
        }
    }

    fn list<'n>(&mut self, node: &'n Node, what: &str, hint: &str) -> Option<&'n [Node]> {
        match &node.value {
            Value::Seq(items) => Some(items),
            _ => {
                self.error(
                    node,
                    format!("{what} must be a list, found {}", node.kind()),
                    Some(hint.to_string()),
                );
                None
            }
        }
    }

    fn texts(&mut self, node: &Node, what: &str) -> Option<Vec<String>> {
        let items = self.list(node, what, "write it as `[a, b]` or as `- a` lines")?;
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            match self.text(item, &format!("an entry of {what}")) {
                Some(t) => out.push(t),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn duration(&mut self, node: &Node, what: &str) -> Option<Duration> {
        let Some(text) = node.scalar_text() else {
            self.error(
                node,
                format!("{what} must be a duration, found {}", node.kind()),
                Some("write it like `30s`, `15m`, `2h` or `1d`".to_string()),
            );
            return None;
        };
        match units::parse_duration(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(node, format!("bad {what}: {e}"), None);
                None
            }
        }
    }

    /// A positive duration (an interval or a timeout: zero would spin or never wait).
    fn positive_duration(&mut self, node: &Node, what: &str) -> Option<Duration> {
        let d = self.duration(node, what)?;
        if d.is_zero() {
            self.error(node, format!("{what} must be longer than 0"), None);
            return None;
        }
        Some(d)
    }

    fn whole(&mut self, node: &Node, what: &str, min: u64, max: u64) -> Option<u64> {
        self.whole_or(node, what, min, max, None)
    }

    /// [`Self::whole`], with `hint` on its errors.
    fn whole_or(
        &mut self,
        node: &Node,
        what: &str,
        min: u64,
        max: u64,
        hint: Option<String>,
    ) -> Option<u64> {
        let range = format!("{min}..={max}");
        match &node.value {
            Value::Int(i) => match u64::try_from(*i) {
                Ok(v) if (min..=max).contains(&v) => Some(v),
                _ => {
                    self.error(node, format!("{what} {i} is outside {range}"), hint);
                    None
                }
            },
            _ => {
                let shown = match node.scalar_text() {
                    Some(t) => format!("{} `{t}`", node.kind()),
                    None => node.kind().to_string(),
                };
                self.error(
                    node,
                    format!("{what} must be a whole number {range}, found {shown}"),
                    hint,
                );
                None
            }
        }
    }

    /// One of a fixed set of names; the message lists them and guesses the typo.
    fn choice<T: Copy>(&mut self, node: &Node, what: &str, options: &[(&str, T)]) -> Option<T> {
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let Some(text) = node.scalar_text() else {
            self.error(
                node,
                format!("{what} must be a name, found {}", node.kind()),
                Some(format!("valid: {}", backticked(&names))),
            );
            return None;
        };
        let folded = fold(&text);
        if let Some((_, v)) = options.iter().find(|(n, _)| fold(n) == folded) {
            return Some(*v);
        }
        self.error(
            node,
            format!("unknown {what} `{text}`"),
            Some(choice_hint(&text, &names)),
        );
        None
    }

    fn path(&mut self, node: &Node, what: &str) -> Option<PathBuf> {
        let p = self.text(node, what)?;
        Some(self.dir.join(p))
    }

    /// The name of an environment variable that holds a secret. Never echoes the value:
    /// if it is not a name, it may be the secret itself.
    fn env_name(&mut self, node: &Node, what: &str) -> Option<String> {
        let t = self.text(node, what)?;
        if is_env_name(&t) {
            Some(t)
        } else {
            self.error(
                node,
                format!("{what} must be the name of an environment variable"),
                Some(
                    "put the secret in an environment variable and write its name here, like `UNLEASH_TOKEN`; never the secret itself"
                        .to_string(),
                ),
            );
            None
        }
    }

    fn url(&mut self, node: &Node, what: &str) -> Option<String> {
        let t = self.text(node, what)?;
        match url::Url::parse(&t) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Some(t),
            _ => {
                self.error(
                    node,
                    format!("{what} `{t}` is not an http(s) URL"),
                    Some("write it like `http://127.0.0.1:9090`".to_string()),
                );
                None
            }
        }
    }

    /// The `kind` of a tagged mapping (backend, source, notifier), read before its keys are
    /// checked, because the allowed keys depend on it.
    fn kind<T: Copy>(&mut self, node: &Node, what: &str, options: &[(&str, T)]) -> Option<T> {
        let Value::Map(entries) = &node.value else {
            self.error(
                node,
                format!(
                    "{what} must be a mapping with a `kind`, found {}",
                    node.kind()
                ),
                None,
            );
            return None;
        };
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let kind = entries
            .iter()
            .find(|(k, _)| k.scalar_text().as_deref() == Some("kind"))
            .map(|(_, v)| v)
            .filter(|v| !v.is_null());
        if let Some(k) = kind {
            return self.choice(k, &format!("{what} kind"), options);
        }
        // `kidn: file` would otherwise only say `kind` is missing.
        let typo = entries
            .iter()
            .filter_map(|(k, _)| k.scalar_text().map(|t| (k, t)))
            .find(|(_, t)| suggest(t, ["kind"]).is_some());
        match typo {
            Some((at, t)) => self.error(
                at,
                format!("unknown key `{t}` in {what}"),
                Some("did you mean `kind`?".to_string()),
            ),
            None => self.error(
                node,
                format!("{what} is missing `kind`"),
                Some(format!("add `kind:`, one of {}", backticked(&names))),
            ),
        }
        None
    }

    fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                self.error(
                    node,
                    format!("{what} must be true or false, found {}", node.kind()),
                    None,
                );
                None
            }
        }
    }

    /// A command as argv (run without a shell), never empty.
    fn argv(&mut self, node: &Node, what: &str) -> Option<Vec<String>> {
        if let Value::Str(s) = &node.value {
            self.error(
                node,
                format!("{what} must be a list of arguments, found text `{s}`"),
                Some(
                    "commands run without a shell: write `[cargo, test]`, not `cargo test`"
                        .to_string(),
                ),
            );
            return None;
        }
        let argv = self.texts(node, what)?;
        if argv.is_empty() {
            self.error(
                node,
                format!("{what} is empty"),
                Some("write it like `[cargo, test]`".to_string()),
            );
            return None;
        }
        Some(argv)
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
        Some(Plan {
            path: self.file.clone(),
            release: release?,
            pipeline: pipeline?,
            flag: flag?,
            rollout: rollout?,
            metrics: metrics?,
            guardrails: guardrails?,
            checklists: checklists?,
            notify: notify?,
        })
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
                seed: 7
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
