//! `lectern-kiosk-protocol`: the contract between a kiosk (`kiosk/`) and the
//! server (`/kiosk/v1` in `lectern-server`). Wire types, and the two things
//! both sides must compute byte for byte: a tap's canonical bytes, which
//! its Ed25519 signature covers, and a request's signing bytes, which
//! authenticate every call an enrolled kiosk makes. No I/O, no server code.
//!
//! # Invariants
//! - A tap's signature covers every field of the tap (`Tap::canonical_bytes`),
//!   so a tap altered anywhere between the kiosk's queue and the log fails
//!   verification; the log keeps the signature.
//! - A request's signature covers its method, path, stamp (kiosk, wall
//!   time, monotonic reading, sync point) and the SHA-256 of its body
//!   (`request_bytes`); the server refuses a signature that does not verify
//!   under the kiosk's enrolled key, and a request whose sync point says it
//!   was signed more than `STALE_AFTER_SECONDS` from the server's now.
//! - A tap's time is placed by the server from the kiosk's monotonic clock
//!   (`MonoReading`, signed with the tap) and the kiosk's sync point nearest
//!   to it of the same boot (`SyncPoint`), never by the kiosk's wall clock
//!   while such a point exists.
//! - A kiosk witnesses the log: it keeps the latest checkpoint it accepted,
//!   accepts a newer one only by a consistency proof (`Roster::log`), and
//!   sends it back cosigned with each heartbeat, or the alarm it raised.
//! - Taps are idempotent by `Tap::id` (UUID v7 made by the kiosk): sending a
//!   batch again adds nothing.

mod keys;
mod messages;

pub use keys::{KioskKey, PublicKey, enrolment_code_hash, new_enrolment_code, request_bytes};
pub use lectern_domain::{MonoReading, SyncPoint};
pub use messages::{
    BatchResponse, EnrolRequest, EnrolResponse, Heartbeat, HeartbeatResponse, LogView, Outcome,
    PeerView, Roster, RosterPerson, RosterSession, SignedTap, Stamp, Tap, TapBatch, TapResult,
};

/// The name a kiosk cosigns checkpoints under (`tlog-cosignature`, with
/// its enrolled Ed25519 key).
pub fn witness_name(kiosk: &str) -> String {
    format!("{WITNESS_PREFIX}{kiosk}")
}

/// The start of every kiosk's witness name.
pub const WITNESS_PREFIX: &str = "lectern-kiosk/";

/// The most taps one `POST /kiosk/v1/taps` may carry.
pub const MAX_BATCH: usize = 500;

/// The path prefix of the kiosk endpoints.
pub const PREFIX: &str = "/kiosk/v1";
/// Header naming the calling kiosk.
pub const HEADER_KIOSK: &str = "x-lectern-kiosk";
/// Header with the kiosk's clock at sending (RFC 3339).
pub const HEADER_TIME: &str = "x-lectern-time";
/// Header with the kiosk's monotonic clock at sending: `BOOT MICROS`.
pub const HEADER_CLOCK: &str = "x-lectern-clock";
/// Header with the kiosk's latest sync point of that boot:
/// `MICROS SERVER_TIME` (RFC 3339).
pub const HEADER_SYNC: &str = "x-lectern-sync";
/// Header with the request's signature (hex).
pub const HEADER_SIGNATURE: &str = "x-lectern-signature";

/// A signed request whose sync point says it was signed further than this
/// from the server's now (held on the way, replayed, or a sync point the
/// server's clock has since left behind) is refused with `STALE`; the
/// kiosk takes the refusal's `server_time` as a new sync point and signs
/// the request again.
pub const STALE_AFTER_SECONDS: i64 = 300;

/// The `code` of a refusal for a stale request; its JSON also carries the
/// server's `server_time`.
pub const STALE: &str = "STALE";

/// Why a key, a signature or a message is refused; each names the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("{what} is not valid: {value:?} ({reason})")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },
    #[error("the signature of {what} does not verify under the kiosk's key")]
    BadSignature { what: String },
    #[error("the system's random number generator failed: {0}")]
    Random(String),
}

impl ProtocolError {
    pub(crate) fn invalid(
        what: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> ProtocolError {
        ProtocolError::Invalid {
            what,
            value: value.into(),
            reason: reason.into(),
        }
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// Exactly `N` bytes from hex (either case).
pub(crate) fn unhex<const N: usize>(
    what: &'static str,
    text: &str,
) -> Result<[u8; N], ProtocolError> {
    let text = text.trim();
    if text.len() != N * 2 {
        return Err(ProtocolError::invalid(
            what,
            text,
            format!("expected {} hex digits, found {}", N * 2, text.len()),
        ));
    }
    let mut out = [0u8; N];
    for (i, pair) in text.as_bytes().chunks(2).enumerate() {
        let digit = |c: u8| (c as char).to_digit(16);
        match (digit(pair[0]), digit(pair[1])) {
            (Some(h), Some(l)) => out[i] = (h * 16 + l) as u8,
            _ => return Err(ProtocolError::invalid(what, text, "not hexadecimal")),
        }
    }
    Ok(out)
}
