//! `lectern-kiosk`: the program beside a lecture hall's card reader.
//!
//! A card read is debounced, decided locally from the downloaded roster
//! (`decide`) at the server time the kiosk's latest sync point gives
//! (`clock`), numbered, signed with its wall and monotonic clock readings
//! and committed to the local queue (`queue`) — only then is the result
//! shown. In the background (`sync`)
//! queued taps go to the server oldest first, and leave the queue only
//! when the server answered for them; the roster is refreshed by delta;
//! heartbeats report the backlog. With the network down the kiosk keeps
//! deciding and queueing.
//!
//! # Layout
//! - `reader`: card readers (simulator script, keyboard wedge, libnfc
//!   with the `nfc` feature: `nfc`).
//! - `decide`: the local decision, from the roster.
//! - `queue`: the durable local state (SQLite, WAL, synchronous=FULL).
//! - `clock`: the wall clock and the boot's monotonic clock.
//! - `client`, `sync`: the signed conversation with `/kiosk/v1`.
//! - `witness`: the kiosk as a witness of the server's log (checkpoints
//!   checked by consistency proof, cosigned, an alarm when one does not
//!   extend what it or another kiosk saw).
//! - `text`: what the kiosk says, in Chinese and English.
//! - `cli`: the `lectern-kiosk` command.

pub mod cli;
pub mod client;
pub mod clock;
pub mod decide;
#[cfg(feature = "nfc")]
pub mod nfc;
pub mod queue;
pub mod reader;
pub mod screen;
pub mod sync;
pub mod text;
pub mod witness;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use lectern_domain::CardUid;
use lectern_kiosk_protocol::{KioskKey, MonoReading};
use serde_json::json;
use tokio::sync::{Mutex, Notify, watch};

use crate::client::Server;
use crate::clock::{KioskClock, Now};
use crate::decide::Book;
use crate::queue::{Identity, Queue};
use crate::reader::Reader;
use crate::sync::{Link, Sync};

/// The kiosk program's version, reported at enrolment and in heartbeats.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// How `run` behaves.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The same card read again within this is the same tap.
    pub debounce: Duration,
    /// One JSON line per tap on stdout instead of text for people.
    pub headless: bool,
    /// When the reader ends, wait until every queued tap is acknowledged.
    pub until_synced: bool,
}

/// What is wrong with the kiosk's own parts, for the screen: the card
/// reader (unplugged, not found) and the disk its queue is on (full,
/// read-only). `None`: fine.
#[derive(Debug, Default)]
pub struct Faults {
    pub reader: std::sync::Mutex<Option<String>>,
    pub disk: std::sync::Mutex<Option<String>>,
}

impl Faults {
    pub fn set_reader(&self, fault: Option<String>) {
        *self.reader.lock().expect("faults lock") = fault;
    }

    pub fn set_disk(&self, fault: Option<String>) {
        *self.disk.lock().expect("faults lock") = fault;
    }

    pub fn reader(&self) -> Option<String> {
        self.reader.lock().expect("faults lock").clone()
    }

    pub fn disk(&self) -> Option<String> {
        self.disk.lock().expect("faults lock").clone()
    }
}

/// A running kiosk's state.
pub struct Kiosk {
    pub queue: Queue,
    pub id: Identity,
    pub key: Arc<KioskKey>,
    pub book: Arc<Mutex<Book>>,
    pub link: Arc<Link>,
    pub wake: Arc<Notify>,
    pub faults: Arc<Faults>,
    pub clock: KioskClock,
    /// This boot's number, and the kernel's id of it.
    pub boot: u32,
    pub os_boot: String,
}

impl Kiosk {
    /// Opens an enrolled kiosk's state on the system's clocks.
    pub async fn open(queue: Queue) -> Result<Kiosk> {
        Kiosk::open_with(queue, KioskClock::system()).await
    }

    /// Opens an enrolled kiosk's state: its identity, the stored roster,
    /// the check-ins of taps still queued, and this boot's latest sync
    /// point (a kiosk restarted without a reboot keeps its clock).
    pub async fn open_with(queue: Queue, clock: KioskClock) -> Result<Kiosk> {
        let (id, key) = queue.identity().await?.context(
            "this kiosk is not enrolled: run `lectern-kiosk enrol --server URL --kiosk ID --code CODE`",
        )?;
        let mut book = Book::default();
        if let Some(roster) = queue.roster().await? {
            book.update(roster);
        }
        for q in queue.oldest(usize::MAX >> 1).await? {
            book.seen(&q.local);
        }
        let os_boot = clock.now().boot;
        let boot = queue.boot(&os_boot).await?;
        let link = Link::default();
        *link.sync.lock().expect("link lock") = queue.latest_sync(boot).await?;
        link.offset_ms
            .store(queue.latest_offset().await?.unwrap_or(0), Ordering::Relaxed);
        Ok(Kiosk {
            queue,
            id,
            key: Arc::new(key),
            book: Arc::new(Mutex::new(book)),
            link: Arc::new(link),
            wake: Arc::default(),
            faults: Arc::default(),
            clock,
            boot,
            os_boot,
        })
    }

    /// The server's time at `now`, as the kiosk can best tell: by this
    /// boot's latest sync point and the monotonic clock; before the boot
    /// has one, the wall clock corrected by the offset last measured.
    pub fn server_time(&self, now: &Now) -> DateTime<Utc> {
        match self.link.sync_point() {
            Some(p) if now.boot == self.os_boot => p.place(MonoReading {
                boot: self.boot,
                mono_us: now.mono_us,
            }),
            _ => {
                now.wall
                    + chrono::Duration::milliseconds(self.link.offset_ms.load(Ordering::Relaxed))
            }
        }
    }

    pub fn sync(&self) -> Result<Sync> {
        Ok(Sync {
            queue: self.queue.clone(),
            server: Server::parse(&self.id.server)?,
            id: self.id.clone(),
            key: self.key.clone(),
            book: self.book.clone(),
            link: self.link.clone(),
            wake: self.wake.clone(),
            version: VERSION,
            clock: self.clock.clone(),
            boot: self.boot,
            os_boot: self.os_boot.clone(),
            faults: self.faults.clone(),
        })
    }

    /// What the screen shows now, with `last` as the last result.
    pub async fn view(&self, last: Option<screen::Shown>) -> Result<screen::View> {
        let now = self.server_time(&self.clock.now());
        let book = self.book.lock().await;
        let session = book.session_at(now).map(|s| {
            let (checked_in, expected) = book.counts(s);
            screen::OnScreenSession {
                title: s.title.clone(),
                starts_at: s.starts_at,
                ends_at: s.ends_at,
                checked_in,
                expected,
            }
        });
        drop(book);
        Ok(screen::View {
            venue: self.id.venue.as_str().to_owned(),
            now,
            session,
            last,
            link: match (
                self.link.online.load(Ordering::Relaxed),
                self.link.tried.load(Ordering::Relaxed),
                self.link.voided().is_some(),
            ) {
                (_, _, true) => screen::Connection::Voided,
                (true, _, _) => screen::Connection::Online,
                (false, false, _) => screen::Connection::Connecting,
                (false, true, _) => screen::Connection::Offline,
            },
            backlog: self.queue.backlog().await.unwrap_or_default(),
            reader_fault: self.faults.reader(),
            disk_fault: self.faults.disk(),
        })
    }

    /// Takes one card read: decides, queues durably, then returns the line
    /// to show. A tap the queue cannot take (a full or read-only disk) is
    /// an error with no result: the kiosk shows the fault, never an answer
    /// it did not keep.
    pub async fn tap(&self, card: CardUid) -> Result<serde_json::Value> {
        let read = Instant::now();
        let now = self.clock.now();
        let local = self.book.lock().await.decide(&card, self.server_time(&now));
        let reading = MonoReading {
            boot: self.boot,
            mono_us: now.mono_us,
        };
        let signed = match self
            .queue
            .record(&self.id, &self.key, card, (now.wall, reading), &local)
            .await
        {
            Ok(signed) => {
                self.faults.set_disk(None);
                signed
            }
            Err(e) => {
                let fault = format!("{e:#}");
                tracing::error!("the queue cannot take a tap, nothing was shown for it: {fault}");
                self.faults.set_disk(Some(fault));
                return Err(e);
            }
        };
        self.book.lock().await.seen(&local);
        self.wake.notify_one();
        let (zh, en) = text::outcome(local.outcome);
        Ok(json!({
            "tap": signed.tap.id,
            "counter": signed.tap.counter,
            "card": signed.tap.card,
            "kiosk_time": signed.tap.kiosk_time,
            "outcome": local.outcome,
            "success": local.outcome.is_success(),
            "person": local.person,
            "name": local.name,
            "session": local.session,
            "title": local.title,
            "zh": zh,
            "en": en,
            "online": self.link.online.load(Ordering::Relaxed),
            "latency_us": read.elapsed().as_micros() as u64,
        }))
    }
}

/// Reads cards until the reader ends (or Ctrl-C), syncing in the
/// background; shows each result on the full screen, or as a JSON line
/// with `headless`.
pub async fn run(kiosk: Kiosk, mut reader: Reader, opts: RunOptions) -> Result<()> {
    // Listening from the start, before the reader reads anything, so that
    // no signal is missed.
    let stop_asked = stop_signal();
    tokio::pin!(stop_asked);
    let (stop, stopped) = watch::channel(false);
    let background = tokio::spawn(kiosk.sync()?.run(stopped));
    // The reader runs on its own, so that redrawing the clock never cuts
    // a simulator's pause or a half-read line short.
    let (cards, mut read) = tokio::sync::mpsc::channel::<Result<CardUid>>(64);
    tokio::spawn(async move {
        loop {
            let card = reader.next().await.transpose();
            let end = !matches!(card, Some(Ok(_)));
            if let Some(card) = card
                && cards.send(card).await.is_err()
            {
                return;
            }
            if end {
                return;
            }
        }
    });
    let mut screen = if opts.headless {
        None
    } else {
        Some(screen::Screen::start().context("cannot use the terminal as a screen")?)
    };
    let mut shown: Option<screen::Shown> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last: Option<(CardUid, Instant)> = None;
    let result = async {
        let mut stopping = false;
        loop {
            tokio::select! {
                card = read.recv() => {
                    let Some(card) = card.transpose()? else { break };
                    if let Some((previous, at)) = &last
                        && *previous == card
                        && at.elapsed() < opts.debounce
                    {
                        continue;
                    }
                    last = Some((card.clone(), Instant::now()));
                    let line = match kiosk.tap(card).await {
                        Ok(line) => line,
                        Err(e) => {
                            // Not kept, so not answered: the fault is shown
                            // instead, and the kiosk goes on reading.
                            let (zh, en) = text::NOT_SAVED;
                            match screen.as_mut() {
                                None => {
                                    let failed = json!({
                                        "saved": false, "error": format!("{e:#}"),
                                        "zh": zh, "en": en,
                                    });
                                    let mut out = std::io::stdout().lock();
                                    writeln!(out, "{failed}")?;
                                    out.flush()?;
                                }
                                Some(s) => {
                                    shown = None;
                                    s.clear()?;
                                    s.draw(&kiosk.view(None).await?)?;
                                }
                            }
                            continue;
                        }
                    };
                    match screen.as_mut() {
                        None => {
                            let mut out = std::io::stdout().lock();
                            writeln!(out, "{line}")?;
                            out.flush()?;
                        }
                        Some(s) => {
                            shown = Some(screen::Shown {
                                outcome: serde_json::from_value(line["outcome"].clone())?,
                                name: line["name"].as_str().map(str::to_owned),
                                at: Utc::now(),
                            });
                            s.clear()?;
                            s.draw(&kiosk.view(shown.clone()).await?)?;
                        }
                    }
                }
                _ = tick.tick(), if screen.is_some() => {
                    if let Some(s) = screen.as_mut() {
                        s.draw(&kiosk.view(shown.clone()).await?)?;
                    }
                }
                () = &mut stop_asked => {
                    stopping = true;
                    break;
                }
            }
        }
        if opts.until_synced && !stopping {
            loop {
                // Listen before looking, so a drain between the two is not
                // missed.
                let drained = kiosk.link.drained.notified();
                tokio::pin!(drained);
                drained.as_mut().enable();
                if kiosk.queue.backlog().await? == 0 {
                    break;
                }
                if let Some(why) = kiosk.link.voided() {
                    anyhow::bail!(
                        "this kiosk was registered again: enrol it with the new code \
                         (lectern-kiosk enrol); {} taps are kept until then ({why})",
                        kiosk.queue.backlog().await?
                    );
                }
                kiosk.wake.notify_one();
                tokio::select! {
                    () = drained => {}
                    () = &mut stop_asked => break,
                }
            }
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    drop(screen);
    let _ = stop.send(true);
    background.await.context("the sync task failed")?;
    result
}

/// Ctrl-C, or SIGTERM (a service manager stopping the kiosk). The
/// handlers are installed at once, when this is called, so that a signal
/// that comes before the returned future is first polled still counts.
fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt()).ok();
        let terminate = signal(SignalKind::terminate()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt) => {}
                () = wait(terminate) => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queue that cannot take a tap (here, closed under the kiosk, as a
    /// failed disk leaves it) gives no result: the tap is an error and the
    /// disk fault is on the screen.
    #[tokio::test]
    async fn a_tap_the_queue_cannot_keep_shows_a_disk_fault_not_a_result() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::open(&dir.path().join("kiosk.db")).await.unwrap();
        let id = Identity {
            kiosk: lectern_domain::Slug::parse("hall-a-1").unwrap(),
            venue: lectern_domain::Slug::parse("hall-a").unwrap(),
            server: "http://127.0.0.1:9".into(),
        };
        queue
            .set_identity(&id, &KioskKey::generate().unwrap())
            .await
            .unwrap();
        let kiosk = Kiosk::open(queue.clone()).await.unwrap();
        let card = CardUid::parse("04A1B2C3").unwrap();
        let first = kiosk.tap(card.clone()).await.unwrap();
        assert_eq!(first["counter"], 1);
        assert_eq!(kiosk.view(None).await.unwrap().disk_fault, None);

        queue.close().await;
        assert!(kiosk.tap(card).await.is_err());
        let view = kiosk.view(None).await.unwrap();
        assert!(view.disk_fault.is_some(), "{view:?}");
        assert_eq!(view.last, None);
    }
}
