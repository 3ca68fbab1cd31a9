//! The flagd files shipdeck writes, evaluated by flagd's own evaluator (the npm
//! `@openfeature/flagd-core` package, run by `tests/js/flagd-eval.mjs`): every step's
//! share of 1,000 users within sampling error, the same users as shipdeck's own flagd
//! bucketing, group members always in, a disabled flag off for all — and `shipdeck flags
//! eval --plan` on a flagd plan agreeing user by user.
//!
//! Missing tools: with `CI` set the test fails and names the installer
//! (`scripts/deps/flagd-core.sh`); elsewhere it prints "skipping: ..." and returns.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use shipdeck::engine::values::{DesiredFlag, FlagState};
use shipdeck::flags::{FlagBackend, FlagdBackend, evaluate_flagd};

const USERS: usize = 1000;
const FLAG: &str = "new-profile";

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// `(node, flagd-core's install folder)`, or the CI rule applied: `None` means skip.
fn flagd_core() -> Option<(PathBuf, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/flagd-core");
    let installed = dir
        .join("node_modules/@openfeature/flagd-core/package.json")
        .is_file();
    match (which("node"), installed) {
        (Some(node), true) => return Some((node, dir)),
        _ if std::env::var_os("CI").is_some() => panic!(
            "node or @openfeature/flagd-core missing and CI is set; run scripts/deps/flagd-core.sh"
        ),
        _ => eprintln!("skipping: node or flagd-core not installed (scripts/deps/flagd-core.sh)"),
    }
    None
}

/// What flagd-core resolves for `user-0 .. user-(USERS-1)`, each in `group` when given.
fn flagd_values(
    tools: &(PathBuf, PathBuf),
    file: &Path,
    group: Option<&str>,
) -> (Vec<bool>, Value) {
    let (node, dir) = tools;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js/flagd-eval.mjs");
    let mut command = Command::new(node);
    command
        .arg(script)
        .arg(file)
        .arg(FLAG)
        .arg(USERS.to_string())
        .env("FLAGD_CORE_DIR", dir);
    if let Some(group) = group {
        command.arg(group);
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "flagd-eval.mjs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    let values = answer["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_bool().unwrap())
        .collect();
    (values, answer["reasons"].clone())
}

async fn write(
    backend: &mut FlagdBackend,
    enabled: bool,
    percent: u8,
    groups: &[&str],
) -> FlagState {
    let desired = DesiredFlag {
        enabled,
        percent,
        groups: groups.iter().map(|g| g.to_string()).collect(),
    };
    backend.write(&desired).await.unwrap()
}

/// Four standard deviations of a binomial count, plus one for rounding.
fn sampling_error(percent: u8) -> f64 {
    let p = f64::from(percent) / 100.0;
    4.0 * (USERS as f64 * p * (1.0 - p)).sqrt() + 1.0
}

#[tokio::test]
async fn every_step_evaluates_as_intended_in_flagd() {
    let Some(tools) = flagd_core() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flags.flagd.json");
    std::fs::write(&file, "{\"flags\": {}}\n").unwrap();
    let mut backend = FlagdBackend::new(file.clone(), FLAG.into());

    for (percent, groups) in [
        (0u8, vec!["internal"]),
        (5, vec!["beta-testers"]),
        (25, vec![]),
        (50, vec![]),
        (100, vec![]),
    ] {
        let state = write(&mut backend, true, percent, &groups).await;
        let (values, reasons) = flagd_values(&tools, &file, None);
        let on = values.iter().filter(|v| **v).count();
        let expected = f64::from(percent) / 100.0 * USERS as f64;
        assert!(
            (on as f64 - expected).abs() <= sampling_error(percent),
            "{percent}%: flagd turned it on for {on} of {USERS} ({reasons})"
        );
        // Not only the share: the very users shipdeck's preview names.
        for (i, value) in values.iter().enumerate() {
            let user = format!("user-{i}");
            let ours = evaluate_flagd(FLAG, Some(&state), &user, &[]);
            assert_eq!(
                ours.enabled, *value,
                "{percent}%: {user} (bucket {})",
                ours.bucket
            );
        }
        // Members of the step's groups always get it; others are bucketed as before.
        for group in &groups {
            let (values, _) = flagd_values(&tools, &file, Some(group));
            assert!(
                values.iter().all(|v| *v),
                "{percent}%: a member of {group} was left out"
            );
        }
        let (outsiders, _) = flagd_values(&tools, &file, Some("nobody-group"));
        assert_eq!(outsiders.iter().filter(|v| **v).count(), on, "{percent}%");
    }

    // Rolled back: off for everyone, group members too.
    write(&mut backend, false, 0, &[]).await;
    let (values, reasons) = flagd_values(&tools, &file, Some("beta-testers"));
    assert!(values.iter().all(|v| !*v), "{reasons}");
    assert_eq!(reasons["DISABLED"], USERS, "{reasons}");
}

#[tokio::test]
async fn flags_eval_on_a_flagd_plan_uses_flagds_buckets() {
    let Some(tools) = flagd_core() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flags.flagd.json");
    std::fs::write(&file, "{\"flags\": {}}\n").unwrap();
    let mut backend = FlagdBackend::new(file.clone(), FLAG.into());
    write(&mut backend, true, 30, &[]).await;
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        format!(
            "release: {{name: profile-page, version: 1.10.0, strategy: rolling}}\n\
             flag: {{name: {FLAG}, kind: experiment, backend: {{kind: flagd, path: flags.flagd.json}}}}\n\
             rollout:\n  steps:\n    - {{name: Thirty, percent: 30, bake: 30m}}\n"
        ),
    )
    .unwrap();
    let (values, _) = flagd_values(&tools, &file, None);
    let mut disagreements_with_unleash_buckets = 0;
    for (i, value) in values.iter().enumerate().take(40) {
        let user = format!("user-{i}");
        let out = Command::new(env!("CARGO_BIN_EXE_shipdeck"))
            .args(["flags", "eval", FLAG, "--user", &user, "--json", "--plan"])
            .arg(&plan)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ours: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(ours["enabled"], *value, "{user}: {ours}");
        let unleash_style = shipdeck::flags::unleash_bucket(FLAG, &user) <= 30;
        disagreements_with_unleash_buckets += usize::from(unleash_style != *value);
    }
    // The two bucketings pick different users, so reading a flagd plan with Unleash's
    // buckets would have been wrong for some of these.
    assert!(disagreements_with_unleash_buckets > 0);

    let out = Command::new(env!("CARGO_BIN_EXE_shipdeck"))
        .args(["flags", "list"])
        .arg(&plan)
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("new-profile in flagd"), "{shown}");
    assert!(shown.contains("on 30% [release]"), "{shown}");
    assert!(shown.contains("flagd fractional"), "{shown}");
    let on = values.iter().filter(|v| **v).count();
    assert!(shown.contains(&format!("now: {on} of 1000")), "{shown}");
}
