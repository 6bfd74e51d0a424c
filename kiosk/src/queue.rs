//! The kiosk's durable state: a SQLite file (WAL, `synchronous=FULL`) with
//! its identity and key, the tap counter, the queue of taps not yet
//! acknowledged by the server, taps the server refused, and the last
//! roster.
//!
//! # Invariants
//! - A tap is in the queue, signed, before its result is shown: `record`
//!   commits (and the commit is on disk) before it returns.
//! - The counter never repeats: it lives in its own row, moved in the same
//!   transaction that queues the tap, and is not derived from the queue
//!   (acknowledged taps are deleted).
//! - A tap leaves the queue only when the server has answered for it
//!   (`acknowledge`): recorded, recorded before, or refused (then it is kept
//!   in `refused` for inspection).

use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use lectern_domain::{CardUid, Slug};
use lectern_kiosk_protocol::{KioskKey, Roster, SignedTap, Tap, TapResult};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlSafeStr, SqlitePool};

use crate::decide::Local;

/// The kiosk database's migrations, compiled in: a kiosk database of an
/// earlier version is brought forward when it is opened, its queued taps
/// kept.
const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "identity, counter, queue, refused taps, roster",
    include_str!("../migrations/0001_queue.sql"),
)];

fn migrator() -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|(version, what, sql)| {
                Migration::new(
                    *version,
                    (*what).into(),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// Who this kiosk is, from enrolment.
#[derive(Debug, Clone)]
pub struct Identity {
    pub kiosk: Slug,
    pub venue: Slug,
    /// The server's base URL (`http://host:port`).
    pub server: String,
}

/// The kiosk's database.
#[derive(Clone)]
pub struct Queue {
    pool: SqlitePool,
}

/// A queued tap with what the kiosk showed for it.
#[derive(Debug, Clone)]
pub struct Queued {
    pub signed: SignedTap,
    pub local: Local,
}

impl Queue {
    /// Opens (creating if needed) the kiosk database at `path`.
    pub async fn open(path: &Path) -> Result<Queue> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the directory {}", dir.display()))?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open the kiosk database {}", path.display()))?;
        migrator().run(&pool).await.with_context(|| {
            format!(
                "cannot bring the kiosk database {} up to this version",
                path.display()
            )
        })?;
        Ok(Queue { pool })
    }

    /// Stores the identity and key of a newly enrolled kiosk (replacing an
    /// earlier enrolment's).
    pub async fn set_identity(&self, id: &Identity, key: &KioskKey) -> Result<()> {
        sqlx::query(
            "INSERT INTO identity (one, kiosk, venue, server, secret) VALUES (1, ?1, ?2, ?3, ?4) \
             ON CONFLICT (one) DO UPDATE SET kiosk = excluded.kiosk, venue = excluded.venue, \
             server = excluded.server, secret = excluded.secret",
        )
        .bind(id.kiosk.as_str())
        .bind(id.venue.as_str())
        .bind(&id.server)
        .bind(key.secret_hex())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The identity and key, if the kiosk is enrolled.
    pub async fn identity(&self) -> Result<Option<(Identity, KioskKey)>> {
        let Some(row) = sqlx::query("SELECT kiosk, venue, server, secret FROM identity")
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let id = Identity {
            kiosk: Slug::parse(row.get::<&str, _>(0))?,
            venue: Slug::parse(row.get::<&str, _>(1))?,
            server: row.get(2),
        };
        Ok(Some((
            id,
            KioskKey::from_secret_hex(row.get::<&str, _>(3))?,
        )))
    }

    /// Numbers, signs and queues a tap, durably, and returns it.
    pub async fn record(
        &self,
        id: &Identity,
        key: &KioskKey,
        card: CardUid,
        at: DateTime<Utc>,
        local: &Local,
    ) -> Result<SignedTap> {
        let mut tx = self.pool.begin().await?;
        let counter: i64 = sqlx::query_scalar("UPDATE counter SET last = last + 1 RETURNING last")
            .fetch_one(&mut *tx)
            .await?;
        let tap = Tap::new(id.kiosk.clone(), id.venue.clone(), card, counter as u64, at);
        let signed = key.sign_tap(tap);
        sqlx::query("INSERT INTO queue (counter, id, signed, local) VALUES (?1, ?2, ?3, ?4)")
            .bind(counter)
            .bind(signed.tap.id.to_string())
            .bind(serde_json::to_string(&signed)?)
            .bind(serde_json::to_string(local)?)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(signed)
    }

    /// The oldest `limit` queued taps.
    pub async fn oldest(&self, limit: usize) -> Result<Vec<Queued>> {
        let rows = sqlx::query("SELECT signed, local FROM queue ORDER BY counter LIMIT ?1")
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Queued {
                    signed: serde_json::from_str(r.get::<&str, _>(0))?,
                    local: serde_json::from_str(r.get::<&str, _>(1))?,
                })
            })
            .collect()
    }

    /// Taps waiting for the server.
    pub async fn backlog(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM queue")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    /// The last counter used (0 before the first tap).
    pub async fn last_counter(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT last FROM counter")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    /// Taps the server refused, with the reason.
    pub async fn refused(&self) -> Result<Vec<(u64, String)>> {
        let rows = sqlx::query("SELECT counter, reason FROM refused ORDER BY counter")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<i64, _>(0) as u64, r.get(1)))
            .collect())
    }

    /// Removes the taps the server answered for (keeping refused ones
    /// aside), in one transaction.
    pub async fn acknowledge(&self, sent: &[Queued], results: &[TapResult]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for r in results {
            let Some(q) = sent.iter().find(|q| q.signed.tap.id == r.tap) else {
                continue;
            };
            if let Some(reason) = &r.refused {
                sqlx::query(
                    "INSERT OR REPLACE INTO refused (counter, signed, reason, at) \
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .bind(q.signed.tap.counter as i64)
                .bind(serde_json::to_string(&q.signed)?)
                .bind(reason)
                .bind(Utc::now().to_rfc3339())
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query("DELETE FROM queue WHERE id = ?1")
                .bind(r.tap.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn save_roster(&self, roster: &Roster) -> Result<()> {
        sqlx::query(
            "INSERT INTO roster (one, json) VALUES (1, ?1) \
             ON CONFLICT (one) DO UPDATE SET json = excluded.json",
        )
        .bind(serde_json::to_string(roster)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn roster(&self) -> Result<Option<Roster>> {
        let json: Option<String> = sqlx::query_scalar("SELECT json FROM roster")
            .fetch_optional(&self.pool)
            .await?;
        json.map(|j| serde_json::from_str(&j).context("the stored roster is damaged"))
            .transpose()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use lectern_kiosk_protocol::Outcome;

    use super::*;

    /// A kiosk database made before its schema was versioned (the same
    /// tables, no migration record) opens, is brought forward, and keeps
    /// its queued tap and its counter.
    #[tokio::test]
    async fn an_unversioned_kiosk_database_keeps_its_queued_taps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kiosk.db");
        let queue = Queue::open(&path).await.unwrap();
        let id = Identity {
            kiosk: Slug::parse("hall-a-1").unwrap(),
            venue: Slug::parse("hall-a").unwrap(),
            server: "http://127.0.0.1:8080".into(),
        };
        let key = KioskKey::generate().unwrap();
        queue.set_identity(&id, &key).await.unwrap();
        let local = Local {
            outcome: Outcome::Present,
            person: None,
            name: None,
            session: None,
            title: None,
        };
        let card = CardUid::parse("04A1B2C3D4E5F6").unwrap();
        let tap = queue
            .record(&id, &key, card, Utc::now(), &local)
            .await
            .unwrap();
        sqlx::query("DROP TABLE _sqlx_migrations")
            .execute(&queue.pool)
            .await
            .unwrap();
        queue.close().await;

        let reopened = Queue::open(&path).await.unwrap();
        assert_eq!(reopened.backlog().await.unwrap(), 1);
        assert_eq!(
            reopened.oldest(10).await.unwrap()[0].signed.tap.id,
            tap.tap.id
        );
        assert_eq!(reopened.last_counter().await.unwrap(), 1);
        let versions: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
            .fetch_all(&reopened.pool)
            .await
            .unwrap();
        assert_eq!(versions, [1]);
        reopened.close().await;
    }
}
