//! Every good fixture under `fixtures/` parses, with spot checks of the values that other
//! parts of shipdeck (the demo, headless runs, adapters) rely on.

use std::path::{Path, PathBuf};
use std::time::Duration;

use shipdeck::plan::{self, *};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
        .join("plan.yaml")
}

fn load(name: &str) -> Plan {
    match plan::load(&fixture(name)) {
        Ok(p) => p,
        Err(e) => panic!("fixture {name} does not parse:\n{e}"),
    }
}

#[test]
fn every_good_fixture_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path().join("plan.yaml");
        if path.is_file() {
            if let Err(e) = plan::load(&path) {
                panic!("{} does not parse:\n{e}", path.display());
            }
            seen += 1;
        }
    }
    assert!(seen >= 7, "only {seen} fixtures found");
}

fn h(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}

#[test]
fn demo_is_the_reference_release() {
    let p = load("demo");
    assert_eq!(p.release.name, "checkout-v2");
    assert_eq!(p.release.version, "2.5.0");
    assert_eq!(p.release.strategy, Strategy::Canary);
    assert_eq!(p.release.notes.features.len(), 2);
    assert_eq!(p.release.notes.date.as_deref(), Some("2025-03-15"));

    let steps: Vec<(&str, u8, Duration, Approval)> = p
        .rollout
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.percent, s.bake, s.approval))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("Internal", 0, h(24), Approval::Manual),
            ("Beta", 5, h(48), Approval::Auto),
            ("Gradual 25%", 25, h(24), Approval::Auto),
            ("Gradual 50%", 50, h(24), Approval::Auto),
            ("Full", 100, h(24), Approval::Manual),
        ]
    );
    assert_eq!(p.rollout.steps[0].groups, vec!["internal"]);
    assert_eq!(p.rollout.steps[1].groups, vec!["beta-testers"]);
    assert_eq!(p.rollout.watch, h(24));

    assert_eq!(
        p.metrics.source,
        SourceSpec::Simulated {
            scenario: Scenario::Incident,
            seed: 7,
            arms: ArmScenario::Healthy,
        }
    );
    assert_eq!(p.metrics.series.len(), 4);
    assert_eq!(p.metrics.series("p95").unwrap().unit, Unit::Seconds);

    let texts: Vec<&str> = p.guardrails.rules.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(
        texts,
        vec![
            "error_rate above 1% → pause",
            "error_rate above 5% for 2m → rollback",
            "p95 above 2s → alert",
            "p95 above 3x baseline → rollback",
            "p95 20% worse than baseline for 5m → rollback",
            "memory above 90% → rollback",
        ]
    );
    assert_eq!(p.guardrails.rules[1].condition, Condition::Above(0.05));
    assert_eq!(p.guardrails.rules[1].hold, Duration::from_secs(120));
    assert_eq!(p.guardrails.on_stale, StaleAction::Pause);

    assert_eq!(p.flag.name, "new_checkout");
    let flags = fixture("demo").with_file_name("flags.yaml");
    assert_eq!(
        p.flag.backend,
        BackendSpec::File {
            path: flags.clone()
        }
    );
    let flag_text = std::fs::read_to_string(&flags).unwrap();
    assert!(flag_text.contains("new_checkout:"));
    assert!(
        flag_text.contains("# "),
        "the demo flag file keeps comments"
    );

    assert_eq!(p.pipeline.last().unwrap().source, StageSource::Rollout);
    assert_eq!(p.checklists.pre_release.len(), 6);
    assert_eq!(
        p.checklists.pre_release[1].check,
        Some(Check::Stage("CI".to_string()))
    );
    assert_eq!(p.checklists.release_day.len(), 5);
    assert_eq!(p.checklists.rollback[0].text, "Disable feature flag");
}

#[test]
fn demo_is_self_contained() {
    // It is compiled into the binary: nothing in it may run, call out or need a secret.
    let p = load("demo");
    for stage in &p.pipeline {
        assert!(
            matches!(stage.source, StageSource::Static(_) | StageSource::Rollout),
            "stage {} needs the outside world",
            stage.name
        );
    }
    for kind in ListKind::ALL {
        for item in p.checklists.list(kind) {
            assert!(!matches!(item.check, Some(Check::Command { .. })));
        }
    }
    assert!(matches!(p.metrics.source, SourceSpec::Simulated { .. }));
    assert!(p.notify.is_empty());
}

#[test]
fn healthy_can_finish_without_a_human() {
    let p = load("healthy");
    assert!(p.rollout.steps.iter().all(|s| s.approval == Approval::Auto));
    assert!(p.checklists.pre_release.is_empty());
    // Lists it does not give keep the reference defaults.
    assert_eq!(p.checklists.rollback, default_checklists().rollback);
    assert!(matches!(
        p.metrics.source,
        SourceSpec::Simulated {
            scenario: Scenario::Healthy,
            ..
        }
    ));
    assert_eq!(p.metrics.series.len(), 4, "simulated default series");
    assert_eq!(p.flag.kind, FlagKind::Release, "default flag kind");
}

#[test]
fn incident_differs_from_healthy_only_in_scenario() {
    let healthy = load("healthy");
    let incident = load("incident");
    assert!(matches!(
        incident.metrics.source,
        SourceSpec::Simulated {
            scenario: Scenario::Incident,
            seed: 7,
            ..
        }
    ));
    assert_eq!(healthy.rollout, incident.rollout);
    assert_eq!(healthy.guardrails, incident.guardrails);
}

#[test]
fn blue_green_uses_every_pipeline_source() {
    let p = load("blue-green");
    let dir = fixture("blue-green").parent().unwrap().to_path_buf();
    assert_eq!(p.release.strategy, Strategy::BlueGreen);
    assert_eq!(
        p.pipeline[1].source,
        StageSource::Command {
            argv: vec!["sh".into(), "-c".into(), "exit 0".into()],
            timeout: Duration::from_secs(300)
        }
    );
    assert_eq!(
        p.pipeline[2].source,
        StageSource::StatusFile(dir.join("status/green.json"))
    );
    assert_eq!(p.pipeline[4].name, "Switch");
    assert_eq!(p.pipeline[4].source, StageSource::Rollout);
    assert_eq!(p.guardrails.on_stale, StaleAction::Rollback);
    assert_eq!(p.guardrails.rules[0].condition, Condition::Above(0.02));
    assert_eq!(p.guardrails.rules[1].condition, Condition::Above(0.8));
    assert_eq!(p.metrics.min_samples, 6);
    assert_eq!(
        p.notify,
        vec![NotifierSpec::Log {
            path: dir.join("deploy.log")
        }]
    );
    // Lists it gives replace the defaults; the ones it leaves out keep them.
    assert_eq!(p.checklists.rollback.len(), 3);
    assert_eq!(p.checklists.post_release, default_checklists().post_release);
}

#[test]
fn canary_prometheus_has_real_queries() {
    let p = load("canary-prometheus");
    match &p.metrics.source {
        SourceSpec::Prometheus {
            url,
            token_env,
            timeout,
            headers,
            ..
        } => {
            assert_eq!(url, "http://127.0.0.1:9090");
            assert_eq!(token_env.as_deref(), Some("PROMETHEUS_TOKEN"));
            assert_eq!(*timeout, Duration::from_secs(5));
            assert_eq!(
                headers,
                &vec![("X-Scope-OrgID".to_string(), "payments".to_string())]
            );
        }
        other => panic!("not prometheus: {other:?}"),
    }
    for s in &p.metrics.series {
        let q = s.query.as_deref().unwrap();
        assert!(q.contains('('), "{}: {q}", s.name);
    }
    let checkouts = p.metrics.series("checkouts").unwrap();
    assert_eq!(checkouts.better, Better::Higher);
    assert_eq!(checkouts.unit, Unit::PerSecond);
    let last = p.guardrails.rules.last().unwrap();
    assert_eq!(last.condition, Condition::Degradation(0.1));
    assert_eq!(last.hold, Duration::from_secs(600));
    assert_eq!(
        p.checklists.release_day[2].check,
        Some(Check::Metric {
            metric: "p95".into(),
            condition: Condition::Below(0.5)
        })
    );
    assert_eq!(p.metrics.stale_window(), Duration::from_secs(120));
}

#[test]
fn unleash_backend_and_defaults() {
    let p = load("unleash");
    assert_eq!(
        p.flag.backend,
        BackendSpec::Unleash {
            url: "http://127.0.0.1:4242".into(),
            token_env: "UNLEASH_ADMIN_TOKEN".into(),
            project: "default".into(),
            environment: "production".into(),
            create: true,
        }
    );
    assert_eq!(p.pipeline.len(), 5, "default pipeline");
    assert_eq!(p.rollout.watch, h(24), "default watch");
}

#[test]
fn flagd_plan_gets_every_default() {
    let p = load("flagd");
    assert_eq!(p.release.version, "1.10", "a version is text, not a float");
    assert_eq!(
        p.flag.backend,
        BackendSpec::Flagd {
            path: fixture("flagd").with_file_name("flags.flagd.json")
        }
    );
    let names: Vec<&str> = p.pipeline.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["PR", "CI", "QA", "Stage", "Prod"]);
    assert_eq!(p.metrics.interval, Duration::from_secs(15));
    assert_eq!(p.metrics.baseline_window, Duration::from_secs(1800));
    assert_eq!((p.metrics.stale_after, p.metrics.min_samples), (3, 5));
    assert_eq!(p.guardrails.rules.len(), 6, "the reference rules");
    assert_eq!(p.checklists, default_checklists());
}

#[test]
fn summary_names_what_check_promises() {
    let s = plan::summary(&load("demo"));
    for needle in [
        "checkout-v2 2.5.0",
        "canary",
        "Internal",
        "+beta-testers",
        "bake 2d",
        "manual",
        "error_rate above 5% for 2m → rollback",
        "simulated incident",
        "file ",
        "Stage  passed",
        "Prod   the rollout",
        "pre-release 6",
        "rollback 5",
    ] {
        assert!(s.contains(needle), "summary lacks {needle:?}:\n{s}");
    }
}

#[test]
fn demo_summary_snapshot() {
    // A relative plan path keeps the snapshot free of this machine's folders.
    let text = include_str!("../../../fixtures/demo/plan.yaml");
    let p = plan::parse(text, Path::new("demo/plan.yaml")).unwrap();
    insta::assert_snapshot!(plan::summary(&p));
}

/// A plan without `pipeline:` and `checklists:`: the reference stages are not tracked and
/// the reference lists are suggestions; neither gates the start.
#[test]
fn minimal_declares_no_gates() {
    let p = load("minimal");
    assert!(
        p.pipeline
            .iter()
            .take(4)
            .all(|s| s.source == StageSource::Untracked),
        "{:?}",
        p.pipeline
    );
    assert_eq!(p.pipeline[4].source, StageSource::Rollout);
    for kind in ListKind::ALL {
        assert!(!p.checklists.gates(kind), "{kind:?}");
    }
    let p = load("healthy");
    assert!(
        p.checklists.gates(ListKind::PreRelease),
        "written: it gates"
    );
    assert!(
        !p.checklists.gates(ListKind::Rollback),
        "left out of a written `checklists:`: a suggestion"
    );
}
