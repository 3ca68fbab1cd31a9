//! canary::release: the judge through the real binary — a headless run of the
//! `canary-judge` fixture (a canary 15% slower than its baseline at 5%) rolls back on the
//! judge with no threshold tripping, and `status`, the journal and the postmortem
//! Markdown all show what it judged.

use crate::support::cli::{release, run};

#[test]
fn a_headless_run_rolls_back_on_the_judge_and_every_report_explains_it() {
    let (_dir, plan) = release("canary-judge");
    let arg = plan.to_str().unwrap();
    let (code, stdout, stderr) = run(&["run", arg, "--headless", "--speed", "20000"]);
    assert_eq!(code, 3, "rolled back\n{stdout}\n{stderr}");
    assert!(
        stderr.contains("rolled back: canary FAIL 0 at Canary 5%: critical p95 failed"),
        "{stderr}"
    );
    assert!(
        !stdout.contains("guardrail"),
        "no threshold tripped:\n{stdout}"
    );

    let (code, status, _) = run(&["status", arg]);
    assert_eq!(code, 0);
    assert!(status.contains("canary FAIL 0 at Canary 5%"), "{status}");
    let p95 = status
        .lines()
        .find(|l| l.trim_start().starts_with("p95: canary"))
        .unwrap_or_else(|| panic!("no p95 line:\n{status}"));
    for part in [
        "baseline",
        "shift +",
        "band ±",
        "; p ",
        "n 240/240",
        "→ HIGH",
    ] {
        assert!(p95.contains(part), "{part:?} in {p95}");
    }
    assert!(status.contains("errors: canary"), "{status}");

    let (code, md, _) = run(&["journal", arg, "--markdown"]);
    assert_eq!(code, 0);
    let judge = md
        .split("## Canary judge")
        .nth(1)
        .unwrap_or_else(|| panic!("no judge section:\n{md}"));
    assert!(
        judge.contains("### canary FAIL 0 at Canary 5%: critical p95 failed"),
        "{judge}"
    );
    assert!(judge.contains("- p95: canary"), "{judge}");
    assert!(judge.contains("ms"), "in the series' unit: {judge}");
}
