//! Shared by the `fault` tests, which break shipdeck on purpose: the real binary on
//! copies of fixture releases, children that die with the test, journals read raw from
//! disk, and ways to make a path unwritable that hold even for root.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use shipdeck::engine::journal::Entry;

pub use crate::support::accounts::{euid, journaled_as};
pub use crate::support::cli::{Running, cmd, output, phase, release, run, status_json, wait_for};

/// The journal as it lies on disk: every whole line decoded, and the last line kept
/// apart when it does not decode. A line before the last that does not decode fails the
/// test: only the last line may ever be torn.
pub struct RawJournal {
    pub entries: Vec<Entry>,
    pub torn_last: Option<String>,
}

pub fn raw_journal(plan: &Path) -> RawJournal {
    let path = state_dir(plan).join("journal.jsonl");
    let bytes = std::fs::read(&path).unwrap_or_default();
    let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    let mut journal = RawJournal {
        entries: Vec::new(),
        torn_last: None,
    };
    if bytes.is_empty() {
        return journal;
    }
    let lines: Vec<&[u8]> = body.split(|b| *b == b'\n').collect();
    let last = lines.len() - 1;
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_slice::<Entry>(line) {
            Ok(e) => journal.entries.push(e),
            Err(_) if i == last => {
                journal.torn_last = Some(String::from_utf8_lossy(line).into_owned());
            }
            Err(e) => panic!(
                "journal line {} of {} is torn or corrupt ({e}): {}",
                i + 1,
                lines.len(),
                String::from_utf8_lossy(line)
            ),
        }
    }
    journal
}

pub fn state_dir(plan: &Path) -> PathBuf {
    plan.parent().unwrap().join(".shipdeck")
}

/// The step index a `promote` entry moved to, by the step names of the plan.
pub fn promoted_to(e: &Entry, steps: &[&str]) -> Option<usize> {
    if e.action != "promote" {
        return None;
    }
    steps.iter().position(|s| e.step.as_deref() == Some(*s))
}

/// `(enabled, rollout)` of the flag `new_checkout` in a flag file.
pub fn flag_in(flags: &Path) -> (bool, f64) {
    let state = shipdeck::flags::read_file_flag(flags, "new_checkout")
        .unwrap()
        .expect("the flag is in the file");
    (state.enabled, state.rollout)
}

/// How a path was made unwritable; undone on drop.
#[derive(Debug)]
pub enum Unwritable {
    /// `chattr +i`: the inode refuses every change, even from root (needs
    /// CAP_LINUX_IMMUTABLE and a file system that keeps the flag, such as ext4 or xfs).
    Immutable(PathBuf),
    /// Write permission removed: enough for anyone but root.
    ModeBits(PathBuf, u32),
}

impl Unwritable {
    /// Makes `path` (a file or a folder) refuse writes for the user the tests run as.
    /// Root ignores mode bits, so as root the inode is marked immutable instead. `None`
    /// (with the reason printed) when neither can be done here.
    pub fn make(path: &Path) -> Option<Unwritable> {
        use std::os::unix::fs::PermissionsExt;
        if euid() == Some(0) {
            let out = Command::new("chattr").arg("+i").arg(path).output();
            return match out {
                Ok(o) if o.status.success() => Some(Unwritable::Immutable(path.to_path_buf())),
                Ok(o) => {
                    eprintln!(
                        "skipping: running as root and `chattr +i {}` failed: {}",
                        path.display(),
                        String::from_utf8_lossy(&o.stderr).trim()
                    );
                    None
                }
                Err(e) => {
                    eprintln!("skipping: running as root and chattr is not available: {e}");
                    None
                }
            };
        }
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & !0o222)).unwrap();
        Some(Unwritable::ModeBits(path.to_path_buf(), mode))
    }

    pub fn how(&self) -> &'static str {
        match self {
            Unwritable::Immutable(_) => "chattr +i",
            Unwritable::ModeBits(..) => "chmod a-w",
        }
    }

    /// Makes it writable again (also done on drop).
    pub fn undo(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        match self {
            Unwritable::Immutable(p) => {
                let _ = Command::new("chattr").arg("-i").arg(&*p).status();
            }
            Unwritable::ModeBits(p, mode) => {
                let _ = std::fs::set_permissions(&*p, std::fs::Permissions::from_mode(*mode));
            }
        }
    }
}

impl Drop for Unwritable {
    fn drop(&mut self) {
        // An immutable file left behind would outlive the test's temporary directory.
        self.undo();
    }
}

/// A small deterministic generator (splitmix64) for seeded fault schedules; the seed is
/// printed so a failing schedule can be replayed with `SHIPDECK_FAULT_SEED`.
pub struct Seeded(u64);

impl Seeded {
    pub fn from_env(default: u64) -> Seeded {
        let seed = std::env::var("SHIPDECK_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default);
        eprintln!("fault schedule seed {seed} (set SHIPDECK_FAULT_SEED to replay another)");
        Seeded(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }
}

pub fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
}

/// The byte offset of the middle of the first journal line `pick` finds in a clean run of
/// `fixture`: where a full disk will cut it.
pub fn middle_of_first(fixture: &str, pick: impl Fn(&Entry) -> bool) -> u64 {
    let (_dir, plan) = release(fixture);
    let (_, _, stderr) = run(&[
        "run",
        plan.to_str().unwrap(),
        "--headless",
        "--speed",
        "50000",
    ]);
    let bytes = std::fs::read(state_dir(&plan).join("journal.jsonl")).unwrap();
    let mut offset = 0;
    for line in bytes.split_inclusive(|b| *b == b'\n') {
        let entry: Entry = serde_json::from_slice(line).unwrap();
        if pick(&entry) {
            return (offset + line.len() / 2) as u64;
        }
        offset += line.len();
    }
    panic!("no such line in a clean run of {fixture}: {stderr}")
}

/// `run PLAN --headless --speed SPEED` on a disk that is full at `limit` bytes per file;
/// `None` (with the reason printed) when bash or prlimit is missing.
///
/// RLIMIT_FSIZE is a full disk for one process: a write past it is cut short and the next
/// fails with EFBIG. SIGXFSZ would kill the process first; ignored, as set here before
/// exec, it stays ignored in the child.
pub fn run_with_file_size_limit(limit: u64, plan: &Path, speed: &str) -> Option<Output> {
    if !on_path("bash") || !on_path("prlimit") {
        eprintln!("skipping: bash and prlimit (util-linux) are needed to cap the file size");
        return None;
    }
    let out = Command::new("bash")
        .arg("-c")
        .arg("trap '' XFSZ; exec prlimit --fsize=\"$1\" -- \"${@:2}\"")
        .arg("fsize")
        .arg(limit.to_string())
        .arg(env!("CARGO_BIN_EXE_shipdeck"))
        .args([
            "run",
            plan.to_str().unwrap(),
            "--headless",
            "--speed",
            speed,
        ])
        .env("SHIPDECK_OPERATOR", "tester")
        .current_dir(plan.parent().unwrap())
        .output()
        .unwrap();
    Some(out)
}

/// The last entry that is not about who guards the release (a controller's start, stop
/// or takeover): what the release itself came to.
pub fn last_decision(journal: &RawJournal) -> Option<&Entry> {
    use shipdeck::engine::journal::Verb;
    journal.entries.iter().rev().find(|e| {
        !matches!(
            e.action,
            Verb::ControlStart | Verb::ControlStop | Verb::Takeover | Verb::Unguarded
        )
    })
}
