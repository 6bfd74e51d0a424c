//! The event log's behaviour, one suite run against SQLite and PostgreSQL.
//!
//! Every test is an `async fn(TestDb)`; `both_backends!` turns it into a
//! `sqlite` and a `postgres` test. The PostgreSQL database comes from
//! `LECTERN_TEST_PG_URL` (default: the local service); each test gets a
//! database of its own, dropped afterwards.

#![allow(unreachable_pub)] // a test binary exports nothing

mod support;

/// Generates `<name>::sqlite` and `<name>::postgres` for `async fn name(TestDb)`.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name(crate::support::TestDb::sqlite().await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if let Some(db) = crate::support::TestDb::postgres().await {
                    super::$name(db).await
                }
            }
        }
    )*};
}

mod append;
mod chain;
mod concurrency;
mod reads;
mod subscribe;
mod unique;
mod upcast;
