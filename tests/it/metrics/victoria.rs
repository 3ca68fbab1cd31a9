//! The Prometheus source against VictoriaMetrics: anything that speaks the Prometheus
//! query API works. Same data and known values as the Prometheus tests; the server is
//! Debian's `victoria-metrics` on a free loopback port (CI fails without it, elsewhere the
//! test is skipped: scripts/deps/victoria-metrics.sh installs it).

use super::{at, series};
use crate::support::prometheus::{
    CPU_QUERY, CPU_RATE, ERROR_RATIO_QUERY, HEALTHY_ERROR_RATIO, INCIDENT_AT, INCIDENT_ERROR_RATIO,
    P95, P95_QUERY, T0, free_port, prometheus_text_ms,
};
use shipdeck::engine::values::{Batch, Exposure, Outcome};
use shipdeck::metrics::{Access, MetricsSource, Prometheus};
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A VictoriaMetrics process with the test data imported and flushed; killed on drop.
struct Victoria {
    url: String,
    dir: tempfile::TempDir,
    child: Child,
}

impl Victoria {
    async fn start() -> Option<Victoria> {
        let binary = match std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join("victoria-metrics"))
                .find(|p| p.is_file())
        }) {
            Some(binary) => binary,
            None if std::env::var_os("CI").is_some() => panic!(
                "victoria-metrics not found on PATH and CI is set; install it with \
                 scripts/deps/victoria-metrics.sh"
            ),
            None => {
                eprintln!("skipping: victoria-metrics not installed");
                return None;
            }
        };
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let log = std::fs::File::create(dir.path().join("vm.log")).unwrap();
        let child = Command::new(binary)
            .arg(format!(
                "-storageDataPath={}",
                dir.path().join("data").display()
            ))
            .arg("-retentionPeriod=100y")
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .arg("-loggerLevel=WARN")
            .arg("-search.disableCache")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut vm = Victoria { url, dir, child };
        vm.wait_healthy().await;
        vm.import().await;
        Some(vm)
    }

    async fn wait_healthy(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(resp) = client.get(format!("{}/health", self.url)).send().await
                && resp.status().is_success()
            {
                return;
            }
            let exited = self.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                panic!(
                    "victoria-metrics at {} did not become healthy (exit {exited:?}):\n{}",
                    self.url,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn import(&self) {
        let client = reqwest::Client::new();
        let resp = client
            .post(format!("{}/api/v1/import/prometheus", self.url))
            .body(prometheus_text_ms())
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "import: {}", resp.status());
        let resp = client
            .get(format!("{}/internal/force_flush", self.url))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "flush: {}", resp.status());
    }

    fn log(&self) -> String {
        let mut log = String::new();
        if let Ok(mut f) = std::fs::File::open(self.dir.path().join("vm.log")) {
            let _ = f.read_to_string(&mut log);
        }
        log
    }
}

impl Drop for Victoria {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn value(batch: &Batch, name: &str) -> f64 {
    match batch.outcome(name) {
        Some(Outcome::Value(v)) => *v,
        other => panic!("{name} at {}: expected a value, got {other:?}", batch.at),
    }
}

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() <= 0.01 * expected.abs()
}

#[tokio::test]
async fn victoria_metrics_answers_like_prometheus() {
    let Some(vm) = Victoria::start().await else {
        return;
    };
    let mut src = Prometheus::new(
        &vm.url,
        Access::default(),
        Duration::from_secs(5),
        &[
            series("error_rate", ERROR_RATIO_QUERY),
            series("p95", P95_QUERY),
            series("cpu", CPU_QUERY),
            series(
                "not_found",
                r#"sum(rate(http_requests_total{code="404"}[1m]))"#,
            ),
            series("by_code", "rate(http_requests_total[1m])"),
            series("typo", "sum(rate(http_requests_total[1m])"),
        ],
    )
    .unwrap();

    // Imported data becomes searchable shortly after the flush; wait for it, boundedly.
    let deadline = Instant::now() + Duration::from_secs(30);
    let b = loop {
        let b = src.poll(at(T0 + 1800), Exposure::default()).await;
        if matches!(b.outcome("cpu"), Some(Outcome::Value(_))) || Instant::now() > deadline {
            break b;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(close(value(&b, "error_rate"), HEALTHY_ERROR_RATIO), "{b:?}");
    assert!(close(value(&b, "p95"), P95), "{b:?}");
    assert!(close(value(&b, "cpu"), CPU_RATE), "{b:?}");
    assert_eq!(b.outcome("not_found"), Some(&Outcome::NoData));
    assert!(
        matches!(b.outcome("by_code"), Some(Outcome::Error(e)) if e.contains("`by_code`") && e.contains("2 series")),
        "{b:?}"
    );
    assert!(
        matches!(b.outcome("typo"), Some(Outcome::Error(e)) if e.contains("refused the query")),
        "{b:?}"
    );

    let b = src.poll(at(INCIDENT_AT + 1200), Exposure::default()).await;
    assert!(
        close(value(&b, "error_rate"), INCIDENT_ERROR_RATIO),
        "{b:?}"
    );

    let history = src
        .history(at(T0 + 600), at(T0 + 5400), Duration::from_secs(300))
        .await;
    assert_eq!(history.len(), 16);
    for b in &history {
        let t = b.at.timestamp();
        let expected = if t < INCIDENT_AT {
            HEALTHY_ERROR_RATIO
        } else if t >= INCIDENT_AT + 120 {
            INCIDENT_ERROR_RATIO
        } else {
            continue;
        };
        assert!(close(value(b, "error_rate"), expected), "at {t}: {b:?}");
    }
    assert!(vm.dir.path().join("data").is_dir());
}
