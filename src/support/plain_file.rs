//! support::plain_file: opening a file in a folder someone else might write into (the
//! state directory, its inbox) so that what is found there cannot lead shipdeck astray:
//! never through a symbolic link, never waiting on a FIFO or a device, and reading no
//! more than a limit. Owns what counts as a plain file; never decides whom to trust.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

/// What sits at a path instead of a plain file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    Link,
    Directory,
    Fifo,
    Device,
    Socket,
}

impl std::fmt::Display for Special {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Special::Link => "a symbolic link",
            Special::Directory => "a directory",
            Special::Fifo => "a named pipe (FIFO)",
            Special::Device => "a device",
            Special::Socket => "a socket",
        })
    }
}

/// Why a path could not be opened or read as a plain file.
#[derive(Debug, thiserror::Error)]
pub enum NotPlain {
    #[error("it is {0}, not a plain file")]
    Special(Special),
    #[error("it is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl NotPlain {
    /// Nothing is there (or it went away between listing and opening).
    pub fn is_missing(&self) -> bool {
        matches!(self, NotPlain::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

/// Opens `path` as `options` say, but only a plain file and never through a symbolic link
/// (`O_NOFOLLOW`); `O_NONBLOCK` keeps a FIFO from stalling the open. Returns the file and
/// what `fstat` says of it (its owner and mode, for the caller to judge).
#[cfg(unix)]
pub fn open(path: &Path, mut options: OpenOptions) -> Result<(File, Metadata), NotPlain> {
    use rustix::fs::OFlags;
    use std::os::unix::fs::OpenOptionsExt;
    let flags = OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    // The flag bits fit an i32: they are the C `int` open(2) takes.
    options.custom_flags(flags.bits() as i32);
    let file = options.open(path).map_err(|e| {
        if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
            NotPlain::Special(Special::Link)
        } else {
            NotPlain::Io(e)
        }
    })?;
    let meta = file.metadata()?;
    match special(&meta) {
        Some(kind) => Err(NotPlain::Special(kind)),
        None => Ok((file, meta)),
    }
}

#[cfg(not(unix))]
pub fn open(path: &Path, options: OpenOptions) -> Result<(File, Metadata), NotPlain> {
    let file = options.open(path)?;
    let meta = file.metadata()?;
    match special(&meta) {
        Some(kind) => Err(NotPlain::Special(kind)),
        None => Ok((file, meta)),
    }
}

/// Opens `path` for reading, as [`open`] does.
pub fn open_read(path: &Path) -> Result<(File, Metadata), NotPlain> {
    let mut options = OpenOptions::new();
    options.read(true);
    open(path, options)
}

/// What `meta` describes when it is not a plain file.
pub fn special(meta: &Metadata) -> Option<Special> {
    let kind = meta.file_type();
    if kind.is_file() {
        return None;
    }
    if kind.is_symlink() {
        return Some(Special::Link);
    }
    if kind.is_dir() {
        return Some(Special::Directory);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return Some(Special::Fifo);
        }
        if kind.is_socket() {
            return Some(Special::Socket);
        }
    }
    Some(Special::Device)
}

/// The whole file, refused past `limit` bytes without reading further (a file that grows
/// while it is read is caught too).
pub fn read_capped(file: &mut File, limit: u64) -> Result<Vec<u8>, NotPlain> {
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(NotPlain::TooLarge { limit });
    }
    Ok(bytes)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_plain_file_opens_and_reads_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"12345").unwrap();
        let (mut file, meta) = open_read(&path).unwrap();
        assert_eq!(meta.len(), 5);
        assert_eq!(read_capped(&mut file, 5).unwrap(), b"12345");
        let (mut file, _) = open_read(&path).unwrap();
        assert!(matches!(
            read_capped(&mut file, 4),
            Err(NotPlain::TooLarge { limit: 4 })
        ));
    }

    #[test]
    fn links_directories_and_fifos_are_named_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
            0,
        )
        .unwrap();
        let kind = |p: &Path| match open_read(p) {
            Err(NotPlain::Special(kind)) => kind,
            other => panic!("{}: {other:?}", p.display()),
        };
        assert_eq!(kind(&link), Special::Link);
        assert_eq!(kind(dir.path()), Special::Directory);
        assert_eq!(kind(&fifo), Special::Fifo);
        assert_eq!(kind(Path::new("/dev/null")), Special::Device);
        assert!(
            open_read(&dir.path().join("gone"))
                .unwrap_err()
                .is_missing()
        );
    }
}
