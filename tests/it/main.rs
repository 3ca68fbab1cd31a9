//! Every integration test of shipdeck, built as one binary so the library is linked once,
//! with one module per subject: `cargo test --test it store::` runs a subject,
//! `cargo test --test it store::lock::` one file. Tests here reach shipdeck only through
//! its public API and the real binary; they never change what they assert to pass.
//!
//! Harnesses shared across subjects live in `support`; one subject's own helpers live in
//! its `common` module. Insta snapshots sit in `snapshots/` beside the file that takes
//! them; seeds proptest saved sit under `tests/proptest-regressions/`, in a tree that
//! mirrors this one (where proptest looks for a crate with a `main.rs`).

mod app;
mod architecture;
mod canary;
mod checklist;
mod control;
mod engine;
mod fault;
mod flags;
mod fuzz_inputs;
mod metrics;
mod notify;
mod pipeline;
mod plan;
mod recording;
mod store;
mod support;
mod tui;
mod war_room;
