//! The Prometheus source against a real Prometheus (backfilled with known data) and
//! against small loopback servers that misbehave on purpose.

use super::{at, series};
use crate::support::prometheus::{
    CPU_QUERY, CPU_RATE, ERROR_RATIO_QUERY, HEALTHY_ERROR_RATIO, INCIDENT_AT, INCIDENT_ERROR_RATIO,
    P95, P95_QUERY, PrometheusServer, SPAN, T0,
};
use chrono::DateTime;
use shipdeck::engine::values::{Batch, Exposure, Outcome};
use shipdeck::metrics::{Access, Credential, MetricsSource, Prometheus, Secret};
use shipdeck::plan::Series;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TIMEOUT: Duration = Duration::from_secs(5);

fn standard() -> Vec<Series> {
    vec![
        series("error_rate", ERROR_RATIO_QUERY),
        series("p95", P95_QUERY),
        series("cpu", CPU_QUERY),
    ]
}

fn value(batch: &Batch, name: &str) -> f64 {
    match batch.outcome(name) {
        Some(Outcome::Value(v)) => *v,
        other => panic!("{name} at {}: expected a value, got {other:?}", batch.at),
    }
}

fn error(batch: &Batch, name: &str) -> String {
    match batch.outcome(name) {
        Some(Outcome::Error(text)) => text.clone(),
        other => panic!("{name} at {}: expected an error, got {other:?}", batch.at),
    }
}

fn close(actual: f64, expected: f64, tolerance: f64) -> bool {
    (actual - expected).abs() <= tolerance * expected.abs().max(1e-9)
}

#[tokio::test]
async fn known_values_at_fixed_times() {
    let Some(prom) = PrometheusServer::start().await else {
        return;
    };
    let mut src = Prometheus::new(&prom.url(), Access::default(), TIMEOUT, &standard()).unwrap();

    // Half an hour in: healthy. The data is from 2023, so these only answer because
    // every query carries `time=`.
    let b = src.poll(at(T0 + 1800), Exposure::default()).await;
    assert_eq!(b.at, at(T0 + 1800));
    let names: Vec<_> = b.readings.iter().map(|r| r.series.as_str()).collect();
    assert_eq!(names, ["error_rate", "p95", "cpu"], "plan order");
    let err = value(&b, "error_rate");
    assert!(close(err, HEALTHY_ERROR_RATIO, 1e-6), "error ratio {err}");
    let p95 = value(&b, "p95");
    assert!(close(p95, P95, 1e-6), "p95 {p95}");
    let cpu = value(&b, "cpu");
    assert!(close(cpu, CPU_RATE, 1e-6), "cpu {cpu}");

    // Twenty minutes into the incident.
    let b = src.poll(at(INCIDENT_AT + 1200), Exposure::default()).await;
    let err = value(&b, "error_rate");
    assert!(close(err, INCIDENT_ERROR_RATIO, 1e-6), "error ratio {err}");

    // `shipdeck check` sees the same.
    let probe = src.probe(at(T0 + 1800)).await;
    assert!(matches!(probe[0].outcome, Outcome::Value(v) if close(v, HEALTHY_ERROR_RATIO, 1e-6)));
    assert!(src.describe().contains(&prom.url()));
}

#[tokio::test]
async fn empty_several_nan_and_bad_queries() {
    let Some(prom) = PrometheusServer::start().await else {
        return;
    };
    let mut src = Prometheus::new(
        &prom.url(),
        Access::default(),
        TIMEOUT,
        &[
            series("error_rate", ERROR_RATIO_QUERY),
            series(
                "not_found",
                r#"sum(rate(http_requests_total{code="404"}[1m]))"#,
            ),
            series("by_code", "rate(http_requests_total[1m])"),
            series("nan", "sum(rate(http_requests_total[1m])) * 0 / 0"),
            series("typo", "sum(rate(http_requests_total[1m])"),
        ],
    )
    .unwrap();

    let b = src.poll(at(T0 + 1800), Exposure::default()).await;
    assert!(matches!(b.outcome("error_rate"), Some(Outcome::Value(_))));
    assert_eq!(
        b.outcome("not_found"),
        Some(&Outcome::NoData),
        "empty, never zero"
    );
    assert_eq!(b.outcome("nan"), Some(&Outcome::NoData), "NaN is no data");
    let several = error(&b, "by_code");
    assert!(several.contains("`by_code`"), "{several}");
    assert!(
        several.contains("2 series") && several.contains("sum("),
        "{several}"
    );
    let typo = error(&b, "typo");
    // Prometheus' own words: "parse error: unclosed left parenthesis".
    assert!(typo.contains("bad_data"), "{typo}");
    assert!(typo.contains("parse error"), "{typo}");

    // Before the data starts there is nothing, and nothing is not zero.
    let b = src.poll(at(T0 - 3600), Exposure::default()).await;
    assert_eq!(b.outcome("error_rate"), Some(&Outcome::NoData));
}

#[tokio::test]
async fn history_over_the_range() {
    let Some(prom) = PrometheusServer::start().await else {
        return;
    };
    let mut src = Prometheus::new(&prom.url(), Access::default(), TIMEOUT, &standard()).unwrap();
    let step = Duration::from_secs(60);
    let history = src.history(at(T0 - 600), at(T0 + SPAN), step).await;
    assert_eq!(history.len(), ((SPAN + 600) / 60) as usize);
    assert_eq!(history[0].at, at(T0 - 600));
    assert!(
        history
            .windows(2)
            .all(|w| w[1].at - w[0].at == chrono::Duration::seconds(60))
    );
    for b in &history {
        let t = b.at.timestamp();
        if t < T0 {
            assert_eq!(b.outcome("error_rate"), Some(&Outcome::NoData), "at {t}");
        } else if (T0 + 60..INCIDENT_AT).contains(&t) {
            assert!(close(value(b, "error_rate"), HEALTHY_ERROR_RATIO, 1e-6));
            assert!(close(value(b, "cpu"), CPU_RATE, 1e-6));
        } else if t >= INCIDENT_AT + 60 {
            assert!(close(value(b, "error_rate"), INCIDENT_ERROR_RATIO, 1e-6));
        }
    }
    // The same instants asked one by one give the same answers.
    for i in [20, 50, 90] {
        let polled = src.poll(history[i].at, Exposure::default()).await;
        for name in ["error_rate", "p95", "cpu"] {
            assert!(close(value(&polled, name), value(&history[i], name), 1e-9));
        }
    }

    // More points than one range query may return: split, and nothing lost at the seams.
    let long = src
        .history(at(T0), at(T0 + 3 * 3600), Duration::from_secs(1))
        .await;
    assert_eq!(long.len(), 3 * 3600);
    for i in [9_998, 9_999, 10_000, 10_001] {
        assert!(
            matches!(long[i].outcome("cpu"), Some(Outcome::Value(_))) == (i as i64 <= SPAN),
            "point {i}: {:?}",
            long[i]
        );
    }
    for (i, b) in long.iter().enumerate().skip(120).take(SPAN as usize - 240) {
        assert!(matches!(b.outcome("cpu"), Some(Outcome::Value(_))), "{i}");
    }
}

#[tokio::test]
async fn killed_mid_run_then_restarted() {
    let Some(mut prom) = PrometheusServer::start().await else {
        return;
    };
    let mut src = Prometheus::new(&prom.url(), Access::default(), TIMEOUT, &standard()).unwrap();
    let b = src.poll(at(T0 + 1800), Exposure::default()).await;
    assert!(close(value(&b, "p95"), P95, 1e-6));

    prom.kill();
    let started = Instant::now();
    let b = src.poll(at(T0 + 1815), Exposure::default()).await;
    assert!(started.elapsed() < TIMEOUT, "a dead server answers at once");
    for name in ["error_rate", "p95", "cpu"] {
        let text = error(&b, name);
        assert!(text.contains(&prom.url()), "{text}");
        assert!(text.contains("connection refused"), "{text}");
    }

    prom.restart().await;
    let b = src.poll(at(T0 + 1830), Exposure::default()).await;
    assert!(close(value(&b, "p95"), P95, 1e-6), "{b:?}");
    assert!(close(value(&b, "error_rate"), HEALTHY_ERROR_RATIO, 1e-6));
    assert!(prom.data_dir().join("tsdb").is_dir());
}

#[tokio::test]
async fn a_hanging_server_times_out_in_time() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    // Accepts every connection and never says a word.
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let timeout = Duration::from_millis(500);
    let mut src = Prometheus::new(&url, Access::default(), timeout, &standard()).unwrap();
    let started = Instant::now();
    let b = src.poll(at(T0), Exposure::default()).await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(450), "{took:?}");
    assert!(
        took < timeout + Duration::from_secs(1),
        "series run concurrently: {took:?}"
    );
    for name in ["error_rate", "p95", "cpu"] {
        let text = error(&b, name);
        assert!(text.contains(&url) && text.contains("500ms"), "{text}");
        assert!(text.contains("timeout"), "{text}");
    }
    hold.abort();
}

#[tokio::test]
async fn a_refused_connection_names_the_url() {
    let port = crate::support::prometheus::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut src = Prometheus::new(&url, Access::default(), TIMEOUT, &standard()).unwrap();
    let b = src.poll(at(T0), Exposure::default()).await;
    let text = error(&b, "p95");
    assert!(
        text.contains(&url) && text.contains("connection refused"),
        "{text}"
    );
    assert!(src.history(at(T0), at(T0 + 60), Duration::from_secs(15)).await.iter().all(
        |b| matches!(b.outcome("cpu"), Some(Outcome::Error(e)) if e.contains("connection refused"))
    ));
}

/// A one-shot-per-connection HTTP server that records each request head and answers
/// with a fixed status and body.
struct Recorder {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    async fn start(status: &'static str, body: &'static str) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65_536 {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    seen.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&head).into_owned());
                    let response = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Recorder {
            url,
            requests,
            task,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const ONE_SAMPLE: &str = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"0.25"]}]}}"#;

#[tokio::test]
async fn bearer_token_headers_and_time_are_sent() {
    let server = Recorder::start("200 OK", ONE_SAMPLE).await;
    let access = Access {
        credential: Some(Credential::Bearer(Secret::new("PROM_TOKEN", "tok-123"))),
        headers: vec![("X-Scope-OrgID".to_string(), "team-a".to_string())],
        ca_file: None,
    };
    let mut src = Prometheus::new(
        &format!("{}/prefix/", server.url),
        access,
        TIMEOUT,
        &[series("cpu", "up")],
    )
    .unwrap();
    let when = DateTime::from_timestamp_millis(1_700_000_000_250).unwrap();
    let b = src.poll(when, Exposure::default()).await;
    assert_eq!(b.outcome("cpu"), Some(&Outcome::Value(0.25)));
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let head = requests[0].to_ascii_lowercase();
    assert!(
        head.starts_with("get /prefix/api/v1/query?query=up&time=1700000000.250 http/1.1"),
        "{head}"
    );
    assert!(
        head.contains("\r\nauthorization: bearer tok-123\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\nx-scope-orgid: team-a\r\n"), "{head}");

    let history = src
        .history(at(T0), at(T0 + 60), Duration::from_secs(15))
        .await;
    assert_eq!(history.len(), 4);
    let requests = server.requests();
    let head = requests[1].to_ascii_lowercase();
    assert!(
        head.starts_with(
            "get /prefix/api/v1/query_range?query=up&start=1700000000.000&end=1700000045.000&step=15.000 "
        ),
        "{head}"
    );
    assert!(
        head.contains("\r\nauthorization: bearer tok-123\r\n"),
        "{head}"
    );
}

#[tokio::test]
async fn a_rejected_token_names_the_env_var_never_the_token() {
    let server = Recorder::start("401 Unauthorized", "unauthorized").await;
    let access = Access {
        credential: Some(Credential::Bearer(Secret::new("PROM_TOKEN", "tok-123"))),
        ..Access::default()
    };
    let mut src = Prometheus::new(&server.url, access, TIMEOUT, &[series("cpu", "up")]).unwrap();
    let text = error(&src.poll(at(T0), Exposure::default()).await, "cpu");
    assert!(
        text.contains("$PROM_TOKEN") && text.contains("401"),
        "{text}"
    );
    assert!(!text.contains("tok-123"), "{text}");
    assert!(!format!("{src:?}").contains("tok-123"));
}

#[tokio::test]
async fn a_web_page_instead_of_the_api_is_quoted() {
    let server = Recorder::start("200 OK", "<!doctype html><title>Grafana</title>").await;
    let mut src = Prometheus::new(
        &server.url,
        Access::default(),
        TIMEOUT,
        &[series("cpu", "up")],
    )
    .unwrap();
    let text = error(&src.poll(at(T0), Exposure::default()).await, "cpu");
    assert!(text.contains("not Prometheus API JSON"), "{text}");
    assert!(text.contains("<!doctype html><title>Grafana"), "{text}");
}
