//! A metrics source that dies or hangs in the middle of a bake: the data goes stale, the
//! rollout pauses and is never promoted while it lasts; when the source is back the
//! rollout resumes by itself and runs to the end. Real binary, real Prometheus over
//! backfilled data (skipped without it unless `CI` is set), the engine clock inside it.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::common::*;
use crate::support::prometheus::{ERROR_RATIO_QUERY, P95_QUERY, PrometheusServer, T0};

const STEPS: [&str; 3] = ["Internal", "Beta", "Full"];
/// 60× real time: a 5-minute bake is 5 s, the 45 s stale window under a second.
const SPEED: &str = "60";

/// A plan over the harness's data: healthy until an hour in, so a run started 20 minutes
/// in finishes (3 bakes and the watch, 5 minutes each) well before the incident.
fn write_release(dir: &Path, url: &str) -> PathBuf {
    let plan = format!(
        r#"release: {{name: checkout-v2, version: 2.5.0, strategy: canary}}
pipeline:
  - {{name: PR, status: passed}}
  - {{name: CI, status: passed}}
  - {{name: Prod}}
flag:
  name: new_checkout
  backend: {{kind: file, path: flags.yaml}}
rollout:
  steps:
    - {{name: Internal, percent: 0, groups: [internal], bake: 5m}}
    - {{name: Beta, percent: 5, groups: [beta-testers], bake: 5m}}
    - {{name: Full, percent: 100, bake: 5m}}
  watch: 5m
metrics:
  source: {{kind: prometheus, url: "{url}", timeout: 1s}}
  interval: 15s
  baseline_window: 10m
  stale_after: 3
  min_samples: 3
  series:
    error_rate: {{query: '{ERROR_RATIO_QUERY}', unit: ratio}}
    p95: {{query: '{P95_QUERY}', unit: seconds}}
guardrails:
  on_stale: pause
  rules:
    - {{metric: error_rate, above: 1%, action: pause}}
    - {{metric: error_rate, above: 5%, for: 2m, action: rollback}}
    - {{metric: p95, above: 2s, action: alert}}
checklists:
  pre_release: []
"#
    );
    std::fs::write(dir.join("plan.yaml"), plan).unwrap();
    let flags = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/healthy/flags.yaml");
    std::fs::copy(flags, dir.join("flags.yaml")).unwrap();
    dir.join("plan.yaml")
}

fn start_run(plan: &Path) -> Running {
    let start = chrono::DateTime::from_timestamp(T0 + 20 * 60, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Running::spawn(cmd(&[
        "run",
        plan.to_str().unwrap(),
        "--headless",
        "--speed",
        SPEED,
        "--clock-start",
        &start,
        "--max-pause",
        "2h",
    ]))
}

fn baking_beta(plan: &Path) -> bool {
    let s = status_json(plan);
    phase(&s) == "baking"
        && s["progress"]["phase"]["step"] == 1
        && s["progress"]["confirmed"] == true
        && s["progress"]["served_ms"].as_u64().unwrap_or(0) >= 60_000
}

fn paused_stale(plan: &Path) -> bool {
    let s = status_json(plan);
    phase(&s) == "paused" && s["progress"]["phase"]["by"]["by"] == "stale"
}

/// The source is down (dead or hung) while this runs: the data goes stale, the rollout
/// pauses on Beta and stays there, with the flag held at 5%.
fn assert_outage_pauses_and_never_promotes(run: &mut Running, plan: &Path, what: &str) -> usize {
    let before = raw_journal(plan).entries.len();
    let start = std::time::Instant::now();
    while !paused_stale(plan) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no stale pause within 30 s after the source {what}\nstatus: {:#}\nstdout:\n{}\nstderr:\n{}",
            status_json(plan),
            run.stdout(),
            run.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let paused = status_json(plan);
    assert!(
        paused["progress"]["stale"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "{paused:#}"
    );
    // Longer than Beta's whole bake in engine time: a clock that baked on stale data
    // would promote in this window.
    std::thread::sleep(Duration::from_secs(8));
    let held = status_json(plan);
    assert_eq!(phase(&held), "paused", "{held:#}");
    assert_eq!(held["progress"]["phase"]["step"], 1, "{held:#}");
    assert_eq!(
        held["progress"]["served_ms"], paused["progress"]["served_ms"],
        "no bake time is served on stale data"
    );
    assert_eq!(
        run.exited(),
        None,
        "a guardrail pause waits for the data (--max-pause 2h)\nstderr:\n{}",
        run.stderr()
    );
    let flags = plan.parent().unwrap().join("flags.yaml");
    assert_eq!(flag_in(&flags), (true, 0.05), "the flag holds at Beta's 5%");

    let journal = raw_journal(plan);
    let during = &journal.entries[before..];
    let pause = during
        .iter()
        .position(|e| e.action == "pause")
        .unwrap_or_else(|| panic!("no pause journaled after the source {what}: {during:#?}"));
    assert!(
        during[pause].reason.contains("stale"),
        "{:?}",
        during[pause]
    );
    assert!(
        during.iter().all(|e| promoted_to(e, &STEPS).is_none()),
        "promoted while the source {what}: {during:#?}"
    );
    before + pause
}

/// After the source is back: fresh data, an automatic resume, then the rest of the
/// rollout in order, ending completed with the flag at 100%.
fn assert_recovers_and_completes(run: &mut Running, plan: &Path, pause_at: usize) {
    let code = run.wait(Duration::from_secs(120));
    assert_eq!(
        code,
        0,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout(),
        run.stderr()
    );
    let journal = raw_journal(plan);
    let after = &journal.entries[pause_at..];
    let fresh = after
        .iter()
        .position(|e| e.action == "fresh")
        .unwrap_or_else(|| panic!("no fresh data journaled: {after:#?}"));
    let resume = after
        .iter()
        .position(|e| e.action == "resume")
        .unwrap_or_else(|| panic!("no resume journaled: {after:#?}"));
    let full = after
        .iter()
        .position(|e| promoted_to(e, &STEPS) == Some(2))
        .unwrap_or_else(|| panic!("never promoted to Full: {after:#?}"));
    assert!(fresh <= resume && resume < full, "{after:#?}");
    assert_eq!(after[resume].operator, "shipdeck", "it resumed by itself");
    assert_eq!(
        last_decision(&journal).map(|e| e.action.as_str()),
        Some("completed")
    );
    let flags = plan.parent().unwrap().join("flags.yaml");
    assert_eq!(flag_in(&flags), (true, 1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_prometheus_pauses_the_bake_and_a_restarted_one_resumes_it() {
    let Some(mut prometheus) = PrometheusServer::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let plan = write_release(dir.path(), &prometheus.url());
    let mut run = start_run(&plan);
    wait_for("Beta to bake", Duration::from_secs(60), || {
        baking_beta(&plan)
    });

    prometheus.kill();
    let pause_at = assert_outage_pauses_and_never_promotes(&mut run, &plan, "was killed");
    assert!(
        run.stdout().contains("stale"),
        "the outage shows in the run's output:\n{}",
        run.stdout()
    );

    prometheus.restart().await;
    assert_recovers_and_completes(&mut run, &plan, pause_at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_never_answers_pauses_the_bake_until_it_answers_again() {
    let Some(prometheus) = PrometheusServer::start().await else {
        return;
    };
    let upstream: SocketAddr = prometheus
        .url()
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let proxy = Blackhole::forwarding_to(upstream);
    let dir = tempfile::tempdir().unwrap();
    let plan = write_release(dir.path(), &format!("http://{}", proxy.addr()));
    let mut run = start_run(&plan);
    wait_for("Beta to bake", Duration::from_secs(60), || {
        baking_beta(&plan)
    });

    proxy.hang();
    let pause_at = assert_outage_pauses_and_never_promotes(&mut run, &plan, "hung");
    proxy.answer();
    assert_recovers_and_completes(&mut run, &plan, pause_at);
    assert!(
        proxy.held() > 0,
        "the source really was asked while it hung"
    );
}

/// A TCP proxy on loopback that forwards to a server, or (switched to hang) accepts
/// connections and never answers on them — a source that is up but stuck. Switching to
/// hang also cuts the connections already open, so kept-alive ones cannot dodge it.
struct Blackhole {
    addr: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
    stop: Arc<AtomicBool>,
}

#[derive(Default)]
struct ProxyState {
    hang: bool,
    forwarded: Vec<TcpStream>,
    held: Vec<TcpStream>,
    held_total: usize,
}

impl Blackhole {
    fn forwarding_to(upstream: SocketAddr) -> Blackhole {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, halt) = (Arc::clone(&state), Arc::clone(&stop));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if halt.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = conn else { continue };
                let mut s = st.lock().unwrap();
                if s.hang {
                    s.held.push(client);
                    s.held_total += 1;
                    continue;
                }
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                s.forwarded.push(client.try_clone().unwrap());
                s.forwarded.push(server.try_clone().unwrap());
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        Blackhole { addr, state, stop }
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn hang(&self) {
        let mut s = self.state.lock().unwrap();
        s.hang = true;
        for conn in s.forwarded.drain(..) {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }

    fn answer(&self) {
        let mut s = self.state.lock().unwrap();
        s.hang = false;
        // Closing the stuck connections fails the requests still waiting on them.
        s.held.clear();
    }

    fn held(&self) -> usize {
        self.state.lock().unwrap().held_total
    }
}

impl Drop for Blackhole {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the stop.
        let _ = TcpStream::connect(self.addr);
        self.answer();
        for conn in self.state.lock().unwrap().forwarded.drain(..) {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }
}

/// Copies one direction of a connection until either side closes.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let _ = io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
    });
}
