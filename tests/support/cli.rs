//! The real binary from a test: a command with a known operator, a copy of a fixture
//! release in a fresh directory, and a run to the end.
// Each test binary uses a different part of this; the rest is not dead, only unused there.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_shipdeck"));
    c.env("SHIPDECK_OPERATOR", "tester").env_remove("NO_COLOR");
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
