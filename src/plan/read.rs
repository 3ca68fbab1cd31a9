//! plan::read: walks the located YAML tree of a plan file and builds the validated
//! [`Plan`], collecting every problem it can find in one pass, each at its line:column with
//! what to do about it. Fills in the defaults. Never touches the file system: paths are
//! only resolved against the plan's folder, not checked.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::defaults::*;
use super::error::Diagnostic;
use super::model::*;
use super::summary::{rule_text, unit_name};
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
        let range = format!("{min}..={max}");
        match &node.value {
            Value::Int(i) => match u64::try_from(*i) {
                Ok(v) if (min..=max).contains(&v) => Some(v),
                _ => {
                    self.error(node, format!("{what} {i} is outside {range}"), None);
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
                    None,
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
        match reqwest::Url::parse(&t) {
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

    // ---- sections -------------------------------------------------------------------

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
        let metrics = match f.get("metrics") {
            Some(n) => self.metrics(n),
            None => Some(MetricsSpec {
                source: default_source(),
                interval: DEFAULT_INTERVAL,
                baseline_window: DEFAULT_BASELINE_WINDOW,
                stale_after: DEFAULT_STALE_AFTER,
                min_samples: DEFAULT_MIN_SAMPLES,
                series: default_series(),
            }),
        };
        // Cross-references are checked only against sections that read cleanly, so one
        // mistake is not reported again as a cascade of unknown names.
        let series = metrics.as_ref().map(|m| m.series.as_slice());
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

    fn release(&mut self, node: &Node) -> Option<Release> {
        let f = self.fields(
            node,
            "`release`",
            &["name", "version", "owner", "strategy", "notes"],
        )?;
        let name = self
            .required(
                &f,
                "name",
                "`release`",
                "name the release, like `name: checkout-v2`",
            )
            .and_then(|n| self.text(n, "release name"));
        let version = self
            .required(&f, "version", "`release`", "add `version: 2.5.0`")
            .and_then(|n| self.text(n, "release version"));
        let owner = match f.get("owner") {
            Some(n) => self.text(n, "release owner").map(Some),
            None => Some(None),
        };
        let strategy = self
            .required(
                &f,
                "strategy",
                "`release`",
                &format!("add `strategy:`, one of {}", backticked(&Strategy::NAMES)),
            )
            .and_then(|n| self.choice(n, "strategy", &STRATEGIES));
        let notes = match f.get("notes") {
            Some(n) => self.notes(n),
            None => Some(ReleaseNotes::default()),
        };
        Some(Release {
            name: name?,
            version: version?,
            owner: owner?,
            strategy: strategy?,
            notes: notes?,
        })
    }

    fn notes(&mut self, node: &Node) -> Option<ReleaseNotes> {
        let f = self.fields(
            node,
            "`release.notes`",
            &["date", "features", "improvements", "fixes", "breaking"],
        )?;
        let date = match f.get("date") {
            Some(n) => self.text(n, "notes date").map(Some),
            None => Some(None),
        };
        let mut list = |key: &str| match f.get(key) {
            Some(n) => self.texts(n, &format!("`notes.{key}`")),
            None => Some(Vec::new()),
        };
        let features = list("features");
        let improvements = list("improvements");
        let fixes = list("fixes");
        let breaking = list("breaking");
        Some(ReleaseNotes {
            date: date?,
            features: features?,
            improvements: improvements?,
            fixes: fixes?,
            breaking: breaking?,
        })
    }

    fn pipeline(&mut self, node: &Node) -> Option<Vec<Stage>> {
        let items = self.list(
            node,
            "`pipeline`",
            "list the stages, like `- {name: CI, command: [cargo, test]}`",
        )?;
        if items.is_empty() {
            self.error(
                node,
                "`pipeline` is empty",
                Some(
                    "remove `pipeline` to get PR → CI → QA → Stage → Prod, or list the stages"
                        .to_string(),
                ),
            );
            return None;
        }
        let last = items.len() - 1;
        let mut stages = Vec::with_capacity(items.len());
        let mut ok = true;
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            match self.stage(item, i == last) {
                Some((stage, name_node)) => {
                    if let Some(line) = seen.get(&stage.name) {
                        self.error(
                            name_node,
                            format!("duplicate stage name `{}`", stage.name),
                            Some(format!(
                                "the first `{}` is on line {line}; stage names must be unique",
                                stage.name
                            )),
                        );
                        ok = false;
                    } else {
                        seen.insert(stage.name.clone(), name_node.line);
                    }
                    stages.push(stage);
                }
                None => ok = false,
            }
        }
        ok.then_some(stages)
    }

    /// One stage and the node of its name (for duplicate reports).
    fn stage<'n>(&mut self, node: &'n Node, is_last: bool) -> Option<(Stage, &'n Node)> {
        // `- Prod` is a stage with a name and nothing else.
        if let Value::Str(name) = &node.value {
            let source = if is_last {
                StageSource::Rollout
            } else {
                StageSource::Static(StageStatus::Pending)
            };
            return Some((
                Stage {
                    name: name.clone(),
                    source,
                },
                node,
            ));
        }
        let f = self.fields(
            node,
            "a pipeline stage",
            &["name", "status", "command", "timeout", "status_file"],
        )?;
        let name_node = self.required(&f, "name", "a pipeline stage", "add `name: CI`")?;
        let name = self.text(name_node, "stage name")?;
        let sources: Vec<&str> = ["status", "command", "status_file"]
            .into_iter()
            .filter(|k| f.has(k))
            .collect();
        if sources.len() > 1 {
            let second = f.get(sources[1]).unwrap_or(node);
            self.error(
                second,
                format!(
                    "stage `{name}` has both `{}` and `{}`; a stage takes one source",
                    sources[0], sources[1]
                ),
                Some(
                    "keep one of `status` (static), `command` (run) or `status_file` (watched)"
                        .to_string(),
                ),
            );
            return None;
        }
        if f.has("timeout") && !f.has("command") {
            if let Some(t) = f.get("timeout") {
                self.error(
                    t,
                    format!("stage `{name}` has a `timeout` but no `command`"),
                    Some(
                        "a timeout limits a command; add `command: [...]` or remove it".to_string(),
                    ),
                );
            }
            return None;
        }
        let source = if let Some(n) = f.get("status") {
            StageSource::Static(self.choice(n, "stage status", &STATUSES)?)
        } else if let Some(n) = f.get("command") {
            let argv = self.argv(n, &format!("stage `{name}` command"))?;
            let timeout = match f.get("timeout") {
                Some(t) => self.positive_duration(t, "stage timeout")?,
                None => DEFAULT_STAGE_TIMEOUT,
            };
            StageSource::Command { argv, timeout }
        } else if let Some(n) = f.get("status_file") {
            StageSource::StatusFile(self.path(n, "stage status_file")?)
        } else if is_last {
            StageSource::Rollout
        } else {
            StageSource::Static(StageStatus::Pending)
        };
        Some((Stage { name, source }, name_node))
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

    fn flag(&mut self, node: &Node) -> Option<FlagSpec> {
        let f = self.fields(node, "`flag`", &["name", "kind", "backend"])?;
        let name = self
            .required(
                &f,
                "name",
                "`flag`",
                "add the flag's name, like `name: new_checkout`",
            )
            .and_then(|n| self.text(n, "flag name"));
        let kind = match f.get("kind") {
            Some(n) => self.choice(n, "flag kind", &FLAG_KINDS),
            None => Some(FlagKind::Release),
        };
        let backend = self
            .required(
                &f,
                "backend",
                "`flag`",
                "add where the flag lives, like `backend: {kind: file, path: flags.yaml}`",
            )
            .and_then(|n| self.backend(n));
        Some(FlagSpec {
            name: name?,
            kind: kind?,
            backend: backend?,
        })
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
        match kind {
            Some(k) => self.choice(k, &format!("{what} kind"), options),
            None => {
                self.error(
                    node,
                    format!("{what} is missing `kind`"),
                    Some(format!("add `kind:`, one of {}", backticked(&names))),
                );
                None
            }
        }
    }

    fn backend(&mut self, node: &Node) -> Option<BackendSpec> {
        #[derive(Clone, Copy)]
        enum K {
            File,
            Unleash,
            Flagd,
        }
        let kind = self.kind(
            node,
            "flag backend",
            &[
                ("file", K::File),
                ("unleash", K::Unleash),
                ("flagd", K::Flagd),
            ],
        )?;
        match kind {
            K::File | K::Flagd => {
                let f = self.fields(node, "the flag backend", &["kind", "path"])?;
                let path = self
                    .required(
                        &f,
                        "path",
                        "the flag backend",
                        "add `path: flags.yaml` (relative to the plan)",
                    )
                    .and_then(|n| self.path(n, "flag backend path"))?;
                Some(match kind {
                    K::File => BackendSpec::File { path },
                    _ => BackendSpec::Flagd { path },
                })
            }
            K::Unleash => {
                let f = self.fields(
                    node,
                    "the unleash backend",
                    &[
                        "kind",
                        "url",
                        "token_env",
                        "project",
                        "environment",
                        "create",
                    ],
                )?;
                let url = self
                    .required(
                        &f,
                        "url",
                        "the unleash backend",
                        "add `url: https://unleash.example.com`",
                    )
                    .and_then(|n| self.url(n, "unleash url"));
                let token_env = self
                    .required(
                        &f,
                        "token_env",
                        "the unleash backend",
                        "add `token_env: UNLEASH_TOKEN`, the environment variable holding an admin token",
                    )
                    .and_then(|n| self.env_name(n, "unleash token_env"));
                let project = match f.get("project") {
                    Some(n) => self.text(n, "unleash project"),
                    None => Some(DEFAULT_UNLEASH_PROJECT.to_string()),
                };
                let environment = self
                    .required(
                        &f,
                        "environment",
                        "the unleash backend",
                        "add `environment: production` (which Unleash environment the rollout drives)",
                    )
                    .and_then(|n| self.text(n, "unleash environment"));
                let create = match f.get("create") {
                    Some(n) => self.boolean(n, "unleash create"),
                    None => Some(false),
                };
                Some(BackendSpec::Unleash {
                    url: url?,
                    token_env: token_env?,
                    project: project?,
                    environment: environment?,
                    create: create?,
                })
            }
        }
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

    fn rollout(&mut self, node: &Node) -> Option<Rollout> {
        let f = self.fields(node, "`rollout`", &["steps", "watch"])?;
        let steps = self
            .required(
                &f,
                "steps",
                "`rollout`",
                "add `steps:`, like `- {name: Beta, percent: 5, bake: 1d}`",
            )
            .and_then(|n| self.steps(n));
        let watch = match f.get("watch") {
            Some(n) => self.duration(n, "rollout watch"),
            None => Some(DEFAULT_WATCH),
        };
        Some(Rollout {
            steps: steps?,
            watch: watch?,
        })
    }

    fn steps(&mut self, node: &Node) -> Option<Vec<Step>> {
        let items = self.list(
            node,
            "`rollout.steps`",
            "list the steps, like `- {name: Beta, percent: 5, bake: 1d}`",
        )?;
        if items.is_empty() {
            self.error(
                node,
                "`rollout.steps` is empty; a rollout needs at least one step",
                Some("add a step, like `- {name: Full, percent: 100, bake: 1d}`".to_string()),
            );
            return None;
        }
        let mut steps = Vec::with_capacity(items.len());
        let mut ok = true;
        // (name, line) of every step so far, and the last step with a readable percent.
        let mut names: HashMap<String, usize> = HashMap::new();
        let mut previous: Option<(String, u8)> = None;
        for item in items {
            let Some(f) = self.fields(
                item,
                "a rollout step",
                &["name", "percent", "groups", "bake", "approval"],
            ) else {
                ok = false;
                continue;
            };
            let name_node = self.required(&f, "name", "a rollout step", "add `name: Beta`");
            let name = name_node.and_then(|n| self.text(n, "step name"));
            if let (Some(name), Some(n)) = (&name, name_node) {
                if let Some(line) = names.get(name) {
                    self.error(
                        n,
                        format!("duplicate step name `{name}`"),
                        Some(format!(
                            "the first `{name}` is on line {line}; step names must be unique"
                        )),
                    );
                    ok = false;
                } else {
                    names.insert(name.clone(), n.line);
                }
            }
            let percent_node = self.required(
                &f,
                "percent",
                "a rollout step",
                "add `percent: 5` (0..=100)",
            );
            let percent = percent_node.and_then(|n| self.percent(n));
            if let (Some(p), Some(n)) = (percent, percent_node) {
                if let Some((prev_name, prev)) = &previous
                    && p < *prev
                {
                    self.error(
                        n,
                        format!("percent {p} is lower than the step before (`{prev_name}` at {prev}%); steps only go up"),
                        Some("to go back down, roll back or use the slider during the release".to_string()),
                    );
                    ok = false;
                }
                previous = Some((name.clone().unwrap_or_default(), p));
            }
            let groups = match f.get("groups") {
                Some(n) => self.texts(n, "step groups"),
                None => Some(Vec::new()),
            };
            let bake = self
                .required(
                    &f,
                    "bake",
                    "a rollout step",
                    "add how long the step must stay healthy before it promotes, like `bake: 1h`",
                )
                .and_then(|n| self.duration(n, "bake"));
            let approval = match f.get("approval") {
                Some(n) => self.choice(
                    n,
                    "approval",
                    &[("auto", Approval::Auto), ("manual", Approval::Manual)],
                ),
                None => Some(Approval::Auto),
            };
            match (name, percent, groups, bake, approval) {
                (Some(name), Some(percent), Some(groups), Some(bake), Some(approval)) => steps
                    .push(Step {
                        name,
                        percent,
                        groups,
                        bake,
                        approval,
                    }),
                _ => ok = false,
            }
        }
        ok.then_some(steps)
    }

    fn percent(&mut self, node: &Node) -> Option<u8> {
        let hint = Some("a step's percent is a whole number from 0 to 100".to_string());
        match &node.value {
            Value::Int(i) => match u8::try_from(*i) {
                Ok(p) if p <= 100 => Some(p),
                _ => {
                    self.error(node, format!("percent {i} is outside 0..=100"), hint);
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
                    format!("percent must be a whole number 0..=100, found {shown}"),
                    hint,
                );
                None
            }
        }
    }

    fn metrics(&mut self, node: &Node) -> Option<MetricsSpec> {
        let f = self.fields(
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
        )?;
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
        Some(MetricsSpec {
            source: source?,
            interval: interval?,
            baseline_window: baseline_window?,
            stale_after: stale_after?,
            min_samples: min_samples?,
            series: series?,
        })
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
                let f = self.fields(node, "the simulated source", &["kind", "scenario", "seed"])?;
                let scenario = match f.get("scenario") {
                    Some(n) => self.choice(n, "scenario", &SCENARIOS),
                    None => Some(Scenario::Healthy),
                };
                let seed = match f.get("seed") {
                    Some(n) => self.whole(n, "seed", 0, u64::MAX),
                    None => Some(DEFAULT_SEED),
                };
                Some(SourceSpec::Simulated {
                    scenario: scenario?,
                    seed: seed?,
                })
            }
            K::Prometheus => {
                let f = self.fields(
                    node,
                    "the prometheus source",
                    &["kind", "url", "token_env", "timeout", "headers"],
                )?;
                let url = self
                    .required(
                        &f,
                        "url",
                        "the prometheus source",
                        "add `url: http://127.0.0.1:9090`",
                    )
                    .and_then(|n| self.url(n, "prometheus url"));
                let token_env = match f.get("token_env") {
                    Some(n) => self.env_name(n, "prometheus token_env").map(Some),
                    None => Some(None),
                };
                let timeout = match f.get("timeout") {
                    Some(n) => self.positive_duration(n, "prometheus timeout"),
                    None => Some(DEFAULT_PROMETHEUS_TIMEOUT),
                };
                let headers = match f.get("headers") {
                    Some(n) => self.headers(n),
                    None => Some(Vec::new()),
                };
                Some(SourceSpec::Prometheus {
                    url: url?,
                    token_env: token_env?,
                    timeout: timeout?,
                    headers: headers?,
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
            match (
                self.text(k, "a header name"),
                self.text(v, "a header value"),
            ) {
                (Some(k), Some(v)) => out.push((k, v)),
                _ => ok = false,
            }
        }
        ok.then_some(out)
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
                let hint = match suggest(&name, known.iter().copied()) {
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
    fn known_series<'s>(
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
        let hint = match suggest(&name, names.iter().copied()) {
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
    fn threshold(&mut self, node: &Node, unit: Unit, metric: &str) -> Option<f64> {
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

    fn guardrails(&mut self, node: &Node, series: Option<&[Series]>) -> Option<Guardrails> {
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

    fn checklists(
        &mut self,
        node: &Node,
        series: Option<&[Series]>,
        stages: Option<&[Stage]>,
    ) -> Option<Checklists> {
        let f = self.fields(
            node,
            "`checklists`",
            &["pre_release", "release_day", "post_release", "rollback"],
        )?;
        let defaults = default_checklists();
        let mut list = |key: &str, default: Vec<Item>| match f.get(key) {
            Some(n) => self.items(n, key, series, stages),
            None => Some(default),
        };
        let pre_release = list("pre_release", defaults.pre_release);
        let release_day = list("release_day", defaults.release_day);
        let post_release = list("post_release", defaults.post_release);
        let rollback = list("rollback", defaults.rollback);
        Some(Checklists {
            pre_release: pre_release?,
            release_day: release_day?,
            post_release: post_release?,
            rollback: rollback?,
        })
    }

    fn items(
        &mut self,
        node: &Node,
        key: &str,
        series: Option<&[Series]>,
        stages: Option<&[Stage]>,
    ) -> Option<Vec<Item>> {
        let items = self.list(
            node,
            &format!("`checklists.{key}`"),
            "list the items, like `- Code reviewed`; `[]` for none",
        )?;
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            match self.item(item, series, stages) {
                Some(i) => out.push(i),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn item(
        &mut self,
        node: &Node,
        series: Option<&[Series]>,
        stages: Option<&[Stage]>,
    ) -> Option<Item> {
        if let Value::Map(_) = node.value {
            let f = self.fields(node, "a checklist item", &["item", "check", "stage"])?;
            let text = self
                .required(
                    &f,
                    "item",
                    "a checklist item",
                    "add `item:` with the item's text",
                )
                .and_then(|n| self.text(n, "checklist item"));
            let check = match (f.get("check"), f.get("stage")) {
                (Some(_), Some(s)) => {
                    self.error(
                        s,
                        "a checklist item has both `check` and `stage`",
                        Some(
                            "keep one: `stage: NAME` is short for `check: {stage: NAME}`"
                                .to_string(),
                        ),
                    );
                    None
                }
                (Some(c), None) => self.check(c, series, stages).map(Some),
                (None, Some(s)) => self.stage_ref(s, stages).map(|n| Some(Check::Stage(n))),
                (None, None) => Some(None),
            };
            return Some(Item {
                text: text?,
                check: check?,
            });
        }
        let text = self.text(node, "checklist item")?;
        Some(Item { text, check: None })
    }

    /// A stage a checklist item waits for; must exist in the pipeline.
    fn stage_ref(&mut self, node: &Node, stages: Option<&[Stage]>) -> Option<String> {
        let name = self.text(node, "checklist stage")?;
        let stages = stages?;
        if stages.iter().any(|s| s.name == name) {
            return Some(name);
        }
        let names: Vec<&str> = stages.iter().map(|s| s.name.as_str()).collect();
        let hint = match suggest(&name, names.iter().copied()) {
            Some(s) => format!(
                "did you mean `{s}`? the pipeline has {}",
                backticked(&names)
            ),
            None => format!("the pipeline has {}", backticked(&names)),
        };
        self.error(
            node,
            format!("unknown stage `{name}`: it is not in the pipeline"),
            Some(hint),
        );
        None
    }

    fn check(
        &mut self,
        node: &Node,
        series: Option<&[Series]>,
        stages: Option<&[Stage]>,
    ) -> Option<Check> {
        let f = self.fields(
            node,
            "a checklist check",
            &["command", "timeout", "metric", "above", "below", "stage"],
        )?;
        let kinds: Vec<&str> = ["command", "metric", "stage"]
            .into_iter()
            .filter(|k| f.has(k))
            .collect();
        match kinds.as_slice() {
            [] => {
                self.error(
                    node,
                    "a checklist check needs `command`, `metric` or `stage`",
                    Some("like `check: {command: [cargo, test]}` or `check: {metric: error_rate, below: 1%}`".to_string()),
                );
                None
            }
            ["command"] => self.command_check(&f),
            ["metric"] => self.metric_check(node, &f, series),
            [_] => {
                for k in ["timeout", "above", "below"] {
                    if let Some(n) = f.get(k) {
                        self.error(n, format!("a stage check takes no `{k}`"), None);
                        return None;
                    }
                }
                self.stage_ref(f.get("stage")?, stages).map(Check::Stage)
            }
            [first, second, ..] => {
                let at = f.get(second).unwrap_or(node);
                self.error(
                    at,
                    format!("a checklist check has both `{first}` and `{second}`; a check does one thing"),
                    Some("split it into two items".to_string()),
                );
                None
            }
        }
    }

    fn command_check(&mut self, f: &Fields) -> Option<Check> {
        for k in ["above", "below"] {
            if let Some(n) = f.get(k) {
                self.error(n, format!("a command check takes no `{k}`"), None);
                return None;
            }
        }
        let argv = self.argv(f.get("command")?, "check command");
        let timeout = match f.get("timeout") {
            Some(t) => self.positive_duration(t, "check timeout"),
            None => Some(DEFAULT_CHECK_TIMEOUT),
        };
        Some(Check::Command {
            argv: argv?,
            timeout: timeout?,
        })
    }

    fn metric_check(
        &mut self,
        node: &Node,
        f: &Fields,
        series: Option<&[Series]>,
    ) -> Option<Check> {
        if let Some(t) = f.get("timeout") {
            self.error(
                t,
                "a metric check takes no `timeout`",
                Some("a timeout limits a command check".to_string()),
            );
            return None;
        }
        let target = match series {
            Some(s) => self.known_series(f.get("metric")?, s, "check metric"),
            None => None,
        };
        let condition = match (f.get("above"), f.get("below")) {
            (Some(_), Some(b)) => {
                self.error(
                    b,
                    "a metric check has both `above` and `below`",
                    Some("keep one; split it into two items to check a range".to_string()),
                );
                None
            }
            (None, None) => {
                self.error(
                    node,
                    "a metric check needs `above` or `below`",
                    Some("like `{metric: error_rate, below: 1%}`".to_string()),
                );
                None
            }
            (Some(a), None) => match &target {
                Some((s, name)) => self.threshold(a, s.unit, name).map(Condition::Above),
                None => None,
            },
            (None, Some(b)) => match &target {
                Some((s, name)) => self.threshold(b, s.unit, name).map(Condition::Below),
                None => None,
            },
        };
        let (_, metric) = target?;
        Some(Check::Metric {
            metric,
            condition: condition?,
        })
    }

    fn notify(&mut self, node: &Node) -> Option<Vec<NotifierSpec>> {
        let items = self.list(
            node,
            "`notify`",
            "list the notifiers, like `- {kind: log, path: deploy.log}`",
        )?;
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            match self.notifier(item) {
                Some(n) => out.push(n),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn notifier(&mut self, node: &Node) -> Option<NotifierSpec> {
        #[derive(Clone, Copy)]
        enum K {
            Webhook,
            Log,
        }
        match self.kind(
            node,
            "notifier",
            &[("webhook", K::Webhook), ("log", K::Log)],
        )? {
            K::Webhook => {
                let f = self.fields(node, "the webhook notifier", &["kind", "url_env"])?;
                let url_env = self
                    .required(
                        &f,
                        "url_env",
                        "the webhook notifier",
                        "add `url_env: SLACK_WEBHOOK_URL`, the environment variable holding the URL",
                    )
                    .and_then(|n| self.env_name(n, "webhook url_env"))?;
                Some(NotifierSpec::Webhook { url_env })
            }
            K::Log => {
                let f = self.fields(node, "the log notifier", &["kind", "path"])?;
                let path = self
                    .required(
                        &f,
                        "path",
                        "the log notifier",
                        "add `path: deploy.log` (relative to the plan)",
                    )
                    .and_then(|n| self.path(n, "log path"))?;
                Some(NotifierSpec::Log { path })
            }
        }
    }
}

const STRATEGIES: [(&str, Strategy); 5] = [
    ("canary", Strategy::Canary),
    ("blue-green", Strategy::BlueGreen),
    ("rolling", Strategy::Rolling),
    ("big-bang", Strategy::BigBang),
    ("flag", Strategy::Flag),
];

const STATUSES: [(&str, StageStatus); 5] = [
    ("pending", StageStatus::Pending),
    ("running", StageStatus::Running),
    ("passed", StageStatus::Passed),
    ("failed", StageStatus::Failed),
    ("skipped", StageStatus::Skipped),
];

const FLAG_KINDS: [(&str, FlagKind); 4] = [
    ("release", FlagKind::Release),
    ("experiment", FlagKind::Experiment),
    ("ops", FlagKind::Ops),
    ("permission", FlagKind::Permission),
];

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

const ACTIONS: [(&str, Action); 3] = [
    ("alert", Action::Alert),
    ("pause", Action::Pause),
    ("rollback", Action::Rollback),
];
