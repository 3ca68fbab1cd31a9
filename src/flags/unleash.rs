//! flags::unleash: a flag in Unleash, through its Admin API. Owns the HTTP calls and the
//! mapping between the reference flag shape and Unleash strategies in one environment:
//! the rollout is one `flexibleRollout` strategy without constraints, the user groups a
//! second one at 100% constrained to `groups IN [...]`, and `enabled` is the
//! environment's kill switch. Never decides what the flag should be, never shows the
//! token (not in Debug, not in any message), and never sends a percent outside 0..=100.

use std::time::Duration;

use futures::future::BoxFuture;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::engine::values::{DesiredFlag, FlagState};
use crate::metrics::Secret;
use crate::plan::FlagKind;

use super::bucket::{Evaluation, evaluate};
use super::{FlagBackend, FlagError, check_percent};

/// Each call to Unleash gives up after this long; the flag task retries with backoff.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Unleash's gradual rollout strategy.
const FLEXIBLE: &str = "flexibleRollout";
/// The context field the groups strategy constrains; apps put the user's group in it.
pub const GROUPS_FIELD: &str = "groups";
const ROLLOUT_TITLE: &str = "shipdeck rollout";
const GROUPS_TITLE: &str = "shipdeck groups";
/// How much of an unexpected answer a message quotes.
const SNIPPET: usize = 160;

/// One flag in one Unleash project and environment, as a [`FlagBackend`].
#[derive(Debug)]
pub struct UnleashBackend {
    api: Api,
    flag: String,
    kind: FlagKind,
    create: bool,
    /// The flag as this backend last read it or read it back.
    last: Option<FlagState>,
}

/// The flag as Unleash holds it, with what `flags eval` needs to bucket users as
/// Unleash's SDKs do.
#[derive(Debug, Clone, PartialEq)]
pub struct UnleashFlag {
    pub state: FlagState,
    /// The rollout strategy's `groupId`: Unleash buckets `"<groupId>:<userId>"`.
    pub group_id: String,
    /// The rollout strategy's `stickiness`; `default` and `userId` bucket by user id.
    pub stickiness: String,
}

impl UnleashFlag {
    /// Would `user` (in `groups`) get the flag? Unleash's bucketing over the strategy's
    /// groupId. Unleash compares one `groups` context value with the groups strategy;
    /// a user given several groups is in when any of them is listed.
    pub fn evaluate(&self, flag: &str, user: &str, groups: &[String]) -> Evaluation {
        let mut eval = evaluate(&self.group_id, Some(&self.state), user, groups);
        eval.flag = flag.to_string();
        if !matches!(self.stickiness.as_str(), "default" | "userId") {
            eval.reason = format!(
                "{}; note: the strategy is sticky on `{}`, so Unleash buckets by that field, \
                 not the user id",
                eval.reason, self.stickiness
            );
        }
        eval
    }
}

/// Where the Admin API is and how to authenticate to it.
#[derive(Debug)]
struct Api {
    client: reqwest::Client,
    /// The server's base, without a trailing `/api`.
    base: Url,
    /// The url as the plan gave it, for messages.
    shown: String,
    token: Secret,
    project: String,
    environment: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Constraint {
    context_name: String,
    operator: String,
    #[serde(default)]
    values: Vec<String>,
    #[serde(default)]
    inverted: bool,
    #[serde(default)]
    case_insensitive: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Strategy {
    #[serde(default, skip_serializing)]
    id: Option<String>,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(default)]
    constraints: Vec<Constraint>,
    #[serde(default)]
    parameters: Map<String, Value>,
    #[serde(default)]
    segments: Vec<Value>,
    #[serde(default)]
    disabled: Option<bool>,
}

impl Strategy {
    fn label(&self) -> String {
        match &self.title {
            Some(title) if !title.is_empty() => format!("`{}` ({title})", self.name),
            _ => format!("`{}`", self.name),
        }
    }

    fn parameter(&self, key: &str) -> Option<String> {
        match self.parameters.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// The rollout percent, when it is a number Unleash would honour as written.
    fn percent(&self) -> Result<f64, String> {
        let text = self.parameter("rollout").unwrap_or_else(|| "100".into());
        match text.trim().parse::<f64>() {
            Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
            _ => Err(format!(
                "strategy {} has rollout `{text}`, outside 0..=100",
                self.label()
            )),
        }
    }

    fn rollout(
        flag: &str,
        percent: u8,
        group_id: Option<String>,
        stickiness: Option<String>,
    ) -> Strategy {
        let mut parameters = Map::new();
        parameters.insert("rollout".into(), Value::String(percent.to_string()));
        parameters.insert(
            "stickiness".into(),
            Value::String(stickiness.unwrap_or_else(|| "default".into())),
        );
        parameters.insert(
            "groupId".into(),
            Value::String(group_id.unwrap_or_else(|| flag.to_string())),
        );
        Strategy {
            id: None,
            name: FLEXIBLE.into(),
            title: Some(ROLLOUT_TITLE.into()),
            constraints: Vec::new(),
            parameters,
            segments: Vec::new(),
            disabled: Some(false),
        }
    }

    fn groups(flag: &str, groups: &[String]) -> Strategy {
        Strategy {
            title: Some(GROUPS_TITLE.into()),
            constraints: vec![Constraint {
                context_name: GROUPS_FIELD.into(),
                operator: "IN".into(),
                values: groups.to_vec(),
                inverted: false,
                case_insensitive: false,
            }],
            ..Strategy::rollout(flag, 100, None, None)
        }
    }
}

#[derive(Debug, Deserialize)]
struct Feature {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    environments: Vec<FeatureEnvironment>,
}

#[derive(Debug, Deserialize)]
struct FeatureEnvironment {
    name: String,
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    strategies: Vec<Strategy>,
}

/// The strategies of one environment, sorted into the two shipdeck manages.
#[derive(Debug)]
struct Strategies {
    enabled: bool,
    rollout: Option<Strategy>,
    groups: Option<Strategy>,
    /// Enabled with no strategy at all: Unleash's SDKs give it to everyone.
    bare: bool,
}

impl Strategies {
    fn sort(env: &FeatureEnvironment) -> Result<Strategies, String> {
        let mut out = Strategies {
            enabled: env.enabled,
            rollout: None,
            groups: None,
            bare: env.strategies.is_empty(),
        };
        for s in env.strategies.iter().filter(|s| s.disabled != Some(true)) {
            let is_groups = s.constraints.len() == 1
                && s.constraints[0].context_name == GROUPS_FIELD
                && s.constraints[0].operator == "IN"
                && !s.constraints[0].inverted;
            let slot = match () {
                _ if s.name != FLEXIBLE || !s.segments.is_empty() => None,
                _ if s.constraints.is_empty() => Some(&mut out.rollout),
                _ if is_groups && s.percent() == Ok(100.0) => Some(&mut out.groups),
                _ => None,
            };
            match slot {
                Some(slot @ None) => *slot = Some(s.clone()),
                Some(Some(first)) => {
                    return Err(format!(
                        "strategies {} and {} both apply to everyone they match; shipdeck \
                         cannot tell which one is the rollout",
                        first.label(),
                        s.label()
                    ));
                }
                None => {
                    return Err(format!(
                        "strategy {} is not one shipdeck manages (a gradual rollout without \
                         constraints, and one at 100% constrained to `{GROUPS_FIELD} IN`)",
                        s.label()
                    ));
                }
            }
        }
        Ok(out)
    }

    fn state(&self, kind: FlagKind) -> Result<FlagState, String> {
        let rollout = match &self.rollout {
            Some(s) => s.percent()? / 100.0,
            None if self.bare => 1.0,
            None => 0.0,
        };
        let groups = self
            .groups
            .as_ref()
            .map(|s| s.constraints[0].values.clone())
            .unwrap_or_default();
        Ok(FlagState {
            enabled: self.enabled,
            rollout,
            groups,
            kind,
        })
    }
}

fn kind_of(unleash_type: Option<&str>, fallback: FlagKind) -> FlagKind {
    match unleash_type {
        Some("release") => FlagKind::Release,
        Some("experiment") => FlagKind::Experiment,
        Some("operational" | "kill-switch") => FlagKind::Ops,
        Some("permission") => FlagKind::Permission,
        _ => fallback,
    }
}

fn unleash_type(kind: FlagKind) -> &'static str {
    match kind {
        FlagKind::Release => "release",
        FlagKind::Experiment => "experiment",
        FlagKind::Ops => "operational",
        FlagKind::Permission => "permission",
    }
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

impl Api {
    fn error(&self, message: impl Into<String>, hint: impl Into<String>) -> FlagError {
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

    fn environment_path<'a>(&'a self, flag: &'a str) -> Vec<&'a str> {
        let mut path = self.feature_path(flag);
        path.extend(["environments", self.environment.as_str()]);
        path
    }

    /// One call. `Ok(None)` is a 404; any other failure is an error saying what to do.
    async fn call(
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

    async fn fetch_feature(&self, flag: &str) -> Result<Option<Feature>, FlagError> {
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
    async fn missing_project(&self) -> Result<Option<FlagError>, FlagError> {
        let body = self
            .call(Method::GET, &["api", "admin", "projects"], None)
            .await?
            .unwrap_or(Value::Null);
        let known: Vec<String> = body
            .get("projects")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|p| p.get("id").and_then(Value::as_str).map(String::from))
                    .collect()
            })
            .unwrap_or_default();
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
    async fn missing_environment(&self, flag: &str) -> FlagError {
        let known: Vec<String> = match self
            .call(Method::GET, &["api", "admin", "environments"], None)
            .await
        {
            Ok(Some(body)) => body
                .get("environments")
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(|e| e.get("name").and_then(Value::as_str).map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
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

    async fn post(&self, segments: &[&str], body: Option<&Value>) -> Result<(), FlagError> {
        self.expect(Method::POST, segments, body).await
    }

    /// A call that must find what it addresses.
    async fn expect(
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

impl UnleashBackend {
    /// The flag `flag` in `project`/`environment` of the Unleash at `url` (its base, with
    /// or without the `/api` suffix SDKs are given). A flag shipdeck creates gets `kind`.
    pub fn new(
        url: &str,
        token: Secret,
        project: &str,
        environment: &str,
        flag: String,
        kind: FlagKind,
    ) -> Result<UnleashBackend, FlagError> {
        let shown = url.trim().to_string();
        let bad = |reason: String| {
            FlagError::Unleash {
            url: shown.clone(),
            message: format!("the url is not usable: {reason}"),
            hint: "write flag.backend.url like https://unleash.example.com or http://127.0.0.1:4242/api"
                .into(),
        }
        };
        let mut base = Url::parse(&shown).map_err(|e| bad(e.to_string()))?;
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
        Ok(UnleashBackend {
            api: Api {
                client,
                base,
                shown,
                token,
                project: project.to_string(),
                environment: environment.to_string(),
            },
            flag,
            kind,
            create: false,
            last: None,
        })
    }

    /// As [`UnleashBackend::new`], with the token read now from the environment variable
    /// `token_env`; a missing or empty variable is an error naming it.
    pub fn from_env(
        url: &str,
        token_env: &str,
        project: &str,
        environment: &str,
        flag: String,
        kind: FlagKind,
    ) -> Result<UnleashBackend, FlagError> {
        let problem = match std::env::var(token_env) {
            Ok(value) if !value.trim().is_empty() => {
                let token = Secret::new(token_env, value.trim());
                return UnleashBackend::new(url, token, project, environment, flag, kind);
            }
            Ok(_) => "is empty",
            Err(std::env::VarError::NotPresent) => "is not set",
            Err(std::env::VarError::NotUnicode(_)) => "is not valid text",
        };
        Err(FlagError::Unleash {
            url: url.trim().to_string(),
            message: format!(
                "the environment variable `{token_env}` (flag.backend.token_env) {problem}"
            ),
            hint: format!(
                "export an Unleash admin API token or personal access token in `{token_env}`"
            ),
        })
    }

    /// Lets the backend create what is missing: the flag (with the plan's kind) and its
    /// rollout strategy. Without it, a missing one is an error saying how to create it.
    pub fn creating(mut self, create: bool) -> UnleashBackend {
        self.create = create;
        self
    }

    pub fn flag(&self) -> &str {
        &self.flag
    }

    /// The flag, its strategies sorted; `None` when the flag does not exist.
    async fn load(&self) -> Result<Option<(Feature, Strategies)>, FlagError> {
        let Some(mut feature) = self.api.fetch_feature(&self.flag).await? else {
            if let Some(error) = self.api.missing_project().await? {
                return Err(error);
            }
            return Ok(None);
        };
        let Some(at) = feature
            .environments
            .iter()
            .position(|e| e.name == self.api.environment)
        else {
            return Err(self.api.missing_environment(&self.flag).await);
        };
        let env = feature.environments.swap_remove(at);
        let strategies = Strategies::sort(&env).map_err(|reason| self.unmanaged(reason))?;
        feature.environments = vec![env];
        Ok(Some((feature, strategies)))
    }

    fn unmanaged(&self, reason: String) -> FlagError {
        self.api.error(
            format!(
                "flag `{}` in {}/{}: {reason}",
                self.flag, self.api.project, self.api.environment
            ),
            "remove or disable the other strategies in Unleash, or give this release its own flag",
        )
    }

    fn state_of(&self, feature: &Feature, strategies: &Strategies) -> Result<FlagState, FlagError> {
        strategies
            .state(kind_of(feature.kind.as_deref(), self.kind))
            .map_err(|reason| self.unmanaged(reason))
    }

    fn missing_strategy(&self) -> FlagError {
        self.api.error(
            format!(
                "flag `{}` has no gradual rollout strategy in {}",
                self.flag, self.api.environment
            ),
            format!(
                "add a Gradual rollout (flexibleRollout) strategy without constraints to `{}` in \
                 {}/{} in Unleash, or set `create: true` in flag.backend to let shipdeck add it",
                self.flag, self.api.project, self.api.environment
            ),
        )
    }

    /// The flag as Unleash holds it, with its bucketing parameters, for `flags eval` and
    /// `flags list`. `None` when the flag does not exist.
    pub async fn inspect(&mut self) -> Result<Option<UnleashFlag>, FlagError> {
        let Some((feature, strategies)) = self.load().await? else {
            return Ok(None);
        };
        let state = self.state_of(&feature, &strategies)?;
        let rollout = strategies.rollout.as_ref();
        Ok(Some(UnleashFlag {
            state,
            group_id: rollout
                .and_then(|s| s.parameter("groupId"))
                .unwrap_or_else(|| self.flag.clone()),
            stickiness: rollout
                .and_then(|s| s.parameter("stickiness"))
                .unwrap_or_else(|| "default".into()),
        }))
    }

    async fn read_state(&mut self) -> Result<Option<FlagState>, FlagError> {
        let state = match self.load().await? {
            Some((feature, strategies)) => Some(self.state_of(&feature, &strategies)?),
            None => None,
        };
        self.last = state.clone();
        Ok(state)
    }

    async fn create_flag(&self) -> Result<(), FlagError> {
        if !self.create {
            return Err(self.api.error(
                format!(
                    "flag `{}` does not exist in project `{}`",
                    self.flag, self.api.project
                ),
                format!(
                    "create it in Unleash (a {} flag named `{}` in project {}), or set \
                     `create: true` in flag.backend to let shipdeck create it",
                    unleash_type(self.kind),
                    self.flag,
                    self.api.project
                ),
            ));
        }
        let body = json!({
            "name": self.flag,
            "type": unleash_type(self.kind),
            "description": "created by shipdeck for a progressive rollout",
        });
        self.api
            .post(
                &["api", "admin", "projects", &self.api.project, "features"],
                Some(&body),
            )
            .await
    }

    async fn write_state(&mut self, desired: &DesiredFlag) -> Result<FlagState, FlagError> {
        check_percent(&self.flag, desired)?;
        let (feature, strategies) = match self.load().await? {
            Some(found) => found,
            None => {
                self.create_flag().await?;
                self.load().await?.ok_or_else(|| {
                    self.api.error(
                        format!("flag `{}` was created but cannot be read back", self.flag),
                        "check the flag in Unleash; shipdeck retries",
                    )
                })?
            }
        };
        let current = self.state_of(&feature, &strategies)?;
        // A change decided on what shipdeck last saw must not land on a flag someone else
        // changed since: report it instead. Turning the flag off always goes on.
        if desired.enabled
            && let Some(last) = &self.last
            && !last.same_as(&current)
        {
            self.last = Some(current.clone());
            return Err(FlagError::ChangedOutside {
                where_: format!("unleash {}", self.api.shown),
                flag: self.flag.clone(),
                found: Box::new(current),
            });
        }
        let env_path = self.api.environment_path(&self.flag);
        let at = |tail: &[&'static str]| {
            let mut path = env_path.clone();
            path.extend_from_slice(tail);
            path
        };
        // Off first, before anything else changes: a failure later leaves the flag off.
        if !desired.enabled && strategies.enabled {
            self.api.post(&at(&["off"]), None).await?;
        }
        match &strategies.rollout {
            Some(s) if s.percent().ok() != Some(f64::from(desired.percent)) => {
                let id = s.id.clone().unwrap_or_default();
                let updated = Strategy::rollout(
                    &self.flag,
                    desired.percent,
                    s.parameter("groupId"),
                    s.parameter("stickiness"),
                );
                let body = serde_json::to_value(&updated).unwrap_or(Value::Null);
                let mut path = at(&["strategies"]);
                path.push(&id);
                self.api.expect(Method::PUT, &path, Some(&body)).await?;
            }
            Some(_) => {}
            None if self.create => {
                let body = serde_json::to_value(Strategy::rollout(
                    &self.flag,
                    desired.percent,
                    None,
                    None,
                ))
                .unwrap_or(Value::Null);
                self.api.post(&at(&["strategies"]), Some(&body)).await?;
            }
            // An off flag reaches nobody whatever its rollout: nothing to add.
            None if !desired.enabled => {}
            None => return Err(self.missing_strategy()),
        }
        match (&strategies.groups, desired.groups.is_empty()) {
            (Some(s), false) if s.constraints[0].values != desired.groups => {
                let id = s.id.clone().unwrap_or_default();
                let body = serde_json::to_value(Strategy::groups(&self.flag, &desired.groups))
                    .unwrap_or(Value::Null);
                let mut path = at(&["strategies"]);
                path.push(&id);
                self.api.expect(Method::PUT, &path, Some(&body)).await?;
            }
            (None, false) => {
                let body = serde_json::to_value(Strategy::groups(&self.flag, &desired.groups))
                    .unwrap_or(Value::Null);
                self.api.post(&at(&["strategies"]), Some(&body)).await?;
            }
            (Some(s), true) => {
                let id = s.id.clone().unwrap_or_default();
                let mut path = at(&["strategies"]);
                path.push(&id);
                // Already gone is as good as removed.
                self.api.call(Method::DELETE, &path, None).await?;
            }
            _ => {}
        }
        if desired.enabled && !strategies.enabled {
            self.api.post(&at(&["on"]), None).await?;
        }
        self.read_state().await?.ok_or_else(|| {
            self.api.error(
                format!(
                    "flag `{}` was gone when read back after the change",
                    self.flag
                ),
                "someone removed it in Unleash meanwhile; recreate it or set `create: true`",
            )
        })
    }
}

impl FlagBackend for UnleashBackend {
    fn describe(&self) -> String {
        format!(
            "unleash {} project {} env {}",
            self.api.shown, self.api.project, self.api.environment
        )
    }

    fn read(&mut self) -> BoxFuture<'_, Result<Option<FlagState>, FlagError>> {
        Box::pin(self.read_state())
    }

    fn write<'a>(
        &'a mut self,
        desired: &'a DesiredFlag,
    ) -> BoxFuture<'a, Result<FlagState, FlagError>> {
        Box::pin(self.write_state(desired))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(url: &str) -> UnleashBackend {
        UnleashBackend::new(
            url,
            Secret::new("UNLEASH_TOKEN", "*:*.very-secret-token"),
            "default",
            "development",
            "new_checkout".into(),
            FlagKind::Release,
        )
        .unwrap()
    }

    fn env(enabled: bool, strategies: Value) -> FeatureEnvironment {
        FeatureEnvironment {
            name: "development".into(),
            enabled,
            strategies: serde_json::from_value(strategies).unwrap(),
        }
    }

    fn rollout(percent: &str) -> Value {
        json!({"id": "r", "name": "flexibleRollout", "constraints": [],
               "parameters": {"rollout": percent, "stickiness": "default", "groupId": "new_checkout"}})
    }

    fn groups(values: &[&str]) -> Value {
        json!({"id": "g", "name": "flexibleRollout",
               "constraints": [{"contextName": "groups", "operator": "IN", "values": values}],
               "parameters": {"rollout": "100", "stickiness": "default", "groupId": "new_checkout"}})
    }

    #[test]
    fn the_token_never_shows_in_debug() {
        let shown = format!("{:?}", backend("http://127.0.0.1:4242"));
        assert!(!shown.contains("very-secret-token"), "{shown}");
        assert!(shown.contains("Secret(***)"), "{shown}");
    }

    #[test]
    fn the_api_suffix_and_slashes_are_dropped_from_the_base() {
        for url in [
            "http://127.0.0.1:4242",
            "http://127.0.0.1:4242/",
            "http://127.0.0.1:4242/api",
            "http://127.0.0.1:4242/api/",
        ] {
            let b = backend(url);
            assert_eq!(
                b.api.url(&["api", "admin", "projects"]).as_str(),
                "http://127.0.0.1:4242/api/admin/projects",
                "{url}"
            );
        }
        let b = backend("https://flags.example.com/unleash/api");
        assert_eq!(
            b.api.url(&["api", "x y"]).as_str(),
            "https://flags.example.com/unleash/api/x%20y"
        );
    }

    #[test]
    fn bad_urls_and_missing_tokens_name_the_setting() {
        let err = UnleashBackend::new(
            "ftp://x",
            Secret::new("T", "v"),
            "p",
            "e",
            "f".into(),
            FlagKind::Release,
        )
        .unwrap_err();
        assert!(err.to_string().contains("flag.backend.url"), "{err}");
        let err = UnleashBackend::from_env(
            "http://127.0.0.1:1",
            "SHIPDECK_TEST_SURELY_UNSET_TOKEN",
            "p",
            "e",
            "f".into(),
            FlagKind::Release,
        )
        .unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.contains("`SHIPDECK_TEST_SURELY_UNSET_TOKEN`"),
            "{shown}"
        );
        assert!(shown.contains("is not set"), "{shown}");
    }

    #[test]
    fn strategies_map_to_the_reference_shape() {
        let s = Strategies::sort(&env(
            true,
            json!([rollout("25"), groups(&["internal", "beta-testers"])]),
        ))
        .unwrap();
        let state = s.state(FlagKind::Release).unwrap();
        assert!(state.enabled);
        assert_eq!(state.percent(), 25);
        assert_eq!(state.groups, ["internal", "beta-testers"]);

        // Numbers as well as strings; no rollout strategy is 0% for everyone else.
        let s = Strategies::sort(&env(false, json!([groups(&["qa"])]))).unwrap();
        assert_eq!(s.state(FlagKind::Ops).unwrap().rollout, 0.0);
        let mut numeric = rollout("0");
        numeric["parameters"]["rollout"] = json!(40);
        let s = Strategies::sort(&env(true, json!([numeric]))).unwrap();
        assert_eq!(s.state(FlagKind::Ops).unwrap().percent(), 40);

        // Enabled with no strategy at all: Unleash gives it to everyone.
        let s = Strategies::sort(&env(true, json!([]))).unwrap();
        assert_eq!(s.state(FlagKind::Ops).unwrap().rollout, 1.0);

        // A disabled strategy does not count.
        let mut off = groups(&["x"]);
        off["disabled"] = json!(true);
        let s = Strategies::sort(&env(true, json!([rollout("5"), off]))).unwrap();
        assert!(s.groups.is_none());
    }

    #[test]
    fn strategies_shipdeck_does_not_manage_are_refused_by_name() {
        let other =
            json!({"name": "userWithId", "title": "VIPs", "parameters": {"userIds": "1,2"}});
        let err = Strategies::sort(&env(true, json!([rollout("5"), other]))).unwrap_err();
        assert!(err.contains("`userWithId` (VIPs)"), "{err}");
        let err = Strategies::sort(&env(true, json!([rollout("5"), rollout("7")]))).unwrap_err();
        assert!(err.contains("cannot tell which one"), "{err}");
        // Unleash accepts 150; shipdeck will not pretend it is a percent.
        let s = Strategies::sort(&env(true, json!([rollout("150")]))).unwrap();
        let err = s.state(FlagKind::Release).unwrap_err();
        assert!(err.contains("`150`, outside 0..=100"), "{err}");
    }

    #[test]
    fn written_strategies_have_unleash_shape() {
        let body = serde_json::to_value(Strategy::groups("f", &["internal".into()])).unwrap();
        assert_eq!(
            body,
            json!({
                "name": "flexibleRollout",
                "title": "shipdeck groups",
                "constraints": [{"contextName": "groups", "operator": "IN", "values": ["internal"],
                                 "inverted": false, "caseInsensitive": false}],
                "parameters": {"rollout": "100", "stickiness": "default", "groupId": "f"},
                "segments": [],
                "disabled": false,
            })
        );
        let kept = Strategy::rollout("f", 25, Some("g".into()), Some("userId".into()));
        assert_eq!(kept.parameter("groupId").as_deref(), Some("g"));
        assert_eq!(kept.parameter("stickiness").as_deref(), Some("userId"));
        assert_eq!(kept.parameter("rollout").as_deref(), Some("25"));
    }

    #[test]
    fn kinds_follow_unleash_flag_types() {
        for kind in [
            FlagKind::Release,
            FlagKind::Experiment,
            FlagKind::Ops,
            FlagKind::Permission,
        ] {
            assert_eq!(kind_of(Some(unleash_type(kind)), FlagKind::Release), kind);
        }
        assert_eq!(
            kind_of(Some("kill-switch"), FlagKind::Release),
            FlagKind::Ops
        );
        assert_eq!(kind_of(None, FlagKind::Experiment), FlagKind::Experiment);
    }

    #[test]
    fn evaluation_buckets_over_the_group_id() {
        let flag = UnleashFlag {
            state: FlagState {
                enabled: true,
                rollout: 0.73,
                groups: vec![],
                kind: FlagKind::Release,
            },
            group_id: "gr1".into(),
            stickiness: "default".into(),
        };
        // gr1:123 is bucket 73.
        let e = flag.evaluate("new_checkout", "123", &[]);
        assert_eq!(e.flag, "new_checkout");
        assert_eq!(e.bucket, 73);
        assert!(e.enabled);
        let custom = UnleashFlag {
            stickiness: "tenantId".into(),
            ..flag
        };
        assert!(custom.evaluate("f", "123", &[]).reason.contains("tenantId"));
    }

    #[tokio::test]
    async fn an_unreachable_server_says_where_and_what_to_do() {
        // A port nothing listens on: bind, note it, let it go.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut b = backend(&format!("http://127.0.0.1:{port}"));
        let err = b.read().await.unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!("unleash http://127.0.0.1:{port}: GET ")),
            "{shown}"
        );
        assert!(shown.contains("check that Unleash is running"), "{shown}");
        assert!(!shown.contains("very-secret-token"), "{shown}");
    }

    #[tokio::test]
    async fn percent_above_100_is_refused_before_anything_is_sent() {
        let mut b = backend("http://127.0.0.1:9");
        let err = b
            .write(&DesiredFlag {
                enabled: true,
                percent: 150,
                groups: vec![],
            })
            .await
            .unwrap_err();
        assert!(
            matches!(err, FlagError::Percent { percent: 150, .. }),
            "{err:?}"
        );
    }
}
