//! Leases: jobs that must run in one process among the servers sharing a
//! database (each projector, the checkpoint signer).
//!
//! On PostgreSQL a lease is a session-level advisory lock, taken with
//! `pg_try_advisory_lock` on a connection kept for the purpose. The
//! database releases it when that connection ends, so a killed server's
//! leases are free for the others as soon as its socket closes. The
//! connection is checked now and then; when it fails every lease taken on
//! it is lost, and its holders stop and try again on a new connection.
//! Nothing relies on a lease for safety: the projectors' checkpoints move
//! by compare-and-set, so two processes that both believe they lead, for
//! the moment it takes one to notice, cannot make the read models diverge.
//!
//! On SQLite there is one server: every lease is granted at once.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{Mutex, watch};

use crate::error::{Error, Result};
use crate::sql::ReadDb;

/// The first key of Lectern's two-key advisory locks ("lect"); the second
/// is `hashtext` of the lease's name. The log's append lock is a one-key
/// lock, which PostgreSQL keeps apart from two-key ones.
const KEY_SPACE: i32 = 0x6c65_6374;

/// How long a check of the leases' connection may take before the
/// connection is given up as lost.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The leases of this process. Cheap to clone.
#[derive(Clone)]
pub struct Leases {
    inner: Arc<Inner>,
}

enum Inner {
    Local,
    Postgres {
        options: Box<PgConnectOptions>,
        /// The connection holding the locks, `None` until the first lease
        /// or after a failure.
        conn: Mutex<Option<PgConnection>>,
        /// Bumped each time that connection is lost (or closed): the
        /// leases taken on it end.
        epoch: watch::Sender<u64>,
    },
}

/// A lease held by this process, until [`Lease::lost`] resolves.
pub struct Lease {
    epoch: Option<(u64, watch::Receiver<u64>)>,
}

impl Lease {
    /// Whether the lease is still held.
    pub fn held(&self) -> bool {
        self.epoch
            .as_ref()
            .is_none_or(|(taken, rx)| *rx.borrow() == *taken)
    }

    /// Resolves when the lease is lost: its connection failed or the
    /// leases were closed. Never resolves for a local lease.
    pub async fn lost(&mut self) {
        match &mut self.epoch {
            None => std::future::pending().await,
            Some((taken, rx)) => {
                let taken = *taken;
                // An error means the sender is gone: the leases are closed.
                let _ = rx.wait_for(|e| *e != taken).await;
            }
        }
    }
}

impl Leases {
    /// Leases on the database `db` connects to.
    pub fn new(db: &ReadDb) -> Leases {
        let inner = match db {
            ReadDb::Sqlite { .. } => Inner::Local,
            ReadDb::Postgres(pool) => Inner::Postgres {
                options: Box::new(
                    (*pool.connect_options())
                        .clone()
                        .application_name("lectern-leases"),
                ),
                conn: Mutex::new(None),
                epoch: watch::channel(0).0,
            },
        };
        Leases {
            inner: Arc::new(inner),
        }
    }

    /// Takes the lease `name` unless another process holds it.
    pub async fn try_acquire(&self, name: &str) -> Result<Option<Lease>> {
        let Inner::Postgres {
            options,
            conn,
            epoch,
        } = &*self.inner
        else {
            return Ok(Some(Lease { epoch: None }));
        };
        let mut guard = conn.lock().await;
        if guard.is_none() {
            *guard = Some(options.connect().await.map_err(Error::db)?);
        }
        let c = guard.as_mut().expect("connected above");
        let taken = sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1, hashtext($2))")
            .bind(KEY_SPACE)
            .bind(name)
            .fetch_one(c)
            .await;
        match taken {
            Ok(true) => Ok(Some(Lease {
                epoch: Some((*epoch.borrow(), epoch.subscribe())),
            })),
            Ok(false) => Ok(None),
            Err(e) => {
                // The connection may hold other leases: end them all.
                *guard = None;
                epoch.send_modify(|e| *e += 1);
                Err(Error::db(e))
            }
        }
    }

    /// Checks the connection holding the leases; when it fails, every
    /// lease taken on it is lost.
    pub async fn check(&self) {
        let Inner::Postgres { conn, epoch, .. } = &*self.inner else {
            return;
        };
        let mut guard = conn.lock().await;
        let Some(c) = guard.as_mut() else {
            return;
        };
        let failed = match tokio::time::timeout(CHECK_TIMEOUT, c.ping()).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
        };
        if let Some(error) = failed {
            tracing::warn!(%error, "the connection holding the leases failed; they are lost");
            *guard = None;
            epoch.send_modify(|e| *e += 1);
        }
    }

    /// Drops the connection holding the leases without a word to the
    /// database, as a crash would (tests).
    pub fn abandon(&self) {
        let Inner::Postgres { conn, epoch, .. } = &*self.inner else {
            return;
        };
        epoch.send_modify(|e| *e += 1);
        if let Ok(mut guard) = conn.try_lock() {
            guard.take();
        } else {
            // A check or a take is using it: drop it when that is done.
            let leases = self.clone();
            tokio::spawn(async move {
                if let Inner::Postgres { conn, .. } = &*leases.inner {
                    conn.lock().await.take();
                }
            });
        }
    }

    /// Gives every lease up (closes the connection that holds them).
    pub async fn close(&self) {
        let Inner::Postgres { conn, epoch, .. } = &*self.inner else {
            return;
        };
        if let Some(mut c) = conn.lock().await.take() {
            // Released before the connection ends, so that another server
            // can take them at once (a closing backend lets go of its
            // locks only as it exits).
            let _ = sqlx::query("SELECT pg_advisory_unlock_all()")
                .execute(&mut c)
                .await;
            let _ = c.close().await;
        }
        epoch.send_modify(|e| *e += 1);
    }
}
