//! store::file: the embedded store — a directory of files beside the plan. Owns the
//! on-disk layout below; never writes a file in place (whole files are replaced
//! atomically, the journal is only appended to) and never deletes what it cannot read.
//! The one exception: a torn last journal line is cut off and re-appended, text kept,
//! inside a whole entry. `save` and `append` are for the lock holder only (one writer).
//!
//! ```text
//! .shipdeck/            0700
//!   state.json          0600  pretty JSON `Progress`, replaced atomically
//!   journal.jsonl       0600  one JSON `Entry` per line, O_APPEND + fsync
//!   lock                0600  flock(2)ed by the controller; never deleted
//!   holder.json         0600  who holds `lock` (only meaningful while it is held)
//!   live.json           0600  the holder's heartbeat and recent samples, for followers
//!   inbox/              0700
//!     <id>.request.json       a command for the controller
//!     <id>.answer.json        its answer
//!     <id>.request.json.rejected   a request that could not be read, kept for inspection
//! ```
//!
//! What is found there is trusted only as far as `store::trust` allows: the directory,
//! its inbox and every state file must not be writable by group or others, and for a
//! process that writes, must belong to its user or root. Every file is opened without
//! following a symbolic link and only if it is a plain file, so a planted link, FIFO or
//! device can neither redirect a write nor stall a read.

mod inbox;

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashSet;
use std::fs::{self, File, Metadata, OpenOptions, TryLockError};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::trust::{self, Access, Distrust};
use super::{
    Acquired, Holder, InboxAnswer, InboxRequest, JournalRead, JournalTail, Lease, ReleaseStore,
    StoreError, TornLine, check_id, jsonl,
};
use crate::engine::Progress;
use crate::engine::journal::Entry;
use crate::support;
use crate::support::plain_file::{self, NotPlain};
use crate::support::write_atomic::{Options, sync_folder, write_atomic};

pub use inbox::INBOX_LIMIT;

const STATE: &str = "state.json";
const JOURNAL: &str = "journal.jsonl";
const LOCK: &str = "lock";
const HOLDER: &str = "holder.json";
const PUBLISHED: &str = "live.json";
const INBOX: &str = "inbox";
const REQUEST_SUFFIX: &str = ".request.json";
const ANSWER_SUFFIX: &str = ".answer.json";
const REJECTED_SUFFIX: &str = ".rejected";
/// The files shipdeck keeps in the state directory, checked when it is opened.
const STATE_FILES: [&str; 5] = [STATE, JOURNAL, LOCK, HOLDER, PUBLISHED];

/// How often `acquire`/`holder` look again when the lock is busy but its holder has not
/// been named yet (a controller between locking and writing `holder.json`, or a
/// `holder()` probe holding the lock for a moment).
/// The journal's last bytes read first for its newest entries (grown when they hold too few).
const RECENT_WINDOW: u64 = 64 * 1024;

const LOCK_ROUNDS: u32 = 10;
const LOCK_PAUSE: Duration = Duration::from_millis(10);

const HINT_STATE: &str = "shipdeck will not overwrite it: move it away (e.g. to state.json.bad) to start the release fresh, or repair it";
const HINT_HOLDER: &str = "another process may hold the lock; if none does, delete holder.json";
const HINT_ANSWER: &str = "the answer file was not written by shipdeck; delete it and ask again";

/// The embedded default store: files in one directory (usually `.shipdeck/` beside the
/// plan).
///
/// Requests in the inbox that cannot be read — not JSON, not a plain file (a directory,
/// a FIFO, a symbolic link, a device), larger than [`INBOX_LIMIT`] — are never run,
/// never read through and never deleted: `take_requests` renames them to
/// `<name>.rejected`, answers the poster (`ok: false`, saying why) when the file name
/// carries a valid id, and journals a `Kind::Error` entry (`action: inbox`, operator
/// `shipdeck`, wall-clock time) so the controller's screen and the postmortem both show
/// it, once per entry.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    inbox: PathBuf,
    access: Access,
    /// Inbox entries already reported that could not be renamed aside, by name and inode:
    /// reported once, not at every look.
    reported: Mutex<HashSet<(String, u64)>>,
}

impl FileStore {
    /// Opens (creating, mode 0700) the state directory for a process that writes or acts
    /// on it: checks that it can be written and that nobody else could have written it.
    pub fn open(dir: &Path) -> Result<FileStore, StoreError> {
        let not_writable = |source| StoreError::NotWritable {
            path: dir.to_path_buf(),
            source,
        };
        private_dir(dir).map_err(not_writable)?;
        let store = FileStore::at(dir, Access::Write);
        store.check_dir(dir)?;
        probe(dir).map_err(not_writable)?;
        private_dir(&store.inbox).map_err(|source| StoreError::NotWritable {
            path: store.inbox.clone(),
            source,
        })?;
        store.check_dir(&store.inbox)?;
        for name in STATE_FILES {
            store.check_file(&store.path(name))?;
        }
        Ok(store)
    }

    /// Opens the state directory to read it only (`status`, `journal`): creates nothing,
    /// writes nothing, and needs no write access. A directory that does not exist reads as
    /// a release never started. What group or others could write is refused all the same.
    pub fn open_read_only(dir: &Path) -> Result<FileStore, StoreError> {
        let store = FileStore::at(dir, Access::Read);
        match fs::metadata(dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            _ => store.check_dir(dir)?,
        }
        Ok(store)
    }

    fn at(dir: &Path, access: Access) -> FileStore {
        FileStore {
            dir: dir.to_path_buf(),
            inbox: dir.join(INBOX),
            access,
            reported: Mutex::new(HashSet::new()),
        }
    }

    /// The state directory (followed if it is a link: whoever placed the link owns the
    /// folder it sits in) or the inbox (never a link) must be a directory nobody else
    /// could write.
    fn check_dir(&self, path: &Path) -> Result<(), StoreError> {
        let meta = if path == self.dir {
            fs::metadata(path)
        } else {
            fs::symlink_metadata(path)
        }
        .map_err(|e| StoreError::io(path, e))?;
        if !meta.is_dir() {
            let kind = plain_file::special(&meta).unwrap_or(plain_file::Special::Device);
            return Err(untrusted(path, Distrust::NotPlain(kind), false));
        }
        trust::judge(&meta, self.access).map_err(|problem| untrusted(path, problem, true))
    }

    /// A state file, if present, must be a plain file nobody else could write.
    fn check_file(&self, path: &Path) -> Result<(), StoreError> {
        let meta = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io(path, e)),
        };
        self.judge_file(path, &meta)
    }

    fn judge_file(&self, path: &Path, meta: &Metadata) -> Result<(), StoreError> {
        if let Some(kind) = plain_file::special(meta) {
            return Err(untrusted(path, Distrust::NotPlain(kind), false));
        }
        trust::judge(meta, self.access).map_err(|problem| untrusted(path, problem, false))
    }

    /// Opens a state file as `options` say: never through a link, only a plain file, and
    /// only one nobody else could have written. `None` when it does not exist.
    fn open_file(&self, path: &Path, options: OpenOptions) -> Result<Option<File>, StoreError> {
        match plain_file::open(path, options) {
            Ok((file, meta)) => {
                self.judge_file(path, &meta)?;
                Ok(Some(file))
            }
            Err(e) if e.is_missing() => Ok(None),
            Err(e) => Err(not_plain(path, e)),
        }
    }

    /// Opens a state file to read it; `None` when it does not exist.
    fn read_file(&self, path: &Path) -> Result<Option<File>, StoreError> {
        let mut options = OpenOptions::new();
        options.read(true);
        self.open_file(path, options)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn request_path(&self, id: &str) -> PathBuf {
        self.inbox.join(format!("{id}{REQUEST_SUFFIX}"))
    }

    fn answer_path(&self, id: &str) -> PathBuf {
        self.inbox.join(format!("{id}{ANSWER_SUFFIX}"))
    }

    /// `holder.json`, if present and readable.
    fn read_holder(&self) -> Result<Option<Holder>, StoreError> {
        self.read_json(&self.path(HOLDER), HINT_HOLDER)
    }

    /// A JSON file, or `None` when it does not exist. A file that does not parse is an
    /// error naming its line and column; it is left exactly as it is.
    fn read_json<T: DeserializeOwned>(
        &self,
        path: &Path,
        hint: &'static str,
    ) -> Result<Option<T>, StoreError> {
        let Some(mut file) = self.read_file(path)? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| StoreError::io(path, e))?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                path: path.to_path_buf(),
                line: e.line(),
                column: e.column(),
                message: support::jsonl::error_text(&e),
                hint,
            })
    }

    /// Temp files of `state.json`/`holder.json` left by a process that died mid-write.
    /// Only the lock holder writes those two, so any found now are orphans.
    fn remove_orphan_temps(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let ours = [STATE, HOLDER, PUBLISHED]
                .iter()
                .any(|f| name.starts_with(&format!(".{f}.")));
            if ours && name.ends_with(".tmp") {
                // Best effort: a leftover temp file is clutter, not a fault.
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

impl ReleaseStore for FileStore {
    fn describe(&self) -> String {
        format!("state directory {}/", self.dir.display())
    }

    fn load(&self) -> Result<Option<Progress>, StoreError> {
        self.read_json(&self.path(STATE), HINT_STATE)
    }

    fn save(&self, progress: &Progress) -> Result<(), StoreError> {
        let path = self.path(STATE);
        let bytes = to_json(&path, "the release state", progress)?;
        // What cannot be loaded must not replace what can (a NaN serialises as `null`).
        if let Err(e) = serde_json::from_slice::<Progress>(&bytes) {
            return Err(StoreError::Encode {
                path,
                what: "the release state",
                message: format!("it would not load back: {e}"),
            });
        }
        replace(&self.dir, STATE, &bytes, Options::PRIVATE)
    }

    fn append(&self, entries: &[Entry]) -> Result<(), StoreError> {
        let Some(first) = entries.first() else {
            return Ok(());
        };
        let path = self.path(JOURNAL);
        let mut batch = Vec::new();
        for entry in entries {
            batch.extend(jsonl::encode(&path, entry)?);
        }
        let mut options = OpenOptions::new();
        private_file(options.read(true).append(true).create(true));
        let mut file = self
            .open_file(&path, options)?
            .ok_or_else(|| StoreError::io(&path, io::ErrorKind::NotFound.into()))?;
        let len = file.metadata().map_err(|e| io_error(&path, e))?.len();
        let mut prefix = Vec::new();
        if len > 0 {
            let tail = last_line(&mut file, len).map_err(|e| io_error(&path, e))?;
            match support::jsonl::decode::<Entry>(&tail.bytes) {
                // A whole entry that lost only its newline: finish the line.
                Ok(_) if !tail.terminated => prefix.push(b'\n'),
                Ok(_) => {}
                // A torn or foreign line: replace it by an entry that keeps its text,
                // so every line after it stays whole and the journal stays readable.
                Err(_) => {
                    let torn = TornLine {
                        line: tail.number(&mut file).map_err(|e| io_error(&path, e))?,
                        text: String::from_utf8_lossy(&tail.bytes).into_owned(),
                    };
                    let aside = jsonl::set_aside(&torn, first.at);
                    // Unless the batch starts with that very entry (the controller found
                    // the torn line on opening): then it is written once, not twice.
                    if *first != aside {
                        prefix = jsonl::encode(&path, &aside)?;
                    }
                    file.set_len(tail.start).map_err(|e| io_error(&path, e))?;
                }
            }
        }
        prefix.extend(batch);
        file.write_all(&prefix).map_err(|e| io_error(&path, e))?;
        file.sync_data().map_err(|e| io_error(&path, e))?;
        if len == 0 {
            sync_folder(&self.dir).map_err(|e| io_error(&self.dir, e))?;
        }
        Ok(())
    }

    fn journal(&self) -> Result<JournalRead, StoreError> {
        let mut entries = Vec::new();
        let torn = self.journal_each(&mut |e| entries.push(e))?;
        Ok(JournalRead { entries, torn })
    }

    fn journal_each(&self, visit: &mut dyn FnMut(Entry)) -> Result<Option<TornLine>, StoreError> {
        let path = self.path(JOURNAL);
        match self.read_file(&path)? {
            Some(file) => jsonl::read(&path, BufReader::new(file), visit),
            None => Ok(None),
        }
    }

    fn acquire(&self, holder: &Holder) -> Result<Acquired, StoreError> {
        let path = self.path(LOCK);
        let mut options = OpenOptions::new();
        private_file(options.read(true).write(true).create(true));
        let file = self
            .open_file(&path, options)?
            .ok_or_else(|| StoreError::io(&path, io::ErrorKind::NotFound.into()))?;
        for round in 0..LOCK_ROUNDS {
            match file.try_lock() {
                Ok(()) => {
                    let bytes = to_json(&self.path(HOLDER), "the lock holder", holder)?;
                    // On failure `file` is dropped here, which releases the lock.
                    replace(&self.dir, HOLDER, &bytes, Options::PRIVATE)?;
                    self.remove_orphan_temps();
                    let guard = LockGuard {
                        file,
                        holder_path: self.path(HOLDER),
                    };
                    return Ok(Acquired::Controller(Lease::new(holder.clone(), guard)));
                }
                Err(TryLockError::WouldBlock) => {
                    // The first rounds only wait out a momentary `holder()` probe, which
                    // must not be mistaken for the controller named in a stale holder.json.
                    if round >= 2
                        && let Some(current) = self.read_holder()?
                    {
                        return Ok(Acquired::HeldBy(current));
                    }
                    std::thread::sleep(LOCK_PAUSE);
                }
                Err(TryLockError::Error(e)) => return Err(io_error(&path, e)),
            }
        }
        Ok(Acquired::HeldBy(Holder::unknown()))
    }

    fn holder(&self) -> Result<Option<Holder>, StoreError> {
        let path = self.path(LOCK);
        let Some(file) = self.read_file(&path)? else {
            return Ok(None);
        };
        for _ in 0..LOCK_ROUNDS {
            match file.try_lock() {
                Ok(()) => {
                    // Nobody holds it: give it straight back. holder.json is stale then.
                    file.unlock().map_err(|e| io_error(&path, e))?;
                    return Ok(None);
                }
                Err(TryLockError::WouldBlock) => {
                    if let Some(current) = self.read_holder()? {
                        return Ok(Some(current));
                    }
                    std::thread::sleep(LOCK_PAUSE);
                }
                Err(TryLockError::Error(e)) => return Err(io_error(&path, e)),
            }
        }
        Ok(Some(Holder::unknown()))
    }

    fn request_wakes(&self) -> Option<super::Wakes> {
        crate::watch::FileWatch::folder(&self.inbox, |name| {
            name.to_string_lossy().ends_with(REQUEST_SUFFIX)
        })
        .ok()
        .map(super::Wakes::File)
    }

    fn post(&self, request: &InboxRequest) -> Result<(), StoreError> {
        check_id(&request.id)?;
        let name = format!("{}{REQUEST_SUFFIX}", request.id);
        let bytes = to_json(&self.inbox.join(&name), "the command", request)?;
        if bytes.len() as u64 > INBOX_LIMIT {
            return Err(StoreError::RequestTooLarge {
                size: bytes.len(),
                limit: INBOX_LIMIT,
            });
        }
        replace(&self.inbox, &name, &bytes, Options::PRIVATE)
    }

    fn take_requests(&self) -> Result<Vec<InboxRequest>, StoreError> {
        self.take_inbox()
    }

    fn withdraw(&self, id: &str) -> Result<bool, StoreError> {
        check_id(id)?;
        let path = self.request_path(id);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error(&path, e)),
        }
    }

    fn answer(&self, id: &str, answer: &InboxAnswer) -> Result<(), StoreError> {
        check_id(id)?;
        let name = format!("{id}{ANSWER_SUFFIX}");
        let bytes = to_json(&self.answer_path(id), "the answer", answer)?;
        replace(&self.inbox, &name, &bytes, Options::PRIVATE)
    }

    fn take_answer(&self, id: &str) -> Result<Option<InboxAnswer>, StoreError> {
        check_id(id)?;
        let path = self.answer_path(id);
        let Some(answer) = self.read_json::<InboxAnswer>(&path, HINT_ANSWER)? else {
            return Ok(None);
        };
        match fs::remove_file(&path) {
            Ok(()) => Ok(Some(answer)),
            // Someone else took it first.
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&path, e)),
        }
    }

    fn journal_since(&self, cursor: u64) -> Result<JournalTail, StoreError> {
        let path = self.path(JOURNAL);
        let Some(mut file) = self.read_file(&path)? else {
            return Ok(JournalTail::default());
        };
        let len = file.metadata().map_err(|e| io_error(&path, e))?.len();
        let reset = len < cursor;
        let from = if reset { 0 } else { cursor };
        file.seek(SeekFrom::Start(from))
            .map_err(|e| io_error(&path, e))?;
        let mut bytes = Vec::new();
        file.take(len - from)
            .read_to_end(&mut bytes)
            .map_err(|e| io_error(&path, e))?;
        // Only whole lines: a line still being written is read next time.
        let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let entries = bytes[..whole]
            .split(|b| *b == b'\n')
            .filter(|line| !line.is_empty())
            .filter_map(|line| support::jsonl::decode::<Entry>(line).ok())
            .collect();
        Ok(JournalTail {
            entries,
            cursor: from + whole as u64,
            reset,
        })
    }

    fn journal_end(&self) -> Result<u64, StoreError> {
        let path = self.path(JOURNAL);
        match fs::symlink_metadata(&path) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(io_error(&path, e)),
        }
    }

    fn journal_recent(&self, n: usize) -> Result<JournalTail, StoreError> {
        // The newest entries sit in the file's last bytes: read only those. The partial
        // line the window starts in is skipped.
        let end = self.journal_end()?;
        let mut window = RECENT_WINDOW;
        loop {
            let mut tail = self.journal_since(end.saturating_sub(window))?;
            if tail.entries.len() >= n || window >= end {
                let skip = tail.entries.len().saturating_sub(n);
                tail.entries.drain(..skip);
                return Ok(tail);
            }
            window *= 4;
        }
    }

    fn journal_count(&self) -> Result<u64, StoreError> {
        let path = self.path(JOURNAL);
        let Some(mut file) = self.read_file(&path)? else {
            return Ok(0);
        };
        // Whole lines end in a newline; a torn last line does not count.
        let mut lines = 0u64;
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = file.read(&mut chunk).map_err(|e| io_error(&path, e))?;
            if n == 0 {
                return Ok(lines);
            }
            lines += chunk[..n].iter().filter(|b| **b == b'\n').count() as u64;
        }
    }

    fn publish(&self, document: &[u8]) -> Result<(), StoreError> {
        // Rewritten every few seconds and worthless after a crash: not worth a flush.
        let options = Options {
            durable: false,
            ..Options::PRIVATE
        };
        replace(&self.dir, PUBLISHED, document, options)
    }

    fn published(&self) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path(PUBLISHED);
        let Some(mut file) = self.read_file(&path)? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| io_error(&path, e))?;
        Ok(Some(bytes))
    }
}

/// Holds the flock; dropping it names nobody and unlocks.
struct LockGuard {
    file: File,
    holder_path: PathBuf,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // holder.json goes first, while the lock is still ours, so it can never be
        // removed from under the next controller. Failures here cannot be reported;
        // closing the file releases the lock regardless.
        let _ = fs::remove_file(&self.holder_path);
        let _ = self.file.unlock();
    }
}

fn io_error(path: &Path, source: io::Error) -> StoreError {
    StoreError::io(path, source)
}

fn untrusted(path: &Path, problem: Distrust, is_dir: bool) -> StoreError {
    StoreError::Untrusted {
        path: path.to_path_buf(),
        problem,
        is_dir,
    }
}

/// What was found instead of a readable plain file, as the store says it.
fn not_plain(path: &Path, e: NotPlain) -> StoreError {
    match e {
        NotPlain::Special(kind) => untrusted(path, Distrust::NotPlain(kind), false),
        NotPlain::TooLarge { limit } => StoreError::TooLarge {
            path: path.to_path_buf(),
            limit,
        },
        NotPlain::Io(e) => io_error(path, e),
    }
}

fn to_json<T: Serialize>(
    path: &Path,
    what: &'static str,
    value: &T,
) -> Result<Vec<u8>, StoreError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| StoreError::Encode {
        path: path.to_path_buf(),
        what,
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Replaces `dir/name` with `bytes` (see `support::write_atomic`): a crash leaves the old
/// file or the new one, never a mix; a failure leaves no temp file behind.
fn replace(dir: &Path, name: &str, bytes: &[u8], options: Options) -> Result<(), StoreError> {
    write_atomic(&dir.join(name), bytes, options).map_err(|e| io_error(&e.path, e.source))
}

/// The last line of a non-empty file.
struct Tail {
    /// Offset of its first byte.
    start: u64,
    /// Without the newline.
    bytes: Vec<u8>,
    terminated: bool,
}

impl Tail {
    /// Its 1-based line number: one more than the newlines before it. Read only when a
    /// torn line is found, which is rare, so the normal append stays O(last line).
    fn number(&self, file: &mut File) -> io::Result<usize> {
        file.seek(SeekFrom::Start(0))?;
        let mut before = Vec::new();
        Read::take(&*file, self.start).read_to_end(&mut before)?;
        Ok(before.iter().filter(|b| **b == b'\n').count() + 1)
    }
}

/// Reads backwards from the end in chunks until the newline before the last line.
fn last_line(file: &mut File, len: u64) -> io::Result<Tail> {
    const CHUNK: u64 = 8192;
    let mut buf: Vec<u8> = Vec::new();
    let mut pos = len;
    let mut terminated = None;
    loop {
        let step = CHUNK.min(pos);
        if step == 0 {
            let terminated = terminated.unwrap_or(false);
            let end = buf.len() - usize::from(terminated);
            buf.truncate(end);
            return Ok(Tail {
                start: 0,
                bytes: buf,
                terminated,
            });
        }
        pos -= step;
        let mut chunk = vec![0; step as usize];
        file.seek(SeekFrom::Start(pos))?;
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&buf);
        buf = chunk;
        let ends_with_newline = *terminated.get_or_insert(buf.last() == Some(&b'\n'));
        let end = buf.len() - usize::from(ends_with_newline);
        if let Some(i) = buf[..end].iter().rposition(|b| *b == b'\n') {
            return Ok(Tail {
                start: pos + i as u64 + 1,
                bytes: buf[i + 1..end].to_vec(),
                terminated: ends_with_newline,
            });
        }
    }
}

/// Creates a file, removes it: proves the directory takes writes now, not at 3 a.m.
fn probe(dir: &Path) -> io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        ".probe-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let path = dir.join(name);
    let mut f = private_file(OpenOptions::new().write(true).create_new(true)).open(&path)?;
    let written = f.write_all(b"shipdeck");
    drop(f);
    fs::remove_file(&path)?;
    written
}

#[cfg(unix)]
fn private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new().recursive(true).create(dir)
}

#[cfg(unix)]
fn private_file(options: &mut OpenOptions) -> &mut OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    options.mode(0o600)
}

#[cfg(not(unix))]
fn private_file(options: &mut OpenOptions) -> &mut OpenOptions {
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail_of(content: &[u8]) -> (u64, Vec<u8>, bool) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        fs::write(&path, content).unwrap();
        let mut f = File::open(&path).unwrap();
        let t = last_line(&mut f, content.len() as u64).unwrap();
        (t.start, t.bytes, t.terminated)
    }

    #[test]
    fn last_line_finds_the_line_after_the_last_newline() {
        assert_eq!(tail_of(b"a\nbc\n"), (2, b"bc".to_vec(), true));
        assert_eq!(tail_of(b"a\nbc"), (2, b"bc".to_vec(), false));
        assert_eq!(tail_of(b"abc"), (0, b"abc".to_vec(), false));
        assert_eq!(tail_of(b"abc\n"), (0, b"abc".to_vec(), true));
        assert_eq!(tail_of(b"a\n\n"), (2, b"".to_vec(), true));
    }

    #[test]
    fn last_line_spans_chunks() {
        let mut content = b"first\n".to_vec();
        let long = vec![b'x'; 20_000];
        content.extend_from_slice(&long);
        assert_eq!(tail_of(&content), (6, long.clone(), false));
        content.push(b'\n');
        assert_eq!(tail_of(&content), (6, long, true));
    }

    #[test]
    fn the_journal_is_counted_by_whole_lines_without_reading_it_in() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path()).unwrap();
        assert_eq!(store.journal_count().unwrap(), 0);
        std::fs::write(dir.path().join(JOURNAL), b"{}\n{}\n{\"torn").unwrap();
        assert_eq!(store.journal_count().unwrap(), 2);
    }
}
