//! notify::post: one JSON document to one HTTP receiver, retried with backoff until it
//! is taken, refused, or the attempts run out. Every problem is reported as a
//! [`Failure`]; the URL never is (a webhook URL is a secret).

use std::time::Duration;
use tokio::sync::mpsc;

use super::Failure;
use crate::support::backoff::Backoff;

/// Attempts per event before it is given up (and journaled as lost).
pub(crate) const ATTEMPTS: u32 = 5;
const TIMEOUT: Duration = Duration::from_secs(5);

/// What a receiver made of a post.
#[derive(Debug, PartialEq)]
pub(super) enum Reply {
    /// Taken; the receiver's JSON answer, or `Null` when it sent none.
    Taken(serde_json::Value),
    /// Worth another try (a timeout, a 5xx, a rate limit).
    Retry(String),
    /// Another try would be refused the same way (a 4xx: a bad key, a bad document).
    Refused(String),
}

/// How most receivers answer: 2xx taken, 408, 429 and 5xx worth a retry, the rest refused.
pub(super) fn by_status(status: reqwest::StatusCode, body: &str) -> Reply {
    if status.is_success() {
        return Reply::Taken(serde_json::from_str(body).unwrap_or(serde_json::Value::Null));
    }
    let excerpt: String = crate::support::escape::shown(body.trim())
        .chars()
        .take(200)
        .collect();
    let said = if excerpt.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {excerpt}")
    };
    if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
        Reply::Retry(format!("the receiver answered {said}"))
    } else {
        Reply::Refused(format!("the receiver refused it ({said})"))
    }
}

/// Posts for one notifier.
pub(super) struct Poster {
    client: reqwest::Client,
    name: String,
    failures: mpsc::Sender<Failure>,
}

impl Poster {
    pub(super) fn new(name: String, failures: mpsc::Sender<Failure>) -> Poster {
        // Building fails only when no TLS backend can start, and then so does every client.
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .unwrap_or_default();
        Poster {
            client,
            name,
            failures,
        }
    }

    /// Posts `body` (with `headers`) until it is taken; `judge` reads the answer. Returns
    /// the receiver's answer, or `None` once it was refused or the attempts ran out
    /// (each reported), or the release's journal is gone.
    pub(super) async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: &serde_json::Value,
        what: &str,
        judge: impl Fn(reqwest::StatusCode, &str) -> Reply,
    ) -> Option<serde_json::Value> {
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(8));
        for attempt in 1..=ATTEMPTS {
            let mut request = self.client.post(url).json(body);
            for (k, v) in headers {
                request = request.header(*k, v);
            }
            let reply = match request.send().await {
                Ok(r) => {
                    let status = r.status();
                    let text = r.text().await.unwrap_or_default();
                    judge(status, &text)
                }
                Err(e) if e.is_timeout() => Reply::Retry(format!("no answer within {TIMEOUT:?}")),
                Err(e) => Reply::Retry(format!("cannot reach the receiver: {}", without_url(&e))),
            };
            let (error, last) = match reply {
                Reply::Taken(answer) => return Some(answer),
                Reply::Retry(e) => (e, attempt == ATTEMPTS),
                Reply::Refused(e) => (e, true),
            };
            let verb = if last { "gave up on" } else { "retrying" };
            let message = format!("attempt {attempt}/{ATTEMPTS} {verb} \"{what}\": {error}");
            self.fail(message).await?;
            if last {
                return None;
            }
            tokio::time::sleep(backoff.next_delay()).await;
        }
        None
    }

    /// Reports a problem; `None` once nobody listens any more.
    pub(super) async fn fail(&self, message: String) -> Option<()> {
        self.failures
            .send(Failure {
                notifier: self.name.clone(),
                message,
            })
            .await
            .ok()
    }
}

/// reqwest errors carry the URL; a webhook URL is a secret.
fn without_url(e: &reqwest::Error) -> String {
    let mut e = e.to_string();
    if let Some(i) = e.find(" for url (") {
        e.truncate(i);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn a_rate_limit_or_a_server_error_is_retried_and_a_refusal_is_not() {
        assert_eq!(
            by_status(StatusCode::ACCEPTED, r#"{"status":"success"}"#),
            Reply::Taken(serde_json::json!({"status": "success"}))
        );
        assert_eq!(
            by_status(StatusCode::OK, "ok"),
            Reply::Taken(serde_json::Value::Null)
        );
        assert!(matches!(
            by_status(StatusCode::TOO_MANY_REQUESTS, ""),
            Reply::Retry(_)
        ));
        assert!(matches!(
            by_status(StatusCode::BAD_GATEWAY, "x"),
            Reply::Retry(_)
        ));
        match by_status(StatusCode::BAD_REQUEST, "invalid routing key\n\x1b[2J") {
            Reply::Refused(m) => {
                assert!(
                    m.contains("HTTP 400 Bad Request: invalid routing key\\n\\u{1b}[2J"),
                    "{m}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
}
