//! One full frame of the control room at 200×50 (the war-room size), 120×40 and 80×24, on a
//! release paused by a guardrail with the why popup open: the busiest screen there is.
//! `draw` includes `App::sync`, which only checks the sparkline caches (they are current);
//! `downsample` is the per-series work done when a sample arrives: on that screen, and on a
//! day of 1-second samples (86,400 points, of which the engine keeps its bound) drawn into
//! a 200-column sparkline.
//!
//! `cargo bench --bench tui_render`

// The screen tests' fixture; a bench needs only a world or two of it.
#[allow(dead_code)]
#[path = "../tests/it/tui/common/mod.rs"]
mod tui_common;

use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use shipdeck::engine::values::{Batch, Outcome, Reading};
use shipdeck::engine::{Engine, Input};
use shipdeck::tui::{self, App, View, spark};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

fn frames(c: &mut Criterion) {
    let world = tui_common::paused_by_guardrail();
    for (w, h) in [(200, 50), (120, 40), (80, 24)] {
        let mut app = App::default();
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        let view = world.view();
        terminal.draw(|f| tui::draw(f, &mut app, &view)).unwrap();
        c.bench_function(&format!("frame {w}x{h}"), |b| {
            b.iter(|| {
                terminal
                    .draw(|f| tui::draw(f, &mut app, black_box(&view)))
                    .unwrap();
            })
        });
    }
    let view = world.view();
    c.bench_function("downsample one series to 140 cells", |b| {
        b.iter(|| {
            let key = spark::spark_key(&view, "error_rate", 140);
            black_box(spark::downsample(&view, "error_rate", key))
        })
    });
}

/// An engine that has taken a whole day of samples, one a second.
fn a_day_at_one_hz() -> Engine {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/tui/common/plan.yaml");
    let mut plan = shipdeck::plan::load(&path).unwrap();
    plan.metrics.interval = Duration::from_secs(1);
    let mut engine = Engine::new(Arc::new(plan));
    let start = tui_common::start_time();
    let batches = (0..86_400i64)
        .map(|i| Batch {
            arms: Vec::new(),
            at: start + chrono::Duration::seconds(i),
            readings: vec![Reading {
                series: "error_rate".into(),
                outcome: Outcome::Value(0.001 + (i % 97) as f64 * 1e-5),
            }],
        })
        .collect();
    engine.handle(start, Input::History { batches });
    engine
}

fn day_sparkline(c: &mut Criterion) {
    let engine = a_day_at_one_hz();
    let journal = Default::default();
    let now = tui_common::start_time() + chrono::Duration::seconds(86_400);
    let view = View::new(&engine, &journal, now, "bench");
    // The day really is there: every one of the 200 cells holds a value.
    let spark = spark::downsample(
        &view,
        "error_rate",
        spark::spark_key(&view, "error_rate", 200),
    );
    let values = spark
        .cells
        .iter()
        .filter(|c| matches!(c, spark::Cell::Value(_)))
        .count();
    assert_eq!(values, 200, "{:?}", spark.cells);
    c.bench_function("downsample a day of 1 s samples to 200 cells", |b| {
        b.iter(|| {
            let key = spark::spark_key(&view, "error_rate", 200);
            black_box(spark::downsample(&view, "error_rate", key))
        })
    });
}

criterion_group!(benches, frames, day_sparkline);
criterion_main!(benches);
