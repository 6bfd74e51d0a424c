//! Running projectors: checkpoints, batches, rebuilds and read-your-writes.
//!
//! Each projector has one row in `lectern_projections`: the generation of
//! its live tables, its version and its position. A batch of events and
//! the move of that position commit in one transaction, and the move is a
//! compare-and-set from the position the runner last saw, so a crash (or
//! a cancelled task) between or inside batches neither skips an event nor
//! applies one twice, and two writers of one projector (a rebuild, another
//! server) cannot both advance it: the loser reloads.
//!
//! A rebuild writes a new generation of tables from position 0 beside the
//! live one, catches up with the head, then in one transaction moves the
//! checkpoint to the new generation, points the readers' views at its
//! tables and drops the old ones. Readers see the old tables until then.
//!
//! Several servers may share one PostgreSQL database. Each projector runs in
//! one of them, the holder of its lease (`lease`); in the others it
//! follows: it reads the checkpoint row the leader moves, so that
//! `wait_for` (read-your-writes) works in every server, and tries the lease
//! now and then, so that it takes over when the leader dies.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lectern_domain::FlagThresholds;
use lectern_store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::error::{Error, Result};
use crate::lease::{Lease, Leases};
use crate::projector::{Cx, Names, Projector};
use crate::sql::{ReadDb, Stmt, Val};

/// How the runners batch and share the work with other servers.
#[derive(Debug, Clone)]
pub struct Options {
    /// Events applied per transaction.
    pub batch_size: usize,
    /// How often a server that does not run a projector tries to take it
    /// over, and how often the connection holding the leases is checked:
    /// about the longest a projector stays unrun after its server dies.
    pub lease_retry: Duration,
    /// The thresholds of the proxy-tap rules (the `flags` projector).
    pub flags: FlagThresholds,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            batch_size: 2000,
            lease_retry: Duration::from_secs(1),
            flags: FlagThresholds::default(),
        }
    }
}

/// A projector's checkpoint row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    pub generation: i64,
    pub version: i64,
    pub position: u64,
}

/// Where one projector stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub name: &'static str,
    /// Every event up to here is in its tables.
    pub position: u64,
    /// Events behind the head of the log.
    pub lag: u64,
    /// Whether this process runs the projector (else another server does,
    /// and this one follows its checkpoint).
    pub leader: bool,
    /// Why its last attempt failed, while it has not applied a batch since.
    pub failure: Option<Failure>,
}

/// A projector that cannot go on: the event it stopped at (or, when the
/// cause is not an event, the first position after what it reached) and
/// why. It stops only itself; it tries again, backing off, until a batch
/// applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub projector: &'static str,
    pub position: u64,
    pub reason: String,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A projector with its type erased, so that all of them can be listed once.
trait Entry: Send + Sync {
    fn name(&self) -> &'static str;
    fn awaited(&self) -> bool;
    fn run(&self, shared: Shared, track: Arc<Track>) -> BoxFuture<()>;
    fn rebuild(&self, shared: Shared) -> BoxFuture<Result<u64>>;
}

struct Typed<P>(PhantomData<fn() -> P>);

impl<P: Projector> Entry for Typed<P> {
    fn name(&self) -> &'static str {
        P::NAME
    }
    fn awaited(&self) -> bool {
        P::AWAITED
    }
    fn run(&self, shared: Shared, track: Arc<Track>) -> BoxFuture<()> {
        Box::pin(run::<P>(shared, track))
    }
    fn rebuild(&self, shared: Shared) -> BoxFuture<Result<u64>> {
        Box::pin(async move { rebuild_one::<P>(&shared).await.map(|c| c.position) })
    }
}

/// Every projector, once.
fn entries() -> Vec<Box<dyn Entry>> {
    fn e<P: Projector>() -> Box<dyn Entry> {
        Box::new(Typed::<P>(PhantomData))
    }
    use crate::projectors::*;
    vec![
        e::<OrgProjector>(),
        e::<PeopleProjector>(),
        e::<SessionsProjector>(),
        e::<ProgrammesProjector>(),
        e::<StudyProjector>(),
        e::<AwardsProjector>(),
        e::<MonthlyProjector>(),
        e::<DisputesProjector>(),
        e::<KiosksProjector>(),
        e::<FlagsProjector>(),
    ]
}

/// The names of every projector.
pub fn projector_names() -> Vec<&'static str> {
    entries().iter().map(|e| e.name()).collect()
}

#[derive(Clone)]
struct Shared {
    store: Store,
    db: ReadDb,
    opts: Options,
    leases: Leases,
    stop: watch::Receiver<bool>,
}

/// Where one projector of this process stands.
struct Track {
    name: &'static str,
    /// Writers wait for it (`Projector::AWAITED`).
    awaited: bool,
    /// Every event up to here is in its tables.
    reached: watch::Sender<u64>,
    /// This process holds its lease.
    leading: watch::Sender<bool>,
    /// Why it last failed, until a batch applies again.
    failed: watch::Sender<Option<Failure>>,
}

/// The running projectors of this process. Cheap to clone.
#[derive(Clone)]
pub struct Projections {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Shared,
    tracks: Vec<Arc<Track>>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Projections {
    /// Starts every projector (the database is migrated: its checkpoint
    /// table `lectern_projections` is made by a migration).
    /// Where this process takes a projector's lease, it catches up from the
    /// checkpoint (building its tables first when they are missing or of an
    /// older version), then follows the log; elsewhere it follows the
    /// leader's checkpoint.
    pub async fn start(store: Store, db: ReadDb, opts: Options) -> Result<Projections> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let leases = Leases::new(&db);
        let shared = Shared {
            store,
            db,
            opts,
            leases,
            stop: stop_rx,
        };
        let mut tracks = Vec::new();
        let mut tasks = vec![tokio::spawn(check_leases(shared.clone()))];
        for entry in entries() {
            let track = Arc::new(Track {
                name: entry.name(),
                awaited: entry.awaited(),
                reached: watch::channel(0).0,
                leading: watch::channel(false).0,
                failed: watch::channel(None).0,
            });
            tracks.push(track.clone());
            tasks.push(tokio::spawn(entry.run(shared.clone(), track)));
        }
        Ok(Projections {
            inner: Arc::new(Inner {
                shared,
                tracks,
                stop: stop_tx,
                tasks: Mutex::new(tasks),
            }),
        })
    }

    /// This process's leases, for other jobs that must run in one server
    /// only (they are given up by `stop`).
    pub fn leases(&self) -> &Leases {
        &self.inner.shared.leases
    }

    pub fn db(&self) -> &ReadDb {
        &self.inner.shared.db
    }

    pub fn store(&self) -> &Store {
        &self.inner.shared.store
    }

    /// The position every awaited read model has reached (the analyzers,
    /// `Projector::AWAITED` false, may be behind it).
    pub fn position(&self) -> u64 {
        self.reached(false)
    }

    /// The position every awaited read model (`all`: every one) has
    /// reached.
    fn reached(&self, all: bool) -> u64 {
        self.tracks(all)
            .map(|t| *t.reached.borrow())
            .min()
            .unwrap_or(0)
    }

    fn tracks(&self, all: bool) -> impl Iterator<Item = &Arc<Track>> {
        self.inner.tracks.iter().filter(move |t| all || t.awaited)
    }

    /// Waits until every awaited read model has reached `position`, at most
    /// `timeout`: what a writer waits for before it answers. A projector
    /// that has failed short of `position` ends the wait at once with
    /// [`Error::Failed`] naming it.
    pub async fn wait_for(&self, position: u64, timeout: Duration) -> Result<()> {
        self.wait(position, timeout, false).await
    }

    /// Waits as `wait_for` does, for the analyzers too (the `flags` read
    /// model, behind the log by the time its rules take).
    pub async fn wait_for_all(&self, position: u64, timeout: Duration) -> Result<()> {
        self.wait(position, timeout, true).await
    }

    async fn wait(&self, position: u64, timeout: Duration, all: bool) -> Result<()> {
        let every = async {
            for t in self.tracks(all) {
                let mut reached = t.reached.subscribe();
                let mut failed = t.failed.subscribe();
                loop {
                    if *reached.borrow_and_update() >= position {
                        break;
                    }
                    if let Some(f) = failed.borrow_and_update().clone() {
                        return Err(Error::Failed(Box::new(f)));
                    }
                    tokio::select! {
                        r = reached.changed() => r.map_err(|_| Error::Stopped)?,
                        r = failed.changed() => r.map_err(|_| Error::Stopped)?,
                    }
                }
            }
            Ok(())
        };
        match tokio::time::timeout(timeout, every).await {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout {
                wanted: position,
                reached: self.reached(all),
                waited_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            }),
        }
    }

    /// Waits until this process runs every projector (it holds all their
    /// leases: it is alone, or took them over), at most `timeout`.
    pub async fn wait_leading(&self, timeout: Duration) -> Result<()> {
        let all = async {
            for t in &self.inner.tracks {
                let mut rx = t.leading.subscribe();
                rx.wait_for(|l| *l).await.map_err(|_| Error::Stopped)?;
            }
            Ok(())
        };
        tokio::time::timeout(timeout, all)
            .await
            .map_err(|_| Error::NotLeading {
                waited_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            })?
    }

    /// Every projector's position and lag behind the head of the log.
    pub async fn status(&self) -> Result<Vec<Status>> {
        let head = self.inner.shared.store.head().await?;
        Ok(self
            .inner
            .tracks
            .iter()
            .map(|t| {
                let position = *t.reached.borrow();
                Status {
                    name: t.name,
                    position,
                    lag: head.saturating_sub(position),
                    leader: *t.leading.borrow(),
                    failure: t.failed.borrow().clone(),
                }
            })
            .collect())
    }

    /// The projectors of this process that have failed and not recovered.
    pub fn failures(&self) -> Vec<Failure> {
        self.inner
            .tracks
            .iter()
            .filter_map(|t| t.failed.borrow().clone())
            .collect()
    }

    /// Stops every projector and waits for them, then gives up the
    /// leases. A batch in flight is rolled back; the next start (here or in
    /// another server) resumes from the checkpoint.
    pub async fn stop(&self) {
        let _ = self.inner.stop.send(true);
        let tasks = std::mem::take(&mut *self.inner.tasks.lock().expect("tasks lock"));
        for t in tasks {
            let _ = t.await;
        }
        self.inner.shared.leases.close().await;
    }

    /// Kills every projector at once, wherever it is, and drops the
    /// connection holding the leases (tests use this to stand in for a
    /// crash).
    pub fn abort(&self) {
        for t in self.inner.tasks.lock().expect("tasks lock").iter() {
            t.abort();
        }
        self.inner.shared.leases.abandon();
    }
}

/// Rebuilds one projector (or all, with `None`) into new tables and swaps
/// them in; returns each rebuilt projector's name and position. Runs beside
/// live projectors of this or another process.
pub async fn rebuild(
    store: &Store,
    db: &ReadDb,
    only: Option<&str>,
    opts: Options,
) -> Result<Vec<(&'static str, u64)>> {
    let entries = entries();
    if let Some(name) = only
        && !entries.iter().any(|e| e.name() == name)
    {
        return Err(Error::UnknownProjector(
            name.to_owned(),
            projector_names().join(", "),
        ));
    }
    let (_stop_tx, stop) = watch::channel(false);
    let shared = Shared {
        store: store.clone(),
        db: db.clone(),
        opts,
        // A rebuild runs beside whoever leads: it needs no lease.
        leases: Leases::new(db),
        stop,
    };
    let mut out = Vec::new();
    for e in entries
        .iter()
        .filter(|e| only.is_none_or(|n| n == e.name()))
    {
        out.push((e.name(), e.rebuild(shared.clone()).await?));
    }
    Ok(out)
}

/// Checks the connection holding the leases every `lease_retry`, so that
/// a lost lease is noticed even while its holder is idle.
async fn check_leases(shared: Shared) {
    let mut stop = shared.stop.clone();
    loop {
        tokio::select! {
            () = tokio::time::sleep(shared.opts.lease_retry) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        shared.leases.check().await;
    }
}

/// Runs projector `P` while this process holds its lease, follows the
/// leader's checkpoint while it does not, until stopped.
async fn run<P: Projector>(shared: Shared, track: Arc<Track>) {
    let mut stop = shared.stop.clone();
    let lease_name = format!("projector:{}", P::NAME);
    loop {
        let mut lease = tokio::select! {
            lease = take_over::<P>(&shared, &track, &lease_name) => lease,
            _ = stop.wait_for(|s| *s) => return,
        };
        track.leading.send_replace(true);
        tokio::select! {
            () = lead::<P>(&shared, &track) => {}
            () = lease.lost() => tracing::warn!(
                projector = P::NAME,
                "lost the projector's lease; following whoever takes it"
            ),
            _ = stop.wait_for(|s| *s) => return,
        }
        track.leading.send_replace(false);
    }
}

/// Retries after a failure, backing off, so a poisoned event or a database
/// outage does not spin; the lag keeps growing and /readyz shows it.
async fn back_off(failures: &mut u32) {
    *failures += 1;
    tokio::time::sleep(Duration::from_millis(200u64 << (*failures).min(7))).await;
}

/// Applies the log to the read model, for as long as it is polled. A
/// failure is published on the track at once (waiters end, /readyz names
/// it) and cleared by the next batch that applies.
async fn lead<P: Projector>(shared: &Shared, track: &Track) {
    let mut failures = 0u32;
    loop {
        match follow::<P>(shared, track).await {
            Ok(()) => failures = 0,
            Err(e) => {
                let position = match &e {
                    Error::Event { position, .. } => *position,
                    _ => *track.reached.borrow() + 1,
                };
                tracing::error!(projector = P::NAME, position, error = %e, "projection_failed");
                track.failed.send_replace(Some(Failure {
                    projector: P::NAME,
                    position,
                    reason: e.to_string(),
                }));
                back_off(&mut failures).await;
            }
        }
    }
}

/// Takes the projector's lease, at once if it is free; until then follows
/// the process that holds it and tries again every `lease_retry`.
async fn take_over<P: Projector>(shared: &Shared, track: &Track, lease_name: &str) -> Lease {
    let observing = observe::<P>(shared, &track.reached);
    tokio::pin!(observing);
    let mut announced = false;
    loop {
        match shared.leases.try_acquire(lease_name).await {
            Ok(Some(lease)) => {
                if announced {
                    tracing::info!(projector = P::NAME, "took the projector over");
                }
                return lease;
            }
            Ok(None) if !announced => {
                announced = true;
                tracing::info!(
                    projector = P::NAME,
                    "another server runs the projector; following its checkpoint"
                );
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(projector = P::NAME, error = %e, "cannot take the projector's lease")
            }
        }
        tokio::select! {
            () = &mut observing => {}
            () = tokio::time::sleep(shared.opts.lease_retry) => {}
        }
    }
}

/// Follows another process's projector: `reached` moves as its checkpoint
/// does, and past events of types the projector skips, for as long as it
/// is polled.
async fn observe<P: Projector>(shared: &Shared, reached: &watch::Sender<u64>) {
    let mut failures = 0u32;
    loop {
        if let Err(e) = observe_once::<P>(shared, reached).await {
            tracing::warn!(projector = P::NAME, error = %e, "cannot follow the projector's checkpoint");
            back_off(&mut failures).await;
        }
    }
}

/// The leader's checkpoint is the last event of a batch it applied, so
/// what a follower can vouch for is: the checkpoint, and beyond it every
/// position up to the next event the projector applies. The follower reads
/// the log with the projector's type filter to know where those are, and
/// polls the checkpoint row (backing off from 1 ms to 200 ms) only while
/// an event it has seen is not applied yet.
async fn observe_once<P: Projector>(shared: &Shared, reached: &watch::Sender<u64>) -> Result<()> {
    let mut applied = checkpoint::<P>(&shared.db).await?.position;
    reached.send_if_modified(|r| advance(r, applied));
    let types = P::EVENT_TYPES.iter().map(|t| (*t).to_owned()).collect();
    let mut sub = shared.store.subscribe(applied, Some(types));
    loop {
        let batch = sub.next_batch(shared.opts.batch_size).await?;
        if let Some(last) = batch.last().map(|e| e.position) {
            let mut wait = Duration::from_millis(1);
            while applied < last {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_millis(200));
                let now = applied_position::<P>(&shared.db).await?;
                if now > applied {
                    applied = now;
                    wait = Duration::from_millis(1);
                    reached.send_if_modified(|r| advance(r, applied));
                }
            }
        }
        let to = if sub.buffered() == 0 {
            sub.checkpoint().max(applied)
        } else {
            applied
        };
        reached.send_if_modified(|r| advance(r, to));
    }
}

/// Follows the log from the checkpoint until the checkpoint moves under
/// it (`Ok`) or something fails.
async fn follow<P: Projector>(shared: &Shared, track: &Track) -> Result<()> {
    let reached = &track.reached;
    let mut cp = checkpoint::<P>(&shared.db).await?;
    if cp.generation == 0 || cp.version != P::VERSION {
        tracing::info!(
            projector = P::NAME,
            from_version = cp.version,
            to_version = P::VERSION,
            "building read model"
        );
        cp = rebuild_one::<P>(shared).await?;
    }
    reached.send_if_modified(|r| advance(r, cp.position));
    let mut names = Names::new(P::TABLES, cp.generation);
    let mut projector = P::configured(&shared.opts);
    let types = P::EVENT_TYPES.iter().map(|t| (*t).to_owned()).collect();
    let mut sub = shared.store.subscribe(cp.position, Some(types));
    let mut position = cp.position;
    loop {
        let batch = sub.next_batch(shared.opts.batch_size).await?;
        let Some(last) = batch.last().map(|e| e.position) else {
            let skipped = sub.checkpoint();
            reached.send_if_modified(|r| advance(r, skipped));
            continue;
        };
        let span = tracing::debug_span!(
            "projector_batch",
            projector = P::NAME,
            events = batch.len(),
            to = last
        );
        let applied = async {
            let mut cx = Cx::new(&shared.store, &mut names);
            for e in &batch {
                projector.apply(e, &mut cx).await?;
            }
            let guard = move_checkpoint::<P>(cp.generation, position, last);
            shared.db.transact(Some(&guard), &cx.stmts).await
        }
        .instrument(span)
        .await?;
        if !applied {
            tracing::info!(
                projector = P::NAME,
                "checkpoint moved by a rebuild or another process; reloading"
            );
            return Ok(());
        }
        position = last;
        track.failed.send_if_modified(|f| f.take().is_some());
        let done = if sub.buffered() == 0 {
            sub.checkpoint().max(last)
        } else {
            last
        };
        reached.send_if_modified(|r| advance(r, done));
    }
}

fn advance(reached: &mut u64, to: u64) -> bool {
    if to > *reached {
        *reached = to;
        true
    } else {
        false
    }
}

fn move_checkpoint<P: Projector>(generation: i64, from: u64, to: u64) -> Stmt {
    Stmt {
        sql: Arc::from(
            "UPDATE lectern_projections SET position = $1, updated_at = $2 \
             WHERE name = $3 AND generation = $4 AND position = $5",
        ),
        args: vec![
            Val::from(to),
            Val::from(chrono::Utc::now()),
            Val::from(P::NAME),
            Val::Int(generation),
            Val::from(from),
        ],
    }
}

/// The checkpoint row, created (generation 0: no tables yet) if missing.
async fn checkpoint<P: Projector>(db: &ReadDb) -> Result<Checkpoint> {
    let insert = Stmt {
        sql: Arc::from(
            "INSERT INTO lectern_projections \
             (name, generation, last_generation, version, position, updated_at) \
             VALUES ($1, 0, 0, 0, 0, $2) ON CONFLICT (name) DO NOTHING",
        ),
        args: vec![Val::from(P::NAME), Val::from(chrono::Utc::now())],
    };
    db.transact(None, &[insert]).await?;
    let rows = db
        .fetch(
            "SELECT generation, version, position FROM lectern_projections WHERE name = $1",
            &[Val::from(P::NAME)],
        )
        .await?;
    let row = rows.first().ok_or(Error::Stopped)?;
    Ok(Checkpoint {
        generation: row.int("generation"),
        version: row.int("version"),
        position: u64::try_from(row.int("position")).unwrap_or(0),
    })
}

/// The checkpoint's position, read only (a follower polls it).
async fn applied_position<P: Projector>(db: &ReadDb) -> Result<u64> {
    let rows = db
        .fetch(
            "SELECT position FROM lectern_projections WHERE name = $1",
            &[Val::from(P::NAME)],
        )
        .await?;
    Ok(rows
        .first()
        .and_then(|r| u64::try_from(r.int("position")).ok())
        .unwrap_or(0))
}

/// Claims a generation number no other rebuild (of any process) uses.
async fn claim_generation<P: Projector>(db: &ReadDb) -> Result<i64> {
    loop {
        let rows = db
            .fetch(
                "SELECT last_generation FROM lectern_projections WHERE name = $1",
                &[Val::from(P::NAME)],
            )
            .await?;
        let last = rows.first().map_or(0, |r| r.int("last_generation"));
        let claim = Stmt {
            sql: Arc::from(
                "UPDATE lectern_projections SET last_generation = $1 \
                 WHERE name = $2 AND last_generation = $3",
            ),
            args: vec![Val::Int(last + 1), Val::from(P::NAME), Val::Int(last)],
        };
        if db.transact(Some(&claim), &[]).await? {
            return Ok(last + 1);
        }
    }
}

async fn rebuild_one<P: Projector>(shared: &Shared) -> Result<Checkpoint> {
    let db = &shared.db;
    let store = &shared.store;
    checkpoint::<P>(db).await?;
    let generation = claim_generation::<P>(db).await?;
    let mut names = Names::new(P::TABLES, generation);
    db.execute(&names.drop_tables()).await?;
    db.execute(&names.create()).await?;
    let types: Vec<String> = P::EVENT_TYPES.iter().map(|t| (*t).to_owned()).collect();
    let mut projector = P::configured(&shared.opts);
    let mut position = 0u64;
    // Rounds of catching up with a head that moved meanwhile (a projector
    // that records events, the flags' analyzer, moves it itself) before
    // swapping anyway: the live follower takes the rest.
    let mut rounds = 0;
    loop {
        // Catch up with the head as it is now...
        let head = store.head().await?;
        loop {
            let batch = store
                .read_all(position, shared.opts.batch_size, Some(&types))
                .await?;
            let Some(last) = batch.last().map(|e| e.position) else {
                break;
            };
            let mut cx = Cx::new(store, &mut names);
            for e in batch.iter().filter(|e| e.position <= head) {
                projector.apply(e, &mut cx).await?;
            }
            db.transact(None, &cx.stmts).await?;
            position = last.min(head);
            if last >= head {
                break;
            }
        }
        position = position.max(head);
        rounds += 1;
        if rounds < 4 && store.head().await? > position {
            continue;
        }
        // ...then swap, unless the live tables are ahead of us.
        let live = checkpoint::<P>(db).await?;
        if live.generation != 0 && live.position > position {
            continue;
        }
        let old = Names::new(P::TABLES, live.generation);
        let guard = Stmt {
            sql: Arc::from(
                "UPDATE lectern_projections SET generation = $1, version = $2, position = $3, \
                 updated_at = $4 WHERE name = $5 AND generation = $6 AND position = $7",
            ),
            args: vec![
                Val::Int(generation),
                Val::Int(P::VERSION),
                Val::from(position),
                Val::from(chrono::Utc::now()),
                Val::from(P::NAME),
                Val::Int(live.generation),
                Val::from(live.position),
            ],
        };
        let mut ddl = names.swap_views();
        if live.generation != 0 {
            ddl.extend(old.drop_tables());
        }
        let ddl: Vec<Stmt> = ddl
            .into_iter()
            .map(|s| Stmt {
                sql: Arc::from(s),
                args: Vec::new(),
            })
            .collect();
        if db.transact(Some(&guard), &ddl).await? {
            tracing::info!(
                projector = P::NAME,
                generation,
                position,
                "read model swapped in"
            );
            return Ok(Checkpoint {
                generation,
                version: P::VERSION,
                position,
            });
        }
    }
}
