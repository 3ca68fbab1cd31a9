//! store::postgres::db: the connection shipdeck's blocking store calls go through. The
//! store's methods block (the `ReleaseStore` contract); the driver of the database
//! client is async. A thread of the store's own runs a small runtime, and each call waits
//! for its answer there, so a call is safe from any thread, async or not.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio_postgres::Client;

use super::DbError;
use super::connect::DbUrl;

/// How long one call (a query or a transaction) may take before it is given up.
pub(super) const CALL_LIMIT: Duration = Duration::from_secs(10);

/// One connection, used by one call at a time.
pub(super) type Conn = Arc<tokio::sync::Mutex<Client>>;

/// What a call inside a transaction can end with besides the database's own errors.
#[derive(Debug)]
pub(super) enum Failure {
    Pg(tokio_postgres::Error),
    /// The role may not do this (a role that may only read).
    Denied(tokio_postgres::Error),
    /// The release's epoch is not this holder's any more.
    Fenced {
        now: u64,
    },
    /// A row that did not decode.
    Corrupt(String),
    /// The database answered, and shipdeck refuses what it found (a newer schema).
    Refused(DbError),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        if e.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) {
            Failure::Denied(e)
        } else {
            Failure::Pg(e)
        }
    }
}

pub(super) struct Db {
    pub(super) url: DbUrl,
    handle: Handle,
    conn: Mutex<Option<Conn>>,
    /// Dropped with the store: the runtime's thread ends and takes its tasks with it.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Db {
    pub(super) fn start(url: DbUrl) -> Result<Arc<Db>, DbError> {
        let (handles, handle) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("shipdeck-db".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(rt) => {
                        let _ = handles.send(Ok(rt.handle().clone()));
                        rt.block_on(async {
                            let _ = stopped.await;
                        });
                    }
                    Err(e) => {
                        let _ = handles.send(Err(e));
                    }
                }
            })
            .map_err(|e| DbError::Runtime(e.to_string()))?;
        let handle = handle
            .recv()
            .map_err(|e| DbError::Runtime(e.to_string()))?
            .map_err(|e| DbError::Runtime(e.to_string()))?;
        Ok(Arc::new(Db {
            url,
            handle,
            conn: Mutex::new(None),
            _stop: stop,
        }))
    }

    /// Runs `fut` on the store's runtime and waits for it.
    pub(super) fn block<T: Send + 'static>(
        &self,
        fut: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, DbError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv()
            .map_err(|_| DbError::Runtime("the database thread stopped".into()))
    }

    /// Spawns a task of the store's (a lease, a listener) on its runtime.
    pub(super) fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        self.handle.spawn(fut);
    }

    /// Runs `f` with the store's connection (made, or made again, when needed). Calls are
    /// one at a time, so a transaction is never interleaved with another caller's.
    pub(super) fn call<T, F, Fut>(&self, f: F) -> Result<T, Failed>
    where
        T: Send + 'static,
        F: FnOnce(Conn) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, Failure>> + Send + 'static,
    {
        let mut slot = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let conn = match slot.as_ref() {
            Some(c) if !c.try_lock().is_ok_and(|c| c.is_closed()) => Arc::clone(c),
            _ => {
                let url = self.url.clone();
                let client = self.block(async move { url.connect().await })??;
                let c = Arc::new(tokio::sync::Mutex::new(client));
                *slot = Some(Arc::clone(&c));
                c
            }
        };
        let outcome = self.block(async move {
            match tokio::time::timeout(CALL_LIMIT, f(conn)).await {
                Ok(r) => r.map_err(Failed::from),
                Err(_) => Err(Failed::Slow),
            }
        })?;
        if let Err(Failed::Slow | Failed::Failure(Failure::Pg(_))) = &outcome {
            // The connection may be mid-transaction or gone: the next call makes a new one.
            if matches!(&outcome, Err(Failed::Slow))
                || slot
                    .as_ref()
                    .is_some_and(|c| c.try_lock().is_ok_and(|c| c.is_closed()))
            {
                *slot = None;
            }
        }
        outcome
    }
}

/// Why a call failed: the database said no, or could not be reached.
#[derive(Debug)]
pub(super) enum Failed {
    Db(DbError),
    Failure(Failure),
    Slow,
}

impl From<DbError> for Failed {
    fn from(e: DbError) -> Self {
        Failed::Db(e)
    }
}

impl From<Failure> for Failed {
    fn from(f: Failure) -> Self {
        Failed::Failure(f)
    }
}
