//! Notifications end to end: the real binary runs the incident release headless with a
//! Slack-compatible webhook (a real HTTP receiver on loopback) and a deploy log. The
//! events arrive in order with their content; a receiver that fails or hangs is retried,
//! the attempts are journaled, and the rollback still completes on time.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::receiver::Receiver;

/// How the receiver answers.
#[derive(Clone, Copy, PartialEq)]
enum Answer {
    Ok,
    /// HTTP 500 to every post.
    Fail,
    /// Reads the post, then never answers.
    Hang,
}

/// A Slack-compatible incoming webhook on loopback, answering as told.
struct Hook {
    url: String,
    receiver: Receiver,
}

impl Hook {
    async fn start(answer: Answer) -> Hook {
        let receiver = Receiver::start(move |_| match answer {
            Answer::Ok => Some((200, "ok".to_string())),
            Answer::Fail => Some((500, "oops".to_string())),
            Answer::Hang => None,
        })
        .await;
        Hook {
            url: format!("{}/services/T000/B000/XXXX", receiver.base),
            receiver,
        }
    }

    fn posts(&self) -> Vec<serde_json::Value> {
        self.receiver.posts().into_iter().map(|p| p.body).collect()
    }
}

/// The incident fixture with a webhook and a deploy log added.
fn release() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/incident");
    for f in ["plan.yaml", "flags.yaml"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let plan = dir.path().join("plan.yaml");
    let mut text = std::fs::read_to_string(&plan).unwrap();
    text.push_str(
        "\nnotify:\n  - {kind: webhook, url_env: SHIPDECK_TEST_WEBHOOK}\n  - {kind: log, path: deploy.log}\n",
    );
    std::fs::write(&plan, text).unwrap();
    (dir, plan)
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    took: Duration,
}

async fn run_headless(plan: &Path, url: &str, speed: &str) -> Run {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_shipdeck"));
    cmd.args([
        "run",
        plan.to_str().unwrap(),
        "--headless",
        "--speed",
        speed,
    ])
    .env("SHIPDECK_OPERATOR", "tester")
    .env("SHIPDECK_TEST_WEBHOOK", url);
    tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        let out = cmd.output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            took: start.elapsed(),
        }
    })
    .await
    .unwrap()
}

fn text(post: &serde_json::Value) -> &str {
    post["text"].as_str().unwrap_or_default()
}

/// The event kind from the context block: `shipdeck · rollback started · 2026-…`.
fn kind(post: &serde_json::Value) -> String {
    let blocks = post["blocks"].as_array().unwrap();
    let context = blocks.last().unwrap();
    assert_eq!(context["type"], "context", "{post}");
    let line = context["elements"][0]["text"].as_str().unwrap();
    line.split(" · ").nth(1).unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_incident_reaches_the_webhook_and_the_deploy_log_in_order() {
    let receiver = Hook::start(Answer::Ok).await;
    let (dir, plan) = release();
    let r = run_headless(&plan, &receiver.url, "50000").await;
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);

    let posts = receiver.posts();
    let kinds: Vec<String> = posts.iter().map(kind).collect();
    let at = |k: &str| {
        kinds
            .iter()
            .position(|x| x == k)
            .unwrap_or_else(|| panic!("no `{k}` in {kinds:?}"))
    };
    let started = at("rollout started");
    let promoted = at("step promoted");
    let rb = at("rollback started");
    let confirmed = at("rollback confirmed");
    // The guardrail's pause just before the rollback (a stale start may pause earlier too).
    let paused = kinds[..rb]
        .iter()
        .rposition(|k| k == "paused")
        .unwrap_or_else(|| panic!("no pause before the rollback: {kinds:?}"));
    assert_eq!(started, 0, "{kinds:?}");
    assert!(
        promoted < paused && paused < rb && rb < confirmed,
        "{kinds:?}"
    );
    assert_eq!(
        confirmed,
        kinds.len() - 1,
        "nothing after the confirmation: {kinds:?}"
    );

    // Content: a headline in `text` for every client, the same and more in `blocks`.
    for p in &posts {
        assert!(
            text(p).contains("checkout-v2") || text(p).contains("new_checkout"),
            "{p}"
        );
        let first = &p["blocks"][0];
        assert_eq!(first["type"], "section");
        assert_eq!(first["text"]["type"], "mrkdwn");
        assert_eq!(first["text"]["text"].as_str(), Some(text(p)));
    }
    assert!(
        text(&posts[rb]).starts_with(":rotating_light:"),
        "{}",
        posts[rb]
    );
    // The pause and the rollback carry their why: the rule and the metric behind it.
    for i in [paused, rb] {
        let why = posts[i]["blocks"][1]["text"]["text"]
            .as_str()
            .unwrap_or_default();
        assert!(why.starts_with("*Why:*"), "{}", posts[i]);
        assert!(why.contains("error_rate"), "{why}");
        assert!(why.contains("*Rule:*"), "{why}");
    }

    // The deploy log: one line per event, the same events in the same order.
    let log = std::fs::read_to_string(dir.path().join("deploy.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), posts.len(), "{log}");
    for (line, k) in lines.iter().zip(&kinds) {
        assert!(
            line.contains(&format!("checkout-v2 2.5.0 {k}: ")),
            "{line} / {k}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_is_retried_loudly_and_the_rollback_is_not_held_up() {
    let receiver = Hook::start(Answer::Fail).await;
    let (dir, plan) = release();
    let r = run_headless(&plan, &receiver.url, "50000").await;
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(r.took < Duration::from_secs(30), "took {:?}", r.took);

    let posts = receiver.posts();
    let first = posts.first().map(kind);
    assert_eq!(first.as_deref(), Some("rollout started"));
    let started_posts = posts
        .iter()
        .filter(|p| kind(p) == "rollout started")
        .count();
    assert!(
        started_posts >= 2,
        "the first event was retried: {}",
        posts.len()
    );

    let journal = std::fs::read_to_string(dir.path().join(".shipdeck/journal.jsonl")).unwrap();
    let attempts: Vec<serde_json::Value> = journal
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["action"] == "notify")
        .collect();
    assert!(!attempts.is_empty(), "{journal}");
    let reason = attempts[0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("webhook $SHIPDECK_TEST_WEBHOOK: attempt 1/5 retrying \"rollout started\": the receiver answered HTTP 500"),
        "{reason}"
    );
    assert!(
        !journal.contains(&receiver.url),
        "the webhook URL is a secret"
    );
    // The flag is off and the deploy log is complete whatever the webhook does.
    let flags = std::fs::read_to_string(dir.path().join("flags.yaml")).unwrap();
    assert!(flags.contains("enabled: false"), "{flags}");
    let log = std::fs::read_to_string(dir.path().join("deploy.log")).unwrap();
    assert!(
        log.lines().last().unwrap().contains("rollback confirmed"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_does_not_delay_the_rollback() {
    let receiver = Hook::start(Answer::Hang).await;
    let (dir, plan) = release();
    // Slow enough (about 8 s) for a post to time out while the release runs.
    let r = run_headless(&plan, &receiver.url, "1000").await;
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(r.took < Duration::from_secs(25), "took {:?}", r.took);
    assert!(!receiver.posts().is_empty(), "the receiver was reached");
    let journal = std::fs::read_to_string(dir.path().join(".shipdeck/journal.jsonl")).unwrap();
    assert!(
        journal.contains(r#"attempt 1/5 retrying \"rollout started\": no answer within 5s"#),
        "{journal}"
    );
    // The rollback itself went out at once: its decision and the flag's confirmation are
    // journaled before any webhook gave up.
    let rollback = journal
        .find("\"action\":\"rollback\"")
        .unwrap_or_else(|| panic!("{journal}"));
    assert!(!journal[..rollback].contains("gave up"), "{journal}");
    let flags = std::fs::read_to_string(dir.path().join("flags.yaml")).unwrap();
    assert!(flags.contains("enabled: false"), "{flags}");
    let log = std::fs::read_to_string(dir.path().join("deploy.log")).unwrap();
    assert!(
        log.lines().last().unwrap().contains("rollback confirmed"),
        "{log}"
    );
}
