//! The PostgreSQL store on a real server: the store's contract, one controller per
//! release across processes, fencing, roles, the schema's version and secrets.

use std::sync::{Arc, Barrier};

use shipdeck::engine::journal::{Entry, Kind, Verb};
use shipdeck::engine::{Command, Engine};
use shipdeck::store::postgres::DbUrl;
use shipdeck::store::{Acquired, Holder, InboxAnswer, InboxRequest, PgStore, ReleaseStore, Tenure};

use crate::support::postgres::{Postgres, database_of, shared};

fn open(url: &str, name: &str) -> PgStore {
    PgStore::open(DbUrl::parse(url).unwrap(), name, "1.0.0").unwrap()
}

fn entry(n: usize) -> Entry {
    Entry::plain(
        chrono::Utc::now(),
        "tester",
        Kind::Note,
        Verb::Tick,
        format!("entry {n}"),
    )
}

fn holds(store: &PgStore, who: &str) -> Option<shipdeck::store::Lease> {
    match store.acquire(&Holder::here(who, "test")).unwrap() {
        Acquired::Controller(lease) => Some(lease),
        Acquired::HeldBy(_) => None,
    }
}

fn request(id: &str, operator: &str) -> InboxRequest {
    InboxRequest {
        id: id.into(),
        command: Command::Pause,
        operator: operator.into(),
        reason: Some("from afar".into()),
        at: chrono::Utc::now(),
        host: Some("laptop-2".into()),
        role: None,
        posted_by: None,
    }
}

#[test]
fn state_journal_and_heartbeat_round_trip_and_a_follower_reads_only_what_is_new() {
    let Some(pg) = shared() else { return };
    let url = pg.database();
    let store = open(&url, "checkout");
    assert_eq!(store.load().unwrap(), None);
    let _lease = holds(&store, "alice").expect("the first opener holds the release");

    let plan = Arc::new(crate::support::plans::small_plan());
    let progress = Engine::new(plan).progress().clone();
    store.save(&progress).unwrap();
    assert_eq!(store.load().unwrap(), Some(progress));

    let entries: Vec<Entry> = (0..5).map(entry).collect();
    store.append(&entries).unwrap();
    assert_eq!(store.journal().unwrap().entries, entries);
    assert_eq!(store.journal_count().unwrap(), 5);
    let first = store.journal_since(0).unwrap();
    assert_eq!(first.entries.len(), 5);
    assert_eq!(first.cursor, store.journal_end().unwrap());
    store.append(&[entry(5)]).unwrap();
    let next = store.journal_since(first.cursor).unwrap();
    assert_eq!(next.entries, vec![entry_text(&next.entries[0], 5)]);
    let recent = store.journal_recent(2).unwrap();
    assert_eq!(
        recent
            .entries
            .iter()
            .map(|e| e.reason.as_str())
            .collect::<Vec<_>>(),
        ["entry 4", "entry 5"]
    );
    assert_eq!(recent.cursor, store.journal_end().unwrap());

    store.publish(b"{\"heartbeat\": 1}").unwrap();
    assert_eq!(
        store.published().unwrap().as_deref(),
        Some(&b"{\"heartbeat\": 1}"[..])
    );

    // Another release in the same database shares nothing with this one.
    let other = open(&url, "search");
    assert_eq!(other.load().unwrap(), None);
    assert_eq!(other.journal_count().unwrap(), 0);
}

/// The entry read back, checked against the one written as number `n`.
fn entry_text(e: &Entry, n: usize) -> Entry {
    assert_eq!(e.reason, format!("entry {n}"));
    e.clone()
}

#[test]
fn a_command_from_another_machine_carries_its_role_and_gets_its_answer() {
    let Some(pg) = shared() else { return };
    let url = pg.database();
    let holder = open(&url, "checkout");
    let _lease = holds(&holder, "alice").unwrap();
    let elsewhere = open(&url, "checkout");
    elsewhere.post(&request("r-1", "bob")).unwrap();
    elsewhere.post(&request("r-2", "carol")).unwrap();
    assert!(elsewhere.withdraw("r-2").unwrap(), "unclaimed: withdrawn");

    let taken = holder.take_requests().unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].operator, "bob");
    assert_eq!(taken[0].role.as_deref(), Some("shipdeck"));
    assert_eq!(taken[0].who(), "bob (on laptop-2, role shipdeck)");
    assert!(holder.take_requests().unwrap().is_empty(), "claimed once");
    assert!(!elsewhere.withdraw("r-1").unwrap(), "claimed: too late");

    let answer = InboxAnswer {
        ok: true,
        message: "paused".into(),
    };
    holder.answer("r-1", &answer).unwrap();
    assert_eq!(elsewhere.take_answer("r-1").unwrap(), Some(answer));
    assert_eq!(elsewhere.take_answer("r-1").unwrap(), None);
}

#[test]
fn a_role_that_may_only_read_follows_and_its_commands_are_refused_clearly() {
    let Some(pg) = shared() else { return };
    let url = pg.database();
    let db = database_of(&url).to_string();
    let holder = open(&url, "checkout");
    let _lease = holds(&holder, "alice").unwrap();
    holder.append(&[entry(0)]).unwrap();
    pg.sql(
        &db,
        "DO $$ BEGIN CREATE ROLE viewer LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO viewer",
    );
    let viewer = open(&pg.url(&db, "viewer"), "checkout");
    assert_eq!(viewer.journal_count().unwrap(), 1, "it reads");
    assert!(viewer.holder().unwrap().is_some(), "it sees who holds");
    let refused = viewer.post(&request("r-1", "eve")).unwrap_err().to_string();
    assert!(
        refused.contains("role `viewer` may only read releases")
            && refused.contains("cannot send commands")
            && refused.contains("GRANT INSERT, UPDATE ON shipdeck_inbox TO viewer"),
        "{refused}"
    );
    // It cannot start a release of its own either.
    let missing = PgStore::open(
        DbUrl::parse(&pg.url(&db, "viewer")).unwrap(),
        "new",
        "2.0.0",
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        missing.contains("release new 2.0.0 is not in the database"),
        "{missing}"
    );
}

#[test]
fn two_holders_race_for_one_release_and_exactly_one_wins_each_of_20_rounds() {
    let Some(pg) = shared() else { return };
    let url = pg.database();
    for round in 0..20 {
        let name = format!("race-{round}");
        let gate = Arc::new(Barrier::new(2));
        let racers: Vec<_> = (0..2)
            .map(|i| {
                let (url, name, gate) = (url.clone(), name.clone(), Arc::clone(&gate));
                std::thread::spawn(move || {
                    let store = open(&url, &name);
                    gate.wait();
                    let lease = holds(&store, &format!("racer-{i}"));
                    // Hold on while the other tries.
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    lease.map(|l| l.epoch())
                })
            })
            .collect();
        let won: Vec<_> = racers
            .into_iter()
            .filter_map(|r| r.join().unwrap())
            .collect();
        assert_eq!(won.len(), 1, "round {round}: {won:?}");
        assert_eq!(won[0], Some(1), "round {round}: the first holder's epoch");
    }
}

#[test]
fn a_holder_whose_connection_is_killed_is_fenced_once_another_takes_over() {
    let Some(pg) = shared() else { return };
    let url = pg.database();
    let db = database_of(&url).to_string();
    let old = open(&url, "checkout");
    let lease = holds(&old, "alice").unwrap();
    let mut tenure = lease.tenure();
    assert_eq!(*tenure.borrow(), Tenure::Held);
    let backend = pg.sql(
        &db,
        "SELECT holder_backend FROM shipdeck_releases WHERE name = 'checkout'",
    );
    pg.sql(&db, &format!("SELECT pg_terminate_backend({backend})"));

    // The lock is free at once; the new holder gets the next epoch.
    let new = open(&url, "checkout");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let taken = loop {
        if let Some(l) = holds(&new, "bob") {
            break l;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the lock never came free"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(taken.epoch(), Some(2));

    // Every write of the old holder's is refused, and it is told it lost the release.
    let refused = old.append(&[entry(0)]).unwrap_err().to_string();
    assert!(
        refused.contains(
            "another controller holds checkout 1.0.0 now (fencing epoch 2, this process had 1)"
        ),
        "{refused}"
    );
    assert!(
        old.save(
            &Engine::new(Arc::new(crate::support::plans::small_plan()))
                .progress()
                .clone()
        )
        .is_err()
    );
    assert!(old.publish(b"{}").is_err());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            tenure.wait_for(|t| matches!(t, Tenure::Lost { .. })),
        )
        .await
        .expect("the old lease says it is lost")
        .unwrap();
    });
    assert_eq!(
        new.journal_count().unwrap(),
        0,
        "nothing of the old holder's landed"
    );
    assert_eq!(new.holder().unwrap().unwrap().operator, "bob");
}

#[test]
fn a_newer_schema_is_refused_with_a_clear_message() {
    let Some(pg) = shared() else { return };
    let url = pg.database();
    drop(open(&url, "checkout"));
    pg.sql(
        database_of(&url),
        "INSERT INTO shipdeck_schema (version) VALUES (99)",
    );
    let e = PgStore::open(DbUrl::parse(&url).unwrap(), "checkout", "1.0.0")
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains(
            "has shipdeck's schema version 99, newer than this shipdeck knows (1); upgrade shipdeck"
        ),
        "{e}"
    );
}

#[test]
fn the_password_never_shows_in_an_error() {
    // Nothing listens on port 1.
    let url = "postgres://app:hunter2-secret@127.0.0.1:1/releases";
    let e = PgStore::open(DbUrl::parse(url).unwrap(), "checkout", "1.0.0")
        .err()
        .unwrap()
        .to_string();
    assert!(!e.contains("hunter2"), "{e}");
    assert!(
        e.contains("cannot reach the database at postgres://app:***@127.0.0.1:1/releases"),
        "{e}"
    );
}

#[test]
fn tls_is_used_when_the_url_asks_for_it_and_a_wrong_root_is_refused() {
    let Some(pg) = Postgres::start_tls() else {
        return;
    };
    let url = pg.database();
    let ca = pg.dir().join("ca.pem");
    let verified = format!("{url}?sslmode=verify-full&sslrootcert={}", ca.display());
    let store = open(&verified, "checkout");
    let _lease = holds(&store, "alice").unwrap();
    store.append(&[entry(0)]).unwrap();
    // The server says the session is encrypted.
    let ssl = pg.sql(
        database_of(&url),
        "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
         WHERE s.ssl AND a.application_name = 'shipdeck'",
    );
    assert_ne!(ssl, "0", "no encrypted shipdeck session");
    // `require` encrypts without a root to check against.
    let required = open(&format!("{url}?sslmode=require"), "checkout");
    assert_eq!(required.journal_count().unwrap(), 1);

    // A root that did not sign the server's certificate: refused, and said so.
    let other = tempfile::tempdir().unwrap();
    let stranger = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let wrong = other.path().join("other-ca.pem");
    std::fs::write(&wrong, stranger.cert.pem()).unwrap();
    let e = PgStore::open(
        DbUrl::parse(&format!(
            "{url}?sslmode=verify-full&sslrootcert={}",
            wrong.display()
        ))
        .unwrap(),
        "checkout",
        "1.0.0",
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("cannot reach the database at"), "{e}");
    assert!(e.to_lowercase().contains("certificate"), "{e}");
}
