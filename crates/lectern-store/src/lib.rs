//! `lectern-store` owns Lectern's event log: one append-only table of events,
//! hash-chained, on SQLite (embedded default) or PostgreSQL (production).
//!
//! It offers appends with optimistic concurrency and idempotency by event id,
//! group commit of concurrent appends, keys unique across streams, reads by
//! stream and by global position, live subscriptions, upcasting of old
//! payloads, and verification of the hash chain.
//!
//! It deliberately knows nothing of the campaign: event types and payloads
//! are opaque strings and JSON here; `lectern-domain` gives them meaning.
//!
//! # Invariants
//! - Positions are gap-free and commit in order: appends are serialized by
//!   one writer task per process and by a database lock across processes,
//!   so a reader tailing by position never skips an event.
//! - No code path updates or deletes an event, and the database refuses it
//!   (triggers in the migrations).
//! - `hash = SHA-256(prev_hash || canonical bytes)` links every event to the
//!   one before; `Store::verify` finds the first broken link.
//!
//! # Layout
//! - `store`: `Store`, its options, reads and subscriptions.
//! - `writer`: the single writer, group commit and the append decisions.
//! - `db`: every SQL statement, for SQLite and PostgreSQL.
//! - `chain`: canonical bytes, hashing and the verifier.
//! - `merkle`: the RFC 6962 Merkle tree over the chain hashes, inclusion and
//!   consistency proofs.
//! - `event`: appended and recorded events, expected versions, unique keys.
//! - `upcast`: schema evolution on read.
//! - `personal`: personal fields sealed under each person's key before
//!   hashing, opened on read, erased by destroying the key.
//! - `error`: the error type.
//! - `testkit` (feature `testkit`): test databases for both backends.

mod chain;
mod db;
mod error;
mod event;
pub mod personal;
mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
mod upcast;
mod url;
mod writer;

pub use chain::{BadLink, GENESIS, Problem, Verification};
pub use error::{Error, Result, database_unavailable};
pub use event::{
    AppendRequest, Appended, ExpectedVersion, Metadata, NewEvent, RecordedEvent, UniqueKey, now,
};
/// The Merkle tree over the log (it lives in `lectern-tlog`, which kiosks
/// and witnesses share).
pub use lectern_tlog::merkle;
pub use personal::PersonalFields;
pub use store::{Durability, LogState, Store, StoreOptions, Subscription};
pub use upcast::Upcasters;
pub use url::redact;
