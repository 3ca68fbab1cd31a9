//! metrics::prometheus: the Prometheus HTTP API (and anything speaking it: Thanos, Mimir,
//! VictoriaMetrics) over reqwest with rustls. Owns the queries, the timeouts and the
//! transport (this module) and the reading of answers (`answer`); never panics on a
//! response, never prints the bearer token, and never asks for "now": every query carries
//! the engine clock as `time=`.

mod answer;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::{BoxFuture, join_all};
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use std::collections::HashMap;
use std::time::Duration;

use super::{MetricsError, MetricsSource, Secret};
use crate::engine::values::{Batch, Exposure, Outcome, Reading};
use crate::plan::Series;
use crate::support::fmt;
use answer::{Origin, instant_answer, range_answer};

/// Prometheus refuses range queries above 11,000 points per series; stay under it.
const MAX_POINTS_PER_RANGE: usize = 10_000;
/// No honest answer to one query is this large; stop reading rather than exhaust memory.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// The prometheus metrics source: one instant query per series per poll, all at once.
#[derive(Debug)]
pub struct Prometheus {
    /// The url as the plan gave it, for messages.
    base: String,
    query_url: Url,
    range_url: Url,
    client: reqwest::Client,
    auth: Option<Auth>,
    timeout: Duration,
    series: Vec<Query>,
}

#[derive(Debug)]
struct Auth {
    /// Marked sensitive, so reqwest never shows it either.
    header: HeaderValue,
    /// The env var the token came from: what a rejected-token message names.
    var: String,
}

#[derive(Debug, Clone)]
struct Query {
    name: String,
    promql: String,
}

impl Prometheus {
    /// `url` is the server's base (`http://prometheus:9090`, or with a path prefix);
    /// `timeout` bounds each query; `headers` go with every request (e.g. `X-Scope-OrgID`).
    /// Every series needs a `query`.
    pub fn new(
        url: &str,
        token: Option<Secret>,
        timeout: Duration,
        headers: &[(String, String)],
        series: &[Series],
    ) -> Result<Prometheus, MetricsError> {
        let base = url.trim().to_string();
        let parsed = Url::parse(&base).map_err(|e| MetricsError::BadUrl {
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
        for (name, value) in headers {
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

        let auth = match token {
            Some(secret) => {
                let mut header = HeaderValue::from_str(&format!("Bearer {}", secret.expose()))
                    .map_err(|_| MetricsError::TokenInvalid {
                        var: secret.var().to_string(),
                    })?;
                header.set_sensitive(true);
                Some(Auth {
                    header,
                    var: secret.var().to_string(),
                })
            }
            None => None,
        };

        let client = reqwest::Client::builder()
            .user_agent(concat!("shipdeck/", env!("CARGO_PKG_VERSION")))
            .default_headers(default_headers)
            .connect_timeout(timeout)
            .timeout(timeout)
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
        })
    }

    /// As [`Prometheus::new`], with the bearer token read now from the environment variable
    /// `token_env` (the plan's `SourceSpec::Prometheus` fields); a missing or empty variable
    /// is an error naming it.
    pub fn from_env(
        url: &str,
        token_env: Option<&str>,
        timeout: Duration,
        headers: &[(String, String)],
        series: &[Series],
    ) -> Result<Prometheus, MetricsError> {
        let token = token_env.map(Secret::from_env).transpose()?;
        Prometheus::new(url, token, timeout, headers, series)
    }

    /// One poll at `at`, for `shipdeck check`: does every query answer, and with what.
    pub async fn probe(&mut self, at: DateTime<Utc>) -> Vec<Reading> {
        self.poll(at, Exposure::default()).await.readings
    }

    fn origin(&self) -> Origin<'_> {
        Origin {
            base: &self.base,
            token_var: self.auth.as_ref().map(|a| a.var.as_str()),
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

    /// Every point of `query` at `instants` (epoch ms, evenly `step_ms` apart), keyed by time.
    async fn range(
        &self,
        query: &Query,
        instants: &[i64],
        step_ms: i64,
    ) -> Result<HashMap<i64, Outcome>, String> {
        let mut points = HashMap::new();
        for chunk in instants.chunks(MAX_POINTS_PER_RANGE) {
            let (Some(first), Some(last)) = (chunk.first(), chunk.last()) else {
                continue;
            };
            let mut url = self.range_url.clone();
            url.query_pairs_mut()
                .append_pair("query", &query.promql)
                .append_pair("start", &unix_seconds(*first))
                .append_pair("end", &unix_seconds(*last))
                .append_pair("step", &unix_seconds(step_ms));
            let (status, body) = self.fetch(url).await?;
            points.extend(range_answer(&query.name, status, &body, &self.origin())?);
        }
        Ok(points)
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
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth.header.clone());
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
        } else if err.is_connect() {
            format!("cannot connect to {}: {cause}", self.base)
        } else {
            format!("request to {} failed: {cause}", self.base)
        }
    }
}

impl MetricsSource for Prometheus {
    fn describe(&self) -> String {
        format!("prometheus {} ({} series)", self.base, self.series.len())
    }

    fn poll(&mut self, at: DateTime<Utc>, _exposure: Exposure) -> BoxFuture<'_, Batch> {
        async move {
            let time = unix_seconds(at.timestamp_millis());
            let outcomes = join_all(self.series.iter().map(|q| self.instant(q, &time))).await;
            Batch {
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
        async move {
            let step_ms = i64::try_from(step.as_millis()).unwrap_or(i64::MAX).max(1);
            let (from_ms, to_ms) = (from.timestamp_millis(), to.timestamp_millis());
            let mut instants = Vec::new();
            let mut t = from_ms;
            while t < to_ms {
                instants.push(t);
                match t.checked_add(step_ms) {
                    Some(next) => t = next,
                    None => break,
                }
            }
            if instants.is_empty() {
                return Vec::new();
            }
            let per_series = join_all(
                self.series
                    .iter()
                    .map(|q| self.range(q, &instants, step_ms)),
            )
            .await;
            instants
                .iter()
                .filter_map(|&t| {
                    let at = DateTime::<Utc>::from_timestamp_millis(t)?;
                    let readings = self
                        .series
                        .iter()
                        .zip(&per_series)
                        .map(|(q, points)| Reading {
                            series: q.name.clone(),
                            outcome: match points {
                                Ok(points) => points.get(&t).cloned().unwrap_or(Outcome::NoData),
                                Err(text) => Outcome::Error(text.clone()),
                            },
                        })
                        .collect();
                    Some(Batch { at, readings })
                })
                .collect()
        }
        .boxed()
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

    #[test]
    fn construction_errors_say_where() {
        let ok = [series("p95", Some("up"))];
        let timeout = Duration::from_secs(2);
        let err = Prometheus::new("not a url", None, timeout, &[], &ok).unwrap_err();
        assert!(err.to_string().contains("`not a url`"), "{err}");
        let err = Prometheus::new("ftp://h", None, timeout, &[], &ok).unwrap_err();
        assert!(err.to_string().contains("ftp"), "{err}");
        let err =
            Prometheus::new("http://h", None, timeout, &[], &[series("cpu", None)]).unwrap_err();
        assert!(err.to_string().contains("`cpu`"), "{err}");
        let headers = [("bad header".to_string(), "v".to_string())];
        let err = Prometheus::new("http://h", None, timeout, &headers, &ok).unwrap_err();
        assert!(err.to_string().contains("`bad header`"), "{err}");
        let token = Secret::new("PROM_TOKEN", "s3cr3t\nvalue");
        let err = Prometheus::new("http://h", Some(token), timeout, &[], &ok).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("`PROM_TOKEN`") && !text.contains("s3cr3t"),
            "{text}"
        );
    }

    #[test]
    fn the_token_is_read_from_the_named_env_var() {
        let ok = [series("p95", Some("up"))];
        let timeout = Duration::from_secs(2);
        let var = "SHIPDECK_TEST_SURELY_UNSET_PROM_TOKEN_91c2";
        let err = Prometheus::from_env("http://h", Some(var), timeout, &[], &ok).unwrap_err();
        assert!(err.to_string().contains(&format!("`{var}`")), "{err}");
        // PATH is set wherever cargo runs tests: it stands in for a token variable.
        let p = Prometheus::from_env("http://h", Some("PATH"), timeout, &[], &ok).unwrap();
        assert_eq!(p.auth.as_ref().map(|a| a.var.as_str()), Some("PATH"));
        let p = Prometheus::from_env("http://h", None, timeout, &[], &ok).unwrap();
        assert!(p.auth.is_none());
    }

    #[test]
    fn debug_never_shows_the_token_or_header_values() {
        let token = Secret::new("PROM_TOKEN", "s3cr3t-token");
        let headers = [("X-Api-Key".to_string(), "k3y-value".to_string())];
        let p = Prometheus::new(
            "http://h:9090",
            Some(token),
            Duration::from_secs(1),
            &headers,
            &[series("p95", Some("up"))],
        )
        .unwrap();
        let debug = format!("{p:?}");
        assert!(!debug.contains("s3cr3t-token"), "{debug}");
        assert!(!debug.contains("k3y-value"), "{debug}");
        assert_eq!(p.describe(), "prometheus http://h:9090 (1 series)");
    }
}
