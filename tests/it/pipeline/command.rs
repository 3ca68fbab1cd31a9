//! Stage commands as real processes: ones that pass, fail, hang (killed at their timeout
//! with what they started), print a great deal (only the tail kept), or cannot start.

use std::path::Path;
use std::time::{Duration, Instant};

use shipdeck::pipeline::command::{self, End, TAIL_LINES, Tail};

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

async fn run(words: &[&str], timeout: Duration) -> (command::Outcome, Tail) {
    let mut tail = Tail::default();
    let outcome = command::run(&argv(words), timeout, Path::new("."), |l| tail.push(l)).await;
    (outcome, tail)
}

#[tokio::test]
async fn exit_zero_passes_and_the_output_is_kept_in_order() {
    let (o, tail) = run(
        &["sh", "-c", "echo one; echo two >&2; sleep 0.05; echo three"],
        Duration::from_secs(10),
    )
    .await;
    assert!(o.passed(), "{o:?}");
    assert_eq!(o.end, End::Exited(0));
    assert!(o.describe().starts_with("passed in "), "{}", o.describe());
    let lines: Vec<&str> = tail.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2], "three");
    assert!(lines.contains(&"two"), "stderr is kept too: {lines:?}");
}

#[tokio::test]
async fn a_non_zero_exit_fails_with_its_code() {
    let (o, tail) = run(
        &["sh", "-c", "echo 'test checkout ... FAILED'; exit 3"],
        Duration::from_secs(10),
    )
    .await;
    assert!(!o.passed());
    assert_eq!(o.end, End::Exited(3));
    assert!(
        o.describe().starts_with("exit code 3 after "),
        "{}",
        o.describe()
    );
    assert_eq!(tail.last(), Some("test checkout ... FAILED"));
}

#[tokio::test]
async fn the_why_of_a_failure_ends_with_its_last_output_line() {
    let (ok, why) = shipdeck::pipeline::run_and_explain(
        &argv(&[
            "sh",
            "-c",
            "echo compiling; echo 'error: 2 tests failed'; echo; exit 101",
        ]),
        Duration::from_secs(10),
        Path::new("."),
        |_| {},
    )
    .await;
    assert!(!ok);
    assert!(why.starts_with("exit code 101 after "), "{why}");
    assert!(why.ends_with(": error: 2 tests failed"), "{why}");
}

#[tokio::test]
async fn a_hanging_command_is_killed_at_its_timeout_with_what_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("grandchild.pid");
    let script = format!("sleep 30 & echo $! > {}; wait", marker.display());
    let started = Instant::now();
    let (o, _) = run(&["sh", "-c", &script], Duration::from_millis(400)).await;
    let took = started.elapsed();
    assert_eq!(o.end, End::TimedOut(Duration::from_millis(400)));
    assert!(!o.passed());
    assert_eq!(o.describe(), "still running at its 400ms timeout; killed");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    // The grandchild shared the process group and is gone too.
    let pid = std::fs::read_to_string(&marker).unwrap();
    let pid = pid.trim();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false);
        if !alive {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "grandchild {pid} outlived the timeout"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_command_that_leaves_a_process_behind_still_finishes() {
    // The background sleep keeps stdout open; the run must not wait for it.
    let started = Instant::now();
    let (o, tail) = run(
        &["sh", "-c", "sleep 6 & echo launched; exit 0"],
        Duration::from_secs(30),
    )
    .await;
    assert!(o.passed(), "{o:?}");
    assert_eq!(tail.last(), Some("launched"));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_flood_of_output_keeps_only_the_tail() {
    let (o, tail) = run(&["seq", "1", "300000"], Duration::from_secs(60)).await;
    assert!(o.passed(), "{o:?}");
    assert_eq!(tail.total(), 300_000);
    let lines: Vec<&str> = tail.lines().collect();
    assert_eq!(lines.len(), TAIL_LINES);
    assert_eq!(lines[0], (300_000 - TAIL_LINES + 1).to_string());
    assert_eq!(lines[TAIL_LINES - 1], "300000");
}

#[tokio::test]
async fn one_endless_line_is_held_to_a_bounded_size() {
    // 8 MB without a newline: the kept line is cut, not the whole stream.
    let (o, tail) = run(
        &[
            "sh",
            "-c",
            "head -c 8000000 /dev/zero | tr '\\0' x; echo; echo end",
        ],
        Duration::from_secs(60),
    )
    .await;
    assert!(o.passed(), "{o:?}");
    let lines: Vec<&str> = tail.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].len() < 4096, "{}", lines[0].len());
    assert!(lines[0].ends_with('…'));
    assert_eq!(lines[1], "end");
}

#[tokio::test]
async fn a_missing_program_says_so() {
    let (o, tail) = run(&["shipdeck-no-such-tool", "--x"], Duration::from_secs(5)).await;
    assert!(!o.passed());
    match &o.end {
        End::NotStarted(why) => {
            assert!(why.contains("cannot run `shipdeck-no-such-tool`"), "{why}");
            assert!(why.contains("on PATH"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(tail.total(), 0);
}

#[tokio::test]
async fn commands_get_no_shell() {
    // A shell would expand `$HOME` and run the second command.
    let (o, tail) = run(&["echo", "$HOME; echo injected"], Duration::from_secs(5)).await;
    assert!(o.passed());
    assert_eq!(tail.last(), Some("$HOME; echo injected"));
    assert_eq!(tail.total(), 1);
}
