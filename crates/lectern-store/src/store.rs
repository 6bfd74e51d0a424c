//! `Store`: the public face of the log.

use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use crate::chain::{Verification, Verifier};
use crate::db::{Db, PG_CHANNEL};
use crate::error::{Error, Result};
use crate::event::{AppendRequest, Appended, ExpectedVersion, NewEvent, RecordedEvent};
use crate::personal::{self, Key, Outcome, PersonKey, PersonalFields, Sealable};
use crate::upcast::Upcasters;
use crate::writer::{Job, Reply, StoredKeys, Writer};

/// How hard SQLite works to keep a commit (PostgreSQL follows its server's
/// own `synchronous_commit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=FULL`: an acknowledged append survives a power loss.
    Full,
    /// `synchronous=NORMAL`: survives a process crash; the last commits may
    /// be lost on power loss. For benchmarks and throwaway databases.
    Normal,
}

/// Settings of a store. `StoreOptions::default()` is what production uses.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub durability: Durability,
    /// Reading connections (SQLite) or all connections (PostgreSQL).
    pub max_connections: u32,
    /// Most events the writer puts into one group-commit transaction.
    pub max_batch_events: usize,
    /// How often an idle subscription looks for events that arrived without
    /// a notification (another process on SQLite; a lost PostgreSQL
    /// notification). In-process commits and PostgreSQL NOTIFY wake
    /// subscribers at once.
    pub poll_interval: Duration,
    /// Events per page when reading the log in order.
    pub page_size: usize,
    /// Turns old payloads into the current shape on read.
    pub upcasters: Upcasters,
    /// The personal fields sealed on append and opened on read
    /// (`personal`).
    pub personal: PersonalFields,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            durability: Durability::Full,
            max_connections: 8,
            max_batch_events: 1000,
            poll_interval: Duration::from_millis(500),
            page_size: 2000,
            upcasters: Upcasters::new(),
            personal: PersonalFields::new(),
        }
    }
}

/// The append-only event log. Cheap to clone; clones share one writer.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    jobs: mpsc::Sender<Job>,
    head_tx: Arc<watch::Sender<u64>>,
    _head_rx: watch::Receiver<u64>,
    opts: StoreOptions,
    appended: std::sync::atomic::AtomicU64,
    /// Subscriptions waiting for a commit notice now (`parked`).
    parked: watch::Sender<usize>,
    keys: std::sync::Mutex<KeyCache>,
}

/// Personal-data keys this process knows, valid while the number of
/// erased keys in the database stays `erased`.
#[derive(Default)]
struct KeyCache {
    keys: std::collections::HashMap<String, Slot>,
    erased: i64,
}

/// What sealing did to a batch of appends.
#[derive(Default)]
struct Sealed {
    /// The payloads replaced (request, event, the payload as given), kept
    /// while the append may come back to be sealed again.
    originals: Vec<(usize, usize, String)>,
    /// Keys made here that the appends were sealed under.
    keys: Vec<(String, Key)>,
}

/// A person's key in the cache (boxed: the cipher's state is large, and a
/// lookup should touch little memory).
enum Slot {
    /// The key table holds this key.
    Stored(Arc<PersonKey>),
    /// Made here and sealed under, not yet seen stored: it goes with each
    /// append sealed under it until one commits.
    Made(Arc<PersonKey>),
    /// Erased.
    Erased,
}

impl KeyCache {
    /// The key to read with: only a stored or erased one.
    fn stored(&self, subject: &str) -> Option<Option<&PersonKey>> {
        match self.keys.get(subject)? {
            Slot::Stored(k) => Some(Some(k.as_ref())),
            Slot::Erased => Some(None),
            Slot::Made(_) => None,
        }
    }

    /// Records keys as the key table holds them (`None`: erased).
    fn remember(&mut self, stored: StoredKeys) -> Result<()> {
        for (subject, key) in stored {
            let slot = match key {
                None => Slot::Erased,
                Some(k) => Slot::Stored(Arc::new(PersonKey::new(
                    <Key>::try_from(k.as_slice()).map_err(|_| Error::Corrupt {
                        position: 0,
                        reason: format!("the personal-data key of {subject} is not 32 bytes"),
                    })?,
                ))),
            };
            self.keys.insert(subject, slot);
        }
        Ok(())
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.inner.db.backend())
            .finish_non_exhaustive()
    }
}

/// What [`Store::log_state`] finds in a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogState {
    /// No event log: the database was never migrated.
    Missing,
    /// An event log that needs `lectern migrate`: `applied` of `known`
    /// migrations are applied.
    Behind { applied: usize, known: usize },
    /// An event log with every migration applied.
    Current,
}

impl Store {
    /// Connects to `sqlite://PATH` (created if missing) or `postgres://...`
    /// and starts the writer. Does not migrate: call [`Store::migrate`].
    pub async fn open(url: &str, opts: StoreOptions) -> Result<Store> {
        let db = Db::connect(url, &opts).await?;
        // The store keeps a receiver so that `closed()` tells the listener
        // when the store and all its subscriptions are gone.
        let (head_tx, head_rx) = watch::channel(0u64);
        let head_tx = Arc::new(head_tx);
        let (jobs, rx) = mpsc::channel(4096);
        tokio::spawn(Writer::new(db.clone(), head_tx.clone(), opts.max_batch_events).run(rx));
        if let Db::Postgres(pool) = &db {
            // Subscriptions opened after `open` returns must not miss a
            // commit, so wait (briefly) until the listener is listening.
            let (ready_tx, ready) = oneshot::channel();
            tokio::spawn(listen(pool.clone(), head_tx.clone(), ready_tx));
            if tokio::time::timeout(Duration::from_secs(10), ready)
                .await
                .is_err()
            {
                tracing::warn!(
                    "not yet listening for commits of other processes; subscribers poll until then"
                );
            }
        }
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                jobs,
                head_tx,
                _head_rx: head_rx,
                opts,
                appended: std::sync::atomic::AtomicU64::new(0),
                parked: watch::Sender::new(0),
                keys: std::sync::Mutex::new(KeyCache::default()),
            }),
        })
    }

    /// Applies the migrations of this backend that are not applied yet.
    pub async fn migrate(&self) -> Result<()> {
        self.inner.db.migrate().await
    }

    /// Whether this database holds an event log whose schema is this
    /// version's (for commands that only read it, which must not create
    /// or migrate one).
    pub async fn log_state(&self) -> Result<LogState> {
        Ok(match self.inner.db.migrations().await? {
            (None, _) => LogState::Missing,
            (Some(applied), known) if applied < known => LogState::Behind { applied, known },
            (Some(_), _) => LogState::Current,
        })
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        self.inner.db.backend()
    }

    /// Closes the connections; later calls fail.
    pub async fn close(&self) {
        self.inner.db.close().await;
    }

    /// Appends events to one stream, atomically.
    pub async fn append(
        &self,
        stream_id: impl Into<String>,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended> {
        self.submit(AppendRequest::new(stream_id, expected, events))
            .await
    }

    /// Appends one request (events, and key claims or releases), atomically.
    pub async fn submit(&self, request: AppendRequest) -> Result<Appended> {
        let mut out = self.submit_all(vec![request]).await?;
        Ok(out.pop().expect("one request, one answer"))
    }

    /// Appends several requests (to distinct or equal streams) in one
    /// transaction: all of them or none. Each keeps its own version check.
    pub async fn submit_all(&self, requests: Vec<AppendRequest>) -> Result<Vec<Appended>> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        for r in &requests {
            r.validate()?;
        }
        let mut requests = requests;
        let mut rounds = 0;
        let appended = loop {
            rounds += 1;
            let sealed = self.seal(&mut requests)?;
            let (reply, answer) = oneshot::channel();
            self.inner
                .jobs
                .send(Job {
                    appends: requests,
                    keys: sealed.keys.clone(),
                    reply,
                })
                .await
                .map_err(|_| Error::WriterStopped)?;
            match answer.await.map_err(|_| Error::WriterStopped)? {
                Reply::Done(result) => {
                    let appended = result?;
                    self.stored_now(sealed.keys);
                    break appended;
                }
                // Another process stored keys for these persons first, or
                // erased them: seal again under the stored keys.
                Reply::KeysDiffer { stored, appends } if rounds < 4 => {
                    requests = appends;
                    for (r, i, original) in sealed.originals {
                        requests[r].events[i].payload = original;
                    }
                    self.inner
                        .keys
                        .lock()
                        .expect("key cache")
                        .remember(stored)?;
                }
                Reply::KeysDiffer { stored, .. } => {
                    return Err(Error::InvalidAppend(format!(
                        "the personal-data keys of {} kept changing while this append was sealed",
                        stored
                            .into_iter()
                            .map(|(s, _)| s)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
        };
        let new: u64 = appended
            .iter()
            .filter(|a| !a.duplicate)
            .map(|a| a.last_position + 1 - a.first_position)
            .sum();
        self.inner
            .appended
            .fetch_add(new, std::sync::atomic::Ordering::Relaxed);
        Ok(appended)
    }

    /// Events this process appended (not counting idempotent repeats), for
    /// the `lectern_events_appended_total` metric.
    pub fn appended_total(&self) -> u64 {
        self.inner
            .appended
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Position of the last event (0 when the log is empty).
    pub async fn head(&self) -> Result<u64> {
        Ok(self.inner.db.head().await?.0)
    }

    /// Position and hash of the last event.
    pub async fn head_hash(&self) -> Result<(u64, [u8; 32])> {
        self.inner.db.head().await
    }

    /// Events of one stream from `from_version` (inclusive, 1 = the first),
    /// at most `limit`.
    pub async fn read_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        let raw = self
            .inner
            .db
            .read_stream(stream_id, from_version, limit)
            .await?;
        self.decode(raw).await
    }

    /// Events after position `after` (exclusive; 0 = from the start), at
    /// most `limit`, optionally only of the given types.
    pub async fn read_all(
        &self,
        after: u64,
        limit: usize,
        types: Option<&[String]>,
    ) -> Result<Vec<RecordedEvent>> {
        let raw = self.inner.db.read_all(after, None, types, limit).await?;
        self.decode(raw).await
    }

    /// As `read_all`, the events exactly as stored: personal fields sealed,
    /// old payload versions not upcast (what the chain hash covers).
    pub async fn read_stored(&self, after: u64, limit: usize) -> Result<Vec<RecordedEvent>> {
        self.inner.db.read_all(after, None, None, limit).await
    }

    /// As `read_ids`, the events exactly as stored.
    pub async fn read_stored_ids(&self, ids: &[Uuid]) -> Result<Vec<RecordedEvent>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.inner.db.read_ids(ids).await
    }

    /// The whole log after `after`, read page by page: memory stays bounded
    /// by two pages (one handed out, the next being read) however long the
    /// log is.
    pub fn stream_all(
        &self,
        after: u64,
        types: Option<Vec<String>>,
    ) -> impl Stream<Item = Result<RecordedEvent>> + Send + 'static {
        self.pages(after, types, true)
    }

    /// The log in pages; `decoded` opens personal fields and upcasts,
    /// otherwise events come as stored. The next page is read while one is
    /// decoded and handed out, so reading and decoding overlap.
    fn pages(
        &self,
        after: u64,
        types: Option<Vec<String>>,
        decoded: bool,
    ) -> impl Stream<Item = Result<RecordedEvent>> + Send + 'static {
        type Next = tokio::task::JoinHandle<Result<Vec<RecordedEvent>>>;
        let store = self.clone();
        let limit = self.inner.opts.page_size.max(1);
        let read = move |store: &Store, after: u64, types: Option<Vec<String>>| -> Next {
            let db = store.inner.db.clone();
            tokio::spawn(async move { db.read_all(after, None, types.as_deref(), limit).await })
        };
        let state = (
            after,
            std::collections::VecDeque::new(),
            false,
            None::<Next>,
        );
        futures_util::stream::try_unfold(state, move |(mut after, mut buf, mut done, mut next)| {
            let store = store.clone();
            let types = types.clone();
            async move {
                loop {
                    if let Some(e) = buf.pop_front() {
                        return Ok(Some((e, (after, buf, done, next))));
                    }
                    if done {
                        return Ok(None);
                    }
                    let page = next
                        .take()
                        .unwrap_or_else(|| read(&store, after, types.clone()))
                        .await
                        .map_err(|e| {
                            Error::Database(Arc::new(sqlx::Error::Protocol(format!(
                                "reading the log stopped: {e}"
                            ))))
                        })??;
                    done = page.len() < limit;
                    if let Some(last) = page.last() {
                        after = last.position;
                    }
                    if !done {
                        next = Some(read(&store, after, types.clone()));
                    }
                    if decoded {
                        buf.extend(store.decode(page).await?);
                    } else {
                        buf.extend(page);
                    }
                    if buf.is_empty() && done {
                        return Ok(None);
                    }
                }
            }
        })
    }

    /// Catches up from `after` (exclusive), then follows new commits for as
    /// long as the subscription is polled. Every event is delivered once, in
    /// position order.
    pub fn subscribe(&self, after: u64, types: Option<Vec<String>>) -> Subscription {
        Subscription {
            store: self.clone(),
            after,
            types,
            buf: std::collections::VecDeque::new(),
            head_rx: self.inner.head_tx.subscribe(),
        }
    }

    /// How many subscriptions have read everything committed and wait for
    /// a commit notice (or their poll interval) now. A test that must prove
    /// a notice wakes a subscriber waits for this before it appends.
    pub fn parked(&self) -> watch::Receiver<usize> {
        self.inner.parked.subscribe()
    }

    /// Recomputes the whole hash chain from the stored bytes and reports the
    /// first position that does not verify.
    pub async fn verify(&self) -> Result<Verification> {
        use futures_util::TryStreamExt;
        let mut v = Verifier::new();
        let mut raw = std::pin::pin!(self.pages(0, None, false));
        while let Some(e) = raw.try_next().await? {
            if !v.feed(&e) {
                break;
            }
        }
        Ok(v.finish())
    }

    /// As `verify`, and also the Merkle leaves (`merkle`) of the events
    /// that verified: their stored chain hashes, in position order.
    pub async fn verify_tree(&self) -> Result<(Verification, Vec<crate::merkle::Hash>)> {
        use futures_util::TryStreamExt;
        let mut v = Verifier::new();
        let mut leaves = Vec::new();
        let mut raw = std::pin::pin!(self.pages(0, None, false));
        while let Some(e) = raw.try_next().await? {
            if !v.feed(&e) {
                break;
            }
            leaves.push(crate::merkle::leaf_hash(&e.hash));
        }
        Ok((v.finish(), leaves))
    }

    /// The events with these ids, those that are stored, in position order
    /// (an idempotency check that must not wait for read models: has this
    /// kiosk tap been recorded?).
    pub async fn read_ids(&self, ids: &[Uuid]) -> Result<Vec<RecordedEvent>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let events = self.inner.db.read_ids(ids).await?;
        self.decode(events).await
    }

    /// Which stream holds a unique key, if any.
    pub async fn key_owner(&self, scope: &str, key: &str) -> Result<Option<String>> {
        self.inner.db.key_owner(scope, key).await
    }

    /// Events as readers see them: personal fields opened (or erased),
    /// old payload versions upcast.
    async fn decode(&self, mut events: Vec<RecordedEvent>) -> Result<Vec<RecordedEvent>> {
        self.open_personal(&mut events).await?;
        let up = &self.inner.opts.upcasters;
        if up.is_empty() {
            return Ok(events);
        }
        events.into_iter().map(|e| up.apply(e)).collect()
    }

    /// The personal fields this store seals and opens.
    pub fn personal_fields(&self) -> &PersonalFields {
        &self.inner.opts.personal
    }

    /// Seals the personal fields of every event in `requests`, making a
    /// key for each person the cache knows no key of (stored by the writer
    /// with the events; if the table has one already, the writer says so
    /// and the append is sealed again).
    fn seal(&self, requests: &mut [AppendRequest]) -> Result<Sealed> {
        let mut sealed = Sealed::default();
        let fields = &self.inner.opts.personal;
        if fields.is_empty() {
            return Ok(sealed);
        }
        // The events with personal fields: request, event.
        let mut todo: Vec<(usize, usize)> = requests
            .iter()
            .enumerate()
            .flat_map(|(r, request)| {
                request
                    .events
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| fields.covers(&e.event_type))
                    .map(move |(i, _)| (r, i))
            })
            .collect();
        let mut cache = self.inner.keys.lock().expect("key cache");
        // The keys made here (not yet seen stored) that events are sealed
        // under: they go with the append.
        let mut made = std::collections::BTreeMap::new();
        // A round seals each event whose persons the cache knows; a person
        // it does not know gets a key, and their event waits for the next
        // round (an event of several persons, a round for each). Each
        // person asked for gets a key, so this ends.
        while !todo.is_empty() {
            let round = seal_round(fields, &cache, requests, &todo)?;
            made.extend(round.made);
            let mut next = Vec::new();
            for ((r, i), outcome) in todo.into_iter().zip(round.outcomes) {
                match outcome {
                    Outcome::Unchanged => {}
                    Outcome::Changed(text) => {
                        let original = std::mem::replace(&mut requests[r].events[i].payload, text);
                        sealed.originals.push((r, i, original));
                    }
                    Outcome::Unknown(subject) => {
                        if let std::collections::hash_map::Entry::Vacant(slot) =
                            cache.keys.entry(subject)
                        {
                            slot.insert(Slot::Made(Arc::new(PersonKey::random()?)));
                        }
                        next.push((r, i));
                    }
                }
            }
            todo = next;
        }
        sealed.keys = made.into_iter().collect();
        if sealed.keys.is_empty() {
            // Nothing can come back to be sealed again.
            sealed.originals.clear();
        }
        Ok(sealed)
    }

    /// The keys an append was sealed under are stored now.
    fn stored_now(&self, keys: Vec<(String, Key)>) {
        if keys.is_empty() {
            return;
        }
        let mut cache = self.inner.keys.lock().expect("key cache");
        for (subject, raw) in keys {
            if let Some(slot) = cache.keys.get_mut(&subject)
                && let Slot::Made(k) = slot
                && *k.raw() == raw
            {
                *slot = Slot::Stored(k.clone());
            }
        }
    }

    /// Opens the sealed personal fields of `events` in place, with the
    /// keys as the database holds them now.
    async fn open_personal(&self, events: &mut [RecordedEvent]) -> Result<()> {
        let fields = &self.inner.opts.personal;
        if fields.is_empty() || !events.iter().any(|e| fields.covers(&e.event_type)) {
            return Ok(());
        }
        // A key erased by another process must not be used from the cache.
        let erased = self.inner.db.erased_keys().await?;
        {
            let mut cache = self.inner.keys.lock().expect("key cache");
            if cache.erased != erased {
                // Keys made here and not yet stored stay: they go with
                // their appends, which the writer checks against the table.
                cache.keys.retain(|_, slot| matches!(slot, Slot::Made(_)));
                cache.erased = erased;
            }
        }
        // Persons with no key in the table: their fields read as erased.
        let mut absent = std::collections::HashSet::new();
        let mut waiting: Vec<usize> = (0..events.len()).collect();
        // What the cache lacks is read in one statement a round (an event
        // of several persons may take a round for each). Each person asked
        // for is then in the cache or absent, so this ends.
        loop {
            let mut missing = std::collections::HashSet::new();
            {
                let cache = self.inner.keys.lock().expect("key cache");
                let key_of = |s: &str| {
                    cache
                        .stored(s)
                        .or_else(|| absent.contains(s).then_some(None))
                };
                let mut still = Vec::new();
                for i in waiting {
                    let e = &mut events[i];
                    let at = personal::At {
                        position: e.position,
                        event_id: e.event_id,
                        event_type: &e.event_type,
                    };
                    if let Some(subject) = fields.open_in_place(&at, &mut e.payload, &key_of)? {
                        missing.insert(subject);
                        still.push(i);
                    }
                }
                waiting = still;
            }
            if waiting.is_empty() {
                return Ok(());
            }
            let missing: Vec<String> = missing.into_iter().collect();
            let found = self.inner.db.personal_keys(&missing).await?;
            absent.extend(
                missing
                    .into_iter()
                    .filter(|s| !found.iter().any(|(f, _)| f == s)),
            );
            self.inner.keys.lock().expect("key cache").remember(found)?;
        }
    }

    /// Destroys the key of `subject`'s personal data: their sealed fields
    /// read as erased from now on, in this process at once and in others
    /// at their next read. True when a key was destroyed now (false: it
    /// was already erased, or never made).
    pub async fn erase_personal_key(&self, subject: &str) -> Result<bool> {
        let destroyed = self
            .inner
            .db
            .erase_personal_key(subject, &crate::event::now().to_rfc3339())
            .await?;
        let mut cache = self.inner.keys.lock().expect("key cache");
        cache.keys.insert(subject.to_owned(), Slot::Erased);
        Ok(destroyed)
    }

    /// Whether `subject` has a key that is not erased.
    pub async fn has_personal_key(&self, subject: &str) -> Result<bool> {
        let found = self.inner.db.personal_keys(&[subject.to_owned()]).await?;
        Ok(found.iter().any(|(_, k)| k.is_some()))
    }

    /// Leaves no copy of overwritten data in the database's own files where
    /// the backend allows: SQLite's write-ahead log is checkpointed and
    /// emptied (false: a reader held it; the next checkpoint empties it),
    /// PostgreSQL's key table rewritten.
    pub async fn scrub(&self) -> Result<bool> {
        self.inner.db.scrub().await
    }

    /// The last position written before personal fields were sealed (0: the
    /// log sealed them from its first event).
    pub async fn personal_since(&self) -> Result<u64> {
        self.inner.db.personal_since().await
    }
}

/// A live feed of the log: see [`Store::subscribe`].
pub struct Subscription {
    store: Store,
    after: u64,
    types: Option<Vec<String>>,
    buf: std::collections::VecDeque<RecordedEvent>,
    head_rx: watch::Receiver<u64>,
}

impl Subscription {
    /// The next event, waiting for one to be committed if need be.
    pub async fn next(&mut self) -> Result<RecordedEvent> {
        loop {
            if let Some(e) = self.buf.pop_front() {
                return Ok(e);
            }
            self.poll().await?;
        }
    }

    /// Up to `max` events, waiting only while there are none and the scan
    /// has not moved. An empty batch means the scan moved past events the
    /// type filter skipped: [`Subscription::checkpoint`] says how far, so a
    /// projector can report that it is caught up without a matching event.
    pub async fn next_batch(&mut self, max: usize) -> Result<Vec<RecordedEvent>> {
        let start = self.after;
        loop {
            if !self.buf.is_empty() {
                let n = self.buf.len().min(max.max(1));
                return Ok(self.buf.drain(..n).collect());
            }
            if self.after > start {
                return Ok(Vec::new());
            }
            self.poll().await?;
        }
    }

    /// Reads what was committed after the scan position, or waits for a
    /// commit notice (or the poll interval) when there is nothing new.
    /// Cancel-safe: the position moves only together with the buffer.
    async fn poll(&mut self) -> Result<()> {
        let inner = &self.store.inner;
        // Mark the current head seen *before* reading, so a commit that
        // lands after the read still wakes the wait below.
        self.head_rx.borrow_and_update();
        let limit = inner.opts.page_size.max(1);
        // Read up to the head as it is now, so that with a type filter the
        // scan still moves past events of other types.
        let head = inner.db.head().await?.0;
        if head > self.after {
            let page = inner
                .db
                .read_all(self.after, Some(head), self.types.as_deref(), limit)
                .await?;
            let after = match (page.len() < limit, page.last()) {
                (true, _) => head,
                (false, Some(last)) => last.position,
                (false, None) => head,
            };
            let page = self.store.decode(page).await?;
            self.after = after;
            self.buf.extend(page);
            return Ok(());
        }
        // Nothing new: wait for a commit notice, or poll now and then for
        // writers that cannot notify us (another process on SQLite). A
        // commit from here on still wakes the wait: the head was marked
        // seen before the read.
        let _parked = Parked::new(&inner.parked);
        let _ = tokio::time::timeout(inner.opts.poll_interval, self.head_rx.changed()).await;
        Ok(())
    }

    /// Position the scan has reached: every event up to here was delivered,
    /// skipped by the type filter, or is still buffered (see `buffered`).
    pub fn checkpoint(&self) -> u64 {
        self.after
    }

    /// Events read but not yet delivered.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

/// Counts a subscription as parked while it lives (also when the wait is
/// cancelled).
struct Parked<'a>(&'a watch::Sender<usize>);

impl<'a> Parked<'a> {
    fn new(count: &'a watch::Sender<usize>) -> Parked<'a> {
        count.send_modify(|n| *n += 1);
        Parked(count)
    }
}

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

/// Forwards PostgreSQL commit notices (from every process sharing the
/// database) to this process's subscribers, until the store is dropped.
async fn listen(pool: sqlx::PgPool, head_tx: Arc<watch::Sender<u64>>, ready: oneshot::Sender<()>) {
    let mut ready = Some(ready);
    loop {
        let run = async {
            let mut l = sqlx::postgres::PgListener::connect_with(&pool).await?;
            l.listen(PG_CHANNEL).await?;
            if let Some(ready) = ready.take() {
                let _ = ready.send(());
            } else {
                // Commits may have gone unannounced while we were away:
                // wake every subscriber to look.
                head_tx.send_modify(|_| {});
            }
            loop {
                let n = l.recv().await?;
                if let Ok(p) = n.payload().parse::<u64>() {
                    head_tx.send_if_modified(|h| {
                        if p > *h {
                            *h = p;
                            true
                        } else {
                            false
                        }
                    });
                }
            }
            #[allow(unreachable_code)]
            Ok::<(), sqlx::Error>(())
        };
        tokio::select! {
            r = run => {
                if let Err(e) = r {
                    if pool.is_closed() {
                        return;
                    }
                    tracing::warn!(error = %e, "listening for commits failed; retrying in 1 s");
                }
            }
            () = head_tx.closed() => return,
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = head_tx.closed() => return,
        }
    }
}

/// Events at least this many are sealed on two threads: the caller's and
/// one more, while the writer waits for them.
const SEAL_ON_TWO: usize = 256;

/// What a round of sealing made of its events, in order, and the keys
/// made here (not yet seen stored) that it sealed under.
struct Round {
    outcomes: Vec<Outcome>,
    made: std::collections::BTreeMap<String, Key>,
}

/// Seals the events `todo` (request, event) with the keys `cache` knows;
/// many of them on two threads.
fn seal_round(
    fields: &PersonalFields,
    cache: &KeyCache,
    requests: &[AppendRequest],
    todo: &[(usize, usize)],
) -> Result<Round> {
    let seal = |part: &[(usize, usize)]| -> Result<Round> {
        let made = std::cell::RefCell::new(std::collections::BTreeMap::new());
        let key_of = |s: &str| match cache.keys.get(s)? {
            Slot::Stored(k) => Some(Some(k.as_ref())),
            Slot::Made(k) => {
                made.borrow_mut().insert(s.to_owned(), *k.raw());
                Some(Some(k.as_ref()))
            }
            Slot::Erased => Some(None),
        };
        let outcomes = part
            .iter()
            .map(|&(r, i)| fields.seal(&sealable(&requests[r], &requests[r].events[i]), &key_of))
            .collect::<Result<Vec<_>>>()?;
        Ok(Round {
            outcomes,
            made: made.into_inner(),
        })
    };
    if todo.len() < SEAL_ON_TWO {
        return seal(todo);
    }
    let (first, second) = todo.split_at(todo.len() / 2);
    let (first, second) = std::thread::scope(|s| {
        let helper = s.spawn(|| seal(second));
        let first = seal(first);
        let second = helper
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (first, second)
    });
    let (mut round, second) = (first?, second?);
    round.outcomes.extend(second.outcomes);
    round.made.extend(second.made);
    Ok(round)
}

fn sealable<'a>(r: &'a AppendRequest, e: &'a NewEvent) -> Sealable<'a> {
    Sealable {
        position: 0,
        event_id: e.event_id,
        event_type: &e.event_type,
        stream_id: &r.stream_id,
        payload: &e.payload,
    }
}
