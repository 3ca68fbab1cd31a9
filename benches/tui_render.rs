//! One full frame of the control room at 200×50 (the war-room size) and at 120×40, on a
//! release paused by a guardrail with the why popup open: the busiest screen there is.
//! `draw` includes `App::sync`, which only checks the sparkline caches (they are current);
//! `downsample` is the per-series work done when a sample arrives.
//!
//! `cargo bench --bench tui_render`

#[path = "../tests/tui_common/mod.rs"]
mod tui_common;

use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use shipdeck::tui::{self, App, health};
use std::hint::black_box;

fn frames(c: &mut Criterion) {
    let world = tui_common::paused_by_guardrail();
    for (w, h) in [(200, 50), (120, 40)] {
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
            let key = health::spark_key(&view, "error_rate", 140);
            black_box(health::downsample(&view, "error_rate", key))
        })
    });
}

criterion_group!(benches, frames);
criterion_main!(benches);
