//! plan::read::release: the release, its pipeline, its flag and its rollout steps.
//! Checks names, step percents (0..=100, never down) and stage sources; never looks at
//! metrics.

use std::collections::HashMap;

use super::Reader;
use super::values::backticked;
use crate::plan::defaults::*;
use crate::plan::model::*;
use crate::plan::yaml::{Node, Value};

impl Reader {
    pub(super) fn release(&mut self, node: &Node) -> Option<Release> {
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

    pub(super) fn pipeline(&mut self, node: &Node) -> Option<Vec<Stage>> {
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
            let statuses = StageStatus::ALL.map(|s| (s.word(), s));
            StageSource::Static(self.choice(n, "stage status", &statuses)?)
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

    pub(super) fn flag(&mut self, node: &Node) -> Option<FlagSpec> {
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

    pub(super) fn rollout(&mut self, node: &Node) -> Option<Rollout> {
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
        let p = self.whole_or(node, "percent", 0, 100, hint)?;
        u8::try_from(p).ok()
    }
}

const STRATEGIES: [(&str, Strategy); 5] = [
    ("canary", Strategy::Canary),
    ("blue-green", Strategy::BlueGreen),
    ("rolling", Strategy::Rolling),
    ("big-bang", Strategy::BigBang),
    ("flag", Strategy::Flag),
];

const FLAG_KINDS: [(&str, FlagKind); 4] = [
    ("release", FlagKind::Release),
    ("experiment", FlagKind::Experiment),
    ("ops", FlagKind::Ops),
    ("permission", FlagKind::Permission),
];
