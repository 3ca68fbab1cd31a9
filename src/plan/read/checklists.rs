//! plan::read::checklists: the checklists, with their automatic checks. Cross-checks that checks name real series and stages; never runs a check.

use super::Reader;
use super::values::{Fields, backticked};
use crate::plan::defaults::*;
use crate::plan::model::*;
use crate::plan::yaml::{Node, Value};
use crate::support::suggest;

impl Reader {
    pub(super) fn checklists(
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
        // A list the plan leaves out stays the reference list, as a suggestion.
        let mut suggested = std::collections::BTreeSet::new();
        let mut list = |key: &str, kind: ListKind, default: Vec<Item>| match f.get(key) {
            Some(n) => self.items(n, key, series, stages),
            None => {
                suggested.insert(kind);
                Some(default)
            }
        };
        let pre_release = list("pre_release", ListKind::PreRelease, defaults.pre_release);
        let release_day = list("release_day", ListKind::ReleaseDay, defaults.release_day);
        let post_release = list("post_release", ListKind::PostRelease, defaults.post_release);
        let rollback = list("rollback", ListKind::Rollback, defaults.rollback);
        Some(Checklists {
            pre_release: pre_release?,
            release_day: release_day?,
            post_release: post_release?,
            rollback: rollback?,
            suggested,
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
        let hint = match suggest::closest(&name, names.iter().copied()) {
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
}
