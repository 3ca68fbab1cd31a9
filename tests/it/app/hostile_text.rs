//! Text from outside — a `--reason`, an `--operator`, names and notes in a plan, a
//! server's answer — is shown with its control characters escaped wherever shipdeck prints
//! it, so it can neither forge a line nor drive the terminal; the journal file keeps it as
//! given. Passwords in the URLs of Prometheus and Unleash are never shown or recorded.

use std::path::Path;
use std::time::Duration;

use crate::support::cli::{Running, cmd, release, run, wait_for};
use crate::support::prometheus::free_port;
use shipdeck::engine::journal::Entry;

/// A reason that, printed raw, would end its line and print a forged entry of its own,
/// set the terminal's title, clear the screen and reverse what follows.
const FORGED: &str = "typo\n2026-01-01T00:00:00Z rollback   all clear (security-team)\x1b]0;owned\x07\x1b[2J\u{202e}gnp.exe";
const OPERATOR: &str = "mallory\x1b[8m";

fn journal(plan: &Path) -> Vec<Entry> {
    let text = std::fs::read_to_string(plan.parent().unwrap().join(".shipdeck/journal.jsonl"))
        .unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Nothing in `text` can act on a terminal or start a line of its own, and the forged
/// reason is there, escaped.
fn assert_inert(what: &str, text: &str) {
    for c in ['\x1b', '\x07', '\u{202e}'] {
        assert!(
            !text.contains(c),
            "{what} prints {c:?} raw:\n{}",
            text.escape_debug()
        );
    }
    assert!(
        !text
            .lines()
            .any(|l| l.trim_start_matches(['|', ' ']).starts_with("2026-01-01")),
        "{what} prints a forged line:\n{text}"
    );
    assert!(
        text.contains("typo\\n2026-01-01T00:00:00Z rollback")
            && text.contains("\\u{1b}]0;owned\\u{7}")
            && text.contains("\\u{202e}gnp.exe"),
        "{what} shows the reason escaped:\n{text}"
    );
}

#[test]
fn a_reason_and_an_operator_cannot_forge_lines_or_drive_the_terminal() {
    let (_dir, plan) = release("healthy");
    let plan_arg = plan.to_str().unwrap();
    let mut holder = Running::spawn(cmd(&["run", plan_arg, "--headless", "--operator", "alice"]));
    wait_for("the first step", Duration::from_secs(30), || {
        journal(&plan)
            .iter()
            .any(|e| e.reason.starts_with("confirmed: on 0%"))
    });
    let (code, stdout, stderr) = run(&[
        "pause",
        plan_arg,
        "--reason",
        FORGED,
        "--operator",
        OPERATOR,
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_inert("the command's answer", &stdout);
    wait_for(
        "the holder to print the pause",
        Duration::from_secs(10),
        || holder.stdout().contains("pause"),
    );
    holder.kill();
    assert_inert("a headless run", &holder.stdout());
    assert!(
        holder.stdout().contains("mallory\\u{1b}[8m"),
        "{}",
        holder.stdout()
    );

    let (code, text, stderr) = run(&["journal", plan_arg]);
    assert_eq!(code, 0, "{stderr}");
    assert_inert("journal", &text);
    let (code, text, stderr) = run(&["journal", plan_arg, "--markdown"]);
    assert_eq!(code, 0, "{stderr}");
    assert_inert("journal --markdown", &text);
    let (code, text, stderr) = run(&["status", plan_arg]);
    assert_eq!(code, 0, "{stderr}");
    assert_inert("status", &text);

    // The journal keeps what was said, as it was said (JSON escapes it on disk).
    let kept = journal(&plan);
    let pause = kept.iter().find(|e| e.action == "pause").unwrap();
    assert_eq!(pause.reason, FORGED);
    assert!(pause.operator.starts_with(OPERATOR), "{:?}", pause.operator);
}

#[test]
fn names_and_notes_in_a_plan_are_shown_escaped() {
    let (_dir, plan) = release("healthy");
    let text = std::fs::read_to_string(&plan).unwrap();
    let text = text
        .replace(
            "name: checkout-v2",
            "name: \"checkout\\e]0;owned\\a\\n2026-01-01T00:00:00Z forged\"",
        )
        .replace(
            "  strategy: canary",
            "  strategy: canary\n  notes:\n    features: [\"fast\\e[2J\\nforged\"]",
        );
    std::fs::write(&plan, text).unwrap();
    let plan_arg = plan.to_str().unwrap();
    let (code, out, err) = run(&["notes", plan_arg]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        !out.contains('\x1b') && !out.contains('\x07'),
        "{}",
        out.escape_debug()
    );
    // A line break in a note continues its bullet, by design; nothing else acts.
    assert!(out.contains("- fast\\u{1b}[2J\n  forged"), "{out}");
    let (code, out, err) = run(&["run", plan_arg, "--headless", "--once"]);
    assert!(code != 2, "{out}{err}");
    for args in [
        &["status", plan_arg][..],
        &["journal", plan_arg, "--markdown"][..],
    ] {
        let (code, shown, err) = run(args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(
            !shown.contains('\x1b') && !shown.contains('\x07'),
            "{args:?}: {}",
            shown.escape_debug()
        );
        assert!(
            !shown.lines().any(|l| l.starts_with("2026-01-01"))
                && shown.contains("checkout\\u{1b}]0;owned\\u{7}\\n2026"),
            "{args:?}: {shown}"
        );
    }
}

/// The healthy release reading Prometheus at a URL with a password, where nothing listens.
fn with_prometheus_password(plan: &Path) -> String {
    let url = format!("http://admin:s3cret@127.0.0.1:{}", free_port());
    let text = std::fs::read_to_string(plan).unwrap();
    let source = "source: {kind: simulated, scenario: healthy, seed: 7}";
    assert!(text.contains(source));
    let text = text.replace(
        source,
        &format!(
            "source: {{kind: prometheus, url: \"{url}\", timeout: 1s}}\n  series:\n    \
             error_rate: {{query: \"sum(rate(e[1m]))\", unit: ratio}}\n    \
             p95: {{query: \"p95\", unit: seconds}}\n    memory: {{query: \"m\", unit: ratio}}"
        ),
    );
    std::fs::write(plan, text).unwrap();
    url
}

/// A plan is committed and reviewed, so a password in its Prometheus URL is refused where
/// it stands: every command names the line with the password masked, and nothing runs,
/// records or journals.
#[test]
fn a_password_in_the_prometheus_url_is_refused_and_never_shown_or_recorded() {
    let (dir, plan) = release("healthy");
    with_prometheus_password(&plan);
    let plan_arg = plan.to_str().unwrap();
    let recording = dir.path().join("run.rec");
    for args in [
        &["check", plan_arg][..],
        &[
            "run",
            plan_arg,
            "--headless",
            "--once",
            "--record",
            recording.to_str().unwrap(),
        ][..],
        &["status", plan_arg][..],
        &["journal", plan_arg][..],
    ] {
        let (code, out, err) = run(args);
        let shown = format!("{out}{err}");
        assert_eq!(code, 2, "{args:?} refuses the plan: {shown}");
        assert!(
            !shown.contains("s3cret"),
            "{args:?} shows the password:\n{shown}"
        );
        if args[0] == "check" {
            assert!(
                shown.contains("admin:***@127.0.0.1") && shown.contains("carries credentials"),
                "{shown}"
            );
        }
    }
    assert!(!recording.exists(), "a refused plan records nothing");
    assert!(
        !dir.path().join(".shipdeck/journal.jsonl").exists(),
        "a refused plan journals nothing"
    );
}

#[test]
fn a_password_in_the_unleash_url_is_never_shown() {
    let (_dir, plan) = release("healthy");
    let url = format!("http://admin:s3cret@127.0.0.1:{}", free_port());
    let text = std::fs::read_to_string(&plan).unwrap();
    let text = text.replace(
        "backend: {kind: file, path: flags.yaml}",
        &format!("backend: {{kind: unleash, url: \"{url}\", token_env: SHIPDECK_TEST_TOKEN, environment: production}}"),
    );
    std::fs::write(&plan, text).unwrap();
    let plan_arg = plan.to_str().unwrap();
    for args in [
        &["flags", "list", plan_arg][..],
        &["check", plan_arg, "--no-probe"][..],
        &[
            "flags",
            "eval",
            "new_checkout",
            "--user",
            "u1",
            "--plan",
            plan_arg,
        ][..],
    ] {
        let out = cmd(args)
            .env("SHIPDECK_TEST_TOKEN", "t0ken")
            .output()
            .unwrap();
        let shown = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !shown.contains("s3cret"),
            "{args:?} shows the password:\n{shown}"
        );
    }
    let (code, out, err) = {
        let out = cmd(&["flags", "list", plan_arg])
            .env("SHIPDECK_TEST_TOKEN", "t0ken")
            .output()
            .unwrap();
        crate::support::cli::output(out)
    };
    assert_ne!(code, 0);
    assert!(
        format!("{out}{err}").contains("admin:***@127.0.0.1"),
        "{out}{err}"
    );
}
