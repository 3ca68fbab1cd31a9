//! Every broken plan under `fixtures/bad-plans/` is refused at the right place with the
//! right words. Each file holds one mistake (except `many-mistakes.yaml`), so each gives
//! exactly one diagnostic: a second one would be a cascade the author has to wade through.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use shipdeck::plan;

/// (file, line, column, a substring of the message).
#[rustfmt::skip]
const TABLE: &[(&str, usize, usize, &str)] = &[
    ("bad-duration.yaml", 6, 38, "duration `30` has no unit"),
    ("bad-latency.yaml", 9, 28, "`two seconds` is not a latency"),
    ("bad-multiple.yaml", 9, 37, "`three times` is not a multiple"),
    ("bad-ratio.yaml", 9, 35, "ratio `5` is above 100%; for 5 percent write `5%`"),
    ("bad-url.yaml", 8, 35, "`localhost:9090` is not an http(s) URL"),
    ("canary-bad-confidence.yaml", 9, 15, "canary confidence must lie strictly between 0% and 100%"),
    ("canary-judges-nothing.yaml", 8, 9, "`canary` judges nothing"),
    ("canary-no-arm-query.yaml", 14, 7, "`p95` needs a query for each arm"),
    ("canary-template-without-arm.yaml", 15, 28, "the query for `p95` has no `$arm`"),
    ("canary-template-without-arms.yaml", 14, 28, "uses `$arm` but `canary` has no `arms`"),
    ("canary-unknown-action.yaml", 11, 12, "unknown on_fail `rollbak`"),
    ("canary-unknown-arms-scenario.yaml", 9, 35, "unknown arms scenario `p95`"),
    ("canary-unknown-metric.yaml", 10, 16, "unknown metric `p59`"),
    ("canary-weights-over-100.yaml", 12, 10, "the group weights add up to 120, over 100"),
    ("command-as-string.yaml", 4, 25, "must be a list of arguments"),
    ("duplicate-key.yaml", 9, 7, "duplicate mapping key `bake`"),
    ("duplicate-step.yaml", 9, 13, "duplicate step name `Beta`"),
    ("empty-steps.yaml", 5, 10, "`rollout.steps` is empty"),
    ("empty.yaml", 1, 1, "the plan file is empty"),
    ("many-mistakes.yaml", 7, 29, "percent 150 is outside 0..=100"),
    ("missing-release.yaml", 2, 1, "the plan is missing `release`"),
    ("no-condition.yaml", 9, 7, "a guardrail rule needs a condition"),
    ("not-yaml.yaml", 6, 40, "not valid YAML"),
    ("on-stale-promote.yaml", 8, 13, "`on_stale: promote` is never allowed"),
    ("percent-decreasing.yaml", 8, 30, "percent 10 is lower than the step before"),
    ("percent-over-100.yaml", 7, 29, "percent 120 is outside 0..=100"),
    ("prometheus-authorization-header.yaml", 11, 40, "header `Authorization` would put a credential in the plan"),
    ("prometheus-basic-auth-password.yaml", 11, 51, "basic_auth password_env must be the name of an environment variable"),
    ("prometheus-basic-auth-typo.yaml", 11, 37, "unknown key `pasword_env`"),
    ("prometheus-password-in-url.yaml", 8, 35, "the prometheus url `https://admin:***@prom.internal:9090` carries credentials"),
    ("prometheus-token-and-basic-auth.yaml", 12, 17, "has both `token_env` and `basic_auth`"),
    ("prometheus-without-query.yaml", 13, 5, "series `p95` has no `query`"),
    ("secret-in-token-env.yaml", 8, 16, "must be the name of an environment variable"),
    ("simulated-unknown-series.yaml", 11, 5, "the simulated source has no series `checkouts`"),
    ("stage-two-sources.yaml", 4, 41, "has both `status` and `command`"),
    ("two-conditions.yaml", 9, 48, "has both `above` and `above_baseline`"),
    ("unknown-action.yaml", 12, 15, "unknown action `rollbak`"),
    ("unknown-backend-kind.yaml", 5, 19, "unknown flag backend kind `launchdarkly`"),
    ("unknown-check-metric.yaml", 9, 49, "unknown metric `checkouts`"),
    ("unknown-checklist-stage.yaml", 10, 37, "unknown stage `Staging`"),
    ("unknown-flag-kind.yaml", 5, 9, "unknown flag kind `feature`"),
    ("unknown-key-typo.yaml", 5, 3, "unknown key `stpes`"),
    ("unknown-metric.yaml", 10, 16, "unknown metric `p59`"),
    ("unknown-scenario.yaml", 8, 39, "unknown scenario `outage`"),
    ("unknown-source-kind.yaml", 8, 18, "unknown metrics source kind `promethus`"),
    ("unknown-strategy.yaml", 5, 13, "unknown strategy `canery`"),
    ("unknown-unit.yaml", 10, 62, "unknown unit `percent`"),
    ("wrong-type.yaml", 7, 16, "percent must be a whole number 0..=100, found text `fifty`"),
];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/bad-plans")
}

fn refuse(file: &str) -> plan::PlanError {
    match plan::load(&dir().join(file)) {
        Ok(_) => panic!("{file} was accepted"),
        Err(e) => e,
    }
}

#[test]
fn every_bad_plan_is_refused_at_its_place() {
    let mut failures = Vec::new();
    for (file, line, column, needle) in TABLE {
        let err = refuse(file);
        let first = &err.diagnostics[0];
        let ok = first.line == *line && first.column == *column && first.message.contains(needle);
        let one = file == &"many-mistakes.yaml" || err.diagnostics.len() == 1;
        if !ok || !one {
            failures.push(format!(
                "{file}: want {line}:{column} {needle:?}, got ({} diagnostics)\n{err}",
                err.diagnostics.len()
            ));
        }
        assert_eq!(
            first.file,
            dir().join(file),
            "{file}: diagnostics name the file"
        );
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn the_table_covers_every_bad_plan() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let in_table: BTreeSet<String> = TABLE.iter().map(|(f, ..)| f.to_string()).collect();
    assert_eq!(on_disk, in_table);
    assert!(TABLE.len() >= 18);
}

#[test]
fn one_run_reports_every_mistake() {
    let err = refuse("many-mistakes.yaml");
    let got: Vec<(usize, usize)> = err.diagnostics.iter().map(|d| (d.line, d.column)).collect();
    assert_eq!(got, vec![(7, 29), (8, 40), (10, 13), (12, 16)], "\n{err}");
    assert!(
        err.diagnostics[1]
            .message
            .contains("`forever` is not a duration")
    );
    assert!(
        err.diagnostics[3]
            .hint
            .as_deref()
            .unwrap()
            .contains("did you mean `error_rate`?")
    );
}

#[test]
fn typos_get_a_did_you_mean() {
    for (file, hint) in [
        ("unknown-key-typo.yaml", "did you mean `steps`?"),
        ("unknown-metric.yaml", "did you mean `p95`?"),
        ("unknown-action.yaml", "did you mean `rollback`?"),
        ("unknown-strategy.yaml", "did you mean `canary`?"),
        ("unknown-source-kind.yaml", "did you mean `prometheus`?"),
        (
            "prometheus-basic-auth-typo.yaml",
            "did you mean `password_env`?",
        ),
    ] {
        let err = refuse(file);
        let got = err.diagnostics[0].hint.clone().unwrap_or_default();
        assert!(got.contains(hint), "{file}: {got}");
    }
}

#[test]
fn unknown_names_list_the_valid_ones() {
    for (file, listed) in [
        (
            "unknown-scenario.yaml",
            "`healthy`, `incident`, `slow-burn`, `flaky`",
        ),
        (
            "unknown-unit.yaml",
            "`ratio`, `seconds`, `per_second`, `count`",
        ),
        (
            "unknown-flag-kind.yaml",
            "`release`, `experiment`, `ops`, `permission`",
        ),
        ("unknown-backend-kind.yaml", "`file`, `unleash`, `flagd`"),
        (
            "unknown-checklist-stage.yaml",
            "`PR`, `CI`, `QA`, `Stage`, `Prod`",
        ),
    ] {
        let err = refuse(file);
        let got = err.diagnostics[0].hint.clone().unwrap_or_default();
        assert!(got.contains(listed), "{file}: {got}");
    }
}

#[test]
fn a_secret_in_the_wrong_place_is_never_echoed() {
    for (file, secret) in [
        ("secret-in-token-env.yaml", "b1946ac9"),
        ("prometheus-password-in-url.yaml", "s3cr3t-pw"),
        ("prometheus-authorization-header.yaml", "secret-jwt"),
        ("prometheus-basic-auth-password.yaml", "hunter2"),
    ] {
        let err = refuse(file).to_string();
        assert!(!err.contains(secret), "{file}: {err}");
    }
}

#[test]
fn display_names_file_line_and_column() {
    let err = refuse("percent-over-100.yaml").to_string();
    let file = dir().join("percent-over-100.yaml");
    assert!(
        err.starts_with(&format!("{}:7:29: error: percent 120", file.display())),
        "{err}"
    );
    assert!(err.contains("\n  hint: "), "{err}");
}

#[test]
fn a_missing_file_has_no_line_or_column() {
    let err = plan::load(&dir().join("no-such-plan.yaml")).unwrap_err();
    assert_eq!(err.diagnostics.len(), 1);
    let d = &err.diagnostics[0];
    assert_eq!((d.line, d.column), (0, 0));
    assert!(
        d.to_string()
            .contains("no-such-plan.yaml: error: cannot read the plan")
    );
}
