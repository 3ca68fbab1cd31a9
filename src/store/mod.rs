//! store: where a release's state, journal, controller lock and command inbox live.
//! Owns every byte shipdeck keeps between runs, behind the `ReleaseStore` trait so the
//! embedded file store and the PostgreSQL store are interchangeable. It never decides
//! anything (the engine does) and never interprets a command (the controller does).
//!
//! Every method blocks on I/O: call it from `tokio::task::spawn_blocking` (or a
//! dedicated thread), never from the screen's loop.

mod file;
mod jsonl;
pub mod postgres;
mod trust;
pub(crate) mod wakes;

use chrono::{DateTime, Utc};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::watch;

use crate::engine::journal::Entry;
use crate::engine::{Command, Progress};

pub use crate::support::host::Account;
pub use crate::support::jsonl::TornLine;
pub use file::{FileStore, INBOX_LIMIT};
pub use jsonl::set_aside as torn_line_entry;
pub use postgres::PgStore;
pub use trust::Distrust;
pub use wakes::Wakes;

/// The name of the state directory kept beside a plan file.
pub(crate) const STATE_DIR: &str = ".shipdeck";

/// `.shipdeck/` beside the plan file; `--state-dir` overrides it.
pub(crate) fn state_dir_for(plan_path: &Path) -> PathBuf {
    match plan_path.parent() {
        Some(parent) => parent.join(STATE_DIR),
        None => PathBuf::from(STATE_DIR),
    }
}

/// One release's persistent home: state, journal, the one-controller lock and the
/// command inbox. Implementations must be usable from several threads at once.
pub trait ReleaseStore: Send + Sync {
    /// Where the release lives, for people: `state directory /srv/app/.shipdeck/`.
    fn describe(&self) -> String;
    /// The saved progress; `None` when the release was never started here.
    fn load(&self) -> Result<Option<Progress>, StoreError>;
    /// Replaces the saved progress atomically: a reader sees the old or the new, never half.
    fn save(&self, progress: &Progress) -> Result<(), StoreError>;
    /// Appends whole entries durably, in order.
    fn append(&self, entries: &[Entry]) -> Result<(), StoreError>;
    /// Every entry, oldest first, and a torn last line if a crash left one.
    fn journal(&self) -> Result<JournalRead, StoreError>;
    /// Hands `visit` every entry, oldest first, without keeping them: for a journal too
    /// large to hold. Returns the torn last line, if a crash left one.
    fn journal_each(&self, visit: &mut dyn FnMut(Entry)) -> Result<Option<TornLine>, StoreError> {
        let read = self.journal()?;
        read.entries.into_iter().for_each(&mut *visit);
        Ok(read.torn)
    }
    /// Tries to become the release's one controller; never waits for another holder.
    fn acquire(&self, holder: &Holder) -> Result<Acquired, StoreError>;
    /// Who controls the release now; `None` when nobody does.
    fn holder(&self) -> Result<Option<Holder>, StoreError>;
    /// Hands a command to the controller.
    fn post(&self, request: &InboxRequest) -> Result<(), StoreError>;
    /// Claims every waiting command, oldest first (by `at`, then `id`); each is returned
    /// to exactly one caller, with `posted_by` set. Unreadable requests are skipped and
    /// reported as the implementation documents (see `FileStore`): one never blocks or
    /// costs the others, and an error is returned only when nothing was claimed.
    fn take_requests(&self) -> Result<Vec<InboxRequest>, StoreError>;
    /// Wakes the controller when a command may have arrived, so the inbox need not be
    /// polled fast. `None` (the default, or a watcher that could not start): it is polled.
    fn request_wakes(&self) -> Option<Wakes> {
        None
    }
    /// Wakes a follower when the holder may have written something (state, journal,
    /// heartbeat), so it need not wait for its next look. `None`: it polls.
    fn change_wakes(&self) -> Option<Wakes> {
        None
    }
    /// Withdraws a command nobody has claimed yet (a CLI that gave up waiting).
    /// `true`: it will never run. `false`: it was already claimed and an answer may come.
    fn withdraw(&self, id: &str) -> Result<bool, StoreError>;
    /// The controller's answer to the request `id`.
    fn answer(&self, id: &str, answer: &InboxAnswer) -> Result<(), StoreError>;
    /// Takes (and removes) the answer to `id`, if it has come.
    fn take_answer(&self, id: &str) -> Result<Option<InboxAnswer>, StoreError>;
    /// The entries appended after `cursor` (0: the start), and the cursor after them. A
    /// follower reads only what is new, so its cost does not grow with the journal. A
    /// journal found shorter than the cursor (replaced) is read again from the start,
    /// with `reset` set. A torn last line is left for a later read.
    fn journal_since(&self, cursor: u64) -> Result<JournalTail, StoreError>;
    /// The cursor at the journal's end now: what `journal_since` would return after
    /// reading everything. A cursor may be set back from it to read only the newest
    /// entries; the partial line it lands in is skipped.
    fn journal_end(&self) -> Result<u64, StoreError>;
    /// The newest entries (at most `n`, oldest first) and the cursor after them: what a
    /// follower or `status` shows first, read without the whole journal.
    fn journal_recent(&self, n: usize) -> Result<JournalTail, StoreError>;
    /// How many whole entries the journal holds, counted without keeping them.
    fn journal_count(&self) -> Result<u64, StoreError>;
    /// Replaces what the holder publishes for its followers beside the state: its
    /// heartbeat and recent samples, as a JSON document the store does not interpret.
    /// Not made durable: it is renewed every second and stale after a few.
    fn publish(&self, document: &[u8]) -> Result<(), StoreError>;
    /// The holder's last published document, if any.
    fn published(&self) -> Result<Option<Vec<u8>>, StoreError>;
}

/// Journal entries read from a cursor on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JournalTail {
    pub entries: Vec<Entry>,
    pub cursor: u64,
    /// The journal was replaced: `entries` start from its beginning.
    pub reset: bool,
}

/// The journal as read back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JournalRead {
    pub entries: Vec<Entry>,
    /// The last line, cut short by a crash or not JSON; the next `append` sets it aside.
    pub torn: Option<TornLine>,
}

/// Who holds (or wants) control of a release.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Holder {
    pub operator: String,
    pub pid: u32,
    pub(crate) host: String,
    /// `screen`, `headless`, `cli`, ...
    pub mode: String,
    pub since: DateTime<Utc>,
}

impl Holder {
    /// This process, now.
    pub fn here(operator: &str, mode: &str) -> Holder {
        Holder {
            operator: operator.to_string(),
            pid: std::process::id(),
            host: crate::support::host::name(),
            mode: mode.to_string(),
            since: Utc::now(),
        }
    }

    /// Someone holds the lock without saying who (a process that is not shipdeck, or
    /// one that has not written its name yet).
    pub fn unknown() -> Holder {
        Holder {
            operator: "unknown".into(),
            pid: 0,
            host: "unknown".into(),
            mode: "unknown".into(),
            since: Utc::now(),
        }
    }

    /// `alice (screen, pid 4242 on build-01, since 14:02:11Z)`.
    pub fn describe(&self) -> String {
        format!(
            "{} ({}, pid {} on {}, since {})",
            self.operator,
            self.mode,
            self.pid,
            self.host,
            self.since.format("%Y-%m-%d %H:%M:%SZ")
        )
    }
}

/// The outcome of `acquire`.
#[derive(Debug)]
pub enum Acquired {
    /// This caller controls the release until the lease is dropped.
    Controller(Lease),
    /// Someone else does: open read-only ("follow" mode) and say who.
    HeldBy(Holder),
}

/// Control of a release. Dropping it gives control up; if the process dies (even by
/// SIGKILL) the store gives it up (the operating system's lock, or the database's lease).
pub struct Lease {
    holder: Holder,
    /// The fencing epoch: it grows with every change of controller. `None` where the store
    /// has none (a file lock cannot be lost while the process lives).
    epoch: Option<u64>,
    tenure: watch::Receiver<Tenure>,
    /// Releases the store's lock when dropped.
    _guard: Box<dyn Send + Sync>,
}

/// Whether a lease still holds, as its store last saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tenure {
    Held,
    /// The store cannot be reached to confirm the lease (a database restarting): the
    /// holder keeps guarding from memory, but advances nothing until it is confirmed.
    Unconfirmed {
        why: String,
    },
    /// Another controller holds the release now, or the store gave this lease up: this
    /// process must not act on the release any more.
    Lost {
        why: String,
    },
}

impl Lease {
    /// For store implementations whose lock lasts as long as the process: `guard` gives
    /// control up when dropped.
    pub fn new(holder: Holder, guard: impl Send + Sync + 'static) -> Lease {
        let (tell, tenure) = watch::channel(Tenure::Held);
        Lease {
            holder,
            epoch: None,
            tenure,
            _guard: Box::new((guard, tell)),
        }
    }

    /// For store implementations whose lease can be lost while the process lives: its
    /// fencing `epoch`, and where the store says whether it still holds.
    pub fn fenced(
        holder: Holder,
        epoch: u64,
        tenure: watch::Receiver<Tenure>,
        guard: impl Send + Sync + 'static,
    ) -> Lease {
        Lease {
            holder,
            epoch: Some(epoch),
            tenure,
            _guard: Box::new(guard),
        }
    }

    pub fn holder(&self) -> &Holder {
        &self.holder
    }

    pub fn epoch(&self) -> Option<u64> {
        self.epoch
    }

    /// Whether the lease holds now, and changes to it.
    pub fn tenure(&self) -> watch::Receiver<Tenure> {
        self.tenure.clone()
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

/// A command handed to the controller from elsewhere (`shipdeck rollback PLAN`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InboxRequest {
    /// From `new_request_id`; names the request's and the answer's files.
    pub id: String,
    pub command: Command,
    /// The operator the request names (`--operator`, else `$USER`): a claim.
    pub operator: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
    /// The machine it was sent from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The database role that posted it (PostgreSQL store only): who the database says
    /// sent it, beside the operator name it gives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The account that wrote the request, as the store found it (the file's owner);
    /// never read from the request itself. `None` until taken.
    #[serde(skip)]
    pub posted_by: Option<Account>,
}

impl InboxRequest {
    /// Who the journal names: the operator the request claims; the account that posted
    /// it when that is someone else (`bob, posted by alice (uid 1000)`); and where it came
    /// from when that is not this machine, or the database role that sent it
    /// (`bob (on laptop-2, role oncall)`).
    pub fn who(&self) -> String {
        let mut who = self.operator.clone();
        if let Some(account) = &self.posted_by
            && account.name.as_deref() != Some(self.operator.as_str())
        {
            who.push_str(&format!(", posted by {account}"));
        }
        let here = crate::support::host::name();
        let mut whence = Vec::new();
        if let Some(host) = self.host.as_deref().filter(|h| *h != here) {
            whence.push(format!("on {host}"));
        }
        if let Some(role) = &self.role {
            whence.push(format!("role {role}"));
        }
        if !whence.is_empty() {
            who.push_str(&format!(" ({})", whence.join(", ")));
        }
        who
    }
}

/// The controller's reply to a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InboxAnswer {
    pub ok: bool,
    pub message: String,
}

/// A request id unique across processes and hosts' clocks as far as practical:
/// wall-clock time, process id and a per-process counter, e.g.
/// `20250301T140211.123456789Z-4242-000001`. Safe as a file name.
pub fn new_request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}-{}-{n:06}",
        Utc::now().format("%Y%m%dT%H%M%S%.9fZ"),
        std::process::id()
    )
}

/// Ids become file names: keep them to a safe alphabet so no id can point outside the inbox.
pub(crate) fn check_id(id: &str) -> Result<(), StoreError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadId { id: id.to_string() })
    }
}

/// Everything that can go wrong keeping a release on disk or in a database.
/// Each message names the file and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot write the state directory {}: {source}; fix its permissions, or pass --state-dir DIR to keep the release state elsewhere",
        path.display()
    )]
    NotWritable { path: PathBuf, source: io::Error },

    #[error("{}: {source}; {hint}", path.display())]
    Io {
        path: PathBuf,
        source: io::Error,
        hint: &'static str,
    },

    #[error("{}:{line}:{column}: {message}; {hint}", path.display())]
    Corrupt {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        hint: &'static str,
    },

    #[error(
        "cannot write {what} to {}: {message}; nothing was written (this is a bug in shipdeck, please report it)",
        path.display()
    )]
    Encode {
        path: PathBuf,
        what: &'static str,
        message: String,
    },

    #[error(
        "{id:?} is not a request id (letters, digits, '-', '_' and '.' only, not starting with '.'); make ids with new_request_id()"
    )]
    BadId { id: String },

    #[error("{0}")]
    Database(#[from] postgres::DbError),

    #[error(
        "another controller holds {release} now (fencing epoch {now}, this process had {mine}); this process stopped guarding it and writes nothing more"
    )]
    Fenced {
        release: String,
        mine: u64,
        now: u64,
    },

    #[error("{} {problem}; {}", path.display(), problem.fix(path, *is_dir))]
    Untrusted {
        path: PathBuf,
        problem: Distrust,
        is_dir: bool,
    },

    #[error(
        "{} is larger than {limit} bytes, more than shipdeck ever writes there; move it away and ask again",
        path.display()
    )]
    TooLarge { path: PathBuf, limit: u64 },

    #[error(
        "the command is {size} bytes, more than the {limit} bytes the inbox takes; shorten --reason"
    )]
    RequestTooLarge { size: usize, limit: u64 },
}

/// For an I/O error of the file store.
const HINT_IO: &str =
    "check the disk and the permissions of the state directory, or pass --state-dir DIR";

impl StoreError {
    /// `path` could not be read or written.
    pub(crate) fn io(path: &Path, source: io::Error) -> StoreError {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
            hint: HINT_IO,
        }
    }

    /// The file or directory the error is about, when there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            StoreError::NotWritable { path, .. }
            | StoreError::Io { path, .. }
            | StoreError::Corrupt { path, .. }
            | StoreError::Encode { path, .. }
            | StoreError::Untrusted { path, .. }
            | StoreError::TooLarge { path, .. } => Some(path),
            StoreError::BadId { .. }
            | StoreError::RequestTooLarge { .. }
            | StoreError::Database(_)
            | StoreError::Fenced { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_dir_sits_beside_the_plan() {
        assert_eq!(
            state_dir_for(Path::new("/srv/app/plan.yaml")),
            PathBuf::from("/srv/app/.shipdeck")
        );
        assert_eq!(
            state_dir_for(Path::new("plan.yaml")),
            PathBuf::from(".shipdeck")
        );
    }

    #[test]
    fn request_ids_are_unique_and_valid() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        check_id(&a).unwrap();
        check_id(&b).unwrap();
    }

    #[test]
    fn the_journal_names_the_poster_only_when_it_is_someone_else() {
        let mut r = InboxRequest {
            id: "x".into(),
            command: Command::Rollback,
            operator: "bob".into(),
            reason: None,
            at: Utc::now(),
            host: None,
            role: None,
            posted_by: None,
        };
        assert_eq!(r.who(), "bob");
        r.posted_by = Some(Account {
            uid: 1001,
            name: Some("bob".into()),
        });
        assert_eq!(r.who(), "bob");
        r.posted_by = Some(Account {
            uid: 1000,
            name: Some("alice".into()),
        });
        assert_eq!(r.who(), "bob, posted by alice (uid 1000)");
        r.posted_by = Some(Account {
            uid: 1002,
            name: None,
        });
        assert_eq!(r.who(), "bob, posted by uid 1002");
    }

    #[test]
    fn ids_that_could_escape_the_inbox_are_refused() {
        for bad in ["", "../state", "a/b", ".hidden", "x y", "é"] {
            assert!(
                matches!(check_id(bad), Err(StoreError::BadId { .. })),
                "{bad:?} accepted"
            );
        }
    }
}
