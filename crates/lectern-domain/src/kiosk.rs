//! The raw record of card taps (one stream per kiosk, `kiosk-<id>`). Every
//! tap a kiosk reads is recorded here as `CardTapped`, whatever it came to —
//! an unknown card, no session now — so that an auditor can always see what
//! a reader saw. Its outcome is recorded on the session it was attributed to
//! (`SessionEvent::AttendanceRecorded` or `TapRejected`), if there was one.
//!
//! Each kiosk numbers its taps; a gap in the counter means taps were lost
//! between the reader and the log. The numbering belongs to an enrolment: a
//! device enrolled anew counts from 1 again, and a counter that leaps more
//! than `MAX_COUNTER_JUMP` ahead is refused as an anomaly.
//!
//! A kiosk is registered for a venue by an administrator, which issues a
//! one-time enrolment code (the stream keeps only its hash); the kiosk
//! then enrols with that code and its Ed25519 public key. Registering a
//! kiosk again (a replaced device) issues a new code and voids the old
//! key until the kiosk enrols again.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::{Aggregate, DomainEvent};
use crate::error::{DomainError, Result};
use crate::session::{Session, SessionId, TapOutcome, VenueId};
use crate::values::{CardUid, StaffNo};

/// The stream of one kiosk's raw taps.
pub fn kiosk_stream(kiosk: &str) -> String {
    format!("kiosk-{kiosk}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum KioskEvent {
    CardTapped {
        /// The kiosk's id for the tap (UUID v7): the idempotency key.
        tap: Uuid,
        venue: VenueId,
        card: CardUid,
        /// The kiosk's clock when the card was read.
        kiosk_time: DateTime<Utc>,
        /// The kiosk's monotonic tap counter.
        counter: u64,
        /// Ed25519 signature over the tap's canonical bytes, hex.
        signature: String,
        /// What the server made of it, when it received it (absent in
        /// taps recorded without a server's decision, as generated ones).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        decision: Option<TapDecision>,
        /// The enrolment whose key signed it (1 = the kiosk's first) and
        /// whose counter sequence it continues; absent in taps recorded
        /// before kiosks were numbered by enrolment, which belong to the
        /// enrolment current when they were recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        enrolment: Option<u32>,
        /// The kiosk's monotonic clock when the card was read (signed with
        /// the tap); absent in taps from kiosks that did not send it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        clock: Option<MonoReading>,
    },
    KioskRegistered {
        venue: VenueId,
        /// SHA-256 of the one-time enrolment code, hex.
        code_hash: String,
        at: DateTime<Utc>,
    },
    KioskEnrolled {
        /// Ed25519 public key, hex.
        public_key: String,
        /// The kiosk program's version.
        version: String,
        at: DateTime<Utc>,
    },
}

/// A reading of a kiosk's monotonic clock: the kiosk's boot (numbered by
/// the kiosk, 1, 2, 3, … for its enrolment) and the microseconds its
/// monotonic clock showed. Unlike its wall clock, nobody sets it: within
/// one boot, the difference of two readings is the time between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonoReading {
    pub boot: u32,
    pub mono_us: u64,
}

/// A kiosk's clock sync point: at `mono_us` of `boot` (the midpoint of a
/// round trip, on the kiosk's monotonic clock) the server's answer said
/// `server_time`. A tap read at another reading of the same boot happened
/// at `server_time` plus the monotonic time between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncPoint {
    pub boot: u32,
    pub mono_us: u64,
    pub server_time: DateTime<Utc>,
}

impl SyncPoint {
    /// The server time of `reading` (of this point's boot) by this point.
    pub fn place(&self, reading: MonoReading) -> DateTime<Utc> {
        let micros = |us: u64| Duration::microseconds(i64::try_from(us).unwrap_or(i64::MAX));
        if reading.mono_us >= self.mono_us {
            self.server_time + micros(reading.mono_us - self.mono_us)
        } else {
            self.server_time - micros(self.mono_us - reading.mono_us)
        }
    }

    /// Of `points`, the one of `reading`'s boot nearest to it.
    pub fn nearest<'a>(
        points: impl IntoIterator<Item = &'a SyncPoint>,
        reading: MonoReading,
    ) -> Option<&'a SyncPoint> {
        points
            .into_iter()
            .filter(|p| p.boot == reading.boot)
            .min_by_key(|p| p.mono_us.abs_diff(reading.mono_us))
    }
}

/// How the server placed a tap in its own time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Placed {
    /// From the kiosk's sync point nearest the tap, of the boot it was
    /// read in: whatever the kiosk's wall clock showed.
    SyncPoint(SyncPoint),
    /// No sync point of the tap's boot was known: the kiosk's wall clock,
    /// corrected by the offset measured on the request that carried it.
    WallClock,
}

/// The server's decision on a tap, kept with the raw tap so that an
/// auditor sees both clocks and a retried tap gets the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TapDecision {
    /// When the card was read, in server time (`placed` says how it was
    /// found): the time lateness was judged by.
    pub at: DateTime<Utc>,
    /// Server time minus the kiosk's wall clock at the tap, milliseconds.
    pub clock_offset_ms: i64,
    /// How `at` was found; absent in taps recorded before sync points,
    /// which were placed by the corrected wall clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placed: Option<Placed>,
    /// The card holder, when the card is known.
    pub person: Option<StaffNo>,
    /// The session the tap was attributed to, if any was open at the venue.
    pub session: Option<SessionId>,
    pub outcome: TapOutcome,
}

impl DomainEvent for KioskEvent {
    fn event_type(&self) -> &'static str {
        match self {
            KioskEvent::CardTapped { .. } => "CardTapped",
            KioskEvent::KioskRegistered { .. } => "KioskRegistered",
            KioskEvent::KioskEnrolled { .. } => "KioskEnrolled",
        }
    }
}

/// The largest step a kiosk's counter may take between two taps the log
/// holds: a tap further ahead (a corrupted or forged counter, a billion) is
/// refused as an anomaly instead of opening a gap that would refuse every
/// real tap after it as "backwards".
pub const MAX_COUNTER_JUMP: u64 = 100_000;

/// One enrolment's counter sequence: the key that signs its taps, its last
/// counter and the ranges (inclusive) it never delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sequence {
    pub key: String,
    pub last_counter: Option<u64>,
    pub gaps: Vec<(u64, u64)>,
}

impl Sequence {
    fn missing(&self) -> u64 {
        missing_in(&self.gaps)
    }
}

/// How many counters the ranges (inclusive) add up to.
fn missing_in(gaps: &[(u64, u64)]) -> u64 {
    gaps.iter().map(|(a, b)| b - a + 1).sum()
}

/// A kiosk's tap ledger as folded from its stream. Counters belong to an
/// enrolment: a device enrolled anew (a replaced box) starts its own
/// sequence at 1, its gaps are its own, and the taps a replaced device
/// still holds, signed by its key, continue its own sequence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KioskLedger {
    pub taps: u64,
    /// The last counter of the current enrolment.
    pub last_counter: Option<u64>,
    /// Counter ranges (inclusive) of the current enrolment never received.
    pub gaps: Vec<(u64, u64)>,
    /// The key of the current enrolment's sequence (kept while the kiosk is
    /// registered again and not yet enrolled).
    pub current_key: Option<String>,
    /// The sequences of earlier enrolments, oldest first (enrolment 1 is
    /// the first; the current one is `earlier.len() + 1`).
    pub earlier: Vec<Sequence>,
    /// The venue it is registered for.
    pub venue: Option<VenueId>,
    /// The hash of the enrolment code issued and not yet used.
    pub pending_code: Option<String>,
    /// The key it enrolled with (none until it enrols, and again after it
    /// is registered anew).
    pub public_key: Option<String>,
    pub version: Option<String>,
}

fn hex_of_len(what: &'static str, value: &str, len: usize) -> Result<()> {
    if value.len() != len || !value.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(DomainError::invalid(
            what,
            value,
            format!("must be {len} hexadecimal digits"),
        ));
    }
    Ok(())
}

impl KioskLedger {
    /// Registers the kiosk for `venue` with a new one-time code (its hash).
    pub fn register(
        &self,
        venue: &VenueId,
        code_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<KioskEvent>> {
        hex_of_len("enrolment code hash", code_hash, 64)?;
        Ok(vec![KioskEvent::KioskRegistered {
            venue: venue.clone(),
            code_hash: code_hash.to_ascii_lowercase(),
            at,
        }])
    }

    /// Enrols `kiosk` (this ledger's) with the code it was registered with
    /// (its hash) and its public key; the code is then used up.
    pub fn enrol(
        &self,
        kiosk: &str,
        code_hash: &str,
        public_key: &str,
        version: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<KioskEvent>> {
        if self.venue.is_none() {
            return Err(DomainError::not_found("kiosk", kiosk));
        }
        if self.pending_code.as_deref() != Some(code_hash.to_ascii_lowercase().as_str()) {
            return Err(DomainError::Refused(format!(
                "the enrolment code is not the one issued for kiosk {kiosk:?}, or it was used \
                 already; an administrator registers the kiosk again for a new code"
            )));
        }
        hex_of_len("kiosk public key", public_key, 64)?;
        Ok(vec![KioskEvent::KioskEnrolled {
            public_key: public_key.to_ascii_lowercase(),
            version: version.to_owned(),
            at,
        }])
    }

    /// The current enrolment's number (1 = the first; 0 before any).
    pub fn enrolment(&self) -> u32 {
        u32::try_from(self.earlier.len()).unwrap_or(u32::MAX)
            + u32::from(self.current_key.is_some())
    }

    /// The enrolment whose key is `key` (hex), if the kiosk ever enrolled
    /// with it.
    pub fn enrolment_of(&self, key: &str) -> Option<u32> {
        if self.current_key.as_deref() == Some(key) {
            return Some(self.enrolment());
        }
        self.earlier
            .iter()
            .position(|s| s.key == key)
            .and_then(|i| u32::try_from(i + 1).ok())
    }

    /// The last counter of enrolment `n` (the current one for `None`).
    fn last_of(&self, n: Option<u32>) -> Result<Option<u64>> {
        match n {
            None => Ok(self.last_counter),
            Some(n) if n == self.enrolment() => Ok(self.last_counter),
            Some(n) => self
                .earlier
                .get(usize::try_from(n).unwrap_or(usize::MAX).wrapping_sub(1))
                .map(|s| s.last_counter)
                .ok_or_else(|| {
                    DomainError::invalid(
                        "tap enrolment",
                        n.to_string(),
                        "the kiosk has no such enrolment",
                    )
                }),
        }
    }

    /// Records a tap: it must be for the venue the kiosk is registered at,
    /// and the counter must move forward in its enrolment's sequence; a
    /// jump is kept as a gap, a leap past `MAX_COUNTER_JUMP` refused.
    pub fn decide(&self, tap: &KioskEvent) -> Result<Vec<KioskEvent>> {
        let KioskEvent::CardTapped {
            counter,
            signature,
            venue,
            enrolment,
            ..
        } = tap
        else {
            return Err(DomainError::invalid(
                "tap",
                tap.event_type(),
                "is not a card tap",
            ));
        };
        if signature.is_empty() || !signature.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(DomainError::invalid(
                "tap signature",
                signature.as_str(),
                "must be hexadecimal",
            ));
        }
        if let Some(registered) = self.venue.as_ref().filter(|v| *v != venue) {
            return Err(DomainError::Refused(format!(
                "the tap is for venue {:?} but the kiosk is registered at {:?}",
                venue.as_str(),
                registered.as_str()
            )));
        }
        let last = self.last_of(*enrolment)?;
        if let Some(last) = last.filter(|last| counter <= last) {
            return Err(DomainError::Refused(format!(
                "tap counter {counter} does not follow {last}; the kiosk's counter went backwards"
            )));
        }
        let from = last.unwrap_or(0);
        if counter - from > MAX_COUNTER_JUMP {
            return Err(DomainError::Refused(format!(
                "tap counter {counter} jumps more than {MAX_COUNTER_JUMP} past {from}: a counter \
                 anomaly, refused so that the kiosk's next real taps are still taken"
            )));
        }
        Ok(vec![tap.clone()])
    }
}

impl KioskLedger {
    /// Taps missing from the current enrolment's counter sequence.
    pub fn missing(&self) -> u64 {
        missing_in(&self.gaps)
    }

    /// Taps missing from this kiosk's sequences, every enrolment's.
    pub fn missing_ever(&self) -> u64 {
        self.earlier.iter().map(Sequence::missing).sum::<u64>() + self.missing()
    }
}

impl Aggregate for KioskLedger {
    type Event = KioskEvent;

    fn apply(&mut self, event: &KioskEvent) -> Result<()> {
        let (counter, enrolment) = match event {
            KioskEvent::CardTapped {
                counter, enrolment, ..
            } => (counter, *enrolment),
            KioskEvent::KioskRegistered {
                venue, code_hash, ..
            } => {
                self.venue = Some(venue.clone());
                self.pending_code = Some(code_hash.clone());
                self.public_key = None;
                return Ok(());
            }
            KioskEvent::KioskEnrolled {
                public_key,
                version,
                ..
            } => {
                self.pending_code = None;
                self.public_key = Some(public_key.clone());
                self.version = Some(version.clone());
                // A new enrolment (a new key: a replaced or reset device)
                // counts from 1 again; the old sequence is kept for the
                // taps its device still holds.
                if let Some(key) = self.current_key.take() {
                    self.earlier.push(Sequence {
                        key,
                        last_counter: self.last_counter.take(),
                        gaps: std::mem::take(&mut self.gaps),
                    });
                }
                self.current_key = Some(public_key.clone());
                return Ok(());
            }
        };
        let current = self.enrolment();
        let (last_counter, gaps) = match enrolment {
            Some(n) if n != current => {
                let i = usize::try_from(n).unwrap_or(usize::MAX).wrapping_sub(1);
                let Some(s) = self.earlier.get_mut(i) else {
                    return Err(DomainError::Fold {
                        event: event.event_type(),
                        reason: format!("enrolment {n} of a kiosk enrolled {current} times"),
                    });
                };
                (&mut s.last_counter, &mut s.gaps)
            }
            _ => (&mut self.last_counter, &mut self.gaps),
        };
        if let Some(last) = *last_counter
            && *counter <= last
        {
            return Err(DomainError::Fold {
                event: event.event_type(),
                reason: format!("counter {counter} after {last}"),
            });
        }
        // An enrolment counts from 1: what its first tap skips is missing.
        let last = last_counter.unwrap_or(0);
        if *counter > last + 1 {
            gaps.push((last + 1, counter - 1));
        }
        *last_counter = Some(*counter);
        self.taps += 1;
        Ok(())
    }
}

/// The session a tap at `venue` at `at` belongs to: of the sessions there
/// open for check-in at that moment, the one starting nearest to `at`.
pub fn pick_session<'a>(
    sessions: impl IntoIterator<Item = &'a Session>,
    venue: &VenueId,
    at: DateTime<Utc>,
) -> Option<&'a Session> {
    sessions
        .into_iter()
        .filter(|s| s.schedule.as_ref().is_some_and(|x| &x.venue == venue) && s.accepts_taps_at(at))
        .min_by_key(|s| {
            let start = s.schedule.as_ref().expect("filtered").window.start();
            (start - at).num_seconds().abs()
        })
}

/// How long after a session ends a tap at its venue with no session open is
/// answered "the session is over" rather than "no session now".
pub const OVER_FOR: Duration = Duration::hours(4);

/// Whether a session that ended at `ended` is over, not long since, at `at`.
pub fn recently_over(ended: DateTime<Utc>, at: DateTime<Utc>) -> bool {
    ended < at && at - ended <= OVER_FOR
}

/// The session at `venue` that ended most recently before `at`, within
/// `OVER_FOR`: for a tap no session takes, what to answer.
pub fn ended_session<'a>(
    sessions: impl IntoIterator<Item = &'a Session>,
    venue: &VenueId,
    at: DateTime<Utc>,
) -> Option<&'a Session> {
    sessions
        .into_iter()
        .filter(|s| !s.cancelled)
        .filter_map(|s| s.schedule.as_ref().map(|x| (s, x)))
        .filter(|(_, x)| &x.venue == venue && recently_over(x.window.end(), at))
        .max_by_key(|(_, x)| x.window.end())
        .map(|(s, _)| s)
}
