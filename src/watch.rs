//! watch: notices when a file (a flag file) or the entries of a folder (the command inbox)
//! change on disk, through `notify` (inotify, FSEvents, ...). Owns the watcher and the
//! folding of event bursts into one wake-up; never reads or interprets what changed (the
//! flag backend and the store do).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::support::path::folder_of;

/// How long a burst of events (an editor's save: truncate, write, rename, chmod) may
/// take before the file is read; short enough to stay well inside a second.
const SETTLE: Duration = Duration::from_millis(60);

/// A watcher that could not start.
#[derive(Debug, thiserror::Error)]
#[error(
    "{}: cannot watch for changes: {source}; changes are still picked up by polling \
     (raise fs.inotify.max_user_watches if the system ran out of watches)",
    path.display()
)]
pub struct WatchError {
    pub path: PathBuf,
    pub source: notify::Error,
}

/// A running watcher of one file or of one folder's entries.
pub struct FileWatch {
    path: PathBuf,
    // Held for its Drop: the watcher stops when this does.
    _watcher: RecommendedWatcher,
    wakes: mpsc::Receiver<()>,
}

impl std::fmt::Debug for FileWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWatch")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl FileWatch {
    /// Watches `path`. The folder is watched rather than the file: an atomic save replaces
    /// the file (a new inode) and a watch on the old one would go quiet. A symlinked file
    /// is watched at both ends, since saves land on the target.
    pub fn start(path: &Path) -> Result<FileWatch, WatchError> {
        let mut names: Vec<OsString> = Vec::new();
        let mut folders: Vec<PathBuf> = Vec::new();
        let canonical = std::fs::canonicalize(path).ok();
        for p in std::iter::once(path).chain(canonical.as_deref()) {
            if let Some(name) = p.file_name() {
                names.push(name.to_os_string());
            }
            let folder = folder_of(p);
            if !folders.contains(&folder) {
                folders.push(folder);
            }
        }
        FileWatch::watch(path, &folders, move |name| names.iter().any(|n| n == name))
    }

    /// Watches the entries of `folder` whose names `wanted` accepts: created, changed,
    /// renamed in or out, removed.
    pub fn folder(
        folder: &Path,
        wanted: impl Fn(&OsStr) -> bool + Send + 'static,
    ) -> Result<FileWatch, WatchError> {
        FileWatch::watch(folder, &[folder.to_path_buf()], wanted)
    }

    fn watch(
        path: &Path,
        folders: &[PathBuf],
        wanted: impl Fn(&OsStr) -> bool + Send + 'static,
    ) -> Result<FileWatch, WatchError> {
        let (tx, wakes) = mpsc::channel(1);
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let ours = match &event {
                    Ok(event) => {
                        changes(&event.kind)
                            && event
                                .paths
                                .iter()
                                .any(|p| p.file_name().is_some_and(&wanted))
                    }
                    // The watcher lost events (a queue overflow): look again to be sure.
                    Err(_) => true,
                };
                if ours {
                    // A wake-up already queued covers this one too.
                    let _ = tx.try_send(());
                }
            })
            .map_err(|source| WatchError {
                path: path.to_path_buf(),
                source,
            })?;
        for folder in folders {
            watcher
                .watch(folder, RecursiveMode::NonRecursive)
                .map_err(|source| WatchError {
                    path: folder.clone(),
                    source,
                })?;
        }
        Ok(FileWatch {
            path: path.to_path_buf(),
            _watcher: watcher,
            wakes,
        })
    }

    /// The file or folder being watched.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits until something watched changed, then lets the burst settle; `false` when the
    /// watcher stopped and no more changes will be reported.
    pub async fn changed(&mut self) -> bool {
        if self.wakes.recv().await.is_none() {
            return false;
        }
        tokio::time::sleep(SETTLE).await;
        while self.wakes.try_recv().is_ok() {}
        true
    }
}

/// Whether an event can mean new content. Opening or reading the file is not a change, and
/// must not count as one: the backend reads the file after every wake-up, so an open would
/// wake the watcher again, for ever.
fn changes(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn expect_wake(watch: &mut FileWatch) {
        let woke = tokio::time::timeout(Duration::from_secs(2), watch.changed()).await;
        assert_eq!(woke, Ok(true), "no wake-up for {}", watch.path().display());
    }

    async fn expect_quiet(watch: &mut FileWatch) {
        let woke = tokio::time::timeout(Duration::from_millis(300), watch.changed()).await;
        assert!(woke.is_err(), "woke up for nothing");
    }

    #[tokio::test]
    async fn edits_and_replacements_wake_it_and_neighbours_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flags.yaml");
        std::fs::write(&path, "flags: {}\n").unwrap();
        let mut watch = FileWatch::start(&path).unwrap();

        std::fs::write(dir.path().join("other.yaml"), "x").unwrap();
        expect_quiet(&mut watch).await;

        std::fs::write(&path, "flags: {a: {}}\n").unwrap();
        expect_wake(&mut watch).await;

        // An atomic save: a temporary file renamed over the watched one.
        let temp = dir.path().join(".flags.yaml.tmp");
        std::fs::write(&temp, "flags: {b: {}}\n").unwrap();
        std::fs::rename(&temp, &path).unwrap();
        expect_wake(&mut watch).await;
        // The whole burst was one wake-up.
        expect_quiet(&mut watch).await;

        // Still watching after the replacement.
        std::fs::write(&path, "flags: {c: {}}\n").unwrap();
        expect_wake(&mut watch).await;
    }

    #[tokio::test]
    async fn reading_the_file_does_not_wake_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flags.yaml");
        std::fs::write(&path, "flags: {}\n").unwrap();
        let mut watch = FileWatch::start(&path).unwrap();
        // What the backend does after each wake-up; a wake here would loop for ever.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "flags: {}\n");
        expect_quiet(&mut watch).await;
        std::fs::write(&path, "flags: {a: {}}\n").unwrap();
        expect_wake(&mut watch).await;
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_symlinked_file_is_watched_where_it_really_lives() {
        let real_dir = tempfile::tempdir().unwrap();
        let link_dir = tempfile::tempdir().unwrap();
        let real = real_dir.path().join("real.yaml");
        std::fs::write(&real, "flags: {}\n").unwrap();
        let link = link_dir.path().join("flags.yaml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let mut watch = FileWatch::start(&link).unwrap();
        std::fs::write(&real, "flags: {a: {}}\n").unwrap();
        expect_wake(&mut watch).await;
    }

    #[tokio::test]
    async fn a_folder_wakes_for_the_entries_it_wants() {
        let dir = tempfile::tempdir().unwrap();
        let mut watch = FileWatch::folder(dir.path(), |n| {
            n.to_string_lossy().ends_with(".request.json")
        })
        .unwrap();
        std::fs::write(dir.path().join("a.answer.json"), "{}").unwrap();
        expect_quiet(&mut watch).await;
        // Posted the way the store posts: written aside, then renamed into place.
        let temp = dir.path().join(".b.request.json.tmp");
        std::fs::write(&temp, "{}").unwrap();
        std::fs::rename(&temp, dir.path().join("b.request.json")).unwrap();
        expect_wake(&mut watch).await;
        assert!(std::fs::read_dir(dir.path()).unwrap().count() == 2);
        expect_quiet(&mut watch).await;
    }

    #[test]
    fn a_missing_folder_is_an_error_naming_it() {
        let err = FileWatch::start(Path::new("/nonexistent-shipdeck/flags.yaml")).unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains("/nonexistent-shipdeck"), "{shown}");
        assert!(shown.contains("cannot watch"), "{shown}");
    }
}
