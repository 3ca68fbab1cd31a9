//! The screen without a terminal (a pipe, cron, CI): it says what to run instead, exits
//! 2, and writes no escape code, before it opens the release.

use std::process::Stdio;

use crate::support::cli::{cmd, output, release};

#[test]
fn the_screen_without_a_terminal_says_to_run_headless_and_writes_no_escape_code() {
    let (dir, plan) = release("healthy");
    let plan_arg = plan.to_str().unwrap();
    for args in [&[][..], &["demo"][..], &["open", plan_arg][..]] {
        let out = cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let (code, stdout, stderr) = output(out);
        assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
        assert!(
            stderr.contains("the screen needs a terminal; use `shipdeck run PLAN --headless`"),
            "{args:?}: {stderr}"
        );
        assert!(!stdout.contains('\x1b'), "{args:?}: {stdout:?}");
        assert!(!stderr.contains('\x1b'), "{args:?}: {stderr:?}");
    }
    assert!(
        !dir.path().join(".shipdeck").exists(),
        "open without a terminal opened the release"
    );
}
