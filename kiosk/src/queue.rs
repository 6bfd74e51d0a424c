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
//! - The sync points of a boot are kept while a queued tap of that boot
//!   needs them, so a tap read offline is placed by the server however
//!   long it waited and whatever the wall clock did meanwhile.

use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use lectern_domain::{CardUid, Slug};
use lectern_kiosk_protocol::{KioskKey, MonoReading, Roster, SignedTap, SyncPoint, Tap, TapResult};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlSafeStr, SqlitePool};

use crate::decide::Local;

/// The kiosk database's migrations, compiled in: a kiosk database of an
/// earlier version is brought forward when it is opened, its queued taps
/// kept.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "identity, counter, queue, refused taps, roster",
        include_str!("../migrations/0001_queue.sql"),
    ),
    (
        2,
        "boots, sync points, the monotonic reading of each tap",
        include_str!("../migrations/0002_clock.sql"),
    ),
    (
        3,
        "the log as the kiosk witnessed it",
        include_str!("../migrations/0003_witness.sql"),
    ),
];

/// Sync points are kept one per this much of a boot's monotonic clock.
const STRETCH_US: u64 = 600_000_000;

/// A boot's sync points older than this before its newest (and before its
/// oldest queued tap) are no longer needed.
const KEEP_US: u64 = 24 * 3_600_000_000;

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
        // A new enrolment may be with another server's log.
        sqlx::query("DELETE FROM witness")
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

    /// The number of the machine boot the kernel calls `os_boot` (1 for
    /// the first this kiosk saw, then 2, 3, …).
    pub async fn boot(&self, os_boot: &str) -> Result<u32> {
        sqlx::query(
            "INSERT INTO boots (seq, os_boot) \
             SELECT (SELECT COALESCE(MAX(seq), 0) + 1 FROM boots), ?1 \
             WHERE NOT EXISTS (SELECT 1 FROM boots WHERE os_boot = ?1)",
        )
        .bind(os_boot)
        .execute(&self.pool)
        .await?;
        let seq: i64 = sqlx::query_scalar("SELECT seq FROM boots WHERE os_boot = ?1")
            .bind(os_boot)
            .fetch_one(&self.pool)
            .await?;
        u32::try_from(seq).context("the kiosk has counted more boots than it can number")
    }

    /// Numbers, signs and queues a tap read at `at` on the wall clock and
    /// `reading` on the monotonic one, durably, and returns it.
    pub async fn record(
        &self,
        id: &Identity,
        key: &KioskKey,
        card: CardUid,
        (at, reading): (DateTime<Utc>, MonoReading),
        local: &Local,
    ) -> Result<SignedTap> {
        let mut tx = self.pool.begin().await?;
        let counter: i64 = sqlx::query_scalar("UPDATE counter SET last = last + 1 RETURNING last")
            .fetch_one(&mut *tx)
            .await?;
        let tap = Tap::new(id.kiosk.clone(), id.venue.clone(), card, counter as u64, at)
            .with_clock(reading);
        let signed = key.sign_tap(tap);
        sqlx::query(
            "INSERT INTO queue (counter, id, signed, local, boot, mono_us) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(counter)
        .bind(signed.tap.id.to_string())
        .bind(serde_json::to_string(&signed)?)
        .bind(serde_json::to_string(local)?)
        .bind(i64::from(reading.boot))
        .bind(mono(reading.mono_us))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(signed)
    }

    /// Keeps a sync point, with the wall clock's offset measured with it
    /// (server minus kiosk, milliseconds): the latest of its stretch of the
    /// boot. Sync points no queued tap needs any more go.
    pub async fn save_sync(&self, point: &SyncPoint, offset_ms: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO sync_points (boot, stretch, mono_us, server_time, offset_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (boot, stretch) DO UPDATE SET \
             mono_us = excluded.mono_us, server_time = excluded.server_time, \
             offset_ms = excluded.offset_ms",
        )
        .bind(i64::from(point.boot))
        .bind(mono(point.mono_us / STRETCH_US))
        .bind(mono(point.mono_us))
        .bind(point.server_time.to_rfc3339())
        .bind(offset_ms)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM sync_points WHERE boot < ?1 \
             AND boot NOT IN (SELECT boot FROM queue WHERE boot IS NOT NULL)",
        )
        .bind(i64::from(point.boot))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM sync_points WHERE boot = ?1 AND mono_us < ?2 \
             AND mono_us < COALESCE((SELECT MIN(mono_us) FROM queue WHERE boot = ?1), ?2) - ?3",
        )
        .bind(i64::from(point.boot))
        .bind(mono(point.mono_us.saturating_sub(KEEP_US)))
        .bind(mono(STRETCH_US))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The latest sync point of `boot`, if it has one.
    pub async fn latest_sync(&self, boot: u32) -> Result<Option<SyncPoint>> {
        let row = sqlx::query(
            "SELECT mono_us, server_time FROM sync_points WHERE boot = ?1 \
             ORDER BY mono_us DESC LIMIT 1",
        )
        .bind(i64::from(boot))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| sync_point(boot, &r)).transpose()
    }

    /// The wall clock's offset measured last, in any boot (server minus
    /// kiosk, milliseconds).
    pub async fn latest_offset(&self) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT offset_ms FROM sync_points ORDER BY boot DESC, mono_us DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// For each of `taps` with a monotonic reading, the sync point of its
    /// boot nearest to it, once each.
    pub async fn sync_for(&self, taps: &[Queued]) -> Result<Vec<SyncPoint>> {
        let mut boots: Vec<u32> = taps
            .iter()
            .filter_map(|q| q.signed.tap.clock.map(|c| c.boot))
            .collect();
        boots.sort_unstable();
        boots.dedup();
        let mut points = Vec::new();
        for boot in boots {
            let rows = sqlx::query("SELECT mono_us, server_time FROM sync_points WHERE boot = ?1")
                .bind(i64::from(boot))
                .fetch_all(&self.pool)
                .await?;
            for r in &rows {
                points.push(sync_point(boot, r)?);
            }
        }
        let mut out: Vec<SyncPoint> = Vec::new();
        for reading in taps.iter().filter_map(|q| q.signed.tap.clock) {
            if let Some(p) = SyncPoint::nearest(&points, reading)
                && !out.contains(p)
            {
                out.push(*p);
            }
        }
        Ok(out)
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

    /// What the kiosk has witnessed of the server's log.
    pub async fn witnessed(&self) -> Result<crate::witness::Witnessed> {
        let row = sqlx::query("SELECT log_key, note, cosigned, alarm FROM witness")
            .fetch_optional(&self.pool)
            .await?;
        let text = |i: usize| row.as_ref().and_then(|r| r.get::<Option<String>, _>(i));
        let (log_key, note, cosigned, alarm) = (text(0), text(1), text(2), text(3));
        Ok(crate::witness::Witnessed {
            log_key,
            note,
            cosigned,
            alarm,
        })
    }

    pub async fn save_witnessed(&self, w: &crate::witness::Witnessed) -> Result<()> {
        sqlx::query(
            "INSERT INTO witness (one, log_key, note, cosigned, alarm) VALUES (1, ?1, ?2, ?3, ?4) \
             ON CONFLICT (one) DO UPDATE SET log_key = excluded.log_key, note = excluded.note, \
             cosigned = excluded.cosigned, alarm = excluded.alarm",
        )
        .bind(&w.log_key)
        .bind(&w.note)
        .bind(&w.cosigned)
        .bind(&w.alarm)
        .execute(&self.pool)
        .await?;
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

/// A monotonic reading as SQLite stores it.
fn mono(us: u64) -> i64 {
    i64::try_from(us).unwrap_or(i64::MAX)
}

fn sync_point(boot: u32, row: &sqlx::sqlite::SqliteRow) -> Result<SyncPoint> {
    let time: &str = row.get(1);
    Ok(SyncPoint {
        boot,
        mono_us: u64::try_from(row.get::<i64, _>(0)).unwrap_or_default(),
        server_time: DateTime::parse_from_rfc3339(time)
            .with_context(|| format!("a stored sync point has a bad time {time:?}"))?
            .with_timezone(&Utc),
    })
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
            .record(
                &id,
                &key,
                card,
                (
                    Utc::now(),
                    MonoReading {
                        boot: 1,
                        mono_us: 5,
                    },
                ),
                &local,
            )
            .await
            .unwrap();
        // What version 1 left, unversioned: the later migrations undone.
        for undo in [
            "DROP TABLE _sqlx_migrations",
            "DROP TABLE witness",
            "DROP TABLE boots",
            "DROP TABLE sync_points",
            "ALTER TABLE queue DROP COLUMN boot",
            "ALTER TABLE queue DROP COLUMN mono_us",
        ] {
            sqlx::query(undo).execute(&queue.pool).await.unwrap();
        }
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
        assert_eq!(versions, [1, 2, 3]);
        reopened.close().await;
    }
}
