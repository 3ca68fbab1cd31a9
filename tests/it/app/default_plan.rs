//! A command given no PLAN takes `./plan.yaml`; with none there, it says so and how to
//! name one (exit 2), before it opens or writes anything.

use crate::support::cli::{cmd, output, release};

/// Every command that takes a PLAN, with what else it needs to get as far as the plan.
const TAKING_A_PLAN: [&[&str]; 15] = [
    &["open"],
    &["run", "--headless"],
    &["check", "--no-probe"],
    &["status"],
    &["promote"],
    &["pause"],
    &["resume"],
    &["rollback"],
    &["tick", "Check user feedback"],
    &["note", "QA signed off by phone"],
    &["journal", "--markdown"],
    &["notes"],
    &["flags", "list"],
    &[
        "backtest",
        "--from",
        "2026-01-01T00:00:00Z",
        "--to",
        "2026-01-01T01:00:00Z",
    ],
    &["store", "copy", "--to", "postgres"],
];

#[test]
fn without_a_plan_yaml_here_every_command_says_how_to_name_one() {
    let empty = tempfile::tempdir().unwrap();
    for args in TAKING_A_PLAN {
        let (code, stdout, stderr) = output(cmd(args).current_dir(empty.path()).output().unwrap());
        assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
        assert!(
            stderr.contains("no plan.yaml in the current directory"),
            "{args:?}: {stderr}"
        );
        let named = if args[0] == "flags" || args[0] == "store" {
            format!("shipdeck {} {} path/to/plan.yaml", args[0], args[1])
        } else {
            format!("shipdeck {} path/to/plan.yaml", args[0])
        };
        assert!(stderr.contains(&named), "{args:?}: {stderr}");
        assert!(
            std::fs::read_dir(empty.path()).unwrap().next().is_none(),
            "{args:?} wrote into the directory"
        );
    }
}

#[test]
fn a_plan_yaml_here_is_the_plan_when_none_is_named() {
    let (dir, _plan) = release("healthy");
    let here = |args: &[&str]| output(cmd(args).current_dir(dir.path()).output().unwrap());

    let (code, _, stderr) = here(&["tick", "Check user feedback"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(dir.path().join(".shipdeck/state.json").exists());

    let (code, stdout, stderr) = here(&["status", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("\"checkout-v2\""), "{stdout}");

    let (code, _, stderr) = here(&["note", "QA signed off by phone"]);
    assert_eq!(code, 0, "{stderr}");

    let (code, stdout, stderr) = here(&["journal"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Check user feedback"), "{stdout}");
    assert!(stdout.contains("QA signed off by phone"), "{stdout}");

    let (code, stdout, stderr) = here(&["flags", "list", "--users", "10"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("new_checkout in file"), "{stdout}");
}
