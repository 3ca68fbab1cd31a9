//! The real binary from a test: a command with a known operator, a copy of a fixture
//! release in a fresh directory, a run to the end, a run in the background that dies with
//! the test, and `status --json` polled until a condition holds.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shipdeck"));
    // The user's own keymap and theme stay out of the tests.
    c.env("SHIPDECK_OPERATOR", "tester")
        .env_remove("NO_COLOR")
        .env("XDG_CONFIG_HOME", "/nonexistent/shipdeck-tests");
    c
}

/// The binary with these arguments, ready to spawn.
pub fn cmd(args: &[&str]) -> Command {
    let mut c = bin();
    c.args(args);
    c
}

/// A copy of a fixture release in a fresh directory (the state lands beside it).
pub fn release(fixture: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(fixture);
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
    }
    let plan = dir.path().join("plan.yaml");
    (dir, plan)
}

/// Runs the binary to the end: exit code, stdout, stderr.
pub fn run(args: &[&str]) -> (i32, String, String) {
    output(bin().args(args).output().unwrap())
}

pub fn output(out: Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn status_json(plan: &Path) -> serde_json::Value {
    let (code, stdout, stderr) = run(&["status", plan.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "status failed: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("status --json: {e}\n{stdout}"))
}

/// `progress.phase.state` of `status --json` (`ready`, `baking`, `paused`, ...), or `none`.
pub fn phase(status: &serde_json::Value) -> String {
    status["progress"]["phase"]["state"]
        .as_str()
        .unwrap_or("none")
        .to_string()
}

pub fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A child process that is SIGKILLed and reaped when the test ends, pass or fail, and
/// whose output goes to files the test can read while it runs.
pub struct Running {
    child: Option<Child>,
    out: PathBuf,
    err: PathBuf,
    _logs: tempfile::TempDir,
}

impl Running {
    pub fn spawn(mut cmd: Command) -> Running {
        let logs = tempfile::tempdir().unwrap();
        let out = logs.path().join("stdout");
        let err = logs.path().join("stderr");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        Running {
            child: Some(child),
            out,
            err,
            _logs: logs,
        }
    }

    pub fn id(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// The exit code once it has exited, without waiting.
    pub fn exited(&mut self) -> Option<i32> {
        let child = self.child.as_mut()?;
        child.try_wait().unwrap().map(|s| s.code().unwrap_or(-1))
    }

    /// Waits for the exit code, failing the test after `limit`.
    pub fn wait(&mut self, limit: Duration) -> i32 {
        let start = Instant::now();
        loop {
            if let Some(code) = self.exited() {
                return code;
            }
            assert!(
                start.elapsed() < limit,
                "still running after {limit:?}\nstdout:\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, as a crash or the OOM killer would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}
