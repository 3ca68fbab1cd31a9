//! support::path: the folder a file lives in, for the code that writes beside a file or
//! watches it. Pure; touches no file.

use std::path::{Path, PathBuf};

/// The folder of `path`: `.` for a bare file name, which has an empty parent.
pub(crate) fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_name_lives_here() {
        assert_eq!(folder_of(Path::new("flags.yaml")), PathBuf::from("."));
        assert_eq!(folder_of(Path::new("a/b.yaml")), PathBuf::from("a"));
        assert_eq!(folder_of(Path::new("/b.yaml")), PathBuf::from("/"));
    }
}
