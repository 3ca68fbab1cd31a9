//! control::exposition: a snapshot in the Prometheus text format (version 0.0.4), for
//! `--metrics-listen`. Pure: it reads what the controller published and decides nothing;
//! a value that is not known is left out (a gap in a graph), never written as zero.

use chrono::{DateTime, Utc};
use std::fmt::Write as _;

use super::snapshot::{Role, Snapshot};
use crate::engine::Phase;

/// The content type of what [`render`] writes.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every state `shipdeck_release_state` has a series for, in the order of the rollout.
/// The text being written: each family's HELP and TYPE, then its samples.
struct Text(String);

impl Text {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &str, value: impl std::fmt::Display) {
        let _ = writeln!(self.0, "{name}{{{labels}}} {value}");
    }
}

/// The metrics of one release, with the labels `release`, `version` and `flag` on each.
pub fn render(s: &Snapshot) -> String {
    let engine = &s.engine;
    let plan = engine.plan();
    let base = format!(
        "release=\"{}\",version=\"{}\",flag=\"{}\"",
        escape(&plan.release.name),
        escape(&plan.release.version),
        escape(&plan.flag.name)
    );
    let mut t = Text(String::with_capacity(4096));

    let name = "shipdeck_rollout_percent";
    t.family(
        name,
        "gauge",
        "Share of users the flag serves now, as the flag backend last confirmed it (0 to 100).",
    );
    let exposure = engine.exposure();
    t.sample(
        name,
        &base,
        if exposure.enabled {
            exposure.percent
        } else {
            0
        },
    );

    let name = "shipdeck_release_state";
    t.family(
        name,
        "gauge",
        "1 for the state the release is in, 0 for the others.",
    );
    let current = engine.phase().name();
    for state in Phase::each().iter().map(Phase::name) {
        let labels = format!("{base},state=\"{state}\"");
        t.sample(name, &labels, u8::from(state == current));
    }

    let name = "shipdeck_step";
    t.family(
        name,
        "gauge",
        "The rollout step the release is on, from 1; 0 when no step is live (ready, rolling back, rolled back).",
    );
    t.sample(name, &base, engine.step_index().map_or(0, |i| i + 1));
    let name = "shipdeck_steps";
    t.family(name, "gauge", "How many steps the rollout has.");
    t.sample(name, &base, plan.rollout.steps.len());

    let name = "shipdeck_bake_remaining_seconds";
    t.family(
        name,
        "gauge",
        "Bake (or watch) time left in the current step, in engine seconds; absent when nothing bakes.",
    );
    if let Some(left) = engine.time_left() {
        t.sample(name, &base, left.as_secs_f64());
    }

    let rules = &plan.guardrails.rules;
    let labels: Vec<String> = rules
        .iter()
        .map(|r| {
            format!(
                "{base},rule=\"{}\",metric=\"{}\",action=\"{}\"",
                escape(&r.text),
                escape(&r.metric),
                r.action.name()
            )
        })
        .collect();
    let name = "shipdeck_guardrail_value";
    t.family(
        name,
        "gauge",
        "The newest value of the metric a guardrail rule reads, in its unit (a ratio from 0 to 1, seconds); absent without data.",
    );
    for (r, labels) in rules.iter().zip(&labels) {
        let value = engine
            .history(&r.metric)
            .and_then(|h| h.last())
            .and_then(|p| p.value);
        if let Some(v) = value.filter(|v| v.is_finite()) {
            t.sample(name, labels, v);
        }
    }
    let name = "shipdeck_guardrail_limit";
    t.family(
        name,
        "gauge",
        "The threshold a guardrail rule compares with now; absent while its baseline is unknown.",
    );
    for (i, labels) in labels.iter().enumerate() {
        if let Some(limit) = engine.rule_limit(i) {
            t.sample(name, labels, limit);
        }
    }
    let states = &engine.progress().rules;
    let name = "shipdeck_guardrail_tripped";
    t.family(
        name,
        "gauge",
        "1 while a guardrail rule is tripped (it fired and has not cleared).",
    );
    for (i, labels) in labels.iter().enumerate() {
        let tripped = states.get(i).is_some_and(|r| r.tripped);
        t.sample(name, labels, u8::from(tripped));
    }
    let name = "shipdeck_guardrail_trips_total";
    t.family(
        name,
        "counter",
        "How many times a guardrail rule fired since the rollout started.",
    );
    for (i, labels) in labels.iter().enumerate() {
        t.sample(name, labels, states.get(i).map_or(0, |r| r.trips));
    }

    let name = "shipdeck_controller_heartbeat_timestamp_seconds";
    t.family(
        name,
        "gauge",
        "Unix time of the holding controller's latest heartbeat: its latest turn, or what a follower last heard from it.",
    );
    if let Some(beat) = heartbeat(s) {
        t.sample(name, &base, beat.timestamp_millis() as f64 / 1000.0);
    }
    let name = "shipdeck_controller_holds";
    t.family(
        name,
        "gauge",
        "1 if this process holds the release and guards it, 0 if it follows another.",
    );
    t.sample(name, &base, u8::from(s.holds()));
    t.0
}

fn heartbeat(s: &Snapshot) -> Option<DateTime<Utc>> {
    match &s.role {
        Role::Holder => Some(s.made_at),
        Role::Follower { heartbeat, .. } => *heartbeat,
    }
}

/// A label value as the text format wants it: `\`, `"` and line feeds escaped.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape("two\nlines"), "two\\nlines");
        assert_eq!(
            escape("error_rate > 5% → rollback"),
            "error_rate > 5% → rollback"
        );
    }
}
