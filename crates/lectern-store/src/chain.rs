//! The hash chain: canonical bytes of an event and the running verifier.
//!
//! `hash = SHA-256(prev_hash || canonical bytes of every other field)`, with
//! `prev_hash` of position 1 all zeros. The canonical encoding is fixed here
//! and versioned by its leading tag; changing it would break every stored
//! chain, so a new encoding must get a new tag and both must stay readable.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::event::RecordedEvent;

/// `prev_hash` of the first event.
pub const GENESIS: [u8; 32] = [0; 32];

const TAG: &[u8] = b"lectern-event-v1";

/// The fields the hash covers, borrowed from a row being written or read.
pub(crate) struct Canonical<'a> {
    pub(crate) position: u64,
    pub(crate) stream_id: &'a str,
    pub(crate) stream_version: u64,
    pub(crate) event_id: Uuid,
    pub(crate) event_type: &'a str,
    pub(crate) schema_version: u32,
    pub(crate) payload: &'a str,
    pub(crate) metadata: &'a str,
    pub(crate) occurred_at: DateTime<Utc>,
    pub(crate) recorded_at: DateTime<Utc>,
}

impl Canonical<'_> {
    pub(crate) fn hash(&self, prev_hash: &[u8; 32]) -> [u8; 32] {
        fn bytes(h: &mut Sha256, b: &[u8]) {
            h.update((b.len() as u64).to_be_bytes());
            h.update(b);
        }
        let mut h = Sha256::new();
        h.update(prev_hash);
        h.update(TAG);
        h.update(self.position.to_be_bytes());
        bytes(&mut h, self.stream_id.as_bytes());
        h.update(self.stream_version.to_be_bytes());
        h.update(self.event_id.as_bytes());
        bytes(&mut h, self.event_type.as_bytes());
        h.update(self.schema_version.to_be_bytes());
        bytes(&mut h, self.payload.as_bytes());
        bytes(&mut h, self.metadata.as_bytes());
        h.update(self.occurred_at.timestamp_micros().to_be_bytes());
        h.update(self.recorded_at.timestamp_micros().to_be_bytes());
        h.finalize().into()
    }
}

impl RecordedEvent {
    fn canonical(&self) -> Canonical<'_> {
        Canonical {
            position: self.position,
            stream_id: &self.stream_id,
            stream_version: self.stream_version,
            event_id: self.event_id,
            event_type: &self.event_type,
            schema_version: self.schema_version,
            payload: &self.payload,
            metadata: &self.metadata,
            occurred_at: self.occurred_at,
            recorded_at: self.recorded_at,
        }
    }

    /// Recomputes this event's hash from its stored fields (not upcast).
    pub fn computed_hash(&self) -> [u8; 32] {
        self.canonical().hash(&self.prev_hash)
    }
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Events checked.
    pub checked: u64,
    /// Position and hash of the last event that verified (`None`: empty log,
    /// or the first event is already bad).
    pub head: Option<(u64, [u8; 32])>,
    /// The first position that does not verify, if any.
    pub first_bad: Option<BadLink>,
}

impl Verification {
    pub fn is_intact(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// The first break in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLink {
    pub position: u64,
    pub problem: Problem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// No event is stored at this position, though later ones are.
    Missing,
    /// The stored `prev_hash` is not the hash of the event before.
    PrevHashMismatch,
    /// The stored `hash` is not the hash of the stored fields.
    HashMismatch,
}

impl std::fmt::Display for BadLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.problem {
            Problem::Missing => "is missing",
            Problem::PrevHashMismatch => "does not link to the event before it (prev_hash differs)",
            Problem::HashMismatch => "was altered (its hash does not match its contents)",
        };
        write!(f, "event at position {} {what}", self.position)
    }
}

/// Walks events in position order and stops at the first break.
pub(crate) struct Verifier {
    checked: u64,
    head: Option<(u64, [u8; 32])>,
    first_bad: Option<BadLink>,
}

impl Verifier {
    pub(crate) fn new() -> Self {
        Verifier {
            checked: 0,
            head: None,
            first_bad: None,
        }
    }

    /// Feeds the next stored event; returns false once the chain is broken.
    pub(crate) fn feed(&mut self, e: &RecordedEvent) -> bool {
        if self.first_bad.is_some() {
            return false;
        }
        let (expected_pos, expected_prev) = match self.head {
            None => (1, GENESIS),
            Some((p, h)) => (p + 1, h),
        };
        let problem = if e.position != expected_pos {
            Some(BadLink {
                position: expected_pos,
                problem: Problem::Missing,
            })
        } else if e.prev_hash != expected_prev {
            Some(BadLink {
                position: e.position,
                problem: Problem::PrevHashMismatch,
            })
        } else if e.computed_hash() != e.hash {
            Some(BadLink {
                position: e.position,
                problem: Problem::HashMismatch,
            })
        } else {
            None
        };
        match problem {
            Some(bad) => {
                self.first_bad = Some(bad);
                false
            }
            None => {
                self.checked += 1;
                self.head = Some((e.position, e.hash));
                true
            }
        }
    }

    pub(crate) fn finish(self) -> Verification {
        Verification {
            checked: self.checked,
            head: self.head,
            first_bad: self.first_bad,
        }
    }
}
