//! Slack's Web API, a JSON webhook and PagerDuty's Events API v2 as the real binary
//! speaks to them: one receiver on loopback stands in for all three, checks each request
//! against the shape its service documents, and answers as that service does (a
//! malformed PagerDuty event gets PagerDuty's 400). The incident release rolls back; the
//! healthy one completes.

use std::path::{Path, PathBuf};

use crate::support::receiver::{Answer, Post, Receiver};

const SLACK: &str = "/api/chat.postMessage";
const HOOK: &str = "/hooks/deploys";
const PAGERDUTY: &str = "/v2/enqueue";
/// PagerDuty integration keys are 32 characters.
const ROUTING_KEY: &str = "R0UTINGKEY0123456789abcdefABCDEF";
const TOKEN: &str = "xoxb-test-token";
const THREAD: &str = "1700000000.000100";

/// What PagerDuty's Events API v2 documents for an event; each problem it would refuse.
fn pagerduty_problems(e: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    let allowed = [
        "routing_key",
        "event_action",
        "dedup_key",
        "payload",
        "images",
        "links",
        "client",
        "client_url",
    ];
    for key in e.as_object().into_iter().flat_map(|o| o.keys()) {
        if !allowed.contains(&key.as_str()) {
            out.push(format!("unknown field {key}"));
        }
    }
    if e["routing_key"].as_str().map(str::len) != Some(32) {
        out.push("routing_key must be a 32-character integration key".into());
    }
    let dedup = e["dedup_key"].as_str();
    if dedup.is_none_or(|d| d.is_empty() || d.len() > 255) {
        out.push("dedup_key: 1 to 255 characters".into());
    }
    match e["event_action"].as_str() {
        Some("resolve" | "acknowledge") => {}
        Some("trigger") => {
            let p = &e["payload"];
            let summary = p["summary"].as_str().unwrap_or_default();
            if summary.is_empty() || summary.chars().count() > 1024 {
                out.push("payload.summary: 1 to 1024 characters".into());
            }
            if p["source"].as_str().is_none_or(str::is_empty) {
                out.push("payload.source is required".into());
            }
            if !matches!(
                p["severity"].as_str(),
                Some("critical" | "error" | "warning" | "info")
            ) {
                out.push("payload.severity: critical, error, warning or info".into());
            }
            if let Some(t) = p.get("timestamp")
                && chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap_or_default()).is_err()
            {
                out.push("payload.timestamp: ISO 8601".into());
            }
            for key in ["component", "group", "class"] {
                if p.get(key).is_some_and(|v| !v.is_string()) {
                    out.push(format!("payload.{key} is a string"));
                }
            }
            if p.get("custom_details").is_some_and(|v| !v.is_object()) {
                out.push("payload.custom_details is an object".into());
            }
        }
        _ => out.push("event_action: trigger, acknowledge or resolve".into()),
    }
    out
}

/// Answers as each service does.
fn answer(post: &Post) -> Answer {
    match post.path.as_str() {
        SLACK => {
            let authorized = post.header("authorization") == Some(&format!("Bearer {TOKEN}"));
            let body = if !authorized {
                r#"{"ok":false,"error":"invalid_auth"}"#.to_string()
            } else if post.body["channel"].as_str().is_none_or(str::is_empty)
                || post.body["text"].as_str().is_none_or(str::is_empty)
            {
                r#"{"ok":false,"error":"no_text"}"#.to_string()
            } else if post.body.get("thread_ts").is_none() {
                format!(r#"{{"ok":true,"channel":"C0123","ts":"{THREAD}"}}"#)
            } else {
                r#"{"ok":true,"channel":"C0123","ts":"1700000001.000200"}"#.to_string()
            };
            Some((200, body))
        }
        PAGERDUTY => {
            let problems = pagerduty_problems(&post.body);
            if problems.is_empty() {
                let dedup = &post.body["dedup_key"];
                Some((
                    202,
                    format!(
                        r#"{{"status":"success","message":"Event processed","dedup_key":{dedup}}}"#
                    ),
                ))
            } else {
                let errors = serde_json::to_string(&problems).unwrap();
                Some((
                    400,
                    format!(
                        r#"{{"status":"invalid event","message":"Event object is invalid","errors":{errors}}}"#
                    ),
                ))
            }
        }
        _ => Some((200, "{}".to_string())),
    }
}

/// A copy of `fixture` notifying all three at `base`.
fn release(fixture: &str, base: &str) -> (tempfile::TempDir, PathBuf) {
    let (dir, plan) = crate::support::cli::release(fixture);
    let mut text = std::fs::read_to_string(&plan).unwrap();
    text.push_str(&format!(
        "\nnotify:\n  - {{kind: slack, token_env: SHIPDECK_TEST_SLACK_TOKEN, channel: \"#releases\", api: {base}/api}}\n  - {{kind: json, url_env: SHIPDECK_TEST_HOOK}}\n  - {{kind: pagerduty, routing_key_env: SHIPDECK_TEST_PD_KEY, url: {base}{PAGERDUTY}}}\n"
    ));
    std::fs::write(&plan, text).unwrap();
    (dir, plan)
}

async fn run_headless(plan: &Path, base: &str) -> (i32, String, String) {
    let mut cmd = crate::support::cli::cmd(&[
        "run",
        plan.to_str().unwrap(),
        "--headless",
        "--speed",
        "50000",
    ]);
    cmd.env("SHIPDECK_TEST_SLACK_TOKEN", TOKEN)
        .env("SHIPDECK_TEST_HOOK", format!("{base}{HOOK}"))
        .env("SHIPDECK_TEST_PD_KEY", ROUTING_KEY);
    tokio::task::spawn_blocking(move || crate::support::cli::output(cmd.output().unwrap()))
        .await
        .unwrap()
}

fn journal(plan: &Path) -> String {
    std::fs::read_to_string(plan.parent().unwrap().join(".shipdeck/journal.jsonl")).unwrap()
}

fn field<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_incident_threads_in_slack_posts_v1_documents_and_pages_once() {
    let receiver = Receiver::start(answer).await;
    let (_dir, plan) = release("incident", &receiver.base);
    let (code, stdout, stderr) = run_headless(&plan, &receiver.base).await;
    assert_eq!(code, 3, "{stdout}{stderr}");
    let journal = journal(&plan);
    assert!(
        !journal.contains("\"action\":\"notify\""),
        "every delivery was taken: {journal}"
    );
    for secret in [TOKEN, ROUTING_KEY, HOOK] {
        assert!(
            !journal.contains(secret) && !stdout.contains(secret) && !stderr.contains(secret),
            "{secret} is a secret"
        );
    }
    let plan_arg = plan.display().to_string();

    // The JSON webhook: one v1 document per event, in order, saying what to do next.
    let docs: Vec<serde_json::Value> = receiver
        .posts_to(HOOK)
        .into_iter()
        .map(|p| p.body)
        .collect();
    let events: Vec<&str> = docs.iter().map(|d| field(d, "event")).collect();
    assert!(
        docs.iter().all(|d| d["schema"] == "shipdeck.event/v1"),
        "{docs:#?}"
    );
    assert_eq!(events.first(), Some(&"started"), "{events:?}");
    assert_eq!(events.last(), Some(&"rollback_confirmed"), "{events:?}");
    let rb = events
        .iter()
        .position(|e| *e == "rollback_started")
        .unwrap_or_else(|| panic!("{events:?}"));
    let paused = events[..rb]
        .iter()
        .rposition(|e| *e == "paused")
        .unwrap_or_else(|| panic!("no pause before the rollback: {events:?}"));
    let d = &docs[rb];
    assert_eq!(d["release"]["name"], "checkout-v2");
    assert_eq!(d["release"]["version"], "2.5.0");
    assert_eq!(d["release"]["flag"], "new_checkout");
    assert_eq!(d["state"], "rolling_back");
    assert_eq!(d["needs_human"], true);
    assert_eq!(d["why"]["metric"], "error_rate", "{d:#}");
    assert!(d["why"]["value"].as_f64().unwrap() > d["why"]["threshold"].as_f64().unwrap());
    assert_eq!(d["next"], format!("shipdeck status {plan_arg}"));
    let p = &docs[paused];
    assert_eq!(p["state"], "paused");
    assert_eq!(p["needs_human"], true, "a guardrail's pause: {p:#}");
    assert!(p["step"].is_string() && p["reason"].is_string(), "{p:#}");
    assert_eq!(p["next"], format!("shipdeck rollback {plan_arg}"));
    assert_eq!(docs[0]["needs_human"], false);
    assert!(docs[0]["next"].is_null());

    // Slack: the first message opens the release's thread, every later one replies in
    // it, and the rollback is also shown in the channel.
    let slack = receiver.posts_to(SLACK);
    assert_eq!(slack.len(), docs.len(), "one message per event");
    assert_eq!(slack[0].body["channel"], "#releases");
    assert!(slack[0].body.get("thread_ts").is_none());
    for (i, s) in slack.iter().enumerate().skip(1) {
        assert_eq!(s.body["thread_ts"], THREAD, "message {i}");
        assert_eq!(s.body["channel"], "C0123", "message {i}");
    }
    assert_eq!(slack[rb].body["reply_broadcast"], true);
    assert_eq!(
        slack[1].body["reply_broadcast"], false,
        "{:#}",
        slack[1].body
    );
    let blocks = slack[rb].body["blocks"].as_array().unwrap();
    let texts: Vec<String> = blocks.iter().map(|b| b.to_string()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("*Next:*") && t.contains("shipdeck status")),
        "{texts:#?}"
    );
    assert!(texts.iter().any(|t| t.contains("*State:*")), "{texts:#?}");

    // PagerDuty: every event it hears of is valid; the guardrail's pause and the
    // rollback page on one incident; nothing resolves a rolled-back release.
    let pages = receiver.posts_to(PAGERDUTY);
    assert!(!pages.is_empty());
    for p in &pages {
        assert_eq!(
            pagerduty_problems(&p.body),
            Vec::<String>::new(),
            "{:#}",
            p.body
        );
        assert_eq!(p.body["dedup_key"], "shipdeck/checkout-v2/2.5.0");
        assert_eq!(p.body["event_action"], "trigger", "{:#}", p.body);
    }
    let classes: Vec<&str> = pages
        .iter()
        .map(|p| field(&p.body["payload"], "class"))
        .collect();
    assert!(classes.contains(&"paused"), "{classes:?}");
    let critical = pages
        .iter()
        .find(|p| p.body["payload"]["class"] == "rollback started")
        .unwrap_or_else(|| panic!("{classes:?}"));
    assert_eq!(critical.body["payload"]["severity"], "critical");
    assert_eq!(critical.body["payload"]["component"], "new_checkout");
    assert_eq!(
        critical.body["payload"]["custom_details"]["next"],
        format!("shipdeck status {plan_arg}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_that_completes_resolves_its_incident() {
    let receiver = Receiver::start(answer).await;
    let (_dir, plan) = release("healthy", &receiver.base);
    let (code, stdout, stderr) = run_headless(&plan, &receiver.base).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let pages = receiver.posts_to(PAGERDUTY);
    let last = pages
        .last()
        .unwrap_or_else(|| panic!("no event reached PagerDuty"));
    assert_eq!(last.body["event_action"], "resolve", "{:#}", last.body);
    assert_eq!(last.body["dedup_key"], "shipdeck/checkout-v2/2.5.0");
    assert_eq!(pagerduty_problems(&last.body), Vec::<String>::new());
    let docs = receiver.posts_to(HOOK);
    assert_eq!(docs.last().unwrap().body["event"], "completed");
}

/// A receiver that refuses an event (PagerDuty's 400) is not asked again with the same
/// event: the refusal and its reason are journaled once, and the release goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_event_is_given_up_at_once_and_journaled_with_the_reason() {
    let receiver = Receiver::start(|p: &Post| match p.path.as_str() {
        PAGERDUTY => Some((
            400,
            r#"{"status":"invalid event","message":"Event object is invalid","errors":["Invalid routing key"]}"#
                .to_string(),
        )),
        _ => answer(p),
    })
    .await;
    let (_dir, plan) = release("incident", &receiver.base);
    let (code, stdout, stderr) = run_headless(&plan, &receiver.base).await;
    assert_eq!(code, 3, "{stdout}{stderr}");
    let pages = receiver.posts_to(PAGERDUTY);
    let triggers = pages.len();
    let journal = journal(&plan);
    let refusals: Vec<&str> = journal
        .lines()
        .filter(|l| l.contains("pagerduty $SHIPDECK_TEST_PD_KEY: attempt 1/5 gave up on"))
        .collect();
    assert_eq!(refusals.len(), triggers, "one try per event: {journal}");
    assert!(
        refusals[0].contains("HTTP 400") && refusals[0].contains("Invalid routing key"),
        "{}",
        refusals[0]
    );
    assert!(!journal.contains("retrying"), "{journal}");
}

/// A notifier whose secret is not in the environment stops the start, saying which
/// variable to export, before anything is written to the flag.
#[test]
fn a_missing_routing_key_stops_the_start_with_the_export_that_fixes_it() {
    let (dir, plan) = release("incident", "http://127.0.0.1:9");
    let flags_before = std::fs::read_to_string(dir.path().join("flags.yaml")).unwrap();
    let mut cmd = crate::support::cli::cmd(&["run", plan.to_str().unwrap(), "--headless"]);
    cmd.env("SHIPDECK_TEST_SLACK_TOKEN", TOKEN)
        .env("SHIPDECK_TEST_HOOK", "http://127.0.0.1:9/h")
        .env_remove("SHIPDECK_TEST_PD_KEY");
    let (code, stdout, stderr) = crate::support::cli::output(cmd.output().unwrap());
    assert_ne!(code, 0, "{stdout}");
    assert!(
        stderr.contains("the PagerDuty routing key is read from the environment variable SHIPDECK_TEST_PD_KEY, which is not set")
            && stderr.contains("export SHIPDECK_TEST_PD_KEY="),
        "{stderr}"
    );
    let flags_after = std::fs::read_to_string(dir.path().join("flags.yaml")).unwrap();
    assert_eq!(flags_before, flags_after);
}
