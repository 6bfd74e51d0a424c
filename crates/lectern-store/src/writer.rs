//! The single writer and its group commit.
//!
//! Every append of a process goes through one task. It takes whatever appends
//! are waiting (up to `max_batch_events` events), decides each against the
//! log's current state, and writes all accepted events in one transaction:
//! one multi-row INSERT, so concurrent callers share one commit (and one
//! fsync). One append's failure (a version conflict, a taken key) fails that
//! append only; the others in the batch commit.
//!
//! Positions and hashes are computed here, so writers must be serialized: in
//! the process by this task, across processes by the database (SQLite's
//! `BEGIN IMMEDIATE`, PostgreSQL's advisory lock held to commit).
//!
//! Fast path: the writer remembers the head and the versions of streams it
//! has seen. Those are valid exactly as long as nobody else appended, and
//! inserting at `head + 1` proves that: the primary key on `position` refuses
//! the insert if another process has appended since. So a batch whose every
//! append checks out against the cache is written without reading anything;
//! any unique violation, or a batch that inserts nothing, is decided again
//! on the careful path, which reads head, versions, event ids and keys under
//! the lock.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use crate::chain::Canonical;
use crate::db::{Db, Keys, NewRow, StoredId, is_unique_violation};
use crate::error::{Error, Result};
use crate::event::{AppendRequest, Appended, NewEvent, now};
use crate::personal::Key;

/// Streams whose versions the writer remembers before it starts afresh.
const VERSION_CACHE_LIMIT: usize = 200_000;
/// Careful attempts before a batch fails (each follows a unique violation).
const MAX_ATTEMPTS: usize = 4;

/// Appends that succeed or fail together, and where to send the answer.
pub(crate) struct Job {
    pub(crate) appends: Vec<AppendRequest>,
    /// Personal-data keys the appends were sealed under that the process
    /// has not seen stored: stored in the same transaction as the events.
    pub(crate) keys: Vec<(String, Key)>,
    pub(crate) reply: oneshot::Sender<Reply>,
}

/// The writer's answer to a job.
pub(crate) enum Reply {
    /// Appended, or refused.
    Done(Result<Vec<Appended>>),
    /// Nothing was appended: some of the job's new keys were not stored,
    /// because their subjects had a key already (made by another process)
    /// or an erased one. The stored keys (`None`: erased), and the appends
    /// to seal again under them.
    KeysDiffer {
        stored: StoredKeys,
        appends: Vec<AppendRequest>,
    },
}

/// Subjects and their keys as the key table holds them (`None`: erased).
pub(crate) type StoredKeys = Vec<(String, Option<Vec<u8>>)>;

impl Job {
    fn events(&self) -> usize {
        self.appends.iter().map(|a| a.events.len()).sum()
    }
    fn claims_keys(&self) -> bool {
        self.appends
            .iter()
            .any(|a| !a.claims.is_empty() || !a.releases.is_empty())
    }
}

pub(crate) struct Writer {
    db: Db,
    head_tx: Arc<watch::Sender<u64>>,
    max_batch_events: usize,
    head: Option<(u64, [u8; 32])>,
    versions: HashMap<String, Option<u64>>,
}

enum Attempt {
    /// Each job's outcome; a job whose keys differ was left out.
    Done(Vec<Result<Vec<Appended>>>, Vec<Option<StoredKeys>>),
    /// The cache was stale or a unique constraint fired: decide again, carefully.
    Retry,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Fast,
    Careful,
}

impl Writer {
    pub(crate) fn new(db: Db, head_tx: Arc<watch::Sender<u64>>, max_batch_events: usize) -> Self {
        Writer {
            db,
            head_tx,
            max_batch_events: max_batch_events.max(1),
            head: None,
            versions: HashMap::new(),
        }
    }

    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut last_batch_jobs = 0;
        while let Some(first) = rx.recv().await {
            // When the last batch had several callers, let those woken by
            // its answers queue their next appends, so that they share this
            // commit. A lone caller has nobody to wait for.
            if last_batch_jobs > 1 {
                tokio::task::yield_now().await;
            }
            let mut events = first.events();
            let mut jobs = vec![first];
            while events < self.max_batch_events {
                match rx.try_recv() {
                    Ok(job) => {
                        events += job.events();
                        jobs.push(job);
                    }
                    Err(_) => break,
                }
            }
            last_batch_jobs = jobs.len();
            self.process(jobs).await;
        }
    }

    async fn process(&mut self, jobs: Vec<Job>) {
        let mut mode = if self.head.is_some() && !jobs.iter().any(Job::claims_keys) {
            Mode::Fast
        } else {
            Mode::Careful
        };
        let mut attempts = 0;
        let outcome = loop {
            attempts += 1;
            match self.attempt(&jobs, mode).await {
                Ok(Attempt::Done(out, differ)) => break Ok((out, differ)),
                Ok(Attempt::Retry) if attempts < MAX_ATTEMPTS => {
                    self.forget();
                    mode = Mode::Careful;
                }
                Ok(Attempt::Retry) => {
                    self.forget();
                    break Err(Error::Database(Arc::new(sqlx::Error::Protocol(format!(
                        "append batch kept hitting unique violations after {attempts} attempts; \
                         is a writer without the append lock using this database?"
                    )))));
                }
                Err(e) => {
                    self.forget();
                    tracing::warn!(error = %e, "append batch failed");
                    break Err(e);
                }
            }
        };
        match outcome {
            Ok((results, differ)) => {
                for ((job, result), differ) in jobs.into_iter().zip(results).zip(differ) {
                    let Job { appends, reply, .. } = job;
                    let reply_with = match differ {
                        None => {
                            // Freed before the caller wakes, not while it
                            // allocates its next append: two threads
                            // freeing and allocating at once contend for
                            // the allocator.
                            drop(appends);
                            Reply::Done(result)
                        }
                        Some(stored) => Reply::KeysDiffer { stored, appends },
                    };
                    let _ = reply.send(reply_with);
                }
            }
            Err(e) => {
                for job in jobs {
                    let _ = job.reply.send(Reply::Done(Err(e.clone())));
                }
            }
        }
    }

    fn forget(&mut self) {
        self.head = None;
        self.versions.clear();
    }

    async fn attempt(&mut self, jobs: &[Job], mode: Mode) -> Result<Attempt> {
        let mut streams: Vec<&str> = Vec::new();
        {
            let mut seen = std::collections::HashSet::new();
            for a in jobs.iter().flat_map(|j| &j.appends) {
                if seen.insert(a.stream_id.as_str()) {
                    streams.push(&a.stream_id);
                }
            }
        }
        let recorded_at = now();
        match mode {
            Mode::Fast => {
                let head = self.head.expect("fast path needs a known head");
                let missing: Vec<&str> = streams
                    .iter()
                    .copied()
                    .filter(|s| !self.versions.contains_key(*s))
                    .collect();
                if !missing.is_empty() {
                    let found = self.db.stream_versions(&missing).await?;
                    self.versions.extend(found);
                }
                let differ = vec![None; jobs.len()];
                let known = Known {
                    head,
                    versions: &self.versions,
                    ids: None,
                    keys: &Keys::new(),
                };
                let plan = plan(jobs, &known, recorded_at, &differ);
                if plan.rows.is_empty() {
                    // Nothing to insert means nothing proves the cache current.
                    return Ok(Attempt::Retry);
                }
                let fresh = fresh_keys(jobs);
                let written = async {
                    if !fresh.is_empty() {
                        // New keys are stored in the events' transaction, in
                        // one round trip. A key stored differently (by
                        // another process, or erased) inserts no row, and
                        // the careful path leaves out the appends sealed
                        // under it; so does a batch too large for that.
                        let at = recorded_at.to_rfc3339();
                        return Ok(
                            match self
                                .db
                                .try_insert_with_keys(&fresh, &at, &plan.rows)
                                .await?
                            {
                                Some(stored) => differing(jobs, stored).iter().all(Option::is_none),
                                None => false,
                            },
                        );
                    }
                    if !self.db.try_insert_autocommit(&plan.rows).await? {
                        let mut tx = self.db.begin_write().await?;
                        tx.insert(&plan.rows).await?;
                        tx.commit().await?;
                    }
                    Ok(true)
                }
                .await;
                match written {
                    Err(e) if is_unique_violation(&e) => Ok(Attempt::Retry),
                    Err(e) => Err(e),
                    Ok(false) => Ok(Attempt::Retry),
                    Ok(true) => {
                        let done = plan.into_done();
                        Ok(Attempt::Done(self.committed(done), differ))
                    }
                }
            }
            Mode::Careful => {
                let mut tx = self.db.begin_write().await?;
                let differ = store_keys(&mut tx, jobs, recorded_at).await?;
                let head = tx.head().await?;
                let versions = tx.stream_versions(&streams).await?;
                let ids: Vec<Uuid> = jobs
                    .iter()
                    .flat_map(|j| &j.appends)
                    .flat_map(|a| &a.events)
                    .map(|e| e.event_id)
                    .collect();
                let stored = tx.stored_ids(&ids).await?;
                let key_names: Vec<(String, String)> = jobs
                    .iter()
                    .flat_map(|j| &j.appends)
                    .flat_map(|a| a.claims.iter().chain(&a.releases))
                    .map(|k| (k.scope.clone(), k.key.clone()))
                    .collect();
                let keys = if key_names.is_empty() {
                    Keys::new()
                } else {
                    tx.key_owners(&key_names).await?
                };
                let known = Known {
                    head,
                    versions: &versions,
                    ids: Some(&stored),
                    keys: &keys,
                };
                let plan = plan(jobs, &known, recorded_at, &differ);
                if !plan.rows.is_empty() {
                    match tx.insert(&plan.rows).await {
                        Err(e) if is_unique_violation(&e) => return Ok(Attempt::Retry),
                        other => other?,
                    }
                }
                for op in &plan.key_ops {
                    match op {
                        KeyOp::Claim {
                            scope,
                            key,
                            owner,
                            position,
                        } => tx.claim(scope, key, owner, *position).await?,
                        KeyOp::Release { scope, key, owner } => {
                            tx.release(scope, key, owner).await?
                        }
                    }
                }
                tx.commit().await?;
                let done = plan.into_done();
                self.versions.extend(versions);
                Ok(Attempt::Done(self.committed(done), differ))
            }
        }
    }

    /// Remembers what a committed plan changed and announces the new head.
    fn committed(&mut self, plan: Done) -> Vec<Result<Vec<Appended>>> {
        if self.versions.len() > VERSION_CACHE_LIMIT {
            self.versions.clear();
        }
        self.versions.extend(plan.versions);
        self.head = Some(plan.head);
        let head = plan.head.0;
        self.head_tx.send_if_modified(|h| {
            if head > *h {
                *h = head;
                true
            } else {
                false
            }
        });
        plan.outcomes
    }
}

/// The new personal-data keys of a batch's jobs, each subject once.
fn fresh_keys(jobs: &[Job]) -> Vec<(&str, &Key)> {
    let mut fresh: Vec<(&str, &Key)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (subject, key) in jobs.iter().flat_map(|j| &j.keys) {
        if seen.insert(subject.as_str()) {
            fresh.push((subject, key));
        }
    }
    fresh
}

/// Stores the jobs' new personal-data keys (those of subjects without a
/// key); see [`differing`].
async fn store_keys(
    tx: &mut crate::db::Tx,
    jobs: &[Job],
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<Option<StoredKeys>>> {
    let fresh = fresh_keys(jobs);
    if fresh.is_empty() {
        return Ok(vec![None; jobs.len()]);
    }
    let stored = tx.store_personal_keys(&fresh, &at.to_rfc3339()).await?;
    Ok(differing(jobs, stored))
}

/// For each job, whether every key it was sealed under is the stored one
/// (`None`) or not: then the stored keys of its subjects.
fn differing(jobs: &[Job], stored: StoredKeys) -> Vec<Option<StoredKeys>> {
    let stored: HashMap<String, Option<Vec<u8>>> = stored.into_iter().collect();
    jobs.iter()
        .map(|j| {
            let same = j.keys.iter().all(|(subject, key)| {
                stored
                    .get(subject)
                    .is_some_and(|k| k.as_deref() == Some(key.as_slice()))
            });
            (!same).then(|| {
                j.keys
                    .iter()
                    .map(|(s, _)| (s.clone(), stored.get(s).cloned().flatten()))
                    .collect()
            })
        })
        .collect()
}

/// The log's state as the planner sees it.
struct Known<'a> {
    head: (u64, [u8; 32]),
    /// Versions of every stream in the batch (`None`: no stream).
    versions: &'a HashMap<String, Option<u64>>,
    /// Stored events with the batch's ids; `None` on the fast path, where
    /// ids are assumed new and the unique constraint catches a reuse.
    ids: Option<&'a HashMap<Uuid, StoredId>>,
    /// Current owners of the keys the batch claims or releases.
    keys: &'a Keys,
}

enum KeyOp<'a> {
    Claim {
        scope: &'a str,
        key: &'a str,
        owner: &'a str,
        position: u64,
    },
    Release {
        scope: &'a str,
        key: &'a str,
        owner: &'a str,
    },
}

struct Plan<'a> {
    rows: Vec<NewRow<'a>>,
    key_ops: Vec<KeyOp<'a>>,
    outcomes: Vec<Result<Vec<Appended>>>,
    head: (u64, [u8; 32]),
    versions: HashMap<&'a str, Option<u64>>,
}

/// What a committed plan leaves behind, free of borrows.
struct Done {
    outcomes: Vec<Result<Vec<Appended>>>,
    head: (u64, [u8; 32]),
    versions: Vec<(String, Option<u64>)>,
}

impl Plan<'_> {
    fn into_done(self) -> Done {
        Done {
            outcomes: self.outcomes,
            head: self.head,
            versions: self
                .versions
                .into_iter()
                .map(|(s, v)| (s.to_owned(), v))
                .collect(),
        }
    }
}

/// An event id seen in this batch or in the log.
#[derive(Clone)]
struct IdSeen<'a> {
    position: u64,
    stream_id: &'a str,
    stream_version: u64,
    event_type: &'a str,
    schema_version: u32,
    payload: &'a str,
}

impl<'a> From<&'a StoredId> for IdSeen<'a> {
    fn from(s: &'a StoredId) -> Self {
        IdSeen {
            position: s.position,
            stream_id: &s.stream_id,
            stream_version: s.stream_version,
            event_type: &s.event_type,
            schema_version: s.schema_version,
            payload: &s.payload,
        }
    }
}

/// The batch's view: what earlier jobs of the batch changed, over `Known`.
struct Overlay<'a> {
    versions: HashMap<&'a str, Option<u64>>,
    keys: HashMap<(&'a str, &'a str), Option<&'a str>>,
    ids: HashMap<Uuid, IdSeen<'a>>,
}

impl<'a> Overlay<'a> {
    fn new() -> Self {
        Overlay {
            versions: HashMap::new(),
            keys: HashMap::new(),
            ids: HashMap::new(),
        }
    }
}

/// Decides every job of a batch in order, each against the state the jobs
/// before it leave; a job whose keys `differ` is left out (its outcome is
/// not used). Pure: no I/O.
fn plan<'a>(
    jobs: &'a [Job],
    known: &Known<'a>,
    recorded_at: chrono::DateTime<chrono::Utc>,
    differ: &[Option<StoredKeys>],
) -> Plan<'a> {
    let mut batch = Overlay::new();
    let mut rows = Vec::new();
    let mut key_ops = Vec::new();
    let mut outcomes = Vec::with_capacity(jobs.len());
    let mut head = known.head;
    for (job, differ) in jobs.iter().zip(differ) {
        if differ.is_some() {
            outcomes.push(Ok(Vec::new()));
            continue;
        }
        let mut local = Overlay::new();
        let mut job_rows = Vec::new();
        let mut job_ops = Vec::new();
        let mut job_head = head;
        let decided = job
            .appends
            .iter()
            .map(|req| {
                decide(
                    req,
                    known,
                    &batch,
                    &mut local,
                    &mut job_rows,
                    &mut job_ops,
                    &mut job_head,
                    recorded_at,
                )
            })
            .collect::<Result<Vec<_>>>();
        match decided {
            Ok(appended) => {
                batch.versions.extend(local.versions);
                batch.keys.extend(local.keys);
                batch.ids.extend(local.ids);
                rows.extend(job_rows);
                key_ops.extend(job_ops);
                head = job_head;
                outcomes.push(Ok(appended));
            }
            Err(e) => outcomes.push(Err(e)),
        }
    }
    Plan {
        rows,
        key_ops,
        outcomes,
        head,
        versions: batch.versions,
    }
}

#[allow(clippy::too_many_arguments)]
fn decide<'a>(
    req: &'a AppendRequest,
    known: &Known<'a>,
    batch: &Overlay<'a>,
    local: &mut Overlay<'a>,
    rows: &mut Vec<NewRow<'a>>,
    ops: &mut Vec<KeyOp<'a>>,
    head: &mut (u64, [u8; 32]),
    recorded_at: chrono::DateTime<chrono::Utc>,
) -> Result<Appended> {
    let stream = req.stream_id.as_str();

    // Idempotency first: a retried append must succeed even though its
    // expected version is stale by now.
    let seen: Vec<Option<IdSeen<'a>>> = req
        .events
        .iter()
        .map(|e| {
            local
                .ids
                .get(&e.event_id)
                .or_else(|| batch.ids.get(&e.event_id))
                .cloned()
                .or_else(|| known.ids.and_then(|m| m.get(&e.event_id)).map(IdSeen::from))
        })
        .collect();
    if let Some(first_seen) = seen.iter().position(Option::is_some) {
        let same = |e: &NewEvent, s: &IdSeen<'_>| {
            s.stream_id == stream
                && s.event_type == e.event_type
                && s.schema_version == e.schema_version
                && s.payload == e.payload
        };
        for (e, s) in req.events.iter().zip(&seen) {
            let (event_id, stored) = match s {
                Some(s) if same(e, s) => continue,
                Some(s) => (e.event_id, s),
                // Part of the append is stored and part is not: the stored
                // part's id is being reused in a different append.
                None => (
                    req.events[first_seen].event_id,
                    seen[first_seen].as_ref().expect("position found it"),
                ),
            };
            return Err(Error::EventIdReused {
                event_id,
                position: stored.position,
                stored_stream: stored.stream_id.to_owned(),
                stored_type: stored.event_type.to_owned(),
            });
        }
        let first = seen.first().and_then(Option::as_ref).expect("all seen");
        let last = seen.last().and_then(Option::as_ref).expect("all seen");
        return Ok(Appended {
            stream_id: req.stream_id.clone(),
            first_position: first.position,
            last_position: last.position,
            stream_version: last.stream_version,
            duplicate: true,
        });
    }

    let actual = match local
        .versions
        .get(stream)
        .or_else(|| batch.versions.get(stream))
    {
        Some(v) => *v,
        None => *known
            .versions
            .get(stream)
            .expect("versions of every stream in the batch are known"),
    };
    if !req.expected.admits(actual) {
        return Err(Error::WrongExpectedVersion {
            stream_id: req.stream_id.clone(),
            expected: req.expected,
            actual,
        });
    }

    let first_position = head.0 + 1;
    for k in &req.claims {
        let slot = (k.scope.as_str(), k.key.as_str());
        let owner = match local.keys.get(&slot).or_else(|| batch.keys.get(&slot)) {
            Some(o) => *o,
            None => known
                .keys
                .get(&(k.scope.clone(), k.key.clone()))
                .map(String::as_str),
        };
        match owner {
            Some(o) if o == stream => {}
            Some(o) => {
                return Err(Error::KeyTaken {
                    scope: k.scope.clone(),
                    key: k.key.clone(),
                    owner_stream: o.to_owned(),
                });
            }
            None => {
                local.keys.insert(slot, Some(stream));
                ops.push(KeyOp::Claim {
                    scope: &k.scope,
                    key: &k.key,
                    owner: stream,
                    position: first_position,
                });
            }
        }
    }
    for k in &req.releases {
        let slot = (k.scope.as_str(), k.key.as_str());
        let owner = match local.keys.get(&slot).or_else(|| batch.keys.get(&slot)) {
            Some(o) => *o,
            None => known
                .keys
                .get(&(k.scope.clone(), k.key.clone()))
                .map(String::as_str),
        };
        if owner != Some(stream) {
            return Err(Error::KeyNotHeld {
                scope: k.scope.clone(),
                key: k.key.clone(),
                stream_id: req.stream_id.clone(),
            });
        }
        local.keys.insert(slot, None);
        ops.push(KeyOp::Release {
            scope: &k.scope,
            key: &k.key,
            owner: stream,
        });
    }

    let mut version = actual.unwrap_or(0);
    for e in &req.events {
        version += 1;
        let position = head.0 + 1;
        let event = Canonical {
            position,
            stream_id: stream,
            stream_version: version,
            event_id: e.event_id,
            event_type: &e.event_type,
            schema_version: e.schema_version,
            payload: &e.payload,
            metadata: &e.metadata,
            occurred_at: e.occurred_at,
            recorded_at,
        };
        let hash = event.hash(&head.1);
        rows.push(NewRow {
            event,
            prev_hash: head.1,
            hash,
        });
        local.ids.insert(
            e.event_id,
            IdSeen {
                position,
                stream_id: stream,
                stream_version: version,
                event_type: &e.event_type,
                schema_version: e.schema_version,
                payload: &e.payload,
            },
        );
        *head = (position, hash);
    }
    local.versions.insert(stream, Some(version));
    Ok(Appended {
        stream_id: req.stream_id.clone(),
        first_position,
        last_position: head.0,
        stream_version: version,
        duplicate: false,
    })
}
