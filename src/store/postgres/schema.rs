//! store::postgres::schema: the tables shipdeck keeps in the database, created and
//! upgraded by shipdeck itself. `shipdeck_schema` records the version; a shipdeck older
//! than the schema refuses it rather than guess at columns it does not know.

use tokio_postgres::Client;

use super::{DbError, describe};

/// The schema this shipdeck writes and understands.
pub const VERSION: i32 = 1;

/// Serialises migrations between shipdecks starting at once (`pg_advisory_xact_lock`).
const MIGRATION_LOCK: i64 = 0x5348_4950_4445_434b; // "SHIPDECK"

/// Each version's statements, applied in order from the database's version + 1.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE shipdeck_releases (
    id             bigserial PRIMARY KEY,
    name           text NOT NULL,
    version        text NOT NULL,
    epoch          bigint NOT NULL DEFAULT 0,
    holder         jsonb,
    holder_backend integer,
    lease_until    timestamptz,
    state          jsonb,
    published      bytea,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, version)
);
CREATE TABLE shipdeck_journal (
    seq        bigserial PRIMARY KEY,
    release_id bigint NOT NULL REFERENCES shipdeck_releases (id) ON DELETE CASCADE,
    epoch      bigint NOT NULL,
    entry      jsonb NOT NULL
);
CREATE INDEX shipdeck_journal_by_release ON shipdeck_journal (release_id, seq);
CREATE TABLE shipdeck_inbox (
    release_id bigint NOT NULL REFERENCES shipdeck_releases (id) ON DELETE CASCADE,
    id         text NOT NULL,
    request    jsonb NOT NULL,
    posted_by  text NOT NULL DEFAULT current_user,
    posted_at  timestamptz NOT NULL DEFAULT now(),
    claimed    boolean NOT NULL DEFAULT false,
    answer     jsonb,
    PRIMARY KEY (release_id, id)
);
"#];

/// Brings the schema up to [`VERSION`], or refuses a newer one.
pub(super) async fn ensure(client: &Client, url: &str) -> Result<(), DbError> {
    let found = current(client, url).await?;
    if found == Some(VERSION) {
        return Ok(());
    }
    if let Some(v) = found.filter(|v| *v > VERSION) {
        return Err(DbError::NewerSchema {
            url: url.to_string(),
            found: v,
            known: VERSION,
        });
    }
    let failed = |e: tokio_postgres::Error| DbError::query(url, &e);
    client.batch_execute("BEGIN").await.map_err(failed)?;
    let result = async {
        client
            .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS shipdeck_schema (
                     version integer PRIMARY KEY,
                     applied_at timestamptz NOT NULL DEFAULT now())",
            )
            .await?;
        let row = client
            .query_one("SELECT coalesce(max(version), 0) FROM shipdeck_schema", &[])
            .await?;
        let mut version: i32 = row.get(0);
        for (i, sql) in MIGRATIONS.iter().enumerate() {
            let to = i as i32 + 1;
            if to <= version {
                continue;
            }
            client.batch_execute(sql).await?;
            client
                .execute("INSERT INTO shipdeck_schema (version) VALUES ($1)", &[&to])
                .await?;
            version = to;
        }
        Ok::<i32, tokio_postgres::Error>(version)
    }
    .await;
    match result {
        Ok(version) if version > VERSION => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(DbError::NewerSchema {
                url: url.to_string(),
                found: version,
                known: VERSION,
            })
        }
        Ok(_) => client.batch_execute("COMMIT").await.map_err(failed),
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            if e.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) {
                return Err(DbError::NoSchema {
                    url: url.to_string(),
                    why: describe(&e),
                });
            }
            Err(failed(e))
        }
    }
}

/// For a reader: whether shipdeck's tables are here (`false`: nothing was ever kept
/// in this database), refusing a schema newer than this shipdeck knows.
pub(super) async fn check(client: &Client, url: &str) -> Result<bool, DbError> {
    match current(client, url).await? {
        Some(v) if v > VERSION => Err(DbError::NewerSchema {
            url: url.to_string(),
            found: v,
            known: VERSION,
        }),
        found => Ok(found.is_some()),
    }
}

/// The schema's version, `None` when shipdeck has never been here.
async fn current(client: &Client, url: &str) -> Result<Option<i32>, DbError> {
    match client
        .query_one("SELECT max(version) FROM shipdeck_schema", &[])
        .await
    {
        Ok(row) => Ok(row.get(0)),
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => Ok(None),
        Err(e) => Err(DbError::query(url, &e)),
    }
}
