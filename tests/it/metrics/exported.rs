//! shipdeck's own metrics (`--metrics-listen`): a real Prometheus scrapes a headless run
//! of the healthy release every second, and `shipdeck_rollout_percent` climbs the plan's
//! steps in order; the text itself is the Prometheus format with the release's labels.

use crate::support::prometheus::{PrometheusServer, free_port};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn release() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/healthy");
    for f in ["plan.yaml", "flags.yaml"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let plan = dir.path().join("plan.yaml");
    (dir, plan)
}

fn shipdeck() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_shipdeck"));
    cmd.env("SHIPDECK_OPERATOR", "tester");
    cmd
}

/// GETs `url` until it answers 200 (the run may still be opening); the body.
async fn get_text(url: &str, limit: Duration) -> String {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            let ct = r.headers()["content-type"].to_str().unwrap().to_string();
            assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8");
            return r.text().await.unwrap();
        }
        assert!(Instant::now() < deadline, "{url} never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_rollout_climbing_its_steps() {
    let port = free_port();
    let target = format!("127.0.0.1:{port}");
    let Some(prom) = PrometheusServer::scraping(&target).await else {
        return;
    };
    let (_dir, plan) = release();
    let started = chrono::Utc::now();
    // Seven hours of engine time (five steps of an hour, a two-hour watch) in about 25 s.
    let mut child = shipdeck()
        .args([
            "run",
            plan.to_str().unwrap(),
            "--headless",
            "--speed",
            "1000",
        ])
        .args(["--metrics-listen", &target])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    // The text, as a scraper gets it, while the run goes on.
    let text = get_text(&format!("http://{target}/metrics"), Duration::from_secs(20)).await;
    let labels = r#"release="checkout-v2",version="2.5.0",flag="new_checkout""#;
    for family in [
        "shipdeck_rollout_percent",
        "shipdeck_step",
        "shipdeck_controller_heartbeat_timestamp_seconds",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family} gauge\n{family}{{{labels}}} ")),
            "{family}:\n{text}"
        );
    }
    assert!(
        text.contains("# TYPE shipdeck_guardrail_trips_total counter\n"),
        "{text}"
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("shipdeck_release_state{") && l.ends_with(" 1"))
            .count(),
        1,
        "one state at a time:\n{text}"
    );
    assert!(
        text.contains(&format!(
            r#"shipdeck_guardrail_limit{{{labels},rule="error_rate above 1% → pause",metric="error_rate",action="pause"}} 0.01"#
        )),
        "{text}"
    );

    let status = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the headless run did not finish");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .unwrap();
    assert_eq!(status.code(), Some(0), "the healthy release completes");

    // What Prometheus stored, second by second, over the run.
    let ended = chrono::Utc::now();
    let mut url = reqwest::Url::parse(&format!("{}/api/v1/query_range", prom.url())).unwrap();
    url.query_pairs_mut()
        .append_pair("query", "shipdeck_rollout_percent{job=\"shipdeck\"}")
        .append_pair("start", &started.timestamp().to_string())
        .append_pair("end", &(ended.timestamp() + 1).to_string())
        .append_pair("step", "1");
    let answer: serde_json::Value = reqwest::Client::new()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let result = &answer["data"]["result"];
    assert_eq!(result.as_array().map(Vec::len), Some(1), "{answer}");
    assert_eq!(result[0]["metric"]["release"], "checkout-v2", "{answer}");
    assert_eq!(result[0]["metric"]["flag"], "new_checkout", "{answer}");
    let mut seen: Vec<u32> = Vec::new();
    for point in result[0]["values"].as_array().unwrap() {
        let v: u32 = point[1].as_str().unwrap().parse().unwrap();
        if seen.last() != Some(&v) {
            seen.push(v);
        }
    }
    // Never down; through the steps' percents (a one-second scrape may miss a short one)
    // to the full rollout.
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert!(
        seen.iter().all(|v| [0, 5, 25, 50, 100].contains(v)),
        "{seen:?}"
    );
    assert_eq!(seen.last(), Some(&100), "{seen:?}");
    assert!(seen.len() >= 3, "the climb was seen step by step: {seen:?}");
}

#[tokio::test]
async fn a_port_in_use_is_refused_before_anything_opens() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (dir, plan) = release();
    let out = shipdeck()
        .args(["run", plan.to_str().unwrap(), "--headless"])
        .args(["--metrics-listen", &addr])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("--metrics-listen {addr}: cannot listen there")),
        "{stderr}"
    );
    assert!(
        !dir.path().join(".shipdeck").exists(),
        "nothing was opened or locked"
    );
}
