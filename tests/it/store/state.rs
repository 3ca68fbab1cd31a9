//! The file store's state.json and state directory, on real temp directories.

use chrono::{TimeZone, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use shipdeck::engine::guardrail::{Explain, RuleState};
use shipdeck::engine::history::Point;
use shipdeck::engine::incident::Incident;
use shipdeck::engine::values::{DesiredFlag, FlagState};
use shipdeck::engine::{CheckReport, Engine, PauseCause, Phase, Progress, Resume, StageReport};
use shipdeck::plan::*;
use shipdeck::store::{FileStore, ReleaseStore, StoreError};

fn plan() -> Plan {
    let step = |name: &str, percent: u8, groups: &[&str], approval| Step {
        name: name.into(),
        percent,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        bake: Duration::from_secs(86_400),
        approval,
    };
    let series = |name: &str, unit| Series {
        name: name.into(),
        query: None,
        unit,
        better: Better::Lower,
    };
    Plan {
        path: "/srv/checkout/plan.yaml".into(),
        release: Release {
            name: "checkout-v2".into(),
            version: "2.5.0".into(),
            owner: Some("payments".into()),
            strategy: Strategy::Canary,
            notes: ReleaseNotes::default(),
        },
        pipeline: vec![Stage {
            name: "Prod".into(),
            source: StageSource::Rollout,
        }],
        flag: FlagSpec {
            name: "new_checkout".into(),
            kind: FlagKind::Release,
            backend: BackendSpec::File {
                path: "/srv/checkout/flags.yaml".into(),
            },
        },
        rollout: Rollout {
            steps: vec![
                step("Internal", 0, &["internal"], Approval::Manual),
                step("Beta", 5, &["beta-testers"], Approval::Auto),
                step("Full", 100, &[], Approval::Manual),
            ],
            watch: Duration::from_secs(86_400),
        },
        metrics: MetricsSpec {
            source: SourceSpec::Simulated {
                scenario: Scenario::Healthy,
                seed: 7,
                arms: shipdeck::plan::ArmScenario::Healthy,
            },
            interval: Duration::from_secs(15),
            baseline_window: Duration::from_secs(1800),
            stale_after: 3,
            min_samples: 5,
            series: vec![
                series("error_rate", Unit::Ratio),
                series("p95", Unit::Seconds),
            ],
            arms: Vec::new(),
        },
        guardrails: Guardrails {
            on_stale: StaleAction::Pause,
            rules: vec![
                Rule {
                    metric: "error_rate".into(),
                    condition: Condition::Above(0.01),
                    hold: Duration::ZERO,
                    action: Action::Pause,
                    text: "error_rate above 1% → pause".into(),
                },
                Rule {
                    metric: "error_rate".into(),
                    condition: Condition::Above(0.05),
                    hold: Duration::from_secs(120),
                    action: Action::Rollback,
                    text: "error_rate above 5% for 2m → rollback".into(),
                },
            ],
        },
        checklists: Checklists::default(),
        notify: Vec::new(),
        canary: None,
        store: Default::default(),
    }
}

/// A real engine's progress, then every field given a non-default value so the round
/// trip covers the whole shape.
fn progress() -> Progress {
    let mut p = Engine::new(Arc::new(plan())).progress().clone();
    let t = |s: i64| Utc.timestamp_opt(1_700_000_000 + s, 0).single().unwrap();
    p.phase = Phase::Paused {
        step: 1,
        resume: Resume::Baking,
        reason: "error_rate above 1% → pause".into(),
        by: PauseCause::Guardrail(0),
    };
    p.now = Some(t(600));
    p.started_at = Some(t(0));
    p.step_started_at = Some(t(300));
    p.served_ms = 123_456;
    p.fresh = BTreeMap::from([("error_rate".into(), 9), ("p95".into(), 8)]);
    p.desired = Some(DesiredFlag {
        enabled: true,
        percent: 5,
        groups: vec!["beta-testers".into()],
    });
    p.confirmed = true;
    p.live = Some(FlagState {
        enabled: true,
        rollout: 0.05,
        groups: vec!["beta-testers".into()],
        kind: FlagKind::Release,
    });
    p.overridden = Some(7);
    p.baseline = BTreeMap::from([("error_rate".into(), 0.001), ("p95".into(), 0.32)]);
    p.rules[0] = RuleState {
        holding_since: Some(t(540)),
        tripped: true,
        trips: 2,
    };
    p.stale = BTreeSet::from(["p95".to_string()]);
    p.trips = vec![Explain {
        rule: 0,
        rule_text: "error_rate above 1% → pause".into(),
        metric: "error_rate".into(),
        query: Some("sum(rate(x[1m]))".into()),
        action: Action::Pause,
        unit: Unit::Ratio,
        baseline: Some(0.001),
        threshold: 0.01,
        since: t(540),
        at: t(555),
        held_secs: 15,
        samples: vec![
            Point {
                at: t(540),
                value: Some(0.012),
            },
            Point {
                at: t(555),
                value: None,
            },
        ],
    }];
    p.ticked = BTreeMap::from([
        (ListKind::PreRelease, BTreeSet::from([0, 2])),
        (ListKind::ReleaseDay, BTreeSet::from([1])),
    ]);
    p.ticked_by = BTreeMap::from([(
        ListKind::PreRelease,
        BTreeMap::from([(
            0,
            shipdeck::engine::TickedBy {
                operator: "alice".into(),
                at: t(100),
            },
        )]),
    )]);
    p.flag_failures = 2;
    p.incident = Some(Incident {
        at: t(555),
        from: t(480),
        until: t(675),
        samples: BTreeMap::from([(
            "error_rate".into(),
            vec![
                Point {
                    at: t(540),
                    value: Some(0.012),
                },
                Point {
                    at: t(570),
                    value: None,
                },
            ],
        )]),
    });
    p.reports.stages.insert(
        "QA".into(),
        StageReport {
            status: StageStatus::Failed,
            detail: "2 tests failed".into(),
        },
    );
    p.reports.checks.insert(
        ListKind::PreRelease,
        BTreeMap::from([(
            1,
            CheckReport {
                ok: false,
                detail: "migration 42 pending".into(),
            },
        )]),
    );
    p
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_fresh_store_has_no_state() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(&tmp.path().join(".shipdeck")).unwrap();
    assert_eq!(store.load().unwrap(), None);
}

#[test]
fn open_creates_a_private_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("deep/er/.shipdeck");
    let store = FileStore::open(&dir).unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("inbox")), 0o700);
    assert_eq!(names(&dir), vec!["inbox"], "the probe file was left behind");
    assert!(store.describe().contains(&dir.display().to_string()));
}

#[test]
fn progress_round_trips_and_the_file_is_private_pretty_json() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".shipdeck");
    let store = FileStore::open(&dir).unwrap();
    let p = progress();
    store.save(&p).unwrap();
    assert_eq!(store.load().unwrap(), Some(p.clone()));

    let path = dir.join("state.json");
    assert_eq!(mode(&path), 0o600);
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.lines().count() > 20, "not pretty-printed:\n{text}");

    // A second save replaces the first wholly, and still leaves no temp file.
    let mut q = p;
    q.phase = Phase::Completed;
    q.served_ms = 1;
    store.save(&q).unwrap();
    assert_eq!(store.load().unwrap(), Some(q));
    assert_eq!(mode(&path), 0o600);
    assert_eq!(names(&dir), vec!["inbox", "state.json"]);
}

#[test]
fn a_fresh_engine_progress_round_trips_too() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    let p = Engine::new(Arc::new(plan())).progress().clone();
    store.save(&p).unwrap();
    assert_eq!(store.load().unwrap(), Some(p));
}

#[test]
fn save_replaces_a_loose_mode_file_with_a_private_one() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    let path = tmp.path().join("state.json");
    fs::write(&path, "{}").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    store.save(&progress()).unwrap();
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn state_that_would_not_load_back_is_refused_and_the_old_state_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    let good = progress();
    store.save(&good).unwrap();
    let mut bad = good.clone();
    bad.baseline.insert("p95".into(), f64::NAN);
    match store.save(&bad) {
        Err(StoreError::Encode { path, .. }) => assert_eq!(path, tmp.path().join("state.json")),
        other => panic!("expected an encode error, got {other:?}"),
    }
    assert_eq!(store.load().unwrap(), Some(good));
    assert_eq!(names(tmp.path()), vec!["inbox", "state.json"]);
}

#[test]
fn corrupt_state_names_line_and_column_and_is_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    let path = tmp.path().join("state.json");
    let broken =
        "{\n  \"release\": \"checkout-v2\",\n  \"phase\": {\"state\": \"baking\", step: 1}\n}\n";
    fs::write(&path, broken).unwrap();

    let err = store.load().unwrap_err();
    match &err {
        StoreError::Corrupt {
            path: p,
            line,
            column,
            ..
        } => {
            assert_eq!(p, &path);
            assert_eq!(*line, 3);
            assert!(*column > 30, "column {column}");
        }
        other => panic!("expected corrupt, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("{}:3:", path.display())),
        "{text}"
    );
    assert!(text.contains("move it away"), "{text}");
    // Loading twice still fails the same way: nothing was rewritten.
    assert!(store.load().is_err());
    assert_eq!(fs::read_to_string(&path).unwrap(), broken);
}

#[test]
fn state_of_the_wrong_shape_is_corrupt_not_a_fresh_start() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    fs::write(tmp.path().join("state.json"), "{\"release\": 3}").unwrap();
    assert!(matches!(
        store.load(),
        Err(StoreError::Corrupt { line: 1, .. })
    ));
}

#[test]
fn a_state_dir_that_is_a_file_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("plan.yaml");
    fs::write(&file, "release: {}\n").unwrap();
    let dir = file.join(".shipdeck");
    let err = FileStore::open(&dir).unwrap_err();
    assert!(matches!(err, StoreError::NotWritable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&dir.display().to_string()), "{text}");
    assert!(text.contains("--state-dir"), "{text}");
    assert_eq!(fs::read_to_string(&file).unwrap(), "release: {}\n");
}

const READ_ONLY_CHILD: &str = "SHIPDECK_TEST_READ_ONLY_DIR";

/// Opening a directory the process cannot write fails clearly, and loses nothing.
/// Root writes anywhere, so as root the check runs in a child process as `nobody`.
#[test]
fn read_only_state_dir_is_a_clear_error_and_loses_nothing() {
    if let Ok(dir) = std::env::var(READ_ONLY_CHILD) {
        assert_open_refused(Path::new(&dir));
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(".shipdeck");
    let store = FileStore::open(&dir).unwrap();
    let p = progress();
    store.save(&p).unwrap();
    let before = fs::read(dir.join("state.json")).unwrap();
    drop(store);

    let me = fs::metadata(tmp.path()).unwrap().uid();
    if me == 0 {
        let nobody = 65534;
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        for path in [dir.clone(), dir.join("inbox"), dir.join("state.json")] {
            std::os::unix::fs::chown(&path, Some(nobody), Some(nobody)).unwrap();
        }
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o500)).unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "store::state::read_only_state_dir_is_a_clear_error_and_loses_nothing",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(READ_ONLY_CHILD, &dir)
            .uid(nobody)
            .gid(nobody)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "child as nobody failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // The child really ran the test (not zero tests).
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        // Back to this user: a directory another user owns is not one to write.
        for path in [dir.clone(), dir.join("inbox"), dir.join("state.json")] {
            std::os::unix::fs::chown(&path, Some(me), Some(me)).unwrap();
        }
    } else {
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o500)).unwrap();
        assert_open_refused(&dir);
    }

    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(fs::read(dir.join("state.json")).unwrap(), before);
    assert_eq!(names(&dir), vec!["inbox", "state.json"]);
    assert_eq!(FileStore::open(&dir).unwrap().load().unwrap(), Some(p));
}

fn assert_open_refused(dir: &Path) {
    let err = FileStore::open(dir).unwrap_err();
    assert!(matches!(err, StoreError::NotWritable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&dir.display().to_string()), "{text}");
    assert!(text.contains("--state-dir"), "{text}");
    assert!(text.contains("permissions"), "{text}");
}
