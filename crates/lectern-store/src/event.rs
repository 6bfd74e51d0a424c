//! What goes into the log and what comes out of it.

use std::fmt;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};

/// The stream version an append expects to find (optimistic concurrency).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must be exactly at this version (1 = one event stored).
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream currently at `actual` (`None`: no stream) satisfies this.
    pub fn admits(self, actual: Option<u64>) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual.is_none(),
            ExpectedVersion::Exact(v) => actual == Some(v),
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}

/// Who caused an event and through which door it came in. Stored as JSON
/// beside the payload and covered by the hash.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// `person:<staff no>`, `kiosk:<id>` or `system`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// `graphql`, `kiosk`, `import`, `cli`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// When the writer's clock (a server's, which decides deadlines) says
    /// the write happens: each event's `occurred_at`, unless the event
    /// sets its own business time after. Not part of the stored metadata.
    /// `None`: the moment the event is built.
    #[serde(skip)]
    pub at: Option<DateTime<Utc>>,
}

/// An event to append. The payload is JSON text kept byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub(crate) event_id: Uuid,
    pub(crate) event_type: String,
    pub(crate) schema_version: u32,
    pub(crate) payload: String,
    pub(crate) metadata: String,
    pub(crate) occurred_at: DateTime<Utc>,
}

impl NewEvent {
    /// An event whose payload is `payload` serialized as JSON, with a fresh
    /// UUID v7 id, schema version 1, empty metadata and `occurred_at` = now.
    pub fn new(event_type: impl Into<String>, payload: &impl Serialize) -> Result<Self> {
        let event_type = event_type.into();
        let payload = serde_json::to_string(payload)
            .map_err(|e| Error::InvalidAppend(format!("payload of {event_type}: {e}")))?;
        Self::from_json(event_type, payload)
    }

    /// An event whose payload is already JSON text (checked, stored as given).
    pub fn from_json(event_type: impl Into<String>, payload: impl Into<String>) -> Result<Self> {
        let event_type = event_type.into();
        let payload = payload.into();
        if event_type.trim().is_empty() {
            return Err(Error::InvalidAppend(format!(
                "event type {event_type:?} is empty"
            )));
        }
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&payload) {
            let head: String = payload.chars().take(40).collect();
            return Err(Error::InvalidAppend(format!(
                "payload of {event_type} is not JSON ({e}): {head:?}"
            )));
        }
        Ok(NewEvent {
            event_id: Uuid::now_v7(),
            event_type,
            schema_version: 1,
            payload,
            metadata: "{}".to_owned(),
            occurred_at: now(),
        })
    }

    /// Sets the idempotency key (a kiosk's tap id, a command's id).
    pub fn with_id(mut self, event_id: Uuid) -> Self {
        self.event_id = event_id;
        self
    }

    pub fn with_schema_version(mut self, schema_version: u32) -> Self {
        self.schema_version = schema_version.max(1);
        self
    }

    pub fn with_metadata(mut self, metadata: &Metadata) -> Self {
        self.metadata = serde_json::to_string(metadata).expect("metadata serializes");
        match metadata.at {
            Some(at) => self.occurred_at(at),
            None => self,
        }
    }

    /// Business time (a tap's kiosk time). Stored to the microsecond.
    pub fn occurred_at(mut self, at: DateTime<Utc>) -> Self {
        self.occurred_at = at.trunc_subsecs(6);
        self
    }

    pub fn event_id(&self) -> Uuid {
        self.event_id
    }
}

/// Appends to one stream, atomically: all events or none.
#[derive(Debug, Clone)]
pub struct AppendRequest {
    pub(crate) stream_id: String,
    pub(crate) expected: ExpectedVersion,
    pub(crate) events: Vec<NewEvent>,
    pub(crate) claims: Vec<UniqueKey>,
    pub(crate) releases: Vec<UniqueKey>,
}

impl AppendRequest {
    pub fn new(
        stream_id: impl Into<String>,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Self {
        AppendRequest {
            stream_id: stream_id.into(),
            expected,
            events,
            claims: Vec::new(),
            releases: Vec::new(),
        }
    }

    /// The ids of the events the request appends, in order.
    pub fn event_ids(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.events.iter().map(NewEvent::event_id)
    }

    /// Dates every event of the request at `at` (a loader writing past
    /// facts, as `lectern demo` does).
    pub fn occurred_at(mut self, at: DateTime<Utc>) -> Self {
        self.events = self.events.into_iter().map(|e| e.occurred_at(at)).collect();
        self
    }

    /// Claims a key that no other stream may hold (a staff number), in the
    /// same transaction as the events.
    pub fn claim(mut self, key: UniqueKey) -> Self {
        self.claims.push(key);
        self
    }

    /// Releases a key this stream holds (a revoked card's UID), in the same
    /// transaction as the events.
    pub fn release(mut self, key: UniqueKey) -> Self {
        self.releases.push(key);
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.stream_id.trim().is_empty() {
            return Err(Error::InvalidAppend(format!(
                "stream id {:?} is empty",
                self.stream_id
            )));
        }
        if self.events.is_empty() {
            return Err(Error::InvalidAppend(format!(
                "append to stream {:?} has no events",
                self.stream_id
            )));
        }
        for (i, e) in self.events.iter().enumerate() {
            if self.events[..i].iter().any(|o| o.event_id == e.event_id) {
                return Err(Error::InvalidAppend(format!(
                    "event id {} appears twice in one append to {:?}",
                    e.event_id, self.stream_id
                )));
            }
        }
        for k in self.claims.iter().chain(&self.releases) {
            if k.scope.is_empty() || k.key.is_empty() {
                return Err(Error::InvalidAppend(format!(
                    "unique key {k} has an empty part"
                )));
            }
        }
        // What one backend stores and another refuses (PostgreSQL's text and
        // jsonb hold no NUL) is refused on both, before any is written.
        let unstorable = |what: String| Error::Unstorable {
            stream_id: self.stream_id.clone(),
            what,
        };
        if has_nul(&self.stream_id) {
            return Err(unstorable("the stream id".into()));
        }
        for e in &self.events {
            for (part, text) in [
                ("type", &e.event_type),
                ("payload", &e.payload),
                ("metadata", &e.metadata),
            ] {
                if has_nul(text) {
                    return Err(unstorable(format!(
                        "the {part} of a {} event",
                        e.event_type
                    )));
                }
            }
        }
        for k in self.claims.iter().chain(&self.releases) {
            if has_nul(&k.scope) || has_nul(&k.key) {
                return Err(unstorable(format!("unique key {:?}", k.scope)));
            }
        }
        Ok(())
    }
}

/// Whether `text` holds a NUL character, raw or as the JSON escape
/// `\u0000` (an escaped backslash before `u0000` is not one).
pub(crate) fn has_nul(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.contains(&0) {
        return true;
    }
    let mut from = 0;
    while let Some(i) = text[from..].find("u0000").map(|i| i + from) {
        let backslashes = bytes[..i].iter().rev().take_while(|b| **b == b'\\').count();
        if backslashes % 2 == 1 {
            return true;
        }
        from = i + 1;
    }
    false
}

/// A key unique across streams within a scope, e.g. (`staff_no`, `20050123`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UniqueKey {
    pub scope: String,
    pub key: String,
}

impl UniqueKey {
    pub fn new(scope: impl Into<String>, key: impl Into<String>) -> Self {
        UniqueKey {
            scope: scope.into(),
            key: key.into(),
        }
    }
}

impl fmt::Display for UniqueKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}", self.scope, self.key)
    }
}

/// The outcome of a successful append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub stream_id: String,
    /// Global positions of the appended events, in order.
    pub first_position: u64,
    pub last_position: u64,
    /// The stream's version after its last appended event.
    pub stream_version: u64,
    /// True when every event id was already stored with the same content:
    /// nothing new was written and the positions are the original ones.
    pub duplicate: bool,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    pub position: u64,
    pub stream_id: String,
    pub stream_version: u64,
    pub event_id: Uuid,
    pub event_type: String,
    /// After upcasting on read, the current version of the type; the stored
    /// bytes keep the version they were appended with.
    pub schema_version: u32,
    pub payload: String,
    pub metadata: String,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

impl RecordedEvent {
    pub fn payload_json(&self) -> Result<serde_json::Value> {
        serde_json::from_str(&self.payload).map_err(|e| Error::Corrupt {
            position: self.position,
            reason: format!("payload is not JSON: {e}"),
        })
    }

    pub fn metadata(&self) -> Result<Metadata> {
        serde_json::from_str(&self.metadata).map_err(|e| Error::Corrupt {
            position: self.position,
            reason: format!("metadata is not valid: {e}"),
        })
    }
}

/// The current time, at the microsecond precision both backends store.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
