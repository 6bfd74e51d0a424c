//! Sending queued taps, refreshing the roster, heartbeats: the kiosk's
//! conversation with the server, in the background of the taps.
//!
//! Taps go oldest first in batches; a tap leaves the queue only when the
//! server answered for it. When the server cannot be reached the kiosk
//! waits with capped exponential backoff and jitter, and keeps taking taps.
//! Every exchange measures the kiosk's clock offset (server time minus the
//! midpoint of the exchange on the kiosk's clock).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lectern_kiosk_protocol::{
    BatchResponse, Heartbeat, HeartbeatResponse, KioskKey, Roster, TapBatch,
};
use tokio::sync::{Mutex, Notify, watch};

use crate::client::{CallError, Server};
use crate::decide::Book;
use crate::queue::{Identity, Queue};

/// Taps per request.
pub const BATCH: usize = 200;
/// Backoff after a failed exchange: from `FIRST_BACKOFF`, doubling, at most
/// `MAX_BACKOFF`, each wait randomised between half and all of it.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often the roster is refreshed and a heartbeat sent.
const REFRESH: Duration = Duration::from_secs(30);

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
    /// Server clock minus kiosk clock, milliseconds.
    pub offset_ms: AtomicI64,
    /// Why the server refuses this kiosk's key, while it does (the kiosk was
    /// registered again: it must be enrolled with the new code).
    pub voided: std::sync::Mutex<Option<String>>,
}

impl Link {
    /// Why the server refuses this kiosk's key, if it does.
    pub fn voided(&self) -> Option<String> {
        self.voided.lock().expect("link lock").clone()
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
}

impl Sync {
    fn measure(&self, sent: DateTime<Utc>, server_time: DateTime<Utc>) {
        let back = Utc::now();
        let midpoint = sent + (back - sent) / 2;
        self.link.offset_ms.store(
            (server_time - midpoint).num_milliseconds(),
            Ordering::Relaxed,
        );
        self.link.online.store(true, Ordering::Relaxed);
        self.link.tried.store(true, Ordering::Relaxed);
        *self.link.voided.lock().expect("link lock") = None;
    }

    /// Sends the oldest queued taps once; returns how many the server
    /// answered for.
    pub async fn push(&self) -> Result<usize, CallError> {
        let sent = self
            .queue
            .oldest(BATCH)
            .await
            .map_err(|e| CallError::Unreachable(format!("the local queue: {e:#}")))?;
        if sent.is_empty() {
            return Ok(0);
        }
        let batch = TapBatch {
            taps: sent.iter().map(|q| q.signed.clone()).collect(),
        };
        let at = Utc::now();
        let answer: BatchResponse = self
            .server
            .signed(
                self.id.kiosk.as_str(),
                &self.key,
                "POST",
                "taps",
                serde_json::to_vec(&batch).expect("taps serialize"),
            )
            .await?;
        self.measure(at, answer.server_time);
        for r in &answer.results {
            if let Some(reason) = &r.refused {
                tracing::warn!(tap = %r.tap, "the server refused a tap: {reason}");
            }
        }
        if !answer.gaps.is_empty() {
            tracing::warn!(gaps = ?answer.gaps, "the server lacks taps of these counters");
        }
        let local = |e: anyhow::Error| CallError::Unreachable(format!("the local queue: {e:#}"));
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

    /// Downloads the roster (a delta when there is one already).
    pub async fn refresh(&self) -> Result<(), CallError> {
        let since = self.book.lock().await.roster.as_ref().map(|r| r.as_of);
        let path = since.map_or("roster".to_owned(), |s| format!("roster?since={s}"));
        let at = Utc::now();
        let roster: Roster = self
            .server
            .signed(self.id.kiosk.as_str(), &self.key, "GET", &path, vec![])
            .await?;
        self.measure(at, roster.server_time);
        let mut book = self.book.lock().await;
        book.update(roster);
        if let Some(r) = &book.roster {
            self.queue
                .save_roster(r)
                .await
                .map_err(|e| CallError::Unreachable(format!("the local queue: {e:#}")))?;
        }
        Ok(())
    }

    pub async fn heartbeat(&self, last_tap: Option<DateTime<Utc>>) -> Result<(), CallError> {
        let beat = Heartbeat {
            version: self.version.to_owned(),
            backlog: self.queue.backlog().await.unwrap_or_default(),
            last_tap,
            clock_offset_ms: Some(self.link.offset_ms.load(Ordering::Relaxed)),
        };
        let at = Utc::now();
        let answer: HeartbeatResponse = self
            .server
            .signed(
                self.id.kiosk.as_str(),
                &self.key,
                "POST",
                "heartbeat",
                serde_json::to_vec(&beat).expect("heartbeats serialize"),
            )
            .await?;
        self.measure(at, answer.server_time);
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
