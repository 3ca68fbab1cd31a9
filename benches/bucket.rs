//! Flag bucketing throughput: Unleash's gradual-rollout bucket (murmur3 of
//! `"<flag>:<user>"`), and the full reference evaluation around it, over 10,000 users.
//!
//! `cargo bench --bench bucket`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shipdeck::engine::values::FlagState;
use shipdeck::flags::{evaluate, unleash_bucket};
use shipdeck::plan::FlagKind;
use std::hint::black_box;

const USERS: usize = 10_000;

fn bucketing(c: &mut Criterion) {
    let users: Vec<String> = (0..USERS).map(|i| format!("user-{i:06}")).collect();
    let state = FlagState {
        enabled: true,
        rollout: 0.25,
        groups: vec!["internal".into(), "beta-testers".into()],
        kind: FlagKind::Release,
    };
    let groups = vec!["customers".to_string()];
    let mut group = c.benchmark_group("bucketing");
    group.throughput(Throughput::Elements(USERS as u64));
    group.bench_function("unleash_bucket", |b| {
        b.iter(|| {
            for u in &users {
                black_box(unleash_bucket(black_box("new_checkout"), u));
            }
        })
    });
    group.bench_function("evaluate", |b| {
        b.iter(|| {
            for u in &users {
                black_box(evaluate("new_checkout", Some(&state), u, &groups));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bucketing);
criterion_main!(benches);
