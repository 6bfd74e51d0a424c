//! Test databases for both backends, for the test suites of every crate
//! (cargo feature `testkit`; never in the binary).
//!
//! `TestDb::sqlite()` is a file in a temporary directory;
//! `TestDb::postgres()` a database of its own on the server named by
//! `LECTERN_TEST_PG_URL` (default: the local service), dropped afterwards.
//! `both_backends!` turns `async fn name(TestDb)` into `name::sqlite` and
//! `name::postgres` tests. Every test that needs PostgreSQL has `postgres`
//! in its name, so `cargo test -- --skip postgres` leaves them all out and
//! says how many it left ("N filtered out"); `.ci/run` never does.

use sqlx::Connection;

use crate::{Store, StoreOptions};

pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    pg_drop: Option<(String, String)>,
}

const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("log.db").display());
        TestDb {
            url,
            backend: Backend::Sqlite,
            _dir: Some(dir),
            pg_drop: None,
        }
    }

    /// A fresh PostgreSQL database on the server at `LECTERN_TEST_PG_URL`.
    ///
    /// # Panics
    /// When the server cannot be reached: the message says how to run the
    /// SQLite half alone (`-- --skip postgres`, which cargo counts as
    /// filtered out rather than passed).
    pub async fn postgres() -> TestDb {
        let admin = std::env::var("LECTERN_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG.to_owned());
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {admin} is unreachable ({e}); start it, point LECTERN_TEST_PG_URL \
                 at another server, or leave the PostgreSQL tests out with \
                 `cargo test --workspace -- --skip postgres`"
            )
        });
        let name = format!("lectern_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        TestDb {
            url: format!("{base}/{name}"),
            backend: Backend::Postgres,
            _dir: None,
            pg_drop: Some((admin.clone(), name)),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres)
    }

    /// A migrated store with default options.
    pub async fn store(&self) -> Store {
        self.store_with(StoreOptions::default()).await
    }

    pub async fn store_with(&self, opts: StoreOptions) -> Store {
        let store = Store::open(&self.url, opts).await.expect("open store");
        store.migrate().await.expect("migrate");
        store
    }

    /// Tampering as someone with the database's keys would: replaces the
    /// payload at `position` and recomputes every hash from there on, so
    /// that the hash chain verifies again. Only signed checkpoints (and
    /// proofs against them) can tell.
    pub async fn rewrite_history(
        &self,
        store: &Store,
        position: u64,
        payload: &str,
    ) -> Result<(), sqlx::Error> {
        let mut events = store
            .read_stored(position - 1, usize::MAX >> 1)
            .await
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        let mut prev = events.first().map(|e| e.prev_hash).unwrap_or_default();
        let mut sql = String::from(match self.backend {
            Backend::Sqlite => "DROP TRIGGER IF EXISTS events_refuse_update;\n",
            Backend::Postgres => {
                "ALTER TABLE events DISABLE TRIGGER events_refuse_update_delete;\n"
            }
        });
        let blob = |h: &[u8; 32]| {
            let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
            match self.backend {
                Backend::Sqlite => format!("X'{hex}'"),
                Backend::Postgres => format!("'\\x{hex}'::bytea"),
            }
        };
        for e in &mut events {
            if e.position == position {
                e.payload = payload.to_owned();
            }
            e.prev_hash = prev;
            e.hash = e.computed_hash();
            prev = e.hash;
            sql.push_str(&format!(
                "UPDATE events SET payload = '{}', prev_hash = {}, hash = {} WHERE position = {};\n",
                e.payload.replace('\'', "''"),
                blob(&e.prev_hash),
                blob(&e.hash),
                e.position
            ));
        }
        self.raw(&sql).await
    }

    /// Runs SQL as the database owner (a superuser on PostgreSQL), around
    /// the store: for tampering and for proving the guards.
    pub async fn raw(&self, sql: &str) -> Result<(), sqlx::Error> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self.backend {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&self.url).await?;
                sqlx::raw_sql(sql).execute(&mut c).await?;
                c.close().await
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.url).await?;
                sqlx::raw_sql(sql).execute(&mut c).await?;
                c.close().await
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg_drop.take() else {
            return;
        };
        // Drop runs inside the test's runtime; do the async clean-up on a
        // thread of its own and wait for it.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut c)
                    .await;
                }
            })
        })
        .join();
    }
}

/// Generates `<name>::sqlite` and `<name>::postgres` for
/// `async fn name(TestDb)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name($crate::testkit::TestDb::sqlite().await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$name($crate::testkit::TestDb::postgres().await).await
            }
        }
    )*};
}
