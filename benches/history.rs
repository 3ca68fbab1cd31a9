//! Metric history: a day of 1-second samples (86,400 points) pushed and read back, into a
//! ring that holds the whole day and into one of the engine's bound (20,000 points, so it
//! wraps); and `History::mean` over a 30-minute window of that day.
//!
//! `cargo bench --bench history`

use chrono::{DateTime, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use shipdeck::engine::history::{History, Point};
use std::hint::black_box;

const DAY: usize = 86_400;
/// The most points the engine keeps per series.
const ENGINE_BOUND: usize = 20_000;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn day() -> Vec<Point> {
    (0..DAY)
        .map(|i| Point {
            at: t0() + chrono::Duration::seconds(i as i64),
            // One sample in 50 missing, as a flaky source leaves them.
            value: (i % 50 != 0).then_some(0.001 + (i % 97) as f64 * 1e-5),
        })
        .collect()
}

fn push_and_read(c: &mut Criterion) {
    let points = day();
    let mut group = c.benchmark_group("history: a day of 1 s samples");
    group.throughput(Throughput::Elements(DAY as u64));
    for (name, capacity) in [("whole day", DAY), ("engine bound", ENGINE_BOUND)] {
        group.bench_function(format!("push then read back ({name})"), |b| {
            b.iter_batched(
                || History::with_capacity(capacity),
                |mut h| {
                    for p in &points {
                        h.push(*p);
                    }
                    let sum: f64 = h.iter().filter_map(|p| p.value).sum();
                    black_box((h.len(), sum))
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

fn mean(c: &mut Criterion) {
    let mut full = History::with_capacity(DAY);
    let mut bounded = History::with_capacity(ENGINE_BOUND);
    for p in day() {
        full.push(p);
        bounded.push(p);
    }
    let to = t0() + chrono::Duration::seconds(DAY as i64 - 1);
    let from = to - chrono::Duration::minutes(30);
    let mut group = c.benchmark_group("history: mean over 30 minutes");
    group.bench_function("of a whole day", |b| {
        b.iter(|| black_box(full.mean(black_box(from), black_box(to))))
    });
    group.bench_function("of the engine bound", |b| {
        b.iter(|| black_box(bounded.mean(black_box(from), black_box(to))))
    });
    group.finish();
}

criterion_group!(benches, push_and_read, mean);
criterion_main!(benches);
