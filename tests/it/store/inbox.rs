//! The command inbox: requests from other terminals to the controller, and answers back.

use chrono::{DateTime, TimeZone, Utc};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use shipdeck::engine::Command;
use shipdeck::engine::journal::Kind;
use shipdeck::store::{
    Account, FileStore, InboxAnswer, InboxRequest, ReleaseStore, StoreError, new_request_id,
};

fn at(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + s, 0).single().unwrap()
}

fn request(id: &str, command: Command, when: i64) -> InboxRequest {
    InboxRequest {
        id: id.into(),
        command,
        operator: "carol".into(),
        reason: Some("error budget burning".into()),
        at: at(when),
        host: None,
        role: None,
        posted_by: None,
    }
}

fn inbox_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir.join("inbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn requests_come_out_oldest_first_and_only_once() {
    let tmp = tempfile::tempdir().unwrap();
    let cli = FileStore::open(tmp.path()).unwrap();
    let controller = FileStore::open(tmp.path()).unwrap();
    let posted = [
        request("c", Command::Rollback, 30),
        request("a", Command::Pause, 10),
        request("b2", Command::SetPercent { percent: 25 }, 20),
        request("b1", Command::Promote { force: false }, 20),
    ];
    for r in &posted {
        cli.post(r).unwrap();
    }
    let path = tmp.path().join("inbox/a.request.json");
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(inbox_names(tmp.path()).len(), 4, "a temp file was left");

    let mut taken = controller.take_requests().unwrap();
    let ids: Vec<&str> = taken.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["a", "b1", "b2", "c"]);
    // Who posted it is what the file's owner says: this process's user.
    let me = Account::me();
    assert!(taken.iter().all(|r| r.posted_by.as_ref() == Some(&me)));
    taken[3].posted_by = None;
    assert_eq!(taken[3], posted[0]);
    assert_eq!(taken[2].command, Command::SetPercent { percent: 25 });
    assert!(inbox_names(tmp.path()).is_empty());
    assert_eq!(controller.take_requests().unwrap(), vec![]);
}

#[test]
fn answers_go_back_to_the_poster_once() {
    let tmp = tempfile::tempdir().unwrap();
    let cli = FileStore::open(tmp.path()).unwrap();
    let controller = FileStore::open(tmp.path()).unwrap();
    let id = new_request_id();
    cli.post(&request(&id, Command::Rollback, 0)).unwrap();
    assert_eq!(cli.take_answer(&id).unwrap(), None);

    let taken = controller.take_requests().unwrap();
    assert_eq!(taken.len(), 1);
    let answer = InboxAnswer {
        ok: true,
        message: "rolling back: flag disable sent".into(),
    };
    controller.answer(&taken[0].id, &answer).unwrap();
    assert_eq!(
        fs::metadata(tmp.path().join(format!("inbox/{id}.answer.json")))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    assert_eq!(cli.take_answer(&id).unwrap(), Some(answer));
    assert_eq!(cli.take_answer(&id).unwrap(), None);
    assert!(inbox_names(tmp.path()).is_empty());
}

#[test]
fn a_withdrawn_request_never_reaches_the_controller() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    store
        .post(&request("late", Command::Promote { force: false }, 0))
        .unwrap();
    assert!(store.withdraw("late").unwrap());
    assert!(!store.withdraw("late").unwrap());
    assert_eq!(store.take_requests().unwrap(), vec![]);

    store.post(&request("taken", Command::Pause, 0)).unwrap();
    assert_eq!(store.take_requests().unwrap().len(), 1);
    assert!(!store.withdraw("taken").unwrap(), "already claimed");
}

#[test]
fn an_unreadable_request_is_kept_aside_answered_and_journaled() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    store.post(&request("good", Command::Pause, 5)).unwrap();
    let bad = tmp.path().join("inbox/bad.request.json");
    fs::write(
        &bad,
        "{\"id\": \"bad\", \"command\": {\"command\": \"launch\"}}",
    )
    .unwrap();
    let mismatched = serde_json::to_string(&request("other", Command::Rollback, 1)).unwrap();
    fs::write(tmp.path().join("inbox/mine.request.json"), &mismatched).unwrap();

    let taken = store.take_requests().unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].id, "good");

    // Nothing deleted: both bad files are kept, renamed so they are not retried.
    assert_eq!(
        fs::read_to_string(tmp.path().join("inbox/bad.request.json.rejected")).unwrap(),
        "{\"id\": \"bad\", \"command\": {\"command\": \"launch\"}}"
    );
    assert_eq!(
        fs::read_to_string(tmp.path().join("inbox/mine.request.json.rejected")).unwrap(),
        mismatched
    );
    assert_eq!(store.take_requests().unwrap(), vec![]);

    // Whoever posted them hears back instead of timing out.
    let answer = store
        .take_answer("bad")
        .unwrap()
        .expect("an answer for bad");
    assert!(!answer.ok);
    assert!(answer.message.contains("not run"), "{}", answer.message);
    assert!(answer.message.contains("launch"), "{}", answer.message);
    let answer = store
        .take_answer("mine")
        .unwrap()
        .expect("an answer for mine");
    assert!(
        answer.message.contains("does not match"),
        "{}",
        answer.message
    );

    let journal = store.journal().unwrap().entries;
    assert_eq!(journal.len(), 2);
    assert!(
        journal
            .iter()
            .all(|e| e.kind == Kind::Error && e.action == "inbox")
    );
    assert!(
        journal
            .iter()
            .any(|e| e.reason.contains("bad.request.json"))
    );
}

#[test]
fn temp_files_and_answers_are_not_taken_as_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    let half = tmp.path().join("inbox/.x.request.json.abc123.tmp");
    fs::write(&half, "{\"id\":").unwrap();
    store
        .answer(
            "y",
            &InboxAnswer {
                ok: true,
                message: "done".into(),
            },
        )
        .unwrap();
    assert_eq!(store.take_requests().unwrap(), vec![]);
    assert!(half.exists());
    assert!(store.journal().unwrap().entries.is_empty());
}

#[test]
fn a_corrupt_answer_is_an_error_and_left_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    let path = tmp.path().join("inbox/z.answer.json");
    fs::write(&path, "{\"ok\": maybe}").unwrap();
    match store.take_answer("z") {
        Err(StoreError::Corrupt {
            path: p, line: 1, ..
        }) => assert_eq!(p, path),
        other => panic!("expected corrupt, got {other:?}"),
    }
    assert!(path.exists());
}

#[test]
fn ids_that_are_not_file_names_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    let escape = request("../state", Command::Rollback, 0);
    assert!(matches!(store.post(&escape), Err(StoreError::BadId { .. })));
    let answer = InboxAnswer {
        ok: true,
        message: String::new(),
    };
    assert!(matches!(
        store.answer("a/b", &answer),
        Err(StoreError::BadId { .. })
    ));
    assert!(matches!(
        store.take_answer(""),
        Err(StoreError::BadId { .. })
    ));
    assert!(matches!(
        store.withdraw(".x"),
        Err(StoreError::BadId { .. })
    ));
    assert!(!tmp.path().join("state.request.json").exists());
}

#[test]
fn concurrent_posters_and_takers_see_each_request_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = Arc::new(tmp.path().to_path_buf());
    let posters: Vec<_> = (0..4)
        .map(|p| {
            let dir = Arc::clone(&dir);
            std::thread::spawn(move || {
                let store = FileStore::open(&dir).unwrap();
                (0..25)
                    .map(|i| {
                        let id = new_request_id();
                        store
                            .post(&request(&id, Command::Pause, p * 100 + i))
                            .unwrap();
                        id
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let takers: Vec<_> = (0..2)
        .map(|_| {
            let dir = Arc::clone(&dir);
            std::thread::spawn(move || {
                let store = FileStore::open(&dir).unwrap();
                let mut got = Vec::new();
                for _ in 0..50 {
                    got.extend(store.take_requests().unwrap().into_iter().map(|r| r.id));
                    std::thread::yield_now();
                }
                got
            })
        })
        .collect();
    let posted: Vec<String> = posters
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let mut taken: Vec<String> = takers.into_iter().flat_map(|h| h.join().unwrap()).collect();
    taken.extend(
        FileStore::open(&dir)
            .unwrap()
            .take_requests()
            .unwrap()
            .into_iter()
            .map(|r| r.id),
    );
    assert_eq!(posted.len(), 100);
    assert_eq!(taken.len(), 100, "a request was taken twice or lost");
    assert_eq!(
        taken.iter().collect::<BTreeSet<_>>(),
        posted.iter().collect::<BTreeSet<_>>()
    );
}

/// `take_requests` on its own thread: what it returned, or the test fails if it has not
/// returned within a few seconds (a read that blocks on a FIFO or never ends on a device).
fn take_within_seconds(store: &Arc<FileStore>) -> Result<Vec<InboxRequest>, StoreError> {
    let store = Arc::clone(store);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(store.take_requests());
    });
    rx.recv_timeout(std::time::Duration::from_secs(5))
        .expect("take_requests did not return within 5 s")
}

/// A hostile entry named like a request, between good requests posted before and after
/// it: every good request is taken at the first try, exactly once; the entry is set
/// aside (renamed, never deleted or read through) and journaled once, however often the
/// inbox is read again.
fn one_bad_entry_blocks_nothing(plant: impl FnOnce(&Path)) {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStore::open(tmp.path()).unwrap());
    let mut posted = BTreeSet::new();
    for i in 0..6 {
        let id = format!("before-{i}");
        store.post(&request(&id, Command::Pause, i)).unwrap();
        posted.insert(id);
    }
    plant(&tmp.path().join("inbox/hostile.request.json"));
    for i in 0..6 {
        let id = format!("after-{i}");
        store
            .post(&request(&id, Command::Rollback, 10 + i))
            .unwrap();
        posted.insert(id);
    }

    let taken = take_within_seconds(&store).expect("one bad entry fails the whole inbox");
    let ids: BTreeSet<String> = taken.into_iter().map(|r| r.id).collect();
    assert_eq!(ids, posted, "a good request was left behind or lost");
    for _ in 0..3 {
        assert_eq!(take_within_seconds(&store).unwrap(), vec![]);
    }

    let names = inbox_names(tmp.path());
    assert!(
        names.contains(&"hostile.request.json.rejected".to_string()),
        "the entry is kept aside: {names:?}"
    );
    let errors: Vec<_> = store
        .journal()
        .unwrap()
        .entries
        .into_iter()
        .filter(|e| e.action == "inbox")
        .collect();
    assert_eq!(errors.len(), 1, "reported once: {errors:?}");
    assert_eq!(errors[0].kind, Kind::Error);
    assert!(
        errors[0].reason.contains("hostile.request.json"),
        "{}",
        errors[0].reason
    );
    let answer = store.take_answer("hostile").unwrap().expect("an answer");
    assert!(
        !answer.ok && answer.message.contains("not run"),
        "{answer:?}"
    );
}

#[test]
fn a_directory_named_like_a_request_blocks_nothing() {
    one_bad_entry_blocks_nothing(|path| fs::create_dir(path).unwrap());
}

#[test]
fn a_fifo_named_like_a_request_blocks_nothing() {
    one_bad_entry_blocks_nothing(|path| {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
            0,
        )
        .unwrap()
    });
}

#[test]
fn a_symlink_to_dev_zero_named_like_a_request_blocks_nothing() {
    one_bad_entry_blocks_nothing(|path| std::os::unix::fs::symlink("/dev/zero", path).unwrap());
    assert!(Path::new("/dev/zero").exists());
}

#[test]
fn a_symlink_to_a_good_request_is_not_followed() {
    // Even a link to a well-formed request elsewhere is not taken: whoever could plant
    // the link chose what it says.
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("real.request.json");
    fs::write(
        &target,
        serde_json::to_string(&request("hostile", Command::Rollback, 0)).unwrap(),
    )
    .unwrap();
    one_bad_entry_blocks_nothing(|path| std::os::unix::fs::symlink(&target, path).unwrap());
    assert!(target.exists(), "the link's target is left alone");
}

#[test]
fn an_oversized_request_is_set_aside_unread() {
    one_bad_entry_blocks_nothing(|path| {
        let mut text = serde_json::to_string(&request("hostile", Command::Rollback, 0)).unwrap();
        text.insert_str(
            text.len() - 1,
            &format!(",\"pad\":\"{}\"", "x".repeat(1 << 20)),
        );
        fs::write(path, text).unwrap();
    });
}

#[test]
fn a_request_too_large_to_take_is_refused_when_posted() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    let mut big = request("big", Command::Rollback, 0);
    big.reason = Some("x".repeat(1 << 20));
    let err = store.post(&big).unwrap_err();
    assert!(
        matches!(err, StoreError::RequestTooLarge { .. }),
        "{err:?}: {err}"
    );
    assert!(err.to_string().contains("--reason"), "{err}");
    assert!(inbox_names(tmp.path()).is_empty());
}

#[test]
fn a_request_is_credited_to_the_account_that_wrote_it_as_well_as_the_name_it_claims() {
    use crate::support::accounts::{NOBODY, as_root, give};
    if !as_root("a request written by another user") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::open(tmp.path()).unwrap();
    let mut claim = request("claim", Command::Rollback, 0);
    claim.operator = "mallory".into();
    store.post(&claim).unwrap();
    give(&tmp.path().join("inbox/claim.request.json"), NOBODY);
    let taken = store.take_requests().unwrap();
    assert_eq!(taken[0].posted_by, Some(Account::of_uid(NOBODY)));
    let nobody = Account::of_uid(NOBODY);
    assert_eq!(
        taken[0].who(),
        format!("mallory, posted by {nobody}"),
        "the claim and the account behind it"
    );
    assert!(taken[0].who().ends_with("(uid 65534)"));
}
