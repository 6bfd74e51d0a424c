//! The messages of `/kiosk/v1`, as JSON bodies.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use lectern_domain::{
    AttendanceStatus, CardUid, CheckInRules, MonoReading, RejectReason, Slug, StaffNo, SyncPoint,
    TapOutcome,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A card read, as the kiosk records it in its queue before it shows the
/// result. Identifiers and the card are validated types, so no field can
/// hold the newline that separates the canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tap {
    /// Made by the kiosk (UUID v7): the idempotency key.
    pub id: Uuid,
    pub kiosk: Slug,
    pub venue: Slug,
    pub card: CardUid,
    /// The kiosk's tap counter: 1, 2, 3, … with no gaps.
    pub counter: u64,
    /// The kiosk's wall clock when the card was read, to the microsecond.
    pub kiosk_time: DateTime<Utc>,
    /// The kiosk's monotonic clock when the card was read: with a sync
    /// point of the same boot, it places the tap in server time whatever
    /// the wall clock showed. Absent from taps of kiosks that do not send
    /// it (those are placed by the corrected wall clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<MonoReading>,
}

impl Tap {
    /// A new tap with a fresh UUID v7; the time is kept to the microsecond
    /// (what the canonical bytes hold).
    pub fn new(
        kiosk: Slug,
        venue: Slug,
        card: CardUid,
        counter: u64,
        kiosk_time: DateTime<Utc>,
    ) -> Tap {
        Tap {
            id: Uuid::now_v7(),
            kiosk,
            venue,
            card,
            counter,
            kiosk_time: kiosk_time.trunc_subsecs(6),
            clock: None,
        }
    }

    /// The tap, read at `reading` of the kiosk's monotonic clock.
    pub fn with_clock(mut self, reading: MonoReading) -> Tap {
        self.clock = Some(reading);
        self
    }

    /// The bytes the tap's signature covers: a version line, then every
    /// field on its own line in a fixed order; the time in RFC 3339, UTC,
    /// with microseconds. A tap with a monotonic reading is version 2 and
    /// ends with its boot and microseconds; one without is version 1.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let fields = format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            self.id.hyphenated(),
            self.kiosk.as_str(),
            self.venue.as_str(),
            self.card.as_str(),
            self.counter,
            self.kiosk_time.to_rfc3339_opts(SecondsFormat::Micros, true)
        );
        match self.clock {
            None => format!("lectern-tap-v1\n{fields}"),
            Some(r) => format!("lectern-tap-v2\n{fields}\n{}\n{}", r.boot, r.mono_us),
        }
        .into_bytes()
    }
}

/// A tap with the kiosk's Ed25519 signature over its canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTap {
    #[serde(flatten)]
    pub tap: Tap,
    /// 64 bytes, hex.
    pub signature: String,
}

/// `POST /kiosk/v1/enrol`: a kiosk presents the one-time code an
/// administrator was given when registering it, with its new public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolRequest {
    pub kiosk: Slug,
    pub code: String,
    /// Ed25519 public key, 32 bytes, hex.
    pub public_key: String,
    /// The kiosk program's version.
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolResponse {
    pub kiosk: Slug,
    pub venue: Slug,
    pub server_time: DateTime<Utc>,
}

/// `POST /kiosk/v1/taps`: queued taps, oldest first, with the kiosk's
/// sync points nearest to them (of the boots they were read in), by which
/// the server places each in its own time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TapBatch {
    pub taps: Vec<SignedTap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync: Vec<SyncPoint>,
}

/// What a tap came to, as the kiosk shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Present,
    Late,
    /// Checked in before; the earlier status stands.
    AlreadyCheckedIn,
    UnknownCard,
    RevokedCard,
    /// No session at this venue is open for check-in now.
    NoSessionNow,
    SessionOver,
    /// The person is not in the session's audience.
    NotOnList,
    /// Only a kiosk's own answer, before it has any roster to decide by
    /// (a new kiosk not yet online): the tap is queued and the server
    /// decides it.
    Pending,
}

impl Outcome {
    /// Whether the kiosk shows it as a success.
    pub fn is_success(self) -> bool {
        matches!(
            self,
            Outcome::Present | Outcome::Late | Outcome::AlreadyCheckedIn
        )
    }
}

impl From<&TapOutcome> for Outcome {
    fn from(o: &TapOutcome) -> Outcome {
        match o {
            TapOutcome::Recorded(AttendanceStatus::Late) => Outcome::Late,
            TapOutcome::Recorded(_) => Outcome::Present,
            TapOutcome::AlreadyCheckedIn(_) => Outcome::AlreadyCheckedIn,
            TapOutcome::Rejected(r) => match r {
                RejectReason::UnknownCard => Outcome::UnknownCard,
                RejectReason::RevokedCard => Outcome::RevokedCard,
                RejectReason::NoSessionNow => Outcome::NoSessionNow,
                // The kiosk showed its own answer long before; for it, a
                // session whose year has closed is over.
                RejectReason::SessionOver | RejectReason::YearClosed => Outcome::SessionOver,
                RejectReason::NotInAudience => Outcome::NotOnList,
            },
        }
    }
}

/// The server's answer for one tap of a batch. Once a tap has a result,
/// the kiosk may delete it from its queue: a recorded tap is in the log; a
/// refused one (a bad signature, a counter that went backwards) never will
/// be, and sending it again would not change that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TapResult {
    pub tap: Uuid,
    /// What the tap came to; none when it was refused.
    pub outcome: Option<Outcome>,
    /// Why the tap was refused and not recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// The card holder's staff number and name, when the card is known.
    pub person: Option<String>,
    pub name: Option<String>,
    /// The session the tap was attributed to.
    pub session: Option<Uuid>,
    /// The log position of the tap's `CardTapped` event (0 when refused).
    pub position: u64,
    /// The tap was in the log already (a retried batch): nothing was added.
    pub duplicate: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResponse {
    pub server_time: DateTime<Utc>,
    /// One per tap of the batch, in its order.
    pub results: Vec<TapResult>,
    /// Counter ranges (inclusive) the server never received from this kiosk.
    pub gaps: Vec<(u64, u64)>,
}

/// `GET /kiosk/v1/roster?since=N`: what a kiosk needs to decide taps
/// while offline. `people` is everyone (without `since`, or when the kiosk
/// is too far behind: `full`) or only those whose row changed after log
/// position `since`; `sessions` is always every session at the kiosk's
/// venue from yesterday to three days ahead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    /// The read models' log position: ask with `since` = this next time.
    pub as_of: u64,
    /// `people` replaces the kiosk's list instead of updating it.
    pub full: bool,
    pub venue: Slug,
    pub people: Vec<RosterPerson>,
    pub sessions: Vec<RosterSession>,
    pub server_time: DateTime<Utc>,
    /// The log as the server shows it, for the kiosk to witness (absent
    /// before the first checkpoint, or from a server too old to send it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<LogView>,
}

/// The log's latest signed checkpoint, and how it extends what the kiosk
/// (and other kiosks) saw before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogView {
    /// The checkpoint: a C2SP signed note (origin, size, base64 root, then
    /// signature lines).
    pub note: String,
    /// The verifier key (`origin+id+base64`) of the key that signed it; a
    /// kiosk trusting no key yet trusts this one from then on.
    pub log_key: String,
    /// A consistency proof (base64 hashes) from the size the kiosk asked
    /// with (`witnessed=N`) to the note's.
    pub proof: Vec<String>,
    /// The latest checkpoints other kiosks cosigned that differ from this
    /// one, each with a proof from its size to this one's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<PeerView>,
}

/// Another kiosk's latest cosigned checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerView {
    /// Its witness name (`lectern-kiosk/<id>`).
    pub witness: String,
    /// The checkpoint it cosigned, with the log's signature.
    pub note: String,
    /// A consistency proof from its size to the current checkpoint's.
    pub proof: Vec<String>,
}

/// A person as a kiosk knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterPerson {
    pub staff_no: StaffNo,
    pub name: String,
    /// Their current card, if they hold one.
    pub card: Option<CardUid>,
    /// Still on the staff (a leaver's card is refused as revoked).
    pub active: bool,
    /// Cards they held before (lost, replaced, damaged or taken back): a
    /// tap of one is refused as revoked, naming them. Absent from a server
    /// that does not send it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked_cards: Vec<CardUid>,
}

/// A session at the kiosk's venue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterSession {
    pub id: Uuid,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub check_in: CheckInRules,
    /// Cancelled or closed: taps are not attributed to it.
    pub shut: bool,
    /// Anyone may attend (`expected` is then empty).
    pub open: bool,
    /// Everyone expected, when the audience is not open.
    pub expected: Vec<StaffNo>,
    /// Who is checked in already (by any kiosk, or by hand).
    pub checked_in: Vec<StaffNo>,
}

/// `POST /kiosk/v1/heartbeat`: the kiosk's state, every minute or so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub version: String,
    /// Taps waiting in the queue.
    pub backlog: u64,
    pub last_tap: Option<DateTime<Utc>>,
    /// The kiosk's last measured offset from the server's clock
    /// (server minus kiosk), in milliseconds.
    pub clock_offset_ms: Option<i64>,
    /// What is wrong with its card reader, as its screen says (absent:
    /// nothing, or a kiosk too old to say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader_fault: Option<String>,
    /// What is wrong with the disk its queue is on (absent: nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_fault: Option<String>,
    /// The latest checkpoint it accepted, with its cosignature
    /// (`tlog-cosignature`) added: a signed note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cosigned: Option<String>,
    /// Why it refused a checkpoint the server showed it: the log does not
    /// extend the one it saw (absent: no alarm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness_alarm: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    pub server_time: DateTime<Utc>,
    /// The heartbeat was signed before one the server has already taken
    /// (a replay, or one overtaken on the way): it changed nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replayed: bool,
}

/// The headers of a signed request that say who sent it and when
/// (`x-lectern-kiosk`, `x-lectern-time`, `x-lectern-clock`,
/// `x-lectern-sync`); the request's signature covers them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub kiosk: String,
    /// The kiosk's wall clock at signing, RFC 3339: a claim, used only to
    /// measure and show how far that clock is off.
    pub time: String,
    /// The kiosk's monotonic clock at signing.
    pub clock: MonoReading,
    /// The kiosk's latest sync point of the same boot, if it has one: by
    /// it the server tells when the request was signed, in its own time.
    pub sync: Option<SyncPoint>,
}

impl Stamp {
    /// The headers that carry it (without the signature).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![
            (crate::HEADER_KIOSK, self.kiosk.clone()),
            (crate::HEADER_TIME, self.time.clone()),
            (
                crate::HEADER_CLOCK,
                format!("{} {}", self.clock.boot, self.clock.mono_us),
            ),
        ];
        if let Some(sync) = self.sync_header() {
            out.push((crate::HEADER_SYNC, sync));
        }
        out
    }

    /// `x-lectern-sync`: the sync point's monotonic reading (of the
    /// clock's boot) and server time.
    pub(crate) fn sync_header(&self) -> Option<String> {
        self.sync.map(|p| {
            format!(
                "{} {}",
                p.mono_us,
                p.server_time.to_rfc3339_opts(SecondsFormat::Micros, true)
            )
        })
    }

    /// The stamp from a request's headers (`header` looks one up by name);
    /// each refusal names the header and its value.
    pub fn from_headers<'a>(
        header: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<Stamp, crate::ProtocolError> {
        use crate::{HEADER_CLOCK, HEADER_KIOSK, HEADER_SYNC, HEADER_TIME, ProtocolError};
        let need = |name: &'static str| {
            header(name).ok_or_else(|| ProtocolError::invalid(name, "", "the header is missing"))
        };
        let (kiosk, time, clock) = (need(HEADER_KIOSK)?, need(HEADER_TIME)?, need(HEADER_CLOCK)?);
        let number = |what: &'static str, text: &str| {
            text.parse::<u64>().map_err(|_| {
                ProtocolError::invalid(what, text, "expected a whole number of microseconds")
            })
        };
        let Some((boot, mono)) = clock.split_once(' ') else {
            return Err(ProtocolError::invalid(
                HEADER_CLOCK,
                clock,
                "expected the boot and the monotonic microseconds, e.g. \"3 65000000\"",
            ));
        };
        let clock = MonoReading {
            boot: boot.parse().map_err(|_| {
                ProtocolError::invalid(HEADER_CLOCK, clock, "the boot is not a number")
            })?,
            mono_us: number(HEADER_CLOCK, mono)?,
        };
        let sync = match header(HEADER_SYNC) {
            None => None,
            Some(text) => {
                let (mono, time) = text.split_once(' ').ok_or_else(|| {
                    ProtocolError::invalid(
                        HEADER_SYNC,
                        text,
                        "expected the sync point's monotonic microseconds and its server time",
                    )
                })?;
                let server_time = DateTime::parse_from_rfc3339(time)
                    .map_err(|_| ProtocolError::invalid(HEADER_SYNC, text, "not an RFC 3339 time"))?
                    .with_timezone(&Utc);
                Some(SyncPoint {
                    boot: clock.boot,
                    mono_us: number(HEADER_SYNC, mono)?,
                    server_time,
                })
            }
        };
        Ok(Stamp {
            kiosk: kiosk.to_owned(),
            time: time.to_owned(),
            clock,
            sync,
        })
    }

    /// When the request was signed, in server time, by its sync point.
    pub fn signed_at(&self) -> Option<DateTime<Utc>> {
        self.sync.map(|p| p.place(self.clock))
    }
}
