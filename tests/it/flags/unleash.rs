//! The Unleash backend against a real Unleash (`support::unleash`): rollout, kill
//! switch and groups as SDKs see them, errors that say how to fix things, outside
//! changes, `flags eval` against Unleash's own playground, and a rollback through an
//! Unleash that goes dead meanwhile, with the real binary running headless.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::unleash::{Relay, Unleash, shared};
use reqwest::Method;
use serde_json::{Value, json};
use shipdeck::engine::values::DesiredFlag;
use shipdeck::flags::{FlagBackend, FlagError, UnleashBackend};
use shipdeck::metrics::Secret;
use shipdeck::plan::FlagKind;

/// The env var the plans of these tests name for the admin token.
const TOKEN_ENV: &str = "SHIPDECK_TEST_UNLEASH_TOKEN";

fn backend(u: &Unleash, flag: &str, create: bool) -> UnleashBackend {
    backend_at(u, &u.url(), "default", u.environment, flag, create)
}

fn backend_at(
    u: &Unleash,
    url: &str,
    project: &str,
    environment: &str,
    flag: &str,
    create: bool,
) -> UnleashBackend {
    UnleashBackend::new(
        url,
        Secret::new(TOKEN_ENV, u.admin_token.clone()),
        project,
        environment,
        flag.to_string(),
        FlagKind::Release,
    )
    .unwrap()
    .creating(create)
}

fn want(enabled: bool, percent: u8, groups: &[&str]) -> DesiredFlag {
    DesiredFlag {
        enabled,
        percent,
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

/// Polls `/api/client/features` until `ok` holds for the flag; the time it took.
async fn visible_to_clients(u: &Unleash, flag: &str, ok: impl Fn(&Value) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if let Some(f) = u.client_feature(flag).await
            && ok(&f)
        {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "never visible to clients: {:?}",
            u.client_feature(flag).await
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn rollout_of(feature: &Value) -> Option<String> {
    feature["strategies"]
        .as_array()?
        .iter()
        .find(|s| s["constraints"].as_array().is_some_and(|c| c.is_empty()))
        .map(|s| s["parameters"]["rollout"].to_string().replace('"', ""))
}

fn groups_of(feature: &Value) -> Option<Value> {
    feature["strategies"].as_array()?.iter().find_map(|s| {
        let c = s["constraints"].as_array()?.first()?;
        (c["contextName"] == "groups").then(|| {
            assert_eq!(c["operator"], "IN");
            assert_eq!(
                s["parameters"]["rollout"].to_string().replace('"', ""),
                "100"
            );
            c["values"].clone()
        })
    })
}

#[tokio::test]
async fn rollout_kill_switch_and_groups_reach_clients_within_a_second() {
    let Some(u) = shared() else { return };
    let mut b = backend(u, "visible_flag", true);
    assert_eq!(b.read().await.unwrap(), None);

    let state = b.write(&want(true, 25, &[])).await.unwrap();
    assert!(state.enabled);
    assert_eq!(state.percent(), 25);
    let took = visible_to_clients(u, "visible_flag", |f| {
        f["enabled"] == true && rollout_of(f).as_deref() == Some("25")
    })
    .await;
    assert!(took < Duration::from_secs(1), "rollout took {took:?}");

    let state = b
        .write(&want(true, 50, &["internal", "beta-testers"]))
        .await
        .unwrap();
    assert_eq!(state.groups, ["internal", "beta-testers"]);
    let took = visible_to_clients(u, "visible_flag", |f| {
        rollout_of(f).as_deref() == Some("50")
            && groups_of(f) == Some(json!(["internal", "beta-testers"]))
    })
    .await;
    assert!(took < Duration::from_secs(1), "groups took {took:?}");

    // The kill switch: off in one call, read back, and seen by clients.
    let state = b.write(&want(false, 0, &[])).await.unwrap();
    assert!(!state.enabled);
    let took = visible_to_clients(u, "visible_flag", |f| f["enabled"] == false).await;
    assert!(took < Duration::from_secs(1), "kill switch took {took:?}");
    let (_, env) = u
        .admin(
            Method::GET,
            "/api/admin/projects/default/features/visible_flag/environments/development",
            None,
        )
        .await;
    assert_eq!(env["enabled"], false);
    // Groups gone with the rollback's second write; the rollout strategy stays, at 0.
    assert_eq!(env["strategies"].as_array().unwrap().len(), 1, "{env}");

    let state = b.write(&want(true, 5, &["beta-testers"])).await.unwrap();
    assert_eq!((state.enabled, state.percent()), (true, 5));
    let took = visible_to_clients(u, "visible_flag", |f| {
        f["enabled"] == true && rollout_of(f).as_deref() == Some("5")
    })
    .await;
    assert!(
        took < Duration::from_secs(1),
        "kill switch on took {took:?}"
    );
}

#[tokio::test]
async fn a_created_flag_has_the_plans_kind_and_shipdecks_strategy() {
    let Some(u) = shared() else { return };
    let mut b = UnleashBackend::new(
        &format!("{}/api/", u.url()),
        Secret::new(TOKEN_ENV, u.admin_token.clone()),
        "default",
        u.environment,
        "created_experiment".into(),
        FlagKind::Experiment,
    )
    .unwrap()
    .creating(true);
    let state = b.write(&want(false, 0, &[])).await.unwrap();
    assert!(!state.enabled);
    assert_eq!(state.kind, FlagKind::Experiment);
    let (status, feature) = u
        .admin(
            Method::GET,
            "/api/admin/projects/default/features/created_experiment",
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(feature["type"], "experiment");
    let env = feature["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == u.environment)
        .unwrap();
    let strategy = &env["strategies"][0];
    assert_eq!(strategy["name"], "flexibleRollout");
    assert_eq!(strategy["title"], "shipdeck rollout");
    assert_eq!(strategy["parameters"]["groupId"], "created_experiment");
    assert_eq!(strategy["parameters"]["stickiness"], "default");
}

#[tokio::test]
async fn missing_things_are_errors_that_say_how_to_create_them() {
    let Some(u) = shared() else { return };

    // No flag, create off: reading says "none", writing says how to create it.
    let mut b = backend(u, "never_created", false);
    assert_eq!(b.read().await.unwrap(), None);
    let err = b.write(&want(true, 5, &[])).await.unwrap_err().to_string();
    assert!(
        err.contains("flag `never_created` does not exist in project `default`"),
        "{err}"
    );
    assert!(err.contains("create: true"), "{err}");
    let (status, _) = u
        .admin(
            Method::GET,
            "/api/admin/projects/default/features/never_created",
            None,
        )
        .await;
    assert_eq!(status, 404, "nothing was created");

    // A flag with no strategy: the error names the strategy to add.
    let (status, body) = u
        .admin(
            Method::POST,
            "/api/admin/projects/default/features",
            Some(json!({"name": "bare_flag", "type": "release"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut b = backend(u, "bare_flag", false);
    let state = b.read().await.unwrap().unwrap();
    assert!(!state.enabled);
    let err = b.write(&want(true, 5, &[])).await.unwrap_err().to_string();
    assert!(err.contains("no gradual rollout strategy"), "{err}");
    assert!(err.contains("flexibleRollout"), "{err}");

    // A project or environment that is not there.
    let mut b = backend_at(u, &u.url(), "nope", u.environment, "x", true);
    let err = b.read().await.unwrap_err().to_string();
    assert!(err.contains("project `nope` does not exist"), "{err}");
    assert!(err.contains("projects there: default"), "{err}");
    let mut b = backend_at(u, &u.url(), "default", "staging", "bare_flag", true);
    let err = b.read().await.unwrap_err().to_string();
    assert!(
        err.contains("environment `staging` does not exist"),
        "{err}"
    );
    assert!(err.contains("development"), "{err}");

    // A token Unleash refuses: said so, the variable named, the token never shown.
    let mut b = UnleashBackend::new(
        &u.url(),
        Secret::new(TOKEN_ENV, u.client_token.clone()),
        "default",
        u.environment,
        "bare_flag".into(),
        FlagKind::Release,
    )
    .unwrap();
    let err = b.read().await.unwrap_err().to_string();
    assert!(
        err.contains(&format!("the token in `{TOKEN_ENV}` was refused")),
        "{err}"
    );
    assert!(!err.contains(&u.client_token), "{err}");
    assert!(!err.contains("shipdeck-client"), "{err}");
}

#[tokio::test]
async fn a_rollout_set_outside_shipdeck_is_read_and_not_written_over() {
    let Some(u) = shared() else { return };
    let mut b = backend(u, "outside_flag", true);
    b.write(&want(true, 25, &[])).await.unwrap();

    // Someone sets 80% by hand in Unleash.
    let path = "/api/admin/projects/default/features/outside_flag/environments/development";
    let (_, env) = u.admin(Method::GET, path, None).await;
    let strategy = env["strategies"][0].clone();
    let id = strategy["id"].as_str().unwrap();
    let mut by_hand = json!({"name": "flexibleRollout", "constraints": [],
        "parameters": {"rollout": "80", "stickiness": "default", "groupId": "outside_flag"}});
    let (status, body) = u
        .admin(
            Method::PUT,
            &format!("{path}/strategies/{id}"),
            Some(by_hand.clone()),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // A change decided before shipdeck saw that is refused, and 80% stays.
    match b.write(&want(true, 50, &[])).await {
        Err(FlagError::ChangedOutside { found, .. }) => assert_eq!(found.percent(), 80),
        other => panic!("expected ChangedOutside, got {other:?}"),
    }
    let (_, env) = u.admin(Method::GET, path, None).await;
    assert_eq!(env["strategies"][0]["parameters"]["rollout"], "80", "{env}");

    // A rollback goes through whatever happened meanwhile.
    by_hand["parameters"]["rollout"] = json!("90");
    u.admin(
        Method::PUT,
        &format!("{path}/strategies/{id}"),
        Some(by_hand.clone()),
    )
    .await;
    assert!(!b.write(&want(false, 0, &[])).await.unwrap().enabled);

    // Unleash takes 150%; shipdeck reads it as the mistake it is.
    by_hand["parameters"]["rollout"] = json!("150");
    u.admin(
        Method::PUT,
        &format!("{path}/strategies/{id}"),
        Some(by_hand),
    )
    .await;
    let err = b.read().await.unwrap_err().to_string();
    assert!(err.contains("`150`, outside 0..=100"), "{err}");
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shipdeck"));
    c.env("SHIPDECK_OPERATOR", "tester").env_remove("CI");
    c
}

fn write_plan(dir: &Path, flag: &str, url: &str) -> std::path::PathBuf {
    let plan = dir.join("plan.yaml");
    std::fs::write(
        &plan,
        format!(
            "release: {{name: {flag}, version: 1.0.0, strategy: flag}}\n\
             pipeline:\n  - {{name: CI, status: passed}}\n  - {{name: Prod}}\n\
             flag:\n  name: {flag}\n  backend: {{kind: unleash, url: '{url}', token_env: {TOKEN_ENV}, \
             project: default, environment: development, create: true}}\n\
             rollout:\n  steps:\n    - {{name: Beta, percent: 5, groups: [beta-testers], bake: 1d}}\n\
             \x20   - {{name: Full, percent: 100, bake: 1d}}\n\
             metrics:\n  source: {{kind: simulated, scenario: healthy, seed: 7}}\n  interval: 15s\n\
             checklists:\n  pre_release: []\n"
        ),
    )
    .unwrap();
    plan
}

#[tokio::test]
async fn flags_eval_agrees_with_the_unleash_playground_for_100_users() {
    let Some(u) = shared() else { return };
    let mut b = backend(u, "eval_flag", true);
    b.write(&want(true, 25, &["internal"])).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), "eval_flag", &u.url());

    let mut enabled = 0;
    for i in 0..100 {
        let user = format!("user-{i}");
        let out = bin()
            .env(TOKEN_ENV, &u.admin_token)
            .args([
                "flags",
                "eval",
                "eval_flag",
                "--user",
                &user,
                "--json",
                "--plan",
            ])
            .arg(&plan)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ours: Value = serde_json::from_slice(&out.stdout).unwrap();
        let (status, answer) = u
            .admin(
                Method::POST,
                "/api/admin/playground",
                Some(
                    json!({"environment": "development", "projects": ["default"],
                            "context": {"appName": "shipdeck-tests", "userId": user}}),
                ),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        let theirs = answer["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "eval_flag")
            .unwrap()["isEnabled"]
            .clone();
        assert_eq!(ours["enabled"], theirs, "{user}: shipdeck says {ours}");
        enabled += usize::from(theirs == true);
    }
    assert!((10..=40).contains(&enabled), "{enabled} of 100 at 25%");

    // A member of a listed group is in whatever the bucket says.
    let out = bin()
        .env(TOKEN_ENV, &u.admin_token)
        .args([
            "flags",
            "eval",
            "eval_flag",
            "--user",
            "user-7",
            "--groups",
            "internal",
            "--json",
            "--plan",
        ])
        .arg(&plan)
        .output()
        .unwrap();
    let ours: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (_, answer) = u
        .admin(
            Method::POST,
            "/api/admin/playground",
            Some(
                json!({"environment": "development", "projects": ["default"],
                        "context": {"appName": "shipdeck-tests", "userId": "user-7",
                                    "properties": {"groups": "internal"}}}),
            ),
        )
        .await;
    let theirs = answer["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "eval_flag")
        .unwrap()["isEnabled"]
        .clone();
    assert_eq!(theirs, true, "{answer}");
    assert_eq!(ours["enabled"], true, "{ours}");

    // `flags list` shows the flag where it lives and buckets the steps the same way.
    let out = bin()
        .env(TOKEN_ENV, &u.admin_token)
        .args(["flags", "list"])
        .arg(&plan)
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        shown.contains("eval_flag in unleash http://127.0.0.1:"),
        "{shown}"
    );
    assert!(shown.contains("on 25% +[internal]"), "{shown}");
    assert!(shown.contains("murmur3(\"eval_flag:<user>\")"), "{shown}");
    assert!(!shown.contains(&u.admin_token), "{shown}");
}

fn journal(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(".shipdeck").join("journal.jsonl")).unwrap_or_default()
}

fn phase(plan: &Path, token: &str) -> Value {
    let out = bin()
        .env(TOKEN_ENV, token)
        .args(["status", "--json"])
        .arg(plan)
        .output()
        .unwrap();
    let status: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    status["progress"]["phase"].clone()
}

#[tokio::test]
async fn a_rollback_through_a_dead_unleash_is_retried_until_unleash_confirms() {
    let Some(u) = shared() else { return };
    let relay = Relay::start(u.port);
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), "dead_rollback", &relay.url());
    let mut run = bin()
        .env(TOKEN_ENV, &u.admin_token)
        .args(["run", "--headless", "--json"])
        .arg(&plan)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The first step goes live in Unleash.
    let took = visible_to_clients(u, "dead_rollback", |f| {
        f["enabled"] == true && rollout_of(f).as_deref() == Some("5")
    });
    let took = tokio::time::timeout(Duration::from_secs(30), took).await;
    assert!(took.is_ok(), "the first step never reached Unleash");

    // Unleash goes dead (to shipdeck), and the incident commander rolls back.
    relay.set_down(true);
    let out = bin()
        .env(TOKEN_ENV, &u.admin_token)
        .args(["rollback", "--reason", "critical bug"])
        .arg(&plan)
        .output()
        .unwrap();
    // The holder took the rollback, but Unleash never confirmed it: that is what the
    // command says, with exit 4, and it claims no success.
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(4), "rollback: {said}");
    assert!(
        said.contains("the flag is not yet confirmed off") && !said.contains("rolled back"),
        "rollback: {said}"
    );

    // Retried with backoff, journaled, and RollingBack, not RolledBack, all the while.
    let start = Instant::now();
    while !journal(dir.path()).contains("attempt 3") {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no third attempt:\n{}",
            journal(dir.path())
        );
        assert_eq!(phase(&plan, &u.admin_token)["state"], "rolling_back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(phase(&plan, &u.admin_token)["state"], "rolling_back");
    let f = u.client_feature("dead_rollback").await.unwrap();
    assert_eq!(
        f["enabled"], true,
        "Unleash itself never heard of the rollback"
    );

    // Unleash is back: the next attempt lands, is read back, and the run ends rolled back.
    relay.set_down(false);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the run did not end after Unleash came back:\n{}",
            journal(dir.path())
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(run.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(3), "{stderr}");
    // What SDKs read lags the admin write by Unleash's client cache; allow it a moment.
    let start = Instant::now();
    loop {
        let f = u.client_feature("dead_rollback").await.unwrap();
        if f["enabled"] == false {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "clients still see it on: {f}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let journal = journal(dir.path());
    for needed in [
        "write failed (attempt 1)",
        "write failed (attempt 2)",
        "rolled back",
        "critical bug",
    ] {
        assert!(
            journal.contains(needed),
            "`{needed}` missing from:\n{journal}"
        );
    }
    assert!(
        !journal.contains(&u.admin_token),
        "the token leaked into the journal"
    );
    assert_eq!(phase(&plan, &u.admin_token)["state"], "rolled_back");
}
