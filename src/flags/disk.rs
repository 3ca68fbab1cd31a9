//! flags::disk: the disk side of file-backed flags. Owns the read → edit → verify →
//! atomic write → read-back cycle, noticing outside edits by content hash, the ordering
//! of a rollback's two writes, and [`DiskBackend`], the [`FlagBackend`] of any file
//! format; never interprets a file's format (a [`FlagFile`] does that).

use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::BoxFuture;

use crate::plan::FlagKind;
use crate::support::path::folder_of;
use crate::support::write_atomic::{Options, write_atomic};

use super::{
    DesiredFlag, FlagBackend, FlagError, FlagState, WriteStep, check_percent, step_target,
    write_steps,
};

/// How many times a write is prepared again when the file changes underneath it.
const WRITE_ATTEMPTS: usize = 5;

/// A file format that holds flags (the YAML flag file, a flagd definition). Public only
/// so that [`DiskBackend`] can name it; nothing outside this crate can implement it.
pub trait FlagFile: Send + 'static {
    /// What [`FlagBackend::describe`] calls the backend, before the path: `file`, `flagd`.
    const LABEL: &'static str;
    /// What to tell a user whose file is missing: how to create it.
    fn create_hint(&self, path: &Path) -> String;
    /// The flag's state in `text` (`None` when absent), after validating the whole text.
    /// A flag with no kind of its own takes `kind`.
    fn read_flag(
        &self,
        path: &Path,
        text: &str,
        flag: &str,
        kind: FlagKind,
    ) -> Result<Option<FlagState>, FlagError>;
    /// `text` with the flag changed from `current` to `target`, checked to read back as
    /// `target` with nothing else changed.
    fn edit(
        &self,
        path: &Path,
        text: &str,
        flag: &str,
        current: Option<&FlagState>,
        target: &FlagState,
    ) -> Result<String, FlagError>;
}

/// One flag in one file, with what this process last saw of that file.
struct DiskFlag<F> {
    format: F,
    path: PathBuf,
    flag: String,
    kind: FlagKind,
    seen: Option<ContentHash>,
    last: Option<FlagState>,
}

impl<F: FlagFile> DiskFlag<F> {
    fn new(format: F, path: PathBuf, flag: String, kind: FlagKind) -> DiskFlag<F> {
        DiskFlag {
            format,
            path,
            flag,
            kind,
            seen: None,
            last: None,
        }
    }

    /// The file's text now.
    fn text(&self) -> Result<String, FlagError> {
        read_text(&self.path, &self.format.create_hint(&self.path))
    }

    fn load(&self) -> Result<(String, ContentHash, Option<FlagState>), FlagError> {
        let text = self.text()?;
        let hash = ContentHash::of(text.as_bytes());
        let state = self
            .format
            .read_flag(&self.path, &text, &self.flag, self.kind)?;
        Ok((text, hash, state))
    }

    fn read(&mut self) -> Result<Option<FlagState>, FlagError> {
        let (_, hash, state) = self.load()?;
        self.seen = Some(hash);
        self.last = state.clone();
        Ok(state)
    }

    fn last_seen(&self) -> Option<&FlagState> {
        self.last.as_ref()
    }

    /// Whether the file on disk differs from what this process last read or wrote.
    fn changed_outside(&self) -> Result<bool, FlagError> {
        let text = self.text()?;
        Ok(self.seen != Some(ContentHash::of(text.as_bytes())))
    }

    /// Brings the flag to `desired` in as many atomic writes as [`write_steps`] says,
    /// and returns the state read back after the last one.
    fn write(&mut self, desired: &DesiredFlag) -> Result<FlagState, FlagError> {
        check_percent(&self.flag, desired)?;
        let mut read_back = None;
        for step in write_steps(desired) {
            read_back = Some(self.write_step(*step, desired)?);
        }
        read_back.ok_or_else(|| FlagError::Other("no write was needed or made".to_string()))
    }

    /// One atomic write. The edit is always made on the text now on disk, so an outside
    /// change to anything else survives; if the file changes while the edit is being
    /// prepared, the edit is prepared again on the newer text.
    fn write_step(
        &mut self,
        step: WriteStep,
        desired: &DesiredFlag,
    ) -> Result<FlagState, FlagError> {
        for _ in 0..WRITE_ATTEMPTS {
            let (text, hash, current) = self.load()?;
            // A change decided on what shipdeck last saw must not land on a flag someone
            // else changed since: report it instead. Turning the flag off always goes on.
            if desired.enabled
                && self.seen.is_some_and(|seen| seen != hash)
                && let Some(found) = &current
                && !self.last.as_ref().is_some_and(|last| last.same_as(found))
            {
                self.seen = Some(hash);
                self.last = Some(found.clone());
                return Err(FlagError::ChangedOutside {
                    where_: self.path.display().to_string(),
                    flag: self.flag.clone(),
                    found: Box::new(found.clone()),
                });
            }
            // Gone since shipdeck last saw it: deleted outside shipdeck. Creating it again
            // is a person's decision (a resume), never a side effect of the next step.
            if desired.enabled && current.is_none() && self.last.is_some() {
                self.seen = Some(hash);
                self.last = None;
                return Err(FlagError::Vanished {
                    where_: self.path.display().to_string(),
                    flag: self.flag.clone(),
                });
            }
            let target = step_target(step, desired, current.as_ref(), self.kind);
            if let Some(current) = &current
                && current.same_as(&target)
            {
                self.seen = Some(hash);
                self.last = Some(current.clone());
                return Ok(current.clone());
            }
            let edited =
                self.format
                    .edit(&self.path, &text, &self.flag, current.as_ref(), &target)?;
            check_writable(&self.path)?;
            let now = self.text()?;
            if ContentHash::of(now.as_bytes()) != hash {
                continue;
            }
            write_atomic(&self.path, edited.as_bytes(), Options::KEEP_FILE)
                .map_err(|e| io_error(&e.path, e.action, e.source))?;
            return self.read()?.ok_or_else(|| {
                not_as_intended(
                    &self.path,
                    &self.flag,
                    "the flag was gone from the file read back after the write".to_string(),
                )
            });
        }
        Err(FlagError::Contended {
            path: self.path.clone(),
            flag: self.flag.clone(),
        })
    }
}

/// A [`DiskFlag`] shared with the blocking threads its file I/O runs on.
struct SharedDiskFlag<F>(Arc<Mutex<DiskFlag<F>>>);

impl<F: FlagFile> SharedDiskFlag<F> {
    fn new(flag: DiskFlag<F>) -> SharedDiskFlag<F> {
        SharedDiskFlag(Arc::new(Mutex::new(flag)))
    }

    /// Runs `work` on the flag off the async threads: fsync may take a while.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DiskFlag<F>) -> Result<T, FlagError> + Send + 'static,
    ) -> Result<T, FlagError> {
        let shared = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || {
            let mut flag = shared.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut flag)
        })
        .await
        .map_err(|error| FlagError::Other(format!("the flag file task stopped: {error}")))?
    }

    /// Runs `look` on the flag right here; for quick questions, not for I/O-heavy work.
    fn with<T>(&self, look: impl FnOnce(&DiskFlag<F>) -> T) -> T {
        let flag = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        look(&flag)
    }
}

/// One flag in a file of format `F`, as a [`FlagBackend`]; the file I/O runs on tokio's
/// blocking threads. [`crate::flags::FileBackend`] and [`crate::flags::FlagdBackend`] are
/// this for the YAML flag file and a flagd definition.
pub struct DiskBackend<F> {
    path: PathBuf,
    flag: String,
    disk: SharedDiskFlag<F>,
}

impl<F: FlagFile> DiskBackend<F> {
    /// The flag `flag` in the file at `path`, read and written as `format`; a flag this
    /// creates gets `kind`, and so does a flag whose entry names no kind.
    pub(crate) fn open(format: F, path: PathBuf, flag: String, kind: FlagKind) -> DiskBackend<F> {
        let disk = DiskFlag::new(format, path.clone(), flag.clone(), kind);
        DiskBackend {
            path,
            flag,
            disk: SharedDiskFlag::new(disk),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn flag(&self) -> &str {
        &self.flag
    }

    /// The flag as this backend last read it or read it back (`None` before the first read,
    /// or when the flag was missing).
    pub fn last_seen(&self) -> Option<FlagState> {
        self.disk.with(|disk| disk.last_seen().cloned())
    }

    /// Whether the file now differs from what this backend last read or wrote: an outside
    /// edit (a file watcher fires for shipdeck's own writes too; this tells them apart).
    pub fn changed_outside(&self) -> Result<bool, FlagError> {
        self.disk.with(|disk| disk.changed_outside())
    }
}

impl<F: FlagFile> FlagBackend for DiskBackend<F> {
    fn describe(&self) -> String {
        format!("{} {}", F::LABEL, self.path.display())
    }

    fn read(&mut self) -> BoxFuture<'_, Result<Option<FlagState>, FlagError>> {
        Box::pin(self.disk.run(|disk| disk.read()))
    }

    fn write<'a>(
        &'a mut self,
        desired: &'a DesiredFlag,
    ) -> BoxFuture<'a, Result<FlagState, FlagError>> {
        let desired = desired.clone();
        Box::pin(self.disk.run(move |disk| disk.write(&desired)))
    }

    fn watched_file(&self) -> Option<&Path> {
        Some(&self.path)
    }
}

/// The kind a file names (`release`, `experiment`, `ops`, `permission`), for the formats.
pub(crate) fn parse_kind(name: &str) -> Option<FlagKind> {
    [
        FlagKind::Release,
        FlagKind::Experiment,
        FlagKind::Ops,
        FlagKind::Permission,
    ]
    .into_iter()
    .find(|kind| kind.name() == name)
}

/// The error for an edit that does not say what was meant: what a format's check of its
/// own edit and the read-back after a write report.
pub(crate) fn not_as_intended(path: &Path, flag: &str, detail: String) -> FlagError {
    FlagError::Verify {
        path: path.to_path_buf(),
        flag: flag.to_string(),
        detail,
    }
}

/// What a file held when this process last read or wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ContentHash(u64);

impl ContentHash {
    fn of(bytes: &[u8]) -> ContentHash {
        let mut hasher = DefaultHasher::new();
        bytes.hash(&mut hasher);
        ContentHash(hasher.finish())
    }
}

fn io_error(path: &Path, action: &'static str, error: io::Error) -> FlagError {
    let hint = match error.kind() {
        io::ErrorKind::PermissionDenied => {
            "check that the user running shipdeck may read and write it and its folder".to_string()
        }
        io::ErrorKind::NotFound => "check the path in the plan's flag.backend".to_string(),
        _ => "check the disk and the path, then retry".to_string(),
    };
    FlagError::Io {
        path: path.to_path_buf(),
        action,
        error,
        hint,
    }
}

/// The file's text; `create_hint` tells the user how to create it when it is missing.
pub(crate) fn read_text(path: &Path, create_hint: &str) -> Result<String, FlagError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(FlagError::Missing {
                path: path.to_path_buf(),
                hint: create_hint.to_string(),
            });
        }
        Err(error) => return Err(io_error(path, "read", error)),
    };
    String::from_utf8(bytes).map_err(|error| {
        let at = error.utf8_error().valid_up_to();
        let before = &error.as_bytes()[..at];
        let line = before.iter().filter(|b| **b == b'\n').count() as u64 + 1;
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count() as u64
            + 1;
        FlagError::Invalid {
            path: path.to_path_buf(),
            line,
            column,
            message: "the file is not valid UTF-8".to_string(),
            hint: "save it as UTF-8 text".to_string(),
        }
    })
}

/// Refuses a file or folder that carries no write permission at all. The check is on
/// the mode bits, not on access: replacing a file by rename would otherwise sail past a
/// read-only mark (and root ignores it altogether).
fn check_writable(path: &Path) -> Result<(), FlagError> {
    let file_meta = fs::metadata(path).map_err(|error| io_error(path, "inspect", error))?;
    if file_meta.permissions().readonly() {
        return Err(FlagError::ReadOnly {
            path: path.to_path_buf(),
            hint: format!(
                "make it writable (chmod u+w {}) or point the plan at a writable copy",
                path.display()
            ),
        });
    }
    let folder = folder_of(path);
    let folder_meta = fs::metadata(&folder).map_err(|error| io_error(&folder, "inspect", error))?;
    if folder_meta.permissions().readonly() {
        return Err(FlagError::ReadOnly {
            path: folder.clone(),
            hint: format!(
                "shipdeck replaces {} through a temporary file in its folder; make the folder \
                 writable (chmod u+w {})",
                path.display(),
                folder.display()
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::flags::file::YamlFlags;

    const FLAGS: &str =
        "flags:\n  a:   # ours\n    enabled: true\n    rollout: 0.25\n  b: {enabled: false}\n";

    /// The YAML format, with another writer appending to the file while the first
    /// edits are being prepared: the window between shipdeck's read and its rename.
    struct Interfering {
        edits: AtomicUsize,
        interfere_for: usize,
        path: PathBuf,
    }

    impl FlagFile for Interfering {
        const LABEL: &'static str = "file";
        fn create_hint(&self, path: &Path) -> String {
            YamlFlags.create_hint(path)
        }
        fn read_flag(
            &self,
            path: &Path,
            text: &str,
            flag: &str,
            kind: FlagKind,
        ) -> Result<Option<FlagState>, FlagError> {
            YamlFlags.read_flag(path, text, flag, kind)
        }
        fn edit(
            &self,
            path: &Path,
            text: &str,
            flag: &str,
            current: Option<&FlagState>,
            target: &FlagState,
        ) -> Result<String, FlagError> {
            let n = self.edits.fetch_add(1, Ordering::SeqCst);
            if n < self.interfere_for {
                let outside = format!("{text}# outside edit {n}\n");
                fs::write(&self.path, outside).unwrap();
            }
            YamlFlags.edit(path, text, flag, current, target)
        }
    }

    fn on_disk(interfere_for: usize) -> (tempfile::TempDir, PathBuf, DiskFlag<Interfering>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flags.yaml");
        fs::write(&path, FLAGS).unwrap();
        let format = Interfering {
            edits: AtomicUsize::new(0),
            interfere_for,
            path: path.clone(),
        };
        let flag = DiskFlag::new(format, path.clone(), "a".into(), FlagKind::Release);
        (dir, path, flag)
    }

    fn desired(enabled: bool, percent: u8) -> DesiredFlag {
        DesiredFlag {
            enabled,
            percent,
            groups: vec![],
        }
    }

    #[test]
    fn a_change_during_the_write_is_kept_and_the_edit_redone_on_it() {
        let (_dir, path, mut flag) = on_disk(2);
        let back = flag.write(&desired(true, 50)).unwrap();
        assert_eq!(back.rollout, 0.5);
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "flags:\n  a:   # ours\n    enabled: true\n    rollout: 0.5\n  b: {enabled: false}\n# outside edit 0\n# outside edit 1\n"
        );
        assert_eq!(flag.format.edits.load(Ordering::SeqCst), 3);
        assert!(!flag.changed_outside().unwrap());
    }

    #[test]
    fn a_file_that_never_settles_is_left_to_the_other_writer() {
        let (_dir, path, mut flag) = on_disk(usize::MAX);
        let err = flag.write(&desired(true, 50)).unwrap_err();
        assert!(matches!(err, FlagError::Contended { .. }), "{err:?}");
        assert!(
            fs::read_to_string(&path)
                .unwrap()
                .contains("    rollout: 0.25\n")
        );
    }

    #[test]
    fn the_disable_step_lands_alone_on_disk() {
        let (_dir, path, mut flag) = on_disk(0);
        let off = desired(false, 0);
        let first = flag.write_step(WriteStep::DisableOnly, &off).unwrap();
        assert_eq!((first.enabled, first.rollout), (false, 0.25));
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            FLAGS.replace("enabled: true", "enabled: false")
        );
        let second = flag.write_step(WriteStep::Apply, &off).unwrap();
        assert_eq!((second.enabled, second.rollout), (false, 0.0));
        // Nothing left to change: no write, same answer.
        let edits = flag.format.edits.load(Ordering::SeqCst);
        assert_eq!(flag.write(&off).unwrap(), second);
        assert_eq!(flag.format.edits.load(Ordering::SeqCst), edits);
    }

    #[test]
    fn a_flag_changed_outside_since_the_last_read_is_not_written_over() {
        let (_dir, path, mut flag) = on_disk(0);
        flag.read().unwrap();
        let by_hand = FLAGS.replace("rollout: 0.25", "rollout: 0.8");
        fs::write(&path, &by_hand).unwrap();
        match flag.write(&desired(true, 50)) {
            Err(FlagError::ChangedOutside { found, .. }) => assert_eq!(found.rollout, 0.8),
            other => panic!("expected ChangedOutside, got {other:?}"),
        }
        assert_eq!(fs::read_to_string(&path).unwrap(), by_hand);
        // Now that shipdeck has seen it, a new decision is written.
        assert_eq!(flag.write(&desired(true, 50)).unwrap().rollout, 0.5);
        // A rollback is written whatever happened meanwhile.
        fs::write(&path, FLAGS.replace("rollout: 0.25", "rollout: 0.9")).unwrap();
        let off = flag.write(&desired(false, 0)).unwrap();
        assert!(!off.enabled);
        // Other edits to the file (a comment, another flag) do not count as a change.
        flag.read().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, format!("{text}# a note\n")).unwrap();
        assert!(flag.write(&desired(true, 5)).unwrap().enabled);
    }

    #[test]
    fn missing_file_says_how_to_create_it() {
        let dir = tempfile::tempdir().unwrap();
        let err =
            read_text(&dir.path().join("nope.yaml"), "create it with `flags: {}`").unwrap_err();
        assert!(matches!(err, FlagError::Missing { .. }));
        assert!(err.to_string().contains("create it with"), "{err}");
    }

    #[test]
    fn invalid_utf8_names_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flags.yaml");
        fs::write(&path, b"flags:\n  a\xff: {}\n").unwrap();
        match read_text(&path, "") {
            Err(FlagError::Invalid { line, column, .. }) => assert_eq!((line, column), (2, 4)),
            other => panic!("expected an Invalid error, got {other:?}"),
        }
    }

    #[test]
    fn hashes_tell_contents_apart() {
        assert_eq!(ContentHash::of(b"a"), ContentHash::of(b"a"));
        assert_ne!(ContentHash::of(b"a"), ContentHash::of(b"b"));
    }
}
