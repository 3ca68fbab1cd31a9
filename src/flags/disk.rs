//! flags::disk: the disk side of file-backed flags. Owns the read → edit → verify →
//! atomic write → read-back cycle, noticing outside edits by content hash, and the
//! ordering of a rollback's two writes; never interprets a file's format (a
//! [`FlagFile`] does that).

use std::fs::{self, File};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use crate::engine::values::{DesiredFlag, FlagState};
use crate::plan::FlagKind;

use super::{FlagError, WriteStep, check_percent, step_target, write_steps};

/// How many times a write is prepared again when the file changes underneath it.
const WRITE_ATTEMPTS: usize = 5;

/// A file format that holds flags (the YAML flag file, a flagd definition).
pub(crate) trait FlagFile: Send + 'static {
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
pub(crate) struct DiskFlag<F> {
    format: F,
    path: PathBuf,
    flag: String,
    kind: FlagKind,
    seen: Option<ContentHash>,
    last: Option<FlagState>,
}

impl<F: FlagFile> DiskFlag<F> {
    pub(crate) fn new(format: F, path: PathBuf, flag: String, kind: FlagKind) -> DiskFlag<F> {
        DiskFlag {
            format,
            path,
            flag,
            kind,
            seen: None,
            last: None,
        }
    }

    fn load(&self) -> Result<(String, ContentHash, Option<FlagState>), FlagError> {
        let text = read_text(&self.path, &self.format.create_hint(&self.path))?;
        let hash = ContentHash::of(text.as_bytes());
        let state = self
            .format
            .read_flag(&self.path, &text, &self.flag, self.kind)?;
        Ok((text, hash, state))
    }

    pub(crate) fn read(&mut self) -> Result<Option<FlagState>, FlagError> {
        let (_, hash, state) = self.load()?;
        self.seen = Some(hash);
        self.last = state.clone();
        Ok(state)
    }

    pub(crate) fn last_seen(&self) -> Option<&FlagState> {
        self.last.as_ref()
    }

    /// Whether the file on disk differs from what this process last read or wrote.
    pub(crate) fn changed_outside(&self) -> Result<bool, FlagError> {
        let text = read_text(&self.path, &self.format.create_hint(&self.path))?;
        Ok(self.seen != Some(ContentHash::of(text.as_bytes())))
    }

    /// Brings the flag to `desired` in as many atomic writes as [`write_steps`] says,
    /// and returns the state read back after the last one.
    pub(crate) fn write(&mut self, desired: &DesiredFlag) -> Result<FlagState, FlagError> {
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
    pub(crate) fn write_step(
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
            let now = read_text(&self.path, &self.format.create_hint(&self.path))?;
            if ContentHash::of(now.as_bytes()) != hash {
                continue;
            }
            write_atomic(&self.path, edited.as_bytes())?;
            return self.read()?.ok_or_else(|| FlagError::Verify {
                path: self.path.clone(),
                flag: self.flag.clone(),
                detail: "the flag was gone from the file read back after the write".to_string(),
            });
        }
        Err(FlagError::Contended {
            path: self.path.clone(),
            flag: self.flag.clone(),
        })
    }
}

/// A [`DiskFlag`] shared with the blocking threads its file I/O runs on.
pub(crate) struct SharedDiskFlag<F>(Arc<Mutex<DiskFlag<F>>>);

impl<F: FlagFile> SharedDiskFlag<F> {
    pub(crate) fn new(flag: DiskFlag<F>) -> SharedDiskFlag<F> {
        SharedDiskFlag(Arc::new(Mutex::new(flag)))
    }

    /// Runs `work` on the flag off the async threads: fsync may take a while.
    pub(crate) async fn run<T: Send + 'static>(
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
    pub(crate) fn with<T>(&self, look: impl FnOnce(&DiskFlag<F>) -> T) -> T {
        let flag = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        look(&flag)
    }
}

/// What a file held when this process last read or wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ContentHash(u64);

impl ContentHash {
    pub(crate) fn of(bytes: &[u8]) -> ContentHash {
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

/// The folder a file lives in (`.` for a bare file name).
fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Refuses a file or folder that carries no write permission at all. The check is on
/// the mode bits, not on access: replacing a file by rename would otherwise sail past a
/// read-only mark (and root ignores it altogether).
pub(crate) fn check_writable(path: &Path) -> Result<(), FlagError> {
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

/// Replaces `path` with `contents` so that readers see either the old or the new file,
/// never a part: temporary file in the same folder, write, fsync, rename, fsync the folder.
/// The file keeps its permissions; a symlink keeps pointing at the file it named.
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), FlagError> {
    // Write through a symlink to its target rather than replacing the link itself.
    let target = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let folder = folder_of(&target);
    let permissions = fs::metadata(&target)
        .map(|meta| meta.permissions())
        .map_err(|error| io_error(&target, "inspect", error))?;
    let file_name = target
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".tmp")
        .tempfile_in(&folder)
        .map_err(|error| io_error(&folder, "create a temporary file in", error))?;
    temp.write_all(contents)
        .map_err(|error| io_error(temp.path(), "write", error))?;
    temp.as_file()
        .set_permissions(permissions)
        .map_err(|error| io_error(temp.path(), "set the permissions of", error))?;
    temp.as_file()
        .sync_all()
        .map_err(|error| io_error(temp.path(), "flush", error))?;
    temp.persist(&target)
        .map_err(|error| io_error(&target, "replace", error.error))?;
    sync_folder(&folder)
}

/// Makes the rename itself durable.
#[cfg(unix)]
fn sync_folder(folder: &Path) -> Result<(), FlagError> {
    File::open(folder)
        .and_then(|dir| dir.sync_all())
        .map_err(|error| io_error(folder, "flush", error))
}

/// Folders cannot be opened for syncing here; the rename is as durable as the OS makes it.
#[cfg(not(unix))]
fn sync_folder(_folder: &Path) -> Result<(), FlagError> {
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
    fn write_atomic_replaces_and_keeps_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flags.yaml");
        fs::write(&path, "old\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        }
        write_atomic(&path, b"new\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o640);
        }
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn write_atomic_through_a_symlink_keeps_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.yaml");
        let link = dir.path().join("flags.yaml");
        fs::write(&real, "old\n").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, b"new\n").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), "new\n");
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
