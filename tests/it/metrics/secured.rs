//! The Prometheus source against a real Prometheus that asks for basic auth over TLS
//! (its `--web.config.file`), with a CA and certificate the test made: the right user and
//! CA get the known values; a wrong password, or no CA, is an error that names the URL
//! and what to check, never the secret, and never a value.

use super::{at, series};
use crate::support::prometheus::{
    CPU_QUERY, CPU_RATE, ERROR_RATIO_QUERY, HEALTHY_ERROR_RATIO, PASSWORD, PrometheusServer, T0,
    USER,
};
use shipdeck::engine::values::{Batch, Exposure, Outcome};
use shipdeck::metrics::{Access, Credential, MetricsSource, Prometheus, Secret};
use std::path::Path;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

fn access(password: &str, ca: Option<&Path>) -> Access {
    Access {
        credential: Some(Credential::Basic {
            username: USER.into(),
            password: Secret::new("PROM_PASSWORD", password),
        }),
        headers: vec![("X-Scope-OrgID".into(), "payments".into())],
        ca_file: ca.map(Path::to_path_buf),
    }
}

fn errors(batch: &Batch) -> Vec<String> {
    batch
        .readings
        .iter()
        .map(|r| match &r.outcome {
            Outcome::Error(text) => text.clone(),
            other => panic!("{}: expected an error, got {other:?}", r.series),
        })
        .collect()
}

#[tokio::test]
async fn basic_auth_over_tls_with_the_private_ca_reads_the_known_values() {
    let Some(prom) = PrometheusServer::start_secured().await else {
        return;
    };
    assert!(prom.url().starts_with("https://"));
    let ca = prom.ca_file();
    let all = [
        series("error_rate", ERROR_RATIO_QUERY),
        series("cpu", CPU_QUERY),
    ];
    let mut src = Prometheus::new(&prom.url(), access(PASSWORD, Some(&ca)), TIMEOUT, &all).unwrap();
    let b = src.poll(at(T0 + 1800), Exposure::default()).await;
    match (b.outcome("error_rate"), b.outcome("cpu")) {
        (Some(Outcome::Value(e)), Some(Outcome::Value(c))) => {
            assert!((e - HEALTHY_ERROR_RATIO).abs() < 1e-9, "{e}");
            assert!((c - CPU_RATE).abs() < 1e-9, "{c}");
        }
        other => panic!("{other:?}"),
    }
    // The range query that fills the sparklines goes the same way.
    let history = src
        .history(at(T0 + 600), at(T0 + 660), Duration::from_secs(15))
        .await;
    assert_eq!(history.len(), 4);
    assert!(
        history
            .iter()
            .all(|b| matches!(b.outcome("cpu"), Some(Outcome::Value(_)))),
        "{history:?}"
    );
}

#[tokio::test]
async fn a_wrong_password_names_the_url_and_the_variable_never_the_secret() {
    let Some(prom) = PrometheusServer::start_secured().await else {
        return;
    };
    let ca = prom.ca_file();
    let wrong = "not-the-password-93a1";
    let all = [series("cpu", CPU_QUERY)];
    let mut src = Prometheus::new(&prom.url(), access(wrong, Some(&ca)), TIMEOUT, &all).unwrap();
    let b = src.poll(at(T0 + 1800), Exposure::default()).await;
    for text in errors(&b) {
        assert!(text.contains(&prom.url()), "{text}");
        assert!(text.contains("401"), "{text}");
        assert!(
            text.contains("$PROM_PASSWORD") && text.contains(USER),
            "{text}"
        );
        assert!(!text.contains(wrong) && !text.contains(PASSWORD), "{text}");
    }
    // The history is errors too: no point of the sparkline is made up.
    let history = src
        .history(at(T0 + 600), at(T0 + 660), Duration::from_secs(15))
        .await;
    assert!(
        history
            .iter()
            .all(|b| matches!(b.outcome("cpu"), Some(Outcome::Error(_)))),
        "{history:?}"
    );
}

#[tokio::test]
async fn without_the_private_ca_the_certificate_is_refused_with_a_hint() {
    let Some(prom) = PrometheusServer::start_secured().await else {
        return;
    };
    let all = [series("cpu", CPU_QUERY)];
    let mut src = Prometheus::new(&prom.url(), access(PASSWORD, None), TIMEOUT, &all).unwrap();
    let b = src.poll(at(T0 + 1800), Exposure::default()).await;
    for text in errors(&b) {
        assert!(text.contains(&prom.url()), "{text}");
        assert!(text.contains("ca_file"), "{text}");
        assert!(!text.contains(PASSWORD), "{text}");
    }
}

/// The plan's keys, end to end: `shipdeck check` reads `basic_auth`, `headers` and
/// `ca_file`, takes the password from the environment, and asks the real server.
#[tokio::test]
async fn check_reads_the_plan_keys_and_the_password_from_the_environment() {
    let Some(prom) = PrometheusServer::start_secured().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(prom.ca_file(), dir.path().join("prom-ca.pem")).unwrap();
    let plan = dir.path().join("plan.yaml");
    std::fs::write(
        &plan,
        format!(
            r#"release: {{name: checkout-v2, version: 2.5.0, strategy: canary}}
flag:
  name: new_checkout
  backend: {{kind: file, path: flags.yaml}}
rollout:
  steps:
    - {{name: All, percent: 100, bake: 1m}}
metrics:
  source:
    kind: prometheus
    url: {url}
    basic_auth: {{username: {USER}, password_env: SHIPDECK_TEST_PROM_PASSWORD}}
    headers: {{X-Scope-OrgID: payments}}
    ca_file: prom-ca.pem
  series:
    cpu: {{query: '{CPU_QUERY}', unit: ratio}}
"#,
            url = prom.url()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("flags.yaml"),
        "flags:\n  new_checkout: {enabled: false, rollout: 0.0, userGroups: [], kind: release}\n",
    )
    .unwrap();
    let check = |password: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_shipdeck"))
            .args(["check", plan.to_str().unwrap(), "--at"])
            .arg(at(T0 + 1800).to_rfc3339())
            .env("SHIPDECK_TEST_PROM_PASSWORD", password)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    // The server is another process: blocking this test's thread holds up nothing.
    let (good, bad) = (check(PASSWORD), check("wrong-one-5b7e"));
    let (code, text) = ((good.0, bad.0), (good.1, bad.1));
    assert_eq!(code.0, Some(0), "{}", text.0);
    assert!(text.0.contains("cpu  ok 35%"), "{}", text.0);
    assert!(
        text.0
            .contains(&format!("user {USER} with $SHIPDECK_TEST_PROM_PASSWORD")),
        "{}",
        text.0
    );
    assert_eq!(code.1, Some(2), "{}", text.1);
    assert!(
        text.1.contains("401") && text.1.contains("$SHIPDECK_TEST_PROM_PASSWORD"),
        "{}",
        text.1
    );
    assert!(
        !text.1.contains("wrong-one-5b7e") && !text.0.contains(PASSWORD),
        "{}",
        text.1
    );
}
