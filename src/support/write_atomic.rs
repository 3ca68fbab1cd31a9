//! support::write_atomic: replaces a whole file so that readers see the old contents or the
//! new, never a part, and a failure leaves no temporary file behind. Never edits a file in
//! place and never appends. A private file's temporary is created new (O_EXCL) and renamed
//! over the path, so a symbolic link planted there is replaced, never written through.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::path::folder_of;

/// How a file is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Keep the replaced file's owner, group and permissions, and replace the file a
    /// symlink names rather than the link: for files people own and arrange (a flag file
    /// another service reads). Refused when the owner or group cannot be kept (only root
    /// may give a file away), rather than leaving the file to whoever ran shipdeck.
    /// Without it the new file is this user's, private (0600), and a symlink is replaced
    /// by the file.
    pub(crate) keep_file: bool,
    /// Flush the file and then its folder to disk before returning, so the new contents
    /// survive a power cut. Without it the rename is as durable as the system makes it:
    /// for a file rewritten every few seconds that a crash may lose.
    pub(crate) durable: bool,
}

impl Options {
    /// A file of shipdeck's own (state, holder, inbox): private, flushed.
    pub(crate) const PRIVATE: Options = Options {
        keep_file: false,
        durable: true,
    };
    /// A file someone else owns: permissions and symlinks kept, flushed.
    pub(crate) const KEEP_FILE: Options = Options {
        keep_file: true,
        durable: true,
    };
}

/// A step of the replacement failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {}: {source}", path.display())]
pub struct WriteError {
    /// The file, temporary file or folder the step was about.
    pub path: PathBuf,
    /// What was being done, as a verb: `write`, `replace`, `flush`, ...
    pub action: &'static str,
    pub source: io::Error,
}

/// Replaces `path` with `contents`: a temporary file in the same folder, written, (flushed,)
/// renamed over the old file, (then the folder flushed).
pub fn write_atomic(path: &Path, contents: &[u8], options: Options) -> Result<(), WriteError> {
    let fail = |path: &Path, action: &'static str| {
        let path = path.to_path_buf();
        move |source| WriteError {
            path,
            action,
            source,
        }
    };
    let target = if options.keep_file {
        // Write through a symlink to its target rather than replacing the link itself.
        fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
    } else {
        path.to_path_buf()
    };
    let original = if options.keep_file {
        Some(fs::metadata(&target).map_err(fail(&target, "inspect"))?)
    } else {
        None
    };
    let folder = folder_of(&target);
    let file_name = target
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".tmp")
        .tempfile_in(&folder)
        .map_err(fail(&folder, "create a temporary file in"))?;
    temp.write_all(contents)
        .map_err(fail(temp.path(), "write"))?;
    if let Some(original) = &original {
        // Owner first: a change of owner may clear the set-id bits the mode then restores.
        keep_owner(temp.as_file(), original).map_err(fail(&target, "keep the owner of"))?;
        temp.as_file()
            .set_permissions(original.permissions())
            .map_err(fail(temp.path(), "set the permissions of"))?;
    }
    if options.durable {
        temp.as_file()
            .sync_all()
            .map_err(fail(temp.path(), "flush"))?;
    }
    temp.persist(&target)
        .map_err(|e| fail(&target, "replace")(e.error))?;
    if options.durable {
        sync_folder(&folder).map_err(fail(&folder, "flush"))?;
    }
    Ok(())
}

/// Gives `file` the owner and group of `original`, where they differ.
#[cfg(unix)]
fn keep_owner(file: &fs::File, original: &fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let now = file.metadata()?;
    let uid = (now.uid() != original.uid()).then_some(original.uid());
    let gid = (now.gid() != original.gid()).then_some(original.gid());
    if uid.is_none() && gid.is_none() {
        return Ok(());
    }
    std::os::unix::fs::fchown(file, uid, gid).map_err(|e| {
        if e.kind() == io::ErrorKind::PermissionDenied {
            io::Error::new(
                e.kind(),
                format!(
                    "it belongs to uid {} and gid {}, and a replacement written by uid {} cannot \
                     be given to them ({e}); run shipdeck as its owner or as root",
                    original.uid(),
                    original.gid(),
                    now.uid()
                ),
            )
        } else {
            e
        }
    })
}

/// Owners cannot be set here; permissions are kept as the system allows.
#[cfg(not(unix))]
fn keep_owner(_file: &fs::File, _original: &fs::Metadata) -> io::Result<()> {
    Ok(())
}

/// Makes the renames and new entries in `folder` durable.
#[cfg(unix)]
pub(crate) fn sync_folder(folder: &Path) -> io::Result<()> {
    fs::File::open(folder).and_then(|dir| dir.sync_all())
}

/// Folders cannot be opened for syncing here; a rename is as durable as the system makes it.
#[cfg(not(unix))]
pub(crate) fn sync_folder(_folder: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        write_atomic(&path, b"new\n", Options::KEEP_FILE).unwrap();
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
        write_atomic(&link, b"new\n", Options::KEEP_FILE).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), "new\n");
    }

    #[cfg(unix)]
    #[test]
    fn a_private_file_replaces_a_planted_link_and_leaves_its_target_alone() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious\n").unwrap();
        let path = dir.path().join("state.json");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        write_atomic(&path, b"new\n", Options::PRIVATE).unwrap();
        assert!(fs::symlink_metadata(&path).unwrap().is_file());
        assert_eq!(fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    }

    #[cfg(unix)]
    #[test]
    fn a_private_file_is_new_and_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(&path, "old\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        write_atomic(&path, b"new\n", Options::PRIVATE).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new\n");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_missing_folder_names_the_step() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone").join("state.json");
        let err = write_atomic(&path, b"x", Options::PRIVATE).unwrap_err();
        assert_eq!(err.action, "create a temporary file in");
        assert_eq!(err.path, dir.path().join("gone"));
    }
}
