//! flags::unleash::api: the Admin API client. Owns the base url, the token, the calls
//! and what a failed call tells the user to do; never shows the token, and never reads
//! more into an answer than "found", "not found" or "failed".

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use crate::flags::FlagError;
use crate::metrics::Secret;

use super::strategies::Feature;

/// Each call to Unleash gives up after this long; the flag task retries with backoff.
const TIMEOUT: Duration = Duration::from_secs(5);
/// How much of an unexpected answer a message quotes.
const SNIPPET: usize = 160;

/// Where the Admin API is and how to authenticate to it.
#[derive(Debug)]
pub(super) struct Api {
    client: reqwest::Client,
    /// The server's base, without a trailing `/api`.
    base: Url,
    /// The url as the plan gave it, for messages.
    pub(super) shown: String,
    token: Secret,
    pub(super) project: String,
    pub(super) environment: String,
}

impl Api {
    /// The Admin API of the Unleash at `url` (its base, with or without the `/api` suffix
    /// SDKs are given), for `project`/`environment`.
    pub(super) fn new(
        url: &str,
        token: Secret,
        project: &str,
        environment: &str,
    ) -> Result<Api, FlagError> {
        // What messages show: never the password.
        let shown = crate::support::escape::passwords(url.trim()).into_owned();
        let bad = |reason: String| {
            FlagError::Unleash {
            url: shown.clone(),
            message: format!("the url is not usable: {reason}"),
            hint: "write flag.backend.url like https://unleash.example.com or http://127.0.0.1:4242/api"
                .into(),
        }
        };
        let mut base = Url::parse(url.trim()).map_err(|e| bad(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(bad(format!(
                "the scheme `{}` is not http or https",
                base.scheme()
            )));
        }
        let path = base.path().trim_end_matches('/');
        let path = path.strip_suffix("/api").unwrap_or(path).to_string();
        base.set_path(&path);
        base.set_query(None);
        let client = reqwest::Client::builder()
            .user_agent(concat!("shipdeck/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(TIMEOUT)
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| bad(format!("the HTTP client could not start: {e}")))?;
        Ok(Api {
            client,
            base,
            shown,
            token,
            project: project.to_string(),
            environment: environment.to_string(),
        })
    }

    pub(super) fn error(&self, message: impl Into<String>, hint: impl Into<String>) -> FlagError {
        FlagError::Unleash {
            url: self.shown.clone(),
            message: message.into(),
            hint: hint.into(),
        }
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    fn feature_path<'a>(&'a self, flag: &'a str) -> Vec<&'a str> {
        vec!["api", "admin", "projects", &self.project, "features", flag]
    }

    pub(super) fn environment_path<'a>(&'a self, flag: &'a str) -> Vec<&'a str> {
        let mut path = self.feature_path(flag);
        path.extend(["environments", self.environment.as_str()]);
        path
    }

    /// One call. `Ok(None)` is a 404; any other failure is an error saying what to do.
    pub(super) async fn call(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&Value>,
    ) -> Result<Option<Value>, FlagError> {
        let url = self.url(segments);
        let path = url.path().to_string();
        let mut token = HeaderValue::from_str(self.token.expose()).map_err(|_| {
            self.error(
                format!(
                    "the token in `{}` is not a valid HTTP header value",
                    self.token.var()
                ),
                "it must be plain ASCII with no line breaks",
            )
        })?;
        token.set_sensitive(true);
        let mut request = self
            .client
            .request(method.clone(), url)
            .header(AUTHORIZATION, token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|error| {
            let why = if error.is_timeout() {
                format!("no answer within {}s", TIMEOUT.as_secs())
            } else {
                // Without the url: it is in the message already, and the error's own
                // chain says what failed (refused, reset, DNS).
                let error = error.without_url();
                let mut text = error.to_string();
                let mut source = std::error::Error::source(&error);
                while let Some(inner) = source {
                    text = format!("{text}: {inner}");
                    source = inner.source();
                }
                text
            };
            self.error(
                format!("{method} {path} failed: {why}"),
                "check that Unleash is running and reachable at the plan's flag.backend.url",
            )
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|error| {
            self.error(
                format!("{method} {path}: the answer broke off: {error}"),
                "retry; if it persists, check the network to Unleash",
            )
        })?;
        match status {
            StatusCode::NOT_FOUND => Ok(None),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(self.error(
                format!(
                    "the token in `{}` was refused (HTTP {}): {}",
                    self.token.var(),
                    status.as_u16(),
                    answer_text(&text)
                ),
                format!(
                    "export an admin API token or a personal access token in `{}`; client and \
                     frontend tokens cannot use the Admin API",
                    self.token.var()
                ),
            )),
            s if s.is_success() => {
                if text.trim().is_empty() {
                    return Ok(Some(Value::Null));
                }
                serde_json::from_str(&text).map(Some).map_err(|error| {
                    self.error(
                        format!(
                            "{method} {path}: the answer is not JSON ({error}): {}",
                            answer_text(&text)
                        ),
                        "check that flag.backend.url points at Unleash itself",
                    )
                })
            }
            s => Err(self.error(
                format!(
                    "{method} {path}: HTTP {}: {}",
                    s.as_u16(),
                    answer_text(&text)
                ),
                "check the flag in Unleash; shipdeck retries the change",
            )),
        }
    }

    pub(super) async fn fetch_feature(&self, flag: &str) -> Result<Option<Feature>, FlagError> {
        let Some(body) = self
            .call(Method::GET, &self.feature_path(flag), None)
            .await?
        else {
            return Ok(None);
        };
        serde_json::from_value(body).map(Some).map_err(|error| {
            self.error(
                format!("flag `{flag}` came back in a shape shipdeck cannot read: {error}"),
                "check that flag.backend.url points at an Unleash server (v5 or newer)",
            )
        })
    }

    /// Why the feature call said "not found" when it was not the flag that is missing.
    pub(super) async fn missing_project(&self) -> Result<Option<FlagError>, FlagError> {
        let body = self
            .call(Method::GET, &["api", "admin", "projects"], None)
            .await?
            .unwrap_or(Value::Null);
        let known = names_in(&body, "projects", "id");
        if known.is_empty() || known.contains(&self.project) {
            return Ok(None);
        }
        Ok(Some(self.error(
            format!("project `{}` does not exist", self.project),
            format!(
                "create it in Unleash, or fix flag.backend.project in the plan (projects there: {})",
                known.join(", ")
            ),
        )))
    }

    /// The error for a flag that has no `environment` of the plan's.
    pub(super) async fn missing_environment(&self, flag: &str) -> FlagError {
        let known: Vec<String> = match self
            .call(Method::GET, &["api", "admin", "environments"], None)
            .await
        {
            Ok(Some(body)) => names_in(&body, "environments", "name"),
            _ => Vec::new(),
        };
        if known.contains(&self.environment) {
            self.error(
                format!(
                    "environment `{}` is not enabled in project `{}`, so flag `{flag}` has no \
                     configuration there",
                    self.environment, self.project
                ),
                format!(
                    "enable `{}` in the project's settings in Unleash (Projects → {} → \
                     Settings → Environments)",
                    self.environment, self.project
                ),
            )
        } else {
            self.error(
                format!("environment `{}` does not exist", self.environment),
                format!(
                    "fix flag.backend.environment in the plan{}",
                    if known.is_empty() {
                        String::new()
                    } else {
                        format!(" (environments there: {})", known.join(", "))
                    }
                ),
            )
        }
    }

    pub(super) async fn post(
        &self,
        segments: &[&str],
        body: Option<&Value>,
    ) -> Result<(), FlagError> {
        self.expect(Method::POST, segments, body).await
    }

    /// A call that must find what it addresses.
    pub(super) async fn expect(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&Value>,
    ) -> Result<(), FlagError> {
        match self.call(method.clone(), segments, body).await? {
            Some(_) => Ok(()),
            None => Err(self.error(
                format!("{method} /{}: not found", segments.join("/")),
                "the flag or strategy was removed while shipdeck changed it; shipdeck retries",
            )),
        }
    }
}

/// The `key` of each entry in the list `list` of an answer: the projects or environments
/// Unleash has, for a message naming the ones there are.
fn names_in(body: &Value, list: &str, key: &str) -> Vec<String> {
    body.get(list)
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| e.get(key).and_then(Value::as_str).map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The text of an answer's `message`, or the start of its body.
fn answer_text(body: &str) -> String {
    let from_json = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(String::from));
    let text = from_json.unwrap_or_else(|| body.trim().to_string());
    match text.char_indices().nth(SNIPPET) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(url: &str) -> Api {
        Api::new(
            url,
            Secret::new("UNLEASH_TOKEN", "t"),
            "default",
            "development",
        )
        .unwrap()
    }

    #[test]
    fn the_api_suffix_and_slashes_are_dropped_from_the_base() {
        for url in [
            "http://127.0.0.1:4242",
            "http://127.0.0.1:4242/",
            "http://127.0.0.1:4242/api",
            "http://127.0.0.1:4242/api/",
        ] {
            assert_eq!(
                api(url).url(&["api", "admin", "projects"]).as_str(),
                "http://127.0.0.1:4242/api/admin/projects",
                "{url}"
            );
        }
        assert_eq!(
            api("https://flags.example.com/unleash/api")
                .url(&["api", "x y"])
                .as_str(),
            "https://flags.example.com/unleash/api/x%20y"
        );
    }
}
