//! One `Prometheus::poll` (three series, concurrent, parsed into outcomes) against plain
//! reqwest GETs of the same three queries (concurrent, parsed into `serde_json::Value`):
//! the cost shipdeck adds on top of the HTTP round trips. Runs against a real Prometheus
//! with the test data when one is installed, else against a loopback server answering a
//! fixed one-sample vector.
//!
//! `cargo bench --bench prometheus_poll`

// The integration tests' Prometheus harness; a bench needs only the server and its queries.
#[allow(dead_code)]
#[path = "../tests/it/support/prometheus.rs"]
mod prometheus;
// What that harness makes its TLS certificates with.
#[allow(dead_code)]
#[path = "../tests/it/support/tls.rs"]
mod tls;

use chrono::DateTime;
use criterion::{Criterion, criterion_group, criterion_main};
use futures::future::join_all;
use prometheus::{CPU_QUERY, ERROR_RATIO_QUERY, P95_QUERY, PrometheusServer, T0};
use shipdeck::engine::values::Exposure;
use shipdeck::metrics::{Access, MetricsSource, Prometheus};
use shipdeck::plan::{Better, Series, Unit};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const QUERIES: [(&str, &str); 3] = [
    ("error_rate", ERROR_RATIO_QUERY),
    ("p95", P95_QUERY),
    ("cpu", CPU_QUERY),
];

const ONE_SAMPLE: &str = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700001800,"0.002"]}]}}"#;

/// A keep-alive loopback server answering every request with `ONE_SAMPLE`.
async fn fixed_answer_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let mut pending = Vec::new();
                loop {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => pending.extend_from_slice(&buf[..n]),
                    }
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        pending.drain(..end + 4);
                        let response = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{ONE_SAMPLE}",
                            ONE_SAMPLE.len()
                        );
                        if socket.write_all(response.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    url
}

fn poll(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let prometheus = rt.block_on(PrometheusServer::start());
    let url = match &prometheus {
        Some(server) => server.url(),
        None => rt.block_on(fixed_answer_server()),
    };
    let target = if prometheus.is_some() {
        "prometheus"
    } else {
        "loopback"
    };
    let series: Vec<Series> = QUERIES
        .iter()
        .map(|(name, query)| Series {
            name: name.to_string(),
            query: Some(query.to_string()),
            unit: Unit::Ratio,
            better: Better::Lower,
        })
        .collect();
    let mut source =
        Prometheus::new(&url, Access::default(), Duration::from_secs(5), &series).unwrap();
    let at = DateTime::from_timestamp(T0 + 1800, 0).unwrap();

    let client = reqwest::Client::new();
    let endpoint = reqwest::Url::parse(&format!("{url}/api/v1/query")).unwrap();
    let time = format!("{}", T0 + 1800);

    let mut group = c.benchmark_group(format!("poll_3_series_{target}"));
    group.bench_function("shipdeck_poll", |b| {
        b.iter(|| rt.block_on(source.poll(at, Exposure::default())))
    });
    group.bench_function("plain_reqwest", |b| {
        b.iter(|| {
            rt.block_on(join_all(QUERIES.iter().map(|(_, query)| {
                let mut url = endpoint.clone();
                url.query_pairs_mut()
                    .append_pair("query", query)
                    .append_pair("time", &time);
                let client = client.clone();
                async move {
                    let body = client.get(url).send().await.unwrap().bytes().await.unwrap();
                    serde_json::from_slice::<serde_json::Value>(&body).unwrap()
                }
            })))
        })
    });
    group.finish();
    drop(prometheus);
}

criterion_group!(benches, poll);
criterion_main!(benches);
