//! The raw record of card taps (one stream per kiosk, `kiosk-<id>`). Every
//! tap a kiosk reads is recorded here as `CardTapped`, whatever it came to —
//! an unknown card, no session now — so that an auditor can always see what
//! a reader saw. Its outcome is recorded on the session it was attributed to
//! (`SessionEvent::AttendanceRecorded` or `TapRejected`), if there was one.
//!
//! Each kiosk numbers its taps; a gap in the counter means taps were lost
//! between the reader and the log.
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

/// The server's decision on a tap, kept with the raw tap so that an
/// auditor sees both clocks and a retried tap gets the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TapDecision {
    /// The kiosk's time corrected by its clock offset as measured when the
    /// tap reached the server: the time lateness was judged by.
    pub at: DateTime<Utc>,
    /// Server clock minus kiosk clock, in milliseconds.
    pub clock_offset_ms: i64,
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

/// A kiosk's tap ledger as folded from its stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KioskLedger {
    pub taps: u64,
    pub last_counter: Option<u64>,
    /// Counter ranges (inclusive) never received.
    pub gaps: Vec<(u64, u64)>,
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

    /// Records a tap: it must be for the venue the kiosk is registered at,
    /// and the counter must move forward; a jump is kept as a gap.
    pub fn decide(&self, tap: &KioskEvent) -> Result<Vec<KioskEvent>> {
        let KioskEvent::CardTapped {
            counter,
            signature,
            venue,
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
        if let Some(last) = self.last_counter.filter(|last| counter <= last) {
            return Err(DomainError::Refused(format!(
                "tap counter {counter} does not follow {last}; the kiosk's counter went backwards"
            )));
        }
        Ok(vec![tap.clone()])
    }
}

impl Aggregate for KioskLedger {
    type Event = KioskEvent;

    fn apply(&mut self, event: &KioskEvent) -> Result<()> {
        let counter = match event {
            KioskEvent::CardTapped { counter, .. } => counter,
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
                return Ok(());
            }
        };
        if let Some(last) = self.last_counter {
            if *counter <= last {
                return Err(DomainError::Fold {
                    event: event.event_type(),
                    reason: format!("counter {counter} after {last}"),
                });
            }
            if *counter > last + 1 {
                self.gaps.push((last + 1, counter - 1));
            }
        }
        self.last_counter = Some(*counter);
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
