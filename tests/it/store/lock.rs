//! The one-controller lock: exclusive, named, released on drop and when the holder dies.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use shipdeck::store::{Acquired, FileStore, Holder, ReleaseStore};

fn controller(store: &FileStore, operator: &str) -> shipdeck::store::Lease {
    match store.acquire(&Holder::here(operator, "screen")).unwrap() {
        Acquired::Controller(lease) => lease,
        Acquired::HeldBy(h) => panic!("expected control, held by {h:?}"),
    }
}

fn held_by(store: &FileStore, operator: &str) -> Holder {
    match store.acquire(&Holder::here(operator, "screen")).unwrap() {
        Acquired::HeldBy(h) => h,
        Acquired::Controller(lease) => panic!("got control as {:?}", lease.holder()),
    }
}

#[test]
fn nobody_holds_a_new_release() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    assert_eq!(store.holder().unwrap(), None);
}

#[test]
fn a_second_acquire_is_told_who_holds_it() {
    let tmp = tempfile::tempdir().unwrap();
    let first = FileStore::open(tmp.path()).unwrap();
    let second = FileStore::open(tmp.path()).unwrap();
    let lease = controller(&first, "alice");
    assert_eq!(lease.holder().operator, "alice");

    let h = held_by(&second, "bob");
    assert_eq!(h.operator, "alice");
    assert_eq!(h.pid, std::process::id());
    assert_eq!(h.mode, "screen");
    // The same store instance cannot take it twice either.
    assert_eq!(held_by(&first, "alice-again").operator, "alice");
    assert_eq!(
        second.holder().unwrap().map(|h| h.operator),
        Some("alice".into())
    );

    let holder_json = tmp.path().join("holder.json");
    assert_eq!(
        fs::metadata(&holder_json).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        fs::metadata(tmp.path().join("lock"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
}

#[test]
fn dropping_the_lease_gives_control_up() {
    let tmp = tempfile::tempdir().unwrap();
    let first = FileStore::open(tmp.path()).unwrap();
    let second = FileStore::open(tmp.path()).unwrap();
    let lease = controller(&first, "alice");
    drop(lease);
    assert_eq!(second.holder().unwrap(), None);
    assert!(!tmp.path().join("holder.json").exists());
    let lease = controller(&second, "bob");
    assert_eq!(
        first.holder().unwrap().map(|h| h.operator),
        Some("bob".into())
    );
    drop(lease);
    // The lock file stays: deleting it would let two controllers lock two different files.
    assert!(tmp.path().join("lock").exists());
}

#[test]
fn a_stale_holder_file_does_not_mean_anyone_holds_it() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    drop(controller(&store, "alice"));
    // As if alice's process had died before it could tidy up.
    let ghost = serde_json::to_string(&Holder::here("ghost", "screen")).unwrap();
    fs::write(tmp.path().join("holder.json"), ghost).unwrap();
    assert_eq!(store.holder().unwrap(), None);
    let lease = controller(&store, "bob");
    assert_eq!(
        store.holder().unwrap().map(|h| h.operator),
        Some("bob".into())
    );
    drop(lease);
}

#[test]
fn the_lock_is_a_real_flock_that_other_tools_see() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    let lock = tmp.path().join("lock");
    let flock_n = || {
        Command::new("flock")
            .args(["-n", "-E", "75"])
            .arg(&lock)
            .arg("true")
            .status()
            .unwrap()
            .code()
    };
    let lease = controller(&store, "alice");
    assert_eq!(flock_n(), Some(75), "flock(1) got a lock shipdeck holds");
    drop(lease);
    assert_eq!(flock_n(), Some(0));
}

/// Kills the child when a test ends, passing or not.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_line(child: &mut Child, marker: &str) {
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    loop {
        match lines.next() {
            Some(Ok(line)) if line.contains(marker) => return,
            Some(Ok(_)) => {}
            other => panic!("child ended before {marker:?}: {other:?}"),
        }
    }
}

#[test]
fn a_lock_held_by_something_unnamed_reports_an_unknown_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    let lock = tmp.path().join("lock");
    // A shell locks fd 9 with flock(1), then becomes `sleep` with fd 9 still open.
    let mut child = Reaped(
        Command::new("sh")
            .arg("-c")
            .arg("exec 9<>\"$1\"; flock -x 9 && echo LOCKED && exec sleep 60")
            .arg("sh")
            .arg(&lock)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    wait_for_line(&mut child.0, "LOCKED");
    assert_eq!(held_by(&store, "alice").operator, "unknown");
    assert_eq!(
        store.holder().unwrap().map(|h| h.operator),
        Some("unknown".into())
    );
    drop(child);
    assert_eq!(store.holder().unwrap(), None);
    drop(controller(&store, "alice"));
}

const CHILD_DIR: &str = "SHIPDECK_TEST_LOCK_CHILD_DIR";

/// The child half: take control, say so, then wait to be killed.
fn hold_until_killed(dir: &Path) {
    let store = FileStore::open(dir).unwrap();
    let _lease = controller(&store, "child-op");
    println!("LOCKED {}", std::process::id());
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn the_os_releases_the_lock_when_the_holder_is_killed() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        hold_until_killed(Path::new(&dir));
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    let mut child = Reaped(
        Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "store::lock::the_os_releases_the_lock_when_the_holder_is_killed",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, tmp.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    wait_for_line(&mut child.0, "LOCKED");
    let pid = child.0.id();

    let h = store
        .holder()
        .unwrap()
        .expect("the child holds the release");
    assert_eq!((h.operator.as_str(), h.pid), ("child-op", pid));
    assert_eq!(held_by(&store, "alice").operator, "child-op");

    // SIGKILL: no destructor runs, holder.json stays behind.
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    assert!(tmp.path().join("holder.json").exists());
    assert_eq!(store.holder().unwrap(), None);
    let lease = controller(&store, "alice");
    assert_eq!(lease.holder().operator, "alice");
    assert_eq!(
        store.holder().unwrap().map(|h| h.operator),
        Some("alice".into())
    );
}
