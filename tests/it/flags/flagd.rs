//! The flagd flag-definition file backend against real files in temporary folders.

use std::fs;
use std::path::PathBuf;

use proptest::prelude::*;
use serde_json::{Value, json};
use shipdeck::engine::values::{DesiredFlag, FlagState};
use shipdeck::flags::bucket::flagd_bucket_key;
use shipdeck::flags::{FlagBackend, FlagError, FlagdBackend, evaluate_flagd, fractional};
use shipdeck::plan::FlagKind;

/// A definition a team already runs flagd with: a schema, an evaluator, a flag with
/// its own targeting, and keys in an order that is not alphabetical.
const EXISTING: &str = r#"{
  "$schema": "https://flagd.dev/schema/v0/flags.json",
  "flags": {
    "theme": {
      "state": "ENABLED",
      "variants": {"dark": "dark", "light": "light"},
      "defaultVariant": "light",
      "targeting": {"if": [{"ends_with": [{"var": "email"}, "@example.com"]}, "dark", null]}
    },
    "zeta-kill-switch": {"variants": {"on": true, "off": false}, "state": "DISABLED", "defaultVariant": "off"}
  },
  "$evaluators": {"internal": {"ends_with": [{"var": "email"}, "@example.com"]}}
}
"#;

fn desired(enabled: bool, percent: u8, groups: &[&str]) -> DesiredFlag {
    DesiredFlag {
        enabled,
        percent,
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

fn file_with(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flags.flagd.json");
    fs::write(&path, text).unwrap();
    (dir, path)
}

fn json_of(path: &PathBuf) -> Value {
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

/// Object keys in file order, which `Value` equality ignores.
fn keys(value: &Value) -> Vec<String> {
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// The definition flagd reads keeps its owner, group and mode through shipdeck's write,
/// even when shipdeck runs as root.
#[tokio::test]
async fn writing_keeps_the_definitions_owner_group_and_mode() {
    use crate::support::accounts::{NOBODY, as_root, give, owner_and_mode};
    use std::os::unix::fs::PermissionsExt;
    let (_dir, path) = file_with(EXISTING);
    if !as_root("a flagd file owned by another user") {
        return;
    }
    give(&path, NOBODY);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    FlagdBackend::new(path.clone(), "new_checkout".to_string())
        .write(&desired(true, 25, &[]))
        .await
        .unwrap();
    assert_eq!(owner_and_mode(&path), (NOBODY, NOBODY, 0o600));
}

#[tokio::test]
async fn creating_a_flag_keeps_the_other_flags_and_key_order() {
    let (_dir, path) = file_with(EXISTING);
    let before = json_of(&path);
    let mut flags = FlagdBackend::new(path.clone(), "new_checkout".to_string());
    assert_eq!(flags.read().await.unwrap(), None);
    let back = flags
        .write(&desired(true, 25, &["beta-testers"]))
        .await
        .unwrap();
    assert_eq!(
        back,
        FlagState {
            enabled: true,
            rollout: 0.25,
            groups: vec!["beta-testers".into()],
            kind: FlagKind::Release,
        }
    );
    let after = json_of(&path);
    assert_eq!(keys(&after), ["$schema", "flags", "$evaluators"]);
    assert_eq!(
        keys(&after["flags"]),
        ["theme", "zeta-kill-switch", "new_checkout"]
    );
    assert_eq!(after["flags"]["theme"], before["flags"]["theme"]);
    assert_eq!(
        keys(&after["flags"]["zeta-kill-switch"]),
        ["variants", "state", "defaultVariant"]
    );
    assert_eq!(after["$evaluators"], before["$evaluators"]);
    assert_eq!(
        after["flags"]["new_checkout"],
        json!({
            "state": "ENABLED",
            "variants": {"on": true, "off": false},
            "defaultVariant": "off",
            "targeting": {"if": [
                {"in": ["beta-testers", {"var": "groups"}]}, "on",
                {"fractional": [["on", 25], ["off", 75]]}
            ]},
            "metadata": {"kind": "release"}
        })
    );
}

/// A flag deleted from the definition after shipdeck saw it is not put back by the next
/// step (flagd would serve it at whatever shipdeck writes): the write is refused and the
/// file left alone.
#[tokio::test]
async fn a_flag_deleted_outside_is_not_created_again_by_the_next_step() {
    let (_dir, path) = file_with(EXISTING);
    let mut flags =
        FlagdBackend::with_kind(path.clone(), "new_checkout".to_string(), FlagKind::Ops);
    flags.write(&desired(true, 10, &[])).await.unwrap();
    let mut definition = json_of(&path);
    definition["flags"]
        .as_object_mut()
        .unwrap()
        .remove("new_checkout");
    let gone = serde_json::to_string_pretty(&definition).unwrap();
    fs::write(&path, &gone).unwrap();

    let err = flags.write(&desired(true, 100, &[])).await.unwrap_err();
    assert!(matches!(err, FlagError::Vanished { .. }), "{err:?}");
    assert_eq!(fs::read_to_string(&path).unwrap(), gone, "nothing written");
}

#[tokio::test]
async fn promoting_and_rolling_back_read_back_what_was_written() {
    let (_dir, path) = file_with(EXISTING);
    let mut flags =
        FlagdBackend::with_kind(path.clone(), "new_checkout".to_string(), FlagKind::Ops);
    flags.write(&desired(true, 5, &[])).await.unwrap();
    assert_eq!(
        json_of(&path)["flags"]["new_checkout"]["targeting"],
        json!({"fractional": [["on", 5], ["off", 95]]})
    );
    let back = flags
        .write(&desired(true, 50, &["internal", "beta-testers"]))
        .await
        .unwrap();
    assert_eq!(back.percent(), 50);
    assert_eq!(back.groups, ["internal", "beta-testers"]);
    assert_eq!(back.kind, FlagKind::Ops);

    let back = flags.write(&desired(false, 0, &[])).await.unwrap();
    assert!(!back.enabled);
    assert_eq!(back.percent(), 0);
    let entry = &json_of(&path)["flags"]["new_checkout"];
    assert_eq!(entry["state"], "DISABLED");
    assert_eq!(
        entry["targeting"],
        json!({"fractional": [["on", 0], ["off", 100]]})
    );
    assert_eq!(flags.last_seen(), Some(back));
}

#[tokio::test]
async fn the_written_split_matches_flagds_bucketing() {
    let (_dir, path) = file_with(EXISTING);
    let mut flags = FlagdBackend::new(path.clone(), "new_checkout".to_string());
    let state = flags.write(&desired(true, 30, &[])).await.unwrap();
    let rule = &json_of(&path)["flags"]["new_checkout"]["targeting"]["fractional"];
    let weights: Vec<(&str, u32)> = rule
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| (pair[0].as_str().unwrap(), pair[1].as_u64().unwrap() as u32))
        .collect();
    for i in 0..500 {
        let user = format!("user-{i}");
        let chosen = fractional(&flagd_bucket_key("new_checkout", &user), &weights);
        let preview = evaluate_flagd("new_checkout", Some(&state), &user, &[]);
        assert_eq!(chosen == Some("on"), preview.enabled, "{user}");
    }
}

#[tokio::test]
async fn an_outside_edit_to_another_flag_survives() {
    let (_dir, path) = file_with(EXISTING);
    let mut flags = FlagdBackend::new(path.clone(), "new_checkout".to_string());
    flags.write(&desired(true, 5, &[])).await.unwrap();
    let mut edited = json_of(&path);
    edited["flags"]["zeta-kill-switch"]["state"] = json!("ENABLED");
    fs::write(&path, serde_json::to_string(&edited).unwrap()).unwrap();
    assert!(flags.changed_outside().unwrap());

    flags.write(&desired(true, 25, &[])).await.unwrap();
    let after = json_of(&path);
    assert_eq!(after["flags"]["zeta-kill-switch"]["state"], "ENABLED");
    assert_eq!(
        after["flags"]["new_checkout"]["targeting"],
        json!({"fractional": [["on", 25], ["off", 75]]})
    );
    assert!(!flags.changed_outside().unwrap());
}

#[tokio::test]
async fn an_empty_file_becomes_a_definition_with_a_schema() {
    let (_dir, path) = file_with("");
    let mut flags = FlagdBackend::new(path.clone(), "f".to_string());
    flags.write(&desired(false, 0, &[])).await.unwrap();
    let after = json_of(&path);
    assert_eq!(after["$schema"], "https://flagd.dev/schema/v0/flags.json");
    assert_eq!(after["flags"]["f"]["state"], "DISABLED");
}

#[tokio::test]
async fn invalid_json_is_located_and_left_alone() {
    let broken = "{\n  \"flags\": {\n    \"f\": {\"state\": \"ENABLED\",}\n  }\n}\n";
    let (_dir, path) = file_with(broken);
    let mut flags = FlagdBackend::new(path.clone(), "f".to_string());
    let err = flags.write(&desired(false, 0, &[])).await.unwrap_err();
    assert!(matches!(err, FlagError::Invalid { line: 3, .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("{}:3:", path.display())),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), broken);
}

#[tokio::test]
async fn targeting_shipdeck_cannot_read_is_refused_not_overwritten() {
    let (_dir, path) = file_with(EXISTING);
    let mut flags = FlagdBackend::new(path.clone(), "theme".to_string());
    let err = flags.write(&desired(false, 0, &[])).await.unwrap_err();
    assert!(matches!(err, FlagError::Shape { .. }), "{err:?}");
    assert!(err.to_string().contains("flags.theme"), "{err}");
    assert_eq!(fs::read_to_string(&path).unwrap(), EXISTING);
}

#[tokio::test]
async fn a_missing_file_says_how_to_create_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut flags = FlagdBackend::new(dir.path().join("nope.json"), "f".to_string());
    let err = flags.read().await.unwrap_err();
    assert!(matches!(err, FlagError::Missing { .. }), "{err:?}");
    assert!(err.to_string().contains(r#"{"flags": {}}"#), "{err}");
    assert_eq!(
        flags.describe(),
        format!("flagd {}", dir.path().join("nope.json").display())
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_states_round_trip(
        enabled in any::<bool>(),
        percent in 0u8..=100,
        groups in proptest::collection::vec("\\PC{1,10}", 0..4),
    ) {
        let (_dir, path) = file_with(EXISTING);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let mut flags = FlagdBackend::new(path.clone(), "new_checkout".to_string());
        let wanted = DesiredFlag { enabled, percent, groups };
        let back = rt.block_on(flags.write(&wanted)).unwrap();
        prop_assert_eq!(back.enabled, wanted.enabled);
        prop_assert_eq!(back.percent(), wanted.percent);
        prop_assert_eq!(&back.groups, &wanted.groups);
        prop_assert_eq!(rt.block_on(flags.read()).unwrap(), Some(back));
        prop_assert_eq!(&json_of(&path)["flags"]["theme"], &serde_json::from_str::<Value>(EXISTING).unwrap()["flags"]["theme"]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let (_dir, path) = file_with("");
        fs::write(&path, &bytes).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let mut flags = FlagdBackend::new(path.clone(), "f".to_string());
        let _ = rt.block_on(flags.read());
        if rt.block_on(flags.write(&desired(true, 10, &[]))).is_err() {
            prop_assert_eq!(fs::read(&path).unwrap(), bytes);
        }
    }
}
