//! Test databases for both backends.

use std::time::Duration;

use lectern_store::{ExpectedVersion, NewEvent, Store, StoreOptions};
use sqlx::Connection;

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

    /// A fresh PostgreSQL database, or `None` when the suite is switched off
    /// with `LECTERN_TEST_PG=skip` (never in CI).
    pub async fn postgres() -> Option<TestDb> {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        if !ci && std::env::var("LECTERN_TEST_PG").is_ok_and(|v| v == "skip") {
            eprintln!("PostgreSQL suite skipped: LECTERN_TEST_PG=skip");
            return None;
        }
        let admin = std::env::var("LECTERN_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG.to_owned());
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {admin} is unreachable ({e}); start it, point LECTERN_TEST_PG_URL \
                 at another server, or set LECTERN_TEST_PG=skip to run the SQLite suite alone"
            )
        });
        let name = format!("lectern_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        Some(TestDb {
            url: format!("{base}/{name}"),
            backend: Backend::Postgres,
            _dir: None,
            pg_drop: Some((admin.clone(), name)),
        })
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

/// A small JSON event of type `t` carrying `n`.
pub fn ev(t: &str, n: u64) -> NewEvent {
    NewEvent::new(t, &serde_json::json!({ "n": n })).expect("event")
}

/// Appends `count` events, one per append, to `stream`.
pub async fn fill(store: &Store, stream: &str, count: u64) {
    for n in 0..count {
        store
            .append(stream, ExpectedVersion::Any, vec![ev("Filled", n)])
            .await
            .expect("append");
    }
}

/// Bounds a wait that must end (a subscription delivering).
pub async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}
