//! A real Prometheus for tests: Debian's `prometheus` binary on a free loopback port, no
//! scrape jobs, over a TSDB backfilled (with `promtool`) from deterministic OpenMetrics
//! data at fixed past timestamps. The process is killed on drop.
//!
//! Missing binaries: with `CI` set the test fails and says how to install them
//! (`scripts/deps/prometheus.sh`); elsewhere it prints "skipping: prometheus not installed".

use std::fmt::Write as _;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Start of the backfilled data, in unix seconds (2023-11-14T22:13:20Z).
pub const T0: i64 = 1_700_000_000;
/// Samples every 15s from `T0` for 90 minutes.
pub const SCRAPE: i64 = 15;
pub const SPAN: i64 = 90 * 60;
/// The incident begins one hour in.
pub const INCIDENT_AT: i64 = T0 + 3600;

/// Requests per second, all codes.
pub const RPS: f64 = 100.0;
/// Error ratio before the incident and during it.
pub const HEALTHY_ERROR_RATIO: f64 = 0.002;
pub const INCIDENT_ERROR_RATIO: f64 = 0.08;
/// Cumulative share of requests at or under each bucket bound: p95 falls in (0.5, 1],
/// 5 of the 8 points into it: 0.5 + 5/8 × 0.5 = 0.8125 s.
pub const BUCKETS: [(&str, f64); 6] = [
    ("0.1", 0.50),
    ("0.25", 0.80),
    ("0.5", 0.90),
    ("1", 0.98),
    ("2.5", 1.00),
    ("+Inf", 1.00),
];
pub const P95: f64 = 0.8125;
/// CPU seconds per second.
pub const CPU_RATE: f64 = 0.35;

pub const ERROR_RATIO_QUERY: &str =
    r#"sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))"#;
pub const P95_QUERY: &str =
    "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))";
pub const CPU_QUERY: &str = "rate(process_cpu_seconds_total[1m])";

/// Both binaries on PATH, or the CI rule applied: `None` means "skip this test".
pub fn binaries() -> Option<(PathBuf, PathBuf)> {
    match (which("prometheus"), which("promtool")) {
        (Some(server), Some(tool)) => Some((server, tool)),
        _ if std::env::var_os("CI").is_some() => panic!(
            "prometheus/promtool not found on PATH and CI is set; install them with \
             scripts/deps/prometheus.sh"
        ),
        _ => {
            eprintln!(
                "skipping: prometheus not installed (scripts/deps/prometheus.sh installs it)"
            );
            None
        }
    }
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A free loopback port (the kernel's pick; free again by the time we return it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The test data as OpenMetrics text: counters of requests by code, a latency histogram
/// and CPU seconds, sampled every 15s over 90 minutes.
pub fn openmetrics() -> String {
    let times: Vec<i64> = (0..=SPAN / SCRAPE).map(|i| T0 + i * SCRAPE).collect();
    // Requests so far at `t`, split by error ratio phase.
    let errors_at = |t: i64| {
        let healthy = (t.min(INCIDENT_AT) - T0) as f64;
        let incident = (t - INCIDENT_AT).max(0) as f64;
        RPS * (healthy * HEALTHY_ERROR_RATIO + incident * INCIDENT_ERROR_RATIO)
    };
    let total_at = |t: i64| RPS * (t - T0) as f64;
    let mut out = String::new();

    out.push_str("# TYPE http_requests counter\n");
    for t in &times {
        let ok = total_at(*t) - errors_at(*t);
        writeln!(out, "http_requests_total{{code=\"200\"}} {ok} {t}").unwrap();
    }
    for t in &times {
        let err = errors_at(*t);
        writeln!(out, "http_requests_total{{code=\"500\"}} {err} {t}").unwrap();
    }

    out.push_str("# TYPE http_request_duration_seconds histogram\n");
    for t in &times {
        let n = total_at(*t);
        for (le, share) in BUCKETS {
            let v = n * share;
            writeln!(
                out,
                "http_request_duration_seconds_bucket{{le=\"{le}\"}} {v} {t}"
            )
            .unwrap();
        }
        writeln!(out, "http_request_duration_seconds_count {n} {t}").unwrap();
        writeln!(out, "http_request_duration_seconds_sum {} {t}", n * 0.2).unwrap();
    }

    out.push_str("# TYPE process_cpu_seconds counter\n");
    for t in &times {
        let v = CPU_RATE * (t - T0) as f64;
        writeln!(out, "process_cpu_seconds_total {v} {t}").unwrap();
    }
    out.push_str("# EOF\n");
    out
}

/// The same data in the Prometheus text format (millisecond timestamps), as
/// VictoriaMetrics' `/api/v1/import/prometheus` takes it. Comment lines pass as they are.
pub fn prometheus_text_ms() -> String {
    let mut out = String::new();
    for line in openmetrics().lines() {
        match line.rsplit_once(' ') {
            Some((sample, secs)) if !line.starts_with('#') => {
                writeln!(out, "{sample} {secs}000").unwrap();
            }
            _ => writeln!(out, "{line}").unwrap(),
        }
    }
    out
}

/// The canary judge's data ([`arms_openmetrics`]): from here on a canary serves beside
/// the baseline; before it the baseline serves every request.
pub const CANARY_FROM: i64 = T0 + 1800;
/// The share of requests the canary serves, each request drawn on its own.
pub const CANARY_SHARE: f64 = 0.05;
/// The arms are scraped every 5s, 2s off the engine's 15s poll grid as a real scrape is:
/// `increase(…[15s])` at a poll sees three samples and extrapolates, so counts per
/// interval come out fractional, as they do against a real server.
const ARMS_SCRAPE: i64 = 5;
const ARMS_SCRAPE_OFFSET: i64 = 2;
/// Latency is log-normal, median 200ms and σ 0.6 (p95 ≈ 0.54s), in buckets 100ms wide
/// around the p95 so that `histogram_quantile` follows a shift of a few percent.
const ARMS_MEDIAN: f64 = 0.2;
const ARMS_SIGMA: f64 = 0.6;
const ARMS_BUCKETS: [&str; 13] = [
    "0.05", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1", "1.5", "2.5",
];
/// The draws' seed: the same data on every run.
const ARMS_SEED: u64 = 0x5eed_ca7a_0015;

/// Two arms of one service told apart by `track` (`track="canary"` and
/// `track="baseline"`), each with `http_requests_total` by `code` and the latency histogram
/// `http_request_duration_seconds`, over the same 90 minutes from [`T0`] as
/// [`openmetrics`]. Requests are drawn one by one, [`RPS`] a second on average: each goes
/// to the canary with [`CANARY_SHARE`] from [`CANARY_FROM`] on, fails with
/// [`HEALTHY_ERROR_RATIO`], and takes a log-normal latency, multiplied by
/// `canary_latency` on the canary (1.15: a 15% regression). The draws are the same
/// whatever the factor, so a regressed data set differs from a healthy one only there.
pub fn arms_openmetrics(canary_latency: f64) -> String {
    #[derive(Clone, Default)]
    struct Arm {
        ok: u64,
        errors: u64,
        /// Cumulative: requests at or under each bound of `ARMS_BUCKETS`.
        buckets: [u64; ARMS_BUCKETS.len()],
        count: u64,
        sum: f64,
    }
    const TRACKS: [&str; 2] = ["canary", "baseline"];
    let bounds: Vec<f64> = ARMS_BUCKETS.iter().map(|b| b.parse().unwrap()).collect();
    let times: Vec<i64> = (0..=SPAN / ARMS_SCRAPE)
        .map(|i| T0 + ARMS_SCRAPE_OFFSET + i * ARMS_SCRAPE)
        .collect();
    let mut rng = SplitMix(ARMS_SEED);
    let mut arms = [Arm::default(), Arm::default()];
    // The counters as each scrape saw them.
    let mut scraped: Vec<[Arm; 2]> = Vec::with_capacity(times.len());
    for i in 0..times.len() {
        // The canary's series begin at 0 on its first scrape: it serves from the next one.
        let canary_live = i > 0 && times[i - 1] >= CANARY_FROM;
        let mean = RPS * ARMS_SCRAPE as f64;
        let n = if i == 0 {
            0
        } else {
            (mean + mean.sqrt() * rng.normal()).round().max(0.0) as u64
        };
        for _ in 0..n {
            let canary = canary_live && rng.unit() < CANARY_SHARE;
            let failed = rng.unit() < HEALTHY_ERROR_RATIO;
            let mut latency = ARMS_MEDIAN * (ARMS_SIGMA * rng.normal()).exp();
            if canary {
                latency *= canary_latency;
            }
            let arm = &mut arms[usize::from(!canary)];
            if failed {
                arm.errors += 1;
            } else {
                arm.ok += 1;
            }
            for (slot, bound) in arm.buckets.iter_mut().zip(&bounds) {
                *slot += u64::from(latency <= *bound);
            }
            arm.count += 1;
            arm.sum += latency;
        }
        scraped.push(arms.clone());
    }
    // The canary has no series before it serves.
    let shown = |arm: usize, i: usize| arm == 1 || times[i] >= CANARY_FROM;
    let mut out = String::new();

    out.push_str("# TYPE http_requests counter\n");
    for (a, track) in TRACKS.iter().enumerate() {
        for (code, failed) in [("200", false), ("500", true)] {
            for (i, t) in times.iter().enumerate().filter(|(i, _)| shown(a, *i)) {
                let arm = &scraped[i][a];
                let v = if failed { arm.errors } else { arm.ok };
                writeln!(
                    out,
                    "http_requests_total{{track=\"{track}\",code=\"{code}\"}} {v} {t}"
                )
                .unwrap();
            }
        }
    }

    out.push_str("# TYPE http_request_duration_seconds histogram\n");
    for (i, t) in times.iter().enumerate() {
        for (a, track) in TRACKS.iter().enumerate().filter(|(a, _)| shown(*a, i)) {
            let arm = &scraped[i][a];
            for (le, v) in ARMS_BUCKETS.iter().zip(arm.buckets) {
                writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{track=\"{track}\",le=\"{le}\"}} {v} {t}"
                )
                .unwrap();
            }
            let (count, sum) = (arm.count, arm.sum);
            writeln!(
                out,
                "http_request_duration_seconds_bucket{{track=\"{track}\",le=\"+Inf\"}} {count} {t}"
            )
            .unwrap();
            writeln!(
                out,
                "http_request_duration_seconds_count{{track=\"{track}\"}} {count} {t}"
            )
            .unwrap();
            writeln!(
                out,
                "http_request_duration_seconds_sum{{track=\"{track}\"}} {sum} {t}"
            )
            .unwrap();
        }
    }
    out.push_str("# EOF\n");
    out
}

/// SplitMix64: a few lines of deterministic randomness for the test data.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal deviate (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// The user a secured Prometheus accepts, and its password.
pub const USER: &str = "grafana";
pub const PASSWORD: &str = "release-day-7";
/// bcrypt of `PASSWORD` at the lowest cost Prometheus takes (4), so that each request
/// checks fast; made once with Python's `crypt.crypt(PASSWORD, mksalt(METHOD_BLOWFISH, rounds=16))`.
const PASSWORD_BCRYPT: &str = "$2b$04$mkTNaUMyBAAvl1EdBor2P.PHDv5w5KoJRR7ZM6eBGoRNCmlqGIIy6";

/// A running Prometheus over the backfilled data.
pub struct PrometheusServer {
    binary: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
    /// Served over TLS with basic auth (`--web.config.file`): the CA's PEM.
    secured: Option<String>,
}

impl PrometheusServer {
    /// Backfills a fresh TSDB and starts Prometheus on it; `None` when not installed (and
    /// `CI` is unset).
    pub async fn start() -> Option<PrometheusServer> {
        PrometheusServer::start_with(false, None).await
    }

    /// As [`PrometheusServer::start`], also scraping `target` (`127.0.0.1:PORT`, path
    /// `/metrics`) every second as the job `shipdeck`.
    pub async fn scraping(target: &str) -> Option<PrometheusServer> {
        PrometheusServer::start_with(false, Some(target)).await
    }

    /// As [`PrometheusServer::start`], served only over TLS, with a certificate for
    /// 127.0.0.1 from a CA of the test's own (`ca.pem` in [`PrometheusServer::data_dir`]),
    /// and only to [`USER`] with [`PASSWORD`], through Prometheus's `--web.config.file`.
    pub async fn start_secured() -> Option<PrometheusServer> {
        PrometheusServer::start_with(true, None).await
    }

    /// Path of the CA certificate that signed a secured server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// As [`PrometheusServer::start`], over `data` (OpenMetrics text) instead of the
    /// usual test data: [`arms_openmetrics`] for the canary judge's two arms.
    pub async fn start_over(data: &str) -> Option<PrometheusServer> {
        PrometheusServer::start_from(data, false, None).await
    }

    async fn start_with(secured: bool, scrape: Option<&str>) -> Option<PrometheusServer> {
        PrometheusServer::start_from(&openmetrics(), secured, scrape).await
    }

    async fn start_from(
        openmetrics: &str,
        secured: bool,
        scrape: Option<&str>,
    ) -> Option<PrometheusServer> {
        let (binary, promtool) = binaries()?;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data.om");
        std::fs::write(&data, openmetrics).unwrap();
        let tsdb = dir.path().join("tsdb");
        let out = Command::new(&promtool)
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&data)
            .arg(&tsdb)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let config = match scrape {
            Some(target) => format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: shipdeck\n    static_configs:\n      - targets: ['{target}']\n"
            ),
            None => "global:\n  scrape_interval: 15s\nscrape_configs: []\n".to_string(),
        };
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let secured = secured.then(|| secure(dir.path()));
        let mut server = PrometheusServer {
            binary,
            dir,
            port: free_port(),
            child: None,
            secured,
        };
        server.spawn().await;
        Some(server)
    }

    pub fn url(&self) -> String {
        let scheme = if self.secured.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same data directory and port.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    async fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("prometheus.log")).unwrap();
        let mut command = Command::new(&self.binary);
        if self.secured.is_some() {
            command.arg(format!(
                "--web.config.file={}",
                self.dir.path().join("web.yml").display()
            ));
        }
        let child = command
            .arg(format!(
                "--config.file={}",
                self.dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                self.dir.path().join("tsdb").display()
            ))
            .arg("--storage.tsdb.retention.time=100y")
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.wait_ready().await;
    }

    async fn wait_ready(&mut self) {
        let mut client = reqwest::Client::builder().timeout(Duration::from_secs(2));
        if let Some(ca) = &self.secured {
            client =
                client.tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()]);
        }
        let client = client.build().unwrap();
        let ready = format!("{}/-/ready", self.url());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut request = client.get(&ready);
            if self.secured.is_some() {
                request = request.basic_auth(USER, Some(PASSWORD));
            }
            if let Ok(resp) = request.send().await
                && resp.status().is_success()
            {
                return;
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                let mut log = String::new();
                if let Ok(mut f) = std::fs::File::open(self.dir.path().join("prometheus.log")) {
                    let _ = f.read_to_string(&mut log);
                }
                panic!(
                    "prometheus on port {} did not become ready (exit: {exited:?}):\n{log}",
                    self.port
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A CA, a certificate for 127.0.0.1 signed by it, and the web config that serves TLS
/// with them and asks for basic auth; returns the CA's PEM.
fn secure(dir: &Path) -> String {
    let ca = super::tls::certificates(dir);
    std::fs::write(
        dir.join("web.yml"),
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  {USER}: '{PASSWORD_BCRYPT}'\n",
            dir.join("server.crt").display(),
            dir.join("server.key").display()
        ),
    )
    .unwrap();
    ca
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        self.kill();
    }
}
