//! store::file::inbox: taking commands out of `inbox/`. Whoever could write there may have
//! left anything under a request's name, so each entry is read alone, as a plain file of
//! at most [`INBOX_LIMIT`] bytes; one that cannot be read is set aside and reported once,
//! and never blocks, delays or costs the requests beside it.

use chrono::Utc;
use std::fs::{self, DirEntry};
use std::io;
use std::path::Path;

use super::{FileStore, REJECTED_SUFFIX, REQUEST_SUFFIX};
use crate::engine::journal::{Entry, Kind, Verb};
use crate::store::{InboxAnswer, InboxRequest, ReleaseStore, StoreError, check_id};
use crate::support::host::Account;
use crate::support::plain_file::{self, NotPlain};

/// The most a request file may hold. A command with its reason is a few hundred bytes;
/// `post` refuses more, and `take_requests` sets a larger file aside without reading on.
pub const INBOX_LIMIT: u64 = 16 * 1024;

/// Why an inbox entry named like a request cannot be taken.
#[derive(Debug)]
enum Unreadable {
    /// Not a plain file, too large, or failing to read.
    File(NotPlain),
    /// Not a request: serde_json's reason, where.
    NotJson {
        line: usize,
        column: usize,
        message: String,
    },
    /// A request whose id is not the one its file name carries.
    OtherId(String),
    /// Read, but it cannot be removed, which is how it is claimed: running it would run
    /// it again at the next look.
    Unclaimable(io::Error),
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreadable::File(NotPlain::Io(e)) => write!(f, "it cannot be read: {e}"),
            Unreadable::File(e) => e.fmt(f),
            Unreadable::NotJson {
                line,
                column,
                message,
            } => write!(f, "line {line} column {column}: {message}"),
            Unreadable::OtherId(id) => write!(f, "its id {id:?} does not match its file name"),
            Unreadable::Unclaimable(e) => write!(f, "it cannot be removed to claim it: {e}"),
        }
    }
}

impl FileStore {
    /// Claims every request in the inbox; see [`ReleaseStore::take_requests`].
    ///
    /// [`ReleaseStore::take_requests`]: crate::store::ReleaseStore::take_requests
    pub(super) fn take_inbox(&self) -> Result<Vec<InboxRequest>, StoreError> {
        let listing = fs::read_dir(&self.inbox).map_err(|e| StoreError::io(&self.inbox, e))?;
        let mut taken = Vec::new();
        // After the first claim nothing may fail the call: a claimed request returned as
        // an error would be lost, its poster told it was taken.
        for entry in listing.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // Temp files start with '.'; answers and rejected requests are not ours to take.
            if name.starts_with('.') || !name.ends_with(REQUEST_SUFFIX) {
                continue;
            }
            let path = entry.path();
            let request = match read_request(&path, &name) {
                Ok(r) => r,
                // Withdrawn or claimed by someone else since the listing.
                Err(Unreadable::File(e)) if e.is_missing() => continue,
                Err(why) => {
                    self.set_aside(&entry, &name, &why);
                    continue;
                }
            };
            // Removing the file is the claim: of a racing `withdraw` or second
            // controller, exactly one removal succeeds.
            match fs::remove_file(&path) {
                Ok(()) => taken.push(request),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => self.set_aside(&entry, &name, &Unreadable::Unclaimable(e)),
            }
        }
        taken.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));
        Ok(taken)
    }

    /// An entry that cannot be taken: renamed aside so it is not looked at again, its
    /// poster answered, the journal told. Reported once even when it cannot be renamed.
    /// Reporting is best effort: a journal that cannot be written is the store writer's
    /// to report, and must not cost the requests claimed beside this entry.
    fn set_aside(&self, entry: &DirEntry, name: &str, why: &Unreadable) {
        let path = entry.path();
        let aside = path.with_file_name(format!("{name}{REJECTED_SUFFIX}"));
        let kept = match fs::rename(&path, &aside) {
            Ok(()) => format!("kept as {}", aside.display()),
            // Another taker got to it first and reports it.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            Err(e) => {
                if !self.first_report(entry, name) {
                    return;
                }
                format!("left in place, as it cannot be renamed ({e})")
            }
        };
        let id = name.strip_suffix(REQUEST_SUFFIX).unwrap_or(name);
        if check_id(id).is_ok() {
            let answer = InboxAnswer {
                ok: false,
                message: format!(
                    "the controller could not read this command ({why}); it was not run"
                ),
            };
            let _ = self.answer(id, &answer);
        }
        let reason = format!(
            "skipped an unreadable command {}: {why}; {kept}",
            path.display()
        );
        let engine = crate::engine::ENGINE;
        let entry = Entry::plain(Utc::now(), engine, Kind::Error, Verb::Inbox, reason);
        let _ = self.append(&[entry]);
    }

    /// True the first time an entry that stays in place is reported.
    fn first_report(&self, entry: &DirEntry, name: &str) -> bool {
        #[cfg(unix)]
        let inode = std::os::unix::fs::DirEntryExt::ino(entry);
        #[cfg(not(unix))]
        let inode = {
            let _ = entry;
            0
        };
        match self.reported.lock() {
            Ok(mut seen) => seen.insert((name.to_string(), inode)),
            // A poisoned set still must not repeat reports forever: report nothing more.
            Err(_) => false,
        }
    }
}

/// Reads one request: a plain file (never through a link, never waiting on a FIFO), at
/// most [`INBOX_LIMIT`] bytes, whose id matches its name. Its owner is who posted it.
fn read_request(path: &Path, name: &str) -> Result<InboxRequest, Unreadable> {
    let (mut file, meta) = plain_file::open_read(path).map_err(Unreadable::File)?;
    let bytes = plain_file::read_capped(&mut file, INBOX_LIMIT).map_err(Unreadable::File)?;
    let mut request =
        serde_json::from_slice::<InboxRequest>(&bytes).map_err(|e| Unreadable::NotJson {
            line: e.line(),
            column: e.column(),
            message: crate::support::jsonl::error_text(&e),
        })?;
    if format!("{}{REQUEST_SUFFIX}", request.id) != name {
        return Err(Unreadable::OtherId(request.id));
    }
    request.posted_by = Some(owner(&meta));
    Ok(request)
}

#[cfg(unix)]
fn owner(meta: &fs::Metadata) -> Account {
    Account::of_uid(std::os::unix::fs::MetadataExt::uid(meta))
}

#[cfg(not(unix))]
fn owner(_meta: &fs::Metadata) -> Account {
    Account::me()
}
