//! The SQL of both backends, behind one enum.
//!
//! Every statement the log runs is here, twice: once for SQLite and once for
//! PostgreSQL. The writer and the readers above speak only to `Db` and `Tx`.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Postgres, Row as _, SqlSafeStr, Sqlite, Transaction};
use uuid::Uuid;

use crate::chain::{Canonical, GENESIS};
use crate::error::{Error, Result};
use crate::event::RecordedEvent;
use crate::store::{Durability, StoreOptions};
use crate::writer::StoredKeys;

/// Opens a write transaction on PostgreSQL and takes the append lock in the
/// same round trip. The advisory lock (key 0x6c656374_65726e01, "lectern"
/// and 1) serializes writers across processes and is held until commit.
const PG_BEGIN_APPEND: &str = "BEGIN; SELECT pg_advisory_xact_lock(7810758480313347585)";
/// The channel commits are announced on (payload: the new head position).
pub(crate) const PG_CHANNEL: &str = "lectern_events";
/// Rows per SQLite INSERT statement (12 parameters each, under SQLite's
/// 32,766-parameter limit). A default-sized group commit (1,000 events)
/// is one statement, and so needs no explicit transaction.
const SQLITE_CHUNK: usize = 1000;

const COLUMNS: &str = "position, stream_id, stream_version, event_id, event_type, schema_version, \
                       payload, metadata, occurred_at, recorded_at, prev_hash, hash";
const PG_SELECT: &str = "SELECT position, stream_id, stream_version, event_id, event_type, schema_version, \
                         payload::text, metadata::text, occurred_at, recorded_at, prev_hash, hash FROM events";
/// SQLite rows are packed into five columns. sqlx copies every column of
/// every row into its own allocation on SQLite's worker thread and frees it
/// on ours; on a full scan of the log that allocator traffic, not SQLite,
/// was the bottleneck (12 columns ran at half the speed of 5). So the
/// integers travel as one text, the three fixed-size byte strings as one
/// blob, and stream id and type as one text split at a byte offset.
const SQLITE_SELECT: &str = "SELECT printf('%d %d %d %d %d %d', position, stream_version, schema_version, \
                             occurred_at, recorded_at, length(CAST(stream_id AS BLOB))), \
                             CAST(event_id || prev_hash || hash AS BLOB), stream_id || event_type, \
                             payload, metadata FROM events";

#[derive(Clone, Debug)]
pub(crate) enum Db {
    /// SQLite: one connection writes (SQLite has one writer anyway), a few read.
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
    },
    Postgres(PgPool),
}

pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// A row to insert: the hashed fields, borrowed from the append they
/// belong to, and the chain links computed from them.
pub(crate) struct NewRow<'a> {
    pub(crate) event: Canonical<'a>,
    pub(crate) prev_hash: [u8; 32],
    pub(crate) hash: [u8; 32],
}

/// What the idempotency check needs to know of a stored event.
#[derive(Debug, Clone)]
pub(crate) struct StoredId {
    pub(crate) position: u64,
    pub(crate) stream_id: String,
    pub(crate) stream_version: u64,
    pub(crate) event_type: String,
    pub(crate) schema_version: u32,
    pub(crate) payload: String,
}

pub(crate) type Keys = HashMap<(String, String), String>;

fn migrator(backend: &'static str) -> Migrator {
    // The migrations are compiled into the binary, so `lectern migrate` needs
    // no files beside it.
    let files: &[(i64, &str, &'static str)] = match backend {
        "sqlite" => &[
            (
                1,
                "event log",
                include_str!("../../../migrations/sqlite/0001_event_log.sql"),
            ),
            (
                2,
                "kiosk heartbeats",
                include_str!("../../../migrations/sqlite/0002_kiosk_heartbeats.sql"),
            ),
            (
                3,
                "checkpoints",
                include_str!("../../../migrations/sqlite/0003_checkpoints.sql"),
            ),
            (
                4,
                "tokens, secrets and projection checkpoints",
                include_str!("../../../migrations/sqlite/0004_tokens_secrets_projections.sql"),
            ),
            (
                5,
                "heartbeats taken in order",
                include_str!("../../../migrations/sqlite/0005_heartbeat_order.sql"),
            ),
            (
                6,
                "kiosk faults in heartbeats",
                include_str!("../../../migrations/sqlite/0006_kiosk_faults.sql"),
            ),
            (
                7,
                "checkpoint notes and witnesses",
                include_str!("../../../migrations/sqlite/0007_witnesses.sql"),
            ),
            (
                8,
                "personal data keys",
                include_str!("../../../migrations/sqlite/0008_personal_data.sql"),
            ),
        ],
        _ => &[
            (
                1,
                "event log",
                include_str!("../../../migrations/postgres/0001_event_log.sql"),
            ),
            (
                2,
                "kiosk heartbeats",
                include_str!("../../../migrations/postgres/0002_kiosk_heartbeats.sql"),
            ),
            (
                3,
                "checkpoints",
                include_str!("../../../migrations/postgres/0003_checkpoints.sql"),
            ),
            (
                4,
                "tokens, secrets and projection checkpoints",
                include_str!("../../../migrations/postgres/0004_tokens_secrets_projections.sql"),
            ),
            (
                5,
                "heartbeats taken in order",
                include_str!("../../../migrations/postgres/0005_heartbeat_order.sql"),
            ),
            (
                6,
                "kiosk faults in heartbeats",
                include_str!("../../../migrations/postgres/0006_kiosk_faults.sql"),
            ),
            (
                7,
                "checkpoint notes and witnesses",
                include_str!("../../../migrations/postgres/0007_witnesses.sql"),
            ),
            (
                8,
                "personal data keys",
                include_str!("../../../migrations/postgres/0008_personal_data.sql"),
            ),
        ],
    };
    Migrator::with_migrations(
        files
            .iter()
            .map(|(v, d, sql)| {
                Migration::new(
                    *v,
                    (*d).into(),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

fn u64_of(v: i64, position: u64, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| Error::Corrupt {
        position,
        reason: format!("{what} {v} is negative"),
    })
}

fn hash_of(v: &[u8], position: u64, what: &str) -> Result<[u8; 32]> {
    <[u8; 32]>::try_from(v).map_err(|_| Error::Corrupt {
        position,
        reason: format!("{what} has {} bytes, not 32", v.len()),
    })
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn from_micros(v: i64, position: u64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(v).ok_or_else(|| Error::Corrupt {
        position,
        reason: format!("timestamp {v} out of range"),
    })
}

/// Decodes a row of `SQLITE_SELECT`. No per-column type check: the table
/// is STRICT, so SQLite itself guarantees each column's type.
fn decode_sqlite(row: &SqliteRow) -> Result<RecordedEvent> {
    let ints: &str = row.try_get_unchecked(0)?;
    let mut n = [0i64; 6];
    let mut parts = ints.split(' ');
    for slot in &mut n {
        *slot = parts
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| Error::Corrupt {
                position: 0,
                reason: format!("packed columns {ints:?}"),
            })?;
    }
    let position = u64_of(n[0], 0, "position")?;
    let fixed: &[u8] = row.try_get_unchecked(1)?;
    if fixed.len() != 80 {
        return Err(Error::Corrupt {
            position,
            reason: format!(
                "event id and hashes have {} bytes, not 16 + 32 + 32",
                fixed.len()
            ),
        });
    }
    let names: &str = row.try_get_unchecked(2)?;
    let split = usize::try_from(n[5])
        .ok()
        .filter(|&i| names.is_char_boundary(i))
        .ok_or_else(|| Error::Corrupt {
            position,
            reason: format!("stream id length {} does not fit {names:?}", n[5]),
        })?;
    let (stream_id, event_type) = names.split_at(split);
    Ok(RecordedEvent {
        position,
        stream_id: stream_id.to_owned(),
        stream_version: u64_of(n[1], position, "stream version")?,
        event_id: Uuid::from_slice(&fixed[..16]).expect("16 bytes"),
        event_type: event_type.to_owned(),
        schema_version: u32::try_from(n[2]).unwrap_or(0),
        payload: row.try_get_unchecked(3)?,
        metadata: row.try_get_unchecked(4)?,
        occurred_at: from_micros(n[3], position)?,
        recorded_at: from_micros(n[4], position)?,
        prev_hash: hash_of(&fixed[16..48], position, "prev_hash")?,
        hash: hash_of(&fixed[48..], position, "hash")?,
    })
}

/// Decodes a row of `PG_SELECT`. No per-column type check: each column's
/// type is the table's, which PostgreSQL guarantees, and sqlx's check per
/// column and row made a full read of the log about a tenth slower.
fn decode_pg(row: &PgRow) -> Result<RecordedEvent> {
    let position = u64_of(row.try_get_unchecked(0)?, 0, "position")?;
    Ok(RecordedEvent {
        position,
        stream_id: row.try_get_unchecked(1)?,
        stream_version: u64_of(row.try_get_unchecked(2)?, position, "stream version")?,
        event_id: row.try_get_unchecked(3)?,
        event_type: row.try_get_unchecked(4)?,
        schema_version: u32::try_from(row.try_get_unchecked::<i32, _>(5)?).unwrap_or(0),
        payload: row.try_get_unchecked(6)?,
        metadata: row.try_get_unchecked(7)?,
        occurred_at: row.try_get_unchecked(8)?,
        recorded_at: row.try_get_unchecked(9)?,
        prev_hash: hash_of(row.try_get_unchecked(10)?, position, "prev_hash")?,
        hash: hash_of(row.try_get_unchecked(11)?, position, "hash")?,
    })
}

fn json_list<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).expect("a list of strings serializes")
}

fn sqlite_insert_sql(n: usize) -> String {
    format!("INSERT INTO events ({COLUMNS}) {}", sqlite_values_sql(n))
}

/// `VALUES` with `n` rows of parameters, bound by [`sqlite_bind_rows`].
fn sqlite_values_sql(n: usize) -> String {
    let mut sql = String::with_capacity(8 + 26 * n);
    sql.push_str("VALUES ");
    for i in 0..n {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str("(?,?,?,?,?,?,?,?,?,?,?,?)");
    }
    sql
}

/// Stores the keys of a JSON list of `[subject, hex key]` for subjects that
/// have none, and returns every subject's stored key. Binds the time, then
/// the list.
const SQLITE_STORE_KEYS: &str = "INSERT INTO personal_keys (subject, key, created_at) \
     SELECT j.value ->> 0, unhex(j.value ->> 1), ? FROM json_each(?) AS j WHERE true \
     ON CONFLICT (subject) DO UPDATE SET subject = excluded.subject \
     RETURNING subject, key";

/// Rows of `(subject, key)` as the key table returns them.
fn key_rows<R: sqlx::Row>(rows: &[R]) -> Result<StoredKeys>
where
    for<'r> (String, Option<Vec<u8>>): sqlx::FromRow<'r, R>,
{
    Ok(rows
        .iter()
        .map(sqlx::FromRow::from_row)
        .collect::<std::result::Result<_, sqlx::Error>>()?)
}

fn sqlite_key_pairs(fresh: &[(&str, &[u8; 32])]) -> String {
    let pairs: Vec<[String; 2]> = fresh
        .iter()
        .map(|(s, k)| [(*s).to_owned(), lectern_tlog::hex(*k)])
        .collect();
    json_list(&pairs)
}

fn sqlite_bind_rows<'q>(
    mut q: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments>,
    rows: &'q [NewRow<'q>],
) -> sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments> {
    for r in rows {
        q = q
            .bind(r.event.position as i64)
            .bind(r.event.stream_id)
            .bind(r.event.stream_version as i64)
            .bind(r.event.event_id)
            .bind(r.event.event_type)
            .bind(i64::from(r.event.schema_version))
            .bind(r.event.payload)
            .bind(r.event.metadata)
            .bind(micros(r.event.occurred_at))
            .bind(micros(r.event.recorded_at))
            .bind(&r.prev_hash[..])
            .bind(&r.hash[..]);
    }
    q
}

impl Db {
    pub(crate) async fn connect(url: &str, opts: &StoreOptions) -> Result<Db> {
        if url.starts_with("sqlite:") {
            let sync = match opts.durability {
                Durability::Full => SqliteSynchronous::Full,
                Durability::Normal => SqliteSynchronous::Normal,
            };
            let base = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(sync)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
                .pragma("cache_size", "-65536")
                // Deleted and overwritten content is zeroed, so an erased
                // key or purged personal text does not linger in free space.
                .pragma("secure_delete", "on")
                // Stream reads jump about the log: map the file rather than
                // copy every page through read(2).
                .pragma("mmap_size", "1073741824");
            // No ping before every use: it would cost a round trip to
            // SQLite's worker thread per append. A broken connection fails
            // the statement instead, and the pool replaces it.
            let write = SqlitePoolOptions::new()
                .test_before_acquire(false)
                .max_connections(1)
                .min_connections(1)
                .connect_with(base.clone())
                .await?;
            let read = SqlitePoolOptions::new()
                .test_before_acquire(false)
                .max_connections(opts.max_connections.max(1))
                .connect_with(base.read_only(true).row_buffer_size(2000))
                .await?;
            Ok(Db::Sqlite { read, write })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let connect = PgConnectOptions::from_str(url)?.application_name("lectern");
            // As for SQLite: no ping round trip before every use.
            let pool = PgPoolOptions::new()
                .test_before_acquire(false)
                // While the server is down or restarting, a request fails
                // (UNAVAILABLE, retryable) after this, not after sqlx's 30 s.
                .acquire_timeout(std::time::Duration::from_secs(5))
                .max_connections(opts.max_connections.max(2))
                .connect_with(connect)
                .await?;
            Ok(Db::Postgres(pool))
        } else {
            Err(Error::UnsupportedUrl(url.to_owned()))
        }
    }

    pub(crate) fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite { .. } => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    pub(crate) async fn migrate(&self) -> Result<()> {
        let m = migrator(self.backend());
        match self {
            Db::Sqlite { write, .. } => m.run(write).await?,
            Db::Postgres(pool) => m.run(pool).await?,
        }
        Ok(())
    }

    /// How many of this backend's migrations the database has applied, and
    /// how many there are; `None` when it has never been migrated (sqlx's
    /// `_sqlx_migrations` table is missing).
    pub(crate) async fn migrations(&self) -> Result<(Option<usize>, usize)> {
        let exists = match self {
            Db::Sqlite { .. } => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' \
                 AND name = '_sqlx_migrations'"
            }
            Db::Postgres(_) => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
            }
        };
        let applied = if self.count(exists).await? == 0 {
            None
        } else {
            let n = self
                .count("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                .await?;
            Some(usize::try_from(n).unwrap_or_default())
        };
        Ok((applied, migrator(self.backend()).iter().count()))
    }

    /// The one number a `SELECT COUNT(*)` answers.
    async fn count(&self, sql: &'static str) -> Result<i64> {
        let (n,): (i64,) = match self {
            Db::Sqlite { read, .. } => sqlx::query_as(sql).fetch_one(read).await?,
            Db::Postgres(pool) => sqlx::query_as(sql).fetch_one(pool).await?,
        };
        Ok(n)
    }

    pub(crate) async fn close(&self) {
        match self {
            Db::Sqlite { read, write, .. } => {
                read.close().await;
                write.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }

    /// Opens a write transaction holding the append lock: SQLite's
    /// `BEGIN IMMEDIATE`, PostgreSQL's transaction-scoped advisory lock. The
    /// lock is held until commit, so commits happen in position order.
    pub(crate) async fn begin_write(&self) -> Result<Tx> {
        match self {
            Db::Sqlite { write, .. } => Ok(Tx::Sqlite(write.begin_with("BEGIN IMMEDIATE").await?)),
            Db::Postgres(pool) => Ok(Tx::Postgres(pool.begin_with(PG_BEGIN_APPEND).await?)),
        }
    }

    /// Inserts rows in one autocommit statement where the backend allows it
    /// (SQLite, small batches); returns false when a transaction is needed.
    pub(crate) async fn try_insert_autocommit(&self, rows: &[NewRow<'_>]) -> Result<bool> {
        match self {
            Db::Sqlite { write, .. } if rows.len() <= SQLITE_CHUNK => {
                let sql = sqlite_insert_sql(rows.len());
                sqlite_bind_rows(sqlx::query(AssertSqlSafe(sql)), rows)
                    .execute(write)
                    .await?;
                Ok(true)
            }
            Db::Postgres(pool) => {
                // Autocommit: the statement takes the append lock itself and
                // holds it until its implicit commit, which saves the
                // BEGIN and COMMIT round trips of a transaction.
                pg_insert(PG_INSERT_LOCKED, rows).execute(pool).await?;
                Ok(true)
            }
            Db::Sqlite { .. } => Ok(false),
        }
    }

    /// Stores `fresh` personal-data keys for subjects that have none and
    /// inserts `rows`, in one transaction and one round trip, the rows only
    /// if every subject's stored key is the fresh one (another process may
    /// have stored one first, or erased it). Returns each subject's stored
    /// key (`None`: erased); `Ok(None)` where a transaction is needed step
    /// by step (an SQLite batch too large for one statement).
    pub(crate) async fn try_insert_with_keys(
        &self,
        fresh: &[(&str, &[u8; 32])],
        at: &str,
        rows: &[NewRow<'_>],
    ) -> Result<Option<StoredKeys>> {
        match self {
            Db::Sqlite { write, .. } if rows.len() <= SQLITE_CHUNK => {
                let pairs = sqlite_key_pairs(fresh);
                let sql = format!(
                    "BEGIN IMMEDIATE; {SQLITE_STORE_KEYS}; \
                     INSERT INTO events ({COLUMNS}) SELECT * FROM ({}) \
                     WHERE NOT EXISTS (SELECT 1 FROM json_each(?) AS j \
                     JOIN personal_keys AS k ON k.subject = j.value ->> 0 \
                     WHERE k.key IS NOT unhex(j.value ->> 1)); COMMIT",
                    sqlite_values_sql(rows.len())
                );
                let query = sqlx::query(AssertSqlSafe(sql)).bind(at).bind(&pairs);
                let query = sqlite_bind_rows(query, rows).bind(&pairs);
                let mut conn = write.acquire().await?;
                match query.fetch_all(&mut *conn).await {
                    Ok(stored) => Ok(Some(key_rows(&stored)?)),
                    Err(e) => {
                        // The script stopped inside its transaction: end it,
                        // or give up the connection.
                        if sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await.is_err() {
                            conn.close_on_drop();
                        }
                        Err(e.into())
                    }
                }
            }
            Db::Postgres(pool) => {
                let subjects: Vec<&str> = fresh.iter().map(|(s, _)| *s).collect();
                let keys: Vec<&[u8]> = fresh.iter().map(|(_, k)| k.as_slice()).collect();
                let stored = pg_insert(PG_INSERT_WITH_KEYS, rows)
                    .bind(subjects)
                    .bind(keys)
                    .bind(at)
                    .fetch_all(pool)
                    .await?;
                Ok(Some(key_rows(&stored)?))
            }
            Db::Sqlite { .. } => Ok(None),
        }
    }

    /// Current versions of `streams` (`None`: no such stream), read outside
    /// any transaction.
    pub(crate) async fn stream_versions(
        &self,
        streams: &[&str],
    ) -> Result<HashMap<String, Option<u64>>> {
        match self {
            Db::Sqlite { write, .. } => {
                let mut c = write.acquire().await?;
                sqlite_stream_versions(&mut c, streams).await
            }
            Db::Postgres(pool) => {
                let mut c = pool.acquire().await?;
                pg_stream_versions(&mut c, streams).await
            }
        }
    }

    /// Position and hash of the last event (0 and the genesis hash when empty).
    pub(crate) async fn head(&self) -> Result<(u64, [u8; 32])> {
        const SQL: &str = "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1";
        let row: Option<(i64, Vec<u8>)> = match self {
            Db::Sqlite { read, .. } => sqlx::query_as(SQL).fetch_optional(read).await?,
            Db::Postgres(pool) => sqlx::query_as(SQL).fetch_optional(pool).await?,
        };
        head_of(row)
    }

    /// Events after `after` (exclusive) up to `upto` (inclusive, if given),
    /// optionally only of `types`, in position order, at most `limit`.
    pub(crate) async fn read_all(
        &self,
        after: u64,
        upto: Option<u64>,
        types: Option<&[String]>,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        let upto = upto.map_or(i64::MAX, |u| u.min(i64::MAX as u64) as i64);
        match self {
            Db::Sqlite { read, .. } => {
                let sql = match types {
                    None => format!(
                        "{SQLITE_SELECT} WHERE position > ?1 AND position <= ?2 ORDER BY position LIMIT ?3"
                    ),
                    Some(_) => format!(
                        "{SQLITE_SELECT} WHERE position > ?1 AND position <= ?2 \
                         AND event_type IN (SELECT value FROM json_each(?4)) ORDER BY position LIMIT ?3"
                    ),
                };
                let mut q = sqlx::query(AssertSqlSafe(sql))
                    .bind(after as i64)
                    .bind(upto)
                    .bind(limit as i64);
                if let Some(t) = types {
                    q = q.bind(json_list(t));
                }
                let mut rows = q.fetch(read);
                let mut out = Vec::with_capacity(limit.min(4096));
                while let Some(row) = rows.try_next().await? {
                    out.push(decode_sqlite(&row)?);
                }
                Ok(out)
            }
            Db::Postgres(pool) => {
                let sql = match types {
                    None => format!(
                        "{PG_SELECT} WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3"
                    ),
                    Some(_) => format!(
                        "{PG_SELECT} WHERE position > $1 AND position <= $2 AND event_type = ANY($4) \
                         ORDER BY position LIMIT $3"
                    ),
                };
                let mut q = sqlx::query(AssertSqlSafe(sql))
                    .bind(after as i64)
                    .bind(upto)
                    .bind(limit as i64);
                if let Some(t) = types {
                    q = q.bind(t.to_vec());
                }
                let mut rows = q.fetch(pool);
                let mut out = Vec::with_capacity(limit.min(4096));
                while let Some(row) = rows.try_next().await? {
                    out.push(decode_pg(&row)?);
                }
                Ok(out)
            }
        }
    }

    /// Events of one stream from `from_version` (inclusive), at most `limit`.
    pub(crate) async fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        match self {
            Db::Sqlite { read, .. } => {
                let sql = format!(
                    "{SQLITE_SELECT} WHERE stream_id = ?1 AND stream_version >= ?2 ORDER BY stream_version LIMIT ?3"
                );
                let rows = sqlx::query(AssertSqlSafe(sql))
                    .bind(stream_id)
                    .bind(from_version.min(i64::MAX as u64) as i64)
                    .bind(limit as i64)
                    .fetch_all(read)
                    .await?;
                rows.iter().map(decode_sqlite).collect()
            }
            Db::Postgres(pool) => {
                let sql = format!(
                    "{PG_SELECT} WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version LIMIT $3"
                );
                let rows = sqlx::query(AssertSqlSafe(sql))
                    .bind(stream_id)
                    .bind(from_version.min(i64::MAX as u64) as i64)
                    .bind(limit as i64)
                    .fetch_all(pool)
                    .await?;
                rows.iter().map(decode_pg).collect()
            }
        }
    }

    /// The stored events with these ids (those that exist), in position
    /// order.
    pub(crate) async fn read_ids(&self, ids: &[Uuid]) -> Result<Vec<RecordedEvent>> {
        let mut out = Vec::with_capacity(ids.len());
        match self {
            Db::Sqlite { read, .. } => {
                for chunk in ids.chunks(SQLITE_CHUNK) {
                    let marks = vec!["?"; chunk.len()].join(",");
                    let sql = format!("{SQLITE_SELECT} WHERE event_id IN ({marks})");
                    let mut q = sqlx::query(AssertSqlSafe(sql));
                    for id in chunk {
                        q = q.bind(*id);
                    }
                    for row in q.fetch_all(read).await? {
                        out.push(decode_sqlite(&row)?);
                    }
                }
            }
            Db::Postgres(pool) => {
                let sql = format!("{PG_SELECT} WHERE event_id = ANY($1)");
                for row in sqlx::query(AssertSqlSafe(sql))
                    .bind(ids)
                    .fetch_all(pool)
                    .await?
                {
                    out.push(decode_pg(&row)?);
                }
            }
        }
        out.sort_by_key(|e| e.position);
        Ok(out)
    }

    /// Who holds `scope`/`key`, if anyone.
    pub(crate) async fn key_owner(&self, scope: &str, key: &str) -> Result<Option<String>> {
        const SQLITE: &str = "SELECT owner_stream FROM unique_keys WHERE scope = ?1 AND key = ?2";
        const PG: &str = "SELECT owner_stream FROM unique_keys WHERE scope = $1 AND key = $2";
        Ok(match self {
            Db::Sqlite { read, .. } => {
                sqlx::query_scalar(SQLITE)
                    .bind(scope)
                    .bind(key)
                    .fetch_optional(read)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_scalar(PG)
                    .bind(scope)
                    .bind(key)
                    .fetch_optional(pool)
                    .await?
            }
        })
    }
}

impl Db {
    /// The stored personal-data keys of `subjects` (`None`: erased).
    pub(crate) async fn personal_keys(&self, subjects: &[String]) -> Result<StoredKeys> {
        Ok(match self {
            Db::Sqlite { read, .. } => {
                const SQL: &str = "SELECT k.subject, k.key FROM json_each(?1) AS j \
                                   JOIN personal_keys AS k ON k.subject = j.value";
                sqlx::query_as(SQL)
                    .bind(json_list(subjects))
                    .fetch_all(read)
                    .await?
            }
            Db::Postgres(pool) => {
                const SQL: &str = "SELECT subject, key FROM personal_keys WHERE subject = ANY($1)";
                sqlx::query_as(SQL).bind(subjects).fetch_all(pool).await?
            }
        })
    }

    /// Overwrites `subject`'s key with NULL (a row is made if it had none);
    /// true when a key was destroyed now.
    pub(crate) async fn erase_personal_key(&self, subject: &str, at: &str) -> Result<bool> {
        const HAD: &str =
            "SELECT COUNT(*) FROM personal_keys WHERE subject = $1 AND key IS NOT NULL";
        const SQL: &str = "INSERT INTO personal_keys (subject, key, created_at, erased_at) \
                           VALUES ($1, NULL, $2, $2) \
                           ON CONFLICT (subject) DO UPDATE SET key = NULL, \
                           erased_at = COALESCE(personal_keys.erased_at, excluded.erased_at)";
        let had: i64 = match self {
            Db::Sqlite { write, .. } => {
                let (had,) = sqlx::query_as(HAD).bind(subject).fetch_one(write).await?;
                sqlx::query(SQL)
                    .bind(subject)
                    .bind(at)
                    .execute(write)
                    .await?;
                had
            }
            Db::Postgres(pool) => {
                let (had,) = sqlx::query_as(HAD).bind(subject).fetch_one(pool).await?;
                sqlx::query(SQL)
                    .bind(subject)
                    .bind(at)
                    .execute(pool)
                    .await?;
                had
            }
        };
        Ok(had > 0)
    }

    /// How many persons' keys are erased.
    pub(crate) async fn erased_keys(&self) -> Result<i64> {
        self.count("SELECT COUNT(*) FROM personal_keys WHERE key IS NULL")
            .await
    }

    /// The position up to which events were written before sealing began.
    pub(crate) async fn personal_since(&self) -> Result<u64> {
        let n = self
            .count("SELECT COALESCE(MAX(since), 0) FROM personal_protection")
            .await?;
        Ok(u64::try_from(n).unwrap_or_default())
    }

    /// Leaves nothing of overwritten data in the database's own files where
    /// the backend allows: SQLite checkpoints its write-ahead log and
    /// truncates it (deleted content is zeroed, `secure_delete`);
    /// PostgreSQL rewrites the key table, so no dead row keeps a key.
    /// False when SQLite's log could not be emptied (a reader held it).
    pub(crate) async fn scrub(&self) -> Result<bool> {
        match self {
            Db::Sqlite { write, .. } => {
                let (busy, _, _): (i64, i64, i64) =
                    sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                        .fetch_one(write)
                        .await?;
                Ok(busy == 0)
            }
            Db::Postgres(pool) => {
                sqlx::query("VACUUM FULL personal_keys")
                    .execute(pool)
                    .await?;
                Ok(true)
            }
        }
    }
}

fn head_of(row: Option<(i64, Vec<u8>)>) -> Result<(u64, [u8; 32])> {
    match row {
        None => Ok((0, GENESIS)),
        Some((p, h)) => {
            let p = u64_of(p, 0, "position")?;
            Ok((p, hash_of(&h, p, "hash")?))
        }
    }
}

async fn sqlite_stream_versions(
    c: &mut sqlx::SqliteConnection,
    streams: &[&str],
) -> Result<HashMap<String, Option<u64>>> {
    const SQL: &str = "SELECT j.value, (SELECT max(stream_version) FROM events WHERE stream_id = j.value) \
                       FROM json_each(?1) AS j";
    let rows: Vec<(String, Option<i64>)> = sqlx::query_as(SQL)
        .bind(json_list(streams))
        .fetch_all(c)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(s, v)| (s, v.map(|v| v as u64)))
        .collect())
}

async fn pg_stream_versions(
    c: &mut sqlx::PgConnection,
    streams: &[&str],
) -> Result<HashMap<String, Option<u64>>> {
    const SQL: &str = "SELECT s, (SELECT max(stream_version) FROM events WHERE stream_id = s) \
                       FROM unnest($1::text[]) AS s";
    let rows: Vec<(String, Option<i64>)> = sqlx::query_as(SQL).bind(streams).fetch_all(c).await?;
    Ok(rows
        .into_iter()
        .map(|(s, v)| (s, v.map(|v| v as u64)))
        .collect())
}

impl Tx {
    pub(crate) async fn head(&mut self) -> Result<(u64, [u8; 32])> {
        const SQL: &str = "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1";
        let row: Option<(i64, Vec<u8>)> = match self {
            Tx::Sqlite(tx) => sqlx::query_as(SQL).fetch_optional(&mut **tx).await?,
            Tx::Postgres(tx) => sqlx::query_as(SQL).fetch_optional(&mut **tx).await?,
        };
        head_of(row)
    }

    pub(crate) async fn stream_versions(
        &mut self,
        streams: &[&str],
    ) -> Result<HashMap<String, Option<u64>>> {
        match self {
            Tx::Sqlite(tx) => sqlite_stream_versions(tx, streams).await,
            Tx::Postgres(tx) => pg_stream_versions(tx, streams).await,
        }
    }

    pub(crate) async fn stored_ids(&mut self, ids: &[Uuid]) -> Result<HashMap<Uuid, StoredId>> {
        type IdRow = (i64, String, i64, String, i32, String);
        let rows: Vec<(Uuid, IdRow)> = match self {
            Tx::Sqlite(tx) => {
                let mut rows = Vec::with_capacity(ids.len());
                for chunk in ids.chunks(SQLITE_CHUNK) {
                    let marks = vec!["?"; chunk.len()].join(",");
                    let sql = format!(
                        "SELECT event_id, position, stream_id, stream_version, event_type, schema_version, \
                         payload FROM events WHERE event_id IN ({marks})"
                    );
                    let mut q = sqlx::query_as::<_, (Uuid, i64, String, i64, String, i32, String)>(
                        AssertSqlSafe(sql),
                    );
                    for id in chunk {
                        q = q.bind(*id);
                    }
                    rows.extend(q.fetch_all(&mut **tx).await?);
                }
                rows.into_iter()
                    .map(|(id, p, s, v, t, sv, pl)| (id, (p, s, v, t, sv, pl)))
                    .collect()
            }
            Tx::Postgres(tx) => {
                const SQL: &str = "SELECT event_id, position, stream_id, stream_version, event_type, \
                                   schema_version, payload::text FROM events WHERE event_id = ANY($1)";
                let rows: Vec<(Uuid, i64, String, i64, String, i32, String)> =
                    sqlx::query_as(SQL).bind(ids).fetch_all(&mut **tx).await?;
                rows.into_iter()
                    .map(|(id, p, s, v, t, sv, pl)| (id, (p, s, v, t, sv, pl)))
                    .collect()
            }
        };
        Ok(rows
            .into_iter()
            .map(|(id, (p, s, v, t, sv, pl))| {
                (
                    id,
                    StoredId {
                        position: p as u64,
                        stream_id: s,
                        stream_version: v as u64,
                        event_type: t,
                        schema_version: sv as u32,
                        payload: pl,
                    },
                )
            })
            .collect())
    }

    pub(crate) async fn key_owners(&mut self, keys: &[(String, String)]) -> Result<Keys> {
        let rows: Vec<(String, String, String)> = match self {
            Tx::Sqlite(tx) => {
                const SQL: &str = "SELECT k.scope, k.key, k.owner_stream FROM json_each(?1) AS j \
                                   JOIN unique_keys AS k ON k.scope = j.value ->> 0 AND k.key = j.value ->> 1";
                let pairs: Vec<[&str; 2]> =
                    keys.iter().map(|(s, k)| [s.as_str(), k.as_str()]).collect();
                sqlx::query_as(SQL)
                    .bind(json_list(&pairs))
                    .fetch_all(&mut **tx)
                    .await?
            }
            Tx::Postgres(tx) => {
                const SQL: &str = "SELECT k.scope, k.key, k.owner_stream \
                                   FROM unnest($1::text[], $2::text[]) AS j(scope, key) \
                                   JOIN unique_keys AS k ON k.scope = j.scope AND k.key = j.key";
                let scopes: Vec<&str> = keys.iter().map(|(s, _)| s.as_str()).collect();
                let names: Vec<&str> = keys.iter().map(|(_, k)| k.as_str()).collect();
                sqlx::query_as(SQL)
                    .bind(scopes)
                    .bind(names)
                    .fetch_all(&mut **tx)
                    .await?
            }
        };
        Ok(rows.into_iter().map(|(s, k, o)| ((s, k), o)).collect())
    }

    pub(crate) async fn insert(&mut self, rows: &[NewRow<'_>]) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => {
                for chunk in rows.chunks(SQLITE_CHUNK) {
                    let sql = sqlite_insert_sql(chunk.len());
                    sqlite_bind_rows(sqlx::query(AssertSqlSafe(sql)), chunk)
                        .execute(&mut **tx)
                        .await?;
                }
            }
            Tx::Postgres(tx) => pg_insert(PG_INSERT, rows)
                .execute(&mut **tx)
                .await
                .map(drop)?,
        }
        Ok(())
    }

    /// Stores `fresh` keys for subjects that have none and returns every
    /// subject's stored key: the fresh one, or the one stored before (by
    /// another process; `None`: erased). Made in the append's transaction,
    /// so a key is stored exactly when the first event sealed under it is.
    pub(crate) async fn store_personal_keys(
        &mut self,
        fresh: &[(&str, &[u8; 32])],
        at: &str,
    ) -> Result<StoredKeys> {
        Ok(match self {
            Tx::Sqlite(tx) => {
                sqlx::query_as(SQLITE_STORE_KEYS)
                    .bind(at)
                    .bind(sqlite_key_pairs(fresh))
                    .fetch_all(&mut **tx)
                    .await?
            }
            Tx::Postgres(tx) => {
                const SQL: &str = "INSERT INTO personal_keys (subject, key, created_at) \
                                   SELECT * , $3 FROM unnest($1::text[], $2::bytea[]) \
                                   ON CONFLICT (subject) DO UPDATE SET subject = excluded.subject \
                                   RETURNING subject, key";
                let subjects: Vec<&str> = fresh.iter().map(|(s, _)| *s).collect();
                let keys: Vec<&[u8]> = fresh.iter().map(|(_, k)| k.as_slice()).collect();
                sqlx::query_as(SQL)
                    .bind(subjects)
                    .bind(keys)
                    .bind(at)
                    .fetch_all(&mut **tx)
                    .await?
            }
        })
    }

    pub(crate) async fn claim(
        &mut self,
        scope: &str,
        key: &str,
        owner: &str,
        position: u64,
    ) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => {
                sqlx::query("INSERT INTO unique_keys (scope, key, owner_stream, claimed_at) VALUES (?1, ?2, ?3, ?4)")
                    .bind(scope)
                    .bind(key)
                    .bind(owner)
                    .bind(position as i64)
                    .execute(&mut **tx)
                    .await?;
            }
            Tx::Postgres(tx) => {
                sqlx::query("INSERT INTO unique_keys (scope, key, owner_stream, claimed_at) VALUES ($1, $2, $3, $4)")
                    .bind(scope)
                    .bind(key)
                    .bind(owner)
                    .bind(position as i64)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn release(&mut self, scope: &str, key: &str, owner: &str) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => {
                sqlx::query(
                    "DELETE FROM unique_keys WHERE scope = ?1 AND key = ?2 AND owner_stream = ?3",
                )
                .bind(scope)
                .bind(key)
                .bind(owner)
                .execute(&mut **tx)
                .await?;
            }
            Tx::Postgres(tx) => {
                sqlx::query(
                    "DELETE FROM unique_keys WHERE scope = $1 AND key = $2 AND owner_stream = $3",
                )
                .bind(scope)
                .bind(key)
                .bind(owner)
                .execute(&mut **tx)
                .await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

/// Inserts a batch with one statement, and announces the commit with it
/// (PostgreSQL delivers the notification at commit).
macro_rules! pg_insert_sql {
    ($lock:literal, $cross:literal, $select:literal) => {
        concat!(
            "WITH ", $lock, "ins AS (INSERT INTO events (position, stream_id, stream_version, event_id, \
             event_type, schema_version, payload, metadata, occurred_at, recorded_at, prev_hash, hash) \
             SELECT x.pos, x.sid, x.ver, x.eid, x.ty, x.sv, x.pl::json, x.md::json, x.oc, x.rc, x.ph, x.h \
             FROM unnest($1::int8[], $2::text[], $3::int8[], $4::uuid[], $5::text[], $6::int4[], \
             $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[], $11::bytea[], $12::bytea[]) \
             AS x(pos, sid, ver, eid, ty, sv, pl, md, oc, rc, ph, h)", $cross, ") ",
            $select
        )
    };
}

/// Inside a transaction that already holds the append lock.
const PG_INSERT: &str = pg_insert_sql!("", "", "SELECT pg_notify($13, $14)");
/// On its own: the rows are joined with the lock, so no row is inserted
/// before the lock is held (a CTE with a volatile function is never inlined).
const PG_INSERT_LOCKED: &str = pg_insert_sql!(
    "append_lock AS (SELECT pg_advisory_xact_lock(7810758480313347585)), ",
    " CROSS JOIN append_lock",
    "SELECT pg_notify($13, $14)"
);
/// On its own, with the personal-data keys the rows were sealed under
/// (`$15` subjects, `$16` keys, `$17` the time): stores those of subjects
/// without a key and inserts the rows only if every subject's stored key is
/// the one given; returns the stored keys. The statements of one query see
/// one snapshot, so the key table is read through `k`.
const PG_INSERT_WITH_KEYS: &str = pg_insert_sql!(
    "append_lock AS (SELECT pg_advisory_xact_lock(7810758480313347585)), \
     given AS (SELECT * FROM unnest($15::text[], $16::bytea[]) AS g(subject, key)), \
     k AS (INSERT INTO personal_keys (subject, key, created_at) \
     SELECT given.subject, given.key, $17 FROM given CROSS JOIN append_lock \
     ON CONFLICT (subject) DO UPDATE SET subject = excluded.subject \
     RETURNING subject, key), ",
    " CROSS JOIN append_lock WHERE NOT EXISTS (SELECT 1 FROM k JOIN given USING (subject) \
     WHERE k.key IS DISTINCT FROM given.key)",
    "SELECT k.subject, k.key FROM k CROSS JOIN (SELECT pg_notify($13, $14)) AS notified"
);

fn pg_insert<'q>(
    sql: &'static str,
    rows: &'q [NewRow<'q>],
) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    let head = rows.last().map_or(0, |r| r.event.position);
    sqlx::query(sql)
        .bind(
            rows.iter()
                .map(|r| r.event.position as i64)
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|r| r.event.stream_id).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|r| r.event.stream_version as i64)
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|r| r.event.event_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.event.event_type).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|r| r.event.schema_version as i32)
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|r| r.event.payload).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.event.metadata).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.event.occurred_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.event.recorded_at).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|r| r.prev_hash.to_vec())
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|r| r.hash.to_vec()).collect::<Vec<_>>())
        .bind(PG_CHANNEL)
        .bind(head.to_string())
}

/// True when `e` is a unique-constraint violation: another writer took a
/// position or the append reuses a stored event id.
pub(crate) fn is_unique_violation(e: &Error) -> bool {
    match e {
        Error::Database(e) => e
            .as_database_error()
            .is_some_and(|d| d.kind() == sqlx::error::ErrorKind::UniqueViolation),
        _ => false,
    }
}
