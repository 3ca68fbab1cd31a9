//! notify::slack: Slack's Block Kit. An incoming webhook (`kind: webhook`) gets one
//! message per event; the Web API (`kind: slack`, a bot token) gets one thread per
//! release, its first message at the top and every later event as a reply (a rollback or
//! a pause that needs a person also shown in the channel).

use tokio::sync::mpsc;

use super::post::{Poster, Reply, by_status};
use super::{Release, kind_name, next_command};
use crate::engine::{Event, EventKind};
use crate::support::escape::shown;

fn emoji(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Started => ":rocket:",
        EventKind::Promoted => ":arrow_up:",
        EventKind::Paused => ":double_vertical_bar:",
        EventKind::Resumed => ":arrow_forward:",
        EventKind::Alert => ":warning:",
        EventKind::RollbackStarted => ":rotating_light:",
        EventKind::RollbackConfirmed => ":leftwards_arrow_with_hook:",
        EventKind::Completed => ":white_check_mark:",
    }
}

/// Text from outside as Slack shows it: control characters escaped ([`shown`]), and
/// `&`, `<` and `>` as entities, so a reason cannot post `<!channel>` or a disguised link.
fn slack_text(text: &str) -> String {
    shown(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn section(text: String) -> serde_json::Value {
    serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

/// Slack-compatible JSON: `text` for clients that show only that, `blocks` for the rest:
/// the headline, the why (rule, values, query), where the release stands, the command to
/// run next, and a context line.
pub(crate) fn slack_payload(release: &Release, event: &Event) -> serde_json::Value {
    let headline = format!("{} {}", emoji(event.kind), slack_text(&event.text));
    let mut blocks = vec![section(headline.clone())];
    if let Some(x) = &event.explain {
        let mut why = format!(
            "*Why:* {}\n*Rule:* `{}`",
            slack_text(&x.summary()),
            slack_text(&x.rule_text)
        );
        if let Some(q) = &x.query {
            why.push_str(&format!("\n*Query:* `{}`", slack_text(q)));
        }
        blocks.push(section(why));
    }
    let s = &event.situation;
    let mut fields = vec![
        format!("*State:*\n{}", slack_text(&s.state.replace('_', " "))),
        format!("*Exposure:*\n{}%", s.percent),
    ];
    if let Some(step) = &s.step {
        fields.push(format!("*Step:*\n{}", slack_text(step)));
    }
    if let Some(reason) = &s.reason {
        fields.push(format!("*Reason:*\n{}", slack_text(reason)));
    }
    let fields: Vec<_> = fields
        .into_iter()
        .map(|t| serde_json::json!({"type": "mrkdwn", "text": t}))
        .collect();
    blocks.push(serde_json::json!({"type": "section", "fields": fields}));
    if let Some(next) = next_command(release, event) {
        blocks.push(section(format!("*Next:* `{}`", slack_text(&next))));
    }
    blocks.push(serde_json::json!({
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": format!(
            "shipdeck · {} · {} · {}",
            kind_name(event.kind),
            event.at.format("%Y-%m-%d %H:%M:%SZ"),
            slack_text(&release.label()),
        )}],
    }));
    serde_json::json!({"text": headline, "blocks": blocks})
}

/// An incoming webhook: one message per event.
pub(super) async fn run_webhook(
    url: String,
    release: Release,
    poster: Poster,
    mut rx: mpsc::Receiver<Event>,
) {
    while let Some(event) = rx.recv().await {
        let body = slack_payload(&release, &event);
        poster
            .post(&url, &[], &body, kind_name(event.kind), by_status)
            .await;
    }
}

/// The Web API answers HTTP 200 with `ok: false` for most refusals.
fn web_api(status: reqwest::StatusCode, body: &str) -> Reply {
    match by_status(status, body) {
        Reply::Taken(v) if v["ok"] == true => Reply::Taken(v),
        Reply::Taken(v) => {
            let error = v["error"].as_str().unwrap_or("no `ok` in the answer");
            if error == "ratelimited" {
                Reply::Retry("Slack answered ratelimited".to_string())
            } else {
                Reply::Refused(format!("Slack answered {}", shown(error)))
            }
        }
        other => other,
    }
}

/// `chat.postMessage` with a bot token: the release's first message starts its thread.
pub(super) async fn run_thread(
    api: String,
    token: String,
    channel: String,
    release: Release,
    poster: Poster,
    mut rx: mpsc::Receiver<Event>,
) {
    let url = format!("{api}/chat.postMessage");
    let auth = [("authorization", format!("Bearer {token}"))];
    // The thread's channel id and parent message, once the first post is taken.
    let mut thread: Option<(String, String)> = None;
    while let Some(event) = rx.recv().await {
        let mut body = slack_payload(&release, &event);
        match &thread {
            Some((channel, ts)) => {
                body["channel"] = channel.clone().into();
                body["thread_ts"] = ts.clone().into();
                body["reply_broadcast"] = event.situation.needs_human.into();
            }
            None => body["channel"] = channel.clone().into(),
        }
        let answer = poster
            .post(&url, &auth, &body, kind_name(event.kind), web_api)
            .await;
        if thread.is_none()
            && let Some(a) = answer
            && let Some(ts) = a["ts"].as_str()
        {
            let id = a["channel"].as_str().unwrap_or(&channel).to_string();
            thread = Some((id, ts.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Situation;
    use chrono::TimeZone;

    fn release() -> Release {
        Release {
            name: "checkout-v2".into(),
            version: "2.5.0".into(),
            flag: "new_checkout".into(),
            plan: "plan.yaml".into(),
        }
    }

    #[test]
    fn outside_text_cannot_ping_a_channel_or_drive_a_terminal() {
        let e = Event {
            kind: EventKind::Paused,
            at: chrono::Utc.with_ymd_and_hms(2026, 3, 15, 14, 0, 0).unwrap(),
            text: "Paused by mallory: x\n2026-03-15T14:00:01Z shop completed: ok <!channel> \x1b]0;t\x07".into(),
            explain: None,
            situation: Situation::default(),
        };
        let p = slack_payload(&release(), &e);
        for text in [
            p["text"].as_str().unwrap(),
            p["blocks"][0]["text"]["text"].as_str().unwrap(),
        ] {
            assert!(!text.contains('\n') && !text.contains('\x1b'), "{text:?}");
            assert!(
                text.contains("x\\n2026") && text.contains("\\u{1b}]0;t\\u{7}"),
                "{text}"
            );
            assert!(
                text.contains("&lt;!channel&gt;") && !text.contains("<!"),
                "{text}"
            );
        }
    }

    #[test]
    fn a_pause_that_needs_a_person_says_where_the_release_stands_and_what_to_run() {
        let e = Event {
            kind: EventKind::Paused,
            at: chrono::Utc.with_ymd_and_hms(2026, 3, 15, 14, 0, 0).unwrap(),
            text: "checkout-v2 2.5.0 paused: error_rate 1.35% > 1.00%".into(),
            explain: None,
            situation: Situation {
                state: "paused".into(),
                step: Some("Gradual 25%".into()),
                percent: 25,
                reason: Some("error_rate 1.35% > 1.00%".into()),
                needs_human: true,
            },
        };
        let p = slack_payload(&release(), &e);
        let fields: Vec<&str> = p["blocks"][1]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["text"].as_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "*State:*\npaused",
                "*Exposure:*\n25%",
                "*Step:*\nGradual 25%",
                "*Reason:*\nerror_rate 1.35% &gt; 1.00%"
            ]
        );
        assert_eq!(
            p["blocks"][2]["text"]["text"],
            "*Next:* `shipdeck rollback plan.yaml`"
        );
        assert_eq!(p["blocks"][3]["type"], "context");
    }

    #[test]
    fn the_web_api_refuses_with_ok_false() {
        use reqwest::StatusCode;
        assert!(matches!(
            web_api(StatusCode::OK, r#"{"ok":true,"ts":"1.2"}"#),
            Reply::Taken(_)
        ));
        assert_eq!(
            web_api(StatusCode::OK, r#"{"ok":false,"error":"not_in_channel"}"#),
            Reply::Refused("Slack answered not_in_channel".into())
        );
        assert!(matches!(
            web_api(StatusCode::OK, r#"{"ok":false,"error":"ratelimited"}"#),
            Reply::Retry(_)
        ));
    }
}
