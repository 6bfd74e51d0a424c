//! `Api`: what every resolver reaches (the write path, the tokens, the
//! replica), and the helpers every area shares.

use std::time::Duration;

use lectern_app::{App, Written};
use lectern_domain::{Aggregate, DomainError, KeyChange, ORG_STREAM, OrgTree};
use lectern_projections::{ReadDb, load};
use lectern_store::Metadata;

use crate::appraisal_log::AppraisalLog;
use crate::auth::{Caller, Tokens};
use crate::error::Result;

/// The longest a query waits, by default, for the replica to replay what
/// the primary's read models hold, before the primary answers it.
pub const REPLICA_WAIT: Duration = Duration::from_secs(2);

/// What every resolver reaches: the write path (the log, the read models,
/// the campus calendar and the server's clock), the tokens.
#[derive(Clone)]
pub struct Api {
    pub app: App,
    pub tokens: Tokens,
    /// Working days after a year closes within which its disputes are
    /// filed (`with_dispute_working_days`; ten by default).
    pub dispute_working_days: u32,
    /// Years after leaving before personal data may be erased
    /// (`with_personal_data_retention_years`; ten by default).
    pub personal_data_retention_years: u32,
    /// Signs report download links (`exportLink`): new for each process
    /// unless set with `with_link_key` (servers share `Tokens::link_key`).
    pub link_key: std::sync::Arc<[u8; 32]>,
    /// The appraisal stream, which every appraisal reads.
    pub(crate) appraisal_log: AppraisalLog,
    /// A read-only replica of the database that answers queries
    /// (`with_replica`).
    replica: Option<(ReadDb, Duration)>,
    /// Queries answered by the replica and by the primary since start,
    /// when there is a replica (`replica_answers`).
    answered: std::sync::Arc<[std::sync::atomic::AtomicU64; 2]>,
    /// Whether `db()` is the replica: set on the copy a query runs with.
    on_replica: bool,
    /// Held while `auditVerify` reads the whole log: one at a time.
    pub(crate) verifying: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// The budget of replays from the log (`replay_budget`).
    replays: std::sync::Arc<tokio::sync::Semaphore>,
}

impl Api {
    pub fn new(app: App, tokens: Tokens) -> Api {
        Api {
            app,
            tokens,
            dispute_working_days: lectern_app::DISPUTE_WORKING_DAYS,
            personal_data_retention_years: lectern_app::PERSONAL_DATA_RETENTION_YEARS,
            link_key: std::sync::Arc::new(crate::exports::link_key()),
            appraisal_log: AppraisalLog::default(),
            replica: None,
            answered: std::sync::Arc::default(),
            on_replica: false,
            verifying: std::sync::Arc::default(),
            replays: std::sync::Arc::new(tokio::sync::Semaphore::new(replay_permits())),
        }
    }

    /// A share of the budget for replaying the log (an appraisal, a unit's
    /// month or a history as of a moment, a year-end record): at most one
    /// fewer replays at once than the machine has cores (one on two
    /// cores), so replays queue behind each other and never take every
    /// core from the queries answered from the read models.
    pub(crate) async fn replay_budget(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.replays
            .acquire()
            .await
            .expect("the replay budget is never closed")
    }

    /// Answers queries (not mutations or subscriptions) from `replica`, a
    /// read-only replica of the database; a query that waits for a
    /// position waits up to `wait` for the replica to replay it (see
    /// `execute`).
    pub fn with_replica(mut self, replica: ReadDb, wait: Duration) -> Api {
        self.replica = Some((replica, wait));
        self
    }

    /// Sets the working days within which a closed year's disputes are filed.
    pub fn with_dispute_working_days(mut self, days: u32) -> Api {
        self.dispute_working_days = days;
        self
    }

    /// Sets the years after leaving before personal data may be erased.
    pub fn with_personal_data_retention_years(mut self, years: u32) -> Api {
        self.personal_data_retention_years = years;
        self
    }

    /// Signs download links with `key` (`Tokens::link_key`, shared by the
    /// servers on one database).
    pub fn with_link_key(mut self, key: [u8; 32]) -> Api {
        self.link_key = std::sync::Arc::new(key);
        self
    }

    /// The read models: the replica's for a query when one is set, else
    /// the primary's.
    pub fn db(&self) -> &ReadDb {
        match (&self.replica, self.on_replica) {
            (Some((replica, _)), true) => replica,
            _ => self.app.projections.db(),
        }
    }

    /// With a replica: the queries it answered and those the primary
    /// answered instead (they waited for a position the replica had not
    /// replayed), since start.
    pub fn replica_answers(&self) -> Option<(u64, u64)> {
        use std::sync::atomic::Ordering::Relaxed;
        self.replica.as_ref().map(|_| {
            (
                self.answered[0].load(Relaxed),
                self.answered[1].load(Relaxed),
            )
        })
    }

    pub(crate) fn count_answer(&self, by_replica: bool) {
        self.answered[usize::from(!by_replica)].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// This API reading from the replica.
    pub(crate) fn on_replica(&self) -> Option<Api> {
        self.replica.as_ref().map(|_| Api {
            on_replica: true,
            ..self.clone()
        })
    }

    /// Runs a decision on `stream` for `caller` and waits until the read
    /// models show what it wrote.
    pub(crate) async fn execute<A: Aggregate>(
        &self,
        caller: &Caller,
        stream: &str,
        decide: impl Fn(&A) -> Result<Vec<A::Event>, DomainError>,
        keys: impl Fn(&[A::Event]) -> Vec<KeyChange>,
    ) -> Result<Written> {
        let meta = self.meta(caller);
        let written =
            lectern_app::execute::<A>(&self.app.store, stream, &meta, decide, keys).await?;
        lectern_app::settle(&self.app.projections, written.position).await?;
        Ok(written)
    }
}

impl Api {
    /// What the log records of a write by `caller`, happening now on the
    /// server's clock.
    pub(crate) fn meta(&self, caller: &Caller) -> Metadata {
        Metadata {
            at: Some(self.app.clock.now()),
            ..meta(caller)
        }
    }

    /// As `execute`, for decisions that read the unit tree.
    pub(crate) async fn execute_with_org<A: Aggregate>(
        &self,
        caller: &Caller,
        stream: &str,
        decide: impl Fn(&A, &OrgTree) -> Result<Vec<A::Event>, DomainError>,
        keys: impl Fn(&[A::Event]) -> Vec<KeyChange>,
    ) -> Result<Written> {
        let org = load::<OrgTree>(&self.app.store, ORG_STREAM, u64::MAX)
            .await?
            .0;
        self.execute::<A>(caller, stream, |s| decide(s, &org), keys)
            .await
    }
}

/// What the log records of a write by `caller` through this API.
fn meta(caller: &Caller) -> Metadata {
    Metadata {
        actor: Some(caller.principal.actor(&caller.token_id)),
        source: Some("graphql".into()),
        ..Metadata::default()
    }
}

impl Api {
    /// Waits (at most the replica's wait) until the replica has replayed the
    /// primary's write-ahead log as far as it is now; `false` when it does not
    /// get there, or is not a hot standby and so cannot tell.
    pub(crate) async fn replica_caught_up(&self) -> bool {
        let Some((replica, patience)) = &self.replica else {
            return false;
        };
        let primary = match self
            .app
            .projections
            .db()
            .fetch("SELECT pg_current_wal_lsn()::text AS lsn", &[])
            .await
        {
            Ok(rows) => rows.first().and_then(|r| r.opt("lsn")),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the primary's WAL position");
                None
            }
        };
        let Some(lsn) = primary else {
            return false;
        };
        let deadline = tokio::time::Instant::now() + *patience;
        let mut wait = Duration::from_millis(1);
        loop {
            let replayed = replica
                .fetch(
                    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN -1 \
                     WHEN pg_last_wal_replay_lsn() >= $1::pg_lsn THEN 1 ELSE 0 END AS replayed",
                    &[lectern_projections::Val::from(lsn.as_str())],
                )
                .await;
            match replayed
                .as_deref()
                .map(|r| r.first().and_then(|r| r.int_opt("replayed")))
            {
                Ok(Some(1)) => return true,
                Ok(Some(0)) => {}
                Ok(_) => return false,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the replica's replay position");
                    return false;
                }
            }
            if tokio::time::Instant::now() + wait > deadline {
                tracing::info!(%lsn, "the replica is behind; the primary answers");
                return false;
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_millis(50));
        }
    }
}

/// Replays at once: one fewer than the cores, at least one.
fn replay_permits() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
}
