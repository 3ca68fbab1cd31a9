//! `status` and `journal` on a journal of 100,000 entries (about 27 MB) stream it: each
//! runs with its data segment limited to 48 MiB (RLIMIT_DATA, which a journal held in
//! memory whole exceeds) and prints every entry.

use chrono::{TimeZone, Utc};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use crate::fault::common::state_dir;
use crate::support::cli::{bin, output, release};
use shipdeck::engine::journal::{Entry, Kind};

const ENTRIES: usize = 100_000;
/// Kilobytes, as `ulimit -d` takes them.
const DATA_LIMIT_KB: u32 = 48 * 1024;

/// A journal shaped like a long run's: promotes and flag confirmations with their values.
fn write_journal(path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    let mut out = std::io::BufWriter::new(file);
    let start = Utc.timestamp_opt(1_700_000_000, 0).single().unwrap();
    for i in 0..ENTRIES {
        let entry = Entry {
            at: start + chrono::Duration::minutes(i as i64),
            operator: "shipdeck".into(),
            kind: if i % 2 == 0 {
                Kind::Decision
            } else {
                Kind::Note
            },
            action: if i % 2 == 0 { "promote" } else { "flag" }.into(),
            reason: format!(
                "→ Gradual {}% after the previous step baked 1h on healthy data",
                i % 101
            ),
            step: Some("Gradual".into()),
            values: BTreeMap::from([
                ("cpu".into(), 0.4 + (i % 7) as f64 / 100.0),
                ("error_rate".into(), 0.001),
                ("p95".into(), 0.3),
            ]),
            explain: None,
            canary: None,
            origin: None,
        };
        serde_json::to_writer(&mut out, &entry).unwrap();
        out.write_all(b"\n").unwrap();
    }
    out.flush().unwrap();
}

/// The binary with `args`, its data segment limited: exit code, stdout, stderr.
fn run_limited(args: &[&str]) -> (i32, String, String) {
    let script = format!("ulimit -d {DATA_LIMIT_KB} && exec \"$0\" \"$@\"");
    let program = bin().get_program().to_owned();
    let mut command = std::process::Command::new("sh");
    command
        .arg("-c")
        .arg(script)
        .arg(program)
        .args(args)
        .env("SHIPDECK_OPERATOR", "tester");
    output(command.output().unwrap())
}

#[test]
fn status_and_journal_stream_a_large_journal() {
    let (_dir, plan) = release("healthy");
    let dir = state_dir(&plan);
    std::fs::create_dir(&dir).unwrap();
    write_journal(&dir.join("journal.jsonl"));
    let p = plan.to_str().unwrap();

    let (code, stdout, stderr) = run_limited(&["status", p, "--json"]);
    assert_eq!(code, 0, "status: {stderr}");
    assert!(
        stdout.contains(&format!("\"journal_entries\": {ENTRIES}")),
        "{stdout}"
    );

    let (code, stdout, stderr) = run_limited(&["journal", p]);
    assert_eq!(code, 0, "journal: {}", stderr.lines().last().unwrap_or(""));
    assert_eq!(stdout.lines().count(), ENTRIES);

    let (code, stdout, stderr) = run_limited(&["journal", p, "--markdown"]);
    assert_eq!(
        code,
        0,
        "journal --markdown: {}",
        stderr.lines().last().unwrap_or("")
    );
    assert!(
        stdout.contains(&format!("{ENTRIES} entries from ")),
        "{}",
        &stdout[..200.min(stdout.len())]
    );
    assert_eq!(
        stdout.lines().filter(|l| l.contains("| promote |")).count(),
        ENTRIES / 2
    );
}
