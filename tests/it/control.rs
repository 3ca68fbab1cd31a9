//! The controller as one loop, seen from outside: a follower shows its holder, runs
//! nothing of its own and outlives it; leaving and crashing are said and journaled;
//! `status` shows the heartbeat; a follower reads only the journal's new lines; and a
//! store writer that dies ends a headless run instead of hanging it.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::fault::common::*;
use shipdeck::clock::Clock;
use shipdeck::control::{self, HolderState, Role, Stop, driver};
use shipdeck::engine::journal::{Entry, Kind};
use shipdeck::engine::{Command, Phase, Progress};
use shipdeck::store::{
    Acquired, FileStore, Holder, InboxAnswer, InboxRequest, JournalRead, JournalTail, ReleaseStore,
    StoreError,
};

/// Engine seconds per real second for runs that must be mid-rollout within seconds: the
/// healthy plan's one-hour bakes take about five seconds each.
const SPEED: f64 = 600.0;

/// A headless run of `plan` held by `operator`, at [`SPEED`] unless `real_time`.
fn headless(plan: &Path, operator: &str, real_time: bool) -> Running {
    let speed = SPEED.to_string();
    let mut args = vec![
        "run",
        plan.to_str().unwrap(),
        "--headless",
        "--operator",
        operator,
    ];
    if !real_time {
        args.extend(["--speed", speed.as_str()]);
    }
    Running::spawn(cmd(&args))
}

fn store_of(plan: &Path) -> FileStore {
    FileStore::open(&state_dir(plan)).unwrap()
}

/// The saved state, read as a follower reads it; `None` before the first save.
fn saved(store: &FileStore) -> Option<Progress> {
    store.load().ok().flatten()
}

/// Past the first step and still rolling out.
fn mid_rollout(store: &FileStore) -> bool {
    saved(store).is_some_and(|p| matches!(p.phase, Phase::Baking { step } if step >= 1))
}

/// Polls `ok` until it holds, failing the test after `limit`, without blocking the
/// runtime the controller's loop runs on.
async fn until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Opens `plan` in this process as `operator` and starts the controller's loop.
async fn open_here(
    plan: &Path,
    operator: &str,
    clock: Clock,
    mode: &'static str,
) -> driver::Handle {
    let release = Arc::new(shipdeck::plan::load(plan).unwrap());
    let store: Arc<dyn ReleaseStore> = Arc::new(store_of(plan));
    let mut opts = control::Options::new(operator.into(), clock, mode);
    opts.plan_path = Some(plan.to_path_buf());
    let session = control::open(release, opts, store).await.unwrap();
    driver::spawn(session)
}

/// `kill -SIG pid`.
fn signal(pid: u32, sig: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{sig} {pid} failed");
}

fn journal_of(plan: &Path) -> Vec<Entry> {
    raw_journal(plan).entries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_outlives_its_holder_and_a_rollback_takes_over() {
    let (dir, plan) = release("healthy");
    let flags = dir.path().join("flags.yaml");
    let clock = Clock::starting(chrono::Utc::now(), SPEED);
    let mut holder = headless(&plan, "alice", false);
    let store = store_of(&plan);
    until("alice's run to reach Beta", Duration::from_secs(30), || {
        mid_rollout(&store)
    })
    .await;

    let handle = open_here(&plan, "bob", clock, "screen").await;
    until(
        "the follower to show alice's heartbeat and phase",
        Duration::from_secs(5),
        || {
            let s = handle.snapshot();
            let heartbeat = matches!(
                s.role,
                Role::Follower {
                    heartbeat: Some(_),
                    ..
                }
            );
            heartbeat && saved(&store).is_some_and(|p| &p.phase == s.engine.phase())
        },
    )
    .await;
    let s = handle.snapshot();
    let Role::Follower {
        holder: who, state, ..
    } = &s.role
    else {
        panic!("bob holds the release: {:?}", s.role);
    };
    assert_eq!(*state, HolderState::Live);
    assert!(
        who.starts_with("alice (headless") && who.contains(&format!("pid {}", holder.id())),
        "{who}"
    );
    assert!(
        s.engine.step_index().is_some_and(|i| i >= 1),
        "{:?}",
        s.engine.phase()
    );

    let alice = holder.id();
    holder.kill();
    let killed = Instant::now();
    until(
        "the follower to see alice gone",
        Duration::from_secs(5),
        || handle.snapshot().holder_state() == Some(HolderState::Gone),
    )
    .await;
    eprintln!(
        "follower saw the holder gone {:?} after kill -9",
        killed.elapsed()
    );

    // Nobody guards now, and the follower decides nothing: what it shows is alice's last
    // state, and it stays there.
    let last = saved(&store).expect("alice saved the state");
    let gone = handle.snapshot();
    assert_eq!(gone.engine.phase(), &last.phase);
    assert_eq!(gone.engine.progress().served_ms, last.served_ms);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let later = handle.snapshot();
    assert_eq!(
        later.engine.phase(),
        gone.engine.phase(),
        "the follower moved on"
    );
    assert_eq!(
        later.engine.progress().served_ms,
        gone.engine.progress().served_ms,
        "the follower baked by itself"
    );
    assert_eq!(
        later.engine.progress().step_started_at,
        gone.engine.progress().step_started_at
    );
    // Its engine has no time of its own (the clock it shows runs on from the holder's
    // last heartbeat, so the data's age shows), and it reads no metrics of its own.
    assert_eq!(
        later.engine.now(),
        gone.engine.now(),
        "the follower's engine ran on"
    );
    assert!(
        later.data_age >= gone.data_age,
        "the data looks fresher than it is"
    );
    assert_eq!(later.samples_seen, 0, "the follower read metrics itself");
    assert_eq!(
        saved(&store).as_ref(),
        Some(&last),
        "a follower wrote the state"
    );
    assert_eq!(later.holder_state(), Some(HolderState::Gone));

    // In a crisis a rollback does not wait for a dead process: it takes over and acts.
    let answer = handle
        .command(Command::Rollback, Some("alice's run died".into()))
        .await;
    assert!(answer.is_ok(), "{answer:?}");
    assert_eq!(handle.snapshot().role, Role::Holder);
    until("the flag to go off", Duration::from_secs(10), || {
        flag_in(&flags) == (false, 0.0)
    })
    .await;

    let journal = journal_of(&plan);
    let takeover = journal
        .iter()
        .position(|e| e.action == "takeover")
        .unwrap_or_else(|| panic!("no takeover in {journal:#?}"));
    let t = &journal[takeover];
    assert_eq!(t.operator, "bob");
    assert!(
        t.reason.contains("took over from alice (headless")
            && t.reason.contains(&format!("pid {alice}"))
            && t.reason.contains("alice's run died"),
        "{}",
        t.reason
    );
    let rollback = journal[takeover..]
        .iter()
        .find(|e| e.action == "rollback")
        .unwrap_or_else(|| panic!("no rollback after the takeover in {journal:#?}"));
    assert_eq!(rollback.operator, "bob");
    assert!(
        rollback.reason.contains("alice's run died"),
        "{}",
        rollback.reason
    );
    assert!(
        !journal.iter().any(|e| e.action == "unguarded"),
        "a takeover says whom it took over from; it is no silent crash: {journal:#?}"
    );

    handle.stop(Stop::Quit).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taking_over_a_live_holder_is_refused() {
    let (_dir, plan) = release("healthy");
    let mut holder = headless(&plan, "alice", true);
    let store = store_of(&plan);
    until(
        "alice to publish a heartbeat",
        Duration::from_secs(30),
        || store.published().ok().flatten().is_some(),
    )
    .await;

    let handle = open_here(&plan, "bob", Clock::live(), "screen").await;
    until(
        "the follower to read the heartbeat",
        Duration::from_secs(5),
        || {
            matches!(
                handle.snapshot().role,
                Role::Follower {
                    state: HolderState::Live,
                    heartbeat: Some(_),
                    ..
                }
            )
        },
    )
    .await;

    let answer = handle
        .take_over("just because".into())
        .await
        .expect("the loop answers");
    let why = answer
        .expect_err("took the release from a live holder")
        .to_string();
    assert!(why.contains("alive") && why.contains("alice"), "{why}");
    assert_eq!(
        handle.snapshot().holder_state(),
        Some(HolderState::Live),
        "still following"
    );
    assert_eq!(holder.exited(), None, "the holder was disturbed");
    assert_eq!(
        store.holder().unwrap().map(|h| h.pid),
        Some(holder.id()),
        "the lock changed hands"
    );
    assert!(!journal_of(&plan).iter().any(|e| e.action == "takeover"));
    assert_eq!(
        handle.stop(Stop::Quit).await,
        None,
        "a follower guards nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_a_live_rollout_is_said_and_journaled() {
    let (_dir, plan) = release("healthy");
    let handle = open_here(&plan, "carol", Clock::live(), "screen").await;
    assert_eq!(handle.snapshot().role, Role::Holder);
    let answer = handle
        .command(Command::Start { force: true }, Some("test".into()))
        .await;
    assert!(answer.is_ok(), "{answer:?}");
    assert!(handle.snapshot().engine.phase().is_live());

    let warning = handle
        .stop(Stop::Interrupt)
        .await
        .expect("no word on leaving a live rollout");
    assert!(
        warning.contains("guardrails stopped at")
            && warning.contains("--headless")
            && warning.contains(plan.to_str().unwrap()),
        "{warning}"
    );
    let journal = journal_of(&plan);
    let last = journal.last().expect("the journal is empty");
    assert_eq!(last.action, "control-stop", "{journal:#?}");
    assert_eq!(last.operator, "carol");
    assert_eq!(last.kind, Kind::Error);
    assert!(last.reason.contains("Ctrl-C"), "{}", last.reason);
}

#[test]
fn sigterm_ends_a_headless_run_with_a_word_and_a_journal_entry() {
    let (_dir, plan) = release("healthy");
    let mut child = headless(&plan, "alice", false);
    let store = store_of(&plan);
    wait_for("the run to be mid-rollout", Duration::from_secs(30), || {
        mid_rollout(&store)
    });
    signal(child.id(), "TERM");
    let code = child.wait(Duration::from_secs(15));
    assert_eq!(code, 1, "{}", child.stderr());
    let stderr = child.stderr();
    assert!(stderr.contains("guardrails stopped at"), "{stderr}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
    let journal = journal_of(&plan);
    let last = journal.last().expect("the journal is empty");
    assert_eq!(last.action, "control-stop", "{journal:#?}");
    assert_eq!(last.operator, "alice");
    assert!(last.reason.contains("SIGTERM"), "{}", last.reason);
    assert!(
        last.reason.contains("guardrails stopped at"),
        "{}",
        last.reason
    );
}

#[test]
fn a_crash_is_found_at_the_next_start() {
    let (_dir, plan) = release("healthy");
    let plan_arg = plan.to_str().unwrap();
    let mut child = headless(&plan, "alice", false);
    let alice = child.id();
    let store = store_of(&plan);
    wait_for("the run to be mid-rollout", Duration::from_secs(30), || {
        mid_rollout(&store)
    });
    child.kill();
    let published: control::follow::Published =
        serde_json::from_slice(&store.published().unwrap().expect("a heartbeat")).unwrap();
    let before = journal_of(&plan).len();

    let (code, stdout, stderr) = shipdeck_once(plan_arg);
    assert!(code == 0 || code == 4, "exit {code}\n{stdout}\n{stderr}");

    let journal = journal_of(&plan);
    let new = &journal[before..];
    let unguarded = new
        .iter()
        .find(|e| e.action == "unguarded")
        .unwrap_or_else(|| panic!("no unguarded entry in {new:#?}"));
    assert_eq!(unguarded.kind, Kind::Error);
    let heartbeat = published.heartbeat.format("%Y-%m-%d %H:%M:%SZ").to_string();
    assert!(
        unguarded.reason.contains("alice (headless")
            && unguarded.reason.contains(&format!("pid {alice}"))
            && unguarded
                .reason
                .contains(&format!("last heartbeat was {heartbeat}")),
        "{}",
        unguarded.reason
    );
    let start = new.iter().position(|e| e.action == "control-start");
    let found = new.iter().position(|e| e.action == "unguarded");
    assert!(
        found < start,
        "the crash is told before bob's start: {new:#?}"
    );
    assert_eq!(new[start.unwrap()].operator, "bob");

    let (code, md, stderr) = run(&["journal", plan_arg, "--markdown"]);
    assert_eq!(code, 0, "{stderr}");
    let row = md
        .lines()
        .find(|l| l.contains("| unguarded |"))
        .unwrap_or_else(|| panic!("no unguarded row in:\n{md}"));
    assert!(
        row.contains("stopped without a word") && row.contains(&heartbeat),
        "{row}"
    );
}

/// `shipdeck run PLAN --headless --once` as bob.
fn shipdeck_once(plan: &str) -> (i32, String, String) {
    run(&["run", plan, "--headless", "--once", "--operator", "bob"])
}

/// A process stopped with SIGSTOP, continued when dropped, pass or fail.
struct Frozen(u32);

impl Frozen {
    fn new(pid: u32) -> Frozen {
        signal(pid, "STOP");
        Frozen(pid)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg("-CONT")
            .arg(self.0.to_string())
            .status();
    }
}

#[test]
fn status_shows_the_heartbeat_and_a_holder_that_may_be_frozen() {
    let (_dir, plan) = release("healthy");
    let plan_arg = plan.to_str().unwrap();
    let mut holder = headless(&plan, "alice", true);
    let store = store_of(&plan);
    // `status` describes the holder of a release that has a saved state.
    wait_for(
        "alice to save the state and publish a heartbeat",
        Duration::from_secs(30),
        || saved(&store).is_some() && store.published().ok().flatten().is_some(),
    );
    let status = || {
        let (code, text, stderr) = run(&["status", plan_arg]);
        assert_eq!(code, 0, "{stderr}");
        text
    };
    let text = status();
    assert!(text.contains("held by alice"), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("last heartbeat"))
        .unwrap_or_else(|| panic!("no heartbeat in:\n{text}"));
    assert!(!line.contains("frozen"), "{line}");

    let frozen = Frozen::new(holder.id());
    let stopped = Instant::now();
    let mut text = String::new();
    wait_for(
        "status to call the holder frozen",
        Duration::from_secs(15),
        || {
            text = status();
            text.contains("may be frozen")
        },
    );
    assert!(
        stopped.elapsed() > control::HEARTBEAT_LIMIT,
        "frozen after only {:?}",
        stopped.elapsed()
    );
    assert!(
        text.contains("held by alice"),
        "the lock is still held: {text}"
    );
    drop(frozen);
    wait_for(
        "the heartbeat to come back",
        Duration::from_secs(15),
        || !status().contains("may be frozen"),
    );
    assert_eq!(holder.exited(), None);
}

fn entry(n: u32) -> Entry {
    Entry {
        at: chrono::DateTime::from_timestamp(1_700_000_000 + i64::from(n), 0).unwrap(),
        operator: "alice".into(),
        kind: Kind::Action,
        action: "promote".into(),
        reason: format!("entry {n}"),
        step: Some("Beta".into()),
        values: Default::default(),
        explain: None,
        canary: None,
        origin: None,
    }
}

fn line(e: &Entry) -> Vec<u8> {
    let mut line = serde_json::to_vec(e).unwrap();
    line.push(b'\n');
    line
}

fn append_raw(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
}

#[test]
fn a_follower_reads_only_whole_new_lines_and_starts_over_when_the_journal_is_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    let journal = tmp.path().join("journal.jsonl");
    assert_eq!(store.journal_end().unwrap(), 0);
    assert_eq!(store.journal_since(0).unwrap(), JournalTail::default());

    store.append(&[entry(1), entry(2)]).unwrap();
    let first = store.journal_since(0).unwrap();
    assert_eq!(first.entries, vec![entry(1), entry(2)]);
    assert!(!first.reset);
    assert_eq!(first.cursor, store.journal_end().unwrap());

    // A line still being written is not consumed...
    let third = line(&entry(3));
    let (head, tail) = third.split_at(third.len() / 2);
    append_raw(&journal, head);
    let partial = store.journal_since(first.cursor).unwrap();
    assert!(partial.entries.is_empty(), "{partial:?}");
    assert_eq!(partial.cursor, first.cursor, "half a line was consumed");
    assert!(store.journal_end().unwrap() > partial.cursor);
    // ... and comes whole on a later read, once finished.
    append_raw(&journal, tail);
    let finished = store.journal_since(partial.cursor).unwrap();
    assert_eq!(finished.entries, vec![entry(3)]);
    assert_eq!(finished.cursor, store.journal_end().unwrap());

    // Only what is appended after the cursor.
    store.append(&[entry(4), entry(5)]).unwrap();
    let more = store.journal_since(finished.cursor).unwrap();
    assert_eq!(more.entries, vec![entry(4), entry(5)]);
    assert!(!more.reset);
    let nothing = store.journal_since(more.cursor).unwrap();
    assert!(nothing.entries.is_empty());
    assert_eq!(nothing.cursor, more.cursor);

    // A cursor set back from the end reads only the newest entries; the partial line it
    // lands in is skipped.
    let end = store.journal_end().unwrap();
    let newest = store
        .journal_since(end - line(&entry(5)).len() as u64 - 5)
        .unwrap();
    assert_eq!(newest.entries, vec![entry(5)]);
    assert_eq!(newest.cursor, end);

    // A journal replaced by a shorter one is read again from its start.
    std::fs::write(&journal, line(&entry(9))).unwrap();
    let replaced = store.journal_since(more.cursor).unwrap();
    assert!(replaced.reset);
    assert_eq!(replaced.entries, vec![entry(9)]);
    assert_eq!(replaced.cursor, store.journal_end().unwrap());
    let after = store.journal_since(replaced.cursor).unwrap();
    assert!(!after.reset && after.entries.is_empty());
}

/// The real file store, whose `append` panics once `dead` is set: a writer thread that
/// dies mid-rollout.
struct DyingStore {
    inner: FileStore,
    dead: Arc<AtomicBool>,
    died_at: Arc<Mutex<Option<Instant>>>,
}

impl ReleaseStore for DyingStore {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn load(&self) -> Result<Option<Progress>, StoreError> {
        self.inner.load()
    }
    fn save(&self, progress: &Progress) -> Result<(), StoreError> {
        self.inner.save(progress)
    }
    fn append(&self, entries: &[Entry]) -> Result<(), StoreError> {
        if self.dead.load(Ordering::SeqCst) {
            if let Ok(mut at) = self.died_at.lock() {
                at.get_or_insert_with(Instant::now);
            }
            panic!("the store's writer dies here, on purpose");
        }
        self.inner.append(entries)
    }
    fn journal(&self) -> Result<JournalRead, StoreError> {
        self.inner.journal()
    }
    fn acquire(&self, holder: &Holder) -> Result<Acquired, StoreError> {
        self.inner.acquire(holder)
    }
    fn holder(&self) -> Result<Option<Holder>, StoreError> {
        self.inner.holder()
    }
    fn post(&self, request: &InboxRequest) -> Result<(), StoreError> {
        self.inner.post(request)
    }
    fn take_requests(&self) -> Result<Vec<InboxRequest>, StoreError> {
        self.inner.take_requests()
    }
    fn request_wakes(&self) -> Option<shipdeck::store::Wakes> {
        self.inner.request_wakes()
    }
    fn withdraw(&self, id: &str) -> Result<bool, StoreError> {
        self.inner.withdraw(id)
    }
    fn answer(&self, id: &str, answer: &InboxAnswer) -> Result<(), StoreError> {
        self.inner.answer(id, answer)
    }
    fn take_answer(&self, id: &str) -> Result<Option<InboxAnswer>, StoreError> {
        self.inner.take_answer(id)
    }
    fn journal_since(&self, cursor: u64) -> Result<JournalTail, StoreError> {
        self.inner.journal_since(cursor)
    }
    fn journal_end(&self) -> Result<u64, StoreError> {
        self.inner.journal_end()
    }
    fn journal_count(&self) -> Result<u64, StoreError> {
        self.inner.journal_count()
    }
    fn journal_recent(&self, n: usize) -> Result<JournalTail, StoreError> {
        self.inner.journal_recent(n)
    }
    fn publish(&self, document: &[u8]) -> Result<(), StoreError> {
        self.inner.publish(document)
    }
    fn published(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.published()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_writer_that_dies_ends_a_headless_run() {
    let (_dir, plan) = release("healthy");
    let dead = Arc::new(AtomicBool::new(false));
    let died_at = Arc::new(Mutex::new(None));
    let store: Arc<dyn ReleaseStore> = Arc::new(DyingStore {
        inner: store_of(&plan),
        dead: Arc::clone(&dead),
        died_at: Arc::clone(&died_at),
    });
    let release = Arc::new(shipdeck::plan::load(&plan).unwrap());
    let clock = Clock::starting(chrono::Utc::now(), SPEED);
    let mut opts = control::Options::new("dave".into(), clock, "headless");
    opts.plan_path = Some(plan.clone());
    let session = control::open(release, opts, store).await.unwrap();
    let opts = shipdeck::app::headless::Options {
        json: false,
        once: false,
        wait_for_approval: false,
        standby: false,
        max_pause: Duration::from_secs(3600),
    };
    let mut driving = tokio::spawn(shipdeck::app::headless::run(session, opts));

    let watch = store_of(&plan);
    until("the run to be mid-rollout", Duration::from_secs(30), || {
        mid_rollout(&watch)
    })
    .await;
    dead.store(true, Ordering::SeqCst);
    // The writer dies at its next journal entry (the next promote or confirmation).
    let outcome = tokio::time::timeout(Duration::from_secs(20), &mut driving)
        .await
        .expect("the run hangs with its writer dead")
        .unwrap();
    let died = died_at
        .lock()
        .unwrap()
        .expect("the run ended before its writer died");
    eprintln!("the run ended {:?} after its writer died", died.elapsed());
    assert!(
        died.elapsed() < Duration::from_secs(5),
        "the run took {:?} to see its writer die",
        died.elapsed()
    );
    assert_eq!(outcome.code, 1, "{}", outcome.why);
    assert!(outcome.why.contains("writer stopped"), "{}", outcome.why);
}
