//! store::postgres::fleet: every release in the database, for the incident commander's
//! first question, "what is rolling out right now?". Read without any plan: each row's
//! state says where it stands.

use chrono::{DateTime, Utc};

use std::sync::Arc;

use super::connect::DbUrl;
use super::db::{Db, Failure};
use super::lease::holder_sql;
use super::{describe, failed};
use crate::engine::Progress;
use crate::store::{Holder, StoreError};

/// One release as the fleet list shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Release {
    pub name: String,
    pub version: String,
    /// `BAKING`, `PAUSED`, `ROLLED BACK`, ...; `None` before it starts.
    pub state: Option<String>,
    /// The flag's percent as last read back (or asked for, before it was).
    pub percent: Option<u8>,
    /// Who guards it now; `None` when nobody does.
    pub holder: Option<Holder>,
    /// The holder's last heartbeat.
    pub heartbeat: Option<DateTime<Utc>>,
    /// The last guardrail that fired: `error_rate > 5% (rollback) at 14:02:11Z`.
    pub last_trip: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Every release in the database at `url`, newest activity first.
pub fn releases(url: DbUrl) -> Result<Vec<Release>, StoreError> {
    Releases::open(url)?.list()
}

/// A reader of the fleet that keeps its connection, for a screen that reads every second.
pub struct Releases {
    db: Arc<Db>,
}

impl Releases {
    pub fn open(url: DbUrl) -> Result<Releases, StoreError> {
        Ok(Releases {
            db: Db::start(url)?,
        })
    }

    /// Every release, newest activity first.
    pub fn list(&self) -> Result<Vec<Release>, StoreError> {
        let db = &self.db;
        let sql = format!(
            "SELECT r.name, r.version, r.state, r.published, r.created_at, r.updated_at, {}
             FROM shipdeck_releases r ORDER BY r.updated_at DESC, r.name, r.version",
            holder_sql("r")
        );
        let rows = db
            .call(move |conn| async move {
                let client = conn.lock().await;
                match client.query(&sql, &[]).await {
                    Ok(rows) => Ok(rows
                        .iter()
                        .map(|r| Row {
                            name: r.get(0),
                            version: r.get(1),
                            state: r.get(2),
                            published: r.get(3),
                            created_at: r.get(4),
                            updated_at: r.get(5),
                            holder: r.get(6),
                            guarding: r.get(7),
                        })
                        .collect()),
                    // A database shipdeck has never written to holds no releases.
                    Err(e)
                        if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) =>
                    {
                        Ok(Vec::new())
                    }
                    Err(e) => Err(Failure::Corrupt(describe(&e))),
                }
            })
            .map_err(|f| failed(db, f))?;
        Ok(rows.into_iter().map(Row::release).collect())
    }
}

struct Row {
    name: String,
    version: String,
    state: Option<serde_json::Value>,
    published: Option<Vec<u8>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    holder: Option<serde_json::Value>,
    guarding: bool,
}

impl Row {
    fn release(self) -> Release {
        let progress: Option<Progress> = self.state.and_then(|s| serde_json::from_value(s).ok());
        let heartbeat = self
            .published
            .as_deref()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
            .and_then(|v| serde_json::from_value(v.get("heartbeat")?.clone()).ok());
        let percent = progress.as_ref().and_then(|p| {
            p.live
                .as_ref()
                .map(|l| {
                    if l.enabled {
                        (l.rollout * 100.0).round() as u8
                    } else {
                        0
                    }
                })
                .or_else(|| p.desired.as_ref().map(|d| d.percent))
        });
        let last_trip = progress.as_ref().and_then(|p| {
            let t = p.trips.last()?;
            Some(format!(
                "{} ({}) at {}",
                t.rule_text,
                t.action.name(),
                t.at.format("%Y-%m-%d %H:%M:%SZ")
            ))
        });
        Release {
            name: self.name,
            version: self.version,
            state: progress.as_ref().map(|p| p.phase.badge().to_string()),
            percent,
            holder: self
                .holder
                .filter(|_| self.guarding)
                .map(|h| serde_json::from_value(h).unwrap_or_else(|_| Holder::unknown())),
            heartbeat,
            last_trip,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}
