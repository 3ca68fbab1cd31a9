//! store::postgres::lease: one controller per release across machines. The holder keeps
//! a session advisory lock on a connection of its own and renews a lease on the release's
//! row every second; each change of holder raises the row's fencing epoch.
//!
//! - The holder's process dies: its session ends, the lock is free at once.
//! - Its connection is killed: the lock is free; the holder sees the error, stops
//!   advancing (`Unconfirmed`) and, only after a standby had its chance, tries to take
//!   its own lock back with the same epoch (a database restart); if someone else has it,
//!   it has lost the release.
//! - It is frozen (SIGSTOP): its session lives on, so the lock alone would hold for ever;
//!   its lease runs out instead, and whoever acquires next ends the frozen session
//!   (`pg_terminate_backend`). Thawed, it finds its lease over and the epoch moved on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};
use tokio_postgres::Client;

use super::db::{Db, Failure};
use super::{DbError, describe, failed};
use crate::store::{Acquired, Holder, Lease, StoreError, Tenure};

/// How long a lease lasts without renewal, in the database's clock.
pub(crate) const LEASE: Duration = Duration::from_secs(3);
/// How often the holder renews it.
const RENEW: Duration = Duration::from_secs(1);
/// How long a holder that lost its connection waits before taking its own lock back, so
/// that a standby (which looks twice a second) gets the release first.
const RECLAIM_AFTER: Duration = Duration::from_secs(2);
/// The advisory lock's first key: all shipdeck's locks; the second is the release's id.
const LOCK_CLASS: i32 = 0x5348; // "SH"
/// The shared lock each standby holds while it waits: a holder that lost its connection
/// leaves the release to a waiting standby rather than race it for the lock.
const STANDBY_CLASS: i32 = 0x5342; // "SB"

/// This process's claim on a release, as its writes carry it.
pub(crate) struct Fence {
    pub(super) epoch: u64,
    tenure: watch::Sender<Tenure>,
}

impl Fence {
    /// The release is someone else's now: the controller stops.
    pub(super) fn lose(&self, why: String) {
        self.tenure.send_replace(Tenure::Lost { why });
    }

    fn set(&self, tenure: Tenure) {
        self.tenure.send_if_modified(|t| {
            if *t == tenure || matches!(t, Tenure::Lost { .. }) {
                return false;
            }
            *t = tenure;
            true
        });
    }

    fn lost(&self) -> bool {
        matches!(*self.tenure.borrow(), Tenure::Lost { .. })
    }
}

/// Gives the release up when the lease is dropped.
struct Release {
    stop: Arc<AtomicBool>,
    wake: Arc<Notify>,
}

impl Drop for Release {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }
}

pub(super) fn acquire(
    db: &Arc<Db>,
    id: i64,
    holder: &Holder,
) -> Result<(Acquired, Option<Arc<Fence>>), StoreError> {
    let url = db.url.clone();
    let who = serde_json::to_value(holder).map_err(|e| StoreError::Encode {
        path: db.url.shown().into(),
        what: "the holder",
        message: e.to_string(),
    })?;
    let outcome = db.block(async move {
        let client = url.connect().await?;
        let q = |e: tokio_postgres::Error| DbError::query(url.shown(), &e);
        let mut locked = try_lock(&client, id).await.map_err(q)?;
        if !locked && end_frozen_holder(&client, id).await.map_err(q)? {
            // Its session takes a moment to end after being told to.
            for _ in 0..20 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                locked = try_lock(&client, id).await.map_err(q)?;
                if locked {
                    break;
                }
            }
        }
        if !locked {
            let row = client
                .query_one("SELECT holder FROM shipdeck_releases WHERE id = $1", &[&id])
                .await
                .map_err(q)?;
            let holder: Option<serde_json::Value> = row.get(0);
            return Ok::<_, DbError>(Err(holder));
        }
        let epoch: i64 = client
            .query_one(
                "UPDATE shipdeck_releases
                 SET epoch = epoch + 1, holder = $2, holder_backend = pg_backend_pid(),
                     lease_until = now() + $3 * interval '1 millisecond', updated_at = now()
                 WHERE id = $1 RETURNING epoch",
                &[&id, &who, &(LEASE.as_millis() as f64)],
            )
            .await
            .map_err(q)?
            .get(0);
        let _ = client
            .execute(
                "SELECT pg_notify($1, $2)",
                &[&super::listen::CHANGES, &id.to_string()],
            )
            .await;
        Ok(Ok((client, epoch as u64)))
    })??;
    match outcome {
        Err(holder) => {
            let holder = holder
                .and_then(|h| serde_json::from_value(h).ok())
                .unwrap_or_else(Holder::unknown);
            Ok((Acquired::HeldBy(holder), None))
        }
        Ok((client, epoch)) => {
            let (tell, tenure) = watch::channel(Tenure::Held);
            let fence = Arc::new(Fence {
                epoch,
                tenure: tell,
            });
            let stop = Arc::new(AtomicBool::new(false));
            let wake = Arc::new(Notify::new());
            db.spawn(keep(
                Arc::clone(db),
                client,
                id,
                Arc::clone(&fence),
                Arc::clone(&stop),
                Arc::clone(&wake),
            ));
            let lease = Lease::fenced(holder.clone(), epoch, tenure, Release { stop, wake });
            Ok((Acquired::Controller(lease), Some(fence)))
        }
    }
}

/// Registers a standby: a connection that holds the release's standby lock (shared) for
/// as long as it lives.
pub(super) async fn stand_by(db: &Db, id: i64) -> Result<Client, DbError> {
    let client = db.url.connect().await?;
    client
        .execute(
            "SELECT pg_advisory_lock_shared($1, $2)",
            &[&STANDBY_CLASS, &(id as i32)],
        )
        .await
        .map_err(|e| DbError::query(db.url.shown(), &e))?;
    Ok(client)
}

async fn try_lock(client: &Client, id: i64) -> Result<bool, tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT pg_try_advisory_lock($1, $2)",
            &[&LOCK_CLASS, &(id as i32)],
        )
        .await?;
    Ok(row.get(0))
}

/// A holder whose lease ran out while its lock is still held is frozen (or its machine
/// cut off): end its session so the release can be guarded again. `true` when one was
/// told to end.
async fn end_frozen_holder(client: &Client, id: i64) -> Result<bool, tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT holder_backend, coalesce(lease_until < now(), true)
             FROM shipdeck_releases WHERE id = $1",
            &[&id],
        )
        .await?;
    let backend: Option<i32> = row.get(0);
    let lapsed: bool = row.get(1);
    match backend {
        Some(pid) if lapsed => {
            // Needs the same role, or membership of pg_signal_backend; without it the
            // frozen holder keeps the release until it thaws or its connection dies.
            let ended = client
                .query_one("SELECT pg_terminate_backend($1)", &[&pid])
                .await
                .map(|r| r.get::<_, bool>(0))
                .unwrap_or(false);
            Ok(ended)
        }
        _ => Ok(false),
    }
}

/// Renews the lease every second on the lock's own connection, and says when it fails.
async fn keep(
    db: Arc<Db>,
    client: Client,
    id: i64,
    fence: Arc<Fence>,
    stop: Arc<AtomicBool>,
    wake: Arc<Notify>,
) {
    let mut client = Some(client);
    let mut renewed = Instant::now();
    let mut broken: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(RENEW) => {}
            _ = wake.notified() => {}
        }
        if stop.load(Ordering::SeqCst) {
            if let Some(c) = &client {
                let _ = c
                    .execute(
                        "UPDATE shipdeck_releases SET lease_until = now(), holder_backend = NULL
                         WHERE id = $1 AND epoch = $2",
                        &[&id, &(fence.epoch as i64)],
                    )
                    .await;
                let _ = c
                    .execute(
                        "SELECT pg_advisory_unlock($1, $2)",
                        &[&LOCK_CLASS, &(id as i32)],
                    )
                    .await;
                let _ = c
                    .execute(
                        "SELECT pg_notify($1, $2)",
                        &[&super::listen::CHANGES, &id.to_string()],
                    )
                    .await;
            }
            return;
        }
        if fence.lost() {
            return;
        }
        // Frozen past the lease (SIGSTOP, a suspended laptop): nothing is sure until the
        // database says so.
        if renewed.elapsed() > LEASE {
            fence.set(Tenure::Unconfirmed {
                why: format!(
                    "this process did not renew its lease for {}s",
                    renewed.elapsed().as_secs()
                ),
            });
        }
        let Some(c) = &client else {
            let since = broken.get_or_insert_with(Instant::now);
            if since.elapsed() >= RECLAIM_AFTER {
                match reclaim(&db, id, fence.epoch).await {
                    Reclaim::Held(c) => {
                        client = Some(c);
                        broken = None;
                        renewed = Instant::now();
                        fence.set(Tenure::Held);
                    }
                    Reclaim::Lost(why) => {
                        fence.lose(why);
                        return;
                    }
                    Reclaim::Unreachable(e) => {
                        fence.set(Tenure::Unconfirmed { why: e.to_string() })
                    }
                }
            }
            continue;
        };
        let renewal = tokio::time::timeout(
            LEASE,
            c.execute(
                "UPDATE shipdeck_releases SET lease_until = now() + $3 * interval '1 millisecond'
                 WHERE id = $1 AND epoch = $2",
                &[&id, &(fence.epoch as i64), &(LEASE.as_millis() as f64)],
            ),
        )
        .await;
        match renewal {
            Ok(Ok(1)) => {
                renewed = Instant::now();
                fence.set(Tenure::Held);
            }
            Ok(Ok(_)) => {
                fence.lose("another controller took over".into());
                return;
            }
            Ok(Err(e)) => {
                fence.set(Tenure::Unconfirmed {
                    why: format!("the database connection failed: {}", describe(&e)),
                });
                client = None;
                broken = Some(Instant::now());
            }
            // Slow, not gone: the connection (and the lock on it) is kept, and the next
            // round tries again; the lease itself says whether it ran out meanwhile.
            Err(_) => {
                fence.set(Tenure::Unconfirmed {
                    why: "the database did not answer the lease's renewal".into(),
                });
            }
        }
    }
}

enum Reclaim {
    Held(Client),
    Lost(String),
    Unreachable(DbError),
}

/// After losing its connection: the lock again, with the epoch unchanged, or the release
/// is someone else's.
async fn reclaim(db: &Db, id: i64, epoch: u64) -> Reclaim {
    let client = match db.url.connect().await {
        Ok(c) => c,
        Err(e) => return Reclaim::Unreachable(e),
    };
    let attempt = async {
        let waiting: bool = client
            .query_one(
                &format!(
                    "SELECT EXISTS (SELECT 1 FROM pg_locks
                     WHERE locktype = 'advisory' AND granted AND objsubid = 2
                       AND classid = {STANDBY_CLASS} AND objid = $1::bigint::oid)"
                ),
                &[&id],
            )
            .await?
            .get(0);
        if waiting {
            return Ok(Err(
                "lost the database connection, and a standby waits to take over".to_string(),
            ));
        }
        let locked = try_lock(&client, id).await?;
        let now: i64 = client
            .query_one("SELECT epoch FROM shipdeck_releases WHERE id = $1", &[&id])
            .await?
            .get(0);
        if now as u64 != epoch {
            return Ok(Err(format!(
                "another controller took over while the database was out of reach (fencing epoch {epoch} → {now})"
            )));
        }
        if !locked {
            return Ok(Err(
                "another process holds the release's lock now".to_string()
            ));
        }
        client
            .execute(
                "UPDATE shipdeck_releases
                 SET holder_backend = pg_backend_pid(),
                     lease_until = now() + $3 * interval '1 millisecond'
                 WHERE id = $1 AND epoch = $2",
                &[&id, &(epoch as i64), &(LEASE.as_millis() as f64)],
            )
            .await?;
        Ok::<_, tokio_postgres::Error>(Ok(()))
    };
    match attempt.await {
        Ok(Ok(())) => Reclaim::Held(client),
        Ok(Err(why)) => Reclaim::Lost(why),
        Err(e) => Reclaim::Unreachable(DbError::query(db.url.shown(), &e)),
    }
}

/// Who holds the release: the lock is held and its lease runs. A lock held past its lease
/// is a frozen holder, which guards nothing: `None`, as for no holder at all.
pub(super) fn holder(db: &Db, id: i64) -> Result<Option<Holder>, StoreError> {
    let sql = format!(
        "SELECT {} FROM shipdeck_releases r WHERE r.id = $1",
        holder_sql("r")
    );
    let row = db
        .call(move |conn| async move {
            let client = conn.lock().await;
            let row = client.query_one(&sql, &[&id]).await?;
            Ok::<_, Failure>((
                row.get::<_, Option<serde_json::Value>>(0),
                row.get::<_, bool>(1),
            ))
        })
        .map_err(|f| failed(db, f))?;
    let (holder, guarding) = row;
    if !guarding {
        return Ok(None);
    }
    Ok(Some(
        holder
            .and_then(|h| serde_json::from_value(h).ok())
            .unwrap_or_else(Holder::unknown),
    ))
}

/// Two columns for a release row aliased `r`: its holder, and whether that holder guards
/// it now (its lock is held and its lease runs).
pub(super) fn holder_sql(r: &str) -> String {
    format!(
        "{r}.holder, coalesce({r}.lease_until > now(), false) AND EXISTS (
             SELECT 1 FROM pg_locks l
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
               AND l.classid = {LOCK_CLASS} AND l.objid = {r}.id)"
    )
}
