//! store::postgres: a release kept in PostgreSQL, for a war room spread over machines.
//! Same contract as the file store (`ReleaseStore`); what differs is how one controller is
//! kept: a session advisory lock plus a lease that its holder renews every second, and a
//! fencing epoch that grows with each change of controller. Every write of the holder's
//! checks the epoch in its own transaction, so a holder that lost the release (its
//! connection killed, or frozen past its lease) writes nothing. LISTEN/NOTIFY wakes
//! followers and the holder's inbox.
//!
//! Tables (see `schema`): `shipdeck_releases` (one row per release name and version:
//! epoch, holder, lease, state, the published heartbeat), `shipdeck_journal`,
//! `shipdeck_inbox`, `shipdeck_schema`.

mod connect;
mod db;
mod fleet;
mod lease;
mod listen;
mod schema;

use serde::de::DeserializeOwned;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use tokio_postgres::error::SqlState;

use super::{
    Acquired, Holder, InboxAnswer, InboxRequest, JournalRead, JournalTail, ReleaseStore,
    StoreError, Wakes, check_id,
};
use crate::engine::Progress;
use crate::engine::journal::Entry;
use db::{Conn, Db, Failed, Failure};

pub use connect::{DbUrl, URL_ENV, redact};
pub use fleet::{Release, Releases, releases};
pub(crate) use lease::Fence;

/// The holder mode of a process that stands by (`run --headless --standby`).
pub const STANDBY: &str = "standby";

/// Everything the database can answer that is not the release's data.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "--store postgres needs the database: set {URL_ENV}=postgres://user:password@host:5432/db (add ?sslmode=require for TLS)"
    )]
    NoUrl,
    #[error("{URL_ENV}: {why}; it looks like postgres://user:password@host:5432/db")]
    BadUrl { why: String },
    #[error(
        "cannot reach the database at {url}: {why}; check that it runs and that {URL_ENV} is right"
    )]
    Connect { url: String, why: String },
    #[error("the database at {url}: {why}")]
    Query { url: String, why: String },
    #[error(
        "the database at {url} has shipdeck's schema version {found}, newer than this shipdeck knows ({known}); upgrade shipdeck on this machine"
    )]
    NewerSchema { url: String, found: i32, known: i32 },
    #[error(
        "the database at {url} has no shipdeck tables, and this role cannot create them ({why}); run shipdeck once with a role that may CREATE in the database"
    )]
    NoSchema { url: String, why: String },
    #[error(
        "role `{role}` may only read releases in the database at {url}, so it cannot {what}; ask for a role that may write (GRANT INSERT, UPDATE ON shipdeck_inbox TO {role})"
    )]
    ReadOnly {
        url: String,
        role: String,
        what: &'static str,
    },
    #[error(
        "release {name} {version} is not in the database at {url}{}",
        if *created {
            format!(", and role `{role}` may not add it; start it first from a role that may write")
        } else {
            "; it has not started there: `shipdeck --store postgres run PLAN --headless` starts it".to_string()
        }
    )]
    NoRelease {
        url: String,
        name: String,
        version: String,
        role: String,
        /// Whether this process tried to add it.
        created: bool,
    },
    #[error("{what} of release {release} in the database does not read: {why}")]
    Corrupt {
        release: String,
        what: &'static str,
        why: String,
    },
    #[error("TLS to the database: {0}")]
    Tls(String),
    #[error("the database thread: {0}")]
    Runtime(String),
    #[error("the database at {url} did not answer within {secs}s")]
    Slow { url: String, secs: u64 },
}

impl DbError {
    pub(crate) fn query(url: &str, e: &tokio_postgres::Error) -> DbError {
        DbError::Query {
            url: url.to_string(),
            why: describe(e),
        }
    }
}

/// A database error in a sentence: the server's message when it sent one, else the
/// client's (the connection closed, a timeout).
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{}: {} ({detail})", db.severity(), db.message()),
            None => format!("{}: {}", db.severity(), db.message()),
        },
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            text
        }
    }
}

/// One release in the database.
pub struct PgStore {
    db: Arc<Db>,
    id: i64,
    name: String,
    version: String,
    /// The database's name for who this process is (`current_user`).
    role: String,
    /// Set while this process holds the release: the epoch its writes must carry.
    fence: Mutex<Option<Arc<Fence>>>,
    /// While this process stands by for the release: the connection that says so.
    standby: Mutex<Option<tokio_postgres::Client>>,
    wakes: Arc<listen::Subscribers>,
}

impl PgStore {
    /// Opens release `name` `version` in the database at `url`: creates or upgrades the
    /// schema when it must, and the release's row when it is new.
    pub fn open(url: DbUrl, name: &str, version: &str) -> Result<PgStore, StoreError> {
        PgStore::connect(url, name, version, true)
    }

    /// Opens a release that is already in the database, for a command that only reads
    /// (`status`, `journal`): nothing is created or upgraded.
    pub fn open_existing(url: DbUrl, name: &str, version: &str) -> Result<PgStore, StoreError> {
        PgStore::connect(url, name, version, false)
    }

    fn connect(url: DbUrl, name: &str, version: &str, create: bool) -> Result<PgStore, StoreError> {
        let db = Db::start(url)?;
        let shown = db.url.shown().to_string();
        let (n, v) = (name.to_string(), version.to_string());
        let found = db.call(move |conn: Conn| async move {
            let client = conn.lock().await;
            let role: String = client
                .query_one("SELECT current_user::text", &[])
                .await?
                .get(0);
            if create {
                schema::ensure(&client, &shown)
                    .await
                    .map_err(Failure::Refused)?;
                let inserted = client
                    .execute(
                        "INSERT INTO shipdeck_releases (name, version) VALUES ($1, $2)
                         ON CONFLICT (name, version) DO NOTHING",
                        &[&n, &v],
                    )
                    .await;
                if let Err(e) = inserted
                    && e.code() != Some(&SqlState::INSUFFICIENT_PRIVILEGE)
                {
                    return Err(e.into());
                }
            } else if !schema::check(&client, &shown)
                .await
                .map_err(Failure::Refused)?
            {
                return Ok((None, role));
            }
            let row = client
                .query_opt(
                    "SELECT id FROM shipdeck_releases WHERE name = $1 AND version = $2",
                    &[&n, &v],
                )
                .await?;
            Ok((row.map(|r| r.get::<_, i64>(0)), role))
        });
        let (id, role) = found.map_err(|f| failed(&db, f))?;
        let Some(id) = id else {
            return Err(DbError::NoRelease {
                url: db.url.shown().into(),
                name: name.into(),
                version: version.into(),
                role,
                created: create,
            }
            .into());
        };
        let wakes = listen::Subscribers::new(id);
        Ok(PgStore {
            db,
            id,
            name: name.into(),
            version: version.into(),
            role,
            fence: Mutex::new(None),
            standby: Mutex::new(None),
            wakes,
        })
    }

    fn release(&self) -> String {
        format!("{} {}", self.name, self.version)
    }

    fn fence(&self) -> Option<Arc<Fence>> {
        self.fence
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A write of the holder's, in a transaction that first checks its epoch (and holds
    /// the row against a takeover until it commits). A release taken over is told to the
    /// lease, which stops the controller.
    fn write(&self, write: Write) -> Result<Written, StoreError> {
        let Some(fence) = self.fence() else {
            return Err(StoreError::Fenced {
                release: self.release(),
                mine: 0,
                now: 0,
            });
        };
        let (id, epoch) = (self.id, fence.epoch);
        match self
            .db
            .call(move |conn| write_fenced(conn, id, epoch, write))
        {
            Err(Failed::Failure(Failure::Fenced { now })) => {
                fence.lose(format!(
                    "another controller took over (fencing epoch {epoch} → {now})"
                ));
                Err(StoreError::Fenced {
                    release: self.release(),
                    mine: epoch,
                    now,
                })
            }
            other => other.map_err(|e| failed(&self.db, e)),
        }
    }

    fn read<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Conn) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, Failure>> + Send + 'static,
    {
        self.db.call(f).map_err(|e| failed(&self.db, e))
    }

    fn decode<T: DeserializeOwned>(
        &self,
        what: &'static str,
        value: serde_json::Value,
    ) -> Result<T, StoreError> {
        serde_json::from_value(value).map_err(|e| {
            DbError::Corrupt {
                release: self.release(),
                what,
                why: e.to_string(),
            }
            .into()
        })
    }

    fn encode<T: serde::Serialize>(
        &self,
        what: &'static str,
        value: &T,
    ) -> Result<serde_json::Value, StoreError> {
        serde_json::to_value(value).map_err(|e| StoreError::Encode {
            path: self.db.url.shown().into(),
            what,
            message: e.to_string(),
        })
    }

    /// A role that may only read asked to write: say so, and how to change it.
    fn refused(&self, f: Failed, what: &'static str) -> StoreError {
        match f {
            Failed::Failure(Failure::Denied(_)) => DbError::ReadOnly {
                url: self.db.url.shown().into(),
                role: self.role.clone(),
                what,
            }
            .into(),
            other => failed(&self.db, other),
        }
    }
}

/// The holder's writes.
enum Write {
    Save(serde_json::Value),
    Append(Vec<serde_json::Value>),
    Publish(Vec<u8>),
    Answer(String, serde_json::Value),
    /// Claims every waiting request.
    Claim,
}

enum Written {
    Done,
    Claimed(Vec<(serde_json::Value, String)>),
}

async fn write_fenced(conn: Conn, id: i64, epoch: u64, write: Write) -> Result<Written, Failure> {
    let mut client = conn.lock().await;
    let tx = client.transaction().await?;
    let now: i64 = tx
        .query_one(
            "SELECT epoch FROM shipdeck_releases WHERE id = $1 FOR SHARE",
            &[&id],
        )
        .await?
        .get(0);
    if now as u64 != epoch {
        return Err(Failure::Fenced { now: now as u64 });
    }
    let mut written = Written::Done;
    match write {
        Write::Save(state) => {
            tx.execute(
                "UPDATE shipdeck_releases SET state = $2, updated_at = now() WHERE id = $1",
                &[&id, &state],
            )
            .await?;
        }
        Write::Append(entries) => {
            let insert = tx
                .prepare(
                    "INSERT INTO shipdeck_journal (release_id, epoch, entry) VALUES ($1, $2, $3)",
                )
                .await?;
            for entry in &entries {
                tx.execute(&insert, &[&id, &now, entry]).await?;
            }
        }
        Write::Publish(document) => {
            tx.execute(
                "UPDATE shipdeck_releases SET published = $2 WHERE id = $1",
                &[&id, &document],
            )
            .await?;
        }
        Write::Answer(request, answer) => {
            tx.execute(
                "UPDATE shipdeck_inbox SET answer = $3 WHERE release_id = $1 AND id = $2",
                &[&id, &request, &answer],
            )
            .await?;
        }
        Write::Claim => {
            let rows = tx
                .query(
                    "UPDATE shipdeck_inbox SET claimed = true
                     WHERE release_id = $1 AND NOT claimed
                     RETURNING request, posted_by",
                    &[&id],
                )
                .await?;
            written = Written::Claimed(rows.iter().map(|r| (r.get(0), r.get(1))).collect());
        }
    }
    let channel = match written {
        Written::Claimed(_) => None,
        Written::Done => Some(listen::CHANGES),
    };
    if let Some(channel) = channel {
        tx.execute("SELECT pg_notify($1, $2)", &[&channel, &id.to_string()])
            .await?;
    }
    tx.commit().await?;
    Ok(written)
}

/// A failed call as the store's error.
fn failed(db: &Db, f: Failed) -> StoreError {
    let url = db.url.shown().to_string();
    match f {
        Failed::Db(e) => e.into(),
        Failed::Slow => DbError::Slow {
            url,
            secs: db::CALL_LIMIT.as_secs(),
        }
        .into(),
        Failed::Failure(Failure::Pg(e) | Failure::Denied(e)) => DbError::query(&url, &e).into(),
        Failed::Failure(Failure::Corrupt(why)) => DbError::Query { url, why }.into(),
        Failed::Failure(Failure::Refused(e)) => e.into(),
        Failed::Failure(Failure::Fenced { now }) => StoreError::Fenced {
            release: String::new(),
            mine: 0,
            now,
        },
    }
}

impl ReleaseStore for PgStore {
    fn describe(&self) -> String {
        format!(
            "release {} in the database at {}",
            self.release(),
            self.db.url.shown()
        )
    }

    fn load(&self) -> Result<Option<Progress>, StoreError> {
        let id = self.id;
        let state: Option<serde_json::Value> = self.read(move |conn| async move {
            let client = conn.lock().await;
            let row = client
                .query_one("SELECT state FROM shipdeck_releases WHERE id = $1", &[&id])
                .await?;
            Ok(row.get(0))
        })?;
        state.map(|s| self.decode("the state", s)).transpose()
    }

    fn save(&self, progress: &Progress) -> Result<(), StoreError> {
        let state = self.encode("the state", progress)?;
        self.write(Write::Save(state)).map(|_| ())
    }

    fn append(&self, entries: &[Entry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let values = entries
            .iter()
            .map(|e| self.encode("a journal entry", e))
            .collect::<Result<Vec<_>, _>>()?;
        self.write(Write::Append(values)).map(|_| ())
    }

    fn journal(&self) -> Result<JournalRead, StoreError> {
        Ok(JournalRead {
            entries: self.journal_since(0)?.entries,
            torn: None,
        })
    }

    fn acquire(&self, holder: &Holder) -> Result<Acquired, StoreError> {
        let (acquired, fence) = lease::acquire(&self.db, self.id, holder)?;
        let mut standby = self.standby.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(fence) = fence {
            *self.fence.lock().unwrap_or_else(PoisonError::into_inner) = Some(fence);
            // Holding now: no longer waiting.
            *standby = None;
        } else if holder.mode == STANDBY && standby.as_ref().is_none_or(|c| c.is_closed()) {
            // Said once the holder is known, so that a holder which loses its connection
            // leaves the release to this process instead of racing it.
            let (db, id) = (Arc::clone(&self.db), self.id);
            *standby = self
                .db
                .block(async move { lease::stand_by(&db, id).await })?
                .ok();
        }
        Ok(acquired)
    }

    fn holder(&self) -> Result<Option<Holder>, StoreError> {
        lease::holder(&self.db, self.id)
    }

    fn request_wakes(&self) -> Option<Wakes> {
        Some(listen::subscribe(&self.db, &self.wakes, listen::INBOX))
    }

    fn change_wakes(&self) -> Option<Wakes> {
        Some(listen::subscribe(&self.db, &self.wakes, listen::CHANGES))
    }

    fn post(&self, request: &InboxRequest) -> Result<(), StoreError> {
        check_id(&request.id)?;
        let value = self.encode("a request", request)?;
        let (id, rid) = (self.id, request.id.clone());
        self.db
            .call(move |conn| async move {
                let client = conn.lock().await;
                client
                    .execute(
                        "INSERT INTO shipdeck_inbox (release_id, id, request) VALUES ($1, $2, $3)",
                        &[&id, &rid, &value],
                    )
                    .await?;
                client
                    .execute(
                        "SELECT pg_notify($1, $2)",
                        &[&listen::INBOX, &id.to_string()],
                    )
                    .await?;
                Ok(())
            })
            .map_err(|e| self.refused(e, "send commands"))
    }

    fn take_requests(&self) -> Result<Vec<InboxRequest>, StoreError> {
        let Written::Claimed(rows) = self.write(Write::Claim)? else {
            return Ok(Vec::new());
        };
        let mut requests: Vec<InboxRequest> = rows
            .into_iter()
            .filter_map(|(value, role)| {
                let mut r: InboxRequest = serde_json::from_value(value).ok()?;
                r.role = Some(role);
                Some(r)
            })
            .collect();
        requests.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        Ok(requests)
    }

    fn withdraw(&self, request: &str) -> Result<bool, StoreError> {
        let (id, rid) = (self.id, request.to_string());
        self.read(move |conn| async move {
            let client = conn.lock().await;
            let n = client
                .execute(
                    "DELETE FROM shipdeck_inbox WHERE release_id = $1 AND id = $2 AND NOT claimed",
                    &[&id, &rid],
                )
                .await?;
            Ok(n == 1)
        })
    }

    fn answer(&self, request: &str, answer: &InboxAnswer) -> Result<(), StoreError> {
        let value = self.encode("an answer", answer)?;
        self.write(Write::Answer(request.to_string(), value))
            .map(|_| ())
    }

    fn take_answer(&self, request: &str) -> Result<Option<InboxAnswer>, StoreError> {
        let (id, rid) = (self.id, request.to_string());
        let value: Option<serde_json::Value> = self
            .db
            .call(move |conn| async move {
                let client = conn.lock().await;
                let row = client
                    .query_opt(
                        "DELETE FROM shipdeck_inbox
                         WHERE release_id = $1 AND id = $2 AND answer IS NOT NULL
                         RETURNING answer",
                        &[&id, &rid],
                    )
                    .await?;
                Ok(row.map(|r| r.get(0)))
            })
            .map_err(|e| self.refused(e, "read answers"))?;
        value.map(|v| self.decode("an answer", v)).transpose()
    }

    fn journal_since(&self, cursor: u64) -> Result<JournalTail, StoreError> {
        let id = self.id;
        let from = cursor as i64;
        let rows: Vec<(i64, serde_json::Value)> = self.read(move |conn| async move {
            let client = conn.lock().await;
            let rows = client
                .query(
                    "SELECT seq, entry FROM shipdeck_journal
                     WHERE release_id = $1 AND seq > $2 ORDER BY seq",
                    &[&id, &from],
                )
                .await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })?;
        Ok(self.tail(rows, cursor))
    }

    fn journal_end(&self) -> Result<u64, StoreError> {
        self.count("SELECT coalesce(max(seq), 0) FROM shipdeck_journal WHERE release_id = $1")
    }

    fn journal_count(&self) -> Result<u64, StoreError> {
        self.count("SELECT count(*) FROM shipdeck_journal WHERE release_id = $1")
    }

    fn journal_recent(&self, n: usize) -> Result<JournalTail, StoreError> {
        let id = self.id;
        let limit = n as i64;
        let (mut rows, end): (Vec<(i64, serde_json::Value)>, i64) =
            self.read(move |conn| async move {
                let client = conn.lock().await;
                let end: i64 = client
                    .query_one(
                        "SELECT coalesce(max(seq), 0) FROM shipdeck_journal WHERE release_id = $1",
                        &[&id],
                    )
                    .await?
                    .get(0);
                let rows = client
                    .query(
                        "SELECT seq, entry FROM shipdeck_journal
                         WHERE release_id = $1 AND seq <= $2 ORDER BY seq DESC LIMIT $3",
                        &[&id, &end, &limit],
                    )
                    .await?;
                Ok((rows.iter().map(|r| (r.get(0), r.get(1))).collect(), end))
            })?;
        rows.reverse();
        let mut tail = self.tail(rows, 0);
        tail.cursor = end as u64;
        Ok(tail)
    }

    fn publish(&self, document: &[u8]) -> Result<(), StoreError> {
        self.write(Write::Publish(document.to_vec())).map(|_| ())
    }

    fn published(&self) -> Result<Option<Vec<u8>>, StoreError> {
        let id = self.id;
        self.read(move |conn| async move {
            let client = conn.lock().await;
            let row = client
                .query_one(
                    "SELECT published FROM shipdeck_releases WHERE id = $1",
                    &[&id],
                )
                .await?;
            Ok(row.get(0))
        })
    }
}

impl PgStore {
    /// One number about the release (`$1` is its id).
    fn count(&self, sql: &'static str) -> Result<u64, StoreError> {
        let id = self.id;
        self.read(move |conn| async move {
            let client = conn.lock().await;
            let row = client.query_one(sql, &[&id]).await?;
            Ok(row.get::<_, i64>(0) as u64)
        })
    }

    /// Rows read from the journal, as entries and the cursor after them. A row that does
    /// not decode (written by a newer shipdeck) is passed over, as the file store passes a
    /// torn line.
    fn tail(&self, rows: Vec<(i64, serde_json::Value)>, cursor: u64) -> JournalTail {
        let cursor = rows.last().map_or(cursor, |(seq, _)| *seq as u64);
        JournalTail {
            entries: rows
                .into_iter()
                .filter_map(|(_, v)| serde_json::from_value(v).ok())
                .collect(),
            cursor,
            reset: false,
        }
    }
}
