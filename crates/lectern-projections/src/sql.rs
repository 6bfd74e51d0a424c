//! The read-model database: one small, portable dialect for both backends.
//!
//! Read-model SQL is written once: `$1`-style parameters (SQLite reads
//! `$N` as parameter N too), `TEXT` and `BIGINT` columns only (no booleans,
//! no JSON operators), `INSERT .. ON CONFLICT .. DO UPDATE`. Timestamps are
//! RFC 3339 UTC text with a fixed width and dates `YYYY-MM-DD`, so text
//! order is time order on both backends.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Column, Row as _, TypeInfo, ValueRef};

use crate::error::{Error, Result};

/// A value bound to, or read from, a read-model statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// NULL for a text column (what reads give for any NULL).
    Null,
    /// NULL for an integer column. PostgreSQL types a statement's
    /// parameters when a connection first prepares it: a NULL bound as
    /// text where an integer is bound another time would make that
    /// integer's bytes arrive as text.
    NullInt,
    Int(i64),
    Text(String),
}

impl Val {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Text(s) => Some(s),
            Val::Null | Val::NullInt | Val::Int(_) => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Val::Int(i) => Some(*i),
            Val::Null | Val::NullInt | Val::Text(_) => None,
        }
    }

    /// An integer that may be missing, bound as an integer either way.
    pub fn int_or_null(v: Option<impl Into<Val>>) -> Val {
        v.map_or(Val::NullInt, Into::into)
    }
}

impl From<&str> for Val {
    fn from(v: &str) -> Val {
        Val::Text(v.to_owned())
    }
}
impl From<String> for Val {
    fn from(v: String) -> Val {
        Val::Text(v)
    }
}
impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::Int(v)
    }
}
impl From<u64> for Val {
    fn from(v: u64) -> Val {
        Val::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<u32> for Val {
    fn from(v: u32) -> Val {
        Val::Int(i64::from(v))
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Val {
        Val::Int(i64::from(v))
    }
}
impl From<DateTime<Utc>> for Val {
    fn from(v: DateTime<Utc>) -> Val {
        Val::Text(timestamp(v))
    }
}
impl From<NaiveDate> for Val {
    fn from(v: NaiveDate) -> Val {
        Val::Text(v.format("%Y-%m-%d").to_string())
    }
}
impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Val {
        v.map_or(Val::Null, Into::into)
    }
}

/// The stored form of a timestamp: fixed-width RFC 3339 in UTC.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// One row of a query, read by column name: the name a column has in the
/// statement (`staff_no` for `a.staff_no`; give an expression a name with
/// `AS`). Write `CAST(SUM(..) AS BIGINT)`: PostgreSQL sums integers to
/// NUMERIC, which is not read here.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Val>,
}

impl Row {
    /// The value of `column`. Asking for a column the statement does not
    /// select is a mistake in the code that wrote both, like indexing past
    /// the end of a slice, and panics naming the columns there are.
    pub fn get(&self, column: &str) -> &Val {
        match self.columns.iter().position(|c| c == column) {
            Some(i) => &self.values[i],
            None => panic!(
                "the statement selects no column {column:?}; it selects {:?}",
                self.columns
            ),
        }
    }

    /// A text column (empty when null or a number).
    pub fn text(&self, column: &str) -> String {
        self.get(column).as_str().unwrap_or_default().to_owned()
    }

    /// A text column that may be null.
    pub fn opt(&self, column: &str) -> Option<String> {
        self.get(column).as_str().map(str::to_owned)
    }

    /// An integer column (0 when null or text).
    pub fn int(&self, column: &str) -> i64 {
        self.get(column).as_i64().unwrap_or_default()
    }

    /// An integer column that may be null.
    pub fn int_opt(&self, column: &str) -> Option<i64> {
        self.get(column).as_i64()
    }

    /// The values in select order (for code that handles any row alike).
    pub fn values(&self) -> &[Val] {
        &self.values
    }
}

/// One statement with its arguments, run later in a projector's batch.
#[derive(Debug, Clone)]
pub struct Stmt {
    pub sql: Arc<str>,
    pub args: Vec<Val>,
}

/// The read-model database. Cheap to clone.
#[derive(Debug, Clone)]
pub enum ReadDb {
    /// One connection writes (SQLite has one writer anyway); a pool reads.
    Sqlite {
        write: sqlx::SqlitePool,
        read: sqlx::SqlitePool,
    },
    Postgres(sqlx::PgPool),
}

impl ReadDb {
    /// Connects to the database that holds the log (`sqlite://PATH` or
    /// `postgres://...`); the read models live beside the events.
    pub async fn connect(url: &str) -> Result<ReadDb> {
        if url.starts_with("sqlite:") {
            let base = SqliteConnectOptions::from_str(url)
                .map_err(Error::db)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // Read models are rebuilt from the log: a power cut may
                // lose the newest batches, never tear one (the checkpoint
                // is in the same transaction).
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                // Queries touch pages all over the read models: map the
                // file rather than copy every page through read(2), and
                // keep a larger page cache per connection.
                .pragma("mmap_size", "1073741824")
                .pragma("cache_size", "-32768")
                // Overwritten and dropped content is zeroed, so erased
                // personal text does not linger in free space.
                .pragma("secure_delete", "on");
            let write = SqlitePoolOptions::new()
                .test_before_acquire(false)
                .max_connections(1)
                .connect_with(base.clone())
                .await
                .map_err(Error::db)?;
            let read = SqlitePoolOptions::new()
                .test_before_acquire(false)
                .max_connections(8)
                .connect_with(base)
                .await
                .map_err(Error::db)?;
            Ok(ReadDb::Sqlite { write, read })
        } else if is_postgres(url) {
            let connect = PgConnectOptions::from_str(url)
                .map_err(Error::db)?
                .application_name("lectern-projections");
            pg_pool(connect).await
        } else {
            Err(Error::UnsupportedUrl(url.to_owned()))
        }
    }

    /// Connects to a read-only PostgreSQL replica of the database, to
    /// answer queries from: every transaction on it is read-only, so
    /// nothing can write there by mistake.
    pub async fn connect_replica(url: &str) -> Result<ReadDb> {
        if !is_postgres(url) {
            return Err(Error::UnsupportedUrl(url.to_owned()));
        }
        let connect = PgConnectOptions::from_str(url)
            .map_err(Error::db)?
            .application_name("lectern-replica")
            .options([("default_transaction_read_only", "on")]);
        pg_pool(connect).await
    }

    pub fn backend(&self) -> &'static str {
        match self {
            ReadDb::Sqlite { .. } => "sqlite",
            ReadDb::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        match self {
            ReadDb::Sqlite { write, read } => {
                write.close().await;
                read.close().await;
            }
            ReadDb::Postgres(pool) => pool.close().await,
        }
    }

    /// Runs a query and returns every row.
    pub async fn fetch(&self, sql: &str, args: &[Val]) -> Result<Vec<Row>> {
        match self {
            ReadDb::Sqlite { read, .. } => {
                let rows = bind_sqlite(sqlx::query(AssertSqlSafe(sql.to_owned())), args)
                    .fetch_all(read)
                    .await
                    .map_err(Error::db)?;
                let columns = rows.first().map(column_names).unwrap_or_default();
                rows.iter()
                    .map(|r| {
                        Ok(Row {
                            columns: columns.clone(),
                            values: sqlite_values(r)?,
                        })
                    })
                    .collect()
            }
            ReadDb::Postgres(pool) => {
                let rows = bind_pg(sqlx::query(AssertSqlSafe(sql.to_owned())), args)
                    .fetch_all(pool)
                    .await
                    .map_err(Error::db)?;
                let columns = rows.first().map(column_names).unwrap_or_default();
                rows.iter()
                    .map(|r| {
                        Ok(Row {
                            columns: columns.clone(),
                            values: pg_values(r)?,
                        })
                    })
                    .collect()
            }
        }
    }

    /// Runs statements in one transaction. `guard`, when given, must change
    /// exactly one row or the transaction is rolled back and `Ok(false)`
    /// returned: that is how a checkpoint moves only from where its writer
    /// last saw it.
    pub async fn transact(&self, guard: Option<&Stmt>, stmts: &[Stmt]) -> Result<bool> {
        match self {
            ReadDb::Sqlite { write, .. } => {
                let mut tx = write.begin().await.map_err(Error::db)?;
                if let Some(g) = guard {
                    let n = bind_sqlite(sqlx::query(AssertSqlSafe(g.sql.to_string())), &g.args)
                        .execute(&mut *tx)
                        .await
                        .map_err(Error::db)?
                        .rows_affected();
                    if n != 1 {
                        return Ok(false);
                    }
                }
                for s in stmts {
                    bind_sqlite(sqlx::query(AssertSqlSafe(s.sql.to_string())), &s.args)
                        .execute(&mut *tx)
                        .await
                        .map_err(Error::db)?;
                }
                tx.commit().await.map_err(Error::db)?;
            }
            ReadDb::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(Error::db)?;
                if let Some(g) = guard {
                    let n = bind_pg(sqlx::query(AssertSqlSafe(g.sql.to_string())), &g.args)
                        .execute(&mut *tx)
                        .await
                        .map_err(Error::db)?
                        .rows_affected();
                    if n != 1 {
                        return Ok(false);
                    }
                }
                for s in stmts {
                    bind_pg(sqlx::query(AssertSqlSafe(s.sql.to_string())), &s.args)
                        .execute(&mut *tx)
                        .await
                        .map_err(Error::db)?;
                }
                tx.commit().await.map_err(Error::db)?;
            }
        }
        Ok(true)
    }

    /// Runs plain statements (schema changes) in one transaction.
    pub async fn execute(&self, sql: &[String]) -> Result<()> {
        let stmts: Vec<Stmt> = sql
            .iter()
            .map(|s| Stmt {
                sql: Arc::from(s.as_str()),
                args: Vec::new(),
            })
            .collect();
        self.transact(None, &stmts).await.map(|_| ())
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres:") || url.starts_with("postgresql:")
}

/// The read pool on PostgreSQL (the database serialises the writers).
async fn pg_pool(connect: PgConnectOptions) -> Result<ReadDb> {
    let pool = PgPoolOptions::new()
        .test_before_acquire(false)
        // As the event log's pool: a database that is down fails a read
        // after 5 s (UNAVAILABLE), not after 30.
        .acquire_timeout(std::time::Duration::from_secs(5))
        .max_connections(8)
        .connect_with(connect)
        .await
        .map_err(Error::db)?;
    Ok(ReadDb::Postgres(pool))
}

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;
type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn bind_sqlite<'q>(mut q: SqliteQuery<'q>, args: &[Val]) -> SqliteQuery<'q> {
    for a in args {
        q = match a {
            Val::Null | Val::NullInt => q.bind(None::<i64>),
            Val::Int(i) => q.bind(*i),
            Val::Text(s) => q.bind(s.clone()),
        };
    }
    q
}

fn bind_pg<'q>(mut q: PgQuery<'q>, args: &[Val]) -> PgQuery<'q> {
    for a in args {
        q = match a {
            // A NULL is bound as text, for the text columns; an integer
            // column's missing value is `NullInt`, bound as an integer.
            Val::Null => q.bind(None::<String>),
            Val::NullInt => q.bind(None::<i64>),
            Val::Int(i) => q.bind(*i),
            Val::Text(s) => q.bind(s.clone()),
        };
    }
    q
}

/// The names of a statement's columns, shared by its rows.
fn column_names(row: &impl sqlx::Row) -> Arc<[String]> {
    row.columns().iter().map(|c| c.name().to_owned()).collect()
}

fn sqlite_values(row: &sqlx::sqlite::SqliteRow) -> Result<Vec<Val>> {
    (0..row.columns().len())
        .map(|i| {
            let raw = row.try_get_raw(i).map_err(Error::db)?;
            if raw.is_null() {
                return Ok(Val::Null);
            }
            let ty = raw.type_info().name().to_owned();
            match ty.as_str() {
                "INTEGER" | "BOOLEAN" => row.try_get::<i64, _>(i).map(Val::Int),
                _ => row.try_get::<String, _>(i).map(Val::Text),
            }
            .map_err(Error::db)
        })
        .collect()
}

fn pg_values(row: &sqlx::postgres::PgRow) -> Result<Vec<Val>> {
    row.columns()
        .iter()
        .map(|c| {
            let i = c.ordinal();
            let raw = row.try_get_raw(i).map_err(Error::db)?;
            if raw.is_null() {
                return Ok(Val::Null);
            }
            match c.type_info().name() {
                "INT8" => row.try_get::<i64, _>(i).map(Val::Int),
                "INT4" => row.try_get::<i32, _>(i).map(|v| Val::Int(i64::from(v))),
                "INT2" => row.try_get::<i16, _>(i).map(|v| Val::Int(i64::from(v))),
                _ => row.try_get::<String, _>(i).map(Val::Text),
            }
            .map_err(Error::db)
        })
        .collect()
}
