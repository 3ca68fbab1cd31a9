//! engine::journal: the record of every action and decision — what, who, when, why, and the
//! values behind it. Owns the entry shape and its renderings; never writes files (the
//! store does).

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use super::canary_report::CanaryReport;
use super::guardrail::{Explain, format_value};
use crate::plan::MetricsSpec;
use crate::support::escape::shown;

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

/// What a journal entry records. Stored as its word (`"rolled back"`, `"control-start"`);
/// a word this version does not know (a newer shipdeck's) is kept as it is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Verb {
    Promote,
    Pause,
    Resume,
    Rollback,
    RolledBack,
    BakeComplete,
    Completed,
    Watch,
    SetPercent,
    Tick,
    Untick,
    Flag,
    FlagChanged,
    Guardrail,
    GuardrailClear,
    Stale,
    Fresh,
    Stage,
    Check,
    Rerun,
    Notify,
    Inbox,
    Journal,
    ControlStart,
    ControlStop,
    Takeover,
    Unguarded,
    /// The release moved to another store.
    Moved,
    /// Engine time was held from going back (a resume at another speed or start).
    Clock,
    /// A cron run credited the time since the last evaluation.
    CatchUp,
    /// A resume took the plan's changed steps (`--accept-plan-change`).
    PlanChange,
    /// A new attempt of a rolled-back release.
    Redeploy,
    /// An operator's note from the room.
    Note,
    /// The canary judge's verdict changed, or it acted.
    Canary,
    Other(String),
}

impl Verb {
    pub fn as_str(&self) -> &str {
        match self {
            Verb::Promote => "promote",
            Verb::Pause => "pause",
            Verb::Resume => "resume",
            Verb::Rollback => "rollback",
            Verb::RolledBack => "rolled back",
            Verb::BakeComplete => "bake complete",
            Verb::Completed => "completed",
            Verb::Watch => "watch",
            Verb::SetPercent => "set-percent",
            Verb::Tick => "tick",
            Verb::Untick => "untick",
            Verb::Flag => "flag",
            Verb::FlagChanged => "flag changed",
            Verb::Guardrail => "guardrail",
            Verb::GuardrailClear => "guardrail clear",
            Verb::Stale => "stale",
            Verb::Fresh => "fresh",
            Verb::Stage => "stage",
            Verb::Check => "check",
            Verb::Rerun => "rerun",
            Verb::Notify => "notify",
            Verb::Inbox => "inbox",
            Verb::Journal => "journal",
            Verb::ControlStart => "control-start",
            Verb::ControlStop => "control-stop",
            Verb::Takeover => "takeover",
            Verb::Unguarded => "unguarded",
            Verb::Moved => "moved",
            Verb::Clock => "clock",
            Verb::CatchUp => "catch-up",
            Verb::PlanChange => "plan-change",
            Verb::Redeploy => "redeploy",
            Verb::Note => "note",
            Verb::Canary => "canary",
            Verb::Other(word) => word,
        }
    }
}

impl From<&str> for Verb {
    fn from(word: &str) -> Verb {
        match word {
            "promote" => Verb::Promote,
            "pause" => Verb::Pause,
            "resume" => Verb::Resume,
            "rollback" => Verb::Rollback,
            "rolled back" => Verb::RolledBack,
            "bake complete" => Verb::BakeComplete,
            "completed" => Verb::Completed,
            "watch" => Verb::Watch,
            "set-percent" => Verb::SetPercent,
            "tick" => Verb::Tick,
            "untick" => Verb::Untick,
            "flag" => Verb::Flag,
            "flag changed" => Verb::FlagChanged,
            "guardrail" => Verb::Guardrail,
            "guardrail clear" => Verb::GuardrailClear,
            "stale" => Verb::Stale,
            "fresh" => Verb::Fresh,
            "stage" => Verb::Stage,
            "check" => Verb::Check,
            "rerun" => Verb::Rerun,
            "notify" => Verb::Notify,
            "inbox" => Verb::Inbox,
            "journal" => Verb::Journal,
            "control-start" => Verb::ControlStart,
            "control-stop" => Verb::ControlStop,
            "takeover" => Verb::Takeover,
            "unguarded" => Verb::Unguarded,
            "moved" => Verb::Moved,
            "clock" => Verb::Clock,
            "catch-up" => Verb::CatchUp,
            "plan-change" => Verb::PlanChange,
            "redeploy" => Verb::Redeploy,
            "note" => Verb::Note,
            "canary" => Verb::Canary,
            other => Verb::Other(other.to_string()),
        }
    }
}

impl From<String> for Verb {
    fn from(word: String) -> Verb {
        Verb::from(word.as_str())
    }
}

impl From<Verb> for String {
    fn from(verb: Verb) -> String {
        verb.as_str().to_string()
    }
}

impl PartialEq<&str> for Verb {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for Verb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// Engine clock time.
    pub at: DateTime<Utc>,
    pub operator: String,
    pub kind: Kind,
    /// What it records, as a short verb: `promote`, `pause`, `guardrail`, `rollback`, ...
    pub action: Verb,
    pub reason: String,
    /// The step the release was on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Metric values behind the decision, by series name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explain: Option<Box<Explain>>,
    /// For the canary judge's entries: everything it judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<Box<CanaryReport>>,
    /// For who-guards entries (a controller's start, stop or takeover): which process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

/// The process behind a controller's entry: how it ran, where, and its pid.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Origin {
    pub mode: String,
    pub(crate) host: String,
    pub pid: u32,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}, pid {} on {}", self.mode, self.pid, self.host)
    }
}

impl Entry {
    /// An entry about something beside the engine's decisions: no step, no values.
    pub fn plain(
        at: DateTime<Utc>,
        operator: &str,
        kind: Kind,
        action: Verb,
        reason: String,
    ) -> Entry {
        Entry {
            at,
            operator: operator.to_string(),
            kind,
            action,
            reason,
            step: None,
            values: BTreeMap::new(),
            explain: None,
            canary: None,
            origin: None,
        }
    }

    /// `2024-05-01T14:01:58Z promote    → Gradual 25% (alice)`: the entry as every text
    /// output prints it (`shipdeck journal`, `status`, a headless run, a replay), so they
    /// can be read side by side. The action is padded so reasons line up.
    /// Control characters in any of its words are shown escaped ([`shown`]): a reason
    /// cannot end the line and forge another, or drive the terminal.
    pub fn line(&self) -> String {
        format!(
            "{} {:<10} {} ({})",
            self.at.format("%Y-%m-%dT%H:%M:%SZ"),
            shown(self.action.as_str()),
            shown(&self.reason),
            shown(&self.operator)
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

    /// The values behind the entry, each in its series' unit (`error_rate=1.44%, p95=390ms`);
    /// one whose series `metrics` no longer has is shown as it was recorded, since its unit
    /// is not known.
    pub fn values_text(&self, metrics: &MetricsSpec) -> String {
        self.values
            .iter()
            .map(|(k, v)| match metrics.series(k) {
                Some(series) => format!("{k}={}", format_value(*v, series.unit)),
                None => format!("{k}={}", trim_float(*v)),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `pause: error rate high`, escaped as [`Entry::line`] is.
    pub fn headline(&self) -> String {
        if self.reason.is_empty() {
            shown(self.action.as_str()).into_owned()
        } else {
            format!("{}: {}", shown(self.action.as_str()), shown(&self.reason))
        }
    }
}

/// A stretch of the journal with no controller guarding the release.
#[derive(Debug, Clone, PartialEq)]
pub struct Gap {
    pub from: DateTime<Utc>,
    /// `None`: still unguarded at the end of the journal.
    pub until: Option<DateTime<Utc>>,
    pub why: String,
}

/// When nobody guarded a started release: from a controller's stop (or the last sign of
/// one that vanished) to the next start or takeover. Stops of a release that is not
/// live (before the start, after the end) leave nothing unguarded and are skipped.
pub fn unguarded(entries: &[Entry]) -> Vec<Gap> {
    let mut finder = GapFinder::default();
    entries.iter().for_each(|e| finder.see(e));
    finder.finish()
}

/// [`unguarded`] one entry at a time, for a journal read as a stream.
#[derive(Debug, Default)]
struct GapFinder {
    gaps: Vec<Gap>,
    open: Option<Gap>,
    last_control: Option<DateTime<Utc>>,
}

impl GapFinder {
    fn see(&mut self, e: &Entry) {
        match e.action {
            Verb::ControlStart | Verb::Takeover => {
                if let Some(mut g) = self.open.take() {
                    g.until = Some(e.at);
                    self.gaps.push(g);
                }
                self.last_control = Some(e.at);
            }
            Verb::ControlStop if e.kind == Kind::Error => {
                self.open = Some(Gap {
                    from: e.at,
                    until: None,
                    why: e.reason.clone(),
                });
            }
            Verb::Unguarded => {
                self.open = Some(Gap {
                    from: self.last_control.unwrap_or(e.at),
                    until: None,
                    why: e.reason.clone(),
                });
            }
            _ => {}
        }
    }

    fn finish(mut self) -> Vec<Gap> {
        self.gaps.extend(self.open);
        self.gaps
    }
}

/// The journal as a Markdown timeline, ready to paste into a postmortem; values in the
/// units of `metrics`' series.
pub fn markdown(title: &str, entries: &[Entry], metrics: &MetricsSpec) -> String {
    let mut timeline = Timeline::default();
    entries.iter().for_each(|e| timeline.see(e));
    let mut out = timeline.head(title);
    if !entries.is_empty() {
        entries
            .iter()
            .for_each(|e| out.push_str(&Timeline::row(e, metrics)));
        out.push_str(&timeline.tail(metrics));
    }
    out
}

/// [`markdown`] for a journal too large to hold: [`Timeline::see`] every entry (a first
/// pass), then print [`Timeline::head`], [`Timeline::row`] of every entry (a second
/// pass) and [`Timeline::tail`]. Keeps only the counts, the gaps, the trips and the
/// operators' notes.
#[derive(Debug, Default)]
pub struct Timeline {
    entries: u64,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    gaps: GapFinder,
    trips: Vec<Explain>,
    notes: Vec<Entry>,
    /// The canary judge's entries: its verdicts and what it did.
    judged: Vec<Entry>,
}

impl Timeline {
    pub fn see(&mut self, e: &Entry) {
        self.entries += 1;
        self.first.get_or_insert(e.at);
        self.last = Some(e.at);
        self.gaps.see(e);
        self.trips.extend(e.explain.as_deref().cloned());
        if e.action == Verb::Note {
            self.notes.push(e.clone());
        }
        if e.canary.is_some() {
            self.judged.push(e.clone());
        }
    }

    /// How many entries it has seen.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// The title, the span, and the table's header; for an empty journal, all there is.
    pub fn head(&self, title: &str) -> String {
        let mut out = format!("# {}: release timeline\n\n", shown(title));
        let (Some(first), Some(last)) = (self.first, self.last) else {
            out.push_str("The journal is empty: the release has not started.\n");
            return out;
        };
        out.push_str(&format!(
            "{} entries from {} to {} (UTC).\n\n",
            self.entries,
            first.format("%Y-%m-%d %H:%M:%S"),
            last.format("%Y-%m-%d %H:%M:%S")
        ));
        out.push_str(
            "| time (UTC) | who | what | why | step | values |\n|---|---|---|---|---|---|\n",
        );
        out
    }

    /// One entry as a row of the table, its values in their units ([`Entry::values_text`]).
    pub fn row(e: &Entry, metrics: &MetricsSpec) -> String {
        let values = e.values_text(metrics);
        format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            e.at.format("%Y-%m-%d %H:%M:%S"),
            cell(&match &e.origin {
                Some(o) => format!("{} ({o})", e.operator),
                None => e.operator.clone(),
            }),
            cell(e.action.as_str()),
            cell(&e.reason),
            cell(e.step.as_deref().unwrap_or("")),
            cell(&values)
        )
    }

    /// What follows the table: the notes from the room, when nobody guarded the release,
    /// each guardrail trip and each verdict of the canary judge.
    pub fn tail(self, metrics: &MetricsSpec) -> String {
        let mut out = String::new();
        if !self.judged.is_empty() {
            out.push_str("\n## Canary judge\n");
            for e in &self.judged {
                let Some(r) = &e.canary else { continue };
                out.push_str(&format!(
                    "\n### {} ({})\n\n",
                    shown(&r.headline()),
                    e.at.format("%Y-%m-%d %H:%M:%S")
                ));
                for line in r.lines(metrics) {
                    out.push_str(&format!("- {}\n", shown(&line)));
                }
            }
        }
        if !self.notes.is_empty() {
            out.push_str("\n## Notes from the room\n\n");
            for n in &self.notes {
                let step = n
                    .step
                    .as_deref()
                    .map(|s| format!(", on {}", shown(s)))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "- {} {}{step}: {}\n",
                    n.at.format("%Y-%m-%d %H:%M:%S"),
                    shown(&n.operator),
                    shown(&n.reason)
                ));
            }
        }
        let gaps = self.gaps.finish();
        if !gaps.is_empty() {
            out.push_str(
                "\n## When nobody guarded the release\n\n| from | until | why |\n|---|---|---|\n",
            );
            for g in gaps {
                out.push_str(&format!(
                    "| {} | {} | {} |\n",
                    g.from.format("%Y-%m-%d %H:%M:%S"),
                    g.until
                        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                        .unwrap_or_else(|| "the end of the journal".into()),
                    cell(&g.why)
                ));
            }
        }
        if !self.trips.is_empty() {
            out.push_str("\n## Guardrail trips\n");
            for x in &self.trips {
                out.push_str(&format!(
                    "\n### {} at {}\n\n- rule: `{}`\n- query: `{}`\n- {}\n- held since {}\n- samples:\n",
                    shown(&x.metric),
                    x.at.format("%Y-%m-%d %H:%M:%S"),
                    shown(&x.rule_text),
                    shown(x.query.as_deref().unwrap_or("(simulated)")),
                    shown(&x.summary()),
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
}

/// A table cell: escaped, with its pipes too, so it stays one cell of one row.
fn cell(s: &str) -> String {
    shown(s).replace('|', "\\|")
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn e(s: i64, kind: Kind, action: Verb) -> Entry {
        Entry {
            at: Utc.timestamp_opt(s, 0).single().unwrap(),
            operator: "alice".into(),
            kind,
            reason: format!("{action} at {s}"),
            action,
            step: None,
            values: BTreeMap::new(),
            explain: None,
            canary: None,
            origin: None,
        }
    }

    #[test]
    fn gaps_run_from_a_live_stop_or_a_vanished_holder_to_the_next_start() {
        let entries = [
            e(0, Kind::Note, Verb::ControlStart),
            e(10, Kind::Action, Verb::Promote),
            e(20, Kind::Error, Verb::ControlStop),
            e(30, Kind::Note, Verb::ControlStart),
            e(40, Kind::Error, Verb::Unguarded),
            e(40, Kind::Note, Verb::ControlStart),
            e(50, Kind::Note, Verb::ControlStop),
            e(60, Kind::Note, Verb::ControlStart),
            e(70, Kind::Error, Verb::ControlStop),
        ];
        let at = |s| Utc.timestamp_opt(s, 0).single().unwrap();
        let gaps = unguarded(&entries);
        let spans: Vec<_> = gaps.iter().map(|g| (g.from, g.until)).collect();
        assert_eq!(
            spans,
            [
                (at(20), Some(at(30))),
                (at(30), Some(at(40))),
                (at(70), None)
            ]
        );
        let metrics = crate::plan::parse(PLAN, std::path::Path::new("plan.yaml"))
            .unwrap()
            .metrics;
        assert!(markdown("r", &entries, &metrics).contains("## When nobody guarded the release"));
    }

    const PLAN: &str = "release: {name: r, version: 1, strategy: canary}
flag: {name: f, backend: {kind: file, path: flags.yaml}}
rollout:
  steps:
    - {name: A, percent: 10, bake: 1h}
metrics:
  source: {kind: simulated, scenario: healthy, seed: 1}
  series:
    error_rate: {unit: ratio}
    p95: {unit: seconds}
";

    #[test]
    fn values_are_shown_in_their_series_unit_and_unknown_ones_as_recorded() {
        let metrics = crate::plan::parse(PLAN, std::path::Path::new("plan.yaml"))
            .unwrap()
            .metrics;
        let mut entry = e(0, Kind::Decision, Verb::Guardrail);
        entry.values = BTreeMap::from([
            ("error_rate".to_string(), 0.014387),
            ("p95".to_string(), 0.39),
            ("gone".to_string(), 0.123456789),
        ]);
        let row = Timeline::row(&entry, &metrics);
        assert!(
            row.ends_with("| error_rate=1.44%, gone=0.123457, p95=390ms |\n"),
            "{row}"
        );
    }

    #[test]
    fn the_postmortem_lists_the_notes_from_the_room_escaped() {
        let mut note = e(30, Kind::Action, Verb::Note);
        note.reason = "db failover at 14:02\n| forged | row |".into();
        note.operator = "bob".into();
        note.step = Some("Beta".into());
        let entries = [e(10, Kind::Action, Verb::Promote), note];
        let metrics = crate::plan::parse(PLAN, std::path::Path::new("plan.yaml"))
            .unwrap()
            .metrics;
        let md = markdown("r", &entries, &metrics);
        let section = md
            .split("## Notes from the room\n\n")
            .nth(1)
            .unwrap_or_else(|| panic!("{md}"));
        assert!(
            section.starts_with(
                "- 1970-01-01 00:00:30 bob, on Beta: db failover at 14:02\\n| forged | row |\n"
            ),
            "{md}"
        );
        // In the timeline too, as one row.
        assert!(
            md.contains("| note | db failover at 14:02\\n\\| forged \\| row \\| | Beta |"),
            "{md}"
        );
        assert!(!markdown("r", &entries[..1], &metrics).contains("Notes from the room"));
    }

    #[test]
    fn verbs_keep_their_words_and_words_from_a_newer_version() {
        for word in [
            "rolled back",
            "set-percent",
            "control-stop",
            "promote",
            "note",
        ] {
            let verb: Verb = serde_json::from_str(&format!("\"{word}\"")).unwrap();
            assert!(!matches!(verb, Verb::Other(_)), "{word}");
            assert_eq!(serde_json::to_string(&verb).unwrap(), format!("\"{word}\""));
        }
        let later: Verb = serde_json::from_str("\"judge\"").unwrap();
        assert_eq!(later, Verb::Other("judge".into()));
        assert_eq!(serde_json::to_string(&later).unwrap(), "\"judge\"");
    }
}
