//! Sending queued taps, refreshing the roster, heartbeats: the kiosk's
//! conversation with the server, in the background of the taps.
//!
//! Taps go oldest first in batches; a tap leaves the queue only when the
//! server answered for it. When the server cannot be reached the kiosk
//! waits with capped exponential backoff and jitter, and keeps taking taps.
//! Every answer is a sync point: the server's time against the midpoint of
//! the exchange on the kiosk's monotonic clock, kept durably, and the wall
//! clock's offset measured with it. Every request is stamped with the
//! kiosk's clocks and its latest sync point; one the server finds stale is
//! signed again once, after taking the refusal's time as a sync point.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use lectern_kiosk_protocol::{
    BatchResponse, Heartbeat, HeartbeatResponse, KioskKey, MonoReading, Roster, Stamp, SyncPoint,
    TapBatch,
};
use serde::de::DeserializeOwned;
use tokio::sync::{Mutex, Notify, watch};

use crate::client::{CallError, Server};
use crate::clock::{KioskClock, Now};
use crate::decide::Book;
use crate::queue::{Identity, Queue, Queued};

/// Taps per request.
pub const BATCH: usize = 200;
/// Backoff after a failed exchange: from `FIRST_BACKOFF`, doubling, at most
/// `MAX_BACKOFF`, each wait randomised between half and all of it.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often the roster is refreshed and a heartbeat sent.
const REFRESH: Duration = Duration::from_secs(30);
/// An exchange slower than this makes no sync point (its midpoint could be
/// this far from when the server answered).
const SLOWEST_SYNC_US: u64 = 4_000_000;

/// What the screen shows of the connection.
#[derive(Debug, Default)]
pub struct Link {
    pub online: AtomicBool,
    /// An exchange with the server was tried (until then the screen says
    /// "connecting", not "offline").
    pub tried: AtomicBool,
    /// Notified each time a round of sending ends with the queue sent, or
    /// with the server refusing the kiosk's key (so a wait for the queue to
    /// drain looks again and sees why it will not).
    pub drained: Notify,
    /// Server clock minus kiosk wall clock, milliseconds, as last measured.
    pub offset_ms: AtomicI64,
    /// The latest sync point of this boot, if there is one yet.
    pub sync: std::sync::Mutex<Option<SyncPoint>>,
    /// Why the server refuses this kiosk's key, while it does (the kiosk was
    /// registered again: it must be enrolled with the new code).
    pub voided: std::sync::Mutex<Option<String>>,
}

impl Link {
    /// Why the server refuses this kiosk's key, if it does.
    pub fn voided(&self) -> Option<String> {
        self.voided.lock().expect("link lock").clone()
    }

    pub fn sync_point(&self) -> Option<SyncPoint> {
        *self.sync.lock().expect("link lock")
    }
}

/// An answer from the server, which says the server's time.
pub trait Answer: DeserializeOwned {
    fn server_time(&self) -> DateTime<Utc>;
}

impl Answer for BatchResponse {
    fn server_time(&self) -> DateTime<Utc> {
        self.server_time
    }
}

impl Answer for Roster {
    fn server_time(&self) -> DateTime<Utc> {
        self.server_time
    }
}

impl Answer for HeartbeatResponse {
    fn server_time(&self) -> DateTime<Utc> {
        self.server_time
    }
}

#[derive(Clone)]
pub struct Sync {
    pub queue: Queue,
    pub server: Server,
    pub id: Identity,
    pub key: Arc<KioskKey>,
    pub book: Arc<Mutex<Book>>,
    pub link: Arc<Link>,
    /// Woken when a tap is queued.
    pub wake: Arc<Notify>,
    pub version: &'static str,
    pub clock: KioskClock,
    /// This boot's number, and the kernel's id of it.
    pub boot: u32,
    pub os_boot: String,
    /// The reader's and the disk's faults, told to the server with each
    /// heartbeat.
    pub faults: Arc<crate::Faults>,
}

/// A failure of the kiosk's own queue, while syncing: tried again later.
fn local(e: anyhow::Error) -> CallError {
    CallError::Unreachable(format!("the local queue: {e:#}"))
}

impl Sync {
    /// What a request signed at `now` says of the kiosk's clocks.
    pub fn stamp(&self, now: &Now) -> Stamp {
        Stamp {
            kiosk: self.id.kiosk.as_str().to_owned(),
            time: now.wall.to_rfc3339_opts(SecondsFormat::Millis, true),
            clock: MonoReading {
                boot: self.boot,
                mono_us: now.mono_us,
            },
            sync: self.link.sync_point(),
        }
    }

    /// Takes the server's time from an answer to a request sent at `sent`:
    /// the link is up, and (unless the exchange was too slow to tell) the
    /// server's time at the exchange's midpoint is this boot's newest sync
    /// point, kept durably.
    async fn measure(&self, sent: &Now, server_time: DateTime<Utc>) {
        self.link.online.store(true, Ordering::Relaxed);
        self.link.tried.store(true, Ordering::Relaxed);
        *self.link.voided.lock().expect("link lock") = None;
        let back = self.clock.now();
        let took = back.mono_us.saturating_sub(sent.mono_us);
        if back.boot != self.os_boot || sent.boot != self.os_boot || took > SLOWEST_SYNC_US {
            return;
        }
        let half = took / 2;
        let offset = (server_time
            - (sent.wall + chrono::Duration::microseconds(i64::try_from(half).unwrap_or(0))))
        .num_milliseconds();
        let point = SyncPoint {
            boot: self.boot,
            mono_us: sent.mono_us + half,
            server_time,
        };
        self.link.offset_ms.store(offset, Ordering::Relaxed);
        *self.link.sync.lock().expect("link lock") = Some(point);
        if let Err(e) = self.queue.save_sync(&point, offset).await {
            tracing::warn!("cannot keep a clock sync point: {e:#}");
        }
    }

    /// One signed exchange: a request stamped now; its answer is a sync
    /// point. Refused as stale (held on the way, or the sync point it
    /// carried has been left behind by the server's clock), it is signed
    /// again once with the refusal's time as the sync point.
    async fn exchange<T: Answer>(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<T, CallError> {
        let mut retried = false;
        loop {
            let sent = self.clock.now();
            let result = self
                .server
                .signed(&self.key, &self.stamp(&sent), method, path, body.clone())
                .await;
            match result {
                Ok(answer) => {
                    let answer: T = answer;
                    self.measure(&sent, answer.server_time()).await;
                    return Ok(answer);
                }
                Err(CallError::Stale {
                    message,
                    server_time,
                }) if !retried => {
                    tracing::warn!("signing again: {message}");
                    self.measure(&sent, server_time).await;
                    retried = true;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The batch for `queued`, with the sync points the server places
    /// them by.
    pub async fn batch(&self, queued: &[Queued]) -> anyhow::Result<TapBatch> {
        Ok(TapBatch {
            taps: queued.iter().map(|q| q.signed.clone()).collect(),
            sync: self.queue.sync_for(queued).await?,
        })
    }

    /// Sends the oldest queued taps once; returns how many the server
    /// answered for.
    pub async fn push(&self) -> Result<usize, CallError> {
        let sent = self.queue.oldest(BATCH).await.map_err(local)?;
        if sent.is_empty() {
            return Ok(0);
        }
        // Taps of this boot are placed by its sync points: one is taken
        // first if there is none yet.
        if self.link.sync_point().is_none() {
            self.heartbeat(None).await?;
        }
        let batch = self.batch(&sent).await.map_err(local)?;
        let answer: BatchResponse = self
            .exchange(
                "POST",
                "taps",
                serde_json::to_vec(&batch).expect("taps serialize"),
            )
            .await?;
        for r in &answer.results {
            if let Some(reason) = &r.refused {
                tracing::warn!(tap = %r.tap, "the server refused a tap: {reason}");
            }
        }
        if !answer.gaps.is_empty() {
            tracing::warn!(gaps = ?answer.gaps, "the server lacks taps of these counters");
        }
        // The server's check-ins go into the stored roster before the taps
        // leave the queue, so a kiosk restarted offline still knows them.
        let mut book = self.book.lock().await;
        for r in &answer.results {
            if let (Some(o), Some(session), Some(person)) = (r.outcome, r.session, &r.person)
                && o.is_success()
                && let Ok(person) = lectern_domain::StaffNo::parse(person)
            {
                book.checked_in_at(session, &person);
            }
        }
        if let Some(r) = &book.roster {
            self.queue.save_roster(r).await.map_err(local)?;
        }
        drop(book);
        self.queue
            .acknowledge(&sent, &answer.results)
            .await
            .map_err(local)?;
        Ok(answer.results.len())
    }

    /// Sends every queued tap.
    /// Sends every queued tap; returns how many batches went.
    pub async fn drain(&self) -> Result<usize, CallError> {
        let mut batches = 0;
        while self.push().await? > 0 {
            batches += 1;
        }
        Ok(batches)
    }

    /// Downloads the roster (a delta when there is one already), and
    /// witnesses the log it shows.
    pub async fn refresh(&self) -> Result<(), CallError> {
        let since = self.book.lock().await.roster.as_ref().map(|r| r.as_of);
        let mut witnessed = self.queue.witnessed().await.map_err(local)?;
        let mut path = format!("roster?witnessed={}", witnessed.size());
        if let Some(s) = since {
            path.push_str(&format!("&since={s}"));
        }
        let mut roster: Roster = self.exchange("GET", &path, vec![]).await?;
        if let Some(view) = roster.log.take() {
            let me = lectern_tlog::note::NoteSigner::new(
                &lectern_kiosk_protocol::witness_name(self.id.kiosk.as_str()),
                lectern_tlog::note::Alg::Cosignature,
                &self.key.seed(),
            )
            .map_err(|e| local(e.into()))?;
            let now = u64::try_from(roster.server_time.timestamp()).unwrap_or(0);
            witnessed.see(&view, &me, now);
            self.queue.save_witnessed(&witnessed).await.map_err(local)?;
        }
        let mut book = self.book.lock().await;
        book.update(roster);
        if let Some(r) = &book.roster {
            self.queue.save_roster(r).await.map_err(local)?;
        }
        Ok(())
    }

    pub async fn heartbeat(&self, last_tap: Option<DateTime<Utc>>) -> Result<(), CallError> {
        let witnessed = self.queue.witnessed().await.map_err(local)?;
        let beat = Heartbeat {
            cosigned: witnessed.cosigned,
            witness_alarm: witnessed.alarm,
            version: self.version.to_owned(),
            backlog: self.queue.backlog().await.unwrap_or_default(),
            last_tap,
            clock_offset_ms: Some(self.link.offset_ms.load(Ordering::Relaxed)),
            reader_fault: self.faults.reader(),
            disk_fault: self.faults.disk(),
        };
        let _: HeartbeatResponse = self
            .exchange(
                "POST",
                "heartbeat",
                serde_json::to_vec(&beat).expect("heartbeats serialize"),
            )
            .await?;
        Ok(())
    }

    /// Runs until `stop` turns true: sends taps as they come, refreshes
    /// the roster and beats; waits out failures with backoff.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut backoff = FIRST_BACKOFF;
        let mut next_refresh = tokio::time::Instant::now();
        loop {
            if *stop.borrow() {
                return;
            }
            let round = async {
                let mut beat = false;
                if tokio::time::Instant::now() >= next_refresh {
                    self.refresh().await?;
                    beat = true;
                    next_refresh = tokio::time::Instant::now() + REFRESH;
                }
                // The heartbeat follows the taps it counts, so that the
                // backlog the server last heard is never one already sent
                // (a chair closing a session reads it).
                beat |= self.drain().await? > 0;
                if beat {
                    self.heartbeat(None).await?;
                }
                Ok::<(), CallError>(())
            };
            let wait = match round.await {
                Ok(()) => {
                    self.link.drained.notify_waiters();
                    backoff = FIRST_BACKOFF;
                    next_refresh.saturating_duration_since(tokio::time::Instant::now())
                }
                Err(e) => {
                    self.link.tried.store(true, Ordering::Relaxed);
                    let was_online = self.link.online.swap(false, Ordering::Relaxed);
                    if e.voided() {
                        // Said plainly, at the default level, each time it
                        // is newly so: nothing leaves this kiosk until it
                        // is enrolled again.
                        let mut voided = self.link.voided.lock().expect("link lock");
                        if voided.is_none() {
                            tracing::error!(
                                "the server refuses this kiosk's key: this kiosk was registered \
                                 again; enrol it with the new code (lectern-kiosk enrol); taps \
                                 are kept until then. {e}"
                            );
                        }
                        *voided = Some(e.to_string());
                        drop(voided);
                        self.link.drained.notify_waiters();
                    } else if was_online {
                        tracing::warn!("offline: {e}");
                    } else {
                        tracing::debug!("still offline: {e}");
                    }
                    let wait = jitter(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    wait
                }
            };
            tokio::select! {
                _ = stop.changed() => {}
                () = self.wake.notified(), if self.link.online.load(Ordering::Relaxed) => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// A wait between half and all of `d`.
fn jitter(d: Duration) -> Duration {
    let random = uuid::Uuid::new_v4().as_u128() as u64;
    let half = d / 2;
    half + Duration::from_nanos(random % (half.as_nanos() as u64).max(1))
}
