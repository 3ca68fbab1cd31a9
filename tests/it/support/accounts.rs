//! Files owned by someone else, for tests of whom shipdeck trusts: only root can give a
//! file away, so those tests run as root (as CI does) and are skipped, saying so, on a
//! developer's machine that is not.

use std::path::Path;

/// The `nobody` account of Debian and most Linux systems.
pub const NOBODY: u32 = 65534;

/// True when this process may chown files. Otherwise prints why `what` is skipped, or
/// fails when `CI` is set: CI runs as root, and a test skipped there proves nothing.
pub fn as_root(what: &str) -> bool {
    if euid() == Some(0) {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} needs root (chown), and CI runs as root"
    );
    eprintln!("skipping {what}: it needs root to give files to another user");
    false
}

/// The effective user id, from /proc.
pub fn euid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Gives `path` to `uid` (its group too), without following a symbolic link.
pub fn give(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).unwrap();
}

/// `(uid, gid, permission bits)` of `path`.
pub fn owner_and_mode(path: &Path) -> (u32, u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).unwrap();
    (m.uid(), m.gid(), m.mode() & 0o7777)
}

/// How the journal names an operator who claims to be `claimed` in a command this user
/// posted to the holder's inbox: the claim, and this user when that is someone else.
pub fn journaled_as(claimed: &str) -> String {
    let uid = euid().expect("the effective uid in /proc");
    let out = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if name == claimed {
        claimed.to_string()
    } else {
        format!("{claimed}, posted by {name} (uid {uid})")
    }
}
