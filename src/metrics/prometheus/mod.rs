//! metrics::prometheus: the Prometheus HTTP API (and anything speaking it: Thanos, Mimir,
//! VictoriaMetrics, Cortex) over reqwest with rustls. Owns the queries, the timeouts, the
//! transport with its credentials and private CA (this module), the reading of answers
//! (`answer`) and past ranges read with range queries (`history`); never panics on a
//! response, never prints a token, a password or a header value, and never asks for
//! "now": every query carries the engine clock as `time=`.

mod answer;
mod history;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::{BoxFuture, join_all};
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{MetricsError, MetricsSource, Secret};
use crate::engine::values::{ArmKey, ArmReading, Batch, Exposure, Outcome, Reading};
use crate::plan::{ArmSeries, BasicAuth, Series};
use crate::support::fmt;
use answer::{Origin, Presented, instant_answer};

/// No honest answer to one query is this large; stop reading rather than exhaust memory.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// The prometheus metrics source: one instant query per series per poll, all at once.
#[derive(Debug)]
pub struct Prometheus {
    /// The url as the plan gave it, for messages (it carries no credentials: the plan
    /// refuses them, and any that come another way are masked).
    base: String,
    query_url: Url,
    range_url: Url,
    client: reqwest::Client,
    auth: Option<Auth>,
    timeout: Duration,
    series: Vec<Query>,
    /// The canary judge's series: one query per arm.
    arms: Vec<ArmQuery>,
}

#[derive(Debug, Clone)]
struct ArmQuery {
    key: ArmKey,
    canary: Query,
    baseline: Query,
}

/// How to reach a server: who to say we are, what to add to every request, and which CA
/// to trust. Secrets in it come from the environment and never print themselves.
#[derive(Debug, Clone, Default)]
pub struct Access {
    pub credential: Option<Credential>,
    /// Sent with every request (`X-Scope-OrgID: tenant` for Mimir and Cortex).
    pub headers: Vec<(String, String)>,
    /// A PEM file with the CA certificate(s) to trust instead of the system's.
    pub ca_file: Option<PathBuf>,
}

/// The one Authorization a source sends.
#[derive(Debug, Clone)]
pub enum Credential {
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
    /// HTTP basic authentication.
    Basic { username: String, password: Secret },
}

impl Access {
    /// The plan's `token_env`, `basic_auth` and `headers`, with the secrets read now from
    /// the environment; a missing or empty variable is an error naming it.
    pub fn from_env(
        token_env: Option<&str>,
        basic_auth: Option<&BasicAuth>,
        headers: &[(String, String)],
    ) -> Result<Access, MetricsError> {
        let credential = match (token_env, basic_auth) {
            (Some(var), _) => Some(Credential::Bearer(Secret::from_env(var, "token_env")?)),
            (None, Some(b)) => Some(Credential::Basic {
                username: b.username.clone(),
                password: Secret::from_env(&b.password_env, "basic_auth.password_env")?,
            }),
            (None, None) => None,
        };
        Ok(Access {
            credential,
            headers: headers.to_vec(),
            ca_file: None,
        })
    }

    pub fn with_ca_file(mut self, ca_file: Option<PathBuf>) -> Access {
        self.ca_file = ca_file;
        self
    }
}

#[derive(Debug)]
enum Auth {
    Bearer {
        /// Marked sensitive, so reqwest never shows it either.
        header: HeaderValue,
        /// The env var the token came from: what a rejected-token message names.
        var: String,
    },
    Basic {
        username: String,
        password: Secret,
    },
}

#[derive(Debug, Clone)]
struct Query {
    name: String,
    promql: String,
}

impl Prometheus {
    /// `url` is the server's base (`http://prometheus:9090`, or with a path prefix);
    /// `access` says how to authenticate and which CA to trust; `timeout` bounds each
    /// query. Every series needs a `query`.
    pub fn new(
        url: &str,
        access: Access,
        timeout: Duration,
        series: &[Series],
    ) -> Result<Prometheus, MetricsError> {
        // `base` is what messages show: never the password.
        let given = url.trim();
        let base = crate::support::escape::passwords(given).into_owned();
        let parsed = Url::parse(given).map_err(|e| MetricsError::BadUrl {
            url: base.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(MetricsError::BadUrl {
                url: base,
                reason: format!("the scheme `{}` is not http or https", parsed.scheme()),
            });
        }
        let query_url = endpoint(&parsed, "query", &base)?;
        let range_url = endpoint(&parsed, "query_range", &base)?;

        let series = series
            .iter()
            .map(|s| match &s.query {
                Some(q) if !q.trim().is_empty() => Ok(Query {
                    name: s.name.clone(),
                    promql: q.clone(),
                }),
                _ => Err(MetricsError::MissingQuery {
                    series: s.name.clone(),
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;

        let mut default_headers = HeaderMap::new();
        for (name, value) in &access.headers {
            let header =
                HeaderName::from_bytes(name.as_bytes()).map_err(|_| MetricsError::BadHeader {
                    name: name.clone(),
                    reason: "not a valid HTTP header name".into(),
                })?;
            let mut value = HeaderValue::from_str(value).map_err(|_| MetricsError::BadHeader {
                name: name.clone(),
                reason: "its value is not a valid HTTP header value (plain ASCII, no line breaks)"
                    .into(),
            })?;
            // Tenant ids and API keys travel here too: keep them out of any debug output.
            value.set_sensitive(true);
            default_headers.insert(header, value);
        }

        let auth = match access.credential {
            Some(Credential::Bearer(secret)) => {
                let mut header = HeaderValue::from_str(&format!("Bearer {}", secret.expose()))
                    .map_err(|_| MetricsError::TokenInvalid {
                        var: secret.var().to_string(),
                        key: "token_env",
                    })?;
                header.set_sensitive(true);
                Some(Auth::Bearer {
                    header,
                    var: secret.var().to_string(),
                })
            }
            Some(Credential::Basic { username, password }) => {
                Some(Auth::Basic { username, password })
            }
            None => None,
        };

        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("shipdeck/", env!("CARGO_PKG_VERSION")))
            .default_headers(default_headers)
            .connect_timeout(timeout)
            .timeout(timeout);
        if let Some(path) = &access.ca_file {
            builder = builder.tls_certs_only(ca_certificates(path)?);
        }
        let client = builder
            .build()
            .map_err(|e| MetricsError::Client(e.to_string()))?;

        Ok(Prometheus {
            base,
            query_url,
            range_url,
            client,
            auth,
            timeout,
            series,
            arms: Vec::new(),
        })
    }

    /// One poll at `at`, for `shipdeck check`: does every query answer, and with what.
    pub async fn probe(&mut self, at: DateTime<Utc>) -> Vec<Reading> {
        self.poll(at, Exposure::default()).await.readings
    }

    fn origin(&self) -> Origin<'_> {
        Origin {
            base: &self.base,
            credential: self.auth.as_ref().map(|a| match a {
                Auth::Bearer { var, .. } => Presented::Bearer { var },
                Auth::Basic { username, password } => Presented::Basic {
                    username,
                    var: password.var(),
                },
            }),
        }
    }

    async fn instant(&self, query: &Query, time: &str) -> Outcome {
        let mut url = self.query_url.clone();
        url.query_pairs_mut()
            .append_pair("query", &query.promql)
            .append_pair("time", time);
        match self.fetch(url).await {
            Ok((status, body)) => instant_answer(&query.name, status, &body, &self.origin()),
            Err(text) => Outcome::Error(text),
        }
    }

    /// One GET; the status and the body, or a sentence saying what went wrong on the way.
    async fn fetch(&self, url: Url) -> Result<(u16, Vec<u8>), String> {
        let mut response = match self.send(url.clone()).await {
            // A pooled keep-alive connection the server closed (it restarted, or a proxy
            // timed it out) fails before any answer: the query is a GET, so ask again once
            // on a fresh connection. Timeouts and failed connects are never retried.
            Err(e) if !e.is_timeout() && !e.is_connect() => self.send(url).await,
            other => other,
        }
        .map_err(|e| self.transport(&e))?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport(&e))? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(format!(
                    "{} sent an answer larger than {} MiB; is the url a Prometheus server?",
                    self.base,
                    MAX_BODY_BYTES / (1024 * 1024)
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }

    async fn send(&self, url: Url) -> Result<reqwest::Response, reqwest::Error> {
        let mut request = self.client.get(url);
        match &self.auth {
            Some(Auth::Bearer { header, .. }) => {
                request = request.header(AUTHORIZATION, header.clone());
            }
            // reqwest marks the header it builds as sensitive.
            Some(Auth::Basic { username, password }) => {
                request = request.basic_auth(username, Some(password.expose()));
            }
            None => {}
        }
        request.send().await
    }

    /// A failed request, told the way an operator needs it: where, and what to check.
    fn transport(&self, err: &reqwest::Error) -> String {
        let cause = root_cause(err);
        if err.is_timeout() {
            format!(
                "no answer from {} within {} (the source's timeout); check that the server is \
                 up and not overloaded, or raise `timeout`",
                self.base,
                fmt::exact_duration(self.timeout)
            )
        } else if err.is_connect() && refused(err) {
            format!(
                "cannot connect to {}: connection refused; is Prometheus running and listening there?",
                self.base
            )
        } else if err.is_connect() && certificate(err) {
            format!(
                "cannot connect to {}: {cause}; if a private CA signed the server's certificate, \
                 give its PEM file as `ca_file` in the metrics source",
                self.base
            )
        } else if err.is_connect() {
            format!("cannot connect to {}: {cause}", self.base)
        } else {
            format!("request to {} failed: {cause}", self.base)
        }
    }
}

impl Prometheus {
    /// Measures the canary judge's series too, each arm by its own query.
    pub fn with_arms(mut self, arms: &[ArmSeries]) -> Result<Prometheus, MetricsError> {
        let query = |key: &ArmKey, q: &Option<String>| match q {
            Some(q) if !q.trim().is_empty() => Ok(Query {
                name: key.name().to_string(),
                promql: q.clone(),
            }),
            _ => Err(MetricsError::MissingQuery {
                series: format!("canary {}", key.name()),
            }),
        };
        self.arms = arms
            .iter()
            .map(|a| {
                Ok(ArmQuery {
                    key: a.key.clone(),
                    canary: query(&a.key, &a.canary)?,
                    baseline: query(&a.key, &a.baseline)?,
                })
            })
            .collect::<Result<_, MetricsError>>()?;
        Ok(self)
    }
}

impl MetricsSource for Prometheus {
    fn describe(&self) -> String {
        format!("prometheus {} ({} series)", self.base, self.series.len())
    }

    fn poll(&mut self, at: DateTime<Utc>, _exposure: Exposure) -> BoxFuture<'_, Batch> {
        async move {
            let time = unix_seconds(at.timestamp_millis());
            let outcomes = join_all(self.series.iter().map(|q| self.instant(q, &time)));
            let arms = join_all(self.arms.iter().map(|a| async {
                let (canary, baseline) = futures::join!(
                    self.instant(&a.canary, &time),
                    self.instant(&a.baseline, &time)
                );
                ArmReading {
                    key: a.key.clone(),
                    canary,
                    baseline,
                }
            }));
            let (outcomes, arms) = futures::join!(outcomes, arms);
            Batch {
                arms,
                at,
                readings: self
                    .series
                    .iter()
                    .zip(outcomes)
                    .map(|(q, outcome)| Reading {
                        series: q.name.clone(),
                        outcome,
                    })
                    .collect(),
            }
        }
        .boxed()
    }

    fn history(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        step: Duration,
    ) -> BoxFuture<'_, Vec<Batch>> {
        async move { self.range_batches(from, to, step).await }.boxed()
    }
}

/// `base` + `/api/v1/<name>`, keeping any path prefix (`http://host/prometheus`).
fn endpoint(base: &Url, name: &str, given: &str) -> Result<Url, MetricsError> {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut()
        .map_err(|()| MetricsError::BadUrl {
            url: given.to_string(),
            reason: "it cannot have a path".into(),
        })?
        .pop_if_empty()
        .extend(["api", "v1", name]);
    Ok(url)
}

/// Epoch milliseconds as the API's decimal seconds, exactly (no float rounding).
fn unix_seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The CA certificates in a PEM file, or why there are none.
fn ca_certificates(path: &Path) -> Result<Vec<reqwest::Certificate>, MetricsError> {
    let fail = |reason: String| MetricsError::CaFile {
        path: path.display().to_string(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| fail(root_cause(&e)))?;
    if certs.is_empty() {
        return Err(fail("it holds no PEM certificate".into()));
    }
    Ok(certs)
}

/// The TLS handshake failed over the server's certificate (rustls says so in its errors).
fn certificate(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if e.to_string().contains("certificate") {
            return true;
        }
        cause = e.source();
    }
    false
}

fn refused(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        cause = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Better, Unit};

    fn series(name: &str, query: Option<&str>) -> Series {
        Series {
            name: name.into(),
            query: query.map(str::to_string),
            unit: Unit::Ratio,
            better: Better::Lower,
        }
    }

    #[test]
    fn seconds_are_exact_decimals() {
        assert_eq!(unix_seconds(1_700_000_000_123), "1700000000.123");
        assert_eq!(unix_seconds(15_000), "15.000");
        assert_eq!(unix_seconds(-1_500), "-2.500");
    }

    #[test]
    fn endpoints_keep_a_path_prefix() {
        let base = Url::parse("http://h:9090/prom/").unwrap();
        assert_eq!(
            endpoint(&base, "query", "x").unwrap().as_str(),
            "http://h:9090/prom/api/v1/query"
        );
        let base = Url::parse("https://h").unwrap();
        assert_eq!(
            endpoint(&base, "query_range", "x").unwrap().as_str(),
            "https://h/api/v1/query_range"
        );
    }

    fn none() -> Access {
        Access::default()
    }

    fn bearer(var: &str, value: &str) -> Access {
        Access {
            credential: Some(Credential::Bearer(Secret::new(var, value))),
            ..Access::default()
        }
    }

    #[test]
    fn construction_errors_say_where() {
        let ok = [series("p95", Some("up"))];
        let timeout = Duration::from_secs(2);
        let err = Prometheus::new("not a url", none(), timeout, &ok).unwrap_err();
        assert!(err.to_string().contains("`not a url`"), "{err}");
        let err = Prometheus::new("ftp://h", none(), timeout, &ok).unwrap_err();
        assert!(err.to_string().contains("ftp"), "{err}");
        let err = Prometheus::new("http://h", none(), timeout, &[series("cpu", None)]).unwrap_err();
        assert!(err.to_string().contains("`cpu`"), "{err}");
        let headers = Access {
            headers: vec![("bad header".to_string(), "v".to_string())],
            ..Access::default()
        };
        let err = Prometheus::new("http://h", headers, timeout, &ok).unwrap_err();
        assert!(err.to_string().contains("`bad header`"), "{err}");
        let err = Prometheus::new(
            "http://h",
            bearer("PROM_TOKEN", "s3cr3t\nvalue"),
            timeout,
            &ok,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("`PROM_TOKEN`") && !text.contains("s3cr3t"),
            "{text}"
        );
        // A password that came in the URL another way is masked in every message.
        let err = Prometheus::new("ftp://admin:hunter2@h", none(), timeout, &ok).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("admin:***@h") && !text.contains("hunter2"),
            "{text}"
        );
    }

    #[test]
    fn a_ca_file_that_is_missing_or_not_pem_is_named() {
        let ok = [series("p95", Some("up"))];
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("ca.pem");
        let with = |ca: &Path| Access {
            ca_file: Some(ca.to_path_buf()),
            ..Access::default()
        };
        let err =
            Prometheus::new("https://h", with(&missing), Duration::from_secs(1), &ok).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&missing.display().to_string()) && text.contains("ca_file"),
            "{text}"
        );
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not a certificate\n").unwrap();
        let err =
            Prometheus::new("https://h", with(&garbage), Duration::from_secs(1), &ok).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("garbage.pem") && text.contains("no PEM certificate"),
            "{text}"
        );
    }

    #[test]
    fn secrets_are_read_from_the_named_env_vars() {
        let var = "SHIPDECK_TEST_SURELY_UNSET_PROM_TOKEN_91c2";
        let err = Access::from_env(Some(var), None, &[]).unwrap_err();
        assert!(
            err.to_string().contains(&format!("`{var}`")) && err.to_string().contains("token_env"),
            "{err}"
        );
        let basic = BasicAuth {
            username: "grafana".into(),
            password_env: var.into(),
        };
        let err = Access::from_env(None, Some(&basic), &[]).unwrap_err();
        assert!(
            err.to_string().contains(&format!("`{var}`"))
                && err.to_string().contains("basic_auth.password_env"),
            "{err}"
        );
        // PATH is set wherever cargo runs tests: it stands in for a secret's variable.
        let a = Access::from_env(Some("PATH"), None, &[]).unwrap();
        assert!(matches!(a.credential, Some(Credential::Bearer(s)) if s.var() == "PATH"));
        let basic = BasicAuth {
            username: "grafana".into(),
            password_env: "PATH".into(),
        };
        let a = Access::from_env(None, Some(&basic), &[]).unwrap();
        assert!(matches!(
            a.credential,
            Some(Credential::Basic { ref username, ref password })
                if username == "grafana" && password.var() == "PATH"
        ));
        assert!(
            Access::from_env(None, None, &[])
                .unwrap()
                .credential
                .is_none()
        );
    }

    #[test]
    fn debug_never_shows_the_secrets_or_header_values() {
        let mut access = bearer("PROM_TOKEN", "s3cr3t-token");
        access.headers = vec![("X-Api-Key".to_string(), "k3y-value".to_string())];
        let p = Prometheus::new(
            "http://h:9090",
            access,
            Duration::from_secs(1),
            &[series("p95", Some("up"))],
        )
        .unwrap();
        let debug = format!("{p:?}");
        assert!(!debug.contains("s3cr3t-token"), "{debug}");
        assert!(!debug.contains("k3y-value"), "{debug}");
        assert_eq!(p.describe(), "prometheus http://h:9090 (1 series)");
        let basic = Access {
            credential: Some(Credential::Basic {
                username: "grafana".into(),
                password: Secret::new("PROM_PASSWORD", "pa55word"),
            }),
            ..Access::default()
        };
        let p = Prometheus::new(
            "http://h:9090",
            basic,
            Duration::from_secs(1),
            &[series("p95", Some("up"))],
        )
        .unwrap();
        assert!(!format!("{p:?}").contains("pa55word"));
    }
}
