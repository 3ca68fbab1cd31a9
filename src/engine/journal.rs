//! engine::journal: the record of every action and decision — what, who, when, why, and the
//! values behind it. Owns the entry shape and its renderings; never writes files (the
//! store does).

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use super::guardrail::{Explain, format_value};

/// Who or what an entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A person's command (keys on screen or `shipdeck promote`, ...).
    Action,
    /// The engine decided (bake complete, guardrail tripped, ...).
    Decision,
    /// Something changed outside shipdeck (the flag file edited by hand, ...).
    Outside,
    /// An adapter failed (a flag write, a webhook).
    Error,
    /// Information (flag confirmed, checklist ticked by a check).
    Note,
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// Engine clock time.
    pub at: DateTime<Utc>,
    pub operator: String,
    pub kind: Kind,
    /// A short verb: `start`, `promote`, `pause`, `guardrail`, `rollback`, `flag`, ...
    pub action: String,
    pub reason: String,
    /// The step the release was on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Metric values behind the decision, by series name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explain: Option<Box<Explain>>,
}

impl Entry {
    /// `2024-05-01T14:01:58Z promote    → Gradual 25% (alice)`: the entry as every text
    /// output prints it (`shipdeck journal`, `status`, a headless run, a replay), so they
    /// can be read side by side. The action is padded so reasons line up.
    pub fn line(&self) -> String {
        format!(
            "{} {:<10} {} ({})",
            self.at.format("%Y-%m-%dT%H:%M:%SZ"),
            self.action,
            self.reason,
            self.operator
        )
    }

    /// The entry as printed by a command: one line of JSON with `--json`, else [`Entry::line`].
    pub fn printed(&self, json: bool) -> String {
        if json {
            serde_json::to_string(self).unwrap_or_else(|err| format!("{{\"error\":\"{err}\"}}"))
        } else {
            self.line()
        }
    }

    pub fn headline(&self) -> String {
        if self.reason.is_empty() {
            self.action.clone()
        } else {
            format!("{}: {}", self.action, self.reason)
        }
    }
}

/// The journal as a Markdown timeline, ready to paste into a postmortem.
pub fn markdown(title: &str, entries: &[Entry]) -> String {
    let mut out = format!("# {title}: release timeline\n\n");
    if let (Some(first), Some(last)) = (entries.first(), entries.last()) {
        out.push_str(&format!(
            "{} entries from {} to {} (UTC).\n\n",
            entries.len(),
            first.at.format("%Y-%m-%d %H:%M:%S"),
            last.at.format("%Y-%m-%d %H:%M:%S")
        ));
    } else {
        out.push_str("The journal is empty: the release has not started.\n");
        return out;
    }
    out.push_str("| time (UTC) | who | what | why | step | values |\n|---|---|---|---|---|---|\n");
    for e in entries {
        let values = e
            .values
            .iter()
            .map(|(k, v)| format!("{k}={}", trim_float(*v)))
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            e.at.format("%Y-%m-%d %H:%M:%S"),
            cell(&e.operator),
            cell(&e.action),
            cell(&e.reason),
            cell(e.step.as_deref().unwrap_or("")),
            cell(&values)
        ));
    }
    let trips: Vec<&Explain> = entries
        .iter()
        .filter_map(|e| e.explain.as_deref())
        .collect();
    if !trips.is_empty() {
        out.push_str("\n## Guardrail trips\n");
        for x in trips {
            out.push_str(&format!(
                "\n### {} at {}\n\n- rule: `{}`\n- query: `{}`\n- {}\n- held since {}\n- samples:\n",
                x.metric,
                x.at.format("%Y-%m-%d %H:%M:%S"),
                x.rule_text,
                x.query.as_deref().unwrap_or("(simulated)"),
                x.summary(),
                x.since.format("%H:%M:%S"),
            ));
            for p in &x.samples {
                let v = p
                    .value
                    .map(|v| format_value(v, x.unit))
                    .unwrap_or_else(|| "missing".into());
                out.push_str(&format!("  - {} {}\n", p.at.format("%H:%M:%S"), v));
            }
        }
    }
    out
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
