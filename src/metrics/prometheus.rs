//! metrics::prometheus: the Prometheus HTTP API (and anything speaking it: Thanos, Mimir,
//! VictoriaMetrics) over reqwest with rustls. Owns the queries, the timeouts and the
//! reading of answers; never panics on a response, never prints the bearer token, and
//! never asks for "now": every query carries the engine clock as `time=`.

use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::{BoxFuture, join_all};
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use super::{MetricsError, MetricsSource, Secret, human};
use crate::engine::values::{Batch, Exposure, Outcome, Reading};
use crate::plan::Series;

/// Prometheus refuses range queries above 11,000 points per series; stay under it.
const MAX_POINTS_PER_RANGE: usize = 10_000;
/// No honest answer to one query is this large; stop reading rather than exhaust memory.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// How much of an unexpected body an error message quotes.
const SNIPPET_BYTES: usize = 120;

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

/// What messages about an answer need to know about where it came from.
struct Origin<'a> {
    base: &'a str,
    token_var: Option<&'a str>,
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
            Ok((status, body)) => match decode(status, &body, &self.origin()) {
                Ok(data) => instant_outcome(&query.name, data),
                Err(text) => Outcome::Error(text),
            },
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
            let data = decode(status, &body, &self.origin())?;
            points.extend(range_points(&query.name, data)?);
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
                human(self.timeout)
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

/// The API's envelope: `{"status": "success", "data": ...}` or
/// `{"status": "error", "errorType": ..., "error": ...}`.
#[derive(Debug, Deserialize)]
struct Envelope {
    status: String,
    data: Option<Data>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum Data {
    Vector(Vec<InstantSample>),
    Matrix(Vec<RangeSeries>),
    Scalar(Point),
    /// Never a number; its content does not matter.
    String(serde::de::IgnoredAny),
}

/// `[<unix seconds>, "<value>"]`: values travel as strings so NaN and ±Inf survive JSON.
type Point = (f64, String);

#[derive(Debug, Deserialize)]
struct InstantSample {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    /// Absent for native histograms, which carry `histogram` instead.
    value: Option<Point>,
}

#[derive(Debug, Deserialize)]
struct RangeSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<Point>,
}

/// Reads one HTTP answer of the API; `Err` is the sentence an operator sees.
fn decode(status: u16, body: &[u8], origin: &Origin<'_>) -> Result<Data, String> {
    if status == 401 || status == 403 {
        return Err(match origin.token_var {
            Some(var) => format!(
                "{} rejected the bearer token (HTTP {status}); check the token in ${var}",
                origin.base
            ),
            None => format!(
                "{} needs credentials (HTTP {status}); set `token_env` in the metrics source to \
                 the environment variable holding a bearer token",
                origin.base
            ),
        });
    }
    let ok = (200..300).contains(&status);
    let envelope = match serde_json::from_slice::<Envelope>(body) {
        Ok(envelope) => envelope,
        Err(_) if ok => {
            return Err(format!(
                "{} answered with a body that is not Prometheus API JSON: `{}`; is the url the \
                 server's base (not a web page or a proxy)?",
                origin.base,
                snippet(body)
            ));
        }
        Err(_) => {
            return Err(format!(
                "{} answered HTTP {status}: `{}`",
                origin.base,
                snippet(body)
            ));
        }
    };
    if envelope.status != "success" || !ok {
        let kind = envelope.error_type.as_deref().unwrap_or("error");
        let message = envelope
            .error
            .as_deref()
            .unwrap_or("no message")
            .to_string();
        return Err(format!(
            "Prometheus refused the query (HTTP {status}, {kind}): {message}"
        ));
    }
    envelope.data.ok_or_else(|| {
        format!(
            "{} answered success without `data`; is it a Prometheus-compatible API?",
            origin.base
        )
    })
}

fn number(series: &str, raw: &str) -> Outcome {
    match raw.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Outcome::Value(v),
        // NaN (0/0 on no traffic) and ±Inf mean "no meaningful value", never a number.
        Ok(_) => Outcome::NoData,
        Err(_) => Outcome::Error(format!(
            "series `{series}`: the value `{}` is not a number",
            raw.chars().take(40).collect::<String>()
        )),
    }
}

fn labels(metric: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = metric.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{{{}}}", inner.join(", "))
}

fn too_many(series: &str, metrics: Vec<&BTreeMap<String, String>>) -> String {
    let shown: Vec<String> = metrics.iter().take(3).map(|m| labels(m)).collect();
    let more = if metrics.len() > 3 { ", …" } else { "" };
    format!(
        "series `{series}`: the query returned {} series ({}{more}); aggregate it to one, \
         e.g. sum(...) or max(...)",
        metrics.len(),
        shown.join(", ")
    )
}

fn instant_outcome(series: &str, data: Data) -> Outcome {
    match data {
        Data::Vector(samples) => match samples.as_slice() {
            [] => Outcome::NoData,
            [one] => match &one.value {
                Some((_, raw)) => number(series, raw),
                None => Outcome::Error(format!(
                    "series `{series}`: the sample has no plain value (a native histogram?); \
                     query a number, e.g. with histogram_quantile(...)"
                )),
            },
            many => Outcome::Error(too_many(series, many.iter().map(|s| &s.metric).collect())),
        },
        Data::Scalar((_, raw)) => number(series, &raw),
        Data::Matrix(_) => Outcome::Error(format!(
            "series `{series}`: the query returns a range vector; wrap it in a function \
             such as rate(...[5m]) or drop the `[...]`"
        )),
        Data::String(_) => Outcome::Error(format!(
            "series `{series}`: the query returns a string, not a number"
        )),
    }
}

/// The points of a range answer keyed by epoch ms; an empty matrix has no points.
fn range_points(series: &str, data: Data) -> Result<Vec<(i64, Outcome)>, String> {
    match data {
        Data::Matrix(all) => match all.as_slice() {
            [] => Ok(Vec::new()),
            [one] => Ok(one
                .values
                .iter()
                .filter(|(t, _)| t.is_finite())
                .map(|(t, raw)| ((t * 1000.0).round() as i64, number(series, raw)))
                .collect()),
            many => Err(too_many(series, many.iter().map(|s| &s.metric).collect())),
        },
        Data::Vector(_) | Data::Scalar(_) | Data::String(_) => Err(format!(
            "series `{series}`: the range query did not return a matrix; is the url a \
             Prometheus-compatible API?"
        )),
    }
}

/// The start of an unexpected body, printable and on one line.
fn snippet(body: &[u8]) -> String {
    let cut = &body[..body.len().min(SNIPPET_BYTES)];
    let text: String = String::from_utf8_lossy(cut)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if body.len() > SNIPPET_BYTES {
        format!("{text}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Better, Unit};
    use proptest::prelude::*;

    const ORIGIN: Origin<'static> = Origin {
        base: "http://prom:9090",
        token_var: None,
    };

    fn series(name: &str, query: Option<&str>) -> Series {
        Series {
            name: name.into(),
            query: query.map(str::to_string),
            unit: Unit::Ratio,
            better: Better::Lower,
        }
    }

    fn instant(body: &str) -> Outcome {
        match decode(200, body.as_bytes(), &ORIGIN) {
            Ok(data) => instant_outcome("error_rate", data),
            Err(text) => Outcome::Error(text),
        }
    }

    fn error_text(outcome: Outcome) -> String {
        match outcome {
            Outcome::Error(text) => text,
            other => panic!("expected an error, got {other:?}"),
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

    #[test]
    fn one_sample_is_a_value() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{},"value":[1700000000.5,"0.0125"]}]}}"#;
        assert_eq!(instant(body), Outcome::Value(0.0125));
    }

    #[test]
    fn empty_vector_is_no_data_never_zero() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert_eq!(instant(body), Outcome::NoData);
    }

    #[test]
    fn several_samples_ask_to_aggregate() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"code":"200"},"value":[1,"1"]},
            {"metric":{"code":"500"},"value":[1,"2"]}]}}"#;
        let text = error_text(instant(body));
        assert!(text.contains("`error_rate`"), "{text}");
        assert!(text.contains("2 series"), "{text}");
        assert!(text.contains("code=\"500\""), "{text}");
        assert!(text.contains("sum("), "{text}");
    }

    #[test]
    fn scalars_count_and_non_finite_values_are_missing() {
        let scalar = r#"{"status":"success","data":{"resultType":"scalar","result":[1,"0.5"]}}"#;
        assert_eq!(instant(scalar), Outcome::Value(0.5));
        for raw in ["NaN", "+Inf", "-Inf"] {
            let body = format!(
                r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{}},"value":[1,"{raw}"]}}]}}}}"#
            );
            assert_eq!(instant(&body), Outcome::NoData, "{raw}");
        }
        let junk = r#"{"status":"success","data":{"resultType":"scalar","result":[1,"abc"]}}"#;
        assert!(error_text(instant(junk)).contains("`abc` is not a number"));
    }

    #[test]
    fn strings_matrices_and_native_histograms_are_errors() {
        let string = r#"{"status":"success","data":{"resultType":"string","result":[1,"x"]}}"#;
        assert!(error_text(instant(string)).contains("string"));
        let matrix = r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert!(error_text(instant(matrix)).contains("range vector"));
        let native = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{},"histogram":[1,{"count":"1"}]}]}}"#;
        assert!(error_text(instant(native)).contains("native histogram"));
    }

    #[test]
    fn prometheus_errors_are_shown_in_its_own_words() {
        let body = br#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unclosed left parenthesis"}"#;
        let text = decode(400, body, &ORIGIN).unwrap_err();
        assert!(text.contains("HTTP 400"), "{text}");
        assert!(text.contains("bad_data"), "{text}");
        assert!(text.contains("unclosed left parenthesis"), "{text}");
    }

    #[test]
    fn bodies_that_are_not_json_are_quoted() {
        let text = decode(200, b"<html><body>Grafana login</body></html>", &ORIGIN).unwrap_err();
        assert!(text.contains("not Prometheus API JSON"), "{text}");
        assert!(text.contains("<html><body>Grafana"), "{text}");
        let text = decode(502, b"Bad Gateway\r\n", &ORIGIN).unwrap_err();
        assert!(
            text.contains("HTTP 502") && text.contains("Bad Gateway"),
            "{text}"
        );
        let long = vec![b'x'; 10_000];
        let text = decode(200, &long, &ORIGIN).unwrap_err();
        assert!(text.len() < 400, "the quote is bounded: {}", text.len());
    }

    #[test]
    fn rejected_credentials_name_the_env_var() {
        let with = Origin {
            base: "http://prom:9090",
            token_var: Some("PROM_TOKEN"),
        };
        let text = decode(401, b"", &with).unwrap_err();
        assert!(
            text.contains("$PROM_TOKEN") && text.contains("401"),
            "{text}"
        );
        let text = decode(403, b"{}", &ORIGIN).unwrap_err();
        assert!(text.contains("token_env") && text.contains("403"), "{text}");
    }

    #[test]
    fn success_without_data_is_an_error() {
        let text = decode(200, br#"{"status":"success"}"#, &ORIGIN).unwrap_err();
        assert!(text.contains("without `data`"), "{text}");
    }

    #[test]
    fn range_answers_become_points_by_millisecond() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{},"values":[[1700000000,"1"],[1700000015.5,"NaN"]]}]}}"#;
        let data = decode(200, body, &ORIGIN).unwrap();
        let points = range_points("cpu", data).unwrap();
        assert_eq!(
            points,
            vec![
                (1_700_000_000_000, Outcome::Value(1.0)),
                (1_700_000_015_500, Outcome::NoData)
            ]
        );
        let empty = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert!(
            range_points("cpu", decode(200, empty, &ORIGIN).unwrap())
                .unwrap()
                .is_empty()
        );
        let two = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"a":"1"},"values":[]},{"metric":{"a":"2"},"values":[]}]}}"#;
        let text = range_points("cpu", decode(200, two, &ORIGIN).unwrap()).unwrap_err();
        assert!(
            text.contains("`cpu`") && text.contains("aggregate"),
            "{text}"
        );
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or(Value::Null)),
            any::<i64>().prop_map(|i| Value::Number(i.into())),
            prop_oneof![
                Just("success".to_string()),
                Just("error".to_string()),
                Just("vector".to_string()),
                Just("matrix".to_string()),
                Just("scalar".to_string()),
                Just("NaN".to_string()),
                Just("+Inf".to_string()),
                "[a-z0-9.\\-]{0,8}",
            ]
            .prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            let key = prop_oneof![
                Just("status".to_string()),
                Just("data".to_string()),
                Just("resultType".to_string()),
                Just("result".to_string()),
                Just("metric".to_string()),
                Just("value".to_string()),
                Just("values".to_string()),
                Just("errorType".to_string()),
                Just("error".to_string()),
                "[a-z]{1,6}",
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::Array),
                prop::collection::btree_map(key, inner, 0..5)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn read_everything(status: u16, body: &[u8]) {
        if let Ok(data) = decode(status, body, &ORIGIN) {
            let _ = instant_outcome("s", data);
        }
        if let Ok(data) = decode(status, body, &ORIGIN) {
            let _ = range_points("s", data);
        }
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(status in 0u16..1000, body in prop::collection::vec(any::<u8>(), 0..512)) {
            read_everything(status, &body);
        }

        #[test]
        fn any_json_never_panics(status in prop_oneof![Just(200u16), Just(400), Just(422), Just(503), 0u16..1000], value in json_value()) {
            let body = serde_json::to_vec(&value).unwrap();
            read_everything(status, &body);
        }

        #[test]
        fn a_single_sample_reads_back_as_itself(v in any::<f64>(), t in -1e10f64..1e10) {
            let body = serde_json::json!({
                "status": "success",
                "data": {"resultType": "vector", "result": [{"metric": {}, "value": [t, v.to_string()]}]}
            });
            let outcome = instant(&body.to_string());
            if v.is_finite() {
                prop_assert_eq!(outcome, Outcome::Value(v));
            } else {
                prop_assert_eq!(outcome, Outcome::NoData);
            }
        }
    }
}
