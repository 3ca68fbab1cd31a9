//! The war room across machines: each "machine" is a working directory of its own with
//! its copy of the plan, sharing nothing with the others but the database (a real
//! PostgreSQL) and the flag backend (one flag file, as a flag service would be).

mod commands;
mod failover;
mod followers;
mod restart;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::cli::bin;
use crate::support::postgres::{Postgres, database_of};

/// A release's database and flag service.
pub struct Room<'a> {
    pub pg: &'a Postgres,
    pub url: String,
    flags: tempfile::TempDir,
}

impl<'a> Room<'a> {
    pub fn new(pg: &'a Postgres) -> Room<'a> {
        let flags = tempfile::tempdir().unwrap();
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/healthy/flags.yaml"),
            flags.path().join("flags.yaml"),
        )
        .unwrap();
        Room {
            pg,
            url: pg.database(),
            flags,
        }
    }

    pub fn flag_file(&self) -> PathBuf {
        self.flags.path().join("flags.yaml")
    }

    /// A machine holding `plan` (YAML whose flag lives at `FLAGS`, filled in here).
    pub fn machine(&self, plan: &str) -> Machine {
        let dir = tempfile::tempdir().unwrap();
        let text = plan.replace("FLAGS", &self.flag_file().display().to_string());
        std::fs::write(dir.path().join("plan.yaml"), text).unwrap();
        Machine {
            dir,
            url: self.url.clone(),
        }
    }

    /// One query's rows, `|`-separated, through psql; nothing while the release's tables
    /// are not made yet or the server is down.
    pub fn sql(&self, sql: &str) -> String {
        self.pg
            .try_sql(database_of(&self.url), sql)
            .unwrap_or_default()
    }

    /// Who holds the release and with which epoch: `(operator, epoch)`.
    pub fn holder(&self) -> (String, u64) {
        let row = self.sql("SELECT holder->>'operator', epoch FROM shipdeck_releases");
        let (who, epoch) = row.split_once('|').unwrap_or(("", "0"));
        (who.to_string(), epoch.parse().unwrap_or(0))
    }

    /// The journal as `action|reason|epoch` rows, in order.
    pub fn journal(&self) -> Vec<String> {
        self.sql(
            "SELECT entry->>'action', entry->>'reason', epoch FROM shipdeck_journal ORDER BY seq",
        )
        .lines()
        .map(String::from)
        .collect()
    }

    /// The step index in the stored state (`-1` before the rollout starts).
    pub fn step(&self) -> i64 {
        self.sql("SELECT coalesce(state->'phase'->>'step', '-1') FROM shipdeck_releases")
            .parse()
            .unwrap_or(-1)
    }

    /// Waits until `check` holds, polling; panics with `what` after `limit`.
    pub fn until(
        &self,
        what: &str,
        limit: Duration,
        mut check: impl FnMut(&Room) -> bool,
    ) -> Duration {
        let start = Instant::now();
        loop {
            if check(self) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < limit,
                "{what}: not within {limit:?}\nrelease: {}\njournal: {:#?}",
                self.sql(
                    "SELECT holder->>'operator', epoch, lease_until, now() FROM shipdeck_releases"
                ),
                self.journal()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub struct Machine {
    pub dir: tempfile::TempDir,
    url: String,
}

impl Machine {
    pub fn plan(&self) -> PathBuf {
        self.dir.path().join("plan.yaml")
    }

    /// `shipdeck ARGS` on this machine, in the background; its output goes to files here.
    pub fn spawn(&self, operator: &str, args: &[&str]) -> Proc {
        let out = std::fs::File::create(self.dir.path().join(format!("{operator}.out"))).unwrap();
        let err = std::fs::File::create(self.dir.path().join(format!("{operator}.err"))).unwrap();
        let child = bin()
            .current_dir(self.dir.path())
            .env("SHIPDECK_DATABASE_URL", &self.url)
            .env("SHIPDECK_OPERATOR", operator)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap();
        Proc {
            child,
            err: self.dir.path().join(format!("{operator}.err")),
        }
    }

    /// `shipdeck ARGS` on this machine, to the end: exit code, stdout, stderr.
    pub fn run(&self, operator: &str, args: &[&str]) -> (i32, String, String) {
        crate::support::cli::output(
            bin()
                .current_dir(self.dir.path())
                .env("SHIPDECK_DATABASE_URL", &self.url)
                .env("SHIPDECK_OPERATOR", operator)
                .args(args)
                .output()
                .unwrap(),
        )
    }
}

/// A shipdeck process that dies with the test.
pub struct Proc {
    pub child: Child,
    err: PathBuf,
}

impl Proc {
    pub fn signal(&self, signal: &str) {
        let ok = std::process::Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {signal} {}", self.child.id());
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A healthy release, fast: one-second samples and `bake` per step, kept in the database.
pub fn plan(bake: &str) -> String {
    format!(
        "release: {{name: checkout-v2, version: 2.5.0, strategy: canary}}
pipeline: [{{name: PR, status: passed}}, {{name: CI, status: passed}}, {{name: QA, status: passed}}, {{name: Stage, status: passed}}, {{name: Prod}}]
flag: {{name: new_checkout, backend: {{kind: file, path: FLAGS}}}}
rollout:
  steps:
    - {{name: Internal, percent: 0, groups: [internal], bake: {bake}}}
    - {{name: Beta, percent: 5, groups: [beta-testers], bake: {bake}}}
    - {{name: Gradual 25%, percent: 25, bake: {bake}}}
    - {{name: Gradual 50%, percent: 50, bake: {bake}}}
    - {{name: Full, percent: 100, bake: {bake}}}
  watch: {bake}
metrics:
  source: {{kind: simulated, scenario: healthy, seed: 7}}
  interval: 1s
guardrails:
  rules:
    - {{metric: error_rate, above: 1%, action: pause}}
    - {{metric: error_rate, above: 5%, for: 2m, action: rollback}}
checklists:
  pre_release: []
store: {{kind: postgres}}
"
    )
}

/// A field of the flag file's `new_checkout`, as written there (`rollout` → `0.25`).
pub fn flag_field(room: &Room, field: &str) -> String {
    let text = std::fs::read_to_string(room.flag_file()).unwrap_or_default();
    let key = format!("{field}:");
    text.split("new_checkout:")
        .nth(1)
        .and_then(|s| s.lines().find(|l| l.trim_start().starts_with(&key)))
        .map(|l| l.trim().trim_start_matches(&key).trim().to_string())
        .unwrap_or_default()
}
