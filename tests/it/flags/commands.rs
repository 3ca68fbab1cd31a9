//! `shipdeck flags eval` and `shipdeck flags list` as a person runs them: an unknown flag
//! is an error with "did you mean", a verdict names the bucket once, and the preview shows
//! the sample users it was asked for.

use shipdeck::flags::unleash_bucket;

use crate::support::cli::{cmd, output, release};

/// The healthy release with its flag on at 10% and for the `internal` group.
fn at_ten_percent() -> tempfile::TempDir {
    let (dir, _plan) = release("healthy");
    let flags = dir.path().join("flags.yaml");
    let text = std::fs::read_to_string(&flags).unwrap();
    let text = text
        .replacen("enabled: false", "enabled: true", 1)
        .replacen("rollout: 0.0", "rollout: 0.1", 1)
        .replacen("userGroups: []", "userGroups: [internal]", 1);
    std::fs::write(&flags, text).unwrap();
    dir
}

fn here(dir: &tempfile::TempDir, args: &[&str]) -> (i32, String, String) {
    output(cmd(args).current_dir(dir.path()).output().unwrap())
}

#[test]
fn an_unknown_flag_exits_2_with_the_name_it_likely_misspells() {
    let dir = at_ten_percent();
    let (code, stdout, stderr) = here(&dir, &["flags", "eval", "nope", "--user", "bob"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("no flag `nope`"), "{stderr}");

    let (code, _, stderr) = here(&dir, &["flags", "eval", "new_chekout", "--user", "bob"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("did you mean `new_checkout`?"), "{stderr}");

    // Through the plan's backend too.
    let (code, _, stderr) = here(
        &dir,
        &[
            "flags",
            "eval",
            "new_chekout",
            "--user",
            "bob",
            "--plan",
            "plan.yaml",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("did you mean `new_checkout`?"), "{stderr}");
}

#[test]
fn a_verdict_names_the_bucket_once() {
    let dir = at_ten_percent();
    let user = (0..)
        .map(|i| format!("user-{i}"))
        .find(|u| unleash_bucket("new_checkout", u) > 10)
        .unwrap();
    let bucket = unleash_bucket("new_checkout", &user);
    let (code, stdout, stderr) = here(&dir, &["flags", "eval", "new_checkout", "--user", &user]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.trim(),
        format!("new_checkout for {user}: off (bucket {bucket} > rollout 10%)")
    );

    // When something else decides, the bucket still shows, once.
    let (code, stdout, stderr) = here(
        &dir,
        &[
            "flags",
            "eval",
            "new_checkout",
            "--user",
            &user,
            "--groups",
            "internal",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.trim(),
        format!("new_checkout for {user}: ON (in group internal; bucket {bucket})")
    );
}

#[test]
fn flags_list_shows_as_many_sample_users_as_asked() {
    let dir = at_ten_percent();
    let (code, stdout, stderr) = here(&dir, &["flags", "list", "--users", "3"]);
    assert_eq!(code, 0, "{stderr}");
    let samples = stdout
        .lines()
        .find(|l| l.contains("sample buckets:"))
        .unwrap_or_else(|| panic!("no sample buckets in:\n{stdout}"));
    assert_eq!(samples.matches("user-").count(), 3, "{samples}");
    assert!(!samples.contains("user-3"), "{samples}");
}
