//! engine::judge: samples come in and every guardrail judges them — history and fresh
//! counts kept, rules tripped and cleared, and what a trip does (alert, pause, rollback).

use chrono::{DateTime, Utc};
use std::sync::Arc;

use crate::plan::Action;

use super::effect::{Effect, EventKind};
use super::explain;
use super::guardrail::{self, Explain, Transition};
use super::history::Point;
use super::journal::Kind;
use super::journal::Verb;
use super::progress::{PauseCause, Phase};
use super::values::{Batch, Outcome};
use super::{ENGINE, Engine};

impl Engine {
    /// Puts a batch into the history; `counting` adds its values to the step's fresh samples.
    /// An invalid sample goes in as missing, its error kept ([`Outcome::checked`]).
    pub(super) fn record(&mut self, batch: &Batch, counting: bool) {
        let batch = batch.clone().checked(&self.plan.metrics);
        for reading in &batch.readings {
            let value = match &reading.outcome {
                Outcome::Value(v) if v.is_finite() => Some(*v),
                _ => None,
            };
            match &reading.outcome {
                Outcome::Error(e) => {
                    self.errors.insert(reading.series.clone(), e.clone());
                }
                _ => {
                    self.errors.remove(&reading.series);
                }
            }
            let mut newer = false;
            if let Some(h) = self.history.get_mut(&reading.series) {
                newer = h.last().is_none_or(|p| p.at < batch.at);
                h.push(Point {
                    at: batch.at,
                    value,
                });
            }
            let after_change = self.progress.confirmed_at.is_none_or(|c| batch.at >= c);
            if counting && value.is_some() && newer && after_change {
                let n = self
                    .progress
                    .fresh
                    .entry(reading.series.clone())
                    .or_insert(0);
                *n = n.saturating_add(1);
            }
        }
        self.follow_incident(&batch);
    }

    pub(super) fn on_samples(&mut self, now: DateTime<Utc>, batch: Batch, fx: &mut Vec<Effect>) {
        let batch = batch.checked(&self.plan.metrics);
        let at = batch.at;
        let counting = self.progress.confirmed
            && matches!(
                self.progress.phase,
                Phase::Baking { .. } | Phase::AwaitingApproval { .. } | Phase::Watching
            );
        self.record(&batch, counting);
        self.judge_canary(now, &batch, fx);
        let plan = Arc::clone(&self.plan);
        for (i, rule) in plan.guardrails.rules.iter().enumerate() {
            let Some(series) = plan.metrics.series(&rule.metric) else {
                continue;
            };
            let Some(reading) = batch.readings.iter().find(|r| r.series == rule.metric) else {
                continue;
            };
            let value = match reading.outcome {
                Outcome::Value(v) if v.is_finite() => Some(v),
                _ => None,
            };
            let baseline = self.progress.baseline.get(&rule.metric).copied();
            let threshold = guardrail::threshold(rule.condition, baseline, series.better);
            let transition = guardrail::observe(
                &mut self.progress.rules[i],
                rule,
                at,
                value,
                threshold,
                series.better,
            );
            match transition {
                Transition::None => {}
                Transition::Tripped => {
                    let explain = explain::trip(
                        &plan,
                        i,
                        &self.progress.rules[i],
                        at,
                        baseline,
                        threshold.unwrap_or(f64::NAN),
                        self.history
                            .get(&rule.metric)
                            .into_iter()
                            .flat_map(|h| h.iter()),
                    );
                    self.on_trip(now, i, explain, fx);
                }
                Transition::Cleared => {
                    if self.progress.phase.is_live() {
                        let e = self.entry(
                            now,
                            ENGINE,
                            Kind::Decision,
                            Verb::GuardrailClear,
                            rule.text.clone(),
                        );
                        fx.push(Effect::Journal(e));
                    }
                    self.try_auto_resume(now, fx);
                }
            }
        }
    }

    fn on_trip(
        &mut self,
        now: DateTime<Utc>,
        rule_index: usize,
        explain: Explain,
        fx: &mut Vec<Effect>,
    ) {
        let live = self.progress.phase.is_live();
        let action = explain.action;
        let summary = explain.summary();
        if let Some(state) = self.progress.rules.get_mut(rule_index) {
            state.trips = state.trips.saturating_add(1);
        }
        self.keep_trip(explain.clone());
        if !live {
            return;
        }
        let mut e = self.entry(
            now,
            ENGINE,
            Kind::Decision,
            Verb::Guardrail,
            summary.clone(),
        );
        e.explain = Some(Box::new(explain.clone()));
        fx.push(Effect::Journal(e));
        match action {
            Action::Alert => fx.push(self.event(
                now,
                EventKind::Alert,
                format!("Alert on {}: {summary}", self.release_label()),
                Some(&explain),
            )),
            Action::Pause => self.pause(
                now,
                PauseCause::Guardrail(rule_index),
                summary,
                Some(&explain),
                fx,
            ),
            Action::Rollback => self.rollback_as(
                now,
                ENGINE,
                Kind::Decision,
                format!("guardrail: {summary}"),
                Some(&explain),
                fx,
            ),
        }
    }
}
