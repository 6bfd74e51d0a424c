//! The raw record of card taps (one stream per kiosk, `kiosk-<id>`). Every
//! tap a kiosk reads is recorded here as `CardTapped`, whatever it came to —
//! an unknown card, no session now — so that an auditor can always see what
//! a reader saw. Its outcome is recorded on the session it was attributed to
//! (`SessionEvent::AttendanceRecorded` or `TapRejected`), if there was one.
//!
//! Each kiosk numbers its taps; a gap in the counter means taps were lost
//! between the reader and the log.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::{Aggregate, DomainEvent};
use crate::error::{DomainError, Result};
use crate::session::{Session, VenueId};
use crate::values::CardUid;

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
    },
}

impl DomainEvent for KioskEvent {
    fn event_type(&self) -> &'static str {
        match self {
            KioskEvent::CardTapped { .. } => "CardTapped",
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
}

impl KioskLedger {
    /// Records a tap: the counter must move forward; a jump is kept as a gap.
    pub fn decide(&self, tap: &KioskEvent) -> Result<Vec<KioskEvent>> {
        let KioskEvent::CardTapped {
            counter, signature, ..
        } = tap;
        if signature.is_empty() || !signature.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(DomainError::invalid(
                "tap signature",
                signature.as_str(),
                "must be hexadecimal",
            ));
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
        let KioskEvent::CardTapped { counter, .. } = event;
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
