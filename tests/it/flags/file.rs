//! The YAML flag file backend against real files in temporary folders.

use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use shipdeck::engine::values::{DesiredFlag, FlagState};
use shipdeck::flags::{FileBackend, FlagBackend, FlagError, list_flags, read_file_flag};
use shipdeck::plan::FlagKind;

/// A flag file as a person keeps it: comments everywhere, blank lines, block and flow
/// flags, keys in their own order, a key shipdeck does not know.
const KEPT: &str = "\
# Feature flags for the shop.
# Owned by payments; ask in #payments before editing.

flags:
  new_checkout:          # trailing comments too
    kind: release
    userGroups:
      - beta-testers     # the usual suspects
      - internal
    enabled: true
    rollout: 0.25
    description: the new checkout flow

  # Ops kill switch, keep it last-but-one.
  search_v2: {enabled: false, rollout: 0.0, userGroups: [], kind: ops}
  dark_mode:
    enabled: true
    rollout: 1.0   # everyone
# end of flags
";

fn desired(enabled: bool, percent: u8, groups: &[&str]) -> DesiredFlag {
    DesiredFlag {
        enabled,
        percent,
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

fn state(enabled: bool, rollout: f64, groups: &[&str], kind: FlagKind) -> FlagState {
    FlagState {
        enabled,
        rollout,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        kind,
    }
}

fn file_with(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flags.yaml");
    fs::write(&path, text).unwrap();
    (dir, path)
}

fn backend(path: &Path, flag: &str) -> FileBackend {
    FileBackend::new(path.to_path_buf(), flag.to_string(), FlagKind::Release)
}

/// A flag file kept for the flag service that reads it: owner, group and mode survive
/// shipdeck's write, even when shipdeck runs as root (a 0600 file of uid 65534 that came
/// back root's would lock the service out).
#[tokio::test]
async fn writing_keeps_the_files_owner_group_and_mode() {
    use crate::support::accounts::{NOBODY, as_root, give, owner_and_mode};
    use std::os::unix::fs::PermissionsExt;
    let (_dir, path) = file_with(KEPT);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    let before = owner_and_mode(&path);
    backend(&path, "new_checkout")
        .write(&desired(true, 50, &["internal"]))
        .await
        .unwrap();
    assert_eq!(owner_and_mode(&path), before);
    if !as_root("a flag file owned by another user") {
        return;
    }
    give(&path, NOBODY);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    backend(&path, "new_checkout")
        .write(&desired(true, 75, &["internal"]))
        .await
        .unwrap();
    assert_eq!(owner_and_mode(&path), (NOBODY, NOBODY, 0o600));
    assert_eq!(
        read_file_flag(&path, "new_checkout")
            .unwrap()
            .map(|s| s.rollout),
        Some(0.75)
    );
}

#[tokio::test]
async fn promoting_changes_only_the_rollout_value() {
    let (_dir, path) = file_with(KEPT);
    let mut flags = backend(&path, "new_checkout");
    let back = flags
        .write(&desired(true, 50, &["beta-testers", "internal"]))
        .await
        .unwrap();
    assert_eq!(
        back,
        state(true, 0.5, &["beta-testers", "internal"], FlagKind::Release)
    );
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        KEPT.replace("    rollout: 0.25\n", "    rollout: 0.5\n")
    );
    assert_eq!(flags.last_seen(), Some(back));
}

#[tokio::test]
async fn changing_groups_writes_a_flow_list_and_keeps_everything_else() {
    let (_dir, path) = file_with(KEPT);
    let mut flags = backend(&path, "new_checkout");
    flags
        .write(&desired(true, 25, &["beta-testers"]))
        .await
        .unwrap();
    let expected = KEPT.replace(
        "    userGroups:\n      - beta-testers     # the usual suspects\n      - internal\n",
        "    userGroups: [beta-testers]\n",
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), expected);
}

#[tokio::test]
async fn flow_style_flags_are_edited_in_place() {
    let (_dir, path) = file_with(KEPT);
    let mut flags = backend(&path, "search_v2");
    let back = flags
        .write(&desired(true, 5, &["beta-testers"]))
        .await
        .unwrap();
    assert_eq!(back, state(true, 0.05, &["beta-testers"], FlagKind::Ops));
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        KEPT.replace(
            "{enabled: false, rollout: 0.0, userGroups: [], kind: ops}",
            "{enabled: true, rollout: 0.05, userGroups: [beta-testers], kind: ops}"
        )
    );
}

#[tokio::test]
async fn missing_keys_are_added_at_the_flags_indentation() {
    let (_dir, path) = file_with(KEPT);
    let mut flags = backend(&path, "dark_mode");
    flags
        .write(&desired(true, 100, &["internal"]))
        .await
        .unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        KEPT.replace(
            "    rollout: 1.0   # everyone\n",
            "    rollout: 1.0   # everyone\n    userGroups: [internal]\n"
        )
    );
}

#[tokio::test]
async fn a_missing_flag_is_created_as_a_new_block() {
    let (_dir, path) = file_with(KEPT);
    let mut flags = FileBackend::new(
        path.clone(),
        "payments.v3".to_string(),
        FlagKind::Experiment,
    );
    assert_eq!(flags.read().await.unwrap(), None);
    let back = flags.write(&desired(false, 0, &[])).await.unwrap();
    assert_eq!(back, state(false, 0.0, &[], FlagKind::Experiment));
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        KEPT.replace(
            "    rollout: 1.0   # everyone\n",
            "    rollout: 1.0   # everyone\n  payments.v3:\n    enabled: false\n    rollout: 0.0\n    userGroups: []\n    kind: experiment\n"
        )
    );
}

/// A flag deleted from the file after shipdeck saw it is an outside change: the next
/// step's write refuses to create it again and leaves the file alone. A rollback still
/// goes through (it creates the flag off), and once the backend has read the flag as
/// missing, a write decided on that (a resume) creates it.
#[tokio::test]
async fn a_flag_deleted_outside_is_not_created_again_by_the_next_step() {
    let text = "flags:\n  new_checkout:\n    enabled: true\n    rollout: 0.05\n    userGroups: []\n  other:\n    enabled: true\n    rollout: 1.0\n";
    let gone = "flags:\n  other:\n    enabled: true\n    rollout: 1.0\n";
    let (_dir, path) = file_with(text);
    let mut flags = backend(&path, "new_checkout");
    assert!(flags.read().await.unwrap().is_some());
    fs::write(&path, gone).unwrap();

    let err = flags.write(&desired(true, 25, &[])).await.unwrap_err();
    assert!(matches!(err, FlagError::Vanished { .. }), "{err:?}");
    assert!(err.to_string().contains("new_checkout"), "{err}");
    assert_eq!(fs::read_to_string(&path).unwrap(), gone, "nothing written");

    // The refusal told what it found: the resume decided on it creates the flag.
    let back = flags.write(&desired(true, 25, &[])).await.unwrap();
    assert_eq!(back.percent(), 25);

    // A rollback is never refused: a flag gone again is created off.
    let mut other = backend(&path, "new_checkout");
    assert!(other.read().await.unwrap().is_some());
    fs::write(&path, gone).unwrap();
    let back = other.write(&desired(false, 0, &[])).await.unwrap();
    assert!(!back.enabled);
}

#[tokio::test]
async fn an_empty_file_gets_a_flags_mapping() {
    let (_dir, path) = file_with("# flags live here\n");
    let mut flags = backend(&path, "new_checkout");
    flags
        .write(&desired(true, 5, &["beta-testers"]))
        .await
        .unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "# flags live here\nflags:\n  new_checkout:\n    enabled: true\n    rollout: 0.05\n    userGroups: [beta-testers]\n    kind: release\n"
    );
}

#[tokio::test]
async fn rolling_back_leaves_the_flag_off_at_zero() {
    let (_dir, path) = file_with(KEPT);
    let mut flags = backend(&path, "new_checkout");
    let back = flags.write(&desired(false, 0, &[])).await.unwrap();
    assert_eq!(back, state(false, 0.0, &[], FlagKind::Release));
    let expected = KEPT
        .replace(
            "    enabled: true\n    rollout: 0.25",
            "    enabled: false\n    rollout: 0.0",
        )
        .replace(
            "    userGroups:\n      - beta-testers     # the usual suspects\n      - internal\n",
            "    userGroups: []\n",
        );
    assert_eq!(fs::read_to_string(&path).unwrap(), expected);
}

#[tokio::test]
async fn an_outside_edit_survives_the_next_write() {
    let (_dir, path) = file_with(KEPT);
    let mut flags = backend(&path, "new_checkout");
    flags.read().await.unwrap();
    assert!(!flags.changed_outside().unwrap());

    // Someone edits another flag and a comment between shipdeck's read and its write.
    let outside = KEPT
        .replace(
            "  search_v2: {enabled: false,",
            "  search_v2: {enabled: true,",
        )
        .replace("# end of flags", "# end of flags (edited by hand)");
    fs::write(&path, &outside).unwrap();
    assert!(flags.changed_outside().unwrap());

    flags
        .write(&desired(true, 50, &["beta-testers", "internal"]))
        .await
        .unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        outside.replace("    rollout: 0.25\n", "    rollout: 0.5\n")
    );
    assert!(!flags.changed_outside().unwrap());
}

#[tokio::test]
async fn an_outside_edit_of_the_same_flag_is_built_on() {
    let (_dir, path) = file_with(KEPT);
    let mut flags = backend(&path, "new_checkout");
    flags.read().await.unwrap();
    // A person turns the flag off by hand; the next write starts from their text.
    fs::write(
        &path,
        KEPT.replace("    enabled: true\n", "    enabled: false\n"),
    )
    .unwrap();
    assert_eq!(
        flags.read().await.unwrap(),
        Some(state(
            false,
            0.25,
            &["beta-testers", "internal"],
            FlagKind::Release
        ))
    );
}

#[tokio::test]
async fn invalid_yaml_is_reported_with_its_location_and_never_overwritten() {
    let broken =
        "# the bracket is never closed\nflags:\n  new_checkout: {enabled: true, rollout: 0.25\n";
    let (_dir, path) = file_with(broken);
    let mut flags = backend(&path, "new_checkout");
    let err = flags.read().await.unwrap_err();
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!("{}:3:17: unclosed bracket", path.display())),
        "{shown}"
    );
    assert!(flags.write(&desired(false, 0, &[])).await.is_err());
    assert_eq!(fs::read_to_string(&path).unwrap(), broken);
}

#[test]
fn rollout_outside_0_to_1_is_an_error_with_its_location() {
    let (_dir, path) = file_with("flags:\n  a:\n    enabled: true\n    rollout: 1.5\n");
    let err = read_file_flag(&path, "a").unwrap_err();
    assert!(
        matches!(
            err,
            FlagError::Invalid {
                line: 4,
                column: 14,
                ..
            }
        ),
        "{err:?}"
    );
    let shown = err.to_string();
    assert!(shown.contains("rollout 1.5"), "{shown}");
    assert!(shown.contains("0.25 for 25%"), "{shown}");
}

#[test]
fn a_missing_file_says_how_to_create_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flags.yaml");
    let err = read_file_flag(&path, "a").unwrap_err();
    assert!(matches!(err, FlagError::Missing { .. }), "{err:?}");
    assert!(err.to_string().contains("echo 'flags: {}'"), "{err}");
}

#[test]
fn list_and_read_give_every_flag_in_file_order() {
    let (_dir, path) = file_with(KEPT);
    let all = list_flags(&path).unwrap();
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["new_checkout", "search_v2", "dark_mode"]);
    assert_eq!(all[1].1, state(false, 0.0, &[], FlagKind::Ops));
    assert_eq!(
        read_file_flag(&path, "dark_mode").unwrap(),
        Some(state(true, 1.0, &[], FlagKind::Release))
    );
    assert_eq!(read_file_flag(&path, "nope").unwrap(), None);
}

#[cfg(unix)]
#[tokio::test]
async fn a_read_only_file_is_refused_and_left_untouched() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, path) = file_with(KEPT);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).unwrap();
    let mut flags = backend(&path, "new_checkout");
    let err = flags.write(&desired(false, 0, &[])).await.unwrap_err();
    assert!(matches!(err, FlagError::ReadOnly { .. }), "{err:?}");
    assert!(err.to_string().contains("chmod u+w"), "{err}");
    assert_eq!(fs::read_to_string(&path).unwrap(), KEPT);
}

#[cfg(unix)]
#[tokio::test]
async fn a_read_only_folder_is_refused_and_the_file_left_untouched() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, path) = file_with(KEPT);
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o555)).unwrap();
    let mut flags = backend(&path, "new_checkout");
    let result = flags.write(&desired(true, 50, &[])).await;
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let err = result.unwrap_err();
    assert!(matches!(err, FlagError::ReadOnly { .. }), "{err:?}");
    assert!(err.to_string().contains("folder"), "{err}");
    assert_eq!(fs::read_to_string(&path).unwrap(), KEPT);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[tokio::test]
async fn anchored_flags_are_refused_rather_than_corrupted() {
    let text = "flags:\n  base: &b {enabled: true, rollout: 0.5}\n  copy: *b\n";
    let (_dir, path) = file_with(text);
    let mut flags = backend(&path, "base");
    let err = flags.write(&desired(false, 0, &[])).await.unwrap_err();
    assert!(
        matches!(err, FlagError::Unsupported { line: 2, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("anchor"), "{err}");
    assert_eq!(fs::read_to_string(&path).unwrap(), text);
}

#[tokio::test]
async fn describe_names_the_file() {
    let flags = backend(Path::new("flags.yaml"), "f");
    assert_eq!(flags.describe(), "file flags.yaml");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn group_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,10}",
        // Names that must be quoted to read back as the same string.
        Just("yes".to_string()),
        Just("123".to_string()),
        Just("qa team".to_string()),
        Just("a: b".to_string()),
        Just("#hash".to_string()),
        "\\PC{1,8}",
    ]
}

fn desired_flag() -> impl Strategy<Value = DesiredFlag> {
    (
        any::<bool>(),
        0u8..=100,
        proptest::collection::vec(group_name(), 0..4),
    )
        .prop_map(|(enabled, percent, groups)| DesiredFlag {
            enabled,
            percent,
            groups,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_states_round_trip_and_leave_the_rest_alone(
        flag in prop_oneof![Just("new_checkout"), Just("search_v2"), Just("dark_mode"), Just("brand-new")],
        steps in proptest::collection::vec(desired_flag(), 1..4),
    ) {
        let (_dir, path) = file_with(KEPT);
        let before = list_flags(&path).unwrap();
        let rt = runtime();
        let mut flags = backend(&path, flag);
        for wanted in &steps {
            let back = rt.block_on(flags.write(wanted)).unwrap();
            prop_assert_eq!(back.enabled, wanted.enabled);
            prop_assert_eq!(back.percent(), wanted.percent);
            prop_assert_eq!(&back.groups, &wanted.groups);
            prop_assert_eq!(read_file_flag(&path, flag).unwrap(), Some(back));
        }
        let after = list_flags(&path).unwrap();
        let others = |all: &[(String, FlagState)]| -> Vec<(String, FlagState)> {
            all.iter().filter(|(n, _)| n != flag).cloned().collect()
        };
        prop_assert_eq!(others(&before), others(&after));
        let text = fs::read_to_string(&path).unwrap();
        prop_assert!(text.starts_with("# Feature flags for the shop.\n"));
        prop_assert!(text.contains("  # Ops kill switch, keep it last-but-one.\n"));
        prop_assert!(text.contains("# end of flags\n"));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flags.yaml");
        fs::write(&path, &bytes).unwrap();
        let _ = read_file_flag(&path, "a");
        let _ = list_flags(&path);
        let mut flags = backend(&path, "a");
        if let Ok(back) = runtime().block_on(flags.write(&desired(true, 30, &["g"]))) {
            let kind = back.kind;
            prop_assert_eq!(back, state(true, 0.3, &["g"], kind));
        } else {
            prop_assert_eq!(fs::read(&path).unwrap(), bytes);
        }
    }

    #[test]
    fn damaged_flag_files_never_panic_and_are_never_made_worse(
        cut in 0usize..KEPT.len(),
        len in 0usize..12,
        insert in "[ :#\\-\\[\\]{}&*!|>,\\n\"'a-z0-9]{0,6}",
    ) {
        let end = (cut + len).min(KEPT.len());
        let text = format!("{}{}{}", &KEPT[..cut], insert, &KEPT[end..]);
        let (_dir, path) = file_with(&text);
        let readable = list_flags(&path).is_ok();
        let mut flags = backend(&path, "new_checkout");
        match runtime().block_on(flags.write(&desired(true, 75, &["internal"]))) {
            Ok(back) => {
                prop_assert!(readable);
                prop_assert_eq!(&back.groups, &vec!["internal".to_string()]);
                prop_assert_eq!(read_file_flag(&path, "new_checkout").unwrap(), Some(back));
            }
            Err(_) => prop_assert_eq!(fs::read_to_string(&path).unwrap(), text),
        }
    }
}
