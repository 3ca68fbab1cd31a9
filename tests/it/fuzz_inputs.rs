//! Fuzzing every reader of outside data with arbitrary input: plan files, the value
//! syntaxes inside them, flag files (read, and written back), journals, inbox requests,
//! state files, Prometheus answers over real HTTP, and the engine clock's speed. Each case
//! runs on its own thread with the 2 MiB stack every thread shipdeck starts gets (std and
//! tokio), and fails on a panic, a stack overflow (the process aborts) or a hang. Bounded
//! so the whole file runs in well under a minute in a debug build.
//!
//! Not fuzzed here yet, though they read outside data too: pipeline status files
//! (`{"status","detail","url"}`, `src/pipeline/status_file.rs`) and theme files
//! (`src/tui/theme.rs`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use shipdeck::engine::journal::{Entry, Kind};
use shipdeck::engine::values::{Batch, Exposure, Outcome, Reading};
use shipdeck::engine::values::{DesiredFlag, FlagState};
use shipdeck::engine::{Command, Engine, FlagEvent, Input, Progress};
use shipdeck::flags::{FileBackend, FlagBackend};
use shipdeck::metrics::{Access, MetricsSource, Prometheus};
use shipdeck::plan::{self, Condition, FlagKind, ListKind, Plan, Series, units};
use shipdeck::store::{FileStore, INBOX_LIMIT, InboxRequest, ReleaseStore, StoreError};

const STACK: usize = 2 << 20;
const HANG: Duration = Duration::from_secs(10);

/// Runs `f` on a fresh 2 MiB thread: its value, or the test fails with what went wrong.
fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let _ = tx.send(f());
        })
        .unwrap();
    match rx.recv_timeout(HANG) {
        Ok(v) => {
            let _ = worker.join();
            v
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: no answer within {HANG:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => panic!("{what}: the worker ended without an answer"),
        },
    }
}

fn fixture(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

// ─── plan files ──────────────────────────────────────────────────────────────────────

/// What a validated plan promises whatever text it came from.
fn assert_plan_is_sane(p: &Plan) -> Result<(), TestCaseError> {
    prop_assert!(!p.rollout.steps.is_empty());
    for w in p.rollout.steps.windows(2) {
        prop_assert!(w[0].percent <= w[1].percent);
    }
    for s in &p.rollout.steps {
        prop_assert!(s.percent <= 100);
        prop_assert!(s.bake <= units::MAX_DURATION);
    }
    prop_assert!(p.rollout.watch <= units::MAX_DURATION);
    prop_assert!(p.metrics.interval > Duration::ZERO);
    let sane = |c: &Condition| {
        let v = match c {
            Condition::Above(v)
            | Condition::Below(v)
            | Condition::AboveBaseline(v)
            | Condition::Degradation(v) => *v,
        };
        v.is_finite() && v >= 0.0
    };
    for r in &p.guardrails.rules {
        prop_assert!(sane(&r.condition), "rule {} has {:?}", r.text, r.condition);
        prop_assert!(p.metrics.series(&r.metric).is_some(), "{}", r.metric);
    }
    Ok(())
}

fn parse_plan(text: String) -> Result<(), TestCaseError> {
    let shown = text.chars().take(300).collect::<String>();
    let result = bounded(&format!("plan::parse({shown:?})"), move || {
        let r = plan::parse(&text, Path::new("fuzz.yaml"));
        // Rendering an error is part of reading the file.
        r.map_err(|e| e.to_string())
    });
    match result {
        Ok(p) => assert_plan_is_sane(&p),
        Err(text) => {
            prop_assert!(text.contains("fuzz.yaml"), "{text}");
            Ok(())
        }
    }
}

const PLAN_WORDS: &[&str] = &[
    "release",
    "name",
    "version",
    "strategy",
    "canary",
    "blue-green",
    "flag",
    "backend",
    "kind",
    "file",
    "flagd",
    "unleash",
    "path",
    "rollout",
    "steps",
    "percent",
    "bake",
    "groups",
    "approval",
    "manual",
    "watch",
    "metrics",
    "source",
    "simulated",
    "prometheus",
    "url",
    "scenario",
    "seed",
    "interval",
    "series",
    "query",
    "unit",
    "better",
    "guardrails",
    "rules",
    "metric",
    "above",
    "below",
    "above_baseline",
    "degradation",
    "for",
    "action",
    "pause",
    "rollback",
    "alert",
    "checklists",
    "pre_release",
    "item",
    "check",
    "command",
    "pipeline",
    "status",
    "status_file",
    "notify",
    "on_stale",
    "min_samples",
    "stale_after",
    "baseline_window",
    "timeout",
    "headers",
    "token_env",
    "error_rate",
    "p95",
    "memory",
];

const VALUES: &[&str] = &[
    "1%",
    "5%",
    "0.01",
    "2s",
    "300ms",
    "3x",
    "1d",
    "15s",
    "0",
    "-1",
    "100",
    "101",
    "255",
    "256",
    "1e400",
    "1e308h",
    "1e308",
    "-0",
    ".nan",
    ".inf",
    "-.inf",
    "~",
    "null",
    "true",
    "no",
    "0x1F",
    "0o17",
    "1_000",
    "2.5.0",
    "99999999999999999999999",
    "\"quoted\"",
    "'single'",
    "\"\\u0000\"",
    "|",
    ">-",
    "&a",
    "*a",
    "!!str",
    "!!binary aGk=",
    "!tag",
    "<<: *a",
    "? ",
    "---",
    "...",
    "%YAML 1.2",
    "# c",
    "[]",
    "{}",
    "[a, b]",
    "{a: 1}",
];

const STRUCTURE: &[&str] = &[
    ":", ": ", "- ", "\n", "\n  ", "\n    ", "[", "]", "{", "}", ", ", "\t", "\r\n", "\u{feff}",
    "\0", " ", "\"", "'", "é", "🚀",
];

fn soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        4 => prop::sample::select(PLAN_WORDS),
        3 => prop::sample::select(VALUES),
        5 => prop::sample::select(STRUCTURE),
    ];
    prop::collection::vec(token, 0..160).prop_map(|t| t.concat())
}

/// The demo plan with one value replaced: deep in the reader, past the YAML layer.
fn one_value_changed() -> impl Strategy<Value = String> {
    let demo = fixture("fixtures/canary-prometheus/plan.yaml");
    let lines: Vec<String> = demo.lines().map(str::to_string).collect();
    let n = lines.len();
    (
        0..n,
        prop_oneof![
            prop::sample::select(VALUES).prop_map(str::to_string),
            "[ -~]{0,12}",
            (
                any::<f64>(),
                prop::sample::select(&["", "%", "s", "ms", "x", "h", "d"][..])
            )
                .prop_map(|(v, u)| format!("{v}{u}")),
        ],
    )
        .prop_map(move |(at, value)| {
            let mut lines = lines.clone();
            let line = &lines[at];
            if let Some(colon) = line.rfind(": ") {
                lines[at] = format!("{}: {value}", &line[..colon]);
            } else {
                lines[at] = format!("{line} {value}");
            }
            lines.join("\n")
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn plan_any_text(text in any::<String>()) {
        parse_plan(text)?;
    }

    #[test]
    fn plan_token_soup(text in soup()) {
        parse_plan(text)?;
    }

    #[test]
    fn plan_with_one_value_changed(text in one_value_changed()) {
        parse_plan(text)?;
    }
}

/// Shapes that break recursive readers and naive expanders.
#[test]
fn plan_structural_bombs_are_refused_quickly() {
    let mut cases: Vec<(String, String)> = Vec::new();
    for n in [16, 17, 64, 65, 1_000, 100_000] {
        cases.push((
            format!("flow lists {n} deep"),
            format!("release: {}{}", "[".repeat(n), "]".repeat(n)),
        ));
        cases.push((
            format!("flow maps {n} deep"),
            format!("release: {}1{}", "{a: ".repeat(n), "}".repeat(n)),
        ));
    }
    for n in [17, 200] {
        let block: String = (0..n).map(|i| format!("{}a:\n", "  ".repeat(i))).collect();
        cases.push((format!("block maps {n} deep"), block));
        let block: String = (0..n).map(|i| format!("{}- \n", "  ".repeat(i))).collect();
        cases.push((format!("block lists {n} deep"), block));
    }
    // A billion laughs: 10^9 scalars if aliases were expanded naively.
    let mut laughs = String::from("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let p = i - 1;
        laughs.push_str(&format!(
            "l{i}: &l{i} [{}]\n",
            vec![format!("*l{p}"); 10].join(", ")
        ));
    }
    cases.push(("a billion laughs".into(), format!("{laughs}release: *l9\n")));
    let mut merges = String::from("m0: &m0 {a: 1, b: 2}\n");
    for i in 1..200 {
        merges.push_str(&format!("m{i}: &m{i} {{<<: *m{}, k{i}: {i}}}\n", i - 1));
    }
    cases.push(("a chain of merge keys".into(), merges));
    cases.push(("many documents".into(), "---\na: 1\n".repeat(5_000)));
    cases.push((
        "a long scalar".into(),
        format!("release:\n  name: {}\n", "x".repeat(4 << 20)),
    ));
    let keys: String = (0..50_000).map(|i| format!("k{i}: {i}\n")).collect();
    cases.push(("many keys".into(), keys));
    for (what, text) in cases {
        let start = Instant::now();
        let result = bounded(&what, move || {
            plan::parse(&text, Path::new("bomb.yaml")).map_err(|e| e.to_string())
        });
        let error = result.err().unwrap_or_else(|| panic!("{what}: accepted"));
        assert!(error.contains("bomb.yaml"), "{what}: {error}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{what} took {:?}",
            start.elapsed()
        );
    }
}

// ─── value syntaxes ──────────────────────────────────────────────────────────────────

fn numberish() -> impl Strategy<Value = String> {
    (
        "[ +-]{0,2}[0-9]{0,30}(\\.[0-9]{0,6})?([eE][+-]?[0-9]{1,4})?",
        prop::sample::select(
            &[
                "", "%", " %", "x", "X", "×", "s", "ms", "us", "µs", "m", "min", "h", "d", "w",
                "sec", "ns", "y", "1h30m", "s5", "%%",
            ][..],
        ),
    )
        .prop_map(|(n, u)| format!("{n}{u}"))
}

fn check_units(s: String) -> Result<(), TestCaseError> {
    let t = s.trim().to_string();
    let mentions = |e: &str| t.is_empty() || e.contains(&t);
    match units::parse_duration(&s) {
        Ok(d) => prop_assert!(d <= units::MAX_DURATION, "{s:?} → {d:?}"),
        Err(e) => prop_assert!(!e.is_empty() && mentions(&e), "{s:?}: {e}"),
    }
    match units::parse_ratio(&s) {
        Ok(r) => prop_assert!(r.is_finite() && (0.0..=1.0).contains(&r), "{s:?} → {r}"),
        Err(e) => prop_assert!(mentions(&e), "{s:?}: {e}"),
    }
    match units::parse_ratio_unbounded(&s) {
        Ok(r) => prop_assert!(r.is_finite() && r >= 0.0, "{s:?} → {r}"),
        Err(e) => prop_assert!(mentions(&e), "{s:?}: {e}"),
    }
    match units::parse_latency(&s) {
        Ok(v) => prop_assert!(v.is_finite() && v >= 0.0, "{s:?} → {v}"),
        Err(e) => prop_assert!(mentions(&e), "{s:?}: {e}"),
    }
    match units::parse_multiple(&s) {
        Ok(v) => prop_assert!(v.is_finite() && v > 0.0, "{s:?} → {v}"),
        Err(e) => prop_assert!(mentions(&e), "{s:?}: {e}"),
    }
    Ok(())
}

/// Edges a random search can miss: overflow to infinity, underflow, signs, units alone.
#[test]
fn units_edge_cases() {
    for s in [
        "1e308h",
        "1e305m",
        "1e308",
        "1e308%",
        "1e308x",
        "1.7976931348623157e308ms",
        "1e-400s",
        "0.0000001ms",
        "-0",
        "-0%",
        "-0s",
        "1e19s",
        "18446744073709551616s",
        "9999999999d",
        "NaN",
        "inf",
        "  ",
        "%",
        "x",
        "µs",
        "1µs",
        "1e3",
        "+1%",
        "1e0x",
        "0x",
        "0%",
    ] {
        check_units(s.to_string()).unwrap_or_else(|e| panic!("{s:?}: {e}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Every value a parser accepts is finite and in range; every refusal quotes the input.
    #[test]
    fn units_any_text(s in any::<String>()) {
        check_units(s)?;
    }

    #[test]
    fn units_number_like_text(s in numberish()) {
        check_units(s)?;
    }
}

// ─── flag files ──────────────────────────────────────────────────────────────────────

const FLAG_VALUES: &[&str] = &[
    "true",
    "false",
    "yes",
    "no",
    "on",
    "1",
    "0",
    "0.5",
    "1.0",
    "1.5",
    "-0.1",
    "-0",
    "1e400",
    ".nan",
    ".inf",
    "~",
    "null",
    "\"0.25\"",
    "50%",
    "[]",
    "[a, b]",
    "[1, 2]",
    "{}",
    "{a: 1}",
    "\"\"",
    "release",
    "ops",
    "experiment",
    "permission",
    "bogus",
    "*anchor",
    "!!str true",
    "[[nested]]",
    "|\n      block",
    "'quoted, with comma'",
];

const FLAG_KEYS: &[&str] = &[
    "enabled",
    "rollout",
    "userGroups",
    "kind",
    "variants",
    "extra",
];

fn flag_entry() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(FLAG_KEYS),
            prop::sample::select(FLAG_VALUES),
        ),
        0..6,
    )
    .prop_map(|kv| {
        kv.iter()
            .map(|(k, v)| format!("    {k}: {v}\n"))
            .collect::<String>()
    })
}

fn flag_file() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(
            (
                prop::sample::select(
                    &["new_checkout", "other", "\"new_checkout\"", "a b", "x"][..],
                ),
                any::<bool>(),
                flag_entry(),
            ),
            0..4,
        ),
        prop::sample::select(&["", "# head\n", "---\n", "\u{feff}", "anchor: &anchor [g]\n"][..]),
        prop::sample::select(&["flags:\n", "flags: {}\n", "flags: []\n", "flag:\n", ""][..]),
    )
        .prop_map(|(entries, head, top)| {
            let mut s = format!("{head}{top}");
            for (name, flow, body) in entries {
                if flow {
                    let inner: Vec<String> = body.lines().map(|l| l.trim().to_string()).collect();
                    s.push_str(&format!("  {name}: {{{}}}\n", inner.join(", ")));
                } else {
                    s.push_str(&format!("  {name}:\n{body}"));
                }
            }
            s
        })
}

fn desired_flag() -> impl Strategy<Value = DesiredFlag> {
    (
        any::<bool>(),
        0u8..=100,
        prop::collection::vec("[a-z][a-z-]{0,6}|\\PC{1,6}", 0..3),
    )
        .prop_map(|(enabled, percent, groups)| DesiredFlag {
            enabled,
            percent,
            groups,
        })
}

fn others(all: &[(String, FlagState)]) -> Vec<(String, FlagState)> {
    all.iter()
        .filter(|(n, _)| n != "new_checkout")
        .cloned()
        .collect()
}

/// Reads `bytes` as a flag file, then writes `want` into it: a read never panics and
/// never yields a rollout outside 0..=1; a write either lands exactly (leaving every other
/// flag as it was) or leaves the file byte for byte as it was.
fn read_then_write(bytes: Vec<u8>, want: DesiredFlag) -> Result<(), TestCaseError> {
    let shown = String::from_utf8_lossy(&bytes)
        .chars()
        .take(300)
        .collect::<String>();
    let outcome = bounded(&format!("flag file {shown:?}"), move || {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flags.yaml");
        std::fs::write(&path, &bytes).unwrap();
        let read =
            shipdeck::flags::read_file_flag(&path, "new_checkout").map_err(|e| e.to_string());
        let before = shipdeck::flags::list_flags(&path).ok();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut backend = FileBackend::new(path.clone(), "new_checkout".into(), FlagKind::Release);
        let wrote = rt.block_on(backend.write(&want)).map_err(|e| e.to_string());
        let after_bytes = std::fs::read(&path).unwrap();
        let after = shipdeck::flags::list_flags(&path).ok();
        let back = shipdeck::flags::read_file_flag(&path, "new_checkout")
            .ok()
            .flatten();
        (read, before, wrote, after_bytes, after, back, bytes, want)
    });
    let (read, before, wrote, after_bytes, after, back, bytes, want) = outcome;
    if let Ok(Some(state)) = &read {
        prop_assert!(
            state.rollout.is_finite() && (0.0..=1.0).contains(&state.rollout),
            "{state:?}"
        );
    }
    if let Err(e) = &read {
        prop_assert!(e.contains("flags.yaml"), "the error names the file: {e}");
    }
    match wrote {
        Ok(state) => {
            prop_assert_eq!(state.enabled, want.enabled);
            prop_assert_eq!(state.percent(), want.percent);
            if want.enabled {
                prop_assert_eq!(&state.groups, &want.groups);
            }
            prop_assert_eq!(back.as_ref(), Some(&state));
            if let (Some(before), Some(after)) = (before, after) {
                prop_assert_eq!(others(&before), others(&after));
            }
        }
        Err(e) => {
            prop_assert!(
                after_bytes == bytes,
                "a refused write changed the file: {e}"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn flag_files_shaped_like_flag_files(text in flag_file(), want in desired_flag()) {
        read_then_write(text.into_bytes(), want)?;
    }

    #[test]
    fn flag_files_with_bytes_damaged(
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0usize..4, prop::collection::vec(any::<u8>(), 0..4)), 1..5),
        want in desired_flag(),
    ) {
        let mut bytes = fixture("fixtures/healthy/flags.yaml").into_bytes();
        for (at, cut, insert) in edits {
            let at = at.index(bytes.len() + 1);
            let end = (at + cut).min(bytes.len());
            bytes.splice(at..end, insert);
        }
        read_then_write(bytes, want)?;
    }
}

// ─── journals ────────────────────────────────────────────────────────────────────────

fn at(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap()
}

fn arb_entry() -> impl Strategy<Value = Entry> {
    (
        0i64..4_000_000_000_000,
        "\\PC{0,12}",
        prop::sample::select(vec![
            Kind::Action,
            Kind::Decision,
            Kind::Outside,
            Kind::Error,
            Kind::Note,
        ]),
        "\\PC{0,12}",
        "\\PC{0,40}",
        prop::option::of("\\PC{0,12}"),
        prop::collection::btree_map("\\PC{1,8}", -1e12f64..1e12, 0..3),
    )
        .prop_map(|(t, operator, kind, action, reason, step, values)| Entry {
            at: at(t),
            operator,
            kind,
            action: action.into(),
            reason,
            step,
            values,
            explain: None,
            canary: None,
            origin: None,
        })
}

/// A journal line: a whole entry, or something else that may sit on a line.
fn journal_line() -> impl Strategy<Value = (bool, Vec<u8>)> {
    prop_oneof![
        4 => arb_entry().prop_map(|e| (true, serde_json::to_vec(&e).unwrap())),
        1 => arb_entry().prop_map(|e| {
            let mut v = serde_json::to_value(&e).unwrap();
            v["at"] = serde_json::json!(12);
            (false, serde_json::to_vec(&v).unwrap())
        }),
        1 => "\\PC{0,40}".prop_map(|s| (false, s.into_bytes())),
        1 => prop::collection::vec(any::<u8>(), 0..40).prop_map(|b| (false, b)),
        1 => (1usize..400).prop_map(|n| (false, format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes())),
        1 => Just((false, br#"{"at":"2024-01-01T00:00:00Z","operator":"x","kind":"note","action":"a","reason":"r","values":{"v":1e400}}"#.to_vec())),
    ]
    .prop_map(|(whole, mut bytes)| {
        bytes.retain(|b| *b != b'\n');
        // A line of garbage can still happen to be an entry (e.g. an empty object is not).
        let whole = whole || serde_json::from_slice::<Entry>(&bytes).is_ok();
        (whole, bytes)
    })
}

fn open_store(dir: &Path, journal: &[u8]) -> FileStore {
    let store = FileStore::open(dir).unwrap();
    std::fs::write(dir.join("journal.jsonl"), journal).unwrap();
    store
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    /// Exactly the lines that are whole entries come back; a bad last line is torn, a bad
    /// line before it is an error naming that line; an append never makes it worse.
    #[test]
    fn journals_read_line_by_line(
        lines in prop::collection::vec(journal_line(), 0..8),
        newline_at_end in any::<bool>(),
        next in arb_entry(),
    ) {
        let mut bytes = lines.iter().map(|(_, l)| l.clone()).collect::<Vec<_>>().join(&b'\n');
        if newline_at_end && !lines.is_empty() {
            bytes.push(b'\n');
        }
        // An empty last line with no newline after it leaves nothing in the file: it is no
        // line at all, not a torn one.
        let mut lines = lines;
        if !newline_at_end && lines.last().is_some_and(|(_, l)| l.is_empty()) {
            lines.pop();
        }
        let first_bad = lines.iter().position(|(whole, _)| !whole);
        let expect = (bytes.clone(), first_bad, lines.len());
        let (read, healed) = bounded("journal", move || {
            let dir = tempfile::tempdir().unwrap();
            let store = open_store(dir.path(), &expect.0);
            let read = store.journal();
            let appended = store.append(std::slice::from_ref(&next));
            let healed = appended.map(|()| store.journal());
            (read.map(|r| (r.entries.len(), r.torn.map(|t| t.line))), healed.map(|h| h.map(|r| (r.entries, r.torn.is_some()))))
        });
        let (_, first_bad, n) = (bytes, first_bad, lines.len());
        match (first_bad, read) {
            (None, Ok((entries, torn))) => {
                prop_assert_eq!(entries, n);
                prop_assert_eq!(torn, None);
            }
            (Some(i), Ok((entries, torn))) => {
                prop_assert_eq!(i + 1, n, "only the last line may be bad");
                prop_assert_eq!(entries, i);
                prop_assert_eq!(torn, Some(n));
            }
            (Some(i), Err(StoreError::Corrupt { line, .. })) => {
                prop_assert!(i + 1 < n);
                prop_assert_eq!(line, i + 1);
            }
            (bad, Err(e)) => prop_assert!(false, "first bad {:?}: {}", bad, e),
        }
        // A journal that could be read stays readable and whole after an append.
        if first_bad.is_none_or(|i| i + 1 == n) {
            match healed {
                Ok(Ok((entries, torn))) => {
                    prop_assert!(!torn);
                    prop_assert_eq!(entries.len(), n + 1);
                }
                other => prop_assert!(false, "{:?}", other.map(|r| r.map(|(e, _)| e.len()))),
            }
        }
    }

    #[test]
    fn journals_of_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048), next in arb_entry()) {
        let (was_ok, now_ok) = bounded("journal bytes", move || {
            let dir = tempfile::tempdir().unwrap();
            let store = open_store(dir.path(), &bytes);
            let was_ok = store.journal().is_ok();
            let _ = store.append(std::slice::from_ref(&next));
            (was_ok, store.journal().is_ok())
        });
        prop_assert!(!was_ok || now_ok, "an append made a readable journal unreadable");
    }
}

// ─── inbox requests ──────────────────────────────────────────────────────────────────

/// A request as `post` writes it, for the file name `fuzz.request.json`.
fn request_json(command: &str, operator: &str) -> Vec<u8> {
    let request = InboxRequest {
        id: "fuzz".into(),
        command: Command::Rollback,
        operator: operator.into(),
        reason: Some("fuzzing".into()),
        at: at(0),
        host: None,
        role: None,
        posted_by: None,
    };
    let mut v = serde_json::to_value(&request).unwrap();
    if !command.is_empty() {
        v["command"] = serde_json::json!({ "command": command });
    }
    serde_json::to_vec_pretty(&v).unwrap()
}

/// What another terminal, a half-written file or an attacker may leave under a request's
/// name: a request, a damaged one, one for another id, JSON of another shape, bytes, and
/// files past the size limit.
fn request_bytes() -> impl Strategy<Value = Vec<u8>> {
    let limit = INBOX_LIMIT as usize;
    prop_oneof![
        2 => ("\\PC{0,16}", prop::sample::select(vec!["", "pause", "rollback", "launch"]))
            .prop_map(|(operator, command)| request_json(command, &operator)),
        2 => (0usize..400, prop::collection::vec(any::<u8>(), 0..8)).prop_map(|(cut, insert)| {
            let mut bytes = request_json("", "alice");
            let cut = cut.min(bytes.len());
            bytes.splice(cut..cut, insert);
            bytes
        }),
        1 => (0usize..400).prop_map(|keep| {
            let mut bytes = request_json("", "alice");
            bytes.truncate(keep);
            bytes
        }),
        1 => Just(serde_json::to_vec(&serde_json::json!({"id": "other", "command": {"command": "rollback"}, "operator": "x", "at": "2024-01-01T00:00:00Z"})).unwrap()),
        2 => prop::collection::vec(any::<u8>(), 0..2048),
        1 => (1usize..400).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes()),
        1 => (0usize..64).prop_map(move |extra| {
            let mut bytes = request_json("", "alice");
            bytes.pop();
            bytes.pop();
            let pad = limit + extra - bytes.len().min(limit);
            bytes.extend(format!(",\"pad\":\"{}\"}}", "x".repeat(pad)).into_bytes());
            bytes
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    /// Whatever lies under a request's name, the inbox is read at once and a good request
    /// beside it is taken; the entry is either a request for its own id, taken once, or set
    /// aside, answered and journaled once; nothing is left to be read again.
    #[test]
    fn inbox_request_bytes(bytes in request_bytes()) {
        let size = bytes.len() as u64;
        let (first, again, journaled, answer, rejected) = bounded("inbox", move || {
            let dir = tempfile::tempdir().unwrap();
            let store = FileStore::open(dir.path()).unwrap();
            let good = InboxRequest {
                id: "good".into(),
                command: Command::Pause,
                operator: "bob".into(),
                reason: None,
                at: at(1),
                host: None,
                role: None,
                posted_by: None,
            };
            store.post(&good).unwrap();
            std::fs::write(dir.path().join("inbox/fuzz.request.json"), &bytes).unwrap();
            let first = store.take_requests().map(|t| t.into_iter().map(|r| r.id).collect::<Vec<_>>());
            let again = store.take_requests().map(|t| t.len());
            let journaled = store.journal().unwrap().entries.iter().filter(|e| e.action == "inbox").count();
            let answer = store.take_answer("fuzz").unwrap();
            let rejected = dir.path().join("inbox/fuzz.request.json.rejected").exists();
            (first, again, journaled, answer, rejected)
        });
        let first = first.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(first.contains(&"good".to_string()), "{:?}", first);
        prop_assert_eq!(again.ok(), Some(0));
        if first.contains(&"fuzz".to_string()) {
            prop_assert!(size <= INBOX_LIMIT);
            prop_assert_eq!(journaled, 0);
            prop_assert!(answer.is_none() && !rejected);
        } else {
            prop_assert_eq!(journaled, 1);
            prop_assert!(rejected, "set aside");
            prop_assert!(answer.is_some_and(|a| !a.ok), "the poster is told");
        }
    }
}

// ─── state files ─────────────────────────────────────────────────────────────────────

fn healthy_plan() -> Arc<Plan> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/healthy/plan.yaml");
    Arc::new(plan::load(&path).unwrap())
}

fn times() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        (0i64..253_402_300_799_000).prop_map(|ms| serde_json::json!(at(ms))),
        Just(serde_json::json!(DateTime::<Utc>::MIN_UTC)),
        Just(serde_json::json!(DateTime::<Utc>::MAX_UTC)),
        Just(serde_json::json!("0000-01-01T00:00:00Z")),
        Just(serde_json::Value::Null),
    ]
}

fn numbers() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        (0u64..100).prop_map(|n| serde_json::json!(n)),
        Just(serde_json::json!(u32::MAX)),
        Just(serde_json::json!(u64::MAX)),
        Just(serde_json::json!(i64::MAX)),
        any::<u64>().prop_map(|n| serde_json::json!(n)),
    ]
}

fn phase_value() -> impl Strategy<Value = serde_json::Value> {
    let step = prop_oneof![0u64..8, Just(u64::MAX)];
    let by = prop_oneof![
        Just(serde_json::json!({"by": "operator", "who": "alice"})),
        (0u64..12).prop_map(|i| serde_json::json!({"by": "guardrail", "who": i})),
        Just(serde_json::json!({"by": "stale", "who": "nosuch"})),
        Just(serde_json::json!({"by": "outside"})),
    ];
    let resume = prop::sample::select(&["baking", "awaiting_approval", "watching"][..]);
    prop_oneof![
        Just(serde_json::json!({"state": "ready"})),
        step.clone()
            .prop_map(|s| serde_json::json!({"state": "baking", "step": s})),
        step.clone()
            .prop_map(|s| serde_json::json!({"state": "awaiting_approval", "step": s})),
        (step, resume, by).prop_map(|(s, r, b)| {
            let mut v =
                serde_json::json!({"state": "paused", "step": s, "resume": r, "reason": "r"});
            if let (Some(o), Some(b)) = (v.as_object_mut(), b.as_object()) {
                o.extend(b.clone());
            }
            v
        }),
        Just(serde_json::json!({"state": "rolling_back", "reason": "r"})),
        Just(serde_json::json!({"state": "rolled_back", "reason": "r"})),
        Just(serde_json::json!({"state": "watching"})),
        Just(serde_json::json!({"state": "completed"})),
    ]
}

/// A real `state.json` with fields replaced by wild but well-typed values: what an old
/// plan, a hand edit or another version may leave.
fn wild_state() -> impl Strategy<Value = serde_json::Value> {
    let base = serde_json::to_value(Engine::new(healthy_plan()).progress()).unwrap();
    (
        phase_value(),
        prop::collection::vec(times(), 5),
        prop::collection::vec(numbers(), 2),
        any::<bool>(),
        prop::collection::vec((prop::option::of(times()), any::<bool>()), 0..9),
        prop::collection::btree_map("error_rate|p95|nosuch", numbers(), 0..3),
        prop::collection::vec(0u64..40, 0..4),
        prop::option::of(0u64..300),
    )
        .prop_map(move |(phase, t, n, confirmed, rules, fresh, ticked, overridden)| {
            let mut v = base.clone();
            v["phase"] = phase;
            v["now"] = t[0].clone();
            v["started_at"] = t[1].clone();
            v["step_started_at"] = t[2].clone();
            v["confirmed_at"] = t[3].clone();
            v["served_ms"] = n[0].clone();
            v["flag_failures"] = n[1].clone();
            v["confirmed"] = serde_json::json!(confirmed);
            v["desired"] = serde_json::json!({"enabled": true, "percent": 5, "groups": ["g"]});
            v["rules"] = rules
                .into_iter()
                .map(|(since, tripped)| serde_json::json!({"holding_since": since, "tripped": tripped}))
                .collect();
            v["fresh"] = serde_json::json!(fresh);
            v["baseline"] = serde_json::json!({"error_rate": 0.001, "nosuch": 1e300});
            v["stale"] = serde_json::json!(["p95", "nosuch"]);
            v["ticked"] = serde_json::json!({"pre_release": ticked, "rollback": [0, 99]});
            v["overridden"] = serde_json::json!(overridden);
            if let Some(t) = t[4].as_str() {
                v["trips"] = serde_json::json!([{
                    "rule": 99, "rule_text": "r", "metric": "nosuch", "query": null,
                    "action": "rollback", "unit": "ratio", "baseline": null, "threshold": 1.0,
                    "since": t, "at": t, "held_secs": i64::MIN, "samples": []
                }]);
            }
            v
        })
}

/// Restores `progress` and drives the engine through every kind of input.
fn drive(progress: Progress, around: DateTime<Utc>) {
    let plan = healthy_plan();
    let mut engine = Engine::restore(Arc::clone(&plan), progress);
    let offsets = [-3_600_000i64, 0, 15_000, 3_600_000, 86_400_000];
    let sample = |t: DateTime<Utc>, v: f64| Batch {
        arms: Vec::new(),
        at: t,
        readings: plan
            .metrics
            .series
            .iter()
            .map(|s| Reading {
                series: s.name.clone(),
                outcome: Outcome::Value(v),
            })
            .collect(),
    };
    let _ = engine.time_left();
    let _ = engine.starved();
    let _ = engine.blockers();
    for (i, off) in offsets.iter().enumerate() {
        let t = around
            .checked_add_signed(chrono::Duration::milliseconds(*off))
            .unwrap_or(around);
        let command = |c| Input::Command {
            command: c,
            operator: "fuzz".into(),
            reason: None,
        };
        // A restored controller may tick before any data has come in.
        let inputs = [
            Input::Tick,
            Input::Samples {
                batch: sample(t, [0.001, 0.2, f64::NAN, 1e300, -1.0][i]),
            },
            Input::History {
                batches: vec![sample(t, 0.001)],
            },
            command(Command::Promote { force: true }),
            command(Command::Resume { force: true }),
            command(Command::SetPercent { percent: 50 }),
            command(Command::Tick {
                list: ListKind::PreRelease,
                item: 99,
                done: true,
            }),
            Input::Flag {
                event: FlagEvent::Confirmed {
                    state: FlagState {
                        enabled: i % 2 == 0,
                        rollout: 0.5,
                        groups: vec![],
                        kind: FlagKind::Release,
                    },
                },
            },
            command(Command::Pause),
            command(Command::Rollback),
        ];
        for input in inputs {
            let _ = engine.handle(t, input);
            let _ = engine.time_left();
            let _ = engine.blockers();
        }
    }
    let _ = serde_json::to_vec(engine.progress()).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// A state file is read whole or refused with its place; one that reads restores into an
    /// engine that takes any input without panicking.
    #[test]
    fn state_files_well_typed_but_wild(state in wild_state(), at_ms in 0i64..253_402_300_799_000) {
        let bytes = serde_json::to_vec_pretty(&state).unwrap();
        let shown = String::from_utf8_lossy(&bytes).into_owned();
        bounded(&format!("state.json {shown}"), move || {
            let dir = tempfile::tempdir().unwrap();
            let store = FileStore::open(dir.path()).unwrap();
            std::fs::write(dir.path().join("state.json"), &bytes).unwrap();
            match store.load() {
                Ok(Some(progress)) => drive(progress, at(at_ms)),
                Ok(None) => panic!("state.json was there"),
                Err(e) => assert!(e.to_string().contains("state.json"), "{e}"),
            }
        });
    }

    #[test]
    fn state_files_of_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        bounded("state.json bytes", move || {
            let dir = tempfile::tempdir().unwrap();
            let store = FileStore::open(dir.path()).unwrap();
            std::fs::write(dir.path().join("state.json"), &bytes).unwrap();
            if let Err(e) = store.load() {
                assert!(e.to_string().contains("state.json"), "{e}");
            }
        });
    }
}

// ─── Prometheus answers over HTTP ────────────────────────────────────────────────────

/// A loopback HTTP server that answers every request with the same bytes (or holds the
/// connection without answering), for one case.
struct Answering {
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Answering {
    fn start(response: Vec<u8>, stall: bool) -> Answering {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let halt = Arc::clone(&stop);
        let response = Arc::new(response);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if halt.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut conn) = conn else { continue };
                let response = Arc::clone(&response);
                std::thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    if stall {
                        std::thread::sleep(Duration::from_secs(2));
                        return;
                    }
                    let _ = conn.write_all(&response);
                    let _ = conn.flush();
                });
            }
        });
        Answering { addr, stop }
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn api_json() -> impl Strategy<Value = serde_json::Value> {
    let raw = prop_oneof![
        any::<f64>().prop_map(|v| serde_json::json!(v.to_string())),
        Just(serde_json::json!("NaN")),
        Just(serde_json::json!("+Inf")),
        Just(serde_json::json!("1e400")),
        Just(serde_json::json!("")),
        any::<i64>().prop_map(|v| serde_json::json!(v)),
        Just(serde_json::Value::Null),
    ];
    let time = prop_oneof![
        (0f64..2e9).prop_map(|t| serde_json::json!(t)),
        Just(serde_json::json!(1e300)),
        Just(serde_json::json!("t")),
    ];
    let point = (time, raw).prop_map(|(t, v)| serde_json::json!([t, v]));
    let sample = prop_oneof![
        point
            .clone()
            .prop_map(|p| serde_json::json!({"metric": {}, "value": p})),
        prop::collection::vec(point.clone(), 0..4)
            .prop_map(|ps| serde_json::json!({"metric": {"a": "b"}, "values": ps})),
        Just(serde_json::json!({"metric": {}, "histogram": [1, {"count": "1"}]})),
        point.clone(),
    ];
    let kind = prop::sample::select(&["vector", "matrix", "scalar", "string", "bogus"][..]);
    let result = prop_oneof![
        prop::collection::vec(sample, 0..4).prop_map(serde_json::Value::Array),
        point,
        Just(serde_json::json!({})),
    ];
    prop_oneof![
        4 => (kind, result).prop_map(|(k, r)| serde_json::json!({"status": "success", "data": {"resultType": k, "result": r}})),
        1 => "\\PC{0,30}".prop_map(|m| serde_json::json!({"status": "error", "errorType": "bad_data", "error": m})),
        1 => Just(serde_json::json!({"status": "success"})),
        1 => Just(serde_json::json!([1, 2, 3])),
    ]
}

fn http_response() -> impl Strategy<Value = (Vec<u8>, bool)> {
    let status = prop_oneof![
        Just("HTTP/1.1 200 OK".to_string()),
        prop::sample::select(&[400u16, 401, 403, 404, 422, 500, 502, 503][..])
            .prop_map(|c| format!("HTTP/1.1 {c} X")),
        (100u16..1000).prop_map(|c| format!("HTTP/1.1 {c} Odd")),
        Just("HTTP/1.0 200 OK".to_string()),
        "\\PC{0,20}",
    ];
    let body = prop_oneof![
        4 => api_json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => prop::collection::vec(any::<u8>(), 0..200),
        1 => api_json().prop_map(|v| {
            let b = serde_json::to_vec(&v).unwrap();
            b[..b.len() / 2].to_vec()
        }),
    ];
    // 0 right length, 1 too short, 2 too long, 3 none (close ends it), 4 chunked, 5 bad chunk.
    (status, body, 0u8..6, prop::bool::weighted(0.04)).prop_map(|(status, body, framing, stall)| {
        let mut r = format!("{status}\r\nContent-Type: application/json\r\n").into_bytes();
        match framing {
            0 => r.extend(format!("Content-Length: {}\r\n\r\n", body.len()).bytes()),
            1 => r.extend(format!("Content-Length: {}\r\n\r\n", body.len() / 2).bytes()),
            2 => r.extend(format!("Content-Length: {}\r\n\r\n", body.len() + 1000).bytes()),
            3 => r.extend(b"Connection: close\r\n\r\n"),
            4 => {
                r.extend(format!("Transfer-Encoding: chunked\r\n\r\n{:x}\r\n", body.len()).bytes())
            }
            _ => r.extend(b"Transfer-Encoding: chunked\r\n\r\nzz\r\n"),
        }
        r.extend(&body);
        if framing == 4 {
            r.extend(b"\r\n0\r\n\r\n");
        }
        (r, stall)
    })
}

fn series(name: &str) -> Series {
    Series {
        name: name.into(),
        query: Some(format!("{name}_query")),
        unit: plan::Unit::Ratio,
        better: plan::Better::Lower,
    }
}

fn assert_batch_is_sane(batch: &Batch, at: DateTime<Utc>) -> Result<(), TestCaseError> {
    prop_assert_eq!(batch.at, at);
    let names: Vec<&str> = batch.readings.iter().map(|r| r.series.as_str()).collect();
    prop_assert_eq!(names, vec!["error_rate", "p95"]);
    for r in &batch.readings {
        match &r.outcome {
            Outcome::Value(v) => prop_assert!(v.is_finite(), "{v}"),
            Outcome::NoData => {}
            Outcome::Error(text) => prop_assert!(!text.is_empty()),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever a server sends back — any status, any framing, any body, or nothing at all
    /// — a poll and a history fetch end within the timeout with a value, no data or an
    /// error per series.
    #[test]
    fn prometheus_answers_of_any_shape((response, stall) in http_response()) {
        let server = Answering::start(response, stall);
        let url = format!("http://{}", server.addr);
        let (polled, history, took) = bounded("prometheus", move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let mut source = Prometheus::new(
                &url,
                Access::default(),
                Duration::from_millis(300),
                &[series("error_rate"), series("p95")],
            )
            .unwrap();
            let start = Instant::now();
            let t = at(1_700_000_000_000);
            let polled = rt.block_on(source.poll(t, Exposure::default()));
            let history = rt.block_on(source.history(t - chrono::Duration::minutes(1), t, Duration::from_secs(15)));
            (polled, history, start.elapsed())
        });
        drop(server);
        assert_batch_is_sane(&polled, at(1_700_000_000_000))?;
        prop_assert_eq!(history.len(), 4);
        for b in &history {
            prop_assert_eq!(b.readings.len(), 2);
        }
        // Two requests at most per query (one retry on a closed connection), 300 ms each.
        prop_assert!(took < Duration::from_secs(3), "took {:?}", took);
    }
}

// ─── the engine clock ────────────────────────────────────────────────────────────────

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn clocks_of_any_speed(
        speed in any::<f64>(),
        origin_ms in prop_oneof![0i64..253_402_300_799_000, Just(DateTime::<Utc>::MAX_UTC.timestamp_millis())],
        ahead_ms in any::<i64>(),
    ) {
        let origin = at(origin_ms);
        let clock = shipdeck::clock::Clock::starting(origin, speed);
        let now = clock.now();
        prop_assert!(now >= origin);
        let target = origin
            .checked_add_signed(chrono::Duration::milliseconds(ahead_ms / 2))
            .unwrap_or(origin);
        let _ = clock.real_until(target);
    }
}
