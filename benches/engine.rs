//! One engine step per sample batch: `Engine::handle` on the reference plan (five series,
//! seven guardrails, the canary-prometheus fixture) with an hour of history behind it,
//! fed a batch every interval — healthy, and breaching a guardrail.
//!
//! `cargo bench --bench engine`

use chrono::{DateTime, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use shipdeck::engine::values::FlagState;
use shipdeck::engine::values::{Batch, Outcome, Reading};
use shipdeck::engine::{Command, Engine, FlagEvent, Input};
use shipdeck::plan::{FlagKind, Plan};
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

fn plan() -> Arc<Plan> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/canary-prometheus/plan.yaml");
    Arc::new(shipdeck::plan::load(&path).unwrap())
}

/// One batch of every series at `at`; `error_rate` as given, the rest healthy.
fn batch(plan: &Plan, at: DateTime<Utc>, error_rate: f64) -> Batch {
    let value = |name: &str| match name {
        "error_rate" => error_rate,
        "p95" => 0.3,
        "cpu" => 0.4,
        "memory" => 0.6,
        _ => 25.0,
    };
    Batch {
        arms: Vec::new(),
        at,
        readings: plan
            .metrics
            .series
            .iter()
            .map(|s| Reading {
                series: s.name.clone(),
                outcome: Outcome::Value(value(&s.name)),
            })
            .collect(),
    }
}

/// Baking the first step, its flag confirmed, a baseline from an hour of history.
fn baking(plan: &Arc<Plan>) -> (Engine, DateTime<Utc>) {
    let step = chrono::Duration::from_std(plan.metrics.interval).unwrap();
    let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let mut engine = Engine::new(Arc::clone(plan));
    let history = (0..120).map(|i| batch(plan, start - step * (120 - i), 0.002));
    engine.handle(
        start,
        Input::History {
            batches: history.collect(),
        },
    );
    let command = Input::Command {
        command: Command::Start { force: true },
        operator: "bench".into(),
        reason: None,
    };
    engine.handle(start, command);
    let state = FlagState {
        enabled: true,
        rollout: 0.0,
        groups: vec!["internal".into()],
        kind: FlagKind::Release,
    };
    engine.handle(
        start,
        Input::Flag {
            event: FlagEvent::Confirmed { state },
        },
    );
    assert_eq!(engine.phase().badge(), "BAKING");
    (engine, start)
}

fn step(c: &mut Criterion) {
    let plan = plan();
    let interval = chrono::Duration::from_std(plan.metrics.interval).unwrap();
    let mut group = c.benchmark_group("engine step per sample batch");
    for (name, error_rate) in [("healthy", 0.002), ("breaching a guardrail", 0.02)] {
        let (mut engine, mut at) = baking(&plan);
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    at += interval;
                    batch(&plan, at, error_rate)
                },
                |batch| black_box(engine.handle(batch.at, Input::Samples { batch })),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, step);
criterion_main!(benches);
