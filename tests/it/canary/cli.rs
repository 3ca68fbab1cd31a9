//! `shipdeck judge`: the real binary over files of samples, its answers pinned to the same
//! independently computed values as the library's (SciPy 1.17.1, see
//! `scripts/judge-reference.py`), its refusals saying where.

use std::path::PathBuf;

use crate::support::cli::run;

fn fixture(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "fixtures", "judge", name]
        .iter()
        .collect();
    path.to_string_lossy().into_owned()
}

fn judge_json(extra: &[&str]) -> (i32, serde_json::Value, String) {
    let mut args = vec!["judge", "--json"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = run(&args);
    let json = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    (code, json, stderr)
}

fn close(v: &serde_json::Value, want: f64, tol: f64) -> bool {
    v.as_f64()
        .is_some_and(|got| (got - want).abs() <= tol * want.abs().max(1.0))
}

#[test]
fn a_15_percent_regression_is_high_with_exit_3() {
    let (b, c) = (fixture("p95-baseline.txt"), fixture("p95-canary.txt"));
    let (code, j, stderr) = judge_json(&["--baseline", &b, "--canary", &c]);
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(j["verdict"], "high");
    assert_eq!(j["u"], 37606.5);
    assert!(
        close(&j["p_value"], 6.814442723170114e-09, 1e-12),
        "{}",
        j["p_value"]
    );
    assert!(close(&j["hl_estimate"], 43.849999999999994, 1e-12));
    assert!(close(&j["ci_low"], 27.09999999999977, 1e-9));
    assert!(close(&j["ci_high"], 60.50000000000053, 1e-9));
    assert_eq!(
        (j["n_baseline"].as_u64(), j["n_canary"].as_u64()),
        (Some(240), Some(240))
    );
    // Only a fall is judged: the same data passes.
    let (code, j, _) = judge_json(&["--baseline", &b, "--canary", &c, "--direction", "decrease"]);
    assert_eq!((code, j["verdict"].as_str()), (0, Some("pass")));
    assert_eq!(j["reason"], "not_judged_direction");
}

#[test]
fn the_text_report_shows_the_shift_and_the_verdict() {
    let (b, c) = (fixture("p95-baseline.txt"), fixture("p95-canary.txt"));
    let (code, stdout, _) = run(&["judge", "--baseline", &b, "--canary", &c]);
    assert_eq!(code, 3);
    for want in [
        "Mann-Whitney U 37606.5, two-sided p 6.81e-9",
        "+43.85, 98% interval [+27.1, +60.5]",
        "tolerance band ±10.9625",
        "verdict HIGH: the whole interval lies outside the tolerance band",
    ] {
        assert!(stdout.contains(want), "no {want:?} in\n{stdout}");
    }
}

#[test]
fn too_few_samples_is_no_data_with_exit_4() {
    let (b, c) = (
        fixture("depression-baseline.txt"),
        fixture("depression-canary.txt"),
    );
    let (code, j, _) = judge_json(&["--baseline", &b, "--canary", &c]);
    assert_eq!((code, j["verdict"].as_str()), (4, Some("no_data")));
    assert!(j["u"].is_null());
    let (code, j, _) = judge_json(&["--baseline", &b, "--canary", &c, "--min-samples", "5"]);
    assert_eq!((code, j["verdict"].as_str()), (0, Some("pass")));
    assert_eq!(j["u"], 58.0);
    assert!(close(&j["p_value"], 0.13291945818531892, 1e-12));
}

#[test]
fn csv_and_prometheus_answers_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let values: Vec<f64> = std::fs::read_to_string(fixture("p95-baseline.txt"))
        .unwrap()
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    let csv = dir.path().join("baseline.csv");
    let mut text = String::from("time,p95_ms\n");
    for (i, v) in values.iter().enumerate() {
        text += &format!("{},{v}\n", 1_710_511_200 + 15 * i);
    }
    std::fs::write(&csv, text).unwrap();
    let prom = dir.path().join("canary.json");
    let canary: Vec<String> = std::fs::read_to_string(fixture("p95-canary.txt"))
        .unwrap()
        .split_whitespace()
        .enumerate()
        .map(|(i, v)| format!("[{}, \"{v}\"]", 1_710_511_200 + 15 * i))
        .collect();
    let answer = format!(
        r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{"track":"canary"}},"values":[{}]}}]}}}}"#,
        canary.join(",")
    );
    std::fs::write(&prom, answer).unwrap();
    let (code, j, stderr) = judge_json(&[
        "--baseline",
        csv.to_str().unwrap(),
        "--canary",
        prom.to_str().unwrap(),
    ]);
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(j["u"], 37606.5);
}

#[test]
fn refusals_say_where_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "1\n2\n3 ms\n").unwrap();
    let good = fixture("p95-canary.txt");
    let (code, _, stderr) = run(&[
        "judge",
        "--baseline",
        bad.to_str().unwrap(),
        "--canary",
        &good,
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("bad.txt:3:1: `3 ms` is not a number"),
        "{stderr}"
    );
    let missing = dir.path().join("missing.txt");
    let (code, _, stderr) = run(&[
        "judge",
        "--baseline",
        missing.to_str().unwrap(),
        "--canary",
        &good,
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("missing.txt: cannot read the samples"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&[
        "judge",
        "--baseline",
        &good,
        "--canary",
        &good,
        "--confidence",
        "1",
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("--confidence: confidence 1 is outside (0, 1)"),
        "{stderr}"
    );
}
